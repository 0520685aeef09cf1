"""Argument checks shared by the golden model; every message names the value and what was expected."""

import operator

import numpy as np

__all__ = [
    "check_int_param", "check_power_of_two", "check_int_array", "check_float_array", "normalize_axis",
    "check_grouped_tensor",
]


def check_int_param(name, value, lo, hi):
    """Return ``value`` as an ``int`` in ``[lo, hi]`` or raise with the value in the message."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], not {value}")
    return value


def check_power_of_two(name, value, lo, hi):
    value = check_int_param(name, value, lo, hi)
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two in [{lo}, {hi}], not {value}")
    return value


def check_int_array(name, x, bits):
    """``x`` as an integer ndarray whose values fit a ``bits``-bit two's complement integer."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, not dtype {x.dtype}")
    if x.size:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        xmin, xmax = int(x.min()), int(x.max())
        if xmin < lo or xmax > hi:
            bad = xmin if xmin < lo else xmax
            raise ValueError(
                f"{name} holds {bad}, outside the {bits}-bit two's complement range [{lo}, {hi}]")
    return x


def check_float_array(name, x):
    """``x`` as a floating ndarray with no NaN or Inf."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, not dtype {x.dtype}")
    finite = np.isfinite(x)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{name} holds {x[idx]!r} at index {idx} ({int((~finite).sum())} non-finite values); "
            f"expected only finite values")
    return x


def normalize_axis(name, axis, ndim):
    axis = check_int_param(name, axis, -ndim, ndim - 1) if ndim else None
    if axis is None:
        raise ValueError(f"{name} cannot be used on a 0-dimensional array")
    return axis % ndim


def check_grouped_tensor(kind, codes, side, side_name, group_size, axis, max_code, code_note, side_max, side_note):
    """The checks every compressed tensor shares (``SDRTensor``, ``DMQTensor``): integer ``codes`` with at least
    one axis and magnitudes up to ``max_code``; one integer ``side`` value (flag, scale) per group of
    ``group_size`` along ``axis``, in ``[0, side_max]``. ``kind`` names the class, ``code_note`` and ``side_note``
    explain the limits in the messages. Returns read-only copies of ``codes`` and ``side``, so that a tensor checked
    once cannot be changed in place afterwards (and the caller's arrays stay writable)."""
    codes, side = np.asarray(codes), np.asarray(side)
    for name, v in (("codes", codes), (side_name + "s", side)):
        if v.dtype.kind not in "iu":
            raise TypeError(f"{kind} {name} must be an integer array, not dtype {v.dtype}")
    if codes.ndim == 0:
        raise ValueError(f"{kind} codes must have at least one axis, got a scalar")
    axis = normalize_axis("axis", axis, codes.ndim)
    g = group_size
    want = codes.shape[:axis] + (codes.shape[axis] // g,) + codes.shape[axis + 1:]
    if codes.shape[axis] % g or side.shape != want:
        raise ValueError(f"{kind} {side_name}s have shape {side.shape}; codes of shape {codes.shape} grouped by "
                         f"{g} along axis {axis} need {want}")
    if codes.size:
        c = int(np.abs(codes.astype(np.int64)).max())
        if c > max_code:
            raise ValueError(f"{kind} code magnitude {c} exceeds the format's largest code {max_code} ({code_note})")
        lo, hi = int(side.min()), int(side.max())
        if lo < 0 or hi > side_max:
            raise ValueError(f"{kind} {side_name} {lo if lo < 0 else hi} is outside [0, {side_max}] ({side_note})")
    codes, side = codes.copy(), side.copy()
    codes.flags.writeable = side.flags.writeable = False
    return codes, side
