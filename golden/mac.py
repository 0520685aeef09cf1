"""Bit-exact models of the integer MAC units and the decompression-free GEMM.

All integer MACs share one accumulator (``Accumulator``): ``acc_width`` bits two's complement (default 32),
**wrapping** on overflow. Wrapping is what an ``int32`` GEMM does, keeps the sum independent of the order of
the terms, and costs no extra logic. Per cycle, with enable ``en`` and ``load``::

    if en:  acc <= (0 if load else acc) + product      (mod 2**acc_width)

and the synchronous reset sets ``acc`` to 0. ``load`` starts a new dot product without a bubble.

Products (the arithmetic that each unit implements):

* ``dfree_product``      decompression-free: ``(ca * cw) << (fa + fw)`` from a sign-magnitude
                         ``(Ka-1) x (Kw-1)`` unsigned multiply, sign XOR, one barrel shift by ``fa + fw``.
* ``conventional_product`` decompress both operands (``c << f``), then the base-width multiply (16x8).
* ``int_product``        plain two's complement multiply on base data (INT 8x8, INT 16x8).
"""

import numpy as np

from .sdr import SDRTensor, decompress
from .validate import check_int_array, check_int_param

__all__ = [
    "ACC_WIDTH", "wrap", "Accumulator", "accumulate", "dfree_product", "conventional_product",
    "int_product", "check_codes", "gemm_dfree", "gemm_reference", "gemm_exact", "matmul_exact", "dot_dfree",
    "dot_int", "lane_operands", "subgroup_sums",
]

ACC_WIDTH = 32


def wrap(x, width=ACC_WIDTH):
    """Two's complement wrap of (int64 or Python) integers to ``width`` bits."""
    width = check_int_param("acc_width", width, 2, 62)
    x = np.asarray(x, dtype=np.int64)
    m = np.int64(1) << width
    return ((x + (m >> 1)) & (m - 1)) - (m >> 1)


class Accumulator:
    """Scalar reference of the shared accumulator, one ``step`` per clock."""

    def __init__(self, width=ACC_WIDTH):
        self.width = check_int_param("acc_width", width, 2, 62)
        self.value = 0

    def reset(self):
        self.value = 0

    def step(self, product, en=True, load=False):
        if en:
            self.value = int(wrap((0 if load else self.value) + int(product), self.width))
        return self.value


def accumulate(products, load=None, en=None, width=ACC_WIDTH, init=0):
    """Accumulator value after each cycle for a stream of products (vectorized ``Accumulator.step``)."""
    p = np.asarray(products)
    if p.dtype.kind not in "iu":
        raise TypeError(f"products must be an integer array, not dtype {p.dtype}")
    p = p.astype(np.int64).reshape(-1)
    n = p.size
    en = np.ones(n, bool) if en is None else np.asarray(en, bool).reshape(-1)
    load = np.zeros(n, bool) if load is None else np.asarray(load, bool).reshape(-1)
    if en.size != n or load.size != n:
        raise ValueError(f"products, load and en must have one entry per cycle: {n}, {load.size}, {en.size}")
    # Wrapping is modular, so summing exactly in int64 and wrapping each prefix is the same as wrapping
    # every step. Products are < 2**40 and streams shorter than 2**22 keep the int64 sums exact.
    if n and np.abs(p).max() >= (1 << 40) or n >= (1 << 22):
        raise ValueError("stream too long or products too wide for the vectorized accumulator model")
    contrib = np.where(en, p, 0)
    csum = np.cumsum(contrib)
    start = en & load
    idx = np.where(start, np.arange(n), -1)
    last = np.maximum.accumulate(idx) if n else idx
    base = np.where(last >= 0, csum[np.maximum(last, 0)] - contrib[np.maximum(last, 0)], -int(init))
    return wrap(csum - base, width)


