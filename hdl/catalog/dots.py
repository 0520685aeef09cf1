"""Dot-product unit families (the engine): QRazor and INT L-lane units."""


import numpy as np

import golden as G
from golden.quant import narrow
from golden.streams import BASE_BITS, SyntheticSource, from_signmag, signmag

from ..dot import DotProductUnit, IntDotProductUnit
from ..unit import Table, Unit, register
from .common import A4, A8, MUL, SHIFT, W4, en_gaps, headline, placed, product_grid, serves

# the kinds of component `python -m hdl.export --custom` builds from this family
KINDS = {"dot": DotProductUnit, "dot_int": IntDotProductUnit}

# ---------------------------------------------------------------- dot-product units (the engine)

TREE, MERGED = "adder tree", "multiply-add, merged"
DOT_PARTS = {"multipliers": MUL, "tree": TREE, "shifter": SHIFT, "dot": MERGED}
DOT_LANES = (4, 8, 16, 32)


def dot_table(lanes, merged=False):
    i16, i8 = f"dot{lanes}_int16x8", f"dot{lanes}_int8x8"
    base = ((i16, i16 + "_merged"), (i8, i8 + "_merged")) if merged else (i16, i8)
    return Table(f"dot{lanes}", f"Dot-product units, L = {lanes} lanes", 20 + lanes, baselines=base, per="lane",
                 note="Three-stage pipeline: operand registers; multipliers + adder tree into a registered partial "
                      "sum; shift once per group (QRazor) and the 32-bit accumulator. Per-lane figures divide by L. "
                      "INT baselines run the same linear-layer dot products as QRazor (INT 8x8 on activations "
                      "narrowed to 8 bits).")


def dot_lanes(st, lanes):
    n = len(st["load"]) // lanes
    return n, st["load"].reshape(n, lanes)[:, 0].astype(np.int64)


