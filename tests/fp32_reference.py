"""Exact binary32 rounding of rationals, for tests: the oracle the FP32 pieces of golden.mx and hdl.mx are checked
against (it shares nothing with either)."""

from fractions import Fraction

import numpy as np


def f32_exact(v):
    """The binary32 value nearest the rational ``v`` (ties to even, subnormals, Inf beyond the range)."""
    if v == 0:
        return np.float32(0)
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    e -= Fraction(2) ** e > a                                       # floor(log2 a)
    quantum = Fraction(2) ** max(e - 23, -149)
    q = round(a / quantum)                                          # Fraction rounds half to even
    r = q * quantum
    out = np.float32(np.inf) if r >= 2 ** 128 else np.float32(float(r))     # exact: <= 24 bits
    return -out if v < 0 else out


def f32_bits(v):
    """``f32_exact(v)`` as its bit pattern (the sign of a zero taken from ``v``'s sign is left to the caller)."""
    return int(np.array([f32_exact(v)], np.float32).view(np.uint32)[0])
