"""Per-group dynamic max-scaled quantization (DMQ): the scheme the paper argues SDR is cheaper than (Sec. 4.2).

Bit-exact model of the hardware in ``hdl.dmq``. For a group of ``g`` base integers ``x`` (``base_bits`` two's
complement), with ``Q = 2**(kept_bits-1) - 1`` (7 for INT4):

1. ``mag = min(|x|, 2**(base_bits-1) - 1)`` (the most negative value saturates, as in SDR);
2. the group's scale ``m = max(mag)``: an integer of ``base_bits - 1`` bits, stored with the group
   (15 bits per group of A16, 7 per group of W8);
3. ``code = sign(x) * floor((2*Q*mag + m) / (2*m))``: ``Q * mag / m`` rounded half up, exactly (0 when
   ``m = 0``, no negative zero). ``mag <= m`` keeps ``code`` within ``+-Q``.

The value a code stands for is ``code * m / Q`` base units. This is round-to-nearest INT4 with an absmax scale
per group, applied to the same base integers as SDR (so the two see identical data); it differs from
``golden.quant.rtn_groupwise`` (float input, FP16 scale, round half even) only in the rounding of ties and of
the scale. The hardware divides exactly with a ``kept_bits - 1`` step restoring division per element.

A DMQ dot product multiplies codes and applies the product of the two groups' scales to each group's partial
sum: ``sum_s (sum_{i in s} ca_i * cw_i) * sa_s * sw_s`` (``dot_dmq``); its value is that sum ``/ (Qa * Qw)``
base units, a constant factor left to the per-tensor scales like the base precision's.
"""

from dataclasses import dataclass

import numpy as np

from .mac import lane_operands, subgroup_sums
from .quant import int_dtype
from .sdr import _grouped  # one grouping rule (and its error) for SDR and DMQ
from .validate import check_grouped_tensor, check_int_array, check_int_param, check_power_of_two, normalize_axis

__all__ = ["DMQFormat", "DMQTensor", "dmq_compress", "dmq_decompress", "dmq_razor", "dmq_reference", "dot_dmq",
           "A16_DMQ4", "W8_DMQ4"]

MAX_GROUP = 4096


@dataclass(frozen=True)
class DMQFormat:
    """A base precision, the kept bits of a code (sign included) and the group size."""
    base_bits: int
    kept_bits: int
    group_size: int

    def __post_init__(self):
        base = check_int_param("base_bits", self.base_bits, 3, 16)
        kept = check_int_param("kept_bits", self.kept_bits, 2, 8)
        if kept > base:
            raise ValueError(f"kept_bits must be at most base_bits={base}, not {kept}")
        object.__setattr__(self, "base_bits", base)
        object.__setattr__(self, "kept_bits", kept)
        object.__setattr__(self, "group_size", check_power_of_two("group_size", self.group_size, 1, MAX_GROUP))

    @property
    def qmax(self):
        """Largest code magnitude ``Q``."""
        return (1 << (self.kept_bits - 1)) - 1

    @property
    def mag_bits(self):
        return self.kept_bits - 1

    @property
    def max_code(self):
        return self.qmax

    @property
    def scale_bits(self):
        """Bits of the stored per-group scale ``m`` (the group's largest magnitude)."""
        return self.base_bits - 1

    @property
    def max_mag(self):
        return (1 << (self.base_bits - 1)) - 1

    @property
    def bits_per_element(self):
        """Effective storage bits per element: ``kept_bits + scale_bits / group_size``."""
        return self.kept_bits + self.scale_bits / self.group_size

    def with_group(self, group_size):
        return DMQFormat(self.base_bits, self.kept_bits, group_size)


A16_DMQ4 = DMQFormat(16, 4, 16)     # activations
W8_DMQ4 = DMQFormat(8, 4, 16)       # weights


@dataclass(frozen=True)
class DMQTensor:
    """Codes (the source shape) and per-group scales (``axis`` divided by g), checked when built."""
    codes: np.ndarray
    scales: np.ndarray
    fmt: DMQFormat
    axis: int

    def __post_init__(self):
        if not isinstance(self.fmt, DMQFormat):
            raise TypeError(f"fmt must be a DMQFormat, not {self.fmt!r}")
        f = self.fmt
        codes, side = check_grouped_tensor(
            "DMQTensor", self.codes, self.scales, "scale", f.group_size, self.axis, f.qmax,
            f"{f.kept_bits} bits", f.max_mag, f"{f.base_bits}-bit base")
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "scales", side)

    @property
    def shape(self):
        return self.codes.shape

    def scales_per_element(self):
        return np.repeat(self.scales, self.fmt.group_size, axis=self.axis)


