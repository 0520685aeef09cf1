"""The project's units, one descriptor each (``hdl.unit.Unit``), built by one function per unit family.

A family function states, for every unit of its kind: the component and parameters, the golden function (the
unit's own: the conventional MAC is checked against ``conventional_product``, the decompression-free one
against ``dfree_product``), how a data source's streams become port values, the exhaustive and corner
segments, the report table and the area groups. Importing this module registers the units.
"""

import dataclasses
import itertools

import numpy as np

import golden as G
import golden.dmq as GDMQ
from golden.quant import narrow
from golden.streams import BASE_BITS, SyntheticSource, check_pair, from_signmag, signmag

from .fp16_mac import FP16MAC
from .macs import ConventionalMAC, DecompressionFreeMAC, IntMAC
from .sdr_decoder import SDRDecoder
from .sdr_encoder import SDREncoder
from .unit import Table, Unit, register

__all__ = ["MAC_TABLE", "ENCODER_TABLE", "DECODER_TABLE", "PAPER_TABLE5", "compressed_mac", "int_mac", "fp16_mac",
           "encoder", "decoder", "narrow", "accumulating"]

MAC_TABLE = Table("mac", "MAC units (like the paper's Table 5)", 10, baselines=("mac_int16x8", "mac_int8x8"))
ENCODER_TABLE = Table("encoder", "SDR encoders, one group per cycle", 30, per="element",
                      note="Combinational: one group per cycle; per-element figures divide by the group size.")
DECODER_TABLE = Table("decoder", "SDR decoders", 40)

# Area groups of the paper's Table 5 (a submodule instance name -> its group).
MUL, SHIFT, FPADD, REGS = "multiplier", "shifters", "FP align/add/normalize/round", "registers + accumulator"
SCALE, DIVIDE = "scale multipliers", "dividers"
MAC_PARTS = {"multiplier": MUL, "shifter": SHIFT, "decoder_a": SHIFT, "decoder_w": SHIFT, "fma": FPADD}

# The paper's Table 5 (Synopsys DC, industrial LP 65 nm): area um^2 by group, total, power mW.
PAPER_TABLE5 = {
    "mac_fp16": {MUL: 3042.2, SHIFT: 0.0, REGS: 1127.1, "total": 4169.3, "power": 0.4620},
    "mac_int16x8": {MUL: 1052.2, SHIFT: 0.0, REGS: 631.0, "total": 1683.2, "power": 0.1239},
    "mac_int8x8": {MUL: 559.4, SHIFT: 0.0, REGS: 431.0, "total": 990.4, "power": 0.0811},
    "mac_dfree_w4a4": {MUL: 112.0, SHIFT: 156.5, REGS: 385.3, "total": 653.8, "power": 0.0546},
}


# ---------------------------------------------------------------- shared stimulus pieces

def accumulating(product, width=G.ACC_WIDTH):
    """Golden function of an accumulating unit from its per-cycle ``product(drive)``."""
    def golden(d):
        return {"acc": G.accumulate(product(d), d["load"], d["en"], width=width)}
    return golden


def _en_gaps(drive, seed, p=0.1):
    """The same streams with ``en`` low on a random ``p`` of the cycles (stalls inside dot products)."""
    out = dict(drive)
    out["en"] = (np.random.default_rng(seed).random(len(drive["en"])) >= p).astype(np.int64)
    return out


def _grid(*ranges):
    return np.array(list(itertools.product(*ranges)), np.int64)


def _load_then_accumulate(n, every=16):
    """Each grid row once with load (acc = product), then the rows again accumulated (load every ``every``)."""
    return np.concatenate([np.ones(n, np.int64), (np.arange(n) % every == 0).astype(np.int64)])


# ---------------------------------------------------------------- compressed-operand MACs

def _compressed_ports(fa, fw, g):
    def stimulus(source, cycles, seed):
        st = source.dot_stream(("activation", "weight"), cycles, seed, align=g)
        a, w = G.compress(st["a"], fa.with_group(g)), G.compress(st["b"], fw.with_group(g))
        return {"a": signmag(a.codes, fa), "fa": a.flags_per_element(), "w": signmag(w.codes, fw),
                "fw": w.flags_per_element(), "en": np.ones(len(st["load"]), np.int64), "load": st["load"]}
    return stimulus


