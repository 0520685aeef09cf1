"""The cycle-based zero-delay simulator (synth.cyclesim): liberty functions, cell models, bad netlists.
Its counts against Icarus on real units: tests/test_synth.py::test_cycle_simulator_counts_what_icarus_counts."""

import itertools
import json

import numpy as np
import pytest

from synth import cyclesim, flow

pytestmark = pytest.mark.tools


@pytest.mark.parametrize("expr, ref", [
    ("(!((A B)+C))", lambda a, b, c: not ((a and b) or c)),
    ("(((A B)+(B C))+(C A))", lambda a, b, c: (a + b + c) >= 2),
    ("((A^B)^C)", lambda a, b, c: (a + b + c) % 2 == 1),
    ("(!((S A) + (!S B)))", lambda s, a, b: not (a if s else b)),
    ("A*B+!C", lambda a, b, c: (a and b) or not c),
])
def test_liberty_functions_compile_to_their_truth_tables(expr, ref):
    src, names = cyclesim._compile(expr, "cell")
    fn = eval(f"lambda v, _0, _1: {src}")
    for bits in itertools.product([False, True], repeat=len(names)):
        got = bool(fn([np.asarray([b]) for b in bits], None, None)[0])
        assert got == bool(ref(*bits)), (expr, names, bits)


def test_every_combinational_cell_of_the_library_has_a_model():
    models = cyclesim.cell_models(flow.DEFAULT_LIBERTY)
    assert models["DFFPOSX1"]["ff"][2:] == ("D", "CLK")
    assert "unsupported" in models["DFFSR"] and "unsupported" in models["LATCH"]
    plain = {c: m for c, m in models.items() if "ff" not in m and "unsupported" not in m and m["outputs"]}
    assert len(plain) >= 25
    assert [c for c, m in plain.items() if any(f is None for f in m["outputs"].values())] == []
    assert models["FAX1"]["outputs"]["YS"][1] == ["A", "B", "C"]


def _netlist(tmp_path, cells, ports=None):
    mod = {"ports": ports or {"a": {"direction": "input", "bits": [2]}, "y": {"direction": "output", "bits": [3]}},
           "cells": cells, "attributes": {"top": 1}}
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {"top": mod}}))
    return path


def test_bad_netlists_are_named(tmp_path):
    inv = {"type": "INVX1", "connections": {"A": [2], "Y": [3]}}
    cyclesim.Netlist(_netlist(tmp_path, {"i": inv}), flow.DEFAULT_LIBERTY)            # fine
    with pytest.raises(cyclesim.SimError, match="NOPE.*is not in"):
        cyclesim.Netlist(_netlist(tmp_path, {"i": dict(inv, type="NOPE")}), flow.DEFAULT_LIBERTY)
    with pytest.raises(cyclesim.SimError, match="DFFSR.*not supported"):
        cyclesim.Netlist(_netlist(tmp_path, {"f": {"type": "DFFSR", "connections": {
            "CLK": [2], "D": [2], "R": [2], "S": [2], "Q": [3]}}}), flow.DEFAULT_LIBERTY)
    loop = {"i": {"type": "INVX1", "connections": {"A": [4], "Y": [3]}},
            "j": {"type": "INVX1", "connections": {"A": [3], "Y": [4]}}}
    with pytest.raises(cyclesim.SimError, match="combinational loop"):
        cyclesim.Netlist(_netlist(tmp_path, loop), flow.DEFAULT_LIBERTY)
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(cyclesim.SimError, match="not a Yosys JSON netlist"):
        cyclesim.Netlist(tmp_path / "bad.json", flow.DEFAULT_LIBERTY)
