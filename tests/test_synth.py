"""The synthesis flow on one small unit: Yosys + OpenSTA run, the gate-level netlist matches the golden model
on real traces, and the liberty power calculator agrees with OpenSTA on a uniform activity."""

import re
import subprocess

import pytest

from hdl.configs import get
from llmstudy import traces
from synth import flow, gatesim, libpower
from synth.activity import activity


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    flow.require_tools(flow.DEFAULT_LIBERTY)
    work = tmp_path_factory.mktemp("syn")
    unit = get("mac_dfree_w4a4").build()
    syn = flow.synthesize("mac_dfree_w4a4", unit, work, flow.DEFAULT_LIBERTY)
    return unit, work, syn


def test_area_breakdown_adds_up(synthesized):
    _, _, syn = synthesized
    parts = flow.breakdown("mac_dfree_w4a4", syn["modules"])
    assert parts["multiplier"] > 0 and parts["shifters"] > 0 and parts["regs_acc"] > 0
    assert sum(parts.values()) == pytest.approx(syn["total"])


def test_gate_level_netlist_matches_golden_and_counts_toggles(synthesized):
    unit, work, _ = synthesized
    gl = gatesim.simulate("mac_dfree_w4a4", unit, work, flow.DEFAULT_LIBERTY, traces.load(), cycles=320)
    assert gl["cycles"] == 320 and len(gl["toggles"]) > 400
    assert 0 < sum(gl["toggles"].values())
    timed = gatesim.simulate("mac_dfree_w4a4", unit, work, flow.DEFAULT_LIBERTY, traces.load(), cycles=320,
                             timed=True, period_ns=20)          # also checked against the golden model
    assert sum(timed["toggles"].values()) > sum(gl["toggles"].values())   # glitches only add toggles


def test_liberty_calculator_matches_opensta_on_uniform_activity(synthesized):
    _, work, _ = synthesized
    lib = flow.DEFAULT_LIBERTY
    tcl = (f"read_liberty {lib}\nread_verilog mac_dfree_w4a4_netlist.v\nlink_design mac_dfree_w4a4\n"
           "create_clock -name clk -period 10 [get_ports clk]\n"
           "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n"
           "set_power_activity -global -activity 0.2 -duty 0.5\nset_power_activity -input -activity 0.2 -duty 0.5\n"
           "report_power -digits 8\nexit\n")
    (work / "uniform.tcl").write_text(tcl)
    out = subprocess.run([flow.STA, "-no_init", "-exit", "uniform.tcl"], cwd=work, capture_output=True, text=True)
    internal, switching, leakage, _ = map(float, re.search(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", out.stdout,
                                                           re.M).groups())
    ours = libpower.power(work / "mac_dfree_w4a4_netlist.v", lib, 10.0, {}, net_default=0.2)
    assert ours["switching_mw"] == pytest.approx(switching * 1e3, rel=0.02)
    assert ours["leakage_mw"] == pytest.approx(leakage * 1e3, rel=0.02)
    assert ours["internal_mw"] == pytest.approx(internal * 1e3, rel=0.2)


def test_activity_covers_every_input_bit():
    unit = get("mac_fp16").build()
    unit._MustUse__silence = True       # built for its signature only
    act = activity(unit, traces.load())
    assert {f"a[{i}]" for i in range(16)} <= set(act) and act["en"] == 0.0
    assert 0.05 < sum(act[f"a[{i}]"] for i in range(16)) / 16 < 0.9


def test_missing_tool_is_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(flow.ToolError, match="liberty file .* not found"):
        flow.require_tools(tmp_path / "none.lib")
    monkeypatch.setattr(flow, "STA", "no-such-sta-binary")
    with pytest.raises(flow.ToolError, match="no-such-sta-binary.*make setup"):
        flow.require_tools(flow.DEFAULT_LIBERTY)
    with pytest.raises(flow.ToolError, match="not found; run `make setup`"):
        flow._run(["no-such-tool-here"], tmp_path / "log", tmp_path)


def test_ice40_counts_and_fmax(tmp_path):
    from synth import fpga
    if not fpga.available():
        pytest.fail("nextpnr-ice40 is missing (scripts/setup.sh installs it)")
    res = fpga.ice40("mac_dfree_w4a4", get("mac_dfree_w4a4").build(), tmp_path)
    assert res["lut4"] > 50 and res["ff"] >= 4 + 4 + 4 + 3 + 2 + 32 and res["carry"] > 0
    assert res["fmax_mhz"] and res["fmax_mhz"] > 1
