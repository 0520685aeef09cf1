"""golden.mx (MXFP4, MXFP8, NVFP4) against an implementation nobody here wrote: torchao's prototype.mx_formats
(CPU reference functions ``to_mx``, ``nvfp4_quantize``, its FP4 casts and PyTorch's float8_e4m3fn), bit for
bit, on every code, dense value sweeps, random data over 40 binades, the real LLM's weights and activations and
every special case the specifications name. Where the golden model departs from torchao on purpose (an Inf
input; torchao's clamped 2^-127 scale) the test pins down exactly that difference."""

import logging

import numpy as np
import pytest
import torch
from fp32_reference import f32_exact

from golden import mx

logging.disable(logging.WARNING)          # torchao logs that its CUDA kernels are missing: the CPU path is used
import torchao.prototype.mx_formats.mx_tensor as torchao_mx  # noqa: E402
from torchao.prototype.mx_formats.kernels import (  # noqa: E402
    f4_unpacked_to_f32,
    f32_to_f4_unpacked,
    pack_uint4,
    unpack_uint4,
)
from torchao.prototype.mx_formats.nvfp4_tensor import nvfp4_quantize  # noqa: E402

COUNTS = {}        # what each comparison checked (printed by test_report_counts: the README's figures)


def _count(what, n):
    COUNTS[what] = COUNTS.get(what, 0) + int(n)


# ---------------------------------------------------------------- the reference, called the way torchao does

def ref_mx(x, elem=torch.float4_e2m1fn_x2, block=32):
    s, d = torchao_mx.to_mx(torch.from_numpy(np.ascontiguousarray(x, np.float32)), elem, block)
    scales = s.view(torch.uint8).numpy()
    if elem == torch.float4_e2m1fn_x2:
        codes = unpack_uint4(d.view(torch.uint8).contiguous()).numpy().reshape(x.shape)
    else:
        codes = d.view(torch.uint8).numpy().reshape(x.shape)
    return scales.reshape(x.shape[:-1] + (-1,)), codes


def ref_nv(x, tensor_scale=None):
    pts = None if tensor_scale is None else torch.tensor(tensor_scale, dtype=torch.float32)
    s, d = nvfp4_quantize(torch.from_numpy(np.ascontiguousarray(x, np.float32)), 16, pts)
    codes = unpack_uint4(d.view(torch.uint8).contiguous()).numpy().reshape(x.shape)
    return s.view(torch.uint8).numpy().reshape(x.shape[:-1] + (-1,)), codes


def check_mx(x, fmt=mx.MXFP4, what="random"):
    elem = torch.float4_e2m1fn_x2 if fmt.elem == "e2m1" else torch.float8_e4m3fn
    rs, rc = ref_mx(x, elem, fmt.block)
    t = mx.quantize(x, fmt)
    tiny = np.repeat(rs == 0, fmt.block, axis=-1)[..., :x.shape[-1]]
    if tiny.any():
        # scale 2^-127: torchao divides by 2^-126 instead (test_mx_smallest_scale_is_exact_where_torchao_clamps_it);
        # those elements are compared with torchao's own element cast of x * 2^127 (exact in FP32)
        y = torch.from_numpy((x.astype(np.float64) * 2.0 ** 127).astype(np.float32))
        if elem == torch.float4_e2m1fn_x2:
            cast = f32_to_f4_unpacked(y).numpy()
        else:
            cast = torch.clamp(y, -448, 448).to(torch.float8_e4m3fn).view(torch.uint8).numpy()
        rc = np.where(tiny, cast, rc)
        _count(f"{fmt.name} elements of blocks with the 2^-127 scale (torchao's element cast)", tiny.sum())
    bad_s = int((t.scales != rs).sum())
    bad_c = int((t.codes != rc).sum())
    assert bad_s == 0 and bad_c == 0, f"{fmt.name} {what}: {bad_s} scales and {bad_c} codes differ from torchao"
    _count(f"{fmt.name} elements", rc.size)
    _count(f"{fmt.name} blocks", rs.size)
    return t


def check_nv(x, tensor_scale=None, what="random"):
    rs, rc = ref_nv(x, tensor_scale)
    t = mx.quantize(x, mx.NVFP4, tensor_scale=tensor_scale)
    bad_s = int((t.scales != rs).sum())
    bad_c = int((t.codes != rc).sum())
    assert bad_s == 0 and bad_c == 0, f"NVFP4 {what}: {bad_s} scales and {bad_c} codes differ from torchao"
    _count("NVFP4 elements", rc.size)
    _count("NVFP4 blocks", rs.size)
    return t


