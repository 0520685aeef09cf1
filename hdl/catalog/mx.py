"""Block floating-point dot-product units: MXFP4 and NVFP4 (``hdl.mx``, ``golden.mx``)."""

import numpy as np

from golden import mx as GMX
from golden.streams import SyntheticSource

from ..mx import NV_TS_FIELDS, BlockDotProductUnit, MXQuantizer, NVQuantizer
from ..unit import Unit, register
from .codecs import ENCODER_TABLE
from .common import FPADD, MUL, SCALE, en_gaps, headline, product_grid, serves
from .dots import TREE, dot_lanes, dot_table, every_pair_under_every_side

KINDS = {"dot_mx": BlockDotProductUnit, "mx_quantizer": MXQuantizer, "nv_quantizer": NVQuantizer}
MX_LANES = (4, 16, 32)
MX_PARTS = {"multipliers": MUL, "tree": TREE, "scale": SCALE, "accumulator": FPADD}

# corner scale codes: the extremes, around 1.0, the smallest normal (E4M3), NaN; every pair of them meets every
# E2M1 code pair (the random segment covers the scales between)
CORNER_SCALES = {"mxfp4": (0, 1, 64, 127, 128, 200, 254, 255),
                 "nvfp4": (0, 1, 8, 56, 57, 0x7D, 0x7E, 0x7F)}