def check_codes(name, codes, flags, fmt):
    """Validate compressed operands: codes within ``+-max_code``, flags within ``[0, max_flag]``."""
    codes = check_int_array(name + " codes", codes, fmt.kept_bits)
    if codes.size and np.abs(codes.astype(np.int32)).max() > fmt.max_code:
        raise ValueError(f"{name} codes must be within +-{fmt.max_code} (sign-magnitude, {fmt.kept_bits} bits), "
                         f"got {int(codes.min())}..{int(codes.max())}")
    flags = np.asarray(flags)
    if flags.dtype.kind not in "iu":
        raise TypeError(f"{name} flags must be an integer array, not dtype {flags.dtype}")
    if flags.size and (flags.min() < 0 or flags.max() > fmt.max_flag):
        raise ValueError(f"{name} flags must be in [0, {fmt.max_flag}], got {int(flags.min())}..{int(flags.max())}")
    return codes.astype(np.int64), flags.astype(np.int64)


def dfree_product(ca, fa, cw, fw, fmt_a, fmt_w):
    """Decompression-free product: ``sign(ca^cw) * ((|ca|*|cw|) << (fa + fw))``."""
    ca, fa = check_codes("a", ca, fa, fmt_a)
    cw, fw = check_codes("w", cw, fw, fmt_w)
    mag = (np.abs(ca) * np.abs(cw)) << (fa + fw)
    return np.where((ca < 0) ^ (cw < 0), -mag, mag)


def conventional_product(ca, fa, cw, fw, fmt_a, fmt_w):
    """Conventional path: decompress both operands, multiply at base width."""
    ca, fa = check_codes("a", ca, fa, fmt_a)
    cw, fw = check_codes("w", cw, fw, fmt_w)
    return (ca << fa) * (cw << fw)


def int_product(a, b, a_bits, b_bits):
    """Two's complement ``a_bits x b_bits`` product (INT 16x8, INT 8x8)."""
    a = check_int_array("a", a, a_bits).astype(np.int64)
    b = check_int_array("b", b, b_bits).astype(np.int64)
    return a * b


def _lanes(name, x, ndim=2):
    x = np.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D (cycles, lanes), got shape {x.shape}")
    return x


def lane_operands(ca, sa, cw, sw, side):
    """Shape checks every grouped dot-product step shares: (cycles, L) codes ``ca``, ``cw`` and (cycles, S) side
    values ``sa``, ``sw`` (flags or scales, named by ``side``), ``S`` dividing ``L``. Returns the four arrays."""
    ca, cw = _lanes("a codes", ca), _lanes("w codes", cw)
    sa, sw = _lanes(f"a {side}s", sa), _lanes(f"w {side}s", sw)
    if ca.shape != cw.shape or sa.shape != sw.shape or sa.shape[0] != ca.shape[0]:
        raise ValueError(f"operand shapes differ: a codes {ca.shape}, w codes {cw.shape}, a {side}s {sa.shape}, "
                         f"w {side}s {sw.shape} (expected codes (cycles, L), {side}s (cycles, S))")
    s, lanes = sa.shape[1], ca.shape[1]
    if s < 1 or lanes % s:
        raise ValueError(f"{s} {side}s per cycle do not divide {lanes} lanes into equal sub-groups")
    return ca, sa, cw, sw


