"""The synthesis flow on one small unit: Yosys + OpenSTA run, the gate-level netlist matches the golden model
on real traces, and the liberty power calculator agrees with OpenSTA on a uniform activity."""

import re
import subprocess

import pytest

from hdl.catalog import get
from synth import flow, gatesim, libpower
from synth.activity import activity

pytestmark = [pytest.mark.trace, pytest.mark.tools]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    flow.require_tools(flow.DEFAULT_LIBERTY)
    work = tmp_path_factory.mktemp("syn")
    unit = get("mac_dfree_w4a4")
    return unit, work, flow.synthesize(unit, work, flow.DEFAULT_LIBERTY)


def test_area_breakdown_adds_up(synthesized):
    unit, _, syn = synthesized
    parts = flow.breakdown(unit, syn["modules"])
    assert set(parts) == set(unit.parts.values()) | {unit.rest}
    assert all(parts[g] > 0 for g in ("multiplier", "shifters", "registers + accumulator"))
    assert parts["FP align/add/normalize/round"] == 0
    assert sum(parts.values()) == pytest.approx(syn["total"])
    # the multiplier module's area is its leaf cells times the liberty's areas
    assert parts["multiplier"] == pytest.approx(syn["modules"]["mac_dfree_w4a4.multiplier"])


def test_gate_level_netlist_matches_golden_and_counts_toggles(synthesized, trace_set):
    unit, work, _ = synthesized
    gl = gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=320)
    assert gl["cycles"] >= 320 and gl["checked"] == gl["cycles"] and len(gl["toggles"]) > 400
    assert 0 < sum(gl["toggles"].values()) and gl["simulator"].startswith("synth.cyclesim")
    timed = gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=320, timed=True,
                             period_ns=20)          # also checked against the golden model
    assert sum(timed["toggles"].values()) > sum(gl["toggles"].values())   # glitches only add toggles


@pytest.mark.parametrize("name", ["mac_dfree_w4a4", "sdr_decoder_w8k4", "sdr_encoder_a16k4_g8"])
def test_cycle_simulator_counts_what_icarus_counts(name, trace_set, tmp_path):
    """The zero-delay counts of synth.cyclesim equal Icarus' (event-driven, the library's Verilog cell models)
    pin for pin, on a clocked unit, a combinational one and a wide one; both pass the golden check."""
    unit = get(name)
    flow.synthesize(unit, tmp_path, flow.DEFAULT_LIBERTY)
    ours = gatesim.simulate(unit, tmp_path, flow.DEFAULT_LIBERTY, trace_set, cycles=300)
    ref = gatesim.simulate(unit, tmp_path, flow.DEFAULT_LIBERTY, trace_set, cycles=300, engine="icarus")
    assert ref["simulator"] == "Icarus (zero delay)" and ours["checked"] == ref["checked"] > 0
    assert ours["toggles"] == ref["toggles"] and sum(ours["toggles"].values()) > 0
    for gl in (ours, ref):                     # the windows split the same counts
        assert len(gl["window_toggles"]) == gatesim.WINDOWS
        assert {k: sum(w[k] for w in gl["window_toggles"]) for k in gl["toggles"]} == gl["toggles"]
        assert all(sum(w.values()) > 0 for w in gl["window_toggles"])
    model = libpower.PowerModel(tmp_path / f"{name}_netlist.json", flow.DEFAULT_LIBERTY, 10.0)
    rates, act = {k: n / 300 for k, n in ours["toggles"].items()}, activity(unit, trace_set)
    total = model(rates, input_port_rates=act)["total_mw"]
    # the Verilog netlist read by pattern gives the same figure as Yosys' JSON netlist
    assert libpower.PowerModel(tmp_path / f"{name}_netlist.v", flow.DEFAULT_LIBERTY, 10.0)(
        rates, input_port_rates=act)["total_mw"] == pytest.approx(total, rel=1e-12)
    sem = libpower.power_spread(model, ours["window_toggles"], 300 / gatesim.WINDOWS)
    assert 0 < sem < 0.5 * total


