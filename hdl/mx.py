"""MXFP4 and NVFP4 dot-product units: E2M1 lanes, the block scales, an FP32 accumulator (``golden.mx``).

``BlockDotProductUnit(fmt, lanes)``: per cycle ``L`` E2M1 x E2M1 products, summed exactly per block, times the
product of the two block scales, rounded once into FP32 and added to an FP32 accumulator:
``if en: acc <= fp32((load ? -0 : acc) + fp32(term))``, both roundings to nearest even with subnormals, overflow to
Inf, canonical NaN ``0x7FC00000`` (a NaN scale code makes the term NaN). Bit-exact with ``golden.mx.dot_stream``.

Why FP32: the OCP MX specification computes a dot product of MX vectors as if in FP32 across blocks, and the
tensor cores that ship MXFP4/NVFP4 accumulate in FP32; a fixed-point accumulator would need about 520 bits to
cover every product of two E8M0 scales. Inside a block the sum is exact (integers), so the only roundings are the
term's (exact unless the term leaves FP32's normal range) and the accumulation's.

Datapath:

* lane product (``E2M1Multiplier``): each E2M1 code is ``sig * 2^e`` with a 2-bit significand (``{e != 0, m}``) and
  ``e = max(field, 1) - 1``, so ``(2a)(2w)`` is a 2 x 2-bit multiply shifted by ``ea + ew`` (0..4): magnitude
  at most 144, sign XOR, a signed 9-bit value;
* an adder tree per block (``S = max(1, L / block)`` blocks a cycle; a block of ``block >= L`` spans ``block / L``
  cycles, its scale codes presented in each);
* the term (``_MXTerm``: exponent ``sa + sw - 256``; ``_NVTerm``: each block's sum times the two E4M3 significands
  (4 x 4 bits), exponent ``ea + ew - 2``, the blocks of a cycle aligned to the smaller exponent and added exactly),
  then ``RoundToFP32``: a leading-one search, a shift to the FP32 quantum at that magnitude (2^-149 below the
  normal range), round to nearest even, the exponent added to the bit pattern, Inf on overflow;
* ``FP32Adder``: the larger magnitude first, the smaller aligned with three guard bits and a sticky bit, added or
  subtracted, and the same ``RoundToFP32``; specials (NaN, Inf, Inf - Inf, signed zeros) as IEEE 754.

Pipeline: operand registers; products + trees into registered block sums; the term into a registered FP32 term;
the FP32 accumulator. ``latency = 4``.

The activation quantizers, one block of BF16 values per cycle: ``MXQuantizer`` (E8M0 scale from the largest
exponent field, each element a shifter and a round) and ``NVQuantizer`` (the E4M3 block scale and the FP32
reciprocal of NVIDIA's kernel numerics, each element an 8 x 24-bit product rounded twice; docs/number-formats.md).
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden import mx as gmx
from golden.validate import check_power_of_two

from .dmq import _max_tree
from .dot import _Trees
from .parts import check_bool, register_inputs

__all__ = ["BlockDotProductUnit", "MXQuantizer", "NVQuantizer", "E2M1Multiplier", "FP32Adder", "RoundToFP32",
           "CANONICAL_NAN", "FORMATS", "NV_TS_FIELDS"]

CANONICAL_NAN = 0x7FC00000
FP32_INF = 0x7F800000
FORMATS = {"mxfp4": gmx.MXFP4, "nvfp4": gmx.NVFP4}


class RoundToFP32(wiring.Component):
    """``(-1)^sign * mag * 2^exp`` rounded once to binary32 (combinational). ``mag`` unsigned ``width`` bits,
    ``exp`` signed ``exp_width`` bits. A zero ``mag`` gives a zero with ``sign``; a result that rounds to zero keeps
    its sign; overflow gives Inf."""

    def __init__(self, width, exp_width):
        self.width, self.exp_width = width, exp_width
        super().__init__({"mag": In(width), "sign": In(1), "exp": In(signed(exp_width)), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        w = self.width
        ew = max(self.exp_width, ceil_log2(w + 1) + 1) + 3          # room for exp + msb + 149 and their negatives
        msb = Signal(range(w), name="msb")
        for i in range(w):                                          # the last (highest) one wins: leading one
            with m.If(self.mag[i]):
                m.d.comb += msb.eq(i)
        # the FP32 quantum at this magnitude: 2^qe with qe = max(exp + msb - 23, -149); shift = qe - exp
        a1 = Signal(signed(ew), name="norm_shift")
        a2 = Signal(signed(ew), name="subnormal_shift")
        sh = Signal(signed(ew), name="shift")
        m.d.comb += [a1.eq(msb - 23), a2.eq(-149 - self.exp), sh.eq(Mux(a1 > a2, a1, a2))]
        q = Signal(w + 24, name="q")
        # right shifts beyond w + 1 only leave the sticky bit: clamp the amount
        rs = Signal(range(w + 2), name="right")
        m.d.comb += rs.eq(Mux(sh > w + 1, w + 1, Mux(sh > 0, sh, 0)))
        ls = Signal(range(24), name="left")
        m.d.comb += ls.eq(Mux(sh < 0, -sh, 0))
        kept = Signal(w, name="kept")
        half = Signal(name="half")
        sticky = Signal(name="sticky")
        below = Signal(range(w + 1), name="half_at")
        low = Signal(w + 2, name="low_mask")
        m.d.comb += [kept.eq(self.mag >> rs),
                     below.eq(Mux(rs > 0, rs - 1, 0)),
                     low.eq((Const(1, w + 2) << below) - 1),
                     half.eq((rs > 0) & (self.mag >> below)[0]),
                     sticky.eq((rs > 0) & (self.mag & low).any())]
        up = Signal(name="round_up")
        m.d.comb += up.eq(half & (sticky | kept[0]))
        m.d.comb += q.eq(Mux(sh > 0, kept + up, self.mag << ls))
        # bit pattern = ((qe + 149) << 23) + q: the hidden bit of q carries into the exponent field
        total = Signal(signed(ew + 26), name="total")
        m.d.comb += total.eq(((self.exp + sh + 149) << 23) + q)
        mag_bits = Signal(31, name="mag_bits")
        m.d.comb += mag_bits.eq(Mux(~self.mag.any(), 0, Mux(total >= FP32_INF, FP32_INF, total[:31])))
        m.d.comb += self.o.eq(Cat(mag_bits, self.sign))
        return m


class FP32Adder(wiring.Component):
    """``o = fp32(a + b)`` on binary32 bit patterns (combinational), round to nearest even, subnormals in and out,
    overflow to Inf, canonical NaN for a NaN operand or Inf - Inf, ``+0`` for an exact zero sum unless both
    operands are ``-0``."""

    def __init__(self):
        super().__init__({"a": In(32), "b": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()

        def unpack(x, name):
            field, frac = x[23:31], x[:23]
            sig = Signal(24, name=f"{name}_sig")
            exp = Signal(8, name=f"{name}_exp")
            m.d.comb += [sig.eq(Cat(frac, field.any())), exp.eq(Mux(field.any(), field, 1))]
            return (x[31], exp, sig, field.all() & frac.any(), field.all() & ~frac.any())

        sa, ea, ma, nan_a, inf_a = unpack(self.a, "a")
        sb, eb, mb, nan_b, inf_b = unpack(self.b, "b")
        swap = Signal(name="swap")
        m.d.comb += swap.eq(self.b[:31] > self.a[:31])
        s_big, e_big, m_big = (Mux(swap, x, y) for x, y in ((sb, sa), (eb, ea), (mb, ma)))
        e_small, m_small = Mux(swap, ea, eb), Mux(swap, ma, mb)
        d = Signal(8, name="exp_diff")
        ds = Signal(range(28), name="align")
        m.d.comb += [d.eq(e_big - e_small), ds.eq(Mux(d > 27, 27, d))]
        big3, small3 = Signal(27, name="big"), Signal(27, name="small")
        m.d.comb += [big3.eq(m_big << 3), small3.eq(m_small << 3)]
        aligned = Signal(27, name="aligned")
        lost = Signal(name="sticky")
        m.d.comb += [aligned.eq(small3 >> ds), lost.eq((small3 & ((Const(1, 28) << ds) - 1)).any())]
        jam = Cat(aligned[0] | lost, aligned[1:])
        total = Signal(28, name="sum")
        sub = Signal(name="subtract")
        m.d.comb += [sub.eq(sa ^ sb), total.eq(Mux(sub, big3 - jam, big3 + jam))]
        m.submodules.round = rnd = RoundToFP32(28, 10)
        zero_sign = sa & sb
        m.d.comb += [rnd.mag.eq(total), rnd.sign.eq(Mux(~total.any(), zero_sign, s_big)),
                     rnd.exp.eq(e_big - 153)]                  # sig * 2^(e - 150), three guard bits: e - 153
        with m.If(nan_a | nan_b | (inf_a & inf_b & (sa != sb))):
            m.d.comb += self.o.eq(CANONICAL_NAN)
        with m.Elif(inf_a):
            m.d.comb += self.o.eq(self.a)
        with m.Elif(inf_b):
            m.d.comb += self.o.eq(self.b)
        with m.Else():
            m.d.comb += self.o.eq(rnd.o)
        return m


class E2M1Multiplier(wiring.Component):
    """``p = (2a)(2w)`` for E2M1 codes ``a``, ``w`` (signed 9 bits, |p| <= 144): a 2 x 2-bit significand product
    shifted by the exponent sum, sign XOR (a zero product is +0: the sum is an integer)."""

    def __init__(self):
        super().__init__({"a": In(4), "w": In(4), "p": Out(signed(9))})

    def elaborate(self, platform):
        m = Module()

        def parts(x, name):
            field = x[1:3]
            sig, e = Signal(2, name=f"{name}_sig"), Signal(2, name=f"{name}_e")
            m.d.comb += [sig.eq(Cat(x[0], field.any())), e.eq(Mux(field.any(), field - 1, 0))]
            return sig, e

        sa, ea = parts(self.a, "a")
        sw, ew = parts(self.w, "w")
        mag = Signal(8, name="mag")
        m.d.comb += mag.eq((sa * sw) << (ea + ew))
        m.d.comb += self.p.eq(Mux(self.a[3] ^ self.w[3], -mag, mag))
        return m


class _E2M1Products(wiring.Component):
    def __init__(self, lanes):
        self.lanes = lanes
        super().__init__({"a": In(data.ArrayLayout(4, lanes)), "w": In(data.ArrayLayout(4, lanes)),
                          "p": Out(data.ArrayLayout(signed(9), lanes))})

    def elaborate(self, platform):
        m = Module()
        for i in range(self.lanes):
            m.submodules[f"lane{i}"] = mul = E2M1Multiplier()
            m.d.comb += [mul.a.eq(self.a[i]), mul.w.eq(self.w[i]), self.p[i].eq(mul.p)]
        return m


class _MXTerm(wiring.Component):
    """One block sum times ``2^(sa + sw - 254)`` / 4, rounded to FP32; NaN for a NaN (255) scale."""

    def __init__(self, width):
        self.width = width
        super().__init__({"s": In(data.ArrayLayout(signed(width), 1)), "sa": In(data.ArrayLayout(8, 1)),
                          "sw": In(data.ArrayLayout(8, 1)), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        s, sa, sw = self.s[0], self.sa[0], self.sw[0]
        m.submodules.round = rnd = RoundToFP32(self.width, 11)
        mag = Signal(self.width, name="mag")
        m.d.comb += [mag.eq(Mux(s < 0, -s, s)), rnd.mag.eq(mag), rnd.sign.eq(s < 0),
                     rnd.exp.eq(sa + sw - 256)]
        m.d.comb += self.o.eq(Mux((sa == 0xFF) | (sw == 0xFF), CANONICAL_NAN, rnd.o))
        return m


class _NVTerm(wiring.Component):
    """The cycle's ``S`` block sums, each times its two E4M3 scales ``(ma mw) 2^(ea + ew - 2)``, added exactly
    (aligned to the smallest exponent) and rounded to FP32; NaN if any scale is NaN."""

    def __init__(self, sub, width):
        self.sub, self.width = sub, width
        super().__init__({"s": In(data.ArrayLayout(signed(width), sub)), "sa": In(data.ArrayLayout(7, sub)),
                          "sw": In(data.ArrayLayout(7, sub)), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        pw = self.width + 8                                          # block sum x 4-bit x 4-bit significands
        span = 28                                                    # exponents of a scale pair: -20 .. 8
        terms, exps, nans = [], [], []
        for k in range(self.sub):
            sa, sw = self.sa[k], self.sw[k]

            def parts(x, name):
                field = x[3:7]
                sig, e = Signal(4, name=f"{name}_sig"), Signal(signed(6), name=f"{name}_e")
                m.d.comb += [sig.eq(Cat(x[:3], field.any())), e.eq(Mux(field.any(), field, 1) - 10)]
                return sig, e, x == 0x7F

            ma, ea, na = parts(sa, f"sa{k}")
            mw, ew, nw = parts(sw, f"sw{k}")
            t = Signal(signed(pw), name=f"block{k}")
            e = Signal(signed(7), name=f"block{k}_exp")
            m.d.comb += [t.eq(self.s[k] * (ma * mw)), e.eq(ea + ew - 2)]
            terms.append(t)
            exps.append(e)
            nans.append(na | nw)
        base = exps[0]
        for k, e in enumerate(exps[1:]):
            b = Signal(signed(7), name=f"base{k + 1}")
            m.d.comb += b.eq(Mux(e < base, e, base))
            base = b
        width = pw + (span if self.sub > 1 else 0) + ceil_log2(self.sub)
        total = Signal(signed(width), name="total")
        m.d.comb += total.eq(sum((t << (e - base)[:5]) if self.sub > 1 else t for t, e in zip(terms, exps)))
        m.submodules.round = rnd = RoundToFP32(width, 8)
        mag = Signal(unsigned(width), name="mag")
        m.d.comb += [mag.eq(Mux(total < 0, -total, total)), rnd.mag.eq(mag), rnd.sign.eq(total < 0),
                     rnd.exp.eq(base)]
        nan = nans[0]
        for n in nans[1:]:
            nan = nan | n
        m.d.comb += self.o.eq(Mux(nan, CANONICAL_NAN, rnd.o))
        return m


class BlockDotProductUnit(wiring.Component):
    """MXFP4 / NVFP4 dot-product unit (see the module docstring).

    Parameters
    ----------
    fmt : str
        ``"mxfp4"`` (E8M0 scales, blocks of 32) or ``"nvfp4"`` (E4M3 scales, blocks of 16).
    lanes : int
        Products per cycle (power of two, 2..64; MXFP4 at most 32, one block per cycle).

    Members
    -------
    a, w : In(ArrayLayout(4, lanes))
        E2M1 codes.
    sa, sw : In(ArrayLayout(8, S)) (MXFP4, E8M0; 255 is NaN) or In(ArrayLayout(7, S)) (NVFP4: unsigned E4M3,
        the sign bit a block scale never has is not a port; 127 is NaN)
        The scale codes of the cycle's blocks, ``S = max(1, lanes / block)``; block ``s`` covers lanes
        ``s*L/S .. (s+1)*L/S - 1``.
    en, load : In(1)
        Accumulate this cycle's step; start a new sum with it (the addend is -0).
    acc : Out(32)
        The binary32 accumulator, ``latency = 4`` cycles after the inputs. Reset gives +0.
    """

    latency = 4

    def __init__(self, *, fmt="mxfp4", lanes=16):
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {sorted(FORMATS)}, not {fmt!r}")
        self.fmt = fmt
        self.block_format = FORMATS[fmt]
        self.lanes = check_power_of_two("lanes", lanes, 2, 64)
        self.sub = max(1, self.lanes // self.block_format.block)
        if fmt == "mxfp4" and self.sub > 1:
            raise ValueError(f"an MXFP4 unit takes one block of 32 per cycle: lanes must be <= 32, not {lanes}")
        self.scale_bits = 8 if fmt == "mxfp4" else 7                # NVFP4: unsigned E4M3 (UE4M3)
        sb = self.scale_bits
        super().__init__({"a": In(data.ArrayLayout(4, self.lanes)), "w": In(data.ArrayLayout(4, self.lanes)),
                          "sa": In(data.ArrayLayout(sb, self.sub)), "sw": In(data.ArrayLayout(sb, self.sub)),
                          "en": In(1), "load": In(1), "acc": Out(32)})

    def elaborate(self, platform):
        m = Module()
        q = register_inputs(self, m, ["a", "w", "sa", "sw"])
        m.submodules.multipliers = mul = _E2M1Products(self.lanes)
        m.submodules.tree = tree = _Trees(self.lanes, self.sub, 9)
        m.d.comb += [mul.a.eq(q["a"]), mul.w.eq(q["w"]), tree.i.eq(mul.p)]
        # stage 2 -> 3: block sums, scales, controls
        part = Signal.like(tree.o, name="partial_q")
        sa2, sw2 = Signal.like(q["sa"], name="sa_q2"), Signal.like(q["sw"], name="sw_q2")
        en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
        m.d.sync += [part.eq(tree.o), sa2.eq(q["sa"]), sw2.eq(q["sw"]), en2.eq(q["en"]), load2.eq(q["load"])]
        m.submodules.scale = term = (_MXTerm(tree.out_width) if self.fmt == "mxfp4"
                                     else _NVTerm(self.sub, tree.out_width))
        m.d.comb += [term.s.eq(part), term.sa.eq(sa2), term.sw.eq(sw2)]
        # stage 3 -> 4: the FP32 term, controls
        t3 = Signal(32, name="term_q3")
        en3, load3 = Signal(name="en_q3"), Signal(name="load_q3")
        m.d.sync += [t3.eq(term.o), en3.eq(en2), load3.eq(load2)]
        m.submodules.accumulator = add = FP32Adder()
        m.d.comb += [add.a.eq(Mux(load3, 0x80000000, self.acc)), add.b.eq(t3)]
        with m.If(en3):
            m.d.sync += self.acc.eq(add.o)
        return m


def _e2m1_magnitude(m, y, frac, name):
    """The 3-bit E2M1 magnitude code of ``y / 2``, for ``y`` (twice a magnitude, below 16) held with ``frac``
    fraction bits: rounded to nearest even on the E2M1 grid in units of ``y`` (quantum 1 below 4, 2 below 8, 4
    above), saturating at 12 (= 2 * 6)."""
    r = Signal(5, name=f"{name}_rounded")                       # 2 * the E2M1 value, 0..16

    def rne(unit_bits):                                         # y rounded to a multiple of 2^unit_bits
        frac_bits = frac + unit_bits
        q = y >> frac_bits
        low = y[:frac_bits]
        half = 1 << (frac_bits - 1)
        up = (low > half) | ((low == half) & q[0])
        return (q + up) << unit_bits

    integer = y[frac:]
    with m.If(integer < 4):
        m.d.comb += r.eq(rne(0))
    with m.Elif(integer < 8):
        m.d.comb += r.eq(rne(1))
    with m.Else():
        m.d.comb += r.eq(rne(2))
    mag = Signal(3, name=f"{name}_mag")
    with m.Switch(r):
        for value, code in ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (6, 5), (8, 6), (12, 7)):
            with m.Case(value):
                m.d.comb += mag.eq(code)
        with m.Default():                                       # 16: beyond 6, saturated
            m.d.comb += mag.eq(7)
    return mag



class _E2M1Rounder(wiring.Component):
    """One element: ``RNE_sat(x / 2^(scale - 127))`` as an E2M1 code, for a BF16 ``x`` and the block's E8M0
    ``scale`` field (not NaN). ``2y = sig * 2^(k - 6)`` with ``sig = {field != 0, m}``, ``k = max(field, 1) -
    scale``, held with 8 fraction bits (bits shifted out jammed into a sticky bit); rounded to the E2M1 grid in
    units of 2y (quantum 1 below 4, 2 below 8, 4 above), saturating at 12 (= 2 * 6); the sign kept."""

    def __init__(self):
        super().__init__({"x": In(16), "scale": In(8), "code": Out(4)})

    def elaborate(self, platform):
        m = Module()
        field, mant, sign = self.x[7:15], self.x[:7], self.x[15]
        sig = Signal(8, name="sig")
        k = Signal(signed(10), name="k")
        m.d.comb += [sig.eq(Cat(mant, field.any())), k.eq(Mux(field.any(), field, 1) - self.scale)]
        y = Signal(13, name="twice_y")                          # 2y with 8 fraction bits
        left = Signal(range(5), name="left")
        right = Signal(range(10), name="right")
        m.d.comb += [left.eq(Mux(k + 2 >= 0, k + 2, 0)),
                     right.eq(Mux(k + 2 >= 0, 0, Mux(k + 2 < -9, 9, -(k + 2))))]
        shifted = Signal(8, name="shifted")
        lost = Signal(name="sticky")
        m.d.comb += [shifted.eq(sig >> right), lost.eq((sig & ((Const(1, 10) << right) - 1)).any())]
        m.d.comb += y.eq(Mux(k + 2 >= 0, sig << left, Cat(shifted[0] | lost, shifted[1:])))
        mag = _e2m1_magnitude(m, y, 8, "e2m1")
        m.d.comb += self.code.eq(Cat(mag, sign))
        return m


class MXQuantizer(wiring.Component):
    """MXFP4 activation quantizer: one block of 32 BF16 values per cycle -> 32 E2M1 codes and the E8M0 scale,
    bit-exact with ``golden.mx.quantize(x, MXFP4)`` on the BF16 values (combinational; ``o_valid`` follows
    ``i_valid``). The scale is ``max(field) - 2`` clamped at 0 (``floor(log2 amax)`` is the largest exponent
    field: no magnitude comparison needed), 255 if any value is NaN or Inf (then every code is 0); each element
    by ``_E2M1Rounder``. Activations arrive in BF16, the format LLM accelerators pass between layers; a BF16
    value is an FP32 value with the low 16 bits zero, which is what the golden model takes.

    Members: ``x`` : In(ArrayLayout(16, block)); ``i_valid`` : In(1); ``codes`` : Out(ArrayLayout(4, block));
    ``scale`` : Out(8); ``o_valid`` : Out(1).
    """

    latency = 0

    def __init__(self, *, block=32):
        self.block = check_power_of_two("block", block, 2, 256)
        super().__init__({"x": In(data.ArrayLayout(16, self.block)), "i_valid": In(1),
                          "codes": Out(data.ArrayLayout(4, self.block)), "scale": Out(8), "o_valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        fields = [self.x[i][7:15] for i in range(self.block)]
        top = _max_tree(m, fields, "max")
        bad = Signal(name="nonfinite")
        m.d.comb += bad.eq(Cat(*(f.all() for f in fields)).any())
        scale = Signal(8, name="scale_field")
        m.d.comb += scale.eq(Mux(top >= 2, top - 2, 0))
        for i in range(self.block):
            m.submodules[f"element{i}"] = el = _E2M1Rounder()
            m.d.comb += [el.x.eq(self.x[i]), el.scale.eq(scale), self.codes[i].eq(Mux(bad, 0, el.code))]
        m.d.comb += [self.scale.eq(Mux(bad, 0xFF, scale)), self.o_valid.eq(self.i_valid)]
        return m


# ---------------------------------------------------------------------------------------------------------
# The NVFP4 activation quantizer

NV_TS_FIELDS = (27, 226)        # the tensor scales the quantizer takes: 2^-100 <= ts < 2^100 (exponent fields)


def _divide_small(m, n, d, name, steps_per_signal=2):
    """Restoring long division of the unsigned ``n`` by the unsigned ``d`` (narrow: a remainder of
    ``len(d)`` bits moves down ``n`` one bit a step). Returns the quotient (``len(n)`` bits) and the remainder.
    The remainder is a named signal every ``steps_per_signal`` steps (the steps between are expressions: the
    same logic, a shorter chain of signals for the simulator to settle)."""
    wd = len(d)
    r = Const(0, wd)
    q = []
    for k, i in enumerate(reversed(range(len(n)))):
        t = Cat(n[i], r)
        ge = t >= d
        q.append(ge)
        r = Mux(ge, t - d, t)[:wd]
        if k % steps_per_signal == steps_per_signal - 1 or i == 0:
            nr = Signal(wd, name=f"{name}_r{i}")
            m.d.comb += nr.eq(r)
            r = nr
    quotient = Signal(len(n), name=f"{name}_q")
    m.d.comb += quotient.eq(Cat(*reversed(q)))
    return quotient, r


def _fp32_parts(x):
    """Significand (hidden bit set) and exponent field of a normal binary32 bit pattern."""
    return Cat(x[:23], 1), x[23:31]


class _NVScale(wiring.Component):
    """The NVFP4 block scale from the block's largest BF16 magnitude ``amax`` (15 bits) and the FP32 tensor scale
    ``ts``: ``e4m3(clip(fp32(fp32(amax / 6) / ts), 2^-6, 448))`` (golden.mx's numerics, torchao's), without a
    full division. ``q1 = fp32(amax / 6)`` by a long division by 3 of the 8-bit significand (``amax < 2^-122``
    gives a quotient below 2^-24 for every ``ts`` taken: the smallest scale). The quotient ``q = q1 / ts`` is
    needed to 5 significant bits (the E4M3 significand and its round bit) plus how the remainder ``R`` sits
    against the FP32 half-ulp ``h`` (``2^-20`` of the 5th bit): FP32 rounding lands ``q`` on an E4M3 midpoint
    exactly when ``q`` is within ``h`` of it (then the tie goes to even), so below the midpoint it matters
    whether ``R * 2^20 >= St * (2^20 - 1)`` and above it whether ``R * 2^20 > St``: comparisons of ``R`` with
    ``St`` and ``St >> 20``."""

    def __init__(self):
        super().__init__({"amax": In(15), "ts": In(32), "code": Out(8)})

    def elaborate(self, platform):
        m = Module()
        field_a = self.amax[7:15]
        tiny = Signal(name="tiny")
        m.d.comb += tiny.eq(field_a < 5)                       # amax < 2^-122 (or 0): the smallest scale
        # (significand << 26) // 3: the integer division of the 8-bit significand, then the remainder's
        # repeating binary fraction (1/3 = 0.0101..., 2/3 = 0.1010...)
        qi, ri = _divide_small(m, Cat(self.amax[:7], 1), Const(3, 2), "third")
        third = (4 ** 13 - 1) // 3                             # floor(2^26 / 3)
        q3 = Cat(Mux(ri == 1, third, Mux(ri == 2, 2 * third, 0))[:26], qi)
        r3 = ri
        m.submodules.q1 = q1r = RoundToFP32(35, 10)
        m.d.comb += [q1r.mag.eq(Cat(r3.any(), q3)), q1r.sign.eq(0), q1r.exp.eq(field_a - 127 - 35)]
        s1, f1 = _fp32_parts(q1r.o)
        st, ft = _fp32_parts(self.ts)
        ge = Signal(name="q_ge_1")
        m.d.comb += ge.eq(s1 >= st)
        e = Signal(signed(11), name="q_exp")                   # the binade of q
        m.d.comb += e.eq(f1 - ft - ~ge)
        r = Signal(25, name="r0")
        m.d.comb += r.eq(Mux(ge, s1, s1 << 1) - st)
        bits = []
        for i in range(1, 5):                                  # the 4 bits after the leading one
            t = Signal(26, name=f"t{i}")
            b = Signal(name=f"b{i}")
            nr = Signal(25, name=f"r{i}")
            m.d.comb += [t.eq(r << 1), b.eq(t >= st), nr.eq(Mux(b, t - st, t))]
            bits.append(b)
            r = nr
        mant = Cat(bits[2], bits[1], bits[0])
        d = bits[3]
        near_below = Signal(name="near_below")                 # FP32 rounds q up onto the midpoint
        above = Signal(name="above")                           # FP32(q) is above the midpoint
        m.d.comb += [near_below.eq((st - r) <= st[20:24]), above.eq(r > st[20:24])]
        up = Signal(name="up")
        m.d.comb += up.eq(Mux(d, above | mant[0], near_below & mant[0]))
        code = Signal(8, name="rounded_code")
        m.d.comb += code.eq(Cat(mant, (e + 7)[:4]) + up)
        with m.If(tiny | (e < -6)):
            m.d.comb += self.code.eq(0x08)                     # 2^-6, the smallest normal: the clip
        with m.Elif((e > 8) | ((e == 8) & ((mant == 7) | ((mant == 6) & (d | above))))):
            m.d.comb += self.code.eq(0x7E)                     # 448: the clip
        with m.Else():
            m.d.comb += self.code.eq(code)
        return m


class _NVElement(wiring.Component):
    """One element: ``y = fp32(x * recip)`` (a BF16 ``x``, the block's FP32 reciprocal scale), clipped to 6 and
    rounded to E2M1, both roundings to nearest even as golden.mx does. The 8 x 24-bit product has its leading one
    at bit 31 or 30 (a subnormal ``x`` gives ``|y| < 2^-20``: 0 for every ``recip`` the quantizer makes); rounded
    to 24 bits; only its top 5 bits and a sticky bit reach the E2M1 rounding (a quantum of ``2y`` is at least 1,
    so bits below ``2y``'s 2^-1 are sticky)."""

    def __init__(self):
        super().__init__({"x": In(16), "recip": In(32), "code": Out(4)})

    def elaborate(self, platform):
        m = Module()
        field, sign = self.x[7:15], self.x[15]
        sr, fr = _fp32_parts(self.recip)
        p = Signal(32, name="product")
        m.d.comb += p.eq(Cat(self.x[:7], 1) * sr)
        hi = p[31]
        t = Signal(24, name="kept")
        rb, sticky = Signal(name="round_bit"), Signal(name="sticky")
        m.d.comb += [t.eq(Mux(hi, p[8:], p[7:31])), rb.eq(Mux(hi, p[7], p[6])),
                     sticky.eq(Mux(hi, p[:7].any(), p[:6].any()))]
        s = Signal(25, name="rounded")
        m.d.comb += s.eq(t + (rb & (sticky | t[0])))
        carry = s[24]
        e = Signal(signed(11), name="y_exp")                   # y = sig * 2^(e - 23), sig in [2^23, 2^24)
        m.d.comb += e.eq(field - 127 + fr - 127 + hi + carry)
        sig = Signal(24, name="y_sig")
        m.d.comb += sig.eq(Mux(carry, 1 << 23, s[:24]))
        compact = Cat(sig[:19].any(), sig[19:])                # 2y = compact * 2^(e - 4)
        y = Signal(10, name="twice_y")                         # 2y with 6 fraction bits, for e in -2..2
        m.d.comb += y.eq(compact << (e + 2)[:3])
        mag = _e2m1_magnitude(m, y, 6, "e2m1")
        with m.If(~field.any() | (e < -2)):
            m.d.comb += self.code.eq(Cat(Const(0, 3), sign))
        with m.Elif(e > 2):
            m.d.comb += self.code.eq(Cat(Const(7, 3), sign))
        with m.Else():
            m.d.comb += self.code.eq(Cat(mag, sign))
        return m


class NVQuantizer(wiring.Component):
    """NVFP4 activation quantizer: one block of 16 BF16 values per cycle -> 16 E2M1 codes and the E4M3 block
    scale, bit-exact with ``golden.mx.quantize(x, NVFP4, tensor_scale=ts)`` on the BF16 values (torchao's
    numerics: ``s = e4m3(clip(amax / 6 / ts))``, ``recip = fp32(fp32(1 / ts) / s)``, ``y = fp32(x * recip)``).

    The tensor scale arrives twice, as ``ts`` and as ``inv_ts = fp32(1 / ts)``: both are per-tensor constants
    the host computes once (as NVFP4 kernels pass a tensor's global scale and its reciprocal), so the unit has no
    general divider. Taken: ``2^-100 <= ts < 2^100`` (``NV_TS_FIELDS``; every tensor a model makes). The block
    scale by ``_NVScale``; the reciprocal by a long division of ``inv_ts``'s significand by the scale's 4-bit
    significand, one FP32 rounding; each element by ``_NVElement``. A NaN or Inf in the block gives the NaN
    scale ``0x7F`` and zero codes. With ``i_valid`` low the outputs are 0 (nothing downstream toggles on an
    idle cycle). Combinational (``latency = 0``) or, with ``pipeline=True``, registered after
    the block scale and the reciprocal (``latency = 1``)."""

    def __init__(self, *, block=16, pipeline=False):
        self.block = check_power_of_two("block", block, 2, 256)
        self.pipeline = check_bool("pipeline", pipeline)
        super().__init__({"x": In(data.ArrayLayout(16, self.block)), "ts": In(32), "inv_ts": In(32),
                          "i_valid": In(1), "codes": Out(data.ArrayLayout(4, self.block)), "scale": Out(8),
                          "o_valid": Out(1)})

    @property
    def latency(self):
        return 1 if self.pipeline else 0

    def elaborate(self, platform):
        m = Module()
        mags = [self.x[i][:15] for i in range(self.block)]
        top = _max_tree(m, mags, "max")
        bad = Signal(name="nonfinite")
        m.d.comb += bad.eq(Cat(*(self.x[i][7:15].all() for i in range(self.block))).any())
        m.submodules.scale = sc = _NVScale()
        m.d.comb += [sc.amax.eq(top), sc.ts.eq(self.ts)]
        # recip = fp32(inv_ts / s): s = (8 + m) * 2^(field - 10), inv_ts = Si * 2^(fi - 150)
        si, fi = _fp32_parts(self.inv_ts)
        qr, rr = _divide_small(m, Cat(Const(0, 6), si), Cat(sc.code[:3], 1), "recip")
        m.submodules.recip = rec = RoundToFP32(31, 10)
        m.d.comb += [rec.mag.eq(Cat(rr.any(), qr)), rec.sign.eq(0), rec.exp.eq(fi - sc.code[3:7] - 147)]
        # the pipeline register (optional) between the block's scale and its elements
        dom = m.d.sync if self.pipeline else m.d.comb
        x = Signal.like(self.x, name="x_q")
        recip, code, bad_q, valid = Signal(32, name="recip_q"), Signal(8, name="scale_q"), Signal(name="bad_q"), \
            Signal(name="valid_q")
        dom += [x.eq(self.x), recip.eq(rec.o), code.eq(sc.code), bad_q.eq(bad), valid.eq(self.i_valid)]
        for i in range(self.block):
            m.submodules[f"element{i}"] = el = _NVElement()
            m.d.comb += [el.x.eq(x[i]), el.recip.eq(recip), self.codes[i].eq(Mux(bad_q | ~valid, 0, el.code))]
        m.d.comb += [self.scale.eq(Mux(valid, Mux(bad_q, gmx.E4M3_NAN, code), 0)), self.o_valid.eq(valid)]
        return m
