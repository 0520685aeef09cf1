"""Block floating-point dot-product units: MXFP4 and NVFP4 (``hdl.mx``, ``golden.mx``)."""

import numpy as np

from golden import mx as GMX
from golden.streams import SyntheticSource

from ..mx import BlockDotProductUnit
from ..unit import Unit, register
from .common import FPADD, MUL, SCALE, en_gaps, headline, product_grid, serves
from .dots import TREE, dot_lanes, dot_table, every_pair_under_every_side

KINDS = {"dot_mx": BlockDotProductUnit}
MX_LANES = (4, 16, 32)
MX_PARTS = {"multipliers": MUL, "tree": TREE, "scale": SCALE, "accumulator": FPADD}

# corner scale codes: the extremes, around 1.0, the smallest normal (E4M3), NaN
CORNER_SCALES = {"mxfp4": (0, 1, 2, 64, 126, 127, 128, 200, 253, 254, 255),
                 "nvfp4": (0, 1, 7, 8, 9, 48, 56, 57, 100, 0x7D, 0x7E, 0x7F)}


def _cycle_scales(scales, lanes, block, n):
    """Per-cycle scale codes ``(n, S)`` from one row's block scales: a block of ``block >= lanes`` spans
    ``block / lanes`` cycles (its scale repeated), else each cycle holds ``lanes / block`` blocks."""
    s = np.asarray(scales, np.int64).reshape(-1)
    if block >= lanes:
        return s[(np.arange(n) * lanes) // block][:, None]
    return s.reshape(n, lanes // block)


def block_dot_unit(name, fmt, lanes, label, doc, table):
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
        perm = rng.permutation(n)[: min(n, 1500)]                 # again, accumulated over 8 cycles
        again = {k: v[perm] for k, v in exhaustive.items()}
        again["load"] = (np.arange(len(perm)) % 8 == 0).astype(np.int64)
        r = 1500                                                  # random codes and legal scales, accumulated
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
                flows=frozenset({"gate_level", "ecp5"}))


for _L in MX_LANES:
    _t = dot_table(_L, merged=_L == 16)
    for _fmt, _bf, _native in (("mxfp4", GMX.MXFP4, "MXFP4 W4A4 g32"), ("nvfp4", GMX.NVFP4, "NVFP4 W4A4 g16")):
        _u = block_dot_unit(f"dot{_L}_{_fmt}", _fmt, _L, f"{_fmt.upper()}, FP32 acc.",
                            f"{_fmt.upper()} dot-product unit, {_L} lanes: E2M1 x E2M1 products, "
                            f"{'E8M0' if _fmt == 'mxfp4' else 'E4M3'} block scales (blocks of {_bf.block}), "
                            "FP32 accumulator", _t)
        if _L == 16:
            _u = headline(serves(_u, _native))
        register(_u)