def test_gate_level_catches_a_wrong_netlist(synthesized, trace_set, tmp_path):
    """The gate-level check is live in both simulators: a netlist with one XOR cell made an XNOR disagrees with
    the golden model (the Verilog netlist for Icarus, the JSON netlist for the cycle simulator)."""
    import json
    unit, work, _ = synthesized
    net = (work / f"{unit.name}_netlist.v").read_text()
    cells = re.findall(r"^\s*XOR2X1\s+\S+\s*\(", net, re.M)
    assert cells
    (tmp_path / f"{unit.name}_netlist.v").write_text(net.replace(cells[0], cells[0].replace("XOR2X1", "XNOR2X1"), 1))
    js = json.loads((work / f"{unit.name}_netlist.json").read_text())
    cell = next(c for c in js["modules"][unit.name]["cells"].values() if c["type"] == "XOR2X1")
    cell["type"] = "XNOR2X1"
    (tmp_path / f"{unit.name}_netlist.json").write_text(json.dumps(js))
    for engine in ("cycle", "icarus"):
        with pytest.raises(flow.ToolError, match="disagrees with the golden model in [1-9]"):
            gatesim.simulate(unit, tmp_path, flow.DEFAULT_LIBERTY, trace_set, cycles=200, engine=engine)


def test_combinational_unit_through_sta_and_gate_level(tmp_path, trace_set):
    """The SDR decoder: a combinational unit whose netlist ties an output bit to 0 and aliases another to an
    input (written without concatenated left-hand sides, which OpenSTA 2019 cannot parse); OpenSTA times it and
    its gate-level simulation (one vector per period, no clock port) is checked against the golden model."""
    unit = get("sdr_decoder_a16k4")
    assert not unit.clocked
    flow.synthesize(unit, tmp_path, flow.DEFAULT_LIBERTY)
    assert "assign {" not in (tmp_path / f"{unit.name}_netlist.v").read_text()
    res = flow.sta(unit.name, tmp_path, flow.DEFAULT_LIBERTY, 10.0, activity(unit, trace_set), unit.clocked)
    assert 0 < res["critical_path_ns"] < 10 and res["power_mw"] > 0
    for timed in (False, True):
        gl = gatesim.simulate(unit, tmp_path, flow.DEFAULT_LIBERTY, trace_set, cycles=300, timed=timed,
                              period_ns=20)
        assert gl["cycles"] == 300 and gl["checked"] == 300 * len(unit.outputs)
        assert sum(gl["toggles"].values()) > 0


def test_liberty_calculator_matches_opensta_on_uniform_activity(synthesized):
    _, work, _ = synthesized
    lib = flow.DEFAULT_LIBERTY
    tcl = (f"read_liberty {lib}\nread_verilog mac_dfree_w4a4_netlist.v\nlink_design mac_dfree_w4a4\n"
           "create_clock -name clk -period 10 [get_ports clk]\n"
           "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n"
           "set_power_activity -global -activity 0.2 -duty 0.5\nset_power_activity -input -activity 0.2 -duty 0.5\n"
           "report_power -digits 8\nexit\n")
    (work / "uniform.tcl").write_text(tcl)
    out = subprocess.run([flow.STA, "-no_init", "-exit", "uniform.tcl"], cwd=work, capture_output=True, text=True,
                         timeout=300)
    internal, switching, leakage, _ = map(float, re.search(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", out.stdout,
                                                           re.M).groups())
    ours = libpower.power(work / "mac_dfree_w4a4_netlist.v", lib, 10.0, {}, net_default=0.2)
    assert ours["switching_mw"] == pytest.approx(switching * 1e3, rel=0.02)
    assert ours["leakage_mw"] == pytest.approx(leakage * 1e3, rel=0.02)
    assert ours["internal_mw"] == pytest.approx(internal * 1e3, rel=0.2)


def test_activity_covers_every_input_bit(trace_set):
    act = activity(get("mac_fp16"), trace_set)
    assert {f"a[{i}]" for i in range(16)} <= set(act) and act["en"] == 0.0
    assert 0.05 < sum(act[f"a[{i}]"] for i in range(16)) / 16 < 0.9


def test_missing_tool_is_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(flow.ToolError, match="liberty file .* not found"):
        flow.require_tools(tmp_path / "none.lib")
    monkeypatch.setattr(flow, "STA", "no-such-sta-binary")
    with pytest.raises(flow.ToolError, match="no-such-sta-binary.*make setup"):
        flow.require_tools(flow.DEFAULT_LIBERTY)
    with pytest.raises(flow.ToolError, match="not found; run `make setup`"):
        flow.run_tool(["no-such-tool-here"], tmp_path / "log", tmp_path)
    with pytest.raises(flow.ToolError, match="did not finish in 1 s"):
        flow.run_tool(["sleep", "5"], tmp_path / "log", tmp_path, timeout=1)