def wide_random(rows, cols, seed, binades=40):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, cols)) * np.exp2(rng.uniform(-binades / 2, binades / 2, (rows, 1)))
            ).astype(np.float32)


# ---------------------------------------------------------------- codecs

def test_e2m1_codes_match_torchao():
    codes = np.arange(16, dtype=np.uint8)
    ref = f4_unpacked_to_f32(torch.from_numpy(codes)).numpy()
    got = mx.e2m1_decode(codes)
    assert np.array_equal(got, ref.astype(np.float64)) and np.array_equal(np.signbit(got), np.signbit(ref))
    assert list(got[:8]) == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert np.array_equal(mx.e2m1_encode(got), codes)          # every code round trips, -0 included


def _all_bf16_as_f32():
    """Every finite bfloat16 value as float32 (65,280 values): every binade of FP32 at 8 significant bits."""
    v = (np.arange(1 << 16, dtype=np.uint32) << 16).view(np.float32)
    return v[np.isfinite(v)]


def test_e2m1_conversion_matches_torchao_on_every_bfloat16_and_every_midpoint():
    v = _all_bf16_as_f32()
    grid = np.array([0, .5, 1, 1.5, 2, 3, 4, 6], np.float32)
    mids = (grid[:-1] + grid[1:]) / 2
    near = np.concatenate([mids, np.nextafter(mids, 0), np.nextafter(mids, 9), [6, 7, 1e30, 1e-45]]).astype(np.float32)
    v = np.concatenate([v, near, -near])
    ref = f32_to_f4_unpacked(torch.from_numpy(v)).numpy()
    got = mx.e2m1_encode(v)
    assert int((got != ref).sum()) == 0
    _count("E2M1 conversions", v.size)
    # ties to even: 0.25 -> 0, 0.75 -> 1.0, 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4; beyond 6 saturates
    assert list(mx.e2m1_decode(mx.e2m1_encode(mids))) == [0, 1, 1, 2, 2, 4, 4]
    assert mx.e2m1_decode(mx.e2m1_encode([7.0, 1e30, -1e30])).tolist() == [6, 6, -6]


def test_e4m3_codes_and_conversion_match_pytorch_float8():
    codes = np.arange(256, dtype=np.uint8)
    ref = torch.from_numpy(codes).view(torch.float8_e4m3fn).float().numpy().astype(np.float64)
    got = mx.e4m3_decode(codes)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(got[ok], ref[ok]) and np.array_equal(np.signbit(got[ok]), np.signbit(ref[ok]))
    assert mx.e4m3_decode([0x7E])[0] == 448 and mx.e4m3_decode([1])[0] == 2.0 ** -9
    v = _all_bf16_as_f32()
    v = np.clip(v, -448, 448)                     # torchao clamps before casting; eager casts need not saturate
    ref = torch.from_numpy(v).to(torch.float8_e4m3fn).view(torch.uint8).numpy()
    assert int((mx.e4m3_encode(v) != ref).sum()) == 0
    _count("E4M3 conversions", v.size)
    assert mx.e4m3_encode([1e6, -np.inf, np.nan]).tolist() == [0x7E, 0xFE, 0x7F]     # saturate; NaN


def test_e8m0_decodes_every_code():
    c = np.arange(256)
    v = mx.e8m0_decode(c)
    assert v[127] == 1 and v[0] == 2.0 ** -127 and v[254] == 2.0 ** 127 and np.isnan(v[255])
    ref = torchao_mx.get_fp_scale(torch.from_numpy(c.astype(np.uint8))).numpy().astype(np.float64)
    # torchao computes 2^(c-127) in float32: 2^-127 is an FP32 subnormal, exact
    assert np.array_equal(np.isnan(v), np.isnan(ref)) and np.array_equal(v[:255], ref[:255])


# ---------------------------------------------------------------- MXFP4 / MXFP8 quantization

@pytest.mark.parametrize("fmt", [mx.MXFP4, mx.MXFP8], ids=["MXFP4", "MXFP8"])
def test_mx_matches_torchao_on_random_data(fmt):
    for seed in range(4):
        check_mx(wide_random(256, 512, seed), fmt)


