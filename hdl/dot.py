"""Dot-product units: the engine's building block. ``L`` lanes multiply in parallel, an adder tree sums them,
and one accumulator takes the sum every cycle.

``DotProductUnit`` (QRazor, decompression-free): inside an SDR group both operands' flags are fixed, so the
lanes' small sign-magnitude products (3x3 for W4A4, 7x3 for W4A8) are summed *before* shifting, in a narrow
tree, and each group's sum is shifted **once** by ``fa + fw``. With ``g >= L`` a group spans ``g / L`` cycles
and one shifter serves the cycle (``S = 1`` flag pair per cycle, the same in each of the group's cycles); with
``g < L`` ``S = L / g`` groups arrive per cycle, each with its own tree and shifter.

``IntDotProductUnit`` (baselines): ``L`` two's complement multipliers and the same tree style and accumulator
(``style="tree"``), or the whole dot product written as one sum of products (``style="merged"``) so that
Yosys maps it as a single multi-operand adder (``alumacc``/``$macc``) instead of separate adders.

Pipeline (both): stage 1 registers the operands, flags, ``en`` and ``load``; stage 2 multiplies and sums the
lanes into a registered partial sum; stage 3 shifts (QRazor) and accumulates:
``if en: acc <= (load ? 0 : acc) + step`` modulo ``2**acc_width``. Throughput one L-element step per cycle,
``latency = 3``. Bit-exact with ``golden.dot_dfree`` / ``golden.dot_int`` + ``golden.accumulate``.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden.validate import check_power_of_two

from .parts import (
    Accumulator,
    BarrelShifter,
    IntMultiplier,
    SignMag,
    SignMagMultiplier,
    SplitAccumulator,
    check_bool,
    check_width,
    flag_bits,
    operand_formats,
    register_inputs,
)
from .sdr_encoder import MAX_GROUP

__all__ = ["AdderTree", "DotProductUnit", "DotProductCore", "IntDotProductUnit", "IntDotProductCore", "MAX_LANES"]

MAX_LANES = 64


class AdderTree(wiring.Component):
    """Balanced binary tree of two-input adders over ``n`` signed inputs (full precision, depth
    ``ceil(log2 n)``). Combinational. Members: ``i`` : In(ArrayLayout(signed(width), n)); ``o`` : Out(signed)."""

    def __init__(self, n, width):
        self.n = check_width("n", n, 1, 1024)
        self.width = check_width("width", width, 1, 64)
        super().__init__({"i": In(data.ArrayLayout(signed(width), n)), "o": Out(signed(width + ceil_log2(n)))})

    def elaborate(self, platform):
        m = Module()
        level, k = [self.i[j] for j in range(self.n)], 0
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level) - 1, 2):
                s = Signal(signed(max(len(level[j]), len(level[j + 1])) + 1), name=f"l{k}_{j // 2}")
                m.d.comb += s.eq(level[j] + level[j + 1])
                nxt.append(s)
            if len(level) % 2:
                nxt.append(level[-1])
            level, k = nxt, k + 1
        m.d.comb += self.o.eq(level[0])
        return m


class _SignedProducts(wiring.Component):
    """``L`` sign-magnitude multipliers, each product as a signed value (``neg ? -mag : mag``)."""

    def __init__(self, lanes, na, nw):
        self.lanes, self.na, self.nw = lanes, na, nw
        super().__init__({"a": In(data.ArrayLayout(SignMag(na), lanes)), "w": In(data.ArrayLayout(SignMag(nw), lanes)),
                          "p": Out(data.ArrayLayout(signed(na + nw + 1), lanes))})

    def elaborate(self, platform):
        m = Module()
        for i in range(self.lanes):
            mul = SignMagMultiplier(self.na, self.nw)
            m.submodules[f"lane{i}"] = mul
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.w[i]),
                         self.p[i].eq(Mux(mul.neg, -mul.mag, mul.mag))]
        return m


DSP_OPERAND_BITS = 18          # a MULT18X18D (ECP5) multiplies two 18-bit signed operands


def pair_packing(fa, fw):
    """``(K, a bits, w bits)`` of a lane pair packed into one multiplier for the SDR formats ``fa``, ``fw``: the
    pair's sum ``a0*w0 + a1*w1`` (at most ``2 * max_code_a * max_code_w`` in magnitude) and the low product
    ``a0*w1`` must both fit a signed K-bit field; each packed operand is a signed code plus another shifted by K."""
    k = (2 * fa.max_code * fw.max_code).bit_length() + 1
    return k, k + fa.mag_bits + 1, k + fw.mag_bits + 1


class _PairedProducts(wiring.Component):
    """Lane pairs through one signed multiplier each: ``(a0 + a1*2**K) * (w1 + w0*2**K)`` is
    ``a0*w1 + (a0*w0 + a1*w1)*2**K + a1*w0*2**(2K)``, so its middle K-bit field, plus the borrow the signed low
    field leaves (its sign bit), is the pair's part of the dot product. An FPGA maps each multiplier to one DSP
    block (two lanes per MULT18X18D at W4A4: 12 x 12 bits); ``p`` holds ``L / 2`` signed K-bit pair sums."""

    def __init__(self, lanes, fa, fw):
        self.lanes, self.na, self.nw = lanes, fa.mag_bits, fw.mag_bits
        self.k, self.a_bits, self.w_bits = pair_packing(fa, fw)
        super().__init__({"a": In(data.ArrayLayout(SignMag(self.na), lanes)),
                          "w": In(data.ArrayLayout(SignMag(self.nw), lanes)),
                          "p": Out(data.ArrayLayout(signed(self.k), lanes // 2))})

    def elaborate(self, platform):
        m = Module()
        k = self.k

        def value(x, bits, name):
            v = Signal(signed(bits + 1), name=name)
            m.d.comb += v.eq(Mux(x.sign, -x.mag, x.mag))
            return v

        for i in range(self.lanes // 2):
            a0, a1 = value(self.a[2 * i], self.na, f"a{2 * i}"), value(self.a[2 * i + 1], self.na, f"a{2 * i + 1}")
            w0, w1 = value(self.w[2 * i], self.nw, f"w{2 * i}"), value(self.w[2 * i + 1], self.nw, f"w{2 * i + 1}")
            pa = Signal(signed(self.a_bits), name=f"pack_a{i}")
            pw = Signal(signed(self.w_bits), name=f"pack_w{i}")
            prod = Signal(signed(len(pa) + len(pw)), name=f"pair{i}")
            m.d.comb += [pa.eq(a0 + (a1 << k)), pw.eq(w1 + (w0 << k)), prod.eq(pa * pw),
                         self.p[i].eq(prod[k:2 * k] + prod[k - 1])]
        return m


class _IntProducts(wiring.Component):
    """``L`` two's complement ``a_bits x b_bits`` multipliers."""

    def __init__(self, lanes, a_bits, b_bits):
        self.lanes, self.a_bits, self.b_bits = lanes, a_bits, b_bits
        super().__init__({"a": In(data.ArrayLayout(signed(a_bits), lanes)),
                          "b": In(data.ArrayLayout(signed(b_bits), lanes)),
                          "p": Out(data.ArrayLayout(signed(a_bits + b_bits), lanes))})

    def elaborate(self, platform):
        m = Module()
        for i in range(self.lanes):
            mul = IntMultiplier(self.a_bits, self.b_bits)
            m.submodules[f"lane{i}"] = mul
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.b[i]), self.p[i].eq(mul.p)]
        return m


