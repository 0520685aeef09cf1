"""Argument checks shared by the golden model; every message names the value and what was expected."""

import operator

import numpy as np

__all__ = [
    "check_int_param", "check_power_of_two", "check_int_array", "check_float_array", "normalize_axis",
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
