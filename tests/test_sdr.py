"""SDR compression: exactness, error bound, overflow guard, the decisions of docs/number-formats.md."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import golden as G

FORMATS = [G.SDRFormat(b, k, g) for b, k in [(16, 4), (16, 8), (8, 4), (8, 8), (12, 5)] for g in (8, 16, 32, 128)]


def base_array(fmt, shape):
    lo, hi = -(1 << (fmt.base_bits - 1)), (1 << (fmt.base_bits - 1)) - 1
    return hnp.arrays(np.int32, shape, elements=st.integers(lo, hi))


@st.composite
def fmt_and_data(draw):
    fmt = draw(st.sampled_from(FORMATS))
    rows = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    # Scale down some draws so that small leading ones (flag 0, 1, ...) are well covered.
    x = draw(base_array(fmt, (rows, groups * fmt.group_size)))
    x = x >> draw(st.integers(0, fmt.base_bits - 1))
    return fmt, x


@given(fmt_and_data())
def test_vectorized_equals_algorithm1_transcription(case):
    fmt, x = case
    for axis in (1, -1):
        t, r = G.compress(x, fmt, axis=axis), G.compress_reference(x, fmt, axis=axis)
        np.testing.assert_array_equal(t.codes, r.codes)
        np.testing.assert_array_equal(t.flags, r.flags)


@given(fmt_and_data())
def test_error_bound_and_guard(case):
    fmt, x = case
    t = G.compress(x, fmt)
    f = t.flags_per_element().astype(np.int64)
    xs = np.clip(x, -fmt.max_mag, fmt.max_mag).astype(np.int64)     # most negative value saturates
    err = np.abs(xs - G.decompress(t).astype(np.int64))
    half_step = np.where(f > 0, 1 << np.maximum(f - 1, 0), 0)
    guard = (np.abs(xs) >> f) == fmt.max_code
    assert (err[~guard] <= half_step[~guard]).all()
    assert (err[guard] < (1 << f[guard])).all()                      # guard floors: below one step
    assert (np.abs(t.codes) <= fmt.max_code).all()
    assert (t.flags <= fmt.max_flag).all()


@given(fmt_and_data())
def test_exact_when_flag_is_zero(case):
    fmt, x = case
    x = np.clip(x >> (fmt.base_bits - fmt.kept_bits), -fmt.max_code, fmt.max_code)  # magnitudes fit the kept bits
    t = G.compress(x, fmt)
    assert (t.flags == 0).all()
    np.testing.assert_array_equal(G.decompress(t), x)


@pytest.mark.parametrize("fmt", [G.SDRFormat(16, 4, 2), G.SDRFormat(16, 8, 2), G.SDRFormat(8, 4, 2)])
def test_every_element_against_every_razoring_point(fmt):
    """Exhaustive: each base value x paired with a leader that puts the leading one at every p >= |x|'s."""
    n, cases = fmt.mag_bits, 0
    for p in range(-1, fmt.base_bits - 1):
        hi = (1 << (p + 1)) - 1
        x = np.arange(-hi, hi + 1)
        leader = np.full_like(x, (1 << p) if p >= 0 else 0)
        t = G.compress(np.stack([x, leader], axis=1), fmt)
        flag = max(0, p + 1 - n)
        assert (t.flags == flag).all()
        m = np.abs(x)
        kept = m >> flag
        rnd = (m >> max(flag - 1, 0)) & 1 if flag else np.zeros_like(m)
        expect = np.where(kept == fmt.max_code, kept, kept + rnd) * np.sign(x)
        np.testing.assert_array_equal(t.codes[:, 0], expect)
        cases += x.size
    assert cases == sum(2 ** (p + 2) - 1 for p in range(-1, fmt.base_bits - 1))


def test_named_corner_cases():
    fmt = G.SDRFormat(16, 4, 4)
    x = np.array([
        [0, 0, 0, 0],                    # all-zero group: flag 0, codes 0
        [-32768, 1, 2, 3],               # most negative saturates to -32767 -> 7 << 12 (guard floors)
        [0x7FFF, 0x7800, 0x7000, 0x0800],  # all-ones kept bits: guard; 0x0800 rounds up to 1
        [-1, -2, -3, -2048],             # negative values round to 0: no negative zero
        [0b1111, 0b1110, 0b1101, 0b0001],  # leading one at bit 3: flag 1; 0b1111 guarded, 0b1101 -> 7
    ], dtype=np.int16)
    t = G.compress(x, fmt)
    np.testing.assert_array_equal(t.flags[:, 0], [0, 12, 12, 9, 1])
    np.testing.assert_array_equal(t.codes, [
        [0, 0, 0, 0],
        [-7, 0, 0, 0],
        [7, 7, 7, 1],
        [0, 0, 0, -4],
        [7, 7, 7, 1],
    ])
    np.testing.assert_array_equal(G.unpack(G.pack(t)).codes, t.codes)


def test_leading_one():
    np.testing.assert_array_equal(G.leading_one([0, 1, 2, 3, 0x7FFF, 0x8000]), [-1, 0, 1, 1, 14, 15])


def test_grouping_axis_is_honoured():
    rng = np.random.default_rng(1)
    x = rng.integers(-500, 500, size=(16, 32)).astype(np.int16)
    t0, t1 = G.compress(x, G.A16_K4, axis=0), G.compress(x.T, G.A16_K4, axis=1)
    np.testing.assert_array_equal(t0.codes, t1.codes.T)
    np.testing.assert_array_equal(t0.flags, t1.flags.T)
    assert t0.flags.shape == (1, 32)
