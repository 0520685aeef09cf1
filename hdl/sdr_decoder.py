"""SDR decoder (decompression): one razored element and its group's flag back to the base integer."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.sdr import SDRFormat

from .parts import BarrelShifter, SignMag, flag_bits

__all__ = ["SDRDecoder"]


class SDRDecoder(wiring.Component):
    """``value = (-1)**sign * (mag << flag)`` as a ``base_bits`` two's complement integer. Combinational.

    The shift is a ``BarrelShifter`` (the "additional shifters" of the conventional path, paper Fig. 3 top).
    Bit-exact with ``golden.decompress`` for every legal code and flag (``flag <= base_bits - kept_bits``).

    Parameters
    ----------
    base_bits : int
        Two's complement width of the decoded value (3..16).
    kept_bits : int
        Code width, sign included (2..8).

    Members
    -------
    code : In(SignMag(kept_bits - 1))
    flag : In(flag_bits(max_flag))
        As wide as the format's largest flag needs (4 bits for A16 -> 4 and 8 bits, 3 for W8 -> 4: no unused
        input pin).
    value : Out(signed(base_bits))
    """

    def __init__(self, *, base_bits=16, kept_bits=4):
        self.fmt = SDRFormat(base_bits, kept_bits, 1)           # the golden model's rules and messages
        self.base_bits, self.kept_bits = base_bits, kept_bits
        super().__init__({"code": In(SignMag(self.fmt.mag_bits)), "flag": In(flag_bits(self.fmt.max_flag)),
                          "value": Out(signed(base_bits))})

    latency = 0

    def elaborate(self, platform):
        m = Module()
        m.submodules.shifter = sh = BarrelShifter(self.fmt.mag_bits, self.fmt.max_flag)
        m.d.comb += [sh.i.eq(self.code.mag), sh.amount.eq(self.flag)]
        mag = Signal(signed(self.base_bits))
        m.d.comb += mag.eq(sh.o)
        m.d.comb += self.value.eq(Mux(self.code.sign, -mag, mag))
        return m
