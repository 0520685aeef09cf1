"""The model on the hardware, short: the first 2 decoder layers of the real LLM over 16 tokens, every quantized GEMM
(7 linear layers and 9 heads' Q x K^T per layer) through the integer golden path and through the Verilated tile.
The tile's results are used downstream and every one is compared; the perplexities must be equal, and a single
corrupted result must fail the run. Resume from the cache, a corrupted cache entry, and a Dask cluster of 2 workers
giving the same results are checked here too (``make infer`` runs the whole model)."""

import json

import numpy as np
import pytest

from llmstudy import infer

pytest.importorskip("torch", reason="the llm extra (scripts/setup.sh installs it)")

SHORT = dict(tokens=16, windows=1, layers=2, cal_windows=2, cal_len=64, workers=2, progress=False)


def _outputs(shape, tokens, layers):
    """Outputs of every GEMM kind of ``layers`` decoder layers over ``tokens`` tokens, from the model's shape."""
    h, kv = shape["hidden"], shape["kv_heads"] * shape["head_dim"]
    per_token = 3 * h + 2 * kv + 2 * shape["intermediate"]          # q o down, k v, gate up
    return layers * (tokens * per_token + shape["heads"] * tokens * tokens)


def test_short_run_on_the_rtl(tmp_path):
    """RTL = integer golden path on every output; then a rerun entirely from the cache, a damaged cache entry named
    and recomputed, and the same jobs on a local Dask cluster of 2 worker processes, cycle for cycle. (One test,
    so that the short run is made once whatever the xdist scheduling.)"""
    cache = tmp_path / "cache"
    res = infer.run(cache=cache, **SHORT)
    shape = res["model_shape"]
    assert res["checked"] == _outputs(shape, 16, 2) and res["mismatches"] == 0
    assert sum(v["protocol"] for v in res["rtl"].values()) == 0
    assert res["perplexity_rtl"] == res["perplexity_golden"] and res["nll_equal"]
    assert res["gemms_simulated"] == 2 * (7 + shape["heads"])
    for kind, v in res["golden"].items():
        assert v["wraps"] == 0 and v["max_abs"] < 1 << 31
        assert 0 < v["fake_max_rel"] < 1e-5, kind           # the same function up to float32 rounding
    c = infer.cost(res)
    assert 0.9 < c["utilization"] <= 1 and c["cycles_per_token"] > 0
    md = infer.report_markdown(dict(res, cost=c))
    assert "**0 mismatches**" in md and "(equal)" in md

    again = infer.run(cache=cache, **SHORT)                  # resume: every GEMM from the cache
    assert again["gemms_simulated"] == 0 and again["gemms_from_cache"] == res["gemms_simulated"]
    assert again["perplexity_rtl"] == res["perplexity_rtl"] and again["mismatches"] == 0
    assert again["layer_cycles"] == res["layer_cycles"]
    victim = sorted(cache.rglob("*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:-40])
    third = infer.run(cache=cache, **SHORT)
    assert third["cache_corrupt"] == 1 and third["gemms_simulated"] == 1 and third["mismatches"] == 0

    pytest.importorskip("distributed", reason="the dev extra installs distributed")
    executor, client = infer.dask_executor("local", 2)
    try:
        got = infer.run(cache=tmp_path / "dask", executor=executor, **SHORT)
    finally:
        client.close()
    assert got["gemms_simulated"] == res["gemms_simulated"] and got["mismatches"] == 0
    assert got["perplexity_rtl"] == res["perplexity_rtl"] and got["layer_cycles"] == res["layer_cycles"]


def test_a_corrupted_result_fails_the_run(tmp_path, monkeypatch, capsys):
    """One flipped bit in one output of the tile fails ``python -m llmstudy.infer`` (counted as a mismatch)."""
    from hdl import native
    decode = native.decode
    hit = []

    def corrupt(out, problems):
        res = decode(out, problems)
        if not hit:
            res[0][0][0, 0] ^= 1 << 3
            hit.append(1)
        return res
    monkeypatch.setattr(native, "decode", corrupt)
    monkeypatch.setenv("QR_BUILD", str(tmp_path))
    with pytest.raises(SystemExit, match="1 mismatches"):
        infer.main(["--tokens", "16", "--layers", "1", "--cal-windows", "1", "--cal-len", "32"])
    rep = json.loads(next(tmp_path.rglob("report.json")).read_text())
    assert rep["mismatches"] == 1 and rep["checked"] > 0


def test_int8_baseline_on_the_int_tile(tmp_path):
    """The INT 8x8 baseline (W8 weights, A16 narrowed to 8 bits, KV8 Q x K^T) on the INT tile: bit-exact too."""
    res = infer.run("W8A8KV8", "tile4x4_int8x8", cache=tmp_path, **SHORT)
    assert res["mismatches"] == 0 and res["checked"] == _outputs(res["model_shape"], 16, 2)
    assert res["perplexity_rtl"] == res["perplexity_golden"] and res["nll_equal"]
    assert all(v["max_abs"] < 1 << 24 for v in res["rtl"].values())        # 8 x 8-bit sums over K <= 1536


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(ValueError, match="integer inference runs QRazor schemes"):
        infer.IntegerPath("RTN W4A4 g16")
    with pytest.raises(ValueError, match="tile tile4x4_w4a4 is built for g = 16, scheme W4A4 g32 uses g = 32"):
        infer.run("W4A4 g32", cache=tmp_path, **SHORT)
    with pytest.raises(ValueError, match="takes 4-bit activation codes, scheme W4A8 g16 makes 8-bit ones"):
        infer.run("W4A8 g16", cache=tmp_path, **SHORT)
    with pytest.raises(ValueError, match="tile tile4x4_int8x8 is an INT tile, scheme W4A4 g16 needs a QRazor one"):
        infer.run("W4A4 g16", "tile4x4_int8x8", cache=tmp_path, **SHORT)
    with pytest.raises(SystemExit):
        infer.main(["--scheme", "float"])
    with pytest.raises(SystemExit):
        infer.main(["--tokens", "1"])


def test_integer_path_golden_functions_agree(trace_set):
    """The fast exact GEMM the whole-model run uses equals gemm_dfree (group by group) on a real layer."""
    import golden as G
    x = trace_set.tensors["layer00.mlp_in.input"].data[:32]
    w = trace_set.tensors["layer00.gate_proj.weight"].data
    for fa in (G.A16_K4, G.A16_K8):
        a, ww = G.compress(x, fa, axis=1), G.compress(w, G.W8_K4, axis=1)
        np.testing.assert_array_equal(G.wrap(G.gemm_exact(a, ww)), G.gemm_dfree(a, ww))


def test_matmul_exact_both_paths():
    """Below 2**53 the float64 path, above it int64: both equal Python's exact integer sums."""
    import golden as G
    rng = np.random.default_rng(4)
    for hi in (1 << 7, 1 << 25):                 # sums up to 2**23 (float64) and about 2**58 (int64)
        a, b = rng.integers(-hi, hi, (5, 300)), rng.integers(-hi, hi, (4, 300))
        want = [[sum(int(x) * int(y) for x, y in zip(r, c)) for c in b] for r in a]
        assert G.matmul_exact(a, b).tolist() == want
    with pytest.raises(ValueError, match="expected a: M x K and b: N x K"):
        G.matmul_exact(np.zeros((2, 3), np.int64), np.zeros((2, 4), np.int64))


def test_tile_figures_take_the_timed_gate_level_power(tmp_path):
    """The system table's power is the timed gate-level figure where the synthesis report has one (it sits at the
    unit's top level, beside ``gate_level``), else OpenSTA's; a report without the tile gives None."""
    unit = dict(name="t", area_um2=1e6, fmax_mhz=200.0, power_mw=1806.0,
                gate_level_timed=dict(power_mw=480.3))
    path = tmp_path / "report.json"
    path.write_text(json.dumps(dict(meta=dict(clock_ns=10.0), units=[unit])))
    f = infer.tile_figures("t", path)
    assert (f["power_mw"], f["power_from"]) == (480.3, "gate-level timed")
    del unit["gate_level_timed"]
    path.write_text(json.dumps(dict(meta=dict(clock_ns=10.0), units=[unit])))
    f = infer.tile_figures("t", path)
    assert (f["power_mw"], f["power_from"]) == (1806.0, "OpenSTA (real-trace activity)")
    assert infer.tile_figures("other", path) is None
