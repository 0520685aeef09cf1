"""MAC families: compressed-operand (decompression-free and conventional), INT and FP16 MACs."""


import numpy as np

import golden as G
from golden.quant import narrow
from golden.streams import BASE_BITS, SyntheticSource, from_signmag, signmag

from ..fp16_mac import FP16MAC
from ..macs import ConventionalMAC, DecompressionFreeMAC, IntMAC
from ..unit import Table, Unit, register
from .common import (
    A4,
    A8,
    FPADD,
    MUL,
    REGS,
    SHIFT,
    W4,
    accumulating,
    en_gaps,
    headline,
    load_then_accumulate,
    placed,
    product_grid,
    serves,
)

# the kinds of component `python -m hdl.export --custom` builds from this family
KINDS = {"mac_dfree": DecompressionFreeMAC, "mac_conv": ConventionalMAC, "mac_int": IntMAC, "mac_fp16": FP16MAC}

MAC_TABLE = Table("mac", "MAC units (like the paper's Table 5)", 10, baselines=("mac_int16x8", "mac_int8x8"))
MAC_PARTS = {"multiplier": MUL, "shifter": SHIFT, "decoder_a": SHIFT, "decoder_w": SHIFT, "fma": FPADD}

# The paper's Table 5 (Synopsys DC, industrial LP 65 nm): area um^2 by group, total, power mW.
PAPER_TABLE5 = {
    "mac_fp16": {MUL: 3042.2, SHIFT: 0.0, REGS: 1127.1, "total": 4169.3, "power": 0.4620},
    "mac_int16x8": {MUL: 1052.2, SHIFT: 0.0, REGS: 631.0, "total": 1683.2, "power": 0.1239},
    "mac_int8x8": {MUL: 559.4, SHIFT: 0.0, REGS: 431.0, "total": 990.4, "power": 0.0811},
    "mac_dfree_w4a4": {MUL: 112.0, SHIFT: 156.5, REGS: 385.3, "total": 653.8, "power": 0.0546},
}


# ---------------------------------------------------------------- compressed-operand MACs

def compressed_ports(fa, fw, g):
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

    stimulus = compressed_ports(fa, fw, g)

    def segments(seed):
        grid = product_grid(range(-fa.max_code, fa.max_code + 1), range(fa.max_flag + 1),
                     range(-fw.max_code, fw.max_code + 1), range(fw.max_flag + 1))
        grid = np.concatenate([grid, grid[np.random.default_rng(seed).permutation(len(grid))]])
        exhaustive = {"a": signmag(grid[:, 0], fa), "fa": grid[:, 1], "w": signmag(grid[:, 2], fw), "fw": grid[:, 3],
                      "en": np.ones(len(grid), np.int64), "load": load_then_accumulate(len(grid) // 2)}
        n = 1500                               # +-max << max flags until the 32-bit accumulator wraps, both signs
        sign = np.where(np.arange(n) < n // 2, 1, -1)
        corner = {"a": signmag(fa.max_code * sign, fa), "fa": np.full(n, fa.max_flag),
                  "w": signmag(np.full(n, fw.max_code), fw), "fw": np.full(n, fw.max_flag),
                  "en": np.ones(n, np.int64), "load": (np.arange(n) % (n // 2) == 0).astype(np.int64)}
        return [exhaustive, corner, en_gaps(stimulus(SyntheticSource(), 2000, seed + 1), seed)]

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
            grid = product_grid(range(amin, -amin), range(bmin, -bmin))
            grid = np.concatenate([grid, grid[np.random.default_rng(seed).permutation(len(grid))]])
            segs.append({"a": grid[:, 0], "b": grid[:, 1], "en": np.ones(len(grid), np.int64),
                         "load": load_then_accumulate(len(grid) // 2)})
        n = 1200                                                            # most negative squared: wraps
        segs.append({"a": np.full(n, amin), "b": np.full(n, bmin), "en": np.ones(n, np.int64),
                     "load": (np.arange(n) == 0).astype(np.int64)})
        segs.append(en_gaps(stimulus(SyntheticSource(), 2000, seed + 1), seed))
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
        grid = product_grid(FP16_SPECIALS, FP16_SPECIALS)  # every pair of specials, loaded, then chained
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


# the paper's Table 5 MACs: all headline units, all placed and routed by default
for _u in (
    serves(fp16_mac("mac_fp16", "FP16 (fused)", "FP16 MAC: binary16 fused multiply-add into an FP16 accumulator",
                    paper=PAPER_TABLE5["mac_fp16"]), "float"),
    int_mac("mac_int16x8", 16, 8, ("activation", "weight"), "INT 16x8", "INT 16x8 MAC on base data (W8A16)",
            paper=PAPER_TABLE5["mac_int16x8"]),
    int_mac("mac_int8x8", 8, 8, ("query", "key"), "INT 8x8", "INT 8x8 MAC (on KV8 query . key data)",
            paper=PAPER_TABLE5["mac_int8x8"]),
    compressed_mac("mac_conv_w4a4", ConventionalMAC, A4, W4, "QRazor conv. (dec+16x8)",
                   "QRazor conventional MAC, W4A4: two SDR decoders + INT 16x8 multiplier"),
    compressed_mac("mac_dfree_w4a4", DecompressionFreeMAC, A4, W4, "QRazor W4A4 dfree",
                   "QRazor decompression-free MAC, W4A4 (A16/W8 bases): 3x3 multiplier + shifter by fa+fw (0..16)",
                   paper=PAPER_TABLE5["mac_dfree_w4a4"]),
    compressed_mac("mac_dfree_w4a8", DecompressionFreeMAC, A8, W4, "QRazor W4A8 dfree",
                   "QRazor decompression-free MAC, W4A8: 7x3 multiplier + shifter by fa+fw (0..12)"),
):
    register(placed(headline(_u)))