class _Trees(wiring.Component):
    """``S`` adder trees, each over ``L / S`` consecutive lanes."""

    def __init__(self, lanes, sub, width):
        self.lanes, self.sub, self.width = lanes, sub, width
        self.out_width = width + ceil_log2(lanes // sub)
        super().__init__({"i": In(data.ArrayLayout(signed(width), lanes)),
                          "o": Out(data.ArrayLayout(signed(self.out_width), sub))})

    def elaborate(self, platform):
        m = Module()
        per = self.lanes // self.sub
        for s in range(self.sub):
            t = AdderTree(per, self.width)
            m.submodules[f"group{s}"] = t
            m.d.comb += [t.i[j].eq(self.i[s * per + j]) for j in range(per)]
            m.d.comb += self.o[s].eq(t.o)
        return m


def _sum_groups(m, outs, width):
    """The groups' shifted sums added by an ``AdderTree`` (submodule ``combine``); one group's as it is."""
    if len(outs) == 1:
        return outs[0]
    t = AdderTree(len(outs), width)
    m.submodules.combine = t
    m.d.comb += [t.i[s].eq(o) for s, o in enumerate(outs)]
    return t.o


class _GroupShifters(wiring.Component):
    """One signed barrel shifter per sub-group by ``fa_s + fw_s``, then the sum of the ``S`` shifted values."""

    def __init__(self, sub, width, fa_bits, fw_bits, max_shift):
        self.sub, self.width, self.max_shift = sub, width, max_shift
        self.out_width = width + max_shift + ceil_log2(sub)
        super().__init__({"i": In(data.ArrayLayout(signed(width), sub)), "fa": In(data.ArrayLayout(fa_bits, sub)),
                          "fw": In(data.ArrayLayout(fw_bits, sub)), "o": Out(signed(self.out_width))})

    def elaborate(self, platform):
        m = Module()
        outs = []
        for s in range(self.sub):
            sh = BarrelShifter(self.width, self.max_shift, signed=True)
            m.submodules[f"group{s}"] = sh
            m.d.comb += [sh.i.eq(self.i[s]), sh.amount.eq(self.fa[s] + self.fw[s])]
            outs.append(sh.o)
        m.d.comb += self.o.eq(_sum_groups(m, outs, self.width + self.max_shift))
        return m


def _element_options(pe, acc_split, retime, reset_data, able, why):
    """The tile's element options on core ``pe`` (``DotProductCore``, ``IntDotProductCore``), checked: ``retime``
    None means ``able``; ``why`` is the error when retiming was asked for and is not ``able``."""
    pe.acc_split = _check_split(acc_split, pe.acc_width)
    pe.retime = able if retime is None else check_bool("retime", retime)
    pe.reset_data = check_bool("reset_data", reset_data)
    if pe.retime and not able:
        raise ValueError(why)
    if pe.acc_split == 0 and not pe.reset_data:
        raise ValueError("reset_data=False needs a SplitAccumulator (acc_split > 0): Accumulator is reset")


def _check_split(split, acc_width):
    """``acc_split``: 0 (one adder), the low part's bits (1 .. acc_width - 1), or None for half the accumulator."""
    if split is None:
        return acc_width // 2
    if isinstance(split, int) and not isinstance(split, bool) and split == 0:
        return 0
    return check_width("acc_split", split, 1, acc_width - 1)


class _PairShifters(wiring.Component):
    """The stage-3 end of a retimed processing element: group ``s``'s two half sums ``i[2s] + i[2s+1]`` shifted by
    its registered ``amount`` (``fa_s + fw_s``, summed in stage 2), then the sum over the ``S`` groups."""

    def __init__(self, sub, width, amount_bits, max_shift):
        self.sub, self.width, self.max_shift = sub, width, max_shift
        self.out_width = width + 1 + max_shift + ceil_log2(sub)
        super().__init__({"i": In(data.ArrayLayout(signed(width), 2 * sub)),
                          "amount": In(data.ArrayLayout(amount_bits, sub)), "o": Out(signed(self.out_width))})

    def elaborate(self, platform):
        m = Module()
        outs = []
        for s in range(self.sub):
            pair = Signal(signed(self.width + 1), name=f"pair{s}")
            m.d.comb += pair.eq(self.i[2 * s] + self.i[2 * s + 1])
            sh = BarrelShifter(self.width + 1, self.max_shift, signed=True)
            m.submodules[f"group{s}"] = sh
            m.d.comb += [sh.i.eq(pair), sh.amount.eq(self.amount[s])]
            outs.append(sh.o)
        m.d.comb += self.o.eq(_sum_groups(m, outs, self.width + 1 + self.max_shift))
        return m


class _Dot(wiring.Component):
    latency = 3

    def _stage1(self, m, names):
        return register_inputs(self, m, names)

    acc_split = 0           # the processing elements of the tiles take a carry-delayed accumulator (acc_split bits)
    retime = False          # ... and may move the tree's root adder and the flag sum across the stage-2 registers
    reset_data = True       # ... and leave their data registers out of the reset (every sum starts with load)

    def _stage3(self, m, step, en, load):
        """Stage-2 registers for ``step`` (the partial sum), ``en`` and ``load``, then the accumulator."""
        acc = (SplitAccumulator(len(step), self.acc_width, split=self.acc_split, reset=self.reset_data)
               if self.acc_split else Accumulator(len(step), self.acc_width))
        m.submodules.accumulator = acc
        m.d.comb += [acc.product.eq(step), acc.en.eq(en), acc.load.eq(load), self.acc.eq(acc.acc)]


class DotProductUnit(_Dot):
    """QRazor decompression-free dot-product unit: ``lanes`` razored products per cycle, one shift per group.

    Parameters
    ----------
    lanes : int
        Razored products per cycle (power of two, 1..64).
    group_size : int
        SDR group size g (power of two, 1..128); ``S = max(1, lanes // group_size)`` groups per step.
    a_base, a_kept, w_base, w_kept : int
        The operands' SDR formats (checked by the golden model's rules).
    acc_width : int
        Accumulator bits (wrapping).
    dsp_pairs : bool
        Two lanes per multiplier (``_PairedProducts``), for FPGAs whose DSP blocks are far wider than a razored
        product; the same function, half the multipliers and tree inputs (W4A4 only: W4A8 pairs would need
        20-bit operands).

    Members
    -------
    a : In(ArrayLayout(SignMag(a_kept - 1), lanes))
    w : In(ArrayLayout(SignMag(w_kept - 1), lanes))
    fa, fw : In(ArrayLayout(flag, S))
        One flag per group; sub-group ``s`` covers lanes ``s*L/S .. (s+1)*L/S - 1``.
    en, load : In(1)
        Accumulate this cycle's dot product; start a new sum with it.
    acc : Out(signed(acc_width))
        The sum, ``latency = 3`` cycles after the inputs.
    """

    def __init__(self, *, lanes=16, group_size=16, a_base=16, a_kept=4, w_base=8, w_kept=4, acc_width=32,
                 dsp_pairs=False):
        self.lanes = check_power_of_two("lanes", lanes, 1, MAX_LANES)
        self.group_size = check_power_of_two("group_size", group_size, 1, MAX_GROUP)
        self.a_fmt, self.w_fmt = operand_formats(a_base, a_kept, w_base, w_kept, self.group_size)
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        self.sub = max(1, self.lanes // self.group_size)
        na, nw = self.a_fmt.mag_bits, self.w_fmt.mag_bits
        if not isinstance(dsp_pairs, bool):
            raise TypeError(f"dsp_pairs must be True or False, not {dsp_pairs!r}")
        if dsp_pairs:
            _, pa, pw = pair_packing(self.a_fmt, self.w_fmt)
            if self.lanes // self.sub < 2:
                raise ValueError(f"dsp_pairs needs at least 2 lanes per group, not {self.lanes // self.sub} "
                                 f"(lanes={self.lanes}, group_size={self.group_size})")
            if max(pa, pw) > DSP_OPERAND_BITS:
                raise ValueError(f"dsp_pairs: a lane pair needs {pa} x {pw}-bit products for "
                                 f"A{a_base}K{a_kept} x W{w_base}K{w_kept}, more than an {DSP_OPERAND_BITS} x "
                                 f"{DSP_OPERAND_BITS} DSP block takes")
        self.dsp_pairs = dsp_pairs
        super().__init__({
            "a": In(data.ArrayLayout(SignMag(na), self.lanes)), "w": In(data.ArrayLayout(SignMag(nw), self.lanes)),
            "fa": In(data.ArrayLayout(flag_bits(self.a_fmt.max_flag), self.sub)),
            "fw": In(data.ArrayLayout(flag_bits(self.w_fmt.max_flag), self.sub)),
            "en": In(1), "load": In(1), "acc": Out(signed(self.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        q = self._stage1(m, ["a", "w", "fa", "fw"])
        self._datapath(m, q["a"], q["w"], q["fa"], q["fw"], q["en"], q["load"])
        return m

    def _datapath(self, m, a, w, fa, fw, en, load):
        """Stages 2 and 3 on registered operands: products, trees, partial-sum registers, shifters, accumulator."""
        na, nw = self.a_fmt.mag_bits, self.w_fmt.mag_bits
        trees = self.sub * (2 if self.retime else 1)              # retimed: each group's tree in two halves
        if self.dsp_pairs:
            m.submodules.multipliers = mul = _PairedProducts(self.lanes, self.a_fmt, self.w_fmt)
            m.submodules.tree = tree = _Trees(self.lanes // 2, trees, mul.k)
        else:
            m.submodules.multipliers = mul = _SignedProducts(self.lanes, na, nw)
            m.submodules.tree = tree = _Trees(self.lanes, trees, na + nw + 1)
        m.d.comb += [mul.a.eq(a), mul.w.eq(w), tree.i.eq(mul.p)]
        max_shift = self.a_fmt.max_flag + self.w_fmt.max_flag
        if self.retime:
            # stage 2 -> 3 registers: each group's two half-tree sums (the root adder moves to stage 3) and its
            # shift amount, summed here where the flags have slack
            keep = not self.reset_data
            amount = Signal(data.ArrayLayout(max_shift.bit_length(), self.sub), name="amount_q2", reset_less=keep)
            part = Signal.like(tree.o, name="partial_q", reset_less=keep)
            en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
            m.d.sync += [part.eq(tree.o), en2.eq(en), load2.eq(load)]
            m.d.sync += [amount[s].eq(fa[s] + fw[s]) for s in range(self.sub)]
            m.submodules.shifter = sh = _PairShifters(self.sub, tree.out_width, max_shift.bit_length(), max_shift)
            m.d.comb += [sh.i.eq(part), sh.amount.eq(amount)]
            self._stage3(m, sh.o, en2, load2)
            return
        # stage 2 -> 3 registers: the sub-groups' partial sums and their flags
        keep = not self.reset_data
        part = Signal.like(tree.o, name="partial_q", reset_less=keep)
        fa2, fw2 = Signal.like(fa, name="fa_q2", reset_less=keep), Signal.like(fw, name="fw_q2", reset_less=keep)
        en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
        m.d.sync += [part.eq(tree.o), fa2.eq(fa), fw2.eq(fw), en2.eq(en), load2.eq(load)]
        m.submodules.shifter = sh = _GroupShifters(self.sub, tree.out_width, flag_bits(self.a_fmt.max_flag),
                                                   flag_bits(self.w_fmt.max_flag), max_shift)
        m.d.comb += [sh.i.eq(part), sh.fa.eq(fa2), sh.fw.eq(fw2)]
        self._stage3(m, sh.o, en2, load2)


class DotProductCore(DotProductUnit):
    """A ``DotProductUnit`` without its input registers: the processing element of ``hdl.tile.GemmTile``, whose
    rows and columns share one registered copy of each operand. Same members and parameters, and

    * ``acc_split``: 0 for ``Accumulator``, else the low bits of a ``SplitAccumulator`` (the carry between the
      parts registered; None: half the accumulator);
    * ``retime``: the stage-2 registers hold each group's two half-tree sums and its shift amount ``fa + fw``
      (the tree's root adder moves to stage 3, the flag sum to stage 2); the same function and latency. None:
      wherever a group has at least two tree inputs.

    ``latency = 2``."""

    latency = 2

    def __init__(self, *, acc_split=0, retime=False, reset_data=True, **kwargs):
        super().__init__(**kwargs)
        per = self.lanes // self.sub // (2 if self.dsp_pairs else 1)        # tree inputs per group
        _element_options(self, acc_split, retime, reset_data, per >= 2,
                         f"retime splits each group's tree in two halves: it needs at least 2 tree inputs per "
                         f"group, not {per} (lanes={self.lanes}, group_size={self.group_size}, "
                         f"dsp_pairs={self.dsp_pairs})")

    def elaborate(self, platform):
        m = Module()
        self._datapath(m, self.a, self.w, self.fa, self.fw, self.en, self.load)
        return m


class IntDotProductUnit(_Dot):
    """INT ``a_bits x b_bits`` dot-product unit (baseline), ``lanes`` products per cycle.

    Parameters
    ----------
    lanes : int
        Products per cycle (power of two, 1..64).
    a_bits, b_bits : int
        Two's complement operand widths.
    acc_width : int
        Accumulator bits (wrapping).
    style : str
        ``"tree"``: a multiplier per lane and a balanced adder tree (the QRazor unit's structure);
        ``"merged"``: one sum-of-products expression, which Yosys maps as a single multi-operand adder.

    Members
    -------
    a : In(ArrayLayout(signed(a_bits), lanes))
    b : In(ArrayLayout(signed(b_bits), lanes))
    en, load : In(1)
        Accumulate this cycle's dot product; start a new sum with it.
    acc : Out(signed(acc_width))
        The sum, ``latency = 3`` cycles after the inputs.
    """

    STYLES = ("tree", "merged")

    def __init__(self, *, lanes=16, a_bits=16, b_bits=8, acc_width=32, style="tree"):
        self.lanes = check_power_of_two("lanes", lanes, 1, MAX_LANES)
        self.a_bits = check_width("a_bits", a_bits, 2, 32)
        self.b_bits = check_width("b_bits", b_bits, 2, 32)
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        if style not in self.STYLES:
            raise ValueError(f"style must be one of {self.STYLES}, not {style!r}")
        self.style = style
        super().__init__({"a": In(data.ArrayLayout(signed(a_bits), self.lanes)),
                          "b": In(data.ArrayLayout(signed(b_bits), self.lanes)),
                          "en": In(1), "load": In(1), "acc": Out(signed(self.acc_width))})

    def elaborate(self, platform):
        m = Module()
        q = self._stage1(m, ["a", "b"])
        self._datapath(m, q["a"], q["b"], q["en"], q["load"])
        return m

    def _datapath(self, m, a, b, en, load):
        """Stages 2 and 3 on registered operands: products, tree (or merged sum), partial-sum register, accumulator."""
        width = self.a_bits + self.b_bits + ceil_log2(self.lanes)
        step = Signal(signed(width), name="sum")
        if self.retime:
            # stage 2 -> 3 registers: the tree's two half sums; their sum (the root adder) is stage 3's
            m.submodules.multipliers = mul = _IntProducts(self.lanes, self.a_bits, self.b_bits)
            m.submodules.tree = tree = _Trees(self.lanes, 2, self.a_bits + self.b_bits)
            m.d.comb += [mul.a.eq(a), mul.b.eq(b), tree.i.eq(mul.p)]
            part = Signal.like(tree.o, name="partial_q", reset_less=not self.reset_data)
            en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
            m.d.sync += [part.eq(tree.o), en2.eq(en), load2.eq(load)]
            m.d.comb += step.eq(part[0] + part[1])
            self._stage3(m, step, en2, load2)
            return
        if self.style == "tree":
            m.submodules.multipliers = mul = _IntProducts(self.lanes, self.a_bits, self.b_bits)
            m.submodules.tree = tree = _Trees(self.lanes, 1, self.a_bits + self.b_bits)
            m.d.comb += [mul.a.eq(a), mul.b.eq(b), tree.i.eq(mul.p), step.eq(tree.o[0])]
        else:
            m.submodules.dot = dot = _MergedDot(self.lanes, self.a_bits, self.b_bits)
            m.d.comb += [dot.a.eq(a), dot.b.eq(b), step.eq(dot.o)]
        part = Signal.like(step, name="partial_q", reset_less=not self.reset_data)
        en2, load2 = Signal(name="en_q2"), Signal(name="load_q2")
        m.d.sync += [part.eq(step), en2.eq(en), load2.eq(load)]
        self._stage3(m, part, en2, load2)


class IntDotProductCore(IntDotProductUnit):
    """An ``IntDotProductUnit`` without its input registers: the processing element of ``hdl.tile.IntGemmTile``
    (the INT baseline of the GEMM tile). Same members and parameters, and ``acc_split``, ``retime`` (the tree's
    two half sums registered, its root adder in stage 3) and ``reset_data`` as ``DotProductCore``;
    ``latency = 2``."""

    latency = 2

    def __init__(self, *, acc_split=0, retime=False, reset_data=True, **kwargs):
        super().__init__(**kwargs)
        _element_options(self, acc_split, retime, reset_data, self.style == "tree" and self.lanes >= 2,
                         f"retime splits the adder tree in two halves: it needs style='tree' and at least 2 "
                         f"lanes, not style={self.style!r}, lanes={self.lanes}")

    def elaborate(self, platform):
        m = Module()
        self._datapath(m, self.a, self.b, self.en, self.load)
        return m


class _MergedDot(wiring.Component):
    """``sum_i a_i * b_i`` as one expression (one multi-operand adder in Yosys)."""

    def __init__(self, lanes, a_bits, b_bits):
        self.lanes = lanes
        super().__init__({"a": In(data.ArrayLayout(signed(a_bits), lanes)),
                          "b": In(data.ArrayLayout(signed(b_bits), lanes)),
                          "o": Out(signed(a_bits + b_bits + ceil_log2(lanes)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(sum(self.a[i] * self.b[i] for i in range(self.lanes)))
        return m
