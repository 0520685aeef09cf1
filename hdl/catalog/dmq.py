"""Dynamic max-scaled quantization (the paper's Sec. 4.2 baseline): quantizer and dot-product units."""


import numpy as np

import golden as G
import golden.dmq as GDMQ
from golden.streams import SyntheticSource, from_signmag, signmag

from ..dmq import DMQDotProductUnit, DMQEncoder
from ..unit import Unit, register
from .codecs import group_quantizer
from .common import DIVIDE, SCALE, en_gaps, headline, placed, product_grid, serves
from .dots import DOT_PARTS, dot_lanes, dot_table, every_pair_under_every_side, wrapping_corner

# the kinds of component `python -m hdl.export --custom` builds from this family
KINDS = {"dmq_encoder": DMQEncoder, "dot_dmq": DMQDotProductUnit}

# ---------------------------------------------------------------- dynamic max-scaled quantization (Sec. 4.2)

DMQ_A4, DMQ_W4 = GDMQ.A16_DMQ4, GDMQ.W8_DMQ4


def dmq_corner_groups(fmt):
    """All zero, the most negative value, all maximum, all -1, and for scales ``m`` from 1 to the largest
    (small ones, powers of two and their neighbours) a group led by ``m`` sweeping magnitudes ``0..m`` of both
    signs, so every rounding tie ``2*Q*mag = (2k-1)*m`` that exists for that ``m`` is hit."""
    g, hi = fmt.group_size, fmt.max_mag
    groups = [np.clip(np.array([[0] * g, [-(hi + 1)] + [1] * (g - 1), [hi] * g, [-1] * g]), -(hi + 1), hi)]
    if g > 1:
        ms = sorted({*range(1, 33), *(v for b in range(5, fmt.base_bits) for v in ((1 << b) - 1, 1 << b, (1 << b) + 1)),
                     14 * 7, 2 * fmt.qmax * 3} - {0})
        for mm in (v for v in ms if v <= hi):
            span = np.concatenate([np.arange(0, mm + 1), -np.arange(1, mm + 1)])
            if span.size > 4 * (g - 1):                        # large m: the ties and a sample, not every value
                q = fmt.qmax
                ties = [(2 * k - 1) * mm // (2 * q) + d for k in range(1, q + 1) for d in (0, 1)]
                span = np.unique(np.clip(np.array(ties + list(np.linspace(0, mm, 2 * (g - 1), dtype=np.int64))), 0, mm))
                span = np.concatenate([span, -span])
            rows = np.resize(span, (-(-span.size // (g - 1))) * (g - 1)).reshape(-1, g - 1)
            groups.append(np.concatenate([np.full((rows.shape[0], 1), mm), rows], axis=1))
    return np.concatenate(groups).astype(np.int64)


def dmq_encoder(name, fmt, role, label, doc):
    """``DMQEncoder`` of one group of ``fmt.group_size`` base integers of ``role`` per cycle."""
    return group_quantizer(name, DMQEncoder, {}, fmt, role, GDMQ.dmq_compress, "scale", dmq_corner_groups, label,
                           doc, parts={f"divide{i}": DIVIDE for i in range(fmt.group_size)})


def dot_dmq_unit(name, lanes, g, label, doc, table, encoder=None):
    """``DMQDotProductUnit``: INT4 codes of W8 and A16 base data, one scale multiplication per group and cycle."""
    sub = max(1, lanes // g)
    per = lanes // sub
    fa, fw = DMQ_A4.with_group(g), DMQ_W4.with_group(g)
    align = int(np.lcm(lanes, g))
    width = 40

    def golden(d):
        step = GDMQ.dot_dmq(from_signmag(d["a"], fa), d["sa"], from_signmag(d["w"], fw), d["sw"], fa, fw)
        return {"acc": G.accumulate(step, d["load"], d["en"], width=width)}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(("activation", "weight"), cycles * lanes, seed, align=align)
        a, w = GDMQ.dmq_compress(st["a"], fa), GDMQ.dmq_compress(st["b"], fw)
        n, load = dot_lanes(st, lanes)
        return {"a": signmag(a.codes, fa).reshape(n, lanes), "w": signmag(w.codes, fw).reshape(n, lanes),
                "sa": a.scales_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "sw": w.scales_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        rng = np.random.default_rng(seed)
        q = fa.qmax
        a, w, s1, s2 = every_pair_under_every_side(             # every code pair under every corner scale pair
            product_grid(range(-q, q + 1), range(-q, q + 1)),
            product_grid((0, 1, 2, 3, 1 << 14, fa.max_mag - 1, fa.max_mag), (0, 1, 2, 64, fw.max_mag - 1, fw.max_mag)),
            lanes, sub)
        n = len(a)
        exhaustive = {"a": signmag(a, fa), "w": signmag(w, fw), "sa": s1, "sw": s2, "en": np.ones(n, np.int64),
                      "load": np.ones(n, np.int64)}
        m = 600                                                 # all lanes at +-Q with the largest scales: wraps
        ca, cw, s1c, s2c, load = wrapping_corner(m, lanes, sub, q, q, fa.max_mag, fw.max_mag)
        corner = {"a": signmag(ca, fa), "w": signmag(cw, fw), "sa": s1c, "sw": s2c, "en": np.ones(m, np.int64),
                  "load": load}
        r = 400                                                 # random codes and scales, accumulated
        rand = {"a": signmag(rng.integers(-q, q + 1, (r, lanes)), fa),
                "w": signmag(rng.integers(-q, q + 1, (r, lanes)), fw),
                "sa": rng.integers(0, fa.max_mag + 1, (r, sub)), "sw": rng.integers(0, fw.max_mag + 1, (r, sub)),
                "en": np.ones(r, np.int64), "load": (np.arange(r) % 8 == 0).astype(np.int64)}
        return [exhaustive, corner, rand, en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed)]

    return Unit(name, DMQDotProductUnit, dict(lanes=lanes, group_size=g, acc_width=width),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts={**DOT_PARTS, "scales": SCALE, "scaler": SCALE}, per=lanes, bench_lanes=max(1, 64 // lanes),
                cycles_scale=0.25, flows=frozenset({"gate_level", "ecp5"}), encoder=encoder)


for _g in G.GROUP_SIZES:
    _u = serves(dmq_encoder(f"dmq_encoder_a16k4_g{_g}", DMQ_A4.with_group(_g), "activation",
                            f"DMQ A16 -> INT4, g={_g}", f"Dynamic absmax quantizer (DMQ), A16 -> INT4, group of {_g}"),
                f"DMQ W4A4 g{_g}")
    register(headline(_u) if _g == 16 else _u)
for _g in (8, 16):
    _u = dot_dmq_unit(f"dot16_dmq_w4a4_g{_g}", 16, _g, f"DMQ INT4 W4A4, g={_g}",
                      f"DMQ INT4 dot-product unit, 16 lanes, group {_g}: 3x3 products, a scale multiply per group",
                      dot_table(16, merged=True), encoder=f"dmq_encoder_a16k4_g{_g}")
    # the g = 16 unit also computes every larger group exactly (its per-step scale repeats): the frontier's stand-in
    _u = serves(_u, *(f"DMQ W4A4 g{g}" for g in G.GROUP_SIZES if g == _g or (_g == 16 and g > 16)))
    register(placed(headline(_u)) if _g == 16 else _u)
