"""Every bad input gets a clear error naming the value and what was expected."""

import numpy as np
import pytest

import golden as G


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(base_bits=17, kept_bits=4, group_size=16), ValueError, r"base_bits must be in \[3, 16\], not 17"),
    (dict(base_bits=16, kept_bits=1, group_size=16), ValueError, r"kept_bits must be in \[2, 8\], not 1"),
    (dict(base_bits=8, kept_bits=8.5, group_size=16), TypeError, r"kept_bits must be an integer, not 8.5"),
    (dict(base_bits=6, kept_bits=8, group_size=16), ValueError, r"kept_bits must be at most base_bits=6, not 8"),
    (dict(base_bits=16, kept_bits=4, group_size=24), ValueError,
     r"group_size must be a power of two in \[1, 4096\], not 24"),
    (dict(base_bits=16, kept_bits=4, group_size=8192), ValueError, r"group_size must be in \[1, 4096\], not 8192"),
    (dict(base_bits=16, kept_bits=4, group_size=True), TypeError, r"group_size must be an integer, not True"),
])
def test_format_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        G.SDRFormat(**kwargs)


def test_compress_wrong_dtype():
    with pytest.raises(TypeError, match="x must be an integer array, not dtype float32"):
        G.compress(np.zeros(16, np.float32), G.A16_K4)


def test_compress_out_of_range():
    with pytest.raises(ValueError, match=r"x holds 128, outside the 8-bit two's complement range \[-128, 127\]"):
        G.compress(np.full(16, 128, np.int16), G.W8_K4)


def test_group_does_not_divide_axis():
    with pytest.raises(ValueError, match="group_size 16 does not divide the grouping axis of length 24"):
        G.compress(np.zeros((2, 24), np.int16), G.A16_K4, axis=1)


def test_bad_axis():
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 1\], not 2"):
        G.compress(np.zeros((2, 16), np.int16), G.A16_K4, axis=2)


def test_fmt_type():
    with pytest.raises(TypeError, match="fmt must be an SDRFormat, not 16"):
        G.compress(np.zeros(16, np.int16), 16)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_in_float_tensors(bad):
    x = np.ones((2, 3), np.float32)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"x holds .* at index \(1, 2\) \(1 non-finite values\)"):
        G.absmax_scale(x, 8)
    with pytest.raises(ValueError, match="non-finite"):
        G.quantize(x, 1.0, 8)
    cal = G.Calibrator(16)
    with pytest.raises(ValueError, match="non-finite"):
        cal.observe(x)


def test_quantize_errors():
    with pytest.raises(TypeError, match="x must be a floating-point array, not dtype int64"):
        G.quantize(np.arange(4), 1.0, 8)
    with pytest.raises(ValueError, match=r"scale has shape \(2,\), expected \(3,\) for channel_axis=0"):
        G.quantize(np.zeros((3, 2)), np.ones(2), 8, channel_axis=0)
    with pytest.raises(ValueError, match="scale must be finite and positive"):
        G.quantize(np.zeros(3), 0.0, 8)
    with pytest.raises(ValueError, match=r"bits must be in \[2, 32\], not 1"):
        G.quantize(np.zeros(3), 1.0, 1)
    with pytest.raises(ValueError, match="a per-tensor scale must be a scalar"):
        G.quantize(np.zeros(3), np.ones(3), 8)
    with pytest.raises(ValueError, match="no batch observed yet"):
        _ = G.Calibrator(8).scale
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0,\)"):
        G.absmax(np.zeros(0))


def test_mac_operand_errors():
    with pytest.raises(ValueError, match=r"a codes holds 8, outside the 4-bit two's complement range"):
        G.dfree_product([8], [0], [1], [0], G.A16_K4, G.W8_K4)
    with pytest.raises(ValueError, match=r"w codes must be within \+-7 \(sign-magnitude, 4 bits\), got -8..1"):
        G.dfree_product([1], [0], [-8, 1], [0, 0], G.A16_K4, G.W8_K4)
    with pytest.raises(ValueError, match=r"w flags must be in \[0, 4\], got 5..5"):
        G.dfree_product([1], [0], [1], [5], G.A16_K4, G.W8_K4)
    with pytest.raises(ValueError, match=r"a holds 40000, outside the 16-bit"):
        G.int_product([40000], [1], 16, 8)
    with pytest.raises(ValueError, match=r"products, load and en must have one entry per cycle: 2, 1, 2"):
        G.accumulate([1, 2], load=[1])
    with pytest.raises(ValueError, match=r"acc_width must be in \[2, 62\], not 64"):
        G.Accumulator(64)