def test_mx_matches_torchao_at_other_block_sizes():
    for block in (16, 64, 128, 256):
        check_mx(wide_random(64, 512, block), mx.MXFP4.with_block(block), f"block {block}")


def _special_blocks():
    """One 32-element block per row, each a special case the spec names."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal(32).astype(np.float32)
    big = np.float32(np.finfo(np.float32).max)
    rows = {
        "all zero": np.zeros(32),
        "negative zeros": -np.zeros(32),
        "largest FP32": np.full(32, big) * np.sign(base),
        "largest and tiny": np.where(np.arange(32) == 0, big, 1e-30),
        "saturating (amax 7.5 * 2^k)": base / np.abs(base).max() * 7.5,
        "amax just below a power of two": base / np.abs(base).max() * np.nextafter(np.float32(8), 0),
        "ties at every midpoint": np.resize(np.array([.25, .75, 1.25, 1.75, 2.5, 3.5, 5, 6]), 32),
        "negative ties": -np.resize(np.array([.25, .75, 1.25, 1.75, 2.5, 3.5, 5, 6]), 32),
        "one value": np.where(np.arange(32) == 3, -3.0, 0.0),
        "subnormal inputs": base * np.float32(1e-40),
        "smallest subnormal": np.full(32, np.float32(1e-45)),
        "powers of two": np.exp2(np.arange(-16, 16)),
        "scale 2^-126 (smallest normal scale)": base / np.abs(base).max() * 2.0 ** -124,
    }
    return {k: np.asarray(v, np.float32) for k, v in rows.items()}


def test_mx_special_blocks_match_torchao():
    for what, row in _special_blocks().items():
        for fmt in (mx.MXFP4, mx.MXFP8):
            check_mx(row[None, :], fmt, what)


def test_mx_nan_block_gets_the_nan_scale_like_torchao():
    x = wide_random(4, 64, 1)
    x[1, 5] = np.nan
    rs, _ = ref_mx(x)
    t = mx.quantize(x, mx.MXFP4)
    assert rs[1, 0] == 255 and t.scales[1, 0] == 255 and (t.codes[1, :32] == 0).all()
    assert np.array_equal(np.delete(t.scales.reshape(-1), 2), np.delete(rs.reshape(-1), 2))
    assert np.isnan(mx.dequantize(t)[1, :32]).all() and np.isfinite(mx.dequantize(t)[1, 32:]).all()


def test_mx_inf_block_is_nan_where_torchao_saturates():
    """The one deliberate departure: an Inf makes its block NaN here; torchao's cast has no special values and
    turns it into the largest element at the scale its exponent field gives (6 * 2^126), flushing the block's
    finite values to 0."""
    x = wide_random(2, 64, 2)
    x[0, 7] = -np.inf
    rs, rc = ref_mx(x)
    t = mx.quantize(x, mx.MXFP4)
    assert t.scales[0, 0] == 255 and rs[0, 0] == 253 and rc[0, 7] == 0xF
    assert np.array_equal(t.scales.reshape(-1)[1:], rs.reshape(-1)[1:])
    assert np.array_equal(t.codes[:, 32:], rc[:, 32:]) and np.array_equal(t.codes[1], rc[1])


def test_mx_smallest_scale_is_exact_where_torchao_clamps_it():
    """Scale code 0 is 2^-127. torchao divides such a block by 2^-126 instead (its FP32 scale is clamped to the
    smallest normal, a comment there says why), so its elements are half what the scale code says. The golden
    model divides by 2^-127 as the spec does: the codes differ, the scale codes agree."""
    x = np.full((1, 32), np.float32(2.0 ** -127) * 3, np.float32)     # floor(log2) = -126 -> scale -128 -> -127
    rs, rc = ref_mx(x)
    t = mx.quantize(x, mx.MXFP4)
    assert t.scales[0, 0] == rs[0, 0] == 0
    assert mx.e2m1_decode(t.codes[0, 0]) == 3 and mx.e2m1_decode(rc[0, 0]) == 1.5
    assert mx.dequantize(t)[0, 0] == x[0, 0]


def test_mx_dequantize_matches_torchao():
    x = wide_random(64, 256, 3)
    t = check_mx(x)
    mt = torchao_mx.MXTensor.to_mx(torch.from_numpy(x), torch.float4_e2m1fn_x2, 32)
    assert np.array_equal(mx.dequantize(t), mt.dequantize(torch.float32).numpy().astype(np.float64))


# ---------------------------------------------------------------- NVFP4

def test_nvfp4_matches_torchao_single_and_two_level():
    for seed in range(4):
        x = wide_random(256, 512, 10 + seed, binades=16)
        check_nv(x)
        check_nv(x, mx.tensor_scale(np.abs(x).max()))
        check_nv(x, mx.tensor_scale(np.abs(x).max() / 8), "tensor scale 8x too small (block scales saturate)")


def test_nvfp4_special_blocks_match_torchao():
    for what, row in _special_blocks().items():
        if what.startswith("largest"):
            continue                  # amax / 6 overflows nothing, but x * (1 / s) does: checked separately
        check_nv(row[None, :], None, what)
        check_nv(row[None, :], 1e-3, what)


def test_nvfp4_largest_values():
    big = np.float32(np.finfo(np.float32).max)
    x = np.array([[big, -big] * 8], np.float32)
    rs, rc = ref_nv(x)
    t = mx.quantize(x, mx.NVFP4)
    # the block scale saturates at 448; every element saturates at +-6
    assert rs[0, 0] == t.scales[0, 0] == 0x7E and np.array_equal(rc, t.codes)
    assert mx.e2m1_decode(t.codes[0, :2]).tolist() == [6, -6]


def test_nvfp4_nan_and_inf_blocks_are_nan():
    x = wide_random(2, 32, 4, binades=8)
    x[0, 1], x[1, 20] = np.nan, np.inf
    rs, _ = ref_nv(x)
    t = mx.quantize(x, mx.NVFP4)
    assert t.scales[0, 0] == 0x7F and rs[0, 0] == 0x7F                  # NaN: both
    assert t.scales[1, 1] == 0x7F and rs[1, 1] == 0x7E                  # Inf: NaN here, saturated in torchao
    assert t.scales[0, 1] == rs[0, 1] and t.scales[1, 0] == rs[1, 0]
    d = mx.dequantize(t)
    assert np.isnan(d[0, :16]).all() and np.isnan(d[1, 16:]).all() and np.isfinite(d[0, 16:]).all()


def test_nvfp4_reciprocal_rounding_against_exact_division():
    """NVFP4's elements are ``x * ((1/t)/s)`` in FP32 (the kernel's numerics). Against rounding the exact
    quotient ``x / (s t)``: count the elements where the rounded reciprocal moves a value across a rounding
    boundary (the README reports it)."""
    from fractions import Fraction
    x = wide_random(64, 512, 20, binades=12)
    ts = mx.tensor_scale(np.abs(x).max())
    # and blocks built to sit on the boundaries: every E2M1 midpoint times every normal E4M3 block scale (the
    # block's 6 s t sets the scale to exactly s)
    svals = mx.e4m3_decode(np.arange(8, 0x7F))
    mids = np.array([6, .25, .75, 1.25, 1.75, 2.5, 3.5, 5, 6, 5, 3.5, 2.5, 1.75, 1.25, .75, .25])
    ties = (svals[:, None] * np.float32(ts) * mids[None, :]).astype(np.float32)
    x = np.concatenate([x, np.resize(ties, (ties.size // 512 + 1, 512)).astype(np.float32)])
    check_nv(x, ts, "midpoints")
    t = mx.quantize(x, mx.NVFP4, tensor_scale=ts)
    s = mx.e4m3_decode(t.scales)
    grid = [Fraction(0), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2), Fraction(3), Fraction(4),
            Fraction(6)]
    diff = np.zeros(x.shape, bool)
    for r, c in np.ndindex(*x.shape):
        q = abs(Fraction(float(x[r, c])) / (Fraction(float(s[r, c // 16])) * Fraction(float(np.float32(ts)))))
        q = min(q, Fraction(6))
        best = min(range(8), key=lambda i: (abs(grid[i] - q), i % 2))         # nearest, ties to even code
        diff[r, c] = best != (t.codes[r, c] & 7)
    random_diff, boundary_diff = int(diff[:64].sum()), int(diff[64:].reshape(-1)[:ties.size].sum())
    _count("NVFP4 random elements vs exact division", 64 * 512)
    _count("NVFP4 random elements where the FP32 reciprocal changes the code", random_diff)
    _count("NVFP4 elements near a rounding boundary vs exact division", ties.size)
    _count("NVFP4 elements near a rounding boundary where the FP32 reciprocal changes the code", boundary_diff)
    assert random_diff <= 64 * 512 * 1e-3 and boundary_diff > 0


# ---------------------------------------------------------------- real LLM data

@pytest.mark.trace
def test_real_weights_and_activations_match_torchao(trace_set):
    for t in trace_set.select(kind="weight") + trace_set.select(kind="input"):
        x = t.dequantized().astype(np.float32)
        x = x[:, :x.shape[1] // 32 * 32]
        check_mx(x, mx.MXFP4, t.name)
        check_mx(x, mx.MXFP8, t.name)
        check_nv(x, mx.tensor_scale(np.abs(x).max()), t.name)
        _count("real tensors", 1)


# ---------------------------------------------------------------- packing, padding, bad input

def test_pack_matches_torchao_layout_and_round_trips():
    x = wide_random(8, 96, 7)
    t = mx.quantize(x, mx.MXFP4)
    p = mx.pack(t)
    ref = pack_uint4(torch.from_numpy(t.codes.copy())).numpy().tobytes()
    assert p.elements == ref and p.bits_per_element == 4.25
    u = mx.unpack(p)
    assert np.array_equal(u.codes, t.codes) and np.array_equal(u.scales, t.scales)
    assert mx.pack(mx.quantize(x, mx.NVFP4)).bits_per_element == 4.5


def test_short_last_block_is_zero_padded_along_any_axis():
    x = wide_random(40, 6, 8).T                                 # blocks along axis 1 of (6, 40): 32 + 8
    t = mx.quantize(x, mx.MXFP4, axis=1)
    full = mx.quantize(np.concatenate([x, np.zeros((6, 24), np.float32)], axis=1), mx.MXFP4)
    assert np.array_equal(t.codes, full.codes) and np.array_equal(t.scales, full.scales)
    assert mx.dequantize(t).shape == x.shape
    xt = np.ascontiguousarray(x.T)
    assert np.array_equal(mx.dequantize(mx.quantize(xt, mx.MXFP4, axis=0)), mx.dequantize(t).T)
    u = mx.unpack(mx.pack(t))
    assert np.array_equal(mx.dequantize(u), mx.dequantize(t))


def test_bad_input_is_named():
    with pytest.raises(mx.BlockFormatError, match="block size must be a power of two"):
        mx.MXFP4.with_block(24)
    with pytest.raises(mx.BlockFormatError, match="E2M1 has no code for nan"):
        mx.e2m1_encode([1.0, np.nan])
    with pytest.raises(mx.BlockFormatError, match="e2m1 code 16 is out of range"):
        mx.e2m1_decode([16])
    with pytest.raises(mx.BlockFormatError, match="E8M0 code 300"):
        mx.e8m0_decode([300])
    with pytest.raises(mx.BlockFormatError, match="tensor scale must be finite and > 0, not -1"):
        mx.quantize(np.ones((1, 16)), mx.NVFP4, tensor_scale=-1)
    with pytest.raises(mx.BlockFormatError, match="real numbers"):
        mx.quantize(np.array(["a"] * 32), mx.MXFP4)
    t = mx.quantize(wide_random(2, 32, 9), mx.MXFP4)
    p = mx.pack(t)
    with pytest.raises(mx.BlockFormatError, match="element section is 31 bytes, expected 32"):
        mx.unpack(mx.PackedBlock(p.elements[:-1], p.scales, p.shape, p.fmt, p.axis, p.tensor_scale))
    with pytest.raises(mx.BlockFormatError, match="scale section is 1 bytes, expected 2"):
        mx.unpack(mx.PackedBlock(p.elements, p.scales[:1], p.shape, p.fmt, p.axis, p.tensor_scale))


# ---------------------------------------------------------------- the dot-product step

@pytest.mark.parametrize("fmt,lanes", [(mx.MXFP4, 4), (mx.MXFP4, 32), (mx.NVFP4, 4), (mx.NVFP4, 16),
                                       (mx.NVFP4, 32)])
def test_dot_terms_are_the_exact_dot_product_of_the_dequantized_blocks(fmt, lanes):
    from fractions import Fraction
    x = wide_random(2, 256, 30, binades=10)
    ts = None
    a = mx.quantize(x[0:1], fmt, tensor_scale=ts)
    w = mx.quantize(x[1:2], fmt, tensor_scale=ts)
    cyc = 256 // lanes
    sub = max(1, lanes // fmt.block)
    per = max(1, fmt.block // lanes)                    # cycles per block
    sidx = (np.arange(cyc)[:, None] * sub + np.arange(sub)[None, :]) // per if per > 1 else \
        np.arange(cyc)[:, None] * sub + np.arange(sub)[None, :]
    ca, cw = a.codes.reshape(cyc, lanes), w.codes.reshape(cyc, lanes)
    sa, sw = a.scales.reshape(-1)[sidx], w.scales.reshape(-1)[sidx]
    mant, exp, nan = mx.dot_terms(ca, sa, cw, sw, fmt, lanes)
    da, dw = mx.dequantize(a).reshape(cyc, lanes), mx.dequantize(w).reshape(cyc, lanes)
    for i in range(cyc):
        ref = sum(Fraction(float(p)) * Fraction(float(q)) for p, q in zip(da[i], dw[i]))
        assert Fraction(int(mant[i])) * Fraction(2) ** int(exp[i]) == ref
    assert not nan.any()
    acc = mx.dot_stream(ca, sa, cw, sw, fmt, lanes).view(np.float32)
    ref = np.float32(0)
    for i in range(cyc):
        ref = np.float32(ref + f32_exact(Fraction(int(mant[i])) * Fraction(2) ** int(exp[i])))
    assert acc[-1] == ref


def test_dot_stream_load_en_and_nan():
    ca = np.array([[2, 2, 2, 2]] * 4, np.uint8)                   # 1.0 each
    s = np.full((4, 1), 127, np.uint8)
    acc = mx.dot_stream(ca, s, ca, s, mx.MXFP4, 4, load=[1, 0, 1, 0], en=[1, 1, 0, 1]).view(np.float32)
    assert acc.tolist() == [4, 8, 8, 12]
    sn = s.copy()
    sn[1] = 255
    assert (mx.dot_stream(ca, sn, ca, s, mx.MXFP4, 4)[1:] == mx.CANONICAL_NAN).all()
    with pytest.raises(mx.BlockFormatError, match="sa holds code 256"):
        mx.dot_terms(ca, s.astype(np.int64) + 129, ca, s, mx.MXFP4, 4)
    with pytest.raises(mx.BlockFormatError, match="sw holds code 128, expected 0..127"):
        mx.dot_terms(ca, s // 2, ca, s + 1, mx.NVFP4, 4)            # NVFP4 scales are unsigned E4M3


def test_dot_term_rounding_below_and_above_fp32_range():
    """Terms outside FP32's normal range round once (no double rounding into subnormals) or overflow to Inf."""
    from fractions import Fraction
    rng = np.random.default_rng(3)
    mant = rng.integers(-(1 << 20), 1 << 20, 20000)
    exp = rng.integers(-190, 140, 20000)
    got = mx._term_fp32(mant, exp, np.zeros(20000, bool))
    for m, e, g in zip(mant, exp, got):
        v = Fraction(int(m)) * Fraction(2) ** int(e)
        assert g == f32_exact(v), (m, e, g)
    _count("dot terms vs exact rounding", mant.size)


def test_report_counts():
    """Runs last in this file: prints what the comparisons above checked."""
    for k, v in sorted(COUNTS.items()):
        print(f"{k}: {v:,}")
    assert COUNTS


@pytest.mark.parametrize("fmt", [mx.MXFP4, mx.MXFP8, mx.NVFP4, mx.MXFP4.with_block(64)],
                         ids=["MXFP4", "MXFP8", "NVFP4", "MXFP4 b64"])
def test_fake_quantize_is_dequantize_of_quantize(fmt):
    x = np.concatenate([wide_random(64, 96, 40), np.stack(list(_special_blocks().values()))[:, :32].repeat(3, 1)])
    x[3, 40] = np.nan
    for axis, ts in ((1, None), (0, None), (1, 0.01)):
        if ts is not None and fmt.scale != "e4m3":
            continue
        a = mx.fake_quantize(x, fmt, axis=axis, tensor_scale=ts)
        b = mx.dequantize(mx.quantize(x, fmt, axis=axis, tensor_scale=ts))
        assert np.array_equal(a, b, equal_nan=True)
