# amaranth: UnusedElaboratable=no
"""hdl.mx's arithmetic pieces on their own, in-process (amaranth.sim): the FP32 adder against NumPy's binary32
addition on adversarial operands, the FP32 rounding against exact rationals, and the unit's parameter errors.
The units themselves are checked like every unit (tests/test_units_inprocess.py, sim/)."""

from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator
from fp32_reference import f32_bits

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
