"""Formal proofs on the exported Verilog (``formal``): every property of the CI set is proven by Yosys' SAT
solver, and its mutant (one operator changed in the unit's Verilog) is refuted. ``make formal`` runs the full
set (every group size 8..128) and writes the report."""

import pytest

import formal

pytestmark = pytest.mark.formal

PROOFS = {p.name: p for p in formal.proofs(full=False)}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in formal.SLOW else n for n in PROOFS])
def test_property_is_proven(name, tmp_path):
    r = formal.run(PROOFS[name], tmp_path)
    assert r.proven, f"{name}: not proven; see {r.log}"
    if PROOFS[name].kind == "induct":
        assert r.steps is not None and r.steps <= PROOFS[name].depth


@pytest.mark.parametrize("name", list(PROOFS))
def test_mutant_is_refuted(name, tmp_path):
    r = formal.run(PROOFS[name], tmp_path, mutant=True)
    assert not r.proven, f"{name}: the mutant {PROOFS[name].mutation} is proven too: the property cannot fail"


@pytest.mark.parametrize("name", list(PROOFS))
def test_x_mutant_is_refuted(name, tmp_path):
    """Undefined values are modelled: the unit with every output reading x wherever it should drive 0 (a value
    the RTL leaves undefined) fails the proof; without undef modelling it would be read as 0 and pass."""
    r = formal.run(PROOFS[name], tmp_path, mutant="x")
    assert not r.proven, f"{name}: the x mutant is proven: the proof does not model undefined values"


def test_x_mutant_passes_without_undef_modelling(tmp_path, monkeypatch):
    """The x mutant is the bug it stands for: with undef modelling switched off, the encoder proof accepts it."""
    script = formal.Proof.script
    monkeypatch.setattr(formal.Proof, "script",
                        lambda self: script(self).replace(" -enable_undef -set-def-inputs", "").replace(" -keepdc", ""))
    assert formal.run(PROOFS["enc_a16k4_g8"], tmp_path, mutant="x").proven


def test_slow_proofs_are_in_the_ci_set():
    assert set(formal.SLOW) <= set(PROOFS)           # a renamed proof must not drop out of make test-full silently


def test_every_unit_kind_has_a_proof():
    tags = {t for p in PROOFS.values() for t in p.tags}
    assert {"encoder", "decoder", "mac", "dot"} <= tags


def test_a_mutation_that_matches_nothing_is_an_error(tmp_path):
    import dataclasses
    p = dataclasses.replace(PROOFS["enc_a16k4_g8"], mutation=("no such text", "x"))
    with pytest.raises(formal.FormalError, match="mutation 'no such text' matches nothing in dut.v"):
        formal.run(p, tmp_path, mutant=True)