def _cycle_scales(scales, lanes, block, n):
    """Per-cycle scale codes ``(n, S)`` from one row's block scales: a block of ``block >= lanes`` spans
    ``block / lanes`` cycles (its scale repeated), else each cycle holds ``lanes / block`` blocks."""
    s = np.asarray(scales, np.int64).reshape(-1)
    if block >= lanes:
        return s[(np.arange(n) * lanes) // block][:, None]
    return s.reshape(n, lanes // block)


def block_dot_unit(name, fmt, lanes, label, doc, table, encoder=None):
    """``BlockDotProductUnit``: MXFP4 or NVFP4 E2M1 lanes, block scales, FP32 accumulator."""
    bf = GMX.MXFP4 if fmt == "mxfp4" else GMX.NVFP4
    sub = max(1, lanes // bf.block)
    align = int(np.lcm(lanes, bf.block))
    top = 255 if fmt == "mxfp4" else 127

    def golden(d):
        return {"acc": GMX.dot_stream(d["a"], d["sa"], d["w"], d["sw"], bf, lanes, d["load"], d["en"]
                                      ).astype(np.int64)}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(("activation", "weight"), cycles * lanes, seed, align=align)
        n, load = dot_lanes(st, lanes)
        out = {"en": np.ones(n, np.int64), "load": load}
        for port, sport, x in (("a", "sa", st["a"] * st["a_scale"]), ("w", "sw", st["b"] * st["b_scale"])):
            x = x[:n * lanes].astype(np.float32)[None, :]
            ts = GMX.tensor_scale(np.abs(x).max()) if fmt == "nvfp4" else None
            t = GMX.quantize(x, bf, tensor_scale=ts)
            out[port] = t.codes.reshape(n, lanes).astype(np.int64)
            out[sport] = _cycle_scales(t.scales, lanes, bf.block, n)
        return out

    def segments(seed):
        rng = np.random.default_rng(seed)
        sides = product_grid(CORNER_SCALES[fmt], CORNER_SCALES[fmt])
        a, w, s1, s2 = every_pair_under_every_side(product_grid(range(16), range(16)), sides, lanes, sub)
        n = len(a)
        exhaustive = {"a": a, "w": w, "sa": s1, "sw": s2, "en": np.ones(n, np.int64), "load": np.ones(n, np.int64)}
        few = max(250, 4000 // lanes)                             # cycles of the accumulated and random segments
        perm = rng.permutation(n)[: min(n, few)]                  # again, accumulated over 8 cycles
        again = {k: v[perm] for k, v in exhaustive.items()}
        again["load"] = (np.arange(len(perm)) % 8 == 0).astype(np.int64)
        r = few                                                   # random codes and legal scales, accumulated
        mid = (100, 160) if fmt == "mxfp4" else (40, 90)          # most in a band where sums round, some anywhere
        scl = np.where(rng.random((r, sub)) < 0.8, rng.integers(*mid, (r, sub)), rng.integers(0, top + 1, (r, sub)))
        rand = {"a": rng.integers(0, 16, (r, lanes)), "w": rng.integers(0, 16, (r, lanes)),
                "sa": scl, "sw": np.where(rng.random((r, sub)) < 0.8, rng.integers(*mid, (r, sub)),
                                          rng.integers(0, top + 1, (r, sub))),
                "en": np.ones(r, np.int64), "load": (np.arange(r) % 16 == 0).astype(np.int64)}
        m = 64                                                    # largest products, largest scales: Inf, Inf - Inf
        big = top - 1
        sign = np.where((np.arange(m) // 8) % 2 == 0, 7, 15)[:, None]
        corner = {"a": np.broadcast_to(sign, (m, lanes)).copy(), "w": np.full((m, lanes), 7),
                  "sa": np.full((m, sub), big), "sw": np.full((m, sub), big - (np.arange(m)[:, None] % 3)),
                  "en": np.ones(m, np.int64), "load": (np.arange(m) % 32 == 0).astype(np.int64)}
        return [exhaustive, again, rand, corner, en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed)]

    return Unit(name, BlockDotProductUnit, dict(fmt=fmt, lanes=lanes),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=MX_PARTS, per=lanes, bench_lanes=max(1, 64 // lanes), cycles_scale=0.25,
                flows=frozenset({"gate_level", "ecp5"}), encoder=encoder)


for _L in MX_LANES:
    _t = dot_table(_L, merged=_L == 16)
    for _fmt, _bf, _native in (("mxfp4", GMX.MXFP4, "MXFP4 W4A4 g32"), ("nvfp4", GMX.NVFP4, "NVFP4 W4A4 g16")):
        _u = block_dot_unit(f"dot{_L}_{_fmt}", _fmt, _L, f"{_fmt.upper()}, FP32 acc.",
                            f"{_fmt.upper()} dot-product unit, {_L} lanes: E2M1 x E2M1 products, "
                            f"{'E8M0' if _fmt == 'mxfp4' else 'E4M3'} block scales (blocks of {_bf.block}), "
                            "FP32 accumulator", _t,
                            encoder="mx_quantizer_bf16_b32" if _fmt == "mxfp4" else "nv_quantizer_bf16_b16_pipe")
        if _L == 16:
            _u = headline(serves(_u, _native))
        register(_u)


# ---------------------------------------------------------------- the MXFP4 activation quantizer

def to_bf16(x):
    """BF16 bit patterns of ``x`` (float32, round to nearest even; NaN stays NaN)."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, np.float32))
    return np.where(nan, 0x7FC0, r).astype(np.int64)


def from_bf16(bits):
    return (np.asarray(bits, np.uint32) << 16).view(np.float32)


def mx_quantizer_corners(block, seed=0):
    """Corner blocks of BF16 patterns: every pattern (65,536, NaN and Inf included) in blocks of consecutive
    patterns; blocks with one element setting the largest exponent field F and the others 0..12 fields below it
    (every rounding band, subnormal results, flush to zero), for F at the bottom, the middle and the top of the
    range; E2M1 midpoints (ties) and the values just beside them under several scales; all-subnormal blocks;
    zeros and negative zeros."""
    rng = np.random.default_rng(seed)
    rows = [np.arange(1 << 16).reshape(-1, block)]
    for top in (1, 2, 3, 4, 10, 126, 127, 128, 200, 253, 254):
        n = 48
        fields = np.clip(top - rng.integers(0, 13, (n, block)), 0, 254)
        fields[:, 0] = top
        rows.append((rng.integers(0, 2, (n, block)) << 15) | (fields << 7) | rng.integers(0, 128, (n, block)))
    for scale in (0, 1, 60, 125, 127, 250):                        # midpoints x 2^(scale - 127), +- one BF16 step
        mids = np.array([.25, .75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, 7.0])
        vals = np.concatenate([mids, -mids]) * 2.0 ** (scale - 127)
        b = to_bf16(vals.astype(np.float32))
        b = np.concatenate([b, b + 1, b - 1])
        b = np.resize(b, (-(-b.size // (block - 1)), block - 1))
        head = np.full((b.shape[0], 1), to_bf16(np.float32(4.0 * 2.0 ** (scale - 127))))
        rows.append(np.concatenate([head, b], axis=1))
    rows.append(rng.integers(0, 128, (16, block)) | (rng.integers(0, 2, (16, block)) << 15))     # subnormals only
    rows.append(np.zeros((1, block), np.int64))
    rows.append(np.full((1, block), 0x8000))
    return np.concatenate(rows).astype(np.int64)


def mx_quantizer(name, block, label, doc):
    """``MXQuantizer``: one block of BF16 activations per cycle -> E2M1 codes and the E8M0 scale."""
    fmt = GMX.MXFP4.with_block(block)

    def golden(d):
        t = GMX.quantize(from_bf16(d["x"]), fmt)
        return {"codes": t.codes.astype(np.int64), "scale": t.scales[:, 0].astype(np.int64), "o_valid": d["i_valid"]}

    def stimulus(source, cycles, seed):
        x = source.groups("activation", block, cycles, seed)          # A16 integers: the real values times 2^-10
        b = to_bf16((x * 2.0 ** -10).astype(np.float32))
        return {"x": b, "i_valid": np.ones(len(b), np.int64)}

    def segments(seed):
        x = mx_quantizer_corners(block, seed)
        return [{"x": x, "i_valid": np.ones(len(x), np.int64)}]

    return Unit(name, MXQuantizer, dict(block=block), golden=golden, stimulus=stimulus, segments=segments, doc=doc,
                label=label, table=ENCODER_TABLE, rest="encoder", per=block, bench_lanes=8, cycles_scale=4 / block,
                flows=frozenset({"ice40", "gate_level"}))


register(headline(serves(mx_quantizer("mx_quantizer_bf16_b32", 32, "MXFP4 quantizer, BF16 -> E2M1, b=32",
                                      "MXFP4 activation quantizer: 32 BF16 values -> 32 E2M1 codes and one E8M0 "
                                      "scale per cycle"), "MXFP4 W4A4 g32")))


# ---------------------------------------------------------------- the NVFP4 activation quantizer

def _f32_bits(x):
    return np.asarray(x, np.float32).view(np.uint32).astype(np.int64)


def _f32(bits):
    return np.asarray(bits, np.uint32).view(np.float32)


def nv_scale_pair(ts):
    """The ``ts`` and ``inv_ts`` port words for a tensor scale: its FP32 bits and those of ``fp32(1 / ts)``."""
    t = np.asarray(ts, np.float32)
    return _f32_bits(t), _f32_bits(np.float32(1.0) / t)


NV_PATTERN_SCALES = (1.0, 3.0e-3, 2.0 ** -20, 2.0 ** 40 * 1.7)


def nv_every_pattern(block):
    """Every BF16 pattern (NaN and Inf included) in blocks of consecutive patterns, under each of
    ``NV_PATTERN_SCALES``: ``(x, ts)``, 16,384 blocks of 16 (tests/test_mx_hdl.py runs them)."""
    every = np.arange(1 << 16).reshape(-1, block)
    n = len(every)
    return np.tile(every, (len(NV_PATTERN_SCALES), 1)), np.repeat(np.float32(NV_PATTERN_SCALES), n)


def nv_quantizer_corners(block, seed=0):
    """Corner blocks and tensor scales ``(x, ts)``: every exponent field with both signs and 16 mantissas (NaN,
    Inf, subnormals, zeros) in blocks of consecutive patterns, the scales of ``NV_PATTERN_SCALES`` in turn; blocks
    whose ``amax / 6 / ts`` sits within a few FP32 ulps of every E4M3 value, of every E4M3 rounding midpoint (FP32
    rounding lands on the midpoint: ties) and of the clip limits; elements at E2M1 midpoints and their BF16
    neighbours under several block scales; the smallest and largest tensor scales taken."""
    rng = np.random.default_rng(seed)
    xs, tss = [], []

    def add(x, ts):
        x = np.asarray(x, np.int64).reshape(-1, block)
        xs.append(x)
        tss.append(np.broadcast_to(np.asarray(ts, np.float32), (len(x),)).astype(np.float32))

    mant = np.concatenate([[0, 1, 2, 3, 63, 64, 65, 127], rng.integers(4, 127, 8)])
    pats = ((np.arange(512)[:, None] << 7) | mant[None, :]).reshape(-1, block)     # sign, field, mantissa
    add(pats, np.resize(np.float32(NV_PATTERN_SCALES), len(pats)))
    # amax / 6 / ts near E4M3 values (+-1 FP32 ulp), midpoints (+-2) and around the clips
    e4 = GMX.e4m3_decode(np.arange(0x08, 0x7F)).astype(np.float64)
    groups = ((e4, 1), ((e4[:-1] + e4[1:]) / 2, 2), (np.array([2.0 ** -7, 2.0 ** -6 * 0.75, 464.0, 480.0]), 2))
    for targets, k in groups:
        offsets = np.arange(-k, k + 1, dtype=np.int32)
        n = len(targets) * len(offsets)
        amax = from_bf16(to_bf16(rng.uniform(0.25, 64.0, n).astype(np.float32))).astype(np.float32)
        ts = ((amax / np.float32(6)) / np.repeat(targets, len(offsets)).astype(np.float32)).astype(np.float32)
        ts = (ts.view(np.int32) + np.tile(offsets, len(targets))).view(np.float32)
        rows = np.clip(rng.normal(0, 1, (n, block)).astype(np.float32) * (amax[:, None] / np.float32(4)),
                       -amax[:, None], amax[:, None])
        rows[:, 0] = amax * np.where(rng.random(n) < 0.5, 1, -1)
        add(to_bf16(rows), ts)
    # E2M1 midpoints times the block's scale, and the BF16 neighbours, under scales of several binades
    mids = np.array([.25, .75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, 7.0])
    for code in (0x08, 0x20, 0x38, 0x3B, 0x4F, 0x66, 0x7E):
        for ts in (1.0, 7.7e-4):
            s = float(GMX.e4m3_decode(np.array([code]))[0]) * ts
            b = to_bf16((np.concatenate([mids, -mids]) * s).astype(np.float32))
            b = np.resize(np.concatenate([b, b + 1, b - 1]), (4, block - 1))
            add(np.concatenate([np.full((4, 1), to_bf16(np.float32(6.0 * s))), b], axis=1), ts)
    for ts in (2.0 ** -100, float(np.nextafter(np.float32(2.0 ** 100), np.float32(0)))):
        add(rng.integers(0, 1 << 16, (16, block)), ts)
        add(to_bf16(rng.normal(0, 1, (8, block)).astype(np.float32)), ts)
    return np.concatenate(xs), np.concatenate(tss)


def nv_quantizer(name, block, label, doc, pipeline=False, corner_stride=1):
    """``NVQuantizer``: one block of BF16 activations per cycle and the tensor's FP32 scale (and its reciprocal)
    -> E2M1 codes and the E4M3 block scale. ``corner_stride``: every how many corner blocks the unit's own
    segments keep (the combinational variant shares every line of the registered one's datapath and takes a
    quarter, to keep the in-process run short)."""
    fmt = GMX.NVFP4.with_block(block)

    def golden(d):
        # an all-zero block (the idle input) is quantized to zeros under the smallest scale whatever ts is: the
        # tensor-scale ports are checked on the other blocks only
        live = (np.asarray(d["x"]) != 0).any(axis=1)
        ts = np.where(live, _f32(d["ts"]), np.float32(1.0))
        fields = (np.asarray(d["ts"]) >> 23) & 0xFF
        bad = live & ((np.asarray(d["ts"]) >> 31 != 0) | (fields < NV_TS_FIELDS[0]) | (fields > NV_TS_FIELDS[1]))
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"the NVFP4 quantizer takes tensor scales 2^-100 <= ts < 2^100, not {float(ts[j])!r} "
                             f"(cycle {j})")
        inv = _f32(d["inv_ts"])
        wrong = live & (inv != np.float32(1.0) / ts)
        if wrong.any():
            j = int(np.argmax(wrong))
            want = float(np.float32(1.0) / ts[j])
            raise ValueError(f"inv_ts must be fp32(1 / ts) = {want!r}, not {float(inv[j])!r} (cycle {j})")
        x = from_bf16(d["x"])
        codes = np.zeros(x.shape, np.int64)
        scales = np.zeros(len(x), np.int64)
        for t in np.unique(ts):
            rows = ts == t
            q = GMX.quantize(x[rows], fmt, tensor_scale=float(t))
            codes[rows], scales[rows] = q.codes, q.scales[:, 0]
        valid = np.asarray(d["i_valid"]) != 0                        # idle cycles: zero outputs
        return {"codes": np.where(valid[:, None], codes, 0), "scale": np.where(valid, scales, 0),
                "o_valid": d["i_valid"]}

    def stimulus(source, cycles, seed):
        x = source.groups("activation", block, cycles, seed)          # A16 integers: the real values times 2^-10
        b = to_bf16((x * 2.0 ** -10).astype(np.float32))
        ts, inv = nv_scale_pair(GMX.tensor_scale(np.abs(from_bf16(b)).max()))
        n = len(b)
        return {"x": b, "ts": np.full(n, ts), "inv_ts": np.full(n, inv), "i_valid": np.ones(n, np.int64)}

    def segments(seed):
        x, ts = nv_quantizer_corners(block, seed)
        x, ts = x[::corner_stride], ts[::corner_stride]
        t, inv = nv_scale_pair(ts)
        return [{"x": x, "ts": t, "inv_ts": inv, "i_valid": np.ones(len(x), np.int64)}]

    return Unit(name, NVQuantizer, dict(block=block, pipeline=pipeline), golden=golden, stimulus=stimulus,
                segments=segments, doc=doc, label=label, table=ENCODER_TABLE, rest="encoder", per=block,
                bench_lanes=8, cycles_scale=4 / block, flows=frozenset({"ice40", "gate_level"}),
                icarus_budget=(320, 128, 128))                   # Icarus: about 30 blocks a second


# the registered variant serves the NVFP4 scheme: one register between the block scale and the 16 element
# products stops the scale path's glitches from rippling through the multipliers (the combinational one switches
# 45x more in timed gate-level simulation than without delays)
register(nv_quantizer("nv_quantizer_bf16_b16", 16, "NVFP4 quantizer, BF16 -> E2M1, b=16, comb.",
                      "NVFP4 activation quantizer: 16 BF16 values and the tensor scale -> 16 E2M1 codes and one E4M3 "
                      "scale per cycle, combinational", corner_stride=4))
register(headline(serves(nv_quantizer("nv_quantizer_bf16_b16_pipe", 16, "NVFP4 quantizer, BF16 -> E2M1, b=16",
                                      "NVFP4 activation quantizer: 16 BF16 values and the tensor scale -> 16 E2M1 "
                                      "codes and one E4M3 scale per cycle, registered after the block scale",
                                      pipeline=True), "NVFP4 W4A4 g16")))
