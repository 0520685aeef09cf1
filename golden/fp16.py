"""Bit-exact model of the FP16 MAC: IEEE 754 binary16 operands and accumulator, fused multiply-add.

Per enabled cycle ``acc <= fma(a, b, acc)`` = ``a * b + acc`` computed exactly and rounded **once** to
binary16, round to nearest, ties to even. Subnormals are supported in and out (no flush to zero); a result
whose magnitude rounds above 65504 is +-Inf. ``load`` uses ``-0`` as the addend (the identity of
addition, so the result is ``a * b`` rounded, signed zeros included). Reset sets ``acc`` to ``+0``.

Special cases, as IEEE 754 specifies them: any NaN operand, ``Inf * 0``, or ``Inf - Inf`` gives NaN; the
unit always returns the canonical quiet NaN ``0x7E00`` (payloads are not propagated). An exact zero sum is
``+0`` unless both addends are ``-0``; a non-zero sum that rounds to zero keeps its sign.

All values are handled as ``uint16`` bit patterns.
"""

import numpy as np

__all__ = ["CANONICAL_NAN", "NEG_ZERO", "fma", "fp16_mac_stream", "is_nan", "to_float", "from_float"]

# binary16 layout (IEEE 754): sign bit 15, exponent bits 14..10, fraction bits 9..0
SIGN_BIT, EXP_BITS, FRAC_BITS = 15, 5, 10
CANONICAL_NAN = 0x7E00
NEG_ZERO = 0x8000
_EXP_MASK, _MAN_MASK = 0x7C00, 0x03FF


def is_nan(h):
    h = np.asarray(h, dtype=np.uint16)
    return ((h & _EXP_MASK) == _EXP_MASK) & ((h & _MAN_MASK) != 0)


def to_float(h):
    return np.asarray(h, dtype=np.uint16).view(np.float16)


def from_float(x):
    return np.asarray(x, dtype=np.float16).view(np.uint16)


def _decode(h):
    """(sign, kind, significand, exponent): value = significand * 2**exponent for finite numbers."""
    s, e, m = h >> 15, (h >> 10) & 0x1F, h & _MAN_MASK
    if e == 0x1F:
        return s, ("nan" if m else "inf"), 0, 0
    if e == 0:
        return s, "fin", m, -24
    return s, "fin", m | 0x400, e - 25


def _round_to_fp16(sign, n):
    """Round ``(-1)**sign * n * 2**-48`` (``n`` > 0 integer) to binary16, ties to even."""
    shift = max(n.bit_length() - 11, 24)
    q, rem = n >> shift, n & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and q & 1):
        q += 1
    if q == 1 << 11:
        q, shift = q >> 1, shift + 1
    if q < 1 << 10:                       # subnormal (or zero), shift is 24
        return (sign << 15) | q
    e = shift - 23
    if e >= 0x1F:
        return (sign << 15) | _EXP_MASK   # overflow to Inf
    return (sign << 15) | (e << 10) | (q & _MAN_MASK)


def _fma1(a, b, c):
    a, b, c = int(a), int(b), int(c)
    sa, ka, ma, ea = _decode(a)
    sb, kb, mb, eb = _decode(b)
    sc, kc, mc, ec = _decode(c)
    sp = sa ^ sb
    if "nan" in (ka, kb, kc):
        return CANONICAL_NAN
    if ka == "inf" or kb == "inf":
        if (ka == "fin" and ma == 0) or (kb == "fin" and mb == 0):
            return CANONICAL_NAN          # Inf * 0
        if kc == "inf" and sc != sp:
            return CANONICAL_NAN          # Inf - Inf
        return (sp << 15) | _EXP_MASK
    if kc == "inf":
        return c
    prod = ma * mb << (ea + eb + 48)      # exact, in units of 2**-48
    addend = mc << (ec + 48)
    n = (-prod if sp else prod) + (-addend if sc else addend)
    if n == 0:
        return NEG_ZERO if (sp and sc and prod == 0 and addend == 0) else 0
    return _round_to_fp16(int(n < 0), abs(n))


_fma_vec = np.frompyfunc(_fma1, 3, 1)


def _bits(name, x):
    """``x`` as ``uint16`` bit patterns: integers in [0, 0xFFFF] (floats are refused: ``from_float`` converts)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must be binary16 bit patterns (integers), not dtype {x.dtype}; "
                        f"use fp16.from_float() to convert floats")
    if x.size and (int(x.min()) < 0 or int(x.max()) > 0xFFFF):
        bad = int(x.min()) if int(x.min()) < 0 else int(x.max())
        raise ValueError(f"{name} holds {bad}, not a 16-bit pattern in [0, 0xFFFF]")
    return x.astype(np.uint16)


def fma(a, b, c):
    """Fused ``a * b + c`` on binary16 bit patterns (arrays broadcast), one rounding."""
    out = _fma_vec(_bits("a", a), _bits("b", b), _bits("c", c))
    return np.asarray(out).astype(np.uint16)


def fp16_mac_stream(a, b, load=None, en=None, init=0):
    """Accumulator (bit pattern) after each cycle for streams of binary16 operands."""
    a = _bits("a", a).reshape(-1)
    b = _bits("b", b).reshape(-1)
    n = a.size
    if b.size != n:
        raise ValueError(f"a and b must have one entry per cycle, got {a.size} and {b.size}")
    load = np.zeros(n, bool) if load is None else np.asarray(load, bool).reshape(-1)
    en = np.ones(n, bool) if en is None else np.asarray(en, bool).reshape(-1)
    if load.size != n or en.size != n:
        raise ValueError(f"load and en must have one entry per cycle ({n}), got {load.size} and {en.size}")
    out = np.empty(n, np.uint16)
    acc = int(init)
    for i in range(n):
        if en[i]:
            acc = _fma1(a[i], b[i], NEG_ZERO if load[i] else acc)
        out[i] = acc
    return out
