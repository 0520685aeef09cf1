"""Building blocks shared by the MAC units.

Each block is its own module in the netlist, so synthesis can report the paper's Table 5 breakdown
(multiplier, shifters, registers + accumulator) from the hierarchy. All are combinational except
``Accumulator``.
"""

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.validate import check_int_param as check_width  # one parameter check for golden and RTL

_signed = signed

__all__ = ["register_inputs", "operand_formats", "flag_bits", "SignMag", "check_width", "SignMagMultiplier",
           "IntMultiplier", "BarrelShifter", "Accumulator", "SplitAccumulator"]


def check_bool(name, value):
    """``value`` as a ``bool``: ``True``/``False`` (or 0/1); anything else (``"no"``, 2, None) is an error."""
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, not {value!r}")


def register_inputs(component, m, names):
    """Stage-1 registers (sync domain) for the input ports ``names`` of ``component`` plus ``en`` and ``load``;
    returns ``{name: registered copy}``. Every MAC and dot-product unit registers its operands this way."""
    regs = {}
    for name in [*names, "en", "load"]:
        port = getattr(component, name)
        r = Signal.like(port, name=f"{name}_q")
        m.d.sync += r.eq(port)
        regs[name] = r
    return regs


def operand_formats(a_base, a_kept, w_base, w_kept, group_size=1):
    """The activation and weight ``SDRFormat`` of a compressed-operand unit, checked by the golden model's rules;
    an error names the operand (``operand w (w_base, w_kept): kept_bits must be ...``)."""
    from golden.sdr import SDRFormat
    fmts = []
    for op, base, kept in (("a", a_base, a_kept), ("w", w_base, w_kept)):
        try:
            fmts.append(SDRFormat(base, kept, group_size))
        except (TypeError, ValueError) as e:
            raise type(e)(f"operand {op} ({op}_base, {op}_kept): {e}") from None
    return tuple(fmts)


def flag_bits(max_flag):
    """Width of a flag port that holds ``0 .. max_flag``."""
    return max(1, max_flag.bit_length())


class SignMag(data.StructLayout):
    """A razored element: ``mag`` (``n`` bits, LSBs) then ``sign`` (MSB), i.e. the word ``sign << n | mag``."""

    def __init__(self, mag_bits):
        super().__init__({"mag": unsigned(mag_bits), "sign": unsigned(1)})