def test_ice40_counts_and_fmax(tmp_path):
    from synth import fpga
    if not fpga.available():
        pytest.fail("nextpnr-ice40 is missing (scripts/setup.sh installs it)")
    res = fpga.ice40(get("mac_dfree_w4a4"), tmp_path)
    # input registers (4+4+4+3+2) and the 32-bit accumulator at least
    assert res["lut4"] > 50 and res["ff"] >= 4 + 4 + 4 + 3 + 2 + 32 and res["carry"] > 0
    assert 20 < res["fmax_mhz"] < 500


def test_stat_json_of_yosys_023_with_its_stray_hierarchy_lines(tmp_path):
    """Debian's Yosys 0.23 prints the hierarchy tree into ``stat -json`` for nested designs (seen on the FP16
    MAC); the reader drops those lines and keeps every module."""
    text = ('{\n   "modules": {\n      "\\\\top": {\n         "num_cells_by_type": {\n            "INVX1": 2\n'
            '         }\n      }\n   },\n       top.accumulator.fma      1\n         top.accumulator.fma.multiplier'
            '      1\n   "design": {\n      "num_cells": 2\n   }\n}\n')
    (tmp_path / "stat.json").write_text(text)
    assert flow.read_stat_json(tmp_path / "stat.json")["modules"]["\\top"]["num_cells_by_type"] == {"INVX1": 2}


def test_ecp5_with_and_without_dsp_blocks(tmp_path):
    """ECP5 counts and nextpnr f_max on one MAC: with DSP inference Yosys spends a MULT18X18D on the 3x3 product,
    with -nodsp it builds it from LUTs."""
    from synth import fpga
    unit = get("mac_dfree_w4a4")
    d, n = fpga.ecp5(unit, tmp_path), fpga.ecp5(unit, tmp_path, dsp=False)
    assert d["dsp"] == 1 and n["dsp"] == 0 and n["lut4"] > d["lut4"] > 0 and d["ff"] == n["ff"] > 0
    assert d["fmax_mhz"] > 0 and n["fmax_mhz"] > 0


def test_parallel_run_gives_the_sequential_figures(tmp_path):
    """``python -m synth --jobs 2`` writes the same figures, in the same order, as a sequential run (each with
    its own empty cache, so both compute)."""
    import json

    from synth.__main__ import main
    names = ["sdr_decoder_w8k4", "sdr_decoder_a16k4"]
    reports = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        main(["--no-fpga", "--jobs", str(jobs), "--out", str(out), "--cache", str(out / "cache"), *names])
        reports.append(json.loads((out / "report.json").read_text()))
    keys = ("name", "area_um2", "cells", "critical_path_ns", "power_mw")
    assert [r["name"] for r in reports[1]["units"]] == names
    assert [[r[k] for k in keys] for r in reports[0]["units"]] == [[r[k] for k in keys] for r in reports[1]["units"]]
    assert reports[1]["meta"]["jobs"] == 2
    assert all(r["meta"]["cached"] == [] for r in reports)
    assert all(set(u["steps"]) >= {"elaborate", "synthesis", "sta"} for r in reports for u in r["units"])


def test_cache_resumes_and_never_reuses_a_result_made_from_anything_else(tmp_path, capsys):
    """A run that stopped after one unit continues with the other; a rerun takes every row from the cache with
    the same figures; another clock misses; a damaged entry is named and computed again."""
    import json

    from synth.__main__ import main
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["--no-fpga", "--jobs", "1", "--out", str(out), "--cache", str(cache)]
    main(args + ["sdr_decoder_w8k4"])                             # "killed" after its first unit
    main(args + ["sdr_decoder_w8k4", "sdr_decoder_a16k4"])
    first = json.loads((out / "report.json").read_text())
    assert first["meta"]["cached"] == ["sdr_decoder_w8k4"]
    main(args + ["sdr_decoder_w8k4", "sdr_decoder_a16k4"])
    again = json.loads((out / "report.json").read_text())
    assert again["meta"]["cached"] == ["sdr_decoder_a16k4", "sdr_decoder_w8k4"]
    strip = [{k: v for k, v in u.items() if k != "cached"} for u in first["units"]]
    assert strip == [{k: v for k, v in u.items() if k != "cached"} for u in again["units"]]
    assert "| sdr_decoder_a16k4 |" in (out / "report.md").read_text().split("## Where the time goes")[1]
    main(args + ["--clock-ns", "7", "sdr_decoder_w8k4"])
    assert json.loads((out / "report.json").read_text())["meta"]["cached"] == []
    for f in cache.glob("sdr_decoder_a16k4.*.json"):
        f.write_text('{"key": "x"')
    capsys.readouterr()
    main(args + ["sdr_decoder_a16k4"])
    assert "is unreadable" in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text())["meta"]["cached"] == []


