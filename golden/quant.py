"""Static absolute-max quantization to the base precision (paper Section 3, 4.1).

``q = clip(rint(x / scale), -qmax, qmax)`` with ``scale = absmax / qmax`` and ``qmax = 2**(bits-1) - 1``.
All arithmetic is float64; ``rint`` rounds half to even (as ``torch.round`` does). Values beyond the
calibrated range saturate to ``+-qmax`` (static scales are fixed offline, later data may exceed them).
An all-zero tensor or channel gets ``scale = 1.0``: every value quantizes to 0, nothing is divided by zero.

Granularity is chosen with ``channel_axis``: ``None`` for one scale per tensor (activations), the output
channel axis for weights, the head axis for the KV cache.
"""

import numpy as np

from .validate import check_float_array, check_int_param, normalize_axis

__all__ = [
    "qmax", "absmax", "absmax_scale", "quantize", "dequantize", "Calibrator", "int_dtype", "rtn_groupwise",
    "rtn_dequantize", "narrow",
]

MIN_BITS, MAX_BITS = 2, 32


def qmax(bits):
    bits = check_int_param("bits", bits, MIN_BITS, MAX_BITS)
    return (1 << (bits - 1)) - 1


def int_dtype(bits):
    """The smallest NumPy signed integer dtype holding a ``bits``-bit integer."""
    for dt in (np.int8, np.int16, np.int32, np.int64):
        if np.iinfo(dt).bits >= bits:
            return np.dtype(dt)
    raise ValueError(f"bits must be at most 64, not {bits}")


def _reduce_axes(ndim, channel_axis):
    if channel_axis is None:
        return None
    ax = normalize_axis("channel_axis", channel_axis, ndim)
    return tuple(i for i in range(ndim) if i != ax)


def absmax(x, channel_axis=None):
    """Absolute maximum per tensor (``channel_axis=None``) or per index of ``channel_axis`` (float64)."""
    x = check_float_array("x", x)
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    return np.abs(x.astype(np.float64)).max(axis=_reduce_axes(x.ndim, channel_axis))


def _scale_from_absmax(amax, bits):
    amax = np.asarray(amax, dtype=np.float64)
    return np.where(amax > 0, amax / qmax(bits), 1.0)


def absmax_scale(x, bits, channel_axis=None):
    """Scale(s) that map the absolute maximum of ``x`` to ``qmax(bits)``."""
    return _scale_from_absmax(absmax(x, channel_axis), bits)


def _broadcast_scale(scale, x, channel_axis):
    scale = np.asarray(scale, dtype=np.float64)
    if channel_axis is None:
        if scale.ndim != 0:
            raise ValueError(f"a per-tensor scale must be a scalar, got shape {scale.shape}")
        return scale
    ax = normalize_axis("channel_axis", channel_axis, x.ndim)
    if scale.shape != (x.shape[ax],):
        raise ValueError(
            f"scale has shape {scale.shape}, expected ({x.shape[ax]},) for channel_axis={channel_axis} "
            f"of a tensor of shape {x.shape}")
    shape = [1] * x.ndim
    shape[ax] = x.shape[ax]
    return scale.reshape(shape)


def quantize(x, scale, bits, channel_axis=None):
    """Quantize float ``x`` with a static ``scale`` to ``bits``-bit signed integers."""
    x = check_float_array("x", x)
    q = qmax(bits)
    s = _broadcast_scale(scale, x, channel_axis)
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"scale must be finite and positive, got {np.asarray(scale)!r}")
    return np.clip(np.rint(x.astype(np.float64) / s), -q, q).astype(int_dtype(bits))


def dequantize(q, scale, channel_axis=None):
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer array, not dtype {q.dtype}")
    s = _broadcast_scale(scale, q, channel_axis)
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"scale must be finite and positive, got {np.asarray(scale)!r}")
    return q.astype(np.float64) * s


