"""SDR encoder: a group of base integers in, razored sign-magnitude elements and the group's flag out."""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.sdr import FLAG_BITS, SDRFormat
from golden.validate import check_power_of_two

from .parts import SignMag, check_bool

__all__ = ["SDREncoder", "MAX_GROUP", "saturated_magnitudes"]

MAX_GROUP = 128                # the largest group the encoder is built for (the paper's range is 8..128)


def _or_tree(m, values, name):
    """Balanced OR tree (depth ceil(log2(len))) over ``values``."""
    level = 0
    while len(values) > 1:
        nxt = []
        for i in range(0, len(values) - 1, 2):
            s = Signal.like(values[i], name=f"{name}_l{level}_{i // 2}")
            m.d.comb += s.eq(values[i] | values[i + 1])
            nxt.append(s)
        if len(values) % 2:
            nxt.append(values[-1])
        values, level = nxt, level + 1
    return values[0]


def saturated_magnitudes(m, x, base_bits, g):
    """Per element of ``x`` (``g`` two's complement values of ``base_bits``): the magnitude with the most
    negative value saturated to all ones (``base_bits - 1`` bits) and the sign bit. Shared by the SDR and DMQ
    encoders."""
    B = base_bits
    mags, negs = [], []
    for i in range(g):
        neg = x[i][B - 1]
        absx = Signal(unsigned(B), name=f"abs{i}")
        m.d.comb += absx.eq(Mux(neg, -x[i], x[i]))
        mag = Signal(unsigned(B - 1), name=f"mag{i}")
        # |-2**(B-1)| = 2**(B-1) has bit B-1 set: saturate to all ones.
        m.d.comb += mag.eq(Mux(absx[B - 1], (1 << (B - 1)) - 1, absx[:B - 1]))
        mags.append(mag)
        negs.append(neg)
    return mags, negs


class SDREncoder(wiring.Component):
    """Significant data razoring of one group per cycle.

    For the ``group_size`` base integers of ``x`` (``base_bits`` two's complement): saturate the most
    negative value, take magnitudes, OR them in a balanced tree, find the leading one ``p``, set
    ``flag = max(0, p + 1 - n)`` with ``n = kept_bits - 1``, keep ``n`` magnitude bits from the razoring point
    and round to nearest on the first dropped bit, except when the kept bits are all ones (overflow guard:
    floor). A magnitude rounded to 0 gets sign 0. Bit-exact with ``golden.compress``.

    Throughput one group per cycle. Latency 0 (combinational) or 1 with ``pipeline=True`` (outputs
    registered, ``o_valid`` follows ``i_valid``).

    Parameters
    ----------
    group_size : int
        Elements per group (power of two, 1..128).
    base_bits : int
        Two's complement width of the base integers (3..16).
    kept_bits : int
        Code width, sign included (2..8, at most ``base_bits``).
    pipeline : bool
        Register the outputs (latency 1).

    Members
    -------
    x : In(ArrayLayout(signed(base_bits), group_size))
        One group of base integers.
    i_valid : In(1)
    codes : Out(ArrayLayout(SignMag(kept_bits - 1), group_size))
    flag : Out(4)
        The group's shift.
    o_valid : Out(1)
        ``i_valid``, delayed as the outputs are.

    Raises ``ValueError``/``TypeError`` naming the offending parameter value.
    """

    def __init__(self, *, group_size=16, base_bits=16, kept_bits=4, pipeline=False):
        check_power_of_two("group_size", group_size, 1, MAX_GROUP)   # the RTL's limit; the format allows more
        self.fmt = SDRFormat(base_bits, kept_bits, group_size)  # the golden model's rules and messages
        self.group_size, self.base_bits, self.kept_bits = group_size, base_bits, kept_bits
        self.pipeline = check_bool("pipeline", pipeline)
        self.mag_bits = self.fmt.mag_bits
        super().__init__({
            "x": In(data.ArrayLayout(signed(base_bits), group_size)),
            "i_valid": In(1),
            "codes": Out(data.ArrayLayout(SignMag(self.mag_bits), group_size)),
            "flag": Out(FLAG_BITS),
            "o_valid": Out(1),
        })

    @property
    def latency(self):
        return 1 if self.pipeline else 0

    def elaborate(self, platform):
        m = Module()
        B, n, g = self.base_bits, self.mag_bits, self.group_size
        mags, negs = saturated_magnitudes(m, self.x, B, g)

        ored = _or_tree(m, mags, "or")
        flag = Signal(range(self.fmt.max_flag + 1))
        for p in range(n, B - 1):              # priority: the highest set bit wins (last assignment)
            with m.If(ored[p]):
                m.d.comb += flag.eq(p + 1 - n)

        codes = Signal(self.codes.shape())
        for i in range(g):
            # (mag << 1) >> flag: bits [1, n] are the kept bits, bit 0 is the first dropped bit (0 if flag=0)
            sh = Signal(unsigned(B), name=f"sh{i}")
            m.d.comb += sh.eq((mags[i] << 1) >> flag)
            kept, rnd = sh[1:n + 1], sh[0]
            all_ones = kept == (1 << n) - 1
            mag_out = Signal(unsigned(n), name=f"m{i}")
            m.d.comb += mag_out.eq(kept + (rnd & ~all_ones))
            m.d.comb += [codes[i].mag.eq(mag_out), codes[i].sign.eq(negs[i] & mag_out.any())]

        dom = m.d.sync if self.pipeline else m.d.comb
        dom += [self.codes.eq(codes), self.flag.eq(flag), self.o_valid.eq(self.i_valid)]
        return m

