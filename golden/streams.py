"""Synthetic LLM-like base-integer streams (until real traces are captured): heavy-tailed, with outliers.

Used by the RTL benches and by the synthesis flow's switching-activity estimate. Not real model data.
"""

import numpy as np

__all__ = ["llm_like", "signmag", "from_signmag"]


def llm_like(rng, shape, bits):
    """Student-t (3 dof) values scaled to ``qmax/40``, a per-row scale spread over ``bits-2`` octaves, rounded
    and clipped to ``+-qmax``: most magnitudes small, a few outliers, flags over their whole range."""
    qm = (1 << (bits - 1)) - 1
    x = rng.standard_t(3, size=shape) * (qm / 40)
    x = x / (2.0 ** rng.integers(0, bits - 2, size=shape[:-1] + (1,)))
    return np.clip(np.rint(x), -qm, qm).astype(np.int64)


def signmag(codes, fmt):
    """Codes -> the hardware's sign-magnitude words ``sign << n | magnitude``."""
    c = np.asarray(codes, np.int64)
    return np.abs(c) | ((c < 0).astype(np.int64) << fmt.mag_bits)


def from_signmag(words, fmt):
    """The hardware's sign-magnitude words -> codes (the inverse of ``signmag``)."""
    w = np.asarray(words, np.int64)
    mag = w & ((1 << fmt.mag_bits) - 1)
    return np.where(w >> fmt.mag_bits, -mag, mag)