class Calibrator:
    """Static scale calibration: the running absolute maximum over several batches.

    >>> cal = Calibrator(bits=16)
    >>> for batch in batches: cal.observe(batch)
    >>> scale = cal.scale
    """

    def __init__(self, bits, channel_axis=None):
        self._bits = check_int_param("bits", bits, MIN_BITS, MAX_BITS)
        self._axis = channel_axis
        self._amax = None
        self._batches = 0

    @property
    def bits(self):
        return self._bits

    @property
    def batches(self):
        return self._batches

    def observe(self, x):
        amax = absmax(x, self._axis)
        if self._amax is not None and np.shape(amax) != np.shape(self._amax):
            raise ValueError(
                f"batch gives {np.shape(amax)} scales, earlier batches gave {np.shape(self._amax)}")
        self._amax = amax if self._amax is None else np.maximum(self._amax, amax)
        self._batches += 1

    @property
    def absmax(self):
        if self._amax is None:
            raise ValueError("no batch observed yet: call observe() at least once")
        return self._amax

    @property
    def scale(self):
        return _scale_from_absmax(self.absmax, self._bits)


def rtn_groupwise(x, bits, group_size, axis=-1, scale_dtype=np.float16):
    """Round-to-nearest group-wise quantization, the usual comparison point (e.g. INT4, g=128).

    Each group of ``group_size`` consecutive values along ``axis`` gets its own scale ``absmax / qmax``,
    stored in ``scale_dtype`` (FP16 by default, as such schemes store it); values are ``rint(x / scale)``
    clipped to ``+-qmax``. A short last group is allowed. Returns ``(q, scale)`` with ``scale`` per group
    (the grouping axis divided by ``group_size``, rounded up); ``q * scale`` (repeated) is what it stands for.
    """
    x = check_float_array("x", x)
    group_size = check_int_param("group_size", group_size, 1, 1 << 20)
    axis = normalize_axis("axis", axis, x.ndim)
    q = qmax(bits)
    xm = np.moveaxis(x.astype(np.float64), axis, -1)
    n = xm.shape[-1]
    pad = (-n) % group_size
    if pad:
        xm = np.concatenate([xm, np.zeros(xm.shape[:-1] + (pad,))], axis=-1)
    grouped = xm.reshape(*xm.shape[:-1], -1, group_size)
    amax = np.abs(grouped).max(axis=-1)
    scale = np.where(amax > 0, amax / q, 1.0)
    big = float(np.finfo(scale_dtype).max)
    if scale.size and scale.max() > big:
        raise ValueError(f"a group's absolute maximum {float(amax.max())!r} needs the scale {float(scale.max())!r}, "
                         f"beyond the largest {np.dtype(scale_dtype).name} ({big!r}): rescale x or use a wider "
                         f"scale_dtype")
    scale = scale.astype(scale_dtype).astype(np.float64)
    scale = np.where(scale > 0, scale, np.finfo(scale_dtype).smallest_subnormal)    # underflow in the cast
    codes = np.clip(np.rint(grouped / scale[..., None]), -q, q).astype(int_dtype(bits))
    codes = codes.reshape(*xm.shape[:-1], -1)[..., :n]
    return np.moveaxis(codes, -1, axis), np.moveaxis(scale, -1, axis)


def rtn_dequantize(q, scale, group_size, axis=-1):
    """Values that ``rtn_groupwise`` codes stand for (float64)."""
    axis = normalize_axis("axis", axis, np.ndim(q))
    s = np.repeat(np.asarray(scale, np.float64), group_size, axis=axis)
    s = np.take(s, np.arange(np.shape(q)[axis]), axis=axis)
    return np.asarray(q).astype(np.float64) * s


def narrow(x, from_bits, to_bits):
    """Base integers of ``from_bits`` rounded to ``to_bits``: the top bits, round half away from zero,
    saturating at ``+-qmax(to_bits)``; ``x * 2**(from_bits - to_bits)`` is what they stand for. How a narrower
    INT unit (INT 8x8 on A16 data) sees the same data at its own precision."""
    x = np.asarray(x, np.int64)
    if to_bits >= from_bits:
        return x
    sh = from_bits - to_bits
    q = qmax(to_bits)
    return np.clip(np.sign(x) * ((np.abs(x) + (1 << (sh - 1))) >> sh), -q, q)