def every_pair_under_every_side(codes, sides, lanes, sub):
    """Dot-unit segments of grouped operands: every code pair of ``codes`` ((n, 2) grid) in some lane, under every
    side-value pair of ``sides`` (flags or scales; sub-groups of one cycle take different pairs). Returns the
    (cycles, L) codes ``a``, ``w`` and the (cycles, S) side values of each operand."""
    rows = -(-len(codes) // lanes)
    codes = np.resize(codes, (rows * lanes, 2)).reshape(rows, lanes, 2)
    a, w, s1, s2 = [], [], [], []
    for k in range(len(sides)):
        a.append(codes[:, :, 0])
        w.append(codes[:, :, 1])
        pair = sides[(k + np.arange(sub)) % len(sides)]
        s1.append(np.broadcast_to(pair[:, 0], (rows, sub)))
        s2.append(np.broadcast_to(pair[:, 1], (rows, sub)))
    return tuple(np.concatenate(x) for x in (a, w, s1, s2))


def wrapping_corner(m, lanes, sub, code_a, code_w, side_a, side_w):
    """``m`` cycles with every lane at ``+-code_a x code_w`` under the largest side values (half positive, half
    negative, reloaded once): the accumulator wraps both ways."""
    sign = np.where(np.arange(m) < m // 2, 1, -1)[:, None]
    return (np.broadcast_to(code_a * sign, (m, lanes)), np.full((m, lanes), code_w), np.full((m, sub), side_a),
            np.full((m, sub), side_w), (np.arange(m) % (m // 2) == 0).astype(np.int64))


def dot_dfree_unit(name, lanes, g, fa, fw, label, doc, table, encoder=None, dsp_pairs=False):
    """QRazor ``DotProductUnit``: ``lanes`` razored products per cycle, ``S = max(1, lanes/g)`` shifts per cycle."""
    sub = max(1, lanes // g)
    per = lanes // sub
    fa, fw = fa.with_group(g), fw.with_group(g)
    align = int(np.lcm(lanes, g))

    def golden(d):
        step = G.dot_dfree(from_signmag(d["a"], fa), d["fa"], from_signmag(d["w"], fw), d["fw"], fa, fw)
        return {"acc": G.accumulate(step, d["load"], d["en"])}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(("activation", "weight"), cycles * lanes, seed, align=align)
        a, w = G.compress(st["a"], fa), G.compress(st["b"], fw)
        n, load = dot_lanes(st, lanes)
        return {"a": signmag(a.codes, fa).reshape(n, lanes), "w": signmag(w.codes, fw).reshape(n, lanes),
                "fa": a.flags_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "fw": w.flags_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        rng = np.random.default_rng(seed)
        a, w, f1, f2 = every_pair_under_every_side(
            product_grid(range(-fa.max_code, fa.max_code + 1), range(-fw.max_code, fw.max_code + 1)),
            product_grid(range(fa.max_flag + 1), range(fw.max_flag + 1)), lanes, sub)
        n = len(a)
        exhaustive = {"a": signmag(a, fa), "w": signmag(w, fw), "fa": f1, "fw": f2, "en": np.ones(n, np.int64),
                      "load": np.ones(n, np.int64)}
        perm = rng.permutation(n)[: min(n, 1000)]               # again, accumulated over 8 cycles
        again = {k: v[perm] for k, v in exhaustive.items()}
        again["load"] = (np.arange(len(perm)) % 8 == 0).astype(np.int64)
        m = 1200                                                # all lanes at +-max << max flags: wraps
        ca, cw, f1, f2, load = wrapping_corner(m, lanes, sub, fa.max_code, fw.max_code, fa.max_flag, fw.max_flag)
        corner = {"a": signmag(ca, fa), "w": signmag(cw, fw), "fa": f1, "fw": f2, "en": np.ones(m, np.int64),
                  "load": load}
        return [exhaustive, again, corner, en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed)]

    params = dict(lanes=lanes, group_size=g, a_base=fa.base_bits, a_kept=fa.kept_bits, w_base=fw.base_bits,
                  w_kept=fw.kept_bits, **({"dsp_pairs": True} if dsp_pairs else {}))
    return Unit(name, DotProductUnit, params,
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=DOT_PARTS, per=lanes, bench_lanes=max(1, 64 // lanes), cycles_scale=0.25,
                flows=frozenset({"gate_level", "ecp5"}), encoder=encoder)


def dot_int_unit(name, lanes, a_bits, b_bits, label, doc, table, style="tree", pair=("activation", "weight")):
    """INT ``IntDotProductUnit`` baseline on the role ``pair``'s dot products, narrowed to its widths."""
    ra, rb = pair

    def golden(d):
        return {"acc": G.accumulate(G.dot_int(d["a"], d["b"], a_bits, b_bits), d["load"], d["en"])}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(pair, cycles * lanes, seed, align=lanes)
        n, load = dot_lanes(st, lanes)
        return {"a": narrow(st["a"], BASE_BITS[ra], a_bits).reshape(n, lanes),
                "b": narrow(st["b"], BASE_BITS[rb], b_bits).reshape(n, lanes),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        segs = []
        amin, bmin = -(1 << (a_bits - 1)), -(1 << (b_bits - 1))
        if a_bits <= 8 and b_bits <= 8:                                     # every operand pair in some lane
            grid = product_grid(range(amin, -amin), range(bmin, -bmin))
            rows = -(-len(grid) // lanes)
            grid = np.resize(grid, (rows * lanes, 2)).reshape(rows, lanes, 2)
            segs.append({"a": grid[:, :, 0], "b": grid[:, :, 1], "en": np.ones(rows, np.int64),
                         "load": (np.arange(rows) % 4 == 0).astype(np.int64)})
        m = 1200                                                            # most negative squared: wraps
        segs.append({"a": np.full((m, lanes), amin), "b": np.full((m, lanes), bmin), "en": np.ones(m, np.int64),
                     "load": (np.arange(m) == 0).astype(np.int64)})
        segs.append(en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed))
        return segs

    return Unit(name, IntDotProductUnit, dict(lanes=lanes, a_bits=a_bits, b_bits=b_bits, style=style),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=DOT_PARTS, per=lanes, bench_lanes=max(1, 64 // lanes), cycles_scale=0.25,
                flows=frozenset({"gate_level", "ecp5"}))


def _larger(scheme, g):
    """``scheme`` at group ``g`` and, for g = 16, at every larger group size: a g = 16 unit at L = 16 computes those
    exactly (the same flags for two or more steps), so it stands in where no unit of that group size is built."""
    return [f"{scheme} g{x}" for x in G.GROUP_SIZES if x == g or (g == 16 and x > 16)]
_PLACED = {"dot4_w4a4", "dot4_w4a4_dsp2", "dot4_int16x8", "dot4_int8x8", "dot16_w4a4", "dot16_w4a4_dsp2",
           "dot16_int8x8"}                             # make pnr's default dot-product units


def _register(unit, mark=lambda u: u, schemes=()):
    unit = mark(serves(unit, *schemes) if schemes else unit)
    register(placed(unit) if unit.name in _PLACED else unit)


for _L in DOT_LANES:
    _t = dot_table(_L, merged=_L == 16)
    _mark = headline if _L == 16 else (lambda u: u)
    _at16 = _L == 16
    _register(dot_dfree_unit(f"dot{_L}_w4a4", _L, 16, A4, W4, "QRazor W4A4, g=16",
                             f"QRazor W4A4 dot-product unit, {_L} lanes, group 16: 3x3 products, one shift per group",
                             _t, encoder="sdr_encoder_a16k4_g16"), _mark, _larger("W4A4", 16) if _at16 else ())
    _register(dot_dfree_unit(f"dot{_L}_w4a8", _L, 16, A8, W4, "QRazor W4A8, g=16",
                             f"QRazor W4A8 dot-product unit, {_L} lanes, group 16: 7x3 products, one shift per group",
                             _t, encoder="sdr_encoder_a16k8_g16"), _mark, _larger("W4A8", 16) if _at16 else ())
    if _L in (4, 16):
        _register(dot_dfree_unit(f"dot{_L}_w4a4_dsp2", _L, 16, A4, W4, "QRazor W4A4, g=16, 2 lanes per multiplier",
                                 f"QRazor W4A4 dot-product unit, {_L} lanes, group 16, lane pairs packed into one "
                                 "12x12 multiplier (one FPGA DSP block per two lanes)", _t,
                                 encoder="sdr_encoder_a16k4_g16", dsp_pairs=True))
    _register(dot_int_unit(f"dot{_L}_int16x8", _L, 16, 8, "INT 16x8, tree", f"INT 16x8 dot-product unit, {_L} lanes",
                           _t), _mark, ("W8A16",) if _at16 else ())
    _register(dot_int_unit(f"dot{_L}_int8x8", _L, 8, 8, "INT 8x8, tree", f"INT 8x8 dot-product unit, {_L} lanes", _t),
              _mark, ("W8A8",) if _at16 else ())
    if _at16:
        for _g in (8, 32, 128):
            _register(dot_dfree_unit(f"dot16_w4a4_g{_g}", 16, _g, A4, W4, f"QRazor W4A4, g={_g}",
                                     f"QRazor W4A4 dot-product unit, 16 lanes, group {_g}", _t,
                                     encoder=f"sdr_encoder_a16k4_g{_g}"), schemes=(f"W4A4 g{_g}",))
        _register(dot_dfree_unit("dot16_w4a8_g8", 16, 8, A8, W4, "QRazor W4A8, g=8",
                                 "QRazor W4A8 dot-product unit, 16 lanes, group 8: two shifts per cycle", _t,
                                 encoder="sdr_encoder_a16k8_g8"), schemes=("W4A8 g8",))
        _register(dot_int_unit("dot16_int16x8_merged", 16, 16, 8, "INT 16x8, merged",
                               "INT 16x8 dot-product unit, 16 lanes, one sum of products", _t, style="merged"),
                  schemes=("W8A16",))
        _register(dot_int_unit("dot16_int8x8_merged", 16, 8, 8, "INT 8x8, merged",
                               "INT 8x8 dot-product unit, 16 lanes, one sum of products", _t, style="merged"),
                  schemes=("W8A8",))
