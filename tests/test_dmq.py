"""The dynamic max-scaled quantization (DMQ) golden model (golden.dmq): the vectorized quantizer against a
per-element transcription, the rounding error bound, exhaustive small spaces, the dot product against the
dequantized values, and clear errors for bad input. The RTL units (hdl.dmq) are checked against these functions
by the registry's generic tests (tests/test_units_inprocess.py, sim/test_units.py)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import golden.dmq as D
from golden.mac import accumulate
from hdl.catalog import dmq_corner_groups

FORMATS = [(16, 4), (8, 4), (16, 8), (10, 3)]


def corner_values(bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    near = [s * ((1 << k) + d) for k in range(bits - 1) for d in (-1, 0, 1) for s in (1, -1)]
    return st.one_of(st.sampled_from(sorted({v for v in [lo, hi, 0, 1, -1, *near] if lo <= v <= hi})),
                     st.integers(lo, hi))


@st.composite
def groups(draw):
    base, kept = draw(st.sampled_from(FORMATS))
    g = draw(st.sampled_from([1, 2, 4, 8, 16]))
    n = draw(st.integers(1, 4))
    x = np.array(draw(st.lists(corner_values(base), min_size=n * g, max_size=n * g)), np.int64).reshape(n, g)
    return D.DMQFormat(base, kept, g), x


@given(groups())
def test_vectorized_equals_transcription(case):
    fmt, x = case
    a, b = D.dmq_compress(x, fmt), D.dmq_reference(x, fmt)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.scales, b.scales)


@given(groups())
def test_error_is_at_most_half_a_step(case):
    """``|code * m / Q - x| <= m / (2Q)`` after saturating the most negative value; the scale is the maximum."""
    fmt, x = case
    t = D.dmq_compress(x, fmt)
    xs = np.clip(x, -fmt.max_mag, fmt.max_mag)
    m = np.abs(xs).max(axis=1)
    np.testing.assert_array_equal(t.scales[:, 0], m)
    err = np.abs(D.dmq_decompress(t) * fmt.qmax - xs * fmt.qmax)        # in units of 1/Q
    assert (err <= m[:, None] / 2 + 1e-9).all()
    assert (np.abs(t.codes) <= fmt.qmax).all()
    assert not ((t.codes == 0) & (np.signbit(t.codes.astype(float)))).any()


def test_exhaustive_pairs_w8():
    """Every pair of W8 values as a group of two: codes equal the transcription, the group's largest magnitude
    always codes to +-Q, ties round up."""
    fmt = D.W8_DMQ4.with_group(2)
    v = np.arange(-128, 128)
    x = np.stack(np.meshgrid(v, v, indexing="ij"), -1).reshape(-1, 2)
    a, b = D.dmq_compress(x, fmt), D.dmq_reference(x, fmt)
    np.testing.assert_array_equal(a.codes, b.codes)
    big = np.argmax(np.minimum(np.abs(x), 127), axis=1)
    nz = a.scales[:, 0] > 0
    assert (np.abs(a.codes[np.arange(len(x)), big])[nz] == fmt.qmax).all()
    t = D.dmq_compress(np.array([[14, 1]]), fmt)        # 7 * 1 / 14 = 0.5 exactly: rounds up to 1
    assert t.codes.tolist() == [[7, 1]]


@pytest.mark.parametrize("g", [8, 16, 128])
def test_corner_groups_match_the_transcription(g):
    fmt = D.A16_DMQ4.with_group(g)
    x = dmq_corner_groups(fmt)
    a, b = D.dmq_compress(x, fmt, axis=1), D.dmq_reference(x, fmt, axis=1)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.scales, b.scales)


def test_razor_short_group_and_axis():
    fmt = D.A16_DMQ4.with_group(16)
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, (3, 40))
    out = D.dmq_razor(x, fmt, axis=1)
    assert out.shape == x.shape
    tail = D.dmq_razor(x[:, 32:], fmt.with_group(8), axis=1)      # the short last group is a group of its own
    np.testing.assert_allclose(out[:, 32:], tail)
    np.testing.assert_allclose(D.dmq_razor(x.T, fmt, axis=0), out.T)


@pytest.mark.parametrize("lanes,g", [(16, 16), (16, 8), (16, 64), (8, 2)])
def test_dot_equals_the_dequantized_product(lanes, g):
    """The unit's integer sum, divided by ``Qa * Qw``, is the dot product of the dequantized operands."""
    rng = np.random.default_rng(lanes * g)
    fa, fw = D.A16_DMQ4.with_group(g), D.W8_DMQ4.with_group(g)
    k = int(np.lcm(lanes, g)) * 4
    a, w = rng.integers(-2 ** 15, 2 ** 15, k), rng.integers(-128, 128, k)
    ta, tw = D.dmq_compress(a, fa), D.dmq_compress(w, fw)
    sub, n = max(1, lanes // g), k // lanes
    per = lanes // sub
    step = D.dot_dmq(ta.codes.reshape(n, lanes), ta.scales_per_element().reshape(n, sub, per)[:, :, 0],
                     tw.codes.reshape(n, lanes), tw.scales_per_element().reshape(n, sub, per)[:, :, 0], fa, fw)
    acc = accumulate(step, width=40)[-1]
    want = float(D.dmq_decompress(ta) @ D.dmq_decompress(tw))
    assert acc / (fa.qmax * fw.qmax) == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_bad_input_is_named():
    fmt = D.A16_DMQ4
    with pytest.raises(ValueError, match="kept_bits"):
        D.DMQFormat(8, 9, 16)
    with pytest.raises(ValueError, match="group_size"):
        D.DMQFormat(16, 4, 12)
    with pytest.raises(TypeError, match="DMQFormat"):
        D.dmq_compress(np.zeros(16, np.int64), "A16")
    with pytest.raises(ValueError, match="does not divide"):
        D.dmq_compress(np.zeros(20, np.int64), fmt)
    with pytest.raises(ValueError, match="code magnitude 8"):
        D.DMQTensor(np.full(16, 8, np.int8), np.zeros(1, np.uint16), fmt, 0)
    with pytest.raises(ValueError, match="scale 40000"):
        D.DMQTensor(np.zeros(16, np.int8), np.array([40000], np.int64), fmt, 0)
    with pytest.raises(ValueError, match="scales"):
        D.dot_dmq(np.zeros((2, 16)), np.zeros((2, 3)), np.zeros((2, 16)), np.zeros((2, 3)), fmt, D.W8_DMQ4)
    with pytest.raises(ValueError, match="within"):
        D.dot_dmq(np.full((1, 16), -8), np.zeros((1, 1), np.int64), np.zeros((1, 16), np.int64),
                  np.zeros((1, 1), np.int64), fmt, D.W8_DMQ4)
