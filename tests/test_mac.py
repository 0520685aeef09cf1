"""Integer MAC models: decompression-free == conventional, exhaustively per step; the shared accumulator."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import golden as G

A, W = G.A16_K4, G.W8_K4


@pytest.mark.parametrize("fa_fmt, fw_fmt", [(G.A16_K4, G.W8_K4), (G.A16_K8, G.W8_K4), (G.KV8_K4, G.KV8_K4)])
def test_dfree_equals_conventional_exhaustively(fa_fmt, fw_fmt):
    """Every (code_a, flag_a, code_w, flag_w) of one MAC step."""
    ca, fa, cw, fw = (np.array(v).reshape(-1) for v in zip(*itertools.product(
        range(-fa_fmt.max_code, fa_fmt.max_code + 1), range(fa_fmt.max_flag + 1),
        range(-fw_fmt.max_code, fw_fmt.max_code + 1), range(fw_fmt.max_flag + 1))))
    d = G.dfree_product(ca, fa, cw, fw, fa_fmt, fw_fmt)
    c = G.conventional_product(ca, fa, cw, fw, fa_fmt, fw_fmt)
    # and both equal the product of the decompressed values computed here independently
    ref = [(a * 2**f) * (w * 2**v) for a, f, w, v in zip(ca.tolist(), fa.tolist(), cw.tolist(), fw.tolist())]
    np.testing.assert_array_equal(d, c)
    np.testing.assert_array_equal(d, ref)


def test_product_range_fits_the_datapath():
    """A16 x W8 with 4 kept bits: magnitude 7*7 shifted by up to 12+4 = 16 -> 22 bits."""
    p = G.dfree_product([7, -7], [12, 12], [7, 7], [4, 4], A, W)
    assert p.tolist() == [49 << 16, -(49 << 16)]
    assert abs(int(p[0])).bit_length() == 22


@given(st.lists(st.tuples(st.integers(-2**22, 2**22), st.booleans(), st.booleans()), min_size=1, max_size=60),
       st.sampled_from([8, 16, 32]))
def test_vectorized_accumulator_equals_stepwise(steps, width):
    prods, load, en = (list(v) for v in zip(*steps))
    acc = G.Accumulator(width)
    expect = [acc.step(p, e, ld) for p, ld, e in zip(prods, load, en)]
    np.testing.assert_array_equal(G.accumulate(prods, load, en, width), expect)


def test_accumulator_wraps():
    acc = G.Accumulator(32)
    acc.step(2**31 - 1)
    assert acc.step(1) == -2**31
    assert G.wrap(2**32 + 5) == 5


@given(st.integers(0, 2**32 - 1), st.sampled_from([8, 16, 32, 64]), st.integers(1, 4), st.integers(1, 5),
       st.integers(1, 3), st.sampled_from([4, 8]))
def test_gemm_dfree_equals_decompressed_matmul(seed, g, groups, m, n, ka):
    rng = np.random.default_rng(seed)
    k = g * groups
    x = rng.integers(-2**15, 2**15, size=(m, k)) >> rng.integers(0, 16, size=(m, 1))
    w = rng.integers(-2**7, 2**7, size=(n, k)) >> rng.integers(0, 8, size=(n, 1))
    a = G.compress(x, G.SDRFormat(16, ka, g), axis=1)
    b = G.compress(w, G.SDRFormat(8, 4, g), axis=1)
    np.testing.assert_array_equal(G.gemm_dfree(a, b), G.gemm_reference(a, b))
    # and a row through the streaming MAC (accumulate) ends where the GEMM says
    fa, fb = a.flags_per_element(), b.flags_per_element()
    acc = G.accumulate(G.dfree_product(a.codes[0], fa[0], b.codes[0], fb[0], a.fmt, b.fmt))
    assert acc[-1] == G.gemm_dfree(a, b)[0, 0]


def test_gemm_wraps_like_the_accumulator():
    a = G.compress(np.full((1, 4096), 32767, np.int16), G.SDRFormat(16, 8, 16), axis=1)
    w = G.compress(np.full((1, 4096), 127, np.int8), G.SDRFormat(8, 8, 16), axis=1)
    exact = 4096 * int(G.decompress(a)[0, 0]) * int(G.decompress(w)[0, 0])
    assert exact > 2**31
    assert G.gemm_dfree(a, w)[0, 0] == G.wrap(exact) == G.gemm_reference(a, w)[0, 0]


def test_int_products():
    assert G.int_product([-32768, 32767], [-128, 127], 16, 8).tolist() == [2**22, 32767 * 127]


@given(st.integers(0, 2**32 - 1), st.sampled_from([4, 8, 16, 32]), st.sampled_from([8, 16, 32, 128]),
       st.sampled_from([4, 8]), st.integers(1, 3))
def test_dot_unit_stream_equals_gemm(seed, lanes, g, ka, groups):
    """A row pair streamed through the L-lane dot-product step (one shift per group) and the accumulator ends
    at the golden GEMM's value, for g >= L (a group over several cycles) and g < L (several groups a cycle)."""
    rng = np.random.default_rng(seed)
    k = int(np.lcm(lanes, g)) * groups
    x = rng.integers(-2**15, 2**15, size=(1, k)) >> rng.integers(0, 16)
    w = rng.integers(-2**7, 2**7, size=(1, k)) >> rng.integers(0, 8)
    a, b = G.compress(x, G.SDRFormat(16, ka, g), axis=1), G.compress(w, G.SDRFormat(8, 4, g), axis=1)
    sub = max(1, lanes // g)
    fa = a.flags_per_element()[0].reshape(-1, sub, lanes // sub)[:, :, 0]
    fw = b.flags_per_element()[0].reshape(-1, sub, lanes // sub)[:, :, 0]
    step = G.dot_dfree(a.codes[0].reshape(-1, lanes), fa, b.codes[0].reshape(-1, lanes), fw, a.fmt, b.fmt)
    assert G.accumulate(step)[-1] == G.gemm_dfree(a, b)[0, 0] == G.gemm_reference(a, b)[0, 0]


def test_dot_int_equals_matmul():
    rng = np.random.default_rng(3)
    a, b = rng.integers(-2**15, 2**15, (50, 16)), rng.integers(-128, 128, (50, 16))
    assert G.dot_int(a, b, 16, 8).tolist() == [int(x) for x in (a * b).sum(axis=1)]


def test_dot_shape_errors():
    with pytest.raises(ValueError, match=r"3 flags per cycle do not divide 4 lanes"):
        G.dot_dfree(np.zeros((2, 4), int), np.zeros((2, 3), int), np.zeros((2, 4), int), np.zeros((2, 3), int),
                    G.A16_K4, G.W8_K4)
    with pytest.raises(ValueError, match=r"a codes must be 2-D \(cycles, lanes\), got shape \(4,\)"):
        G.dot_dfree(np.zeros(4, int), np.zeros((1, 1), int), np.zeros((1, 4), int), np.zeros((1, 1), int),
                    G.A16_K4, G.W8_K4)
    with pytest.raises(ValueError, match=r"w flags must be in \[0, 4\], got 5..5"):
        G.dot_dfree(np.zeros((1, 4), int), np.zeros((1, 1), int), np.zeros((1, 4), int), np.full((1, 1), 5),
                    G.A16_K4, G.W8_K4)
