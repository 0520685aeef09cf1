"""GEMM tiles (stream units) and the tile GEMM API: formats, razoring, beats of a whole GEMM."""


import numpy as np

import golden as G
from golden.quant import narrow
from golden.streams import BASE_BITS, check_pair, from_signmag, signmag

from ..axis import AXIStreamTile
from ..tile import GemmTile, IntGemmTile
from ..unit import Table, Unit, register
from .common import A4, A8, MUL, SHIFT, W4, headline
from .dots import TREE

# the kinds of component `python -m hdl.export --custom` builds from this family
KINDS = {"tile": GemmTile, "tile_int": IntGemmTile, "tile_axis": AXIStreamTile}

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
                flows=frozenset({"gate_level"}), protocol="stream",
                encoder="sdr_encoder_a16k4_g16" if fa.base_bits == 16 else None, cocotb=cocotb)
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
                flows=frozenset({"gate_level"}), protocol="stream", cocotb=cocotb)
    return unit


register(headline(gemm_tile_unit("tile4x4_w4a4", 4, 4, 16, 16, A4, W4, "QRazor W4A4 tile 4x4x16",
                        "QRazor W4A4 GEMM tile: 4 x 4 dot-product units of 16 lanes, g=16, streams, "
                        "linear and Q x K^T")))
register(gemm_tile_unit("tile2x2_w4a4", 2, 2, 16, 16, A4, W4, "QRazor W4A4 tile 2x2x16",
                        "QRazor W4A4 GEMM tile: 2 x 2 dot-product units of 16 lanes, g=16, streams, linear and "
                        "Q x K^T (make pnr-tile places and routes it: the 4 x 4 tile's placement alone takes hours "
                        "here)",
                        cocotb=False))
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
