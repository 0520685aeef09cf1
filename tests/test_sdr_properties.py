"""Property-based invariants of SDR compression (hypothesis), with values biased to the corners: the most
negative value, the largest magnitude, zero, and powers of two and their neighbours (where the razoring point
and the rounding carry move)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import golden as G
from golden.sdr import razor

FORMATS = [(16, 4), (16, 8), (8, 4), (10, 3), (16, 6), (8, 8)]


def corner_values(bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    near = [s * ((1 << k) + d) for k in range(bits - 1) for d in (-1, 0, 1) for s in (1, -1)]
    corners = st.sampled_from(sorted({v for v in [lo, hi, 0, 1, -1, lo + 1, *near] if lo <= v <= hi}))
    return st.one_of(corners, st.integers(lo, hi))


@st.composite
def groups(draw, max_groups=4):
    base, kept = draw(st.sampled_from(FORMATS))
    g = draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    n = draw(st.integers(1, max_groups))
    x = np.array(draw(st.lists(corner_values(base), min_size=n * g, max_size=n * g)), np.int64).reshape(n, g)
    return G.SDRFormat(base, kept, g), x


@given(groups())
def test_razor_is_idempotent(case):
    fmt, x = case
    once = razor(x, fmt)
    np.testing.assert_array_equal(razor(once, fmt), once)


@given(groups())
def test_error_within_the_groups_step(case):
    """|razor(x) - x| <= step / 2 (round to nearest), < step under the overflow guard, after the most negative
    value saturates to -(2^(b-1) - 1)."""
    fmt, x = case
    t = G.compress(x, fmt)
    step = 1 << t.flags.astype(np.int64)                       # (groups, 1): one group per row
    xs = np.maximum(x, -fmt.max_mag)
    err = np.abs(G.decompress(t).astype(np.int64) - xs)
    guard = np.abs(t.codes) == fmt.max_code
    half = np.broadcast_to(step // 2, err.shape)
    assert (err[~guard] <= half[~guard]).all()
    assert (err < step).all()


@given(groups(), st.data())
def test_exact_on_representable_values(case, data):
    """Values that are a code shifted by the group's flag come back exactly."""
    fmt, x = case
    flags = G.compress(x, fmt).flags.astype(np.int64)[:, 0]
    codes = np.array(data.draw(st.lists(st.integers(-fmt.max_code, fmt.max_code), min_size=x.size,
                                        max_size=x.size)), np.int64).reshape(x.shape)
    y = codes << flags[:, None]
    # keep the group's flag: its absolute maximum must reach the razoring point, so plant one element there
    y[:, 0] = np.where(flags > 0, fmt.max_code << flags, y[:, 0])
    y = np.clip(y, -fmt.max_mag, fmt.max_mag)
    t = G.compress(y, fmt)
    np.testing.assert_array_equal(t.flags.astype(np.int64)[:, 0], flags)
    np.testing.assert_array_equal(G.decompress(t), y)


@given(groups(max_groups=1), corner_values(16))
def test_flags_are_monotone_in_the_groups_absolute_maximum(case, extra):
    """Raising one element's magnitude never lowers the flag; the flag depends only on the OR of magnitudes."""
    fmt, x = case
    f0 = int(G.compress(x, fmt).flags[0, 0])
    y = x.copy()
    bigger = min(abs(int(extra)) % (1 << (fmt.base_bits - 1)), fmt.max_mag)
    y[0, 0] = min(max(abs(int(x[0, 0])), bigger), fmt.max_mag)
    assert int(G.compress(y, fmt).flags[0, 0]) >= f0
    np.testing.assert_array_equal(G.compress(np.abs(np.maximum(x, -fmt.max_mag)), fmt).flags,
                                  G.compress(x, fmt).flags)


@given(groups())
def test_packed_round_trip_and_sign_symmetry(case):
    fmt, x = case
    t = G.compress(x, fmt)
    u = G.unpack(G.pack(t))
    np.testing.assert_array_equal(u.codes, t.codes)
    np.testing.assert_array_equal(u.flags, t.flags)
    xs = np.maximum(x, -fmt.max_mag)                # negation is exact once the most negative value saturated
    np.testing.assert_array_equal(razor(-xs, fmt), -razor(xs, fmt))
