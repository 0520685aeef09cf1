import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import golden as G


@given(st.sampled_from([(16, 4), (16, 8), (8, 4), (10, 3), (16, 6)]),
       st.sampled_from([1, 2, 8, 16, 32, 128]), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_round_trip(bk, g, groups, seed):
    fmt = G.SDRFormat(*bk, g)
    rng = np.random.default_rng(seed)
    hi = 1 << (fmt.base_bits - 1)
    x = rng.integers(-hi, hi, size=(3, groups * g)) >> rng.integers(0, fmt.base_bits, size=(3, 1))
    for axis in (0, 1) if g <= 2 else (1,):
        if x.shape[axis] % g:
            continue
        t = G.compress(x, fmt, axis=axis)
        u = G.unpack(G.pack(t))
        np.testing.assert_array_equal(u.codes, t.codes)
        np.testing.assert_array_equal(u.flags, t.flags)
        assert u.axis == t.axis and u.fmt == t.fmt


@pytest.mark.parametrize("g, bits", [(8, 4.5), (16, 4.25), (32, 4.125), (64, 4.0625), (128, 4.03125)])
def test_effective_bits(g, bits):
    x = np.random.default_rng(0).integers(-30000, 30000, size=(64, 1024)).astype(np.int16)
    p = G.pack(G.compress(x, G.SDRFormat(16, 4, g)))
    assert p.nbytes == x.size // 2 + x.size // g // 2
    assert p.bits_per_element == bits == G.SDRFormat(16, 4, g).bits_per_element


def _packed(x=None):
    x = np.arange(-32, 32, dtype=np.int16) if x is None else x
    return G.pack(G.compress(x, G.SDRFormat(16, 4, 16)))


def test_truncated_data_is_rejected():
    p = _packed()
    bad = G.PackedSDR(p.elements[:-1], p.flags, p.shape, p.fmt, p.axis)
    with pytest.raises(ValueError, match=r"packed element section is 31 bytes, expected 32 for 64 fields of 4 bits"):
        G.unpack(bad)


def test_negative_zero_is_rejected():
    p = _packed()
    data = bytearray(p.elements)
    data[0] = 0x08                     # element 0: sign 1, magnitude 0
    with pytest.raises(ValueError, match="negative zero"):
        G.unpack(G.PackedSDR(bytes(data), p.flags, p.shape, p.fmt, p.axis))


def test_flag_out_of_range_is_rejected():
    p = _packed()
    with pytest.raises(ValueError, match=r"packed flag 15 exceeds the largest flag 12"):
        G.unpack(G.PackedSDR(p.elements, bytes([0xFF, 0xFF]), p.shape, p.fmt, p.axis))


def test_nonzero_padding_is_rejected():
    p = G.pack(G.compress(np.arange(16, dtype=np.int16), G.SDRFormat(16, 4, 16)))
    with pytest.raises(ValueError, match="non-zero padding"):
        G.unpack(G.PackedSDR(p.elements, bytes([p.flags[0] | 0xF0]), p.shape, p.fmt, p.axis))
