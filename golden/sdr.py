"""Significant data razoring (SDR): compression of base integers to sign + (kept_bits-1) magnitude bits.

The decisions are written down in ``docs/number-formats.md``; in short, for a group of ``g`` base integers:

1. ``-2**(base_bits-1)`` (the most negative value) saturates to ``-(2**(base_bits-1) - 1)``.
2. Sign-magnitude; ``p`` = index of the leading one of the OR of the group's magnitudes (``-1`` if all zero).
3. ``flag = max(0, p + 1 - n)`` with ``n = kept_bits - 1`` magnitude bits (0 for an all-zero group).
4. ``m = (mag >> flag) + round_bit`` where ``round_bit`` is bit ``flag-1`` of ``mag``, except when
   ``mag >> flag`` is all ones (``2**n - 1``): then ``m = mag >> flag`` (the overflow guard floors).
5. A magnitude that becomes 0 gets sign 0: there is no negative zero.

A compressed element is stored as a signed *code* ``c = sign ? -m : m`` in ``[-(2**n-1), 2**n-1]``; its value
is ``c * 2**flag``. The hardware word is sign-magnitude: ``sign << n | m``.
"""

import os
from dataclasses import dataclass

import numpy as np

from .quant import int_dtype
from .validate import check_grouped_tensor, check_int_array, check_int_param, check_power_of_two, normalize_axis

__all__ = [
    "FLAG_BITS", "GROUP_SIZES", "SDRFormat", "SDRTensor", "compress", "decompress", "razor", "compress_reference",
    "leading_one", "group_flags", "A16_K4", "A16_K8", "W8_K4", "KV8_K4",
]

FLAG_BITS = 4                  # the paper's 4 flag bits per group
MAX_BASE_BITS = 16             # so every flag (at most base_bits - 2) fits FLAG_BITS
MAX_GROUP = 4096
# The group sizes the paper studies (Sec. 5, Table 8) and the hardware supports: every sweep uses these.
GROUP_SIZES = (8, 16, 32, 64, 128)


@dataclass(frozen=True)
class SDRFormat:
    """A base precision, the number of kept bits (sign included) and the group size."""
    base_bits: int
    kept_bits: int
    group_size: int

    def __post_init__(self):
        base = check_int_param("base_bits", self.base_bits, 3, MAX_BASE_BITS)
        kept = check_int_param("kept_bits", self.kept_bits, 2, 8)
        if kept > base:
            raise ValueError(f"kept_bits must be at most base_bits={base}, not {kept}")
        object.__setattr__(self, "base_bits", base)
        object.__setattr__(self, "kept_bits", kept)
        object.__setattr__(self, "group_size", check_power_of_two("group_size", self.group_size, 1, MAX_GROUP))

    @property
    def mag_bits(self):
        """Kept magnitude bits ``n``."""
        return self.kept_bits - 1

    @property
    def max_code(self):
        return (1 << self.mag_bits) - 1

    @property
    def max_flag(self):
        """Largest flag: the leading one at bit ``base_bits - 2``."""
        return self.base_bits - self.kept_bits

    @property
    def max_mag(self):
        return (1 << (self.base_bits - 1)) - 1

    @property
    def bits_per_element(self):
        """Effective storage bits per element: ``kept_bits + FLAG_BITS / group_size``."""
        return self.kept_bits + FLAG_BITS / self.group_size

    def with_group(self, group_size):
        return SDRFormat(self.base_bits, self.kept_bits, group_size)


A16_K4 = SDRFormat(16, 4, 16)    # activations, W4A4
A16_K8 = SDRFormat(16, 8, 16)    # activations, W4A8
W8_K4 = SDRFormat(8, 4, 16)      # weights
KV8_K4 = SDRFormat(8, 4, 16)     # KV cache (and Q)


@dataclass(frozen=True)
class SDRTensor:
    """Compressed tensor: ``codes`` has the source shape, ``flags`` the shape with ``axis`` divided by g.

    Checked when built, so a hand-made tensor with an illegal code or flag cannot decompress, pack or multiply
    to a wrong value: ``fmt`` an ``SDRFormat``; integer ``codes`` in ``[-max_code, max_code]``; integer ``flags``
    in ``[0, max_flag]``; ``axis`` a valid axis whose length ``g`` divides. Raises ``TypeError``/``ValueError``
    naming the value and what is accepted."""
    codes: np.ndarray
    flags: np.ndarray
    fmt: SDRFormat
    axis: int

    def __post_init__(self):
        if not isinstance(self.fmt, SDRFormat):
            raise TypeError(f"fmt must be an SDRFormat, not {self.fmt!r}")
        f = self.fmt
        codes, side = check_grouped_tensor(
            "SDRTensor", self.codes, self.flags, "flag", f.group_size, self.axis, f.max_code,
            f"{f.kept_bits} kept bits", f.max_flag, f"{f.base_bits}-bit base, {f.kept_bits} kept bits")
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "flags", side)

    @property
    def shape(self):
        return self.codes.shape

    def flags_per_element(self):
        """Flags repeated along ``axis`` so that they broadcast with ``codes``."""
        return np.repeat(self.flags, self.fmt.group_size, axis=self.axis)


