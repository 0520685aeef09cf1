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


def test_a_packing_width_too_narrow_is_refuted(tmp_path, monkeypatch):
    """The paired multipliers' proof computes the exact pair sums, not sums in the RTL's own field width: with
    the packing width one bit short (the RTL and the proof's field positions both taking it), the largest pair
    sums overflow their fields and the proof fails."""
    import hdl.dot
    from formal.dots import pairs_proof
    real = hdl.dot.pair_packing

    def narrow(fa, fw):
        k, _, _ = real(fa, fw)
        return k - 1, k - 1 + fa.mag_bits + 1, k - 1 + fw.mag_bits + 1
    monkeypatch.setattr(hdl.dot, "pair_packing", narrow)
    monkeypatch.setattr("formal.dots.pair_packing", narrow)
    assert not formal.run(pairs_proof(4, 16), tmp_path).proven


def test_a_bug_in_the_shared_accumulator_is_refuted(tmp_path, monkeypatch):
    """Both MACs build on ``parts.Accumulator``: with a bug in it (``load`` clearing while ``en`` is low) in both,
    the MAC-to-MAC proof still holds (it compares the accumulator with itself), and the proof against the
    behavioural formula, which shares nothing with the RTL, fails."""
    import hdl.macs
    from formal.macs import mac_proofs
    from hdl.mutants import _LoadFirstAccumulator
    monkeypatch.setattr(hdl.macs._MAC, "accumulator", _LoadFirstAccumulator)
    proofs = {p.name: p for p in mac_proofs(4)}
    assert formal.run(proofs["mac_w4a4_dfree_eq_conv"], tmp_path).proven
    assert not formal.run(proofs["mac_w4a4_dfree_eq_formula"], tmp_path).proven
    assert not formal.run(proofs["mac_w4a4_conv_eq_formula"], tmp_path).proven


def test_slow_proofs_are_in_the_ci_set():
    assert set(formal.SLOW) <= set(PROOFS)           # a renamed proof must not drop out of make test-full silently


def test_every_unit_kind_has_a_proof():
    tags = {t for p in PROOFS.values() for t in p.tags}
    assert {"encoder", "decoder", "mac", "dot", "dmq", "tile"} <= tags


def test_every_registered_unit_is_proven_or_says_why():
    """Each registered unit has a proof of its exact exported Verilog (full set) or a ``NOT_PROVEN`` entry, never
    both; a new unit fails here until it is one or the other."""
    from hdl.catalog import units
    cov = formal.coverage(full=True)
    names = {u.name for u in units()}
    assert set(cov) == names
    assert set(formal.NOT_PROVEN) <= names, sorted(set(formal.NOT_PROVEN) - names)
    both = sorted(n for n, ps in cov.items() if ps and n in formal.NOT_PROVEN and n != "mac_fp16")
    neither = sorted(n for n, ps in cov.items() if not ps and n not in formal.NOT_PROVEN)
    assert not both and not neither, f"proven and listed as not proven: {both}; neither: {neither}"
    assert sum(bool(ps) for ps in cov.values()) >= 37


def test_a_mutation_that_matches_nothing_is_an_error(tmp_path):
    import dataclasses
    p = dataclasses.replace(PROOFS["enc_a16k4_g8"], mutation=("no such text", "x"))
    with pytest.raises(formal.FormalError, match="mutation 'no such text' matches nothing in dut.v"):
        formal.run(p, tmp_path, mutant=True)