def compressed_mac(name, component, fa, fw, label, doc, g=16, paper=None):
    """A MAC on razored operands (``DecompressionFreeMAC`` or ``ConventionalMAC``), checked against its own
    product function. ``fa``/``fw``: the activation and weight SDR formats; ``g``: the group size of its data."""
    product_fn = G.dfree_product if component is DecompressionFreeMAC else G.conventional_product

    def product(d):
        return product_fn(from_signmag(d["a"], fa), d["fa"], from_signmag(d["w"], fw), d["fw"], fa, fw)

    stimulus = _compressed_ports(fa, fw, g)

    def segments(seed):
        grid = _grid(range(-fa.max_code, fa.max_code + 1), range(fa.max_flag + 1),
                     range(-fw.max_code, fw.max_code + 1), range(fw.max_flag + 1))
        grid = np.concatenate([grid, grid[np.random.default_rng(seed).permutation(len(grid))]])
        exhaustive = {"a": signmag(grid[:, 0], fa), "fa": grid[:, 1], "w": signmag(grid[:, 2], fw), "fw": grid[:, 3],
                      "en": np.ones(len(grid), np.int64), "load": _load_then_accumulate(len(grid) // 2)}
        n = 1500                               # +-max << max flags until the 32-bit accumulator wraps, both signs
        sign = np.where(np.arange(n) < n // 2, 1, -1)
        corner = {"a": signmag(fa.max_code * sign, fa), "fa": np.full(n, fa.max_flag),
                  "w": signmag(np.full(n, fw.max_code), fw), "fw": np.full(n, fw.max_flag),
                  "en": np.ones(n, np.int64), "load": (np.arange(n) % (n // 2) == 0).astype(np.int64)}
        return [exhaustive, corner, _en_gaps(stimulus(SyntheticSource(), 2000, seed + 1), seed)]

    return Unit(name, component, dict(a_base=fa.base_bits, a_kept=fa.kept_bits, w_base=fw.base_bits,
                                      w_kept=fw.kept_bits),
                golden=accumulating(product), stimulus=stimulus, segments=segments, doc=doc, label=label,
                table=MAC_TABLE, parts=MAC_PARTS, paper=paper)


# ---------------------------------------------------------------- INT MACs on base data

def int_mac(name, a_bits, b_bits, pair, label, doc, paper=None, table=MAC_TABLE):
    """Two's complement ``a_bits x b_bits`` MAC fed with the dot products of the role ``pair`` (narrowed to its
    widths when the roles are wider)."""
    ra, rb = pair

    def product(d):
        return G.int_product(d["a"], d["b"], a_bits, b_bits)

    def stimulus(source, cycles, seed):
        st = source.dot_stream(pair, cycles, seed)
        return {"a": narrow(st["a"], BASE_BITS[ra], a_bits), "b": narrow(st["b"], BASE_BITS[rb], b_bits),
                "en": np.ones(len(st["load"]), np.int64), "load": st["load"]}

    def segments(seed):
        segs = []
        amin, bmin = -(1 << (a_bits - 1)), -(1 << (b_bits - 1))
        if a_bits <= 8 and b_bits <= 8:                                     # every operand pair
            grid = _grid(range(amin, -amin), range(bmin, -bmin))
            grid = np.concatenate([grid, grid[np.random.default_rng(seed).permutation(len(grid))]])
            segs.append({"a": grid[:, 0], "b": grid[:, 1], "en": np.ones(len(grid), np.int64),
                         "load": _load_then_accumulate(len(grid) // 2)})
        n = 1200                                                            # most negative squared: wraps
        segs.append({"a": np.full(n, amin), "b": np.full(n, bmin), "en": np.ones(n, np.int64),
                     "load": (np.arange(n) == 0).astype(np.int64)})
        segs.append(_en_gaps(stimulus(SyntheticSource(), 2000, seed + 1), seed))
        return segs

    return Unit(name, IntMAC, dict(a_bits=a_bits, b_bits=b_bits), golden=accumulating(product), stimulus=stimulus,
                segments=segments, doc=doc, label=label, table=table, parts=MAC_PARTS, paper=paper)


# ---------------------------------------------------------------- FP16 MAC

FP16_SPECIALS = np.array([
    0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x0401, 0x3C00, 0xBC00, 0x3BFF, 0x3C01,
    0x7BFF, 0xFBFF, 0x7BFE, 0x5BFF, 0x2000, 0x1400, 0x0C00, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x7FFF,
    0x3555, 0xB555, 0x0200, 0x0002, 0x6400, 0xE400, 0x1C00,
], dtype=np.int64)


def fp16_mac(name, label, doc, paper=None):
    """binary16 fused MAC fed with the dequantized activation x weight dot products as binary16."""
    def golden(d):
        return {"acc": G.fp16.fp16_mac_stream(d["a"].astype(np.uint16), d["b"].astype(np.uint16),
                                              d["load"].astype(bool), d["en"].astype(bool)).astype(np.int64)}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(("activation", "weight"), cycles, seed)
        return {"a": G.fp16.from_float(st["a"] * st["a_scale"]).astype(np.int64),
                "b": G.fp16.from_float(st["b"] * st["b_scale"]).astype(np.int64),
                "en": np.ones(len(st["load"]), np.int64), "load": st["load"]}

    def segments(seed):
        rng = np.random.default_rng(seed)
        grid = _grid(FP16_SPECIALS, FP16_SPECIALS)                  # every pair of specials, loaded, then chained
        grid = np.concatenate([grid, grid[rng.permutation(len(grid))]])
        n = len(grid) // 2
        specials = {"a": grid[:, 0], "b": grid[:, 1], "en": np.ones(2 * n, np.int64),
                    "load": np.concatenate([np.ones(n, np.int64), (np.arange(n) % 4 == 0).astype(np.int64)])}
        m = 4000                                                    # random bit patterns, every exponent
        bits = {"a": rng.integers(0, 1 << 16, m), "b": rng.integers(0, 1 << 16, m),
                "en": (rng.random(m) < 0.9).astype(np.int64), "load": (rng.random(m) < 0.25).astype(np.int64)}
        x, y = rng.integers(0, 0x7C00, m // 2), rng.integers(0, 0x7C00, m // 2)
        y2 = np.clip(y + rng.integers(-1, 2, y.shape), 0, 0x7BFF)   # x*y then -x*y' (y' one ulp away)
        cancel = {"a": np.stack([x, x ^ 0x8000], 1).reshape(-1), "b": np.stack([y, y2], 1).reshape(-1),
                  "en": np.ones(m, np.int64), "load": (np.arange(m) % 2 == 0).astype(np.int64)}
        return [specials, bits, cancel]

    return Unit(name, FP16MAC, {}, golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label,
                table=MAC_TABLE, parts=MAC_PARTS, paper=paper, cycles_scale=0.5)


# ---------------------------------------------------------------- SDR encoder and decoder

def encoder_corner_groups(fmt):
    """All zero, most negative value, all maximum, all -1, an all-ones kept field (the overflow guard), and
    every value against every razoring point (element 0 the leader ``2**p``, the rest sweeping ``|x| < 2**(p+1)``)."""
    g, hi = fmt.group_size, (1 << (fmt.base_bits - 1)) - 1
    groups = [np.clip(np.array([[0] * g, [-(hi + 1)] + [1] * (g - 1), [hi] * g, [-1] * g,
                                [(1 << fmt.mag_bits) - 1 << 4] + [0x8] * (g - 1)]), -(hi + 1), hi)]
    if g > 1:
        for p in range(-1, fmt.base_bits - 1):
            span = np.arange(-((1 << (p + 1)) - 1), 1 << (p + 1))
            span = span[: (span.size // (g - 1)) * (g - 1)] if span.size >= g - 1 else np.resize(span, g - 1)
            rows = span.reshape(-1, g - 1)
            groups.append(np.concatenate([np.full((rows.shape[0], 1), (1 << p) if p >= 0 else 0), rows], axis=1))
    return np.concatenate(groups).astype(np.int64)


def encoder(name, fmt, role, label, doc, pipeline=False):
    """SDR encoder of one group of ``fmt.group_size`` base integers of ``role`` per cycle."""
    g = fmt.group_size

    def golden(d):
        t = G.compress(d["x"], fmt, axis=1)
        return {"codes": signmag(t.codes, fmt), "flag": t.flags[:, 0].astype(np.int64), "o_valid": d["i_valid"]}

    def stimulus(source, cycles, seed):
        x = source.groups(role, g, cycles, seed)
        return {"x": x, "i_valid": np.ones(len(x), np.int64)}

    def segments(seed):
        x = encoder_corner_groups(fmt)
        return [{"x": x, "i_valid": np.ones(len(x), np.int64)}]

    return Unit(name, SDREncoder, dict(group_size=g, base_bits=fmt.base_bits, kept_bits=fmt.kept_bits,
                                       pipeline=pipeline),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=ENCODER_TABLE,
                rest="encoder", per=g, bench_lanes=8, cycles_scale=4 / g, flows=frozenset({"ice40", "gate_level"}))


def decoder(name, fmt, role, label, doc, g=16):
    """SDR decoder of one razored element and its group's flag."""
    def golden(d):
        t = G.SDRTensor(from_signmag(d["code"], fmt)[:, None].astype(np.int8), d["flag"][:, None].astype(np.uint8),
                        fmt.with_group(1), 1)
        return {"value": G.decompress(t)[:, 0].astype(np.int64)}

    def stimulus(source, cycles, seed):
        x = source.groups(role, g, -(-cycles // g), seed).reshape(-1)
        t = G.compress(x, fmt.with_group(g))
        return {"code": signmag(t.codes, fmt), "flag": t.flags_per_element().astype(np.int64)}

    def segments(seed):
        grid = _grid(range(-fmt.max_code, fmt.max_code + 1), range(fmt.max_flag + 1))
        return [{"code": signmag(grid[:, 0], fmt), "flag": grid[:, 1]}]

    return Unit(name, SDRDecoder, dict(base_bits=fmt.base_bits, kept_bits=fmt.kept_bits), golden=golden,
                stimulus=stimulus, segments=segments, doc=doc, label=label, table=DECODER_TABLE,
                parts={"shifter": SHIFT}, rest="sign and negate", bench_lanes=8, flows=frozenset({"ice40"}))


# ---------------------------------------------------------------- the registry

A4, A8, W4 = G.A16_K4, G.A16_K8, G.W8_K4


def headline(unit):
    """``unit`` marked as a headline unit: ``make synth`` covers it (the paper's Table 5 MACs, the g = 16 encoders and
    decoders, the L = 16 dot-product units and their baselines, the 4 x 4 tiles); ``make synth-all`` covers all."""
    return dataclasses.replace(unit, headline=True)


register(headline(fp16_mac("mac_fp16", "FP16 (fused)",
                  "FP16 MAC: binary16 fused multiply-add into an FP16 accumulator", paper=PAPER_TABLE5["mac_fp16"])))
register(headline(int_mac("mac_int16x8", 16, 8, ("activation", "weight"), "INT 16x8",
                          "INT 16x8 MAC on base data (W8A16)", paper=PAPER_TABLE5["mac_int16x8"])))
register(headline(int_mac("mac_int8x8", 8, 8, ("query", "key"), "INT 8x8", "INT 8x8 MAC (on KV8 query . key data)",
                          paper=PAPER_TABLE5["mac_int8x8"])))
register(headline(compressed_mac("mac_conv_w4a4", ConventionalMAC, A4, W4, "QRazor conv. (dec+16x8)",
                        "QRazor conventional MAC, W4A4: two SDR decoders + INT 16x8 multiplier")))
register(headline(compressed_mac("mac_dfree_w4a4", DecompressionFreeMAC, A4, W4, "QRazor W4A4 dfree",
                        "QRazor decompression-free MAC, W4A4 (A16/W8 bases): 3x3 multiplier + shifter by fa+fw (0..16)",
                        paper=PAPER_TABLE5["mac_dfree_w4a4"])))
register(headline(compressed_mac("mac_dfree_w4a8", DecompressionFreeMAC, A8, W4, "QRazor W4A8 dfree",
                        "QRazor decompression-free MAC, W4A8: 7x3 multiplier + shifter by fa+fw (0..12)")))
register(headline(decoder("sdr_decoder_a16k4", A4, "activation", "A16 -> 4 bits", "SDR decoder, A16 -> 4 bits")))
register(headline(decoder("sdr_decoder_w8k4", W4, "weight", "W8 -> 4 bits", "SDR decoder, W8 -> 4 bits")))
for _g in G.GROUP_SIZES:
    _u = encoder(f"sdr_encoder_a16k4_g{_g}", A4.with_group(_g), "activation", f"A16 -> 4 bits, g={_g}",
                 f"SDR encoder, A16 -> 4 bits, group of {_g}")
    register(headline(_u) if _g == 16 else _u)
register(encoder("sdr_encoder_a16k4_g16_pipe", A4, "activation", "A16 -> 4 bits, g=16, registered",
                 "SDR encoder, A16 -> 4 bits, registered outputs", pipeline=True))
for _g in G.GROUP_SIZES:
    _u = encoder(f"sdr_encoder_a16k8_g{_g}", A8.with_group(_g), "activation", f"A16 -> 8 bits, g={_g}",
                 f"SDR encoder, A16 -> 8 bits (W4A8), group of {_g}")
    register(headline(_u) if _g == 16 else _u)
register(headline(encoder("sdr_encoder_w8k4_g16", W4, "weight", "W8 -> 4 bits, g=16", "SDR encoder, W8/KV8 -> 4 bits")))



# ---------------------------------------------------------------- dot-product units (the engine)

TREE, MERGED = "adder tree", "multiply-add, merged"
SHARED_COLUMNS = (1, 4, 16, 64)          # dot-product columns sharing one activation encoder, in the report
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


def _dot_lanes(st, lanes):
    n = len(st["load"]) // lanes
    return n, st["load"].reshape(n, lanes)[:, 0].astype(np.int64)


def _every_pair_under_every_side(codes, sides, lanes, sub):
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


def _wrapping_corner(m, lanes, sub, code_a, code_w, side_a, side_w):
    """``m`` cycles with every lane at ``+-code_a x code_w`` under the largest side values (half positive, half
    negative, reloaded once): the accumulator wraps both ways."""
    sign = np.where(np.arange(m) < m // 2, 1, -1)[:, None]
    return (np.broadcast_to(code_a * sign, (m, lanes)), np.full((m, lanes), code_w), np.full((m, sub), side_a),
            np.full((m, sub), side_w), (np.arange(m) % (m // 2) == 0).astype(np.int64))


def dot_dfree_unit(name, lanes, g, fa, fw, label, doc, table, encoder=None, dsp_pairs=False):
    """QRazor ``DotProductUnit``: ``lanes`` razored products per cycle, ``S = max(1, lanes/g)`` shifts per cycle."""
    from .dot import DotProductUnit
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
        n, load = _dot_lanes(st, lanes)
        return {"a": signmag(a.codes, fa).reshape(n, lanes), "w": signmag(w.codes, fw).reshape(n, lanes),
                "fa": a.flags_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "fw": w.flags_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        rng = np.random.default_rng(seed)
        a, w, f1, f2 = _every_pair_under_every_side(
            _grid(range(-fa.max_code, fa.max_code + 1), range(-fw.max_code, fw.max_code + 1)),
            _grid(range(fa.max_flag + 1), range(fw.max_flag + 1)), lanes, sub)
        n = len(a)
        exhaustive = {"a": signmag(a, fa), "w": signmag(w, fw), "fa": f1, "fw": f2, "en": np.ones(n, np.int64),
                      "load": np.ones(n, np.int64)}
        perm = rng.permutation(n)[: min(n, 1000)]               # again, accumulated over 8 cycles
        again = {k: v[perm] for k, v in exhaustive.items()}
        again["load"] = (np.arange(len(perm)) % 8 == 0).astype(np.int64)
        m = 1200                                                # all lanes at +-max << max flags: wraps
        ca, cw, f1, f2, load = _wrapping_corner(m, lanes, sub, fa.max_code, fw.max_code, fa.max_flag, fw.max_flag)
        corner = {"a": signmag(ca, fa), "w": signmag(cw, fw), "fa": f1, "fw": f2, "en": np.ones(m, np.int64),
                  "load": load}
        return [exhaustive, again, corner, _en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed)]

    params = dict(lanes=lanes, group_size=g, a_base=fa.base_bits, a_kept=fa.kept_bits, w_base=fw.base_bits,
                  w_kept=fw.kept_bits, **({"dsp_pairs": True} if dsp_pairs else {}))
    return Unit(name, DotProductUnit, params,
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=DOT_PARTS, per=lanes, bench_lanes=max(1, 64 // lanes), cycles_scale=0.25,
                flows=frozenset({"gate_level", "ecp5"}), encoder=encoder)


def dot_int_unit(name, lanes, a_bits, b_bits, label, doc, table, style="tree", pair=("activation", "weight")):
    """INT ``IntDotProductUnit`` baseline on the role ``pair``'s dot products, narrowed to its widths."""
    from .dot import IntDotProductUnit
    ra, rb = pair

    def golden(d):
        return {"acc": G.accumulate(G.dot_int(d["a"], d["b"], a_bits, b_bits), d["load"], d["en"])}

    def stimulus(source, cycles, seed):
        st = source.dot_stream(pair, cycles * lanes, seed, align=lanes)
        n, load = _dot_lanes(st, lanes)
        return {"a": narrow(st["a"], BASE_BITS[ra], a_bits).reshape(n, lanes),
                "b": narrow(st["b"], BASE_BITS[rb], b_bits).reshape(n, lanes),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        segs = []
        amin, bmin = -(1 << (a_bits - 1)), -(1 << (b_bits - 1))
        if a_bits <= 8 and b_bits <= 8:                                     # every operand pair in some lane
            grid = _grid(range(amin, -amin), range(bmin, -bmin))
            rows = -(-len(grid) // lanes)
            grid = np.resize(grid, (rows * lanes, 2)).reshape(rows, lanes, 2)
            segs.append({"a": grid[:, :, 0], "b": grid[:, :, 1], "en": np.ones(rows, np.int64),
                         "load": (np.arange(rows) % 4 == 0).astype(np.int64)})
        m = 1200                                                            # most negative squared: wraps
        segs.append({"a": np.full((m, lanes), amin), "b": np.full((m, lanes), bmin), "en": np.ones(m, np.int64),
                     "load": (np.arange(m) == 0).astype(np.int64)})
        segs.append(_en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed))
        return segs

    return Unit(name, IntDotProductUnit, dict(lanes=lanes, a_bits=a_bits, b_bits=b_bits, style=style),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=DOT_PARTS, per=lanes, bench_lanes=max(1, 64 // lanes), cycles_scale=0.25,
                flows=frozenset({"gate_level", "ecp5"}))


for _L in DOT_LANES:
    _t = dot_table(_L, merged=_L == 16)
    _mark = headline if _L == 16 else (lambda u: u)
    register(_mark(dot_dfree_unit(f"dot{_L}_w4a4", _L, 16, A4, W4, "QRazor W4A4, g=16",
                            f"QRazor W4A4 dot-product unit, {_L} lanes, group 16: 3x3 products, one shift per group",
                            _t, encoder="sdr_encoder_a16k4_g16")))
    register(_mark(dot_dfree_unit(f"dot{_L}_w4a8", _L, 16, A8, W4, "QRazor W4A8, g=16",
                            f"QRazor W4A8 dot-product unit, {_L} lanes, group 16: 7x3 products, one shift per group",
                            _t, encoder="sdr_encoder_a16k8_g16")))
    if _L in (4, 16):
        register(dot_dfree_unit(f"dot{_L}_w4a4_dsp2", _L, 16, A4, W4, "QRazor W4A4, g=16, 2 lanes per multiplier",
                                f"QRazor W4A4 dot-product unit, {_L} lanes, group 16, lane pairs packed into one "
                                "12x12 multiplier (one FPGA DSP block per two lanes)", _t,
                                encoder="sdr_encoder_a16k4_g16", dsp_pairs=True))
    register(_mark(dot_int_unit(f"dot{_L}_int16x8", _L, 16, 8, "INT 16x8, tree",
                                f"INT 16x8 dot-product unit, {_L} lanes", _t)))
    register(_mark(dot_int_unit(f"dot{_L}_int8x8", _L, 8, 8, "INT 8x8, tree",
                                f"INT 8x8 dot-product unit, {_L} lanes", _t)))
    if _L == 16:
        for _g in (8, 32, 128):
            register(dot_dfree_unit(f"dot16_w4a4_g{_g}", 16, _g, A4, W4, f"QRazor W4A4, g={_g}",
                                    f"QRazor W4A4 dot-product unit, 16 lanes, group {_g}", _t,
                                    encoder=f"sdr_encoder_a16k4_g{_g}"))
        register(dot_dfree_unit("dot16_w4a8_g8", 16, 8, A8, W4, "QRazor W4A8, g=8",
                                "QRazor W4A8 dot-product unit, 16 lanes, group 8: two shifts per cycle", _t,
                                encoder="sdr_encoder_a16k8_g8"))
        register(dot_int_unit("dot16_int16x8_merged", 16, 16, 8, "INT 16x8, merged",
                              "INT 16x8 dot-product unit, 16 lanes, one sum of products", _t, style="merged"))
        register(dot_int_unit("dot16_int8x8_merged", 16, 8, 8, "INT 8x8, merged",
                              "INT 8x8 dot-product unit, 16 lanes, one sum of products", _t, style="merged"))



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
    from .dmq import DMQEncoder
    g = fmt.group_size

    def golden(d):
        t = GDMQ.dmq_compress(d["x"], fmt, axis=1)
        return {"codes": signmag(t.codes, fmt), "scale": t.scales[:, 0].astype(np.int64), "o_valid": d["i_valid"]}

    def stimulus(source, cycles, seed):
        x = source.groups(role, g, cycles, seed)
        return {"x": x, "i_valid": np.ones(len(x), np.int64)}

    def segments(seed):
        x = dmq_corner_groups(fmt)
        return [{"x": x, "i_valid": np.ones(len(x), np.int64)}]

    return Unit(name, DMQEncoder, dict(group_size=g, base_bits=fmt.base_bits, kept_bits=fmt.kept_bits),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=ENCODER_TABLE,
                parts={f"divide{i}": DIVIDE for i in range(g)}, rest="encoder", per=g, bench_lanes=8,
                cycles_scale=4 / g, flows=frozenset({"ice40", "gate_level"}))


def dot_dmq_unit(name, lanes, g, label, doc, table, encoder=None):
    """``DMQDotProductUnit``: INT4 codes of W8 and A16 base data, one scale multiplication per group and cycle."""
    from .dmq import DMQDotProductUnit
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
        n, load = _dot_lanes(st, lanes)
        return {"a": signmag(a.codes, fa).reshape(n, lanes), "w": signmag(w.codes, fw).reshape(n, lanes),
                "sa": a.scales_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "sw": w.scales_per_element().reshape(n, sub, per)[:, :, 0].astype(np.int64),
                "en": np.ones(n, np.int64), "load": load}

    def segments(seed):
        rng = np.random.default_rng(seed)
        q = fa.qmax
        a, w, s1, s2 = _every_pair_under_every_side(             # every code pair under every corner scale pair
            _grid(range(-q, q + 1), range(-q, q + 1)),
            _grid((0, 1, 2, 3, 1 << 14, fa.max_mag - 1, fa.max_mag), (0, 1, 2, 64, fw.max_mag - 1, fw.max_mag)),
            lanes, sub)
        n = len(a)
        exhaustive = {"a": signmag(a, fa), "w": signmag(w, fw), "sa": s1, "sw": s2, "en": np.ones(n, np.int64),
                      "load": np.ones(n, np.int64)}
        m = 600                                                 # all lanes at +-Q with the largest scales: wraps
        ca, cw, s1c, s2c, load = _wrapping_corner(m, lanes, sub, q, q, fa.max_mag, fw.max_mag)
        corner = {"a": signmag(ca, fa), "w": signmag(cw, fw), "sa": s1c, "sw": s2c, "en": np.ones(m, np.int64),
                  "load": load}
        r = 400                                                 # random codes and scales, accumulated
        rand = {"a": signmag(rng.integers(-q, q + 1, (r, lanes)), fa),
                "w": signmag(rng.integers(-q, q + 1, (r, lanes)), fw),
                "sa": rng.integers(0, fa.max_mag + 1, (r, sub)), "sw": rng.integers(0, fw.max_mag + 1, (r, sub)),
                "en": np.ones(r, np.int64), "load": (np.arange(r) % 8 == 0).astype(np.int64)}
        return [exhaustive, corner, rand, _en_gaps(stimulus(SyntheticSource(), 400, seed + 1), seed)]

    return Unit(name, DMQDotProductUnit, dict(lanes=lanes, group_size=g, acc_width=width),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts={**DOT_PARTS, "scales": SCALE, "scaler": SCALE}, per=lanes, bench_lanes=max(1, 64 // lanes),
                cycles_scale=0.25, flows=frozenset({"gate_level", "ecp5"}), encoder=encoder)


for _g in G.GROUP_SIZES:
    _u = dmq_encoder(f"dmq_encoder_a16k4_g{_g}", DMQ_A4.with_group(_g), "activation",
                     f"DMQ A16 -> INT4, g={_g}", f"Dynamic absmax quantizer (DMQ), A16 -> INT4, group of {_g}")
    register(headline(_u) if _g == 16 else _u)
for _g in (8, 16):
    _u = dot_dmq_unit(f"dot16_dmq_w4a4_g{_g}", 16, _g, f"DMQ INT4 W4A4, g={_g}",
                      f"DMQ INT4 dot-product unit, 16 lanes, group {_g}: 3x3 products, a scale multiply per group",
                      dot_table(16, merged=True), encoder=f"dmq_encoder_a16k4_g{_g}")
    register(headline(_u) if _g == 16 else _u)

# ---------------------------------------------------------------- GEMM tiles (stream units)

TILE_TABLE = Table("tile", "GEMM tiles (R x C dot-product units, streams)", 60, per="lane",
                   note="Stream units: a job is one R x C output block over the whole reduction; per-lane figures "
                        "divide by R x C x L. Throughput at f_max assumes a beat every cycle (jobs of T >= R beats).")
TILE_PARTS = {"multipliers": MUL, "tree": TREE, "shifter": SHIFT, "accumulator": "accumulators",
              "results": "result buffer"}
TILE_PAIRS = (("activation", "weight"), ("query", "key"))


def tile_formats(params):
    """The activation and weight ``SDRFormat`` of a tile descriptor's parameters."""
    g = params["group_size"]
    return (G.SDRFormat(params["a_base"], params["a_kept"], g), G.SDRFormat(params["w_base"], params["w_kept"], g))


def tile_beats(unit, jobs):
    """``[(a SDRTensor, w SDRTensor)]`` (one R x C block each, or whole GEMMs) -> the tile's input beats
    (sign-magnitude codes), every block's jobs one after another."""
    p = unit.params
    fa, fw = tile_formats(p)
    parts = [G.job_beats(a, w, p["rows"], p["cols"], p["lanes"])[:2] for a, w in jobs]
    a = {k: np.concatenate([q[0][k] for q in parts]) for k in ("codes", "flags", "last")}
    w = {k: np.concatenate([q[1][k] for q in parts]) for k in ("codes", "flags")}
    a["codes"], w["codes"] = signmag(a["codes"], fa), signmag(w["codes"], fw)
    return {"a": a, "w": w}


def tile_razor(unit, x, role, block):
    """Base integers ``x`` (M x K) of ``role`` -> an ``SDRTensor`` at that role's base precision with the tile
    operand's kept bits and group size, zero-padded to whole beats and groups along K and to a multiple of
    ``block`` rows."""
    p = unit.params
    align = int(np.lcm(p["lanes"], p["group_size"]))
    x = np.asarray(x, np.int64)
    if x.ndim != 2:
        raise ValueError(f"{role} operand must be 2-D (rows x K), got shape {x.shape}")
    x = np.pad(x, ((0, (-x.shape[0]) % block), (0, (-x.shape[1]) % align)))
    kept = p["a_kept"] if role in ("activation", "query") else p["w_kept"]
    return G.compress(x, G.SDRFormat(BASE_BITS[role], kept, p["group_size"]), axis=1)


def tile_gemm(unit, x, y, pair):
    """A whole GEMM ``x @ y^T`` (base integers of the role ``pair``) for a tile descriptor: its input beats
    (every ``R x C`` output block, row-major), the job list and the two ``SDRTensor`` operands (padded), so
    that ``golden.blocks_to_matrix`` of the result stream equals ``golden.gemm_dfree(a, w)``."""
    ra, rb = check_pair(pair)
    p = unit.params
    a, w = tile_razor(unit, x, ra, p["rows"]), tile_razor(unit, y, rb, p["cols"])
    _, _, jobs = G.job_beats(a, w, p["rows"], p["cols"], p["lanes"])
    return tile_beats(unit, [(a, w)]), jobs, a, w


def _tile_stimulus(pairs, rows, cols, lanes, operand, beats):
    """A tile descriptor's stimulus: at least ``cycles`` beats of whole jobs of a data source's GEMM blocks,
    alternating the modes ``pairs``; ``operand(x, role, block)`` turns a block's base integers into the tile's
    operand (rows x K), ``beats(jobs)`` the ``[(a, w)]`` jobs into the tile's input beats."""
    def stimulus(source, cycles, seed):
        todo, n, k = [], 0, 0
        while n < cycles:
            ra, rb = pair = pairs[k % len(pairs)]
            for x, y in source.blocks(pair, rows, cols, 4, seed + k):
                todo.append((operand(x, ra, rows), operand(y, rb, cols)))
                a = todo[-1][0]
                n += (a.codes if isinstance(a, G.SDRTensor) else a).shape[1] // lanes
            k += 1
        return beats(todo)
    return stimulus


def gemm_tile_unit(name, rows, cols, lanes, g, fa, fw, label, doc, table=TILE_TABLE, depth=2, cocotb=True):
    """``hdl.tile.GemmTile``: ``rows x cols`` QRazor dot-product units, stream ports, golden ``golden.tile``.

    Its stimulus interleaves jobs of both modes the datapath serves: linear-layer blocks (A16 activations x W8
    weights) and Q x K^T blocks (KV8 queries x keys), each razored at its own base precision (a query's flags,
    0..8 - kept, are a subset of an activation's); only the pairs whose base precisions fit are used."""
    from .tile import GemmTile
    fa, fw = fa.with_group(g), fw.with_group(g)
    align = int(np.lcm(lanes, g))
    pairs = [p for p in TILE_PAIRS if BASE_BITS[p[0]] <= fa.base_bits and BASE_BITS[p[1]] <= fw.base_bits]
    unit = None                      # the descriptor, set below (the closures read its parameters)

    def golden(b):
        a = dict(b["a"], codes=from_signmag(b["a"]["codes"], fa))
        w = dict(b["w"], codes=from_signmag(b["w"]["codes"], fw))
        return {"y": G.tile_golden(a, w, fa, fw)}

    stimulus = _tile_stimulus(pairs, rows, cols, lanes, lambda x, role, block: tile_razor(unit, x, role, block),
                              lambda todo: tile_beats(unit, todo))

    def segments(seed):
        """Corner jobs: every lane at +-max code << max flag for 64 beats (the accumulator wraps), an all-zero
        job, and jobs of 1..2R beats with codes and flags uniform over their whole ranges (back-to-back lasts
        fill the result buffer)."""
        rng = np.random.default_rng(seed)

        def job(ca, fa_, cw, fw_):
            return (G.SDRTensor(ca, fa_, fa, 1), G.SDRTensor(cw, fw_, fw, 1))
        k = 64 * lanes
        groups = k // g
        todo = []
        for sign in (1, -1):
            todo.append(job(np.full((rows, k), sign * fa.max_code), np.full((rows, groups), fa.max_flag),
                            np.full((cols, k), fw.max_code), np.full((cols, groups), fw.max_flag)))
        z = lanes * max(1, g // lanes)
        todo.append(job(*(np.zeros(s, np.int64) for s in ((rows, z), (rows, z // g), (cols, z), (cols, z // g)))))
        for t in rng.integers(1, 2 * rows + 1, 24):
            k = int(t) * align
            todo.append(job(rng.integers(-fa.max_code, fa.max_code + 1, (rows, k)),
                            rng.integers(0, fa.max_flag + 1, (rows, k // g)),
                            rng.integers(-fw.max_code, fw.max_code + 1, (cols, k)),
                            rng.integers(0, fw.max_flag + 1, (cols, k // g))))
        return [tile_beats(unit, todo)]

    unit = Unit(name, GemmTile, dict(rows=rows, cols=cols, lanes=lanes, group_size=g, a_base=fa.base_bits,
                                     a_kept=fa.kept_bits, w_base=fw.base_bits, w_kept=fw.kept_bits, depth=depth),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=TILE_PARTS, rest="input registers + control", per=rows * cols * lanes, bench_lanes=1,
                flows=frozenset(), protocol="stream", encoder="sdr_encoder_a16k4_g16" if fa.base_bits == 16 else None,
                cocotb=cocotb)
    return unit


INT_TILE_PARTS = {"multipliers": MUL, "tree": TREE, "accumulator": "accumulators", "results": "result buffer"}


def int_tile_operand(unit, x, role, block):
    """Base integers ``x`` (rows x K) of ``role`` as the INT tile sees them: narrowed to its operand width (A16
    activations to 8 bits, ``golden.quant.narrow``), zero-padded to whole beats along K and to a multiple of
    ``block`` rows."""
    p = unit.params
    bits = p["a_bits"] if role in ("activation", "query") else p["b_bits"]
    x = np.asarray(x, np.int64)
    if x.ndim != 2:
        raise ValueError(f"{role} operand must be 2-D (rows x K), got shape {x.shape}")
    x = narrow(x, BASE_BITS[role], bits)
    return np.pad(x, ((0, (-x.shape[0]) % block), (0, (-x.shape[1]) % p["lanes"])))


def int_tile_beats(unit, jobs):
    """``[(a, w)]`` integer operands (blocks or whole GEMMs) -> the INT tile's input beats, jobs in order."""
    p = unit.params
    parts = [G.job_beats_int(a, w, p["rows"], p["cols"], p["lanes"], p["a_bits"], p["b_bits"])[:2] for a, w in jobs]
    return {"a": {k: np.concatenate([q[0][k] for q in parts]) for k in ("codes", "last")},
            "w": {"codes": np.concatenate([q[1]["codes"] for q in parts])}}


def int_tile_unit(name, rows, cols, lanes, a_bits, b_bits, label, doc, table=TILE_TABLE, depth=2, cocotb=False):
    """``hdl.tile.IntGemmTile``: the INT baseline of the GEMM tile (same array, streams and jobs), golden
    ``golden.tile_golden_int``. Stimulus: the QRazor tile's modes on the same real data at the INT tile's
    precision (A16 activations narrowed to ``a_bits``; W8 weights; KV8 queries and keys)."""
    from .tile import IntGemmTile
    pairs = [p for p in TILE_PAIRS if all(BASE_BITS[r] >= 8 for r in p)]
    unit = None

    def golden(b):
        return {"y": G.tile_golden_int(b["a"], b["w"], a_bits, b_bits)}

    stimulus = _tile_stimulus(pairs, rows, cols, lanes,
                              lambda x, role, block: int_tile_operand(unit, x, role, block),
                              lambda todo: int_tile_beats(unit, todo))

    def segments(seed):
        """Corner jobs (every product at the most negative operands, both signs, 64 beats), an all-zero job, and
        jobs of 1..2R beats uniform over the whole operand ranges (back-to-back lasts fill the result buffer)."""
        rng = np.random.default_rng(seed)
        lo_a, lo_b = -(1 << (a_bits - 1)), -(1 << (b_bits - 1))
        k = 64 * lanes
        todo = [(np.full((rows, k), lo_a), np.full((cols, k), lo_b)),
                (np.full((rows, k), lo_a), np.full((cols, k), -lo_b - 1)),
                (np.zeros((rows, lanes), np.int64), np.zeros((cols, lanes), np.int64))]
        for t in rng.integers(1, 2 * rows + 1, 24):
            k = int(t) * lanes
            todo.append((rng.integers(lo_a, -lo_a, (rows, k)), rng.integers(lo_b, -lo_b, (cols, k))))
        return [int_tile_beats(unit, todo)]

    unit = Unit(name, IntGemmTile, dict(rows=rows, cols=cols, lanes=lanes, a_bits=a_bits, b_bits=b_bits,
                                        depth=depth),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=table,
                parts=INT_TILE_PARTS, rest="input registers + control", per=rows * cols * lanes, bench_lanes=1,
                flows=frozenset(), protocol="stream", cocotb=cocotb)
    return unit


register(headline(gemm_tile_unit("tile4x4_w4a4", 4, 4, 16, 16, A4, W4, "QRazor W4A4 tile 4x4x16",
                        "QRazor W4A4 GEMM tile: 4 x 4 dot-product units of 16 lanes, g=16, streams, "
                        "linear and Q x K^T")))
register(gemm_tile_unit("tile4x4_w4a8", 4, 4, 16, 16, A8, W4, "QRazor W4A8 tile 4x4x16",
                        "QRazor W4A8 GEMM tile: 4 x 4 dot-product units of 16 lanes, g=16, streams, "
                        "linear (A16 -> 8-bit codes) and Q x K^T", cocotb=False))
register(gemm_tile_unit("tile8x8_w4a4", 8, 8, 16, 16, A4, W4, "QRazor W4A4 tile 8x8x16",
                        "QRazor W4A4 GEMM tile: 8 x 8 dot-product units of 16 lanes, g=16, streams, "
                        "linear and Q x K^T", cocotb=False))
register(headline(int_tile_unit("tile4x4_int8x8", 4, 4, 16, 8, 8, "INT 8x8 tile 4x4x16",
                       "INT 8x8 GEMM tile (baseline): 4 x 4 dot-product units of 16 lanes, streams, A16 narrowed "
                       "to 8 bits x W8, Q x K^T on KV8")))
register(int_tile_unit("tile8x8_int8x8", 8, 8, 16, 8, 8, "INT 8x8 tile 8x8x16",
                       "INT 8x8 GEMM tile (baseline): 8 x 8 dot-product units of 16 lanes, streams, A16 narrowed "
                       "to 8 bits x W8, Q x K^T on KV8"))
