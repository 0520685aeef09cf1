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
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden import mx as gmx
from golden.validate import check_power_of_two

from .dmq import _max_tree
from .dot import _Trees
from .parts import register_inputs

__all__ = ["BlockDotProductUnit", "MXQuantizer", "E2M1Multiplier", "FP32Adder", "RoundToFP32", "CANONICAL_NAN",
           "FORMATS"]

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
        r = Signal(5, name="rounded")                           # 2 * the E2M1 value, 0..16

        def rne(unit_bits):                                     # y rounded to a multiple of 2^unit_bits (in 2y units)
            frac_bits = 8 + unit_bits
            q = y >> frac_bits
            frac = y[:frac_bits]
            half = 1 << (frac_bits - 1)
            up = (frac > half) | ((frac == half) & q[0])
            return (q + up) << unit_bits

        integer = y[8:]
        with m.If(integer < 4):
            m.d.comb += r.eq(rne(0))
        with m.Elif(integer < 8):
            m.d.comb += r.eq(rne(1))
        with m.Else():
            m.d.comb += r.eq(rne(2))
        mag = Signal(3, name="mag")
        with m.Switch(r):
            for value, code in ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (6, 5), (8, 6), (12, 7)):
                with m.Case(value):
                    m.d.comb += mag.eq(code)
            with m.Default():                                   # 16: beyond 6, saturated
                m.d.comb += mag.eq(7)
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
