"""Per-group dynamic max-scaled quantization (DMQ) in hardware: the comparison the paper argues against (Sec. 4.2).

``DMQEncoder`` quantizes one group of base integers per cycle to INT codes with the group's absolute maximum as
its scale; ``DMQDotProductUnit`` multiplies such codes lane by lane and applies the product of the two groups'
scales to each group's partial sum. Both are bit-exact with ``golden.dmq`` and built like their QRazor
counterparts (``hdl.sdr_encoder.SDREncoder``, ``hdl.dot.DotProductUnit``) so that the flow compares like with
like: the encoder's OR tree and leading-one detector become a maximum tree, its per-element shift and round a
rounding division; the dot unit's one shift per group becomes one multiplication per group by ``sa * sw``.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden.dmq import DMQFormat
from golden.validate import check_power_of_two

from .dot import MAX_LANES, _Dot, _SignedProducts, _Trees
from .parts import SignMag, check_bool, check_width
from .sdr_encoder import MAX_GROUP, saturated_magnitudes

__all__ = ["DMQEncoder", "DMQDotProductUnit", "RoundingDivider"]


def _max_tree(m, values, name):
    """Balanced tree of compare-and-select nodes over unsigned ``values``: the maximum."""
    level = 0
    while len(values) > 1:
        nxt = []
        for i in range(0, len(values) - 1, 2):
            s = Signal.like(values[i], name=f"{name}_l{level}_{i // 2}")
            m.d.comb += s.eq(Mux(values[i] > values[i + 1], values[i], values[i + 1]))
            nxt.append(s)
        if len(values) % 2:
            nxt.append(values[-1])
        values, level = nxt, level + 1
    return values[0]


class RoundingDivider(wiring.Component):
    """``q = floor((2*Q*mag + m) / (2*m))`` for ``mag <= m`` (``Q * mag / m`` rounded half up; 0 for ``m = 0``).

    A restoring division with ``q_bits`` steps: the quotient is at most ``Q = 2**q_bits - 1``, so the divisor
    ``2m`` is compared at the shifts ``q_bits - 1 .. 0`` only; ``2*Q*mag`` is a shift and a subtraction.
    Combinational. Members: ``mag``, ``m`` : In(unsigned(width)); ``q`` : Out(unsigned(q_bits)).
    """

    def __init__(self, width, q_bits):
        self.width = check_width("width", width, 1, 32)
        self.q_bits = check_width("q_bits", q_bits, 1, 8)
        super().__init__({"mag": In(unsigned(width)), "m": In(unsigned(width)), "q": Out(unsigned(q_bits))})

    def elaborate(self, platform):
        m = Module()
        k, w = self.q_bits, self.width
        nw = w + k + 2
        rem = Signal(unsigned(nw), name="numerator")
        m.d.comb += rem.eq(((self.mag << (k + 1)) - (self.mag << 1)) + self.m)     # 2*Q*mag + m
        bits = []
        for j in reversed(range(k)):
            d = Signal(unsigned(nw), name=f"divisor{j}")
            m.d.comb += d.eq(self.m << (j + 1))                                     # 2m << j
            ge = Signal(name=f"q{j}")
            m.d.comb += ge.eq(rem >= d)
            nxt = Signal(unsigned(nw), name=f"rem{j}")
            m.d.comb += nxt.eq(Mux(ge, rem - d, rem))
            bits.append(ge)
            rem = nxt
        q = Signal(unsigned(k))
        for j, b in zip(reversed(range(k)), bits):
            m.d.comb += q[j].eq(b)
        m.d.comb += self.q.eq(Mux(self.m.any(), q, 0))
        return m


class DMQEncoder(wiring.Component):
    """Per-group dynamic absmax quantization of one group per cycle.

    For the ``group_size`` base integers of ``x`` (``base_bits`` two's complement): saturate the most negative
    value, take magnitudes, find their maximum ``m`` in a balanced compare-and-select tree (the group's scale),
    and divide each magnitude: ``code = sign * floor((2*Q*mag + m) / (2*m))``, ``Q = 2**(kept_bits-1) - 1``,
    one ``RoundingDivider`` per element. A magnitude that rounds to 0 gets sign 0. Bit-exact with
    ``golden.dmq.dmq_compress``.

    Throughput one group per cycle; latency 0 (combinational) or 1 with ``pipeline=True``.

    Parameters
    ----------
    group_size, base_bits, kept_bits, pipeline
        As ``SDREncoder``'s.

    Members
    -------
    x, i_valid, codes, o_valid
        As ``SDREncoder``'s.
    scale : Out(unsigned(base_bits - 1))
        The group's absolute maximum (where the SDR encoder has ``flag``).
    """

    def __init__(self, *, group_size=16, base_bits=16, kept_bits=4, pipeline=False):
        check_power_of_two("group_size", group_size, 1, MAX_GROUP)
        self.fmt = DMQFormat(base_bits, kept_bits, group_size)
        self.group_size, self.base_bits, self.kept_bits = group_size, base_bits, kept_bits
        self.pipeline = check_bool("pipeline", pipeline)
        self.mag_bits = self.fmt.mag_bits
        super().__init__({
            "x": In(data.ArrayLayout(signed(base_bits), group_size)),
            "i_valid": In(1),
            "codes": Out(data.ArrayLayout(SignMag(self.mag_bits), group_size)),
            "scale": Out(unsigned(base_bits - 1)),
            "o_valid": Out(1),
        })

    @property
    def latency(self):
        return 1 if self.pipeline else 0

    def elaborate(self, platform):
        m = Module()
        B, g = self.base_bits, self.group_size
        mags, negs = saturated_magnitudes(m, self.x, B, g)
        top = _max_tree(m, mags, "max")
        codes = Signal(self.codes.shape())
        for i in range(g):
            div = RoundingDivider(B - 1, self.mag_bits)
            m.submodules[f"divide{i}"] = div
            m.d.comb += [div.mag.eq(mags[i]), div.m.eq(top),
                         codes[i].mag.eq(div.q), codes[i].sign.eq(negs[i] & div.q.any())]
        dom = m.d.sync if self.pipeline else m.d.comb
        dom += [self.codes.eq(codes), self.scale.eq(top), self.o_valid.eq(self.i_valid)]
        return m


class _ScaleProducts(wiring.Component):
    """``S`` scale multipliers ``sa_s * sw_s`` (the product of the two groups' scales)."""

    def __init__(self, sub, a_bits, w_bits):
        self.sub = sub
        super().__init__({"sa": In(data.ArrayLayout(unsigned(a_bits), sub)),
                          "sw": In(data.ArrayLayout(unsigned(w_bits), sub)),
                          "o": Out(data.ArrayLayout(unsigned(a_bits + w_bits), sub))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.o[s].eq(self.sa[s] * self.sw[s]) for s in range(self.sub)]
        return m


class _GroupScalers(wiring.Component):
    """One signed x unsigned multiplier per sub-group (partial sum times scale product), then their sum."""

    def __init__(self, sub, width, scale_bits):
        self.sub, self.width = sub, width
        self.out_width = width + scale_bits + 1 + ceil_log2(sub)
        super().__init__({"i": In(data.ArrayLayout(signed(width), sub)),
                          "scale": In(data.ArrayLayout(unsigned(scale_bits), sub)),
                          "o": Out(signed(self.out_width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(sum(self.i[s] * self.scale[s] for s in range(self.sub)))
        return m


class DMQDotProductUnit(_Dot):
    """DMQ dot-product unit: ``lanes`` INT code products per cycle, one scale multiplication per group.

    The lanes' sign-magnitude products are summed in the same narrow tree as QRazor's; each sub-group's sum is
    then multiplied by ``sa_s * sw_s`` (where QRazor shifts by ``fa_s + fw_s``). With ``g >= L`` a group spans
    ``g / L`` cycles and every cycle's partial sum is scaled, which equals scaling the group's sum once at its
    end (distributivity) without a group-end signal or a group register.

    Pipeline: operand registers; products + trees into registered partial sums, and the scale products,
    registered; the scale multipliers and the accumulator (``acc_width`` bits, wrapping). ``latency = 3``.
    Bit-exact with ``golden.dmq.dot_dmq`` + ``golden.accumulate``.

    Parameters
    ----------
    lanes : int
        Products per cycle (power of two, 1..64).
    group_size : int
        Elements per group (power of two, 1..128); ``S = max(1, lanes // group_size)`` groups per step.
    a_base, w_base : int
        Base widths of the activations and weights (their scales are ``base - 1`` bits).
    kept_bits : int
        The codes' width, sign included.
    acc_width : int
        Default 40: the scales carry the dynamic range, about ``log2(Qa * Qw)`` bits more than the base
        precision's 32.

    Members
    -------
    a, w : In(ArrayLayout(SignMag(kept_bits - 1), lanes))
    sa : In(ArrayLayout(a_base - 1, S))
    sw : In(ArrayLayout(w_base - 1, S))
    en, load : In(1)
    acc : Out(signed(acc_width))
    """

    def __init__(self, *, lanes=16, group_size=16, a_base=16, w_base=8, kept_bits=4, acc_width=40):
        self.lanes = check_power_of_two("lanes", lanes, 1, MAX_LANES)
        self.group_size = check_power_of_two("group_size", group_size, 1, MAX_GROUP)
        fmts = []
        for op, base in (("a", a_base), ("w", w_base)):
            try:
                fmts.append(DMQFormat(base, kept_bits, self.group_size))
            except (TypeError, ValueError) as e:
                raise type(e)(f"operand {op} ({op}_base, kept_bits): {e}") from None
        self.a_fmt, self.w_fmt = fmts
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        self.sub = max(1, self.lanes // self.group_size)
        n = self.a_fmt.mag_bits
        super().__init__({
            "a": In(data.ArrayLayout(SignMag(n), self.lanes)), "w": In(data.ArrayLayout(SignMag(n), self.lanes)),
            "sa": In(data.ArrayLayout(unsigned(self.a_fmt.scale_bits), self.sub)),
            "sw": In(data.ArrayLayout(unsigned(self.w_fmt.scale_bits), self.sub)),
            "en": In(1), "load": In(1), "acc": Out(signed(self.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        q = self._stage1(m, ["a", "w", "sa", "sw"])
        n = self.a_fmt.mag_bits
        m.submodules.multipliers = mul = _SignedProducts(self.lanes, n, n)
        m.submodules.tree = tree = _Trees(self.lanes, self.sub, 2 * n + 1)
        m.submodules.scales = sp = _ScaleProducts(self.sub, self.a_fmt.scale_bits, self.w_fmt.scale_bits)
        m.d.comb += [mul.a.eq(q["a"]), mul.w.eq(q["w"]), tree.i.eq(mul.p), sp.sa.eq(q["sa"]), sp.sw.eq(q["sw"])]
        part = Signal.like(tree.o, name="partial_q")
        scale2 = Signal.like(sp.o, name="scale_q2")
        en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
        m.d.sync += [part.eq(tree.o), scale2.eq(sp.o), en2.eq(q["en"]), load2.eq(q["load"])]
        sb = self.a_fmt.scale_bits + self.w_fmt.scale_bits
        m.submodules.scaler = sc = _GroupScalers(self.sub, tree.out_width, sb)
        m.d.comb += [sc.i.eq(part), sc.scale.eq(scale2)]
        self._stage3(m, sc.o, en2, load2)
        return m