def _grouped(x, axis, g):
    """View ``x`` as ``(..., groups, g)`` with the group axis last (copy only if the axis is not last)."""
    x = np.moveaxis(x, axis, -1)
    if x.shape[-1] % g:
        raise ValueError(
            f"group_size {g} does not divide the grouping axis of length {x.shape[-1]}")
    return x.reshape(*x.shape[:-1], x.shape[-1] // g, g)


_BITLEN16 = np.zeros(1 << 16, dtype=np.uint8)
for _b in range(1, 17):
    _BITLEN16[1 << (_b - 1):1 << _b] = _b


def leading_one(x):
    """Index of the leading one of each non-negative integer (< 2**16), -1 for zero."""
    return _BITLEN16[np.asarray(x, dtype=np.int64)].astype(np.int8) - 1


def group_flags(or_of_mags, fmt):
    """Flag from the OR of a group's magnitudes: ``max(0, leading_one + 1 - n)``."""
    return np.maximum(leading_one(or_of_mags) + 1 - fmt.mag_bits, 0).astype(np.uint8)


def _razor_groups(mag, fmt, codes_out, flags_out, negative):
    """Compress one block of groups: ``mag`` (groups, g) unsigned magnitudes, already saturated."""
    flags = group_flags(np.bitwise_or.reduce(mag, axis=-1), fmt)
    f = flags[:, None].astype(mag.dtype)
    # Round to nearest: add half a step, shift. The only carry out of the kept width comes from an
    # all-ones truncated value, whose floor is 2**n - 1: clamping is exactly the overflow guard.
    one = mag.dtype.type(1)
    m = np.minimum((mag + ((one << f) >> one)) >> f, fmt.max_code).astype(np.int8)
    np.negative(m, out=m, where=negative)
    codes_out[...] = m
    flags_out[...] = flags


_CHUNK_GROUPS = 1 << 14
_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    return _POOL


def compress(x, fmt, axis=-1):
    """Compress base integers ``x`` (``fmt.base_bits`` two's complement) in groups along ``axis``."""
    if not isinstance(fmt, SDRFormat):
        raise TypeError(f"fmt must be an SDRFormat, not {fmt!r}")
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    g = fmt.group_size
    gx = _grouped(x.astype(int_dtype(fmt.base_bits), copy=False), axis, g)
    flat = gx.reshape(-1, g)
    codes = np.empty(flat.shape, np.int8)
    flags = np.empty(flat.shape[0], np.uint8)
    udt = np.dtype(flat.dtype.str.replace("i", "u"))

    def work(lo):
        blk = flat[lo:lo + _CHUNK_GROUPS]
        mag = np.minimum(np.abs(blk).view(udt), fmt.max_mag)     # |-2**(b-1)| saturates
        _razor_groups(mag, fmt, codes[lo:lo + _CHUNK_GROUPS], flags[lo:lo + _CHUNK_GROUPS], blk < 0)

    starts = range(0, flat.shape[0], _CHUNK_GROUPS)
    if len(starts) > 1:
        list(_pool().map(work, starts))
    else:
        for lo in starts:
            work(lo)
    codes = np.moveaxis(codes.reshape(*gx.shape[:-2], -1), -1, axis)
    flags = np.moveaxis(flags.reshape(gx.shape[:-1]), -1, axis)
    return SDRTensor(np.ascontiguousarray(codes), flags, fmt, axis)


def compress_reference(x, fmt, axis=-1):
    """Straightforward per-element transcription of Algorithm 1 (slow; an independent cross-check)."""
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    gx = _grouped(x, axis, fmt.group_size)
    flat = gx.reshape(-1, fmt.group_size)
    codes = np.zeros(flat.shape, dtype=np.int8)
    flags = np.zeros(flat.shape[0], dtype=np.uint8)
    n = fmt.mag_bits
    for gi, group in enumerate(flat.tolist()):
        mags = [min(abs(v), fmt.max_mag) for v in group]
        ored = 0
        for v in mags:
            ored |= v
        p = ored.bit_length() - 1
        flag = max(0, p + 1 - n)
        flags[gi] = flag
        for ei, (v, mg) in enumerate(zip(group, mags)):
            kept = mg >> flag
            if kept == (1 << n) - 1 or flag == 0:
                r = kept                               # overflow guard: floor
            else:
                r = kept + ((mg >> (flag - 1)) & 1)    # round to nearest on the first dropped bit
            codes[gi, ei] = -r if v < 0 else r
    codes = np.moveaxis(codes.reshape(gx.shape[:-2] + (-1,)), -1, axis)
    return SDRTensor(codes, np.moveaxis(flags.reshape(gx.shape[:-1]), -1, axis), fmt, axis)


def decompress(t):
    """Base integers ``code * 2**flag`` (the smallest signed dtype holding ``fmt.base_bits``)."""
    if not isinstance(t, SDRTensor):
        raise TypeError(f"expected an SDRTensor, not {type(t).__name__}")
    dt = int_dtype(t.fmt.base_bits)
    codes = _grouped(t.codes, t.axis, t.fmt.group_size).astype(dt)
    out = codes << np.moveaxis(t.flags, t.axis, -1)[..., None].astype(dt)
    return np.moveaxis(out.reshape(*out.shape[:-2], -1), -1, t.axis)


def razor(x, fmt, axis=-1):
    """``decompress(compress(x))`` for an axis of any length: what the razored tensor stands for.

    A grouping axis whose length is not a multiple of ``g`` ends in one short group (``n % g`` elements).
    Zero padding leaves a group's OR, and so its flag, unchanged, which is how the short group is computed.
    """
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    n, g = x.shape[axis], fmt.group_size
    pad = (-n) % g
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, pad)
        x = np.pad(x, widths)
    out = decompress(compress(x, fmt, axis))
    return np.take(out, np.arange(n), axis=axis) if pad else out