def subgroup_sums(ca, cw, s):
    """Per cycle and sub-group: the sum of the lanes' code products, (cycles, S)."""
    n, lanes = ca.shape
    return (ca * cw).reshape(n, s, lanes // s).sum(axis=2)


def dot_dfree(ca, fa, cw, fw, fmt_a, fmt_w):
    """One step per cycle of an L-lane decompression-free dot-product unit (the engine's building block).

    ``ca``, ``cw``: (cycles, L) codes; ``fa``, ``fw``: (cycles, S) flags, one per *sub-group* of ``L / S``
    consecutive lanes (``S = 1`` when a group spans the whole cycle, ``g >= L``; ``S = L / g`` when several
    groups arrive per cycle). Per cycle: ``sum_s (sum_{i in s} ca_i * cw_i) << (fa_s + fw_s)``: the lanes'
    3x3 (or 7x3) products are added in a narrow tree and each sub-group's sum is shifted once."""
    ca, fa, cw, fw = lane_operands(ca, fa, cw, fw, "flag")
    ca, fa = check_codes("a", ca, fa, fmt_a)
    cw, fw = check_codes("w", cw, fw, fmt_w)
    return (subgroup_sums(ca, cw, fa.shape[1]) << (fa + fw)).sum(axis=1)


def dot_int(a, b, a_bits, b_bits):
    """One step per cycle of an L-lane two's complement dot-product unit: ``sum_i a_i * b_i`` (a, b: (cycles, L))."""
    a, b = _lanes("a", a), _lanes("b", b)
    if a.shape != b.shape:
        raise ValueError(f"operand shapes differ: a {a.shape}, b {b.shape}")
    return int_product(a, b, a_bits, b_bits).sum(axis=1)


def _check_gemm_operand(name, t):
    if not isinstance(t, SDRTensor):
        raise TypeError(f"{name} must be an SDRTensor, not {type(t).__name__}")
    if t.codes.ndim != 2 or t.axis != 1:
        raise ValueError(f"{name} must be 2-D and grouped along its last axis (the reduction axis K), "
                         f"got shape {t.codes.shape} grouped along axis {t.axis}")


def gemm_dfree(a, w, acc_width=ACC_WIDTH):
    """``Y[m, n] = sum_k A[m, k] * W[n, k]`` computed decompression-free, one group of K at a time.

    ``a`` (M x K) and ``w`` (N x K) are compressed along K with the same group size, so each group's
    partial sum of 4-bit products is shifted once by ``fa[m, j] + fw[n, j]``. Result wrapped to
    ``acc_width`` bits (int64 array).
    """
    _check_gemm_operand("a", a)
    _check_gemm_operand("w", w)
    if a.shape[1] != w.shape[1]:
        raise ValueError(f"reduction lengths differ: a is {a.shape}, w is {w.shape} (expected a: M x K, w: N x K)")
    if a.fmt.group_size != w.fmt.group_size:
        raise ValueError(f"group sizes differ: a uses {a.fmt.group_size}, w uses {w.fmt.group_size}")
    g = a.fmt.group_size
    groups = a.shape[1] // g
    ca = a.codes.astype(np.float64).reshape(a.shape[0], groups, g)
    cw = w.codes.astype(np.float64).reshape(w.shape[0], groups, g)
    # 4-bit partial sums are < 2**53, so float64 BLAS is exact here.
    partial = np.einsum("mjk,njk->jmn", ca, cw, optimize=True).astype(np.int64)
    shift = a.flags.astype(np.int64).T[:, :, None] + w.flags.astype(np.int64).T[:, None, :]
    return wrap((partial << shift).sum(axis=0), acc_width)


def gemm_reference(a, w, acc_width=ACC_WIDTH):
    """Decompress both operands, exact integer matmul, wrap: what ``gemm_dfree`` must equal."""
    _check_gemm_operand("a", a)
    _check_gemm_operand("w", w)
    if a.shape[1] != w.shape[1]:
        raise ValueError(f"reduction lengths differ: a is {a.shape}, w is {w.shape} (expected a: M x K, w: N x K)")
    da = decompress(a).astype(np.int64)
    dw = decompress(w).astype(np.int64)
    return wrap(da @ dw.T, acc_width)



def matmul_exact(a, b):
    """Exact int64 ``a @ b^T`` of integer matrices (a: M x K, b: N x K): float64 BLAS when every partial sum is an
    integer below ``2**53`` (then exact in any order; the bound is checked from the largest magnitudes and K), else
    int64 (exact while the sums fit 64 bits). The INT tiles' sums before the accumulator wraps them."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected a: M x K and b: N x K, got shapes {a.shape} and {b.shape}")
    bound = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * max(1, a.shape[1])
    if bound < (1 << 53):
        return (a.astype(np.float64) @ b.astype(np.float64).T).astype(np.int64)
    return a @ b.T


def gemm_exact(a, w):
    """The exact (unwrapped) sums of ``gemm_reference``: ``decompress(a) @ decompress(w)^T`` as int64, before the
    accumulator wraps them. ``wrap(gemm_exact(a, w), acc_width)`` equals ``gemm_dfree(a, w, acc_width)``.
    Computed by ``matmul_exact`` (float64 BLAS where exact), orders of magnitude faster than ``gemm_dfree``; used
    where whole layers of a real model run (``llmstudy.infer``)."""
    _check_gemm_operand("a", a)
    _check_gemm_operand("w", w)
    if a.shape[1] != w.shape[1]:
        raise ValueError(f"reduction lengths differ: a is {a.shape}, w is {w.shape} (expected a: M x K, w: N x K)")
    return matmul_exact(decompress(a), decompress(w))