def test_gemm_shape_errors():
    a = G.compress(np.zeros((2, 32), np.int16), G.A16_K4, axis=1)
    w = G.compress(np.zeros((3, 16), np.int8), G.W8_K4, axis=1)
    with pytest.raises(ValueError, match=r"reduction lengths differ: a is \(2, 32\), w is \(3, 16\)"):
        G.gemm_dfree(a, w)
    with pytest.raises(ValueError, match=r"reduction lengths differ"):
        G.gemm_reference(a, w)
    w32 = G.compress(np.zeros((3, 32), np.int8), G.W8_K4.with_group(32), axis=1)
    with pytest.raises(ValueError, match="group sizes differ: a uses 16, w uses 32"):
        G.gemm_dfree(a, w32)
    at = G.compress(np.zeros((32, 2), np.int16), G.A16_K4, axis=0)
    with pytest.raises(ValueError, match=r"a must be 2-D and grouped along its last axis"):
        G.gemm_dfree(at, w)
    with pytest.raises(TypeError, match="w must be an SDRTensor, not ndarray"):
        G.gemm_dfree(a, np.zeros((3, 32)))


@pytest.mark.parametrize("codes,flags,fmt,axis,exc,msg", [
    (np.full((2, 4), 9), np.zeros((2, 1)), G.SDRFormat(16, 4, 4), 1, ValueError,
     r"code magnitude 9 exceeds the format's largest code 7 \(4 kept bits\)"),
    (np.zeros((2, 4)), np.full((2, 1), 14), G.SDRFormat(16, 4, 4), 1, ValueError,
     r"flag 14 is outside \[0, 12\] \(16-bit base, 4 kept bits\)"),
    (np.zeros((2, 4)), np.full((2, 1), -1), G.SDRFormat(16, 4, 4), 1, ValueError, r"flag -1 is outside \[0, 12\]"),
    (np.zeros((2, 4), np.float32), np.zeros((2, 1)), G.SDRFormat(16, 4, 4), 1, TypeError,
     "codes must be an integer array, not dtype float32"),
    (np.zeros((2, 4)), np.zeros((2, 1), np.float64), G.SDRFormat(16, 4, 4), 1, TypeError,
     "flags must be an integer array, not dtype float64"),
    (np.zeros((2, 4)), np.zeros((2, 2)), G.SDRFormat(16, 4, 4), 1, ValueError,
     r"flags have shape \(2, 2\); codes of shape \(2, 4\) grouped by 4 along axis 1 need \(2, 1\)"),
    (np.zeros((2, 4)), np.zeros((2, 1)), G.SDRFormat(16, 4, 4), 3, ValueError, r"axis must be in \[-2, 1\], not 3"),
    (np.zeros((2, 4)), np.zeros((2, 1)), "A16", 1, TypeError, "fmt must be an SDRFormat, not 'A16'"),
])
def test_hand_built_sdr_tensor_is_checked(codes, flags, fmt, axis, exc, msg):
    """An SDRTensor with an illegal code, flag, dtype or shape cannot be built, so it never decompresses, packs or
    multiplies to a wrong value."""
    if np.asarray(codes).dtype.kind == "f" and np.asarray(codes).dtype != np.float32:
        codes = np.asarray(codes, np.int64)
    if np.asarray(flags).dtype.kind == "f" and "flags must be" not in msg:
        flags = np.asarray(flags, np.int64)
    with pytest.raises(exc, match=msg):
        G.SDRTensor(codes, flags, fmt, axis)


def test_a_checked_tensor_cannot_be_changed_in_place():
    """A tensor is checked once, when built: its arrays are read-only copies afterwards (a flag of 15 written
    in place would decompress to -32768), and the caller's own arrays stay writable."""
    codes = np.zeros((2, 16), np.int8)
    t = G.compress(np.arange(-16, 16, dtype=np.int16).reshape(2, 16), G.A16_K4)
    for arr in (t.codes, t.flags):
        with pytest.raises(ValueError, match="read-only"):
            arr[0, 0] = 15
    mine = G.SDRTensor(codes, np.zeros((2, 1), np.uint8), G.A16_K4, -1)
    codes[0, 0] = 7                                   # the caller's array: still writable, the tensor unchanged
    assert mine.codes[0, 0] == 0


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: G.fp16.fma(1.0, 1.0, 0.0), TypeError, r"a must be binary16 bit patterns .*not dtype float64; use "
     r"fp16.from_float"),
    (lambda: G.fp16.fma(0x3C00, -1, 0), ValueError, r"b holds -1, not a 16-bit pattern in \[0, 0xFFFF\]"),
    (lambda: G.fp16.fp16_mac_stream([0x10000], [0]), ValueError, r"a holds 65536, not a 16-bit pattern"),
    (lambda: G.dequantize(np.array([1, 2]), float("nan")), ValueError, "scale must be finite and positive"),
    (lambda: G.dequantize(np.array([1, 2]), -0.5), ValueError, "scale must be finite and positive"),
    (lambda: G.quant.rtn_groupwise(np.array([1e30, 1.0]), 4, 2), ValueError,
     r"absolute maximum 1e\+30 needs the scale .* beyond the largest float16 \(65504.0\)"),
    (lambda: G.accumulate([1.5, 2.5]), TypeError, "products must be an integer array, not dtype float64"),
])
def test_golden_api_refuses_what_it_would_get_wrong(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_fp16_fma_on_bit_patterns_still_works():
    assert int(G.fp16.fma(0x3C00, 0x3C00, 0)) == 0x3C00 and int(G.fp16.fma(np.uint16(0x3C00), 0x4000, 0x3C00)) == 0x4200
