"""golden.fp16's fused multiply-add against an independent, trusted oracle: GNU MPFR (through gmpy2) with a
binary16 context (11-bit precision, exponent range of binary16, subnormals emulated by ``subnormalize``), which
rounds ``a * b + c`` once, to nearest even, with IEEE 754's overflow and signed-zero rules. The RTL is equal
to golden.fp16 on every bench vector and by the FP16 proofs, so this closes the chain to correct rounding.

The oracle knows nothing of golden.fp16 (nor of tests/fp16_reference.py): NaN results compare as NaN (golden
gives the canonical 0x7E00, the oracle any NaN), everything else bit for bit, both zeros' signs included.
"""

import gmpy2
import numpy as np
import pytest

from golden import fp16

ALL = np.arange(1 << 16, dtype=np.int64)
FP16 = gmpy2.context(precision=11, emin=-23, emax=16, subnormalize=True, round=gmpy2.RoundToNearest)


def _values(bits):
    return np.asarray(bits, np.int64).astype(np.uint16).view(np.float16).astype(np.float64).tolist()


def mpfr_fma(a, b, c):
    """Correctly rounded binary16 ``a * b + c`` of bit-pattern arrays (broadcast), by MPFR; NaN as 0x7E00."""
    a, b, c = np.broadcast_arrays(*(np.asarray(x, np.int64) & 0xFFFF for x in (a, b, c)))
    with gmpy2.context(FP16):
        mp = [gmpy2.mpfr(v) for v in _values(ALL)]            # by bit pattern: +0 and -0 stay apart
        fma = gmpy2.fma
        r = [float(fma(mp[x], mp[y], mp[z])) for x, y, z in zip(a.ravel().tolist(), b.ravel().tolist(),
                                                                  c.ravel().tolist())]
    r = np.array(r, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):       # every value is exactly a binary16 value
        out = r.astype(np.float16).view(np.uint16).astype(np.int64)
    out[np.isnan(r)] = 0x7E00
    return out.reshape(a.shape)


def _compare(a, b, c):
    want = mpfr_fma(a, b, c)
    got = fp16.fma(a, b, c).astype(np.int64)
    nan_w, nan_g = fp16.is_nan(want), fp16.is_nan(got)
    bad = np.flatnonzero((nan_w != nan_g) | (~nan_w & (want != got)))
    a, b, c = np.broadcast_arrays(a, b, c)
    first = [f"fma({int(a.flat[i]):#06x}, {int(b.flat[i]):#06x}, {int(c.flat[i]):#06x}): MPFR "
             f"{int(want.flat[i]):#06x}, golden {int(got.flat[i]):#06x}" for i in bad[:5]]
    assert bad.size == 0, f"{bad.size} of {want.size} results differ from MPFR: {first}"
    return want.size


def _mpfr_rounding_is_binary16():
    """The context itself, against facts of binary16: 65504 + 16 overflows (ties away from the largest
    finite value go to even: infinity), 2^-25 (half the smallest subnormal) rounds to +0, 3 * 2^-25 to 2^-23,
    1 + (-1) is +0 and (-0) + (-0) is -0."""
    with gmpy2.context(FP16):
        m = gmpy2.mpfr
        assert float(gmpy2.fma(m(65504.0), m(1.0), m(16.0))) == float("inf")
        assert float(gmpy2.fma(m(65504.0), m(1.0), m(15.0))) == 65504.0
        assert float(gmpy2.fma(m(2.0 ** -24), m(0.5), m(0.0))) == 0.0
        assert float(gmpy2.fma(m(3 * 2.0 ** -24), m(0.5), m(0.0))) == 2.0 ** -23
        assert str(float(gmpy2.fma(m(1.0), m(1.0), m(-1.0)))) == "0.0"
        assert str(float(gmpy2.fma(m(-1.0), m(0.0), m(-0.0)))) == "-0.0"


