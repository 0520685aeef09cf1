"""Every registered unit, through its exported Verilog, under Icarus (default) or Verilator (SIM=verilator),
against its own golden function: the descriptor's exhaustive and corner segments plus synthetic streams, real
LLM data (the default trace set, or QR_TRACE=file), and a reset pulse mid-stream.

Settings: ``QR_SIM_CYCLES`` synthetic cycles per lane (default 2000, scaled by the unit's ``cycles_scale``),
``QR_TRACE_CYCLES`` real-trace cycles per lane (default 10000), ``QR_TRACE`` a trace file of your own.
"""

import numpy as np
import pytest
from harness import BUILD, bench_stimulus, check, env_int, run_bench, simulator

from hdl.unit import get, units

NAMES = [u.name for u in units()]
CLOCKED = [u.name for u in units() if u.clocked]


def _cycles(u, var, default):
    """Cycles per lane from ``var`` (scaled by the unit's ``cycles_scale``), times the bench's lanes."""
    return max(1, int(env_int(var, default) * u.cycles_scale)) * u.bench_lanes


def _max_cycles(u):
    """Cycles per lane on Icarus for the wide encoders (it evaluates a g = 128 encoder at ~10 groups/s)."""
    return None if simulator() == "verilator" or u.per <= 16 else max(16, 2048 // u.per)


@pytest.mark.parametrize("name", NAMES)
def test_vectors(name):
    u = get(name)
    check(u, u.vectors(_cycles(u, "QR_SIM_CYCLES", 2000), seed=1), "vectors", max_cycles=_max_cycles(u))


@pytest.mark.parametrize("name", NAMES)
def test_real_trace(name, trace_set):
    u = get(name)
    check(u, u.stimulus(trace_set, _cycles(u, "QR_TRACE_CYCLES", 10000), seed=11), "trace", "trace",
          max_cycles=_max_cycles(u))


@pytest.mark.parametrize("name", CLOCKED)
def test_reset_mid_stream(name):
    """Synchronous reset pulses while the unit is busy: registers clear, in-flight inputs are lost."""
    u = get(name)
    d = {k: v[-1200:] for k, v in u.vectors(600, seed=3).items()}
    rst = np.zeros(300, np.int64)
    rst[[120, 121, 200]] = 1
    check(u, d, "reset", lanes=4, rst=rst)


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
    assert int(res["mismatches"]) == 1 and str(res["first"][0]).startswith("cycle 3 lane 5 port value")
