"""The AXI4-Stream tile (``hdl.axis.AXIStreamTile``, ``python -m hdl.export --custom tile_axis``) against the tile's
golden model, driven by cocotbext-axi's AXI-Stream source and sink (``sim/tb_axis.py``), under Icarus or
Verilator: real-trace jobs of both modes (linear layers, Q x K^T) plus synthetic and corner jobs, at full rate
and with random pauses on both sources and the sink; a corrupted expectation must fail the bench."""

import shutil

import numpy as np
import pytest
from harness import BUILD, run_cocotb, simulator

from hdl.axis import AXIStreamTile
from hdl.catalog import get
from hdl.export import TIMESCALE, _verilog

TILE = "tile4x4_w4a4"                    # the registered tile whose golden model and stimulus the bench uses


def _words(unit, beats, stream, drop_last):
    st = next(s for s in unit.streams if s.name == stream)
    payload = st.pack(beats[stream])
    if not drop_last:
        return [format(x, "x") for x in payload], None
    top = st.width - 1                                    # ``last`` is the payload's final bit
    return [format(x & ((1 << top) - 1), "x") for x in payload], np.array([x >> top for x in payload])


def _run(beats, expect, test_id, p_pause, seed=0):
    unit = get(TILE)
    comp = AXIStreamTile(**unit.params)
    name = f"{TILE}_axis"
    text = _verilog(comp, name, f"{unit.doc}, AXI4-Stream ports", unit.params)
    assert text.startswith("//") and TIMESCALE in text
    build = BUILD / simulator() / f"{name}_{test_id}"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True)
    a, a_last = _words(unit, beats, "a", True)
    w, _ = _words(unit, beats, "w", False)
    y, y_last = _words(unit, expect, "y", True)
    np.savez(build / "stimulus.npz", a=np.array(a), w=np.array(w), a_last=a_last, y=np.array(y), y_last=y_last)
    res = run_cocotb(name, build, {f"{name}.v": text}, name, "tb_axis",
                     {"QR_P_PAUSE": str(p_pause), "QR_SEED": str(seed)})
    return res, len(y)


def _beats(trace_set, n=None):
    n = n or (256 if simulator() == "verilator" else 128)        # Icarus: a few hundred cycles per second
    u = get(TILE)
    syn = u.vectors(64, seed=1)
    real = u.stimulus(trace_set, n, seed=11)
    return {s: {f: np.concatenate([syn[s][f], real[s][f]]) for f in syn[s]} for s in syn}


@pytest.mark.parametrize("p_pause", [0.0, 0.3])
def test_axis_tile_matches_golden(trace_set, p_pause):
    beats = _beats(trace_set)
    res, n = _run(beats, get(TILE).expect(beats), f"p{int(p_pause * 10)}", p_pause, seed=3)
    assert int(res["mismatches"]) == int(res["lost"]) == int(res["extra"]) == 0
    assert int(res["checked"]) == n > 0
    print(f"\n{TILE}_axis [{simulator()}]: {n} output beats in {int(res['packets'])} AXI packets, "
          f"{int(res['beats'])} input beats, pause {p_pause}: bit-exact")


def test_axis_bench_catches_a_wrong_expectation(trace_set):
    """The packet scoreboard is live: one flipped bit in one expected beat fails the bench and is counted."""
    beats = _beats(trace_set, 32)
    exp = get(TILE).expect(beats)
    exp = {"y": dict(exp["y"], acc=exp["y"]["acc"].copy())}
    exp["y"]["acc"][1, 2] ^= 8
    with pytest.raises(SystemExit):                  # the cocotb runner exits when a bench fails under pytest
        _run(beats, exp, "negative", 0.0)
    res = np.load(BUILD / simulator() / f"{TILE}_axis_negative" / "results.npz")
    assert int(res["mismatches"]) == 1 and int(res["checked"]) > 0
    assert str(res["first"][0]).startswith("packet 0 beat 1")