def test_oracle_is_binary16():
    _mpfr_rounding_is_binary16()


def _ties(a, b):
    """How many exact products ``a * b`` (float64 holds them exactly) lie halfway between two binary16 values."""
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.asarray(_values(a), np.float64) * np.asarray(_values(b), np.float64)
    ok = np.isfinite(p)
    with gmpy2.context(FP16, round=gmpy2.RoundToZero):
        lo = np.array([float(gmpy2.mpfr(x)) for x in p[ok].tolist()])
    with gmpy2.context(FP16, round=gmpy2.RoundAwayZero):
        hi = np.array([float(gmpy2.mpfr(x)) for x in p[ok].tolist()])
    return int(((lo != hi) & (2 * p[ok] == lo + hi)).sum())


# b: every exponent of binary16 (significand 1.5 or the odd 1.1111111111b, which makes long carries), zeros, one,
# the smallest subnormal, infinity, a NaN and negative values
_EXPS = [(e << 10) | (0x3FF if e % 2 else 0x200) for e in range(0, 31)]
B_SLICE = np.array(sorted(set(_EXPS + [0x0000, 0x0001, 0x3C00, 0x7C00, 0x7E00, 0xBC00, 0x8001])), np.int64)


@pytest.mark.parametrize("c", [0x0000, 0x8000, 0xBC00, 0x0001, 0xFBFF])
def test_every_a_times_a_slice_of_b(c):
    """Every binary16 ``a`` (65,536 patterns) times every ``b`` of ``B_SLICE`` plus a fixed ``c``: exhaustive
    in ``a``, every exponent in ``b``."""
    a = ALL[:, None]
    n = _compare(a, B_SLICE[None, :], np.int64(c))
    assert n == 65536 * B_SLICE.size


def test_rounding_ties():
    """Every ``a`` times significands of ``b`` that make halfway products (``c = +0`` and ``-0``): the slice has
    thousands of ties, each rounded to even as MPFR does."""
    b = np.array([0x3E00, 0x3D00, 0x3F00, 0x0600, 0x0200, 0xBE00], np.int64)   # 1.5, 1.25, 1.75, ...
    a = ALL[:, None]
    ties = _ties(np.broadcast_to(a, (65536, b.size)).ravel(), np.broadcast_to(b[None, :], (65536, b.size)).ravel())
    assert ties > 1000, f"only {ties} ties in the slice"
    for c in (0x0000, 0x8000):
        _compare(a, b[None, :], np.int64(c))
    print(f"{ties} halfway products, each rounded as MPFR rounds it")


def test_random_triples():
    """500,000 uniformly random bit-pattern triples (every class: NaN, infinities, subnormals, zeros)."""
    rng = np.random.default_rng(2026)
    a, b, c = rng.integers(0, 1 << 16, (3, 500_000))
    _compare(a, b, c)


def test_random_triples_near_cancellation():
    """200,000 triples with ``c`` close to ``-a * b`` (massive cancellation, exact zeros and their signs)."""
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 0x7C00, (2, 200_000)) | (rng.integers(0, 2, (2, 200_000)) << 15)
    p = np.asarray(_values(a)) * np.asarray(_values(b))
    with np.errstate(over="ignore"):
        c = np.asarray(-p, np.float16).view(np.uint16).astype(np.int64)
    c = (c + rng.integers(-2, 3, c.size)) & 0xFFFF
    _compare(a, b, c)


@pytest.mark.slow
def test_every_a_times_every_b_of_a_binade():
    """``make test-full``: every ``a`` times every ``b`` in [1, 2) (1,024 significands), ``c = -2^-14`` (the
    smallest normal, which every small product cancels against): 67 M products, a few minutes."""
    b = np.arange(0x3C00, 0x4000, dtype=np.int64)
    for lo in range(0, b.size, 64):
        _compare(ALL[:, None], b[None, lo:lo + 64], np.int64(0x8400))
