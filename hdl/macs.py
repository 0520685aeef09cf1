"""The MAC units compared in the paper's Table 5, all with one shared accumulator (``parts.Accumulator``).

Every MAC registers its operands plus ``en`` and ``load`` (stage 1), computes the product combinationally
and updates the accumulator (stage 2): throughput one product per cycle, ``latency = 2`` cycles from the
operands at the inputs to ``acc`` holding the updated sum. Synchronous reset (the ``sync`` domain reset)
clears both stages. Accumulator semantics: ``if en: acc <= (load ? 0 : acc) + product`` modulo
``2**acc_width`` (docs/number-formats.md).
"""

from amaranth import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .parts import (
    Accumulator,
    BarrelShifter,
    IntMultiplier,
    SignMag,
    SignMagMultiplier,
    check_width,
    flag_bits,
    operand_formats,
    register_inputs,
)
from .sdr_decoder import SDRDecoder

__all__ = ["IntMAC", "DecompressionFreeMAC", "ConventionalMAC"]


class _MAC(wiring.Component):
    latency = 2
    accumulator = Accumulator           # the accumulator's class (``hdl.mutants`` swaps in broken ones)

    def _register_inputs(self, m, names):
        return register_inputs(self, m, names)


class IntMAC(_MAC):
    """INT ``a_bits x b_bits`` MAC on base data (INT 16x8: activations x weights; INT 8x8).

    Parameters
    ----------
    a_bits, b_bits : int
        Two's complement operand widths (2..32).
    acc_width : int
        Accumulator bits (2..64, wrapping).

    Members
    -------
    a : In(signed(a_bits))
    b : In(signed(b_bits))
    en, load : In(1)
        Accumulate this cycle's product; start a new sum with it.
    acc : Out(signed(acc_width))
        The sum, ``latency = 2`` cycles after the inputs.
    """

    def __init__(self, *, a_bits=16, b_bits=8, acc_width=32):
        self.a_bits = check_width("a_bits", a_bits, 2, 32)
        self.b_bits = check_width("b_bits", b_bits, 2, 32)
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        super().__init__({"a": In(signed(a_bits)), "b": In(signed(b_bits)), "en": In(1), "load": In(1),
                          "acc": Out(signed(acc_width))})

    def elaborate(self, platform):
        m = Module()
        q = self._register_inputs(m, ["a", "b"])
        m.submodules.multiplier = mul = IntMultiplier(self.a_bits, self.b_bits)
        m.submodules.accumulator = acc = self.accumulator(self.a_bits + self.b_bits, self.acc_width)
        m.d.comb += [mul.a.eq(q["a"]), mul.b.eq(q["b"]), acc.product.eq(mul.p), acc.en.eq(q["en"]),
                     acc.load.eq(q["load"]), self.acc.eq(acc.acc)]
        return m


class _CompressedMAC(_MAC):
    """Ports shared by the two QRazor MACs: compressed operands and their groups' flags."""

    def __init__(self, *, a_base=16, a_kept=4, w_base=8, w_kept=4, acc_width=32):
        self.a_fmt, self.w_fmt = operand_formats(a_base, a_kept, w_base, w_kept)
        self.a_base, self.a_kept, self.w_base, self.w_kept = a_base, a_kept, w_base, w_kept
        self.acc_width = check_width("acc_width", acc_width, 2, 64)
        self.a_max_flag, self.w_max_flag = self.a_fmt.max_flag, self.w_fmt.max_flag
        super().__init__({
            "a": In(SignMag(a_kept - 1)), "fa": In(flag_bits(self.a_max_flag)),
            "w": In(SignMag(w_kept - 1)), "fw": In(flag_bits(self.w_max_flag)),
            "en": In(1), "load": In(1), "acc": Out(signed(acc_width)),
        })


class DecompressionFreeMAC(_CompressedMAC):
    """QRazor decompression-free MAC (paper Fig. 3 bottom).

    ``(a_kept-1) x (w_kept-1)`` unsigned multiplier on the magnitudes, sign XOR, one barrel shifter by
    ``fa + fw`` (0..16 for A16 x W8), then add or subtract into the accumulator. Bit-exact with
    ``golden.dfree_product`` + ``golden.accumulate``. Flags above the format's maximum are outside the
    contract (the golden model rejects them).

    Parameters
    ----------
    a_base, a_kept : int
        The activation's SDR format: base bits (3..16) and kept bits (2..8, sign included).
    w_base, w_kept : int
        The weight's SDR format, likewise.
    acc_width : int
        Accumulator bits (2..64, wrapping).

    Members
    -------
    a : In(SignMag(a_kept - 1))
        The activation's code (sign and magnitude).
    fa : In(flag bits)
        Its group's flag, as wide as the format's largest flag needs.
    w : In(SignMag(w_kept - 1))
        The weight's code.
    fw : In(flag bits)
        Its group's flag.
    en, load : In(1)
        Accumulate this cycle's product; start a new sum with it (``acc = product``).
    acc : Out(signed(acc_width))
        The sum, ``latency = 2`` cycles after the inputs.
    """

    def elaborate(self, platform):
        m = Module()
        q = self._register_inputs(m, ["a", "fa", "w", "fw"])
        na, nw = self.a_kept - 1, self.w_kept - 1
        max_shift = self.a_max_flag + self.w_max_flag
        m.submodules.multiplier = mul = SignMagMultiplier(na, nw)
        m.submodules.shifter = sh = BarrelShifter(na + nw, max_shift)
        m.submodules.accumulator = acc = self.accumulator(na + nw + max_shift, self.acc_width, sign_magnitude=True)
        m.d.comb += [
            mul.a.eq(q["a"]), mul.b.eq(q["w"]),
            sh.i.eq(mul.mag), sh.amount.eq(q["fa"] + q["fw"]),
            acc.product.eq(sh.o), acc.neg.eq(mul.neg), acc.en.eq(q["en"]), acc.load.eq(q["load"]),
            self.acc.eq(acc.acc),
        ]
        return m


class ConventionalMAC(_CompressedMAC):
    """QRazor conventional MAC (paper Fig. 3 top): decompress both operands, ``a_base x w_base`` multiply.

    Same parameters, members and results as ``DecompressionFreeMAC``; only the datapath differs.
    """

    def elaborate(self, platform):
        m = Module()
        q = self._register_inputs(m, ["a", "fa", "w", "fw"])
        m.submodules.decoder_a = da = SDRDecoder(base_bits=self.a_base, kept_bits=self.a_kept)
        m.submodules.decoder_w = dw = SDRDecoder(base_bits=self.w_base, kept_bits=self.w_kept)
        m.submodules.multiplier = mul = IntMultiplier(self.a_base, self.w_base)
        m.submodules.accumulator = acc = self.accumulator(self.a_base + self.w_base, self.acc_width)
        m.d.comb += [
            da.code.eq(q["a"]), da.flag.eq(q["fa"]), dw.code.eq(q["w"]), dw.flag.eq(q["fw"]),
            mul.a.eq(da.value), mul.b.eq(dw.value),
            acc.product.eq(mul.p), acc.en.eq(q["en"]), acc.load.eq(q["load"]), self.acc.eq(acc.acc),
        ]
        return m
