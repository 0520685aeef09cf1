"""FP16 MAC model against an independent exact reference, and NumPy float16 where NumPy is exact."""

import numpy as np
import pytest
from fp16_reference import fma_ref
from hypothesis import given
from hypothesis import strategies as st

import golden as G

F = G.fp16


def check(a, b, c):
    got = int(F.fma(a, b, c))
    ref = fma_ref(a, b, c)
    if ref == "nan":
        assert got == F.CANONICAL_NAN, (hex(a), hex(b), hex(c), hex(got))
    else:
        assert got == ref, (hex(a), hex(b), hex(c), hex(got), hex(ref))


bits16 = st.integers(0, 0xFFFF)
# values with small exponents (subnormal region) and near-overflow, where the hard cases live
subnormal = st.integers(0, 0x07FF).map(lambda m: m) | st.integers(0x8000, 0x87FF)
large = st.integers(0x5800, 0x7BFF) | st.integers(0xD800, 0xFBFF)


@given(bits16, bits16, bits16)
def test_random_bit_patterns(a, b, c):
    check(a, b, c)


@given(subnormal | bits16, subnormal | bits16, subnormal)
def test_subnormal_region(a, b, c):
    check(a, b, c)


@given(large, large, large | bits16)
def test_overflow_region(a, b, c):
    check(a, b, c)


SPECIALS = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
            0x7E00, 0x7C01, 0xFE00, 0x3555, 0x0200]


@pytest.mark.parametrize("a", SPECIALS)
def test_special_value_cross_product(a):
    for b in SPECIALS:
        for c in SPECIALS:
            check(a, b, c)


def test_named_cases():
    h = F.from_float
    assert int(F.fma(h(65504.0), h(1.0), h(16.0))) == 0x7C00          # tie at max+half ulp -> Inf
    assert int(F.fma(h(65504.0), h(1.0), h(15.0))) == 0x7BFF
    assert int(F.fma(0x0001, 0x3800, 0x0000)) == 0x0000               # 2**-25: tie, even -> +0
    assert int(F.fma(0x0001, 0xB800, 0x0000)) == 0x8000               # keeps the sign: -0
    assert int(F.fma(0x7C00, 0x0000, 0x3C00)) == F.CANONICAL_NAN      # Inf * 0
    assert int(F.fma(0x7C00, 0x3C00, 0xFC00)) == F.CANONICAL_NAN      # Inf - Inf
    assert int(F.fma(0x3C00, 0x3C00, 0xBC00)) == 0x0000               # x - x = +0
    assert int(F.fma(0x8000, 0x3C00, 0x8000)) == 0x8000               # -0 + -0 = -0


def test_matches_numpy_where_numpy_is_exact():
    """Products and sums of small-range values are exact in float64, so float16(f64) is a single rounding."""
    rng = np.random.default_rng(3)
    a = rng.uniform(-4, 4, 20000).astype(np.float16)
    b = rng.uniform(-4, 4, 20000).astype(np.float16)
    c = rng.uniform(-16, 16, 20000).astype(np.float16)
    ref = (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float16)
    np.testing.assert_array_equal(F.fma(F.from_float(a), F.from_float(b), F.from_float(c)), ref.view(np.uint16))


def test_mac_stream_load_enable():
    h = F.from_float
    a = h([1.0, 2.0, 3.0, 4.0, 0.0])
    b = h([1.0, 1.0, 1.0, 1.0, -1.0])
    out = F.fp16_mac_stream(a, b, load=[1, 0, 1, 0, 1], en=[1, 1, 1, 0, 1])
    assert F.to_float(out[:4]).tolist() == [1.0, 3.0, 3.0, 3.0]
    assert int(out[4]) == 0x8000                                       # load: -0 addend keeps 0 * -1 = -0
    with pytest.raises(ValueError, match="one entry per cycle"):
        F.fp16_mac_stream(a, b[:3])
