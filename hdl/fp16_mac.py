"""FP16 MAC (the paper's Table 5 baseline): binary16 operands and accumulator, fused multiply-add.

Bit-exact with ``golden.fp16``: per enabled cycle ``acc <= round(a * b + (load ? -0 : acc))`` with one
round-to-nearest-even, subnormals in and out, overflow to Inf, canonical NaN ``0x7E00``; reset gives ``+0``.

Datapath (``FP16FMA``, combinational): the 11x11 significand multiplier (``SignMagMultiplier``, its own
module, so synthesis reports it as the multiplier), then an *exact* fixed-point window: every binary16
product is an integer multiple of ``2**-48`` below ``2**33`` and every addend a multiple of ``2**-24``, so
product and addend are aligned into an 82-bit two's complement sum with no bits lost, then normalized by a
leading-one search and rounded once. This is the straightforward correct-by-construction FMA; production
FMAs align the addend in a ~3p-bit window with a sticky bit instead, which is smaller. The synthesis report
says so next to its area.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp16 import CANONICAL_NAN, EXP_BITS, FRAC_BITS, SIGN_BIT

from .macs import _MAC
from .parts import SignMagMultiplier

__all__ = ["FP16FMA", "FP16MAC", "CANONICAL_NAN"]

_PROD_W = 22 + 58          # significand product << (Ea + Eb - 2), shift 0..58
_ADD_W = 11 + 53           # addend significand << (Ec + 23), shift 24..53
_SUM_W = _PROD_W + 2       # signed sum of the two


class _Unpacked:
    def __init__(self, m, x, name):
        self.sign = x[SIGN_BIT]
        e, frac = x[FRAC_BITS:FRAC_BITS + EXP_BITS], x[:FRAC_BITS]
        self.exp = Signal(5, name=f"{name}_e")
        self.sig = Signal(11, name=f"{name}_sig")
        self.nan = Signal(name=f"{name}_nan")
        self.inf = Signal(name=f"{name}_inf")
        self.zero = Signal(name=f"{name}_zero")
        m.d.comb += [
            self.exp.eq(Mux(e.any(), e, 1)),                 # subnormals share exponent 1 (value sig * 2**(E-25))
            self.sig.eq(Cat(frac, e.any())),
            self.nan.eq(e.all() & frac.any()),
            self.inf.eq(e.all() & ~frac.any()),
            self.zero.eq(~e.any() & ~frac.any()),
        ]


class FP16FMA(wiring.Component):
    """Combinational fused ``r = round(a * b + c)`` on binary16 bit patterns.

    Members: ``a``, ``b``, ``c`` : In(16); ``r`` : Out(16).
    """

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "c": In(16), "r": Out(16)})

    def elaborate(self, platform):
        m = Module()
        a, b, c = _Unpacked(m, self.a, "a"), _Unpacked(m, self.b, "b"), _Unpacked(m, self.c, "c")
        m.submodules.multiplier = mul = SignMagMultiplier(11, 11)
        m.d.comb += [mul.a.mag.eq(a.sig), mul.a.sign.eq(a.sign), mul.b.mag.eq(b.sig), mul.b.sign.eq(b.sign)]
        sp = mul.neg

        # Exact alignment in units of 2**-48.
        prod = Signal(_PROD_W)
        addend = Signal(_ADD_W)
        prod_shift = Signal(6)                          # Ea + Eb - 2, 0..58
        add_shift = Signal(6)                           # Ec + 23, 24..53
        m.d.comb += [prod_shift.eq(a.exp + b.exp - 2), add_shift.eq(c.exp + 23),
                     prod.eq(mul.mag << prod_shift), addend.eq(c.sig << add_shift)]
        total = Signal(signed(_SUM_W))
        m.d.comb += total.eq(Mux(sp, -prod, prod) + Mux(c.sign, -addend, addend))
        neg = total[-1]
        mag = Signal(unsigned(_SUM_W - 1))
        m.d.comb += mag.eq(Mux(neg, -total, total))

        # Leading one of |sum| (priority: the highest set bit wins).
        lead = Signal(range(_SUM_W))
        for i in range(_SUM_W - 1):
            with m.If(mag[i]):
                m.d.comb += lead.eq(i)
        # shift = max(lead - 10, 24): keep 11 bits, never below the subnormal step 2**-24.
        shift = Signal(range(_SUM_W))
        m.d.comb += shift.eq(Mux(lead > 34, lead - 10, 24))
        q = Signal(12)
        m.d.comb += q.eq(mag >> shift)
        round_bit = Signal()
        sticky = Signal()
        below = Signal(unsigned(_SUM_W - 1))
        shift_m1 = Signal(range(_SUM_W))
        m.d.comb += [
            shift_m1.eq(shift - 1),
            round_bit.eq((mag >> shift_m1)[0]),
            below.eq((Const(1, _SUM_W) << shift_m1) - 1),
            sticky.eq((mag & below).any()),
        ]
        up = round_bit & (sticky | q[0])
        qr = Signal(12)
        m.d.comb += qr.eq(q + up)
        carry = qr[11]                                  # rounded up to 2**11: renormalize
        q_fin = Signal(11)
        m.d.comb += q_fin.eq(Mux(carry, qr[1:12], qr[:11]))
        e_res = Signal(range(_SUM_W + 2))
        m.d.comb += e_res.eq(shift + carry - 23)
        finite = Signal(16)
        with m.If(~q_fin[10]):                          # subnormal (or rounded to a signed zero)
            m.d.comb += finite.eq(Cat(q_fin[:10], Const(0, 5), neg))
        with m.Elif(e_res >= 0x1F):                     # overflow
            m.d.comb += finite.eq(Cat(Const(0, 10), Const(0x1F, 5), neg))
        with m.Else():
            m.d.comb += finite.eq(Cat(q_fin[:10], e_res[:5], neg))

        with m.If(a.nan | b.nan | c.nan):
            m.d.comb += self.r.eq(CANONICAL_NAN)
        with m.Elif(a.inf | b.inf):
            with m.If(a.zero | b.zero | (c.inf & (c.sign != sp))):
                m.d.comb += self.r.eq(CANONICAL_NAN)    # Inf * 0, Inf - Inf
            with m.Else():
                m.d.comb += self.r.eq(Cat(Const(0, 10), Const(0x1F, 5), sp))
        with m.Elif(c.inf):
            m.d.comb += self.r.eq(self.c)
        with m.Elif(~total.any()):                        # exact zero: -0 only for (-0) + (-0)
            m.d.comb += self.r.eq(Mux(sp & c.sign & ~prod.any() & ~addend.any(), 0x8000, 0))
        with m.Else():
            m.d.comb += self.r.eq(finite)
        return m


class FP16MAC(_MAC):
    """FP16 MAC with the same interface timing as the integer MACs (``latency = 2``).

    Stage 1 registers ``a``, ``b``, ``en``, ``load``; stage 2 is the fused multiply-add into the 16-bit
    accumulator register. No parameters.

    Members
    -------
    a, b : In(16)
        binary16 bit patterns.
    en, load : In(1)
        Accumulate ``a * b`` this cycle; start a new sum with it (the addend is -0).
    acc : Out(16)
        The binary16 accumulator, ``latency = 2`` cycles after the inputs.
    """

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "en": In(1), "load": In(1), "acc": Out(16)})

    def elaborate(self, platform):
        m = Module()
        regs = self._register_inputs(m, ["a", "b"])
        m.submodules.accumulator = acc = _FP16Accumulator()
        m.d.comb += [acc.a.eq(regs["a"]), acc.b.eq(regs["b"]), acc.en.eq(regs["en"]), acc.load.eq(regs["load"]),
                     self.acc.eq(acc.acc)]
        return m


class _FP16Accumulator(wiring.Component):
    """The FMA and the accumulator register: ``if en: acc <= fma(a, b, load ? -0 : acc)``."""

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "en": In(1), "load": In(1), "acc": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fma = fma = FP16FMA()
        m.d.comb += [fma.a.eq(self.a), fma.b.eq(self.b), fma.c.eq(Mux(self.load, 0x8000, self.acc))]
        with m.If(self.en):
            m.d.sync += self.acc.eq(fma.r)
        return m
