"""Every registered stream unit (the GEMM tiles), through its exported Verilog under Icarus (default) or Verilator
(``SIM=verilator``), against its own golden function (``golden.tile``), by the stream bench ``tb_stream``:

* corner and synthetic jobs plus real-trace blocks of both modes (linear layers, Q x K^T) with random
  ``valid``/``ready`` gaps on every port: every output beat compared, none lost, none extra, no protocol violation;
* the same at full rate, where the tile must take one beat per cycle;
* real layers: every output of one ``q_proj`` of the trace set (activations x weights) and one attention
  head's Q x K^T for the first tokens, each also checked against ``golden.gemm_dfree`` of the whole matrices.
  Under Verilator 64 tokens (``QR_LAYER_TOKENS``; 256 gives the whole layer of the default trace); under Icarus,
  which runs this tile at a few hundred cycles per second, the first token of q_proj (all 576 outputs) and 32 of
  Q x K^T. Whole layers and the whole model run on the native harness (``hdl.native``:
  ``tests/test_native.py``, ``make infer``).

Settings: ``QR_SIM_CYCLES`` synthetic beats (default 2000), ``QR_TRACE_CYCLES`` real-trace beats (default
10000), both divided by 8 under Icarus; ``QR_LAYER_TOKENS``; ``QR_TRACE`` a trace file of your own.
"""

import numpy as np
import pytest
from harness import check_stream, env_int, selected, simulator

import golden as G
from hdl.catalog import get, tile_gemm, units

NAMES = selected([u for u in units(protocol="stream") if u.cocotb])


def _beats(var, default):
    n = env_int(var, default)
    return max(64, n // 8) if simulator() == "icarus" else n


def _join(parts):
    return {s: {f: np.concatenate([p[s][f] for p in parts]) for f in parts[0][s]} for s in parts[0]}


def _stream(u, trace_set):
    synthetic = u.vectors(_beats("QR_SIM_CYCLES", 2000), seed=1)
    real = u.stimulus(trace_set, _beats("QR_TRACE_CYCLES", 10000), seed=11)
    n_syn, n_real = len(synthetic["a"]["last"]), len(real["a"]["last"])
    return _join([synthetic, real]), n_real / (n_syn + n_real)


@pytest.mark.parametrize("name", NAMES)
def test_tile_random_stalls(name, trace_set):
    u = get(name)
    beats, frac = _stream(u, trace_set)
    check_stream(u, beats, "stalls", trace_fraction=frac, p_valid=0.7, p_ready=0.6, seed=3)


@pytest.mark.parametrize("name", NAMES)
def test_tile_full_rate(name, trace_set):
    """Inputs always valid, output always ready: one beat per cycle, except that a job shorter than R beats (a
    model with a small head_dim) waits for its R result rows to drain: at most max(T, R) cycles per job of T beats,
    plus the pipeline."""
    u = get(name)
    beats = u.stimulus(trace_set, _beats("QR_TRACE_CYCLES", 10000), seed=12)
    n = len(beats["a"]["last"])
    ends = np.flatnonzero(np.asarray(beats["a"]["last"])) + 1
    lengths = np.diff(np.concatenate([[0], ends]))
    rows = u.params["rows"]
    bound = int(np.maximum(lengths, rows).sum()) + 64 + 2 * rows
    res = check_stream(u, beats, "fullrate", trace_fraction=1.0)
    assert int(res["cycles"]) <= bound, f"{int(res['cycles'])} cycles for {n} beats in {len(lengths)} jobs"


def _layer_tokens(total, icarus):
    # whole layers (and the whole model) run on the native Verilator harness (tests/test_native.py, make infer);
    # through cocotb, Verilator takes 64 tokens unless QR_LAYER_TOKENS says otherwise
    default = min(total, 64) if simulator() == "verilator" else icarus
    return env_int("QR_LAYER_TOKENS", default, 1, total)


def _whole_gemm(u, x, y, pair, test_id):
    beats, jobs, a, w = tile_gemm(u, x, y, pair)
    exp = u.expect(beats)
    got = G.blocks_to_matrix(exp["y"]["acc"], jobs, u.params["rows"], u.params["cols"], (a.shape[0], w.shape[0]))
    np.testing.assert_array_equal(got, G.gemm_dfree(a, w))        # the tile's model is the whole GEMM
    res = check_stream(u, beats, test_id, trace_fraction=1.0, expect=exp)
    outputs = x.shape[0] * y.shape[0]
    print(f"{u.name}: {test_id}: {outputs:,} outputs ({len(jobs):,} jobs, {len(beats['a']['last']):,} beats) "
          f"bit-exact, {outputs / float(res['seconds']):,.0f} outputs/s")
    return res


@pytest.mark.parametrize("name", NAMES)
def test_tile_whole_q_proj(name, trace_set):
    """All output rows of one q_proj: the layer's real input (A16) x its real weights (W8)."""
    u = get(name)
    layer = trace_set.layers[0]                     # the trace set's first traced decoder layer
    x = trace_set.tensors[f"layer{layer:02d}.attn_in.input"].data
    w = trace_set.tensors[f"layer{layer:02d}.q_proj.weight"].data
    x = x[:_layer_tokens(x.shape[0], 1)]
    _whole_gemm(u, x, w, ("activation", "weight"), "q_proj")


@pytest.mark.parametrize("name", NAMES)
def test_tile_one_head_qk(name, trace_set):
    """One attention head's Q x K^T (every query against every key; the causal mask is applied downstream)."""
    u = get(name)
    layer = trace_set.layers[0]
    q = trace_set.tensors[f"layer{layer:02d}.query"].data
    k = trace_set.tensors[f"layer{layer:02d}.key"].data
    t = _layer_tokens(q.shape[1], 32)
    _whole_gemm(u, q[0, :t], k[0, :t], ("query", "key"), "qk_head0")


def test_stream_bench_catches_a_wrong_expectation(trace_set):
    """The stream scoreboard is live: one corrupted expected beat fails the cocotb test and is counted; one
    expected beat too many is counted as lost."""
    from cocotb_tools.runner import get_results
    from harness import BUILD, run_stream_bench

    u = get(NAMES[0])
    beats = u.stimulus(trace_set, 64, seed=5)
    exp = u.expect(beats)
    bad = {"y": dict(exp["y"], acc=exp["y"]["acc"].copy())}
    bad["y"]["acc"][2, 1] ^= 4
    more = {"y": {k: np.concatenate([v, v[-1:]]) for k, v in exp["y"].items()}}
    for test_id, expect, key in (("negative", bad, "mismatches"), ("lost", more, "lost")):
        with pytest.raises(SystemExit):               # the cocotb runner exits when a bench fails under pytest
            run_stream_bench(u, beats, test_id, expect=expect)
        build = BUILD / simulator() / f"{u.name}_{test_id}"
        (xml,) = build.glob("*result*.xml")
        assert get_results(xml) == (1, 1)
        res = np.load(build / "results.npz")
        assert int(res[key]) == 1 and int(res["checked"]) > 0
    first = np.load(BUILD / simulator() / f"{u.name}_negative" / "results.npz")["first"]
    assert str(first[0]).startswith("beat 2 of y")
