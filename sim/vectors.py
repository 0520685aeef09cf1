"""Stimulus for the RTL benches, with expected outputs computed by the golden model only.

Every builder returns a dict for ``harness.run_bench``: ``in_<port>`` arrays (cycles, lanes[, k]) and
``expect_<port>`` arrays aligned with the inputs (the output ``latency`` cycles later). Data sources:
exhaustive operand spaces, seeded LLM-like random streams, named corner cases.
"""

import itertools

import numpy as np

import golden as G
from golden.streams import llm_like, signmag


def _lanes(arr, lanes):
    """(n, ...) stream -> (cycles, lanes, ...), lane-major, the tail padded by repeating the last entry."""
    n = arr.shape[0]
    cycles = -(-n // lanes)
    pad = cycles * lanes - n
    if pad:
        arr = np.concatenate([arr, np.repeat(arr[-1:], pad, axis=0)])
    return arr.reshape(lanes, cycles, *arr.shape[1:]).swapaxes(0, 1)


# ---------------------------------------------------------------- compressed-operand MACs

def _mac_streams_compressed(rng, fa_fmt, fw_fmt, lanes, cycles, dot_len):
    """Per-lane streams of compressed LLM-like operands, dot products of ``dot_len`` along K."""
    g = fa_fmt.group_size
    xa = llm_like(rng, (lanes, cycles), fa_fmt.base_bits)
    xw = llm_like(rng, (lanes, cycles), fw_fmt.base_bits)
    a = G.compress(xa, fa_fmt, axis=1)
    w = G.compress(xw, fw_fmt.with_group(g), axis=1)
    t = np.arange(cycles)
    load = np.broadcast_to((t % dot_len) == 0, (lanes, cycles))
    en = rng.random((lanes, cycles)) < 0.9
    return dict(a=a.codes, fa=a.flags_per_element(), w=w.codes, fw=w.flags_per_element(), load=load, en=en)


def _exhaustive_compressed(fa_fmt, fw_fmt, lanes):
    grid = np.array(list(itertools.product(
        range(-fa_fmt.max_code, fa_fmt.max_code + 1), range(fa_fmt.max_flag + 1),
        range(-fw_fmt.max_code, fw_fmt.max_code + 1), range(fw_fmt.max_flag + 1))))
    # each combination once with load (acc = product), then again accumulated (load every 16 steps)
    n = grid.shape[0]
    load = np.concatenate([np.ones(n, bool), (np.arange(n) % 16) == 0])
    grid = np.concatenate([grid, grid[np.random.default_rng(7).permutation(n)]])
    g2, ld = _lanes(grid, lanes), _lanes(load, lanes)
    en = np.ones(ld.shape, bool)           # tail padding repeats the last step; the golden model sees it too
    return dict(a=g2[..., 0].T, fa=g2[..., 1].T, w=g2[..., 2].T, fw=g2[..., 3].T, load=ld.T, en=en.T)


def _corners_compressed(fa_fmt, fw_fmt, lanes, cycles=1500):
    """Maximum products: every lane accumulates +-max << max_flags until the 32-bit accumulator wraps."""
    c = np.full((lanes, cycles), fa_fmt.max_code)
    sign = np.where(np.arange(lanes)[:, None] % 2 == 0, 1, -1)
    return dict(a=c * sign, fa=np.full_like(c, fa_fmt.max_flag), w=np.full_like(c, fw_fmt.max_code),
                fw=np.full_like(c, fw_fmt.max_flag), load=np.zeros_like(c, bool) | (np.arange(cycles) == 0),
                en=np.ones_like(c, bool))


def compressed_mac_stimulus(fa_fmt, fw_fmt, lanes, cycles, seed, reset_at=None):
    """Exhaustive + corner + random segments for the decompression-free and conventional MACs."""
    rng = np.random.default_rng(seed)
    segs = [_exhaustive_compressed(fa_fmt, fw_fmt, lanes), _corners_compressed(fa_fmt, fw_fmt, lanes),
            _mac_streams_compressed(rng, fa_fmt, fw_fmt, lanes, cycles, dot_len=int(rng.integers(16, 512)))]
    s = {k: np.concatenate([seg[k] for seg in segs], axis=1) for k in segs[0]}
    prod = G.dfree_product(s["a"], s["fa"], s["w"], s["fw"], fa_fmt, fw_fmt)
    return _finish(s, {"a": signmag(s["a"], fa_fmt), "w": signmag(s["w"], fw_fmt), "fa": s["fa"], "fw": s["fw"]},
                   reset_at, {"prod": prod}, G.accumulate)


def _finish(s, drive, reset_at, operands, golden):
    """Golden accumulator per lane (with an optional reset pulse), transposed to (cycles, lanes).

    ``operands``: {name: (lanes, cycles)} what the golden model consumes per lane, called as
    ``golden(*operands, load, en)``. A reset pulse at cycle r drops the operand registered at r and the
    accumulation of r - 1 and clears acc: modelled as zero operands loaded at r - 1 (the empty sum: 0, or +0 for
    FP16) and no update at r."""
    en, load = s["en"].copy(), s["load"].copy()
    ops = [np.array(v, copy=True) for v in operands.values()]
    rst = np.zeros(en.shape[1], np.int64)
    if reset_at is not None:
        r = reset_at % en.shape[1]          # negative: counted from the end
        rst[r] = 1
        for v in ops:
            v[:, r - 1] = 0
        load[:, r - 1], en[:, r - 1], en[:, r] = True, True, False
    acc = np.stack([golden(*(v[i] for v in ops), load[i], en[i]) for i in range(en.shape[0])])
    out = {f"in_{k}": np.asarray(v).T.astype(np.int64) for k, v in drive.items()}
    out.update({"in_en": s["en"].T.astype(np.int64), "in_load": s["load"].T.astype(np.int64),
                "expect_acc": acc.T.astype(np.int64), "rst": rst})
    return out


# ---------------------------------------------------------------- INT MACs on base data

def int_mac_stimulus(a_bits, b_bits, lanes, cycles, seed, reset_at=None):
    rng = np.random.default_rng(seed)
    segs = []
    if a_bits <= 8 and b_bits <= 8:                          # exhaustive over every operand pair
        grid = np.array(list(itertools.product(range(-(1 << (a_bits - 1)), 1 << (a_bits - 1)),
                                               range(-(1 << (b_bits - 1)), 1 << (b_bits - 1)))))
        g2 = _lanes(grid, lanes)
        segs.append(dict(a=g2[..., 0].T, b=g2[..., 1].T, load=np.ones(g2.shape[:2], bool).T,
                         en=np.ones(g2.shape[:2], bool).T))
    amin, bmin = -(1 << (a_bits - 1)), -(1 << (b_bits - 1))
    corner = np.full((lanes, 1200), 1)
    segs.append(dict(a=corner * amin, b=corner * bmin, load=np.zeros_like(corner, bool) | (np.arange(1200) == 0),
                     en=np.ones_like(corner, bool)))                        # most negative squared: wraps
    segs.append(dict(a=llm_like(rng, (lanes, cycles), a_bits), b=llm_like(rng, (lanes, cycles), b_bits),
                     load=np.broadcast_to(np.arange(cycles) % int(rng.integers(16, 512)) == 0, (lanes, cycles)),
                     en=rng.random((lanes, cycles)) < 0.9))
    s = {k: np.concatenate([seg[k] for seg in segs], axis=1) for k in segs[0]}
    prod = G.int_product(s["a"], s["b"], a_bits, b_bits)
    return _finish(s, {"a": s["a"], "b": s["b"]}, reset_at, {"prod": prod}, G.accumulate)


# ---------------------------------------------------------------- SDR encoder and decoder

def encoder_corner_groups(fmt):
    """All zero, most negative value, all maximum, all -1, and an all-ones kept field (the overflow guard)."""
    g, hi = fmt.group_size, (1 << (fmt.base_bits - 1)) - 1
    corners = np.array([[0] * g, [-(hi + 1)] + [1] * (g - 1), [hi] * g, [-1] * g,
                        [(1 << fmt.mag_bits) - 1 << 4] + [0x8] * (g - 1)])
    return np.clip(corners, -(hi + 1), hi)


def encoder_stimulus(fmt, lanes, cycles, seed, groups=None):
    """Groups per cycle: razoring-point sweeps, corners and LLM-like data (or the given real ``groups``);
    expected codes and flags."""
    if groups is not None:
        return _encoder_expect(fmt, np.asarray(groups), lanes)
    rng = np.random.default_rng(seed)
    g, B = fmt.group_size, fmt.base_bits
    groups = [llm_like(rng, (lanes * cycles, g), B)]
    groups.append(encoder_corner_groups(fmt))
    # every value against every razoring point: element 0 is the leader 2**p, the rest sweep |x| < 2**(p+1)
    for p in range(-1, B - 1):
        span = np.arange(-((1 << (p + 1)) - 1), 1 << (p + 1))
        span = span[: (span.size // (g - 1)) * (g - 1)] if span.size >= g - 1 else np.resize(span, g - 1)
        rows = span.reshape(-1, g - 1)
        lead = np.full((rows.shape[0], 1), (1 << p) if p >= 0 else 0)
        groups.append(np.concatenate([lead, rows], axis=1))
    return _encoder_expect(fmt, np.concatenate(groups), lanes)


def _encoder_expect(fmt, x, lanes):
    t = G.compress(x, fmt, axis=1)
    xs = _lanes(x, lanes)
    cs = _lanes(signmag(t.codes, fmt), lanes)
    fs = _lanes(t.flags[:, 0], lanes)
    return {"in_x": xs, "in_i_valid": np.ones(xs.shape[:2], np.int64), "expect_codes": cs,
            "expect_flag": fs, "expect_o_valid": np.ones(xs.shape[:2], np.int64)}


def decoder_stimulus(fmt, lanes):
    grid = np.array(list(itertools.product(range(-fmt.max_code, fmt.max_code + 1), range(fmt.max_flag + 1))))
    t = G.SDRTensor(grid[:, :1].astype(np.int8), grid[:, 1:].astype(np.uint8), fmt.with_group(1), 1)
    value = G.decompress(t)[:, 0]
    g2, v2 = _lanes(grid, lanes), _lanes(value, lanes)
    return {"in_code": signmag(g2[..., 0], fmt), "in_flag": g2[..., 1], "expect_value": v2}


# ---------------------------------------------------------------- FP16 MAC

FP16_SPECIALS = np.array([
    0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x0401, 0x3C00, 0xBC00, 0x3BFF, 0x3C01,
    0x7BFF, 0xFBFF, 0x7BFE, 0x5BFF, 0x2000, 0x1400, 0x0C00, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x7FFF,
    0x3555, 0xB555, 0x0200, 0x0002, 0x6400, 0xE400, 0x1C00,
], dtype=np.uint16)


def _fp16_segments(rng, lanes, cycles, real=None):
    segs = []
    # every pair of special values, with load, then again accumulated onto each other
    grid = np.array(list(itertools.product(FP16_SPECIALS, FP16_SPECIALS)), dtype=np.uint16)
    n = grid.shape[0]
    grid = np.concatenate([grid, grid[rng.permutation(n)]])
    load = np.concatenate([np.ones(n, bool), (np.arange(n) % 4) == 0])
    g2, ld = _lanes(grid, lanes), _lanes(load, lanes)
    segs.append(dict(a=g2[..., 0].T, b=g2[..., 1].T, load=ld.T, en=np.ones(ld.shape, bool).T))
    # uniformly random bit patterns (every exponent, NaN/Inf included), short dot products
    bits = rng.integers(0, 1 << 16, (2, lanes, cycles), dtype=np.uint16)
    segs.append(dict(a=bits[0], b=bits[1], load=rng.random((lanes, cycles)) < 0.25,
                     en=rng.random((lanes, cycles)) < 0.9))
    # near-cancellation: x*y, then -x*y' with y' one ulp away (exact zeros, subnormal and tiny results)
    x = rng.integers(0, 0x7C00, (lanes, cycles // 2), dtype=np.uint16)
    y = rng.integers(0, 0x7C00, (lanes, cycles // 2), dtype=np.uint16)
    y2 = (y.astype(np.int32) + rng.integers(-1, 2, y.shape)).clip(0, 0x7BFF).astype(np.uint16)
    a = np.stack([x, x ^ 0x8000], axis=-1).reshape(lanes, -1)
    b = np.stack([y, y2], axis=-1).reshape(lanes, -1)
    ld = np.zeros(a.shape, bool)
    ld[:, ::2] = True
    segs.append(dict(a=a, b=b, load=ld, en=np.ones(a.shape, bool)))
    # LLM-like magnitudes (activations ~ N(0, 1) with outliers, weights ~ 0.02), long dot products
    if real is None:
        ra = G.fp16.from_float(rng.standard_normal((lanes, cycles)) * np.where(
            rng.random((lanes, cycles)) < 0.01, 30, 1))
        rb = G.fp16.from_float(rng.standard_normal((lanes, cycles)) * 0.02)
        real = (ra, rb, np.broadcast_to(np.arange(cycles) % 256 == 0, ra.shape))
    ra, rb, rl = real
    segs.append(dict(a=ra, b=rb, load=rl, en=np.ones(ra.shape, bool)))
    return segs


def fp16_mac_stimulus(lanes, cycles, seed, reset_at=None, real=None):
    """Specials x specials, random bit patterns, near-cancellation and LLM-like dot products; with ``real``
    = (a, b, load) from ``trace_fp16_operands``, only those real dot products."""
    rng = np.random.default_rng(seed)
    if real is not None:
        segs = [dict(a=real[0], b=real[1], load=real[2], en=np.ones(real[0].shape, bool))]
    else:
        segs = _fp16_segments(rng, lanes, cycles)
    s = {k: np.concatenate([np.asarray(seg[k]) for seg in segs], axis=1) for k in segs[0]}
    a, b = s["a"].astype(np.uint16), s["b"].astype(np.uint16)
    return _finish(s, {"a": a, "b": b}, reset_at, {"a": a, "b": b}, G.fp16.fp16_mac_stream)


# ---------------------------------------------------------------- real LLM traces (llmstudy.traces)

def _dot_streams(rng, lanes, cycles, sources):
    """Per lane, whole dot products drawn at random from ``sources`` (list of (rows_a, rows_b, ...) per item,
    as a function returning the K-long operand streams) until ``cycles`` steps; ``load`` marks each start."""
    lanes_out = []
    for _ in range(lanes):
        parts, n = [], 0
        while n < cycles:
            src = sources[int(rng.integers(len(sources)))]
            streams = src(rng)
            k = len(streams[0])
            ld = np.zeros(k, bool)
            ld[0] = True
            parts.append((*streams, ld))
            n += k
        lanes_out.append([np.concatenate(col)[:cycles] for col in zip(*parts)])
    return [np.stack(col) for col in zip(*lanes_out)]


def trace_compressed_mac_stimulus(ts, fa_fmt, fw_fmt, lanes, cycles, seed):
    """Real dot products: a token's activations x a weight row, both razored along K by the golden model.

    Also checks, on the pytest side, that the golden accumulator at the end of each dot product equals the
    golden GEMM (``gemm_dfree``) the accuracy study's arithmetic stands for."""
    rng = np.random.default_rng(seed)
    sources, gemms = [], []
    for a, w in ts.linear_pairs():
        ca = G.compress(a.data, fa_fmt, axis=1)
        cw = G.compress(w.data, fw_fmt.with_group(fa_fmt.group_size), axis=1)
        fa, fw = ca.flags_per_element(), cw.flags_per_element()

        def src(r, ca=ca, cw=cw, fa=fa, fw=fw):
            t, o = int(r.integers(ca.shape[0])), int(r.integers(cw.shape[0]))
            return ca.codes[t], fa[t], cw.codes[o], fw[o]
        sources.append(src)
        gemms.append((ca, cw))
    a, fa, w, fw, load = _dot_streams(rng, lanes, cycles, sources)
    s = dict(a=a, fa=fa, w=w, fw=fw, load=load, en=np.ones_like(load))
    prod = G.dfree_product(a, fa, w, fw, fa_fmt, fw_fmt)
    # cross-check one whole dot product per source against the golden GEMM
    for ca, cw in gemms:
        ref = G.gemm_dfree(G.SDRTensor(ca.codes[:1], ca.flags[:1], ca.fmt, 1),
                           G.SDRTensor(cw.codes[:1], cw.flags[:1], cw.fmt, 1))[0, 0]
        p = G.dfree_product(ca.codes[0], ca.flags_per_element()[0], cw.codes[0], cw.flags_per_element()[0],
                            fa_fmt, fw_fmt)
        assert int(G.accumulate(p)[-1]) == int(ref), "golden MAC stream and golden GEMM disagree"
    return _finish(s, {"a": signmag(a, fa_fmt), "w": signmag(w, fw_fmt), "fa": fa, "fw": fw}, None, {"prod": prod},
                   G.accumulate)


def _row_pairs(a, w):
    """A dot-product source: a random row of ``a`` against a random row of ``w``."""
    def src(r):
        return a[int(r.integers(a.shape[0]))], w[int(r.integers(w.shape[0]))]
    return src


def _int_mac_on(sources, lanes, cycles, seed, a_bits, b_bits):
    a, b, load = _dot_streams(np.random.default_rng(seed), lanes, cycles, sources)
    s = dict(a=a, b=b, load=load, en=np.ones_like(load))
    return _finish(s, {"a": a, "b": b}, None, {"prod": G.int_product(a, b, a_bits, b_bits)}, G.accumulate)


def trace_int16x8_stimulus(ts, lanes, cycles, seed):
    """Real W8A16 dot products on base integers (the INT 16x8 MAC's job)."""
    return _int_mac_on([_row_pairs(a.data, w.data) for a, w in ts.linear_pairs()], lanes, cycles, seed, 16, 8)


def trace_int8x8_stimulus(ts, lanes, cycles, seed):
    """Real Q . K dot products on KV8 integers (per head, grouped-query heads mapped to their KV head)."""
    sources = []
    for layer in ts.layers:
        q, k = ts.tensors[f"layer{layer:02d}.query"].data, ts.tensors[f"layer{layer:02d}.key"].data
        per_kv = q.shape[0] // k.shape[0]

        def src(r, q=q, k=k, per_kv=per_kv):
            h, t = int(r.integers(q.shape[0])), int(r.integers(q.shape[1]))
            return q[h, t], k[h // per_kv, int(r.integers(t + 1))]      # a causal (query, key) pair
        sources.append(src)
    return _int_mac_on(sources, lanes, cycles, seed, 8, 8)


def trace_fp16_operands(ts, lanes, cycles, seed):
    """Real activations x weights as binary16 (the dequantized W8A16 values), for the FP16 MAC."""
    sources = [_row_pairs(G.fp16.from_float(a.dequantized()), G.fp16.from_float(w.dequantized()))
               for a, w in ts.linear_pairs()]
    return _dot_streams(np.random.default_rng(seed), lanes, cycles, sources)


def trace_encoder_groups(ts, fmt, count, seed):
    """``count`` real groups of ``fmt.group_size`` base integers of the kind ``fmt`` compresses."""
    rng = np.random.default_rng(seed)
    kinds = ("input",) if fmt.base_bits == 16 else ("weight", "query", "key", "value")
    rows = []
    for t in (t for kind in kinds for t in ts.select(kind=kind)):
        x = t.data.reshape(-1, t.data.shape[-1])
        k = x.shape[1] - x.shape[1] % fmt.group_size          # groups stay inside a row (576 = 4.5 x 128)
        if k:
            rows.append(x[:, :k].reshape(-1, fmt.group_size))
    allg = np.concatenate(rows)
    return allg[rng.choice(allg.shape[0], size=min(count, allg.shape[0]), replace=False)]
