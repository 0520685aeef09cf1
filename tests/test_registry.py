# amaranth: UnusedElaboratable=no
"""The unit registry: a unit added with one descriptor is simulated, exported, synthesized and reported with no
edit anywhere else; descriptor and stimulus errors are clear."""

import pytest

from hdl import insim
from hdl.catalog import MAC_TABLE, get, int_mac, units
from hdl.export import to_verilog
from hdl.unit import UnitError, concat, register, split_lanes, unregister


@pytest.fixture
def int4x4():
    """An INT 4x4 MAC, registered here only (the project does not ship it)."""
    u = register(int_mac("mac_int4x4", 4, 4, ("query", "key"), "INT 4x4 (test)", "INT 4x4 MAC, registered by a test"))
    yield u
    unregister("mac_int4x4")


def test_extra_unit_is_registered_and_exported(int4x4):
    assert get("mac_int4x4") is int4x4 and int4x4 in units(table="mac")
    v = to_verilog("mac_int4x4")
    assert "module mac_int4x4(" in v and "latency 2" in v


def test_extra_unit_simulates_in_process(int4x4):
    d = int4x4.vectors(1500, seed=4)
    assert len(d["a"]) >= 2 * 256                        # every operand pair, loaded then accumulated
    m = insim.check(int4x4, d)
    assert m.count == 0 and m.checked == len(d["a"]), str(m)


@pytest.mark.trace
@pytest.mark.tools
def test_extra_unit_is_synthesized_and_reported(int4x4, trace_set, tmp_path):
    from synth.__main__ import run_unit
    from synth.flow import DEFAULT_LIBERTY
    from synth.report import ratio_rows, write_report
    res = run_unit(int4x4, tmp_path, DEFAULT_LIBERTY, 10.0, trace_set, with_fpga=False)
    assert res["area_um2"] > 0 and res["parts"]["multiplier"] > 0
    assert res["gate_level_timed"]["checked"] == res["gate_level_timed"]["cycles"] > 0
    base = run_unit(get("mac_int8x8"), tmp_path, DEFAULT_LIBERTY, 10.0, trace_set, with_fpga=False)
    md = write_report([base, res], {"liberty": DEFAULT_LIBERTY, "clock_ns": 10.0, "seconds": 0}, tmp_path)
    assert "| INT 4x4 (test) |" in md
    (row,) = [r for r in ratio_rows(MAC_TABLE, [base, res]) if r[0] == "INT 4x4 (test)"]
    assert row[1] == "INT 8x8" and 0 < row[2] < 1           # smaller than the 8x8 MAC it is compared with


def test_registry_errors(int4x4):
    with pytest.raises(UnitError, match="unit 'mac_int4x4' is already registered"):
        register(int4x4)
    with pytest.raises(UnitError, match="unknown unit 'mac_nope'; known units: .*mac_dfree_w4a4"):
        get("mac_nope")
    with pytest.raises(UnitError, match="unknown unit 'mac_nope'"):
        units(["mac_dfree_w4a4", "mac_nope"])           # every name checked before any is returned
    with pytest.raises(UnitError, match="register takes a Unit descriptor, not str"):
        register("mac_int4x4")


def test_stimulus_errors(int4x4):
    d = int4x4.vectors(10, seed=1)
    with pytest.raises(UnitError, match=r"mac_int4x4: stimulus lacks input port\(s\) \['b'\]"):
        int4x4.expect({k: v for k, v in d.items() if k != "b"})
    with pytest.raises(UnitError, match="stimulus for port a has dtype float64, expected integers"):
        int4x4.expect(dict(d, a=d["a"].astype(float)))
    with pytest.raises(UnitError, match=r"input streams differ in length"):
        int4x4.expect(dict(d, a=d["a"][:-1]))
    with pytest.raises(UnitError, match=r"stimulus has \['x'\], which are not input ports"):
        int4x4.expect(dict(d, x=d["a"]))


def test_lanes_split_and_pad_with_idle_cycles(int4x4):
    d = {k: v[:10] for k, v in int4x4.vectors(10, seed=1).items()}
    ld = split_lanes(int4x4, d, 4)                          # 10 cycles -> 4 lanes x 3, two idle cycles
    assert ld["a"].shape == (3, 4)
    assert ld["a"][:, 0].tolist() == d["a"][:3].tolist() and ld["en"][1:, 3].tolist() == [0, 0]
    assert concat([d, d])["a"].shape == (20,)
