# amaranth: UnusedElaboratable=no
"""hdl.mx's arithmetic pieces on their own, in-process (amaranth.sim): the FP32 adder against NumPy's binary32
addition on adversarial operands, the FP32 rounding against exact rationals, the unit's parameter errors, and
the NVFP4 quantizer's tensor-scale ports and every BF16 pattern.
The units themselves are checked like every unit (tests/test_units_inprocess.py, sim/)."""

from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator
from fp32_reference import f32_bits

from hdl import insim
from hdl.catalog import get
from hdl.mx import CANONICAL_NAN, BlockDotProductUnit, FP32Adder, RoundToFP32


def _operands(rng, n):
    """Random bit patterns, subnormals, values near 1, specials, then a partner with an exponent 0..30 below and
    near-cancelling pairs."""
    sign = rng.integers(0, 2, n).astype(np.uint32) << 31
    kind = rng.integers(0, 5, n)
    specials = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F7FFFFF, 0xFF7FFFFF, 1,
                         0x80000001, 0x00800000, 0x007FFFFF], np.uint32)
    a = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                  [rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32),
                   sign | rng.integers(0, 1 << 23, n).astype(np.uint32),
                   sign | (np.uint32(127 << 23) + rng.integers(0, 1 << 23, n).astype(np.uint32)),
                   rng.choice(specials, n)],
                  rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)).astype(np.uint32)
    b = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    ea = ((a >> 23) & 0xFF).astype(np.int64)
    eb = np.clip(ea - rng.integers(0, 31, n), 0, 254).astype(np.uint32)
    b = np.where(rng.random(n) < 0.5, (b & np.uint32(0x807FFFFF)) | (eb << 23), b).astype(np.uint32)
    k = n // 6
    b[:k] = (a[:k] ^ np.uint32(0x80000000)) + rng.integers(-3, 4, k).astype(np.uint32)
    return a, b


def test_fp32_adder_matches_numpy():
    rng = np.random.default_rng(7)
    a, b = _operands(rng, 12000)
    with np.errstate(all="ignore"):
        ref = (a.view(np.float32) + b.view(np.float32)).view(np.uint32).copy()
    ref[np.isnan(ref.view(np.float32))] = CANONICAL_NAN
    dut = FP32Adder()
    sim = Simulator(dut)
    bad = []

    async def bench(ctx):
        for x, y, r in zip(a.tolist(), b.tolist(), ref.tolist()):
            ctx.set(dut.a, x)
            ctx.set(dut.b, y)
            if ctx.get(dut.o) != r:
                bad.append((hex(x), hex(y), hex(ctx.get(dut.o)), hex(r)))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} of {len(a)} sums differ, e.g. {bad[:3]}"


def test_round_to_fp32_is_one_exact_rounding():
    rng = np.random.default_rng(8)
    width, n = 40, 4000
    mag = [int(x) for x in rng.integers(0, 1 << 40, n, dtype=np.uint64) >> rng.integers(0, 40, n).astype(np.uint64)]
    exp = rng.integers(-220, 110, n).tolist()
    sign = rng.integers(0, 2, n).tolist()
    dut = RoundToFP32(width, 10)
    sim = Simulator(dut)
    bad = []

    async def bench(ctx):
        for mg, e, s in zip(mag, exp, sign):
            ctx.set(dut.mag, mg)
            ctx.set(dut.exp, e)
            ctx.set(dut.sign, s)
            v = Fraction(mg) * Fraction(2) ** e
            want = f32_bits(-v if s else v) | (s << 31)
            if ctx.get(dut.o) != want:
                bad.append((mg, e, s, hex(ctx.get(dut.o)), hex(want)))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} of {n} roundings differ, e.g. {bad[:3]}"


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="fmt must be one of"):
        BlockDotProductUnit(fmt="mxfp6")
    with pytest.raises(ValueError, match="one block of 32 per cycle: lanes must be <= 32, not 64"):
        BlockDotProductUnit(fmt="mxfp4", lanes=64)
    with pytest.raises(ValueError, match="lanes"):
        BlockDotProductUnit(fmt="nvfp4", lanes=12)
    assert BlockDotProductUnit(fmt="nvfp4", lanes=32).signature.members["sa"].shape.size == 2 * 7   # 2 UE4M3


# ---------------------------------------------------------------- the NVFP4 activation quantizer

def _nv_drive(x, ts):
    from hdl.catalog.mx import nv_scale_pair
    t, inv = nv_scale_pair(ts)
    return {"x": np.asarray(x, np.int64), "ts": t, "inv_ts": inv, "i_valid": np.ones(len(x), np.int64)}


def test_nv_quantizer_tensor_scale_ports_are_checked():
    """The golden model names a tensor scale outside the quantizer's range and an ``inv_ts`` that is not
    ``fp32(1 / ts)`` (with its cycle); an all-zero block (the idle input) is quantized whatever the ports hold."""
    u = get("nv_quantizer_bf16_b16")
    x = np.full((3, 16), 0x3F80)                                    # 1.0
    for ts in (2.0 ** -101, 2.0 ** 100, -1.0):
        with pytest.raises(ValueError, match=r"takes tensor scales 2\^-100 <= ts < 2\^100, not .* \(cycle 0\)"):
            u.expect(_nv_drive(x, np.full(3, ts, np.float32)))
    d = _nv_drive(x, np.full(3, 0.01, np.float32))
    d["inv_ts"][2] += 1
    with pytest.raises(ValueError, match=r"inv_ts must be fp32\(1 / ts\) = 100.0, not .* \(cycle 2\)"):
        u.expect(d)
    zero = {k: np.zeros_like(v) for k, v in d.items()}
    zero["i_valid"][:] = 1
    e = u.expect(zero)
    assert (e["scale"] == 0x08).all() and (e["codes"] == 0).all()


def test_nv_quantizer_every_bf16_pattern():
    """Every BF16 pattern under four tensor scales (16,384 blocks, about 40 s in-process)."""
    from hdl.catalog.mx import nv_every_pattern
    u = get("nv_quantizer_bf16_b16")
    x, ts = nv_every_pattern(16)
    m = insim.check(u, _nv_drive(x, ts))             # the combinational variant: the same datapath, no register
    print(f"every BF16 pattern: {m}")
    assert m.count == 0 and m.checked == 3 * len(x), str(m)


def test_nv_quantizer_bad_parameters_are_named():
    from hdl.mx import NVQuantizer
    with pytest.raises(TypeError, match="pipeline must be True or False, not 'yes'"):
        NVQuantizer(pipeline="yes")
    with pytest.raises(ValueError, match="block"):
        NVQuantizer(block=12)
