"""An independent FP16 fused multiply-add: exact rationals and a nearest-value search over all binary16.

Shares no code with golden/fp16.py (which works on integer significands and shifts).
"""

import bisect
import math
from fractions import Fraction

import numpy as np

_POS = np.arange(0x7C00, dtype=np.uint16)                    # +0 .. 65504, increasing
_VALUES = [Fraction(float(v)) for v in _POS.view(np.float16)]
_OVERFLOW = Fraction(65504) + Fraction(16)                   # max + half an ulp (ulp 32)


def _nearest(mag):
    i = bisect.bisect_left(_VALUES, mag)
    if i < len(_VALUES) and _VALUES[i] == mag:
        return i
    lo, hi = i - 1, i
    if hi == len(_VALUES):                                   # between 65504 and the overflow threshold
        return lo
    dl, dh = mag - _VALUES[lo], _VALUES[hi] - mag
    if dl != dh:
        return lo if dl < dh else hi
    return lo if lo % 2 == 0 else hi                         # tie: even significand


def fma_ref(a, b, c):
    fa, fb, fc = (float(np.uint16(v).view(np.float16)) for v in (a, b, c))
    r = fa * fb + fc                                         # float64: exact enough to classify specials
    if math.isnan(fa) or math.isnan(fb) or math.isnan(fc) or math.isnan(r):
        return "nan"
    if math.isinf(r):
        return 0xFC00 if r < 0 else 0x7C00
    exact = Fraction(fa) * Fraction(fb) + Fraction(fc)
    if exact == 0:
        return 0x8000 if math.copysign(1.0, r) < 0 else 0      # IEEE signed-zero rules via float64
    sign = 0x8000 if exact < 0 else 0
    if abs(exact) >= _OVERFLOW:
        return sign | 0x7C00
    return sign | int(_POS[_nearest(abs(exact))])