class SignMagMultiplier(wiring.Component):
    """``a_bits x b_bits`` unsigned magnitude multiplier with the sign as the XOR of the operand signs.

    Members: ``a``, ``b`` : In(SignMag); ``mag`` : Out(unsigned(a_bits + b_bits)); ``neg`` : Out(1).
    """

    def __init__(self, a_bits, b_bits):
        self.a_bits = check_width("a_bits", a_bits, 1, 16)
        self.b_bits = check_width("b_bits", b_bits, 1, 16)
        super().__init__({
            "a": In(SignMag(a_bits)), "b": In(SignMag(b_bits)),
            "mag": Out(unsigned(a_bits + b_bits)), "neg": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.mag.eq(self.a.mag * self.b.mag), self.neg.eq(self.a.sign ^ self.b.sign)]
        return m


class IntMultiplier(wiring.Component):
    """Two's complement ``a_bits x b_bits`` multiplier. Members: ``a``, ``b`` : In(signed); ``p`` : Out(signed)."""

    def __init__(self, a_bits, b_bits):
        self.a_bits = check_width("a_bits", a_bits, 2, 32)
        self.b_bits = check_width("b_bits", b_bits, 2, 32)
        super().__init__({"a": In(signed(a_bits)), "b": In(signed(b_bits)), "p": Out(signed(a_bits + b_bits))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(self.a * self.b)
        return m


class BarrelShifter(wiring.Component):
    """Logarithmic left shifter: ``o = i << amount`` for ``amount`` in ``[0, max_shift]``.

    Built as ``ceil(log2(max_shift + 1))`` mux stages, one per bit of ``amount``; the output is wide enough
    for the largest shift, so nothing is lost. ``signed=True``: two's complement in and out.
    Members: ``i`` : In(width); ``amount`` : In(...);
    ``o`` : Out(width + max_shift).
    """

    def __init__(self, width, max_shift, *, signed=False):
        self.width = check_width("width", width, 1, 64)
        self.max_shift = check_width("max_shift", max_shift, 0, 64)
        self.signed = bool(signed)
        kind = _signed if self.signed else unsigned
        super().__init__({
            "i": In(kind(width)), "amount": In(unsigned(max(1, max_shift.bit_length()))),
            "o": Out(kind(width + max_shift)),
        })

    def elaborate(self, platform):
        m = Module()
        stage = self.i
        kind = _signed if self.signed else unsigned
        for k in range(len(self.amount)):
            step = 1 << k
            nxt = Signal(kind(min(len(stage) + step, len(self.o))), name=f"stage{k}")
            m.d.comb += nxt.eq(Mux(self.amount[k], stage << step, stage))
            stage = nxt
        m.d.comb += self.o.eq(stage)
        return m


class Accumulator(wiring.Component):
    """The accumulator shared by every integer MAC (see docs/number-formats.md).

    ``if en: acc <= (0 if load else acc) + (neg ? -product : product)`` modulo ``2**acc_width``; the
    domain's synchronous reset clears ``acc``. One result per cycle, latency 1.

    Parameters: ``product_width``; ``acc_width`` (default 32); ``sign_magnitude``: the product arrives as an
    unsigned magnitude plus ``neg`` (decompression-free MAC) instead of a signed value.
    Members: ``product`` : In(signed or unsigned(product_width)); ``neg`` : In(1) (sign-magnitude only);
    ``en``, ``load`` : In(1); ``acc`` : Out(signed(acc_width)).
    """

    def __init__(self, product_width, acc_width=32, *, sign_magnitude=False):
        self.product_width = check_width("product_width", product_width, 1, 64)
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        self.sign_magnitude = bool(sign_magnitude)
        sig = {"product": In((unsigned if sign_magnitude else signed)(product_width)),
               "en": In(1), "load": In(1), "acc": Out(signed(acc_width))}
        if sign_magnitude:
            sig["neg"] = In(1)
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        base = Mux(self.load, 0, self.acc)
        if self.sign_magnitude:
            # acc - p == acc + ~p + 1: one adder with the sign as carry-in.
            p = Signal(signed(self.acc_width))
            m.d.comb += p.eq(self.product)
            addend = Signal(signed(self.acc_width))
            m.d.comb += addend.eq(Mux(self.neg, ~p, p))
            total = base + addend + self.neg
        else:
            total = base + self.product
        with m.If(self.en):
            m.d.sync += self.acc.eq(total[:self.acc_width])
        return m


class SplitAccumulator(Accumulator):
    """``Accumulator``'s function on a signed product, in parts of ``split`` bits (the last takes the rest) with
    the carry between neighbouring parts registered (a carry-delayed accumulator): each cycle adds each part of
    the product, plus the carry the part below produced the cycle before, to its part of the sum, so the longest
    carry chain is ``split + 1`` bits instead of ``acc_width``. ``acc`` resolves the pending carries (one adder of
    single-bit addends, off the accumulation loop): the same value, every cycle, as ``Accumulator`` (``load``
    drops the pending carries with the old sum). One more flip-flop per part boundary.

    Parameters: ``product_width``; ``acc_width`` (default 32); ``split``: bits per part (1 .. acc_width - 1);
    ``reset``: whether the domain's reset clears the sum (False: the parts and carries are reset-less registers,
    for a user that starts every sum with ``load``, as the GEMM tile's processing elements do).
    Members: as ``Accumulator`` (no ``neg``)."""

    def __init__(self, product_width, acc_width=32, *, split=16, reset=True):
        super().__init__(product_width, acc_width)
        self.split = check_width("split", split, 1, self.acc_width - 1)
        self.reset = check_bool("reset", reset)

    def elaborate(self, platform):
        m = Module()
        n, k = self.acc_width, self.split
        bounds = list(range(0, n, k)) + [n]
        p = Signal(signed(n), name="addend")
        m.d.comb += p.eq(self.product)                        # sign-extended (or wrapped) to the accumulator
        parts, carries = [], []
        for j, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
            w = hi - lo
            part = Signal(w, name=f"acc_part{j}", reset_less=not self.reset)
            total = Signal(w + 1, name=f"sum_part{j}")
            base = Mux(self.load, 0, part)
            if j == 0:
                m.d.comb += total.eq(base + p[lo:hi])
            else:
                cin = Signal(name=f"carry_in{j}")
                m.d.comb += [cin.eq(carries[-1] & ~self.load),
                             # part + addend + carry-in as one adder: the carry enters as the LSB of both operands
                             total.eq((Cat(cin, base) + Cat(cin, p[lo:hi]))[1:])]
            with m.If(self.en):
                m.d.sync += part.eq(total[:w])
            if hi < n:
                carry = Signal(name=f"acc_carry{j}", reset_less=not self.reset)
                with m.If(self.en):
                    m.d.sync += carry.eq(total[w])
                carries.append(carry)
            parts.append(part)
        pending = Signal(n, name="pending")                   # each carry at the bottom of the part above it
        m.d.comb += pending.eq(sum(c << b for c, b in zip(carries, bounds[1:])))
        m.d.comb += self.acc.eq(Cat(*parts) + pending)
        return m