def dmq_compress(x, fmt, axis=-1):
    """Quantize base integers ``x`` in groups of ``fmt.group_size`` along ``axis``: a ``DMQTensor``."""
    if not isinstance(fmt, DMQFormat):
        raise TypeError(f"fmt must be a DMQFormat, not {fmt!r}")
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    gx = _grouped(x.astype(np.int64), axis, fmt.group_size)
    mag = np.minimum(np.abs(gx), fmt.max_mag)
    m = mag.max(axis=-1)
    d = 2 * np.maximum(m, 1)[..., None]
    q = (2 * fmt.qmax * mag + m[..., None]) // d
    q = np.where(m[..., None] > 0, q, 0)
    codes = np.where(gx < 0, -q, q).astype(np.int8)
    codes = np.moveaxis(codes.reshape(*gx.shape[:-2], -1), -1, axis)
    return DMQTensor(np.ascontiguousarray(codes), np.moveaxis(m, -1, axis).astype(np.uint16), fmt, axis)


def dmq_reference(x, fmt, axis=-1):
    """Per-element transcription with Python integers (slow; the cross-check of ``dmq_compress``)."""
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    gx = _grouped(x, axis, fmt.group_size)
    flat = gx.reshape(-1, fmt.group_size)
    codes = np.zeros(flat.shape, np.int8)
    scales = np.zeros(flat.shape[0], np.uint16)
    for gi, group in enumerate(flat.tolist()):
        mags = [min(abs(v), fmt.max_mag) for v in group]
        m = max(mags)
        scales[gi] = m
        for ei, (v, mg) in enumerate(zip(group, mags)):
            # the nearest integer to Q*mg/m, ties up: compare 2*Q*mg against (2k-1)*m for each k
            q = sum(1 for k in range(1, fmt.qmax + 1) if m and 2 * fmt.qmax * mg >= (2 * k - 1) * m)
            codes[gi, ei] = -q if v < 0 else q
    codes = np.moveaxis(codes.reshape(gx.shape[:-2] + (-1,)), -1, axis)
    return DMQTensor(codes, np.moveaxis(scales.reshape(gx.shape[:-1]), -1, axis), fmt, axis)


def dmq_decompress(t):
    """Values the codes stand for, in base units: ``code * m / Q`` (float64)."""
    if not isinstance(t, DMQTensor):
        raise TypeError(f"expected a DMQTensor, not {type(t).__name__}")
    return t.codes.astype(np.float64) * t.scales_per_element().astype(np.float64) / t.fmt.qmax


def dmq_razor(x, fmt, axis=-1):
    """``dmq_decompress(dmq_compress(x))`` for an axis of any length (a short last group, zero padded; zeros
    do not change a group's maximum)."""
    x = check_int_array("x", x, fmt.base_bits)
    axis = normalize_axis("axis", axis, x.ndim)
    n, g = x.shape[axis], fmt.group_size
    pad = (-n) % g
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, pad)
        x = np.pad(x, widths)
    out = dmq_decompress(dmq_compress(x.astype(int_dtype(fmt.base_bits)), fmt, axis))
    return np.take(out, np.arange(n), axis=axis) if pad else out


def _check(name, codes, scales, fmt):
    codes = check_int_array(name + " codes", codes, fmt.kept_bits).astype(np.int64)
    if codes.size and np.abs(codes).max() > fmt.qmax:
        raise ValueError(f"{name} codes must be within +-{fmt.qmax}, got {int(codes.min())}..{int(codes.max())}")
    scales = np.asarray(scales)
    if scales.dtype.kind not in "iu":
        raise TypeError(f"{name} scales must be an integer array, not dtype {scales.dtype}")
    if scales.size and (scales.min() < 0 or scales.max() > fmt.max_mag):
        raise ValueError(f"{name} scales must be in [0, {fmt.max_mag}], got {int(scales.min())}..{int(scales.max())}")
    return codes, scales.astype(np.int64)


def dot_dmq(ca, sa, cw, sw, fmt_a, fmt_w):
    """One step per cycle of an L-lane DMQ dot-product unit: ``sum_s (sum_{i in s} ca_i * cw_i) * sa_s * sw_s``.

    ``ca``, ``cw``: (cycles, L) codes; ``sa``, ``sw``: (cycles, S) scales, one per sub-group of ``L / S``
    consecutive lanes (``S = 1`` when a group spans the cycle)."""
    ca, sa, cw, sw = lane_operands(ca, sa, cw, sw, "scale")
    ca, sa = _check("a", ca, sa, fmt_a)
    cw, sw = _check("w", cw, sw, fmt_w)
    return (subgroup_sums(ca, cw, sa.shape[1]) * sa * sw).sum(axis=1)