def test_fpga_cli_runs_in_parallel_and_resumes_from_its_cache(tmp_path, capsys):
    """``python -m synth.fpga``: two units side by side; the rerun takes both from the cache, same figures."""
    import json

    from synth import fpga
    args = ["--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--jobs", "2",
            "sdr_decoder_w8k4", "sdr_decoder_a16k4"]
    fpga.main(args)
    first = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["name"] for r in first] == ["sdr_decoder_w8k4", "sdr_decoder_a16k4"]
    assert all(r["ice40"]["lut4"] > 0 for r in first)
    capsys.readouterr()
    fpga.main(args)
    assert "2/2 done" in capsys.readouterr().err
    assert "2 from the cache" in (tmp_path / "out" / "report.md").read_text()
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == first


def test_a_liberty_in_a_path_with_spaces(tmp_path):
    """Yosys' script language and ABC cannot take a path with spaces: the flow works on a copy under a plain name,
    so synthesis and OpenSTA run on a liberty anywhere; a failing tool's message carries its first error line."""
    import shutil
    lib = tmp_path / "my cells" / "cells copy.lib"
    lib.parent.mkdir()
    shutil.copyfile(flow.DEFAULT_LIBERTY, lib)
    flow.require_tools(lib)
    unit = get("sdr_decoder_w8k4")
    syn = flow.synthesize(unit, tmp_path / "w", lib)
    res = flow.sta(unit.name, tmp_path / "w", lib, 10.0, {}, unit.clocked)
    assert syn["total"] > 0 and res["critical_path_ns"] > 0
    (tmp_path / "bad.ys").write_text("read_verilog no_such_file.v\n")
    with pytest.raises(flow.ToolError, match=r"failed \(exit 1: .*no_such_file"):
        flow.run_tool([flow.YOSYS, "-q", "-s", "bad.ys"], tmp_path / "log", tmp_path)


@pytest.fixture(scope="module")
def small_tile(tmp_path_factory):
    """A 2 x 2 x 4 W4A4 GEMM tile (a stream unit), synthesized."""
    from hdl.catalog import A4, W4, gemm_tile_unit
    flow.require_tools(flow.DEFAULT_LIBERTY)
    work = tmp_path_factory.mktemp("tile")
    unit = gemm_tile_unit("t_gl_2x2_l4", 2, 2, 4, 16, A4, W4, "t", "t")
    flow.synthesize(unit, work, flow.DEFAULT_LIBERTY)
    return unit, work


def test_gate_level_drives_a_stream_unit_at_full_rate(small_tile, trace_set, tmp_path):
    """A stream unit's netlist runs in Icarus behind the handshaking testbench: every input beat taken at one per
    cycle (the stretch whose toggles count), every output beat equal to the golden model's; glitches (cell
    delays) only add toggles; a netlist with one XOR made an XNOR is caught."""
    unit, work = small_tile
    from hdl.tile import GemmTile
    gl = gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=300)
    beats = {k: {f: v[:300] for f, v in b.items()} for k, b in unit.stimulus(trace_set, 300, seed=0).items()}
    want = unit.expect(beats)                           # the jobs the first 300 beats complete
    assert gl["beats"] == 300 - GemmTile.pipeline and gl["cycles"] == gl["beats"]    # full rate after the fill
    assert gl["checked"] == len(want["y"]["last"]) >= 2 and gl["simulator"] == "Icarus (zero delay)"
    assert sum(gl["toggles"].values()) > 0 and len(gl["window_toggles"]) == gatesim.WINDOWS
    timed = gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=300, timed=True, period_ns=20)
    assert timed["checked"] == gl["checked"] and sum(timed["toggles"].values()) > sum(gl["toggles"].values())
    with pytest.raises(ValueError, match="stream unit: the cycle simulator cannot drive its handshakes"):
        gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=300, engine="cycle")
    net = (work / f"{unit.name}_netlist.v").read_text()
    cells = re.findall(r"^\s*XOR2X1\s+\S+\s*\(", net, re.M)
    assert cells
    (tmp_path / f"{unit.name}_netlist.v").write_text(net.replace(cells[0], cells[0].replace("XOR2X1", "XNOR2X1"), 1))
    with pytest.raises(flow.ToolError, match="disagrees with the golden model in [1-9]"):
        gatesim.simulate(unit, tmp_path, flow.DEFAULT_LIBERTY, trace_set, cycles=300)
    with pytest.raises(flow.ToolError, match="the first 100 input beats complete no job"):
        gatesim.simulate(unit, work, flow.DEFAULT_LIBERTY, trace_set, cycles=100)
