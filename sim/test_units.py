"""Every registered unit, through its exported Verilog, under Icarus (default) or Verilator (SIM=verilator),
against its own golden function. One bench per unit (one simulator build) runs, lane by lane: the descriptor's
exhaustive and corner segments, synthetic LLM-like streams with stalls, real LLM data (the default trace set, or
``QR_TRACE=file``), and, for clocked units, synchronous reset pulses in the middle of it all.

Settings: ``QR_SIM_CYCLES`` synthetic cycles per lane (default 2000), ``QR_TRACE_CYCLES`` real-trace cycles per
lane (default 10000), both scaled by the unit's ``cycles_scale``; ``QR_TRACE`` a trace file of your own.
"""

import numpy as np
import pytest
from harness import BUILD, bench_stimulus, check, env_int, run_bench, selected, simulator

from golden.streams import SyntheticSource
from hdl import mutants
from hdl.catalog import get, units
from hdl.unit import concat, control_ports

CONTROL_CYCLES = 32        # control segment cycles under the Icarus budget of the wide encoders

NAMES = selected(units(protocol="cycle"))


def _cycles(u, var, default):
    """Cycles per lane from ``var`` (scaled by the unit's ``cycles_scale``), times the bench's lanes. Icarus
    runs wide dot-product units at a few hundred cycles per second, so it gets ``4 / lanes`` of the stream
    there, ``2 / lanes`` at 32 lanes (Verilator runs all of it; every corner segment runs in full either way)."""
    scale = u.cycles_scale
    if simulator() == "icarus" and u.table.per == "lane":
        scale *= min(1.0, 4 / u.per) if u.per <= 16 else 2 / u.per     # 32 lanes: an eighth of it
    return max(1, int(env_int(var, default) * scale)) * u.bench_lanes


def _icarus_budget(u):
    """(corner, synthetic, real-trace) cycles for the wide encoders on Icarus, which evaluates a g = 128 encoder
    at a few groups per second. g = 16: every corner group and 1,024 groups each of synthetic and real data (the
    g = 16 encoders but the pipelined one are headline units, which CI runs again under Verilator on the whole
    stream); g = 32: 8,192 elements (256 groups), g = 64: 4,096 (64 groups), g = 128: 2,048 (16 groups: Icarus
    evaluates these at one or two groups per second), half of them the first corner groups, a quarter synthetic, a
    quarter real-trace, and the control segments (``CONTROL_CYCLES``, 16 at g = 128). A unit's own
    ``icarus_budget`` comes first. Verilator (and the in-process tests) run every corner and the whole stream.
    None: the full bench."""
    if simulator() == "verilator":
        return None
    if u.icarus_budget:
        return u.icarus_budget
    if u.per < 16 or u.table.per != "element":
        return None
    if u.per == 16:
        return None, 1024, 1024
    n = {32: 8192, 64: 4096}.get(u.per, 2048) // u.per
    return n // 2, n // 4, n - n // 2 - n // 4


def _head(drive, n):
    return {k: np.asarray(v)[:n] for k, v in drive.items()}


@pytest.mark.parametrize("name", NAMES)
def test_unit(name, trace_set):
    u = get(name)
    budget = _icarus_budget(u)
    if budget:                              # the vectors() layout (segments, then a stream), cut to the budget
        corner, n_syn, n_real = budget
        corners = concat(u.segments(1))
        synthetic = concat([corners if corner is None else _head(corners, corner),
                            *u.control_segments(1, CONTROL_CYCLES // (2 if u.per >= 128 else 1)),
                            u.stimulus(SyntheticSource(), n_syn, 1)])
        real = _head(u.stimulus(trace_set, n_real, seed=11), n_real)
    else:
        synthetic = u.vectors(_cycles(u, "QR_SIM_CYCLES", 2000), seed=1)
        real = u.stimulus(trace_set, _cycles(u, "QR_TRACE_CYCLES", 10000), seed=11)
    drive = concat([synthetic, real])
    n = len(drive[u.inputs[0].name])
    per_lane = -(-n // u.bench_lanes)
    rst = None
    if u.clocked:                                   # reset pulses a third and two thirds of the way
        rst = np.zeros(per_lane, np.int64)
        rst[[per_lane // 3, per_lane // 3 + 1, 2 * per_lane // 3]] = 1
    lanes_real = len(real[u.inputs[0].name]) / n
    res = check(u, drive, "all", trace_fraction=lanes_real, rst=rst)
    holes = [f"{''.join(map(str, c))} {s}" for (c, s), n in res["coverage"].items() if n == 0]
    assert not holes, f"{name}: the stimulus never drives control inputs {control_ports(u)} = {holes}"


def test_bench_catches_a_wrong_expectation():
    """The scoreboard is live: one corrupted expected value fails the cocotb test itself, and is counted."""
    from cocotb_tools.runner import get_results

    u = get("sdr_decoder_w8k4")
    stim = bench_stimulus(u, u.vectors(100, seed=1), 8)
    stim["expect_value"] = stim["expect_value"].copy()
    stim["expect_value"][3, 5] ^= 1
    with pytest.raises(SystemExit):                   # the cocotb runner exits when a bench fails under pytest
        run_bench(u, 8, stim, "negative")
    build = BUILD / simulator() / "sdr_decoder_w8k4_negative"
    (xml,) = build.glob("*result*.xml")               # named after the pytest test when run under pytest
    assert get_results(xml) == (1, 1)                  # the bench ran, and it is the one that failed
    res = np.load(build / "results.npz")
    assert int(res["mismatches"]) == 1 and str(res["first"][0]).index("cycle 3 lane 5 port value") == 0


def test_bench_catches_a_missing_output_register():
    """The bench reads outputs with the next cycle's inputs applied: the pipelined encoder with its output
    register removed (declaring latency 1 still) fails it, on every simulator."""
    u = mutants.no_output_register()
    stim = bench_stimulus(u, u.vectors(64, seed=1), 8)
    with pytest.raises(SystemExit):
        run_bench(u, 8, stim, "mutant")
    res = np.load(BUILD / simulator() / f"{u.name}_mutant" / "results.npz")
    assert int(res["mismatches"]) > 0.03 * int(res["checked"])
