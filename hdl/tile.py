# amaranth: UnusedElaboratable=no
"""GEMM tile: ``rows x cols`` decompression-free dot-product units behind ``amaranth.lib.stream`` ports.

Output-stationary: processing element ``(r, c)`` (a ``DotProductCore``: ``lanes`` razored products, one
shift per group, a private accumulator) computes ``Y[i*R + r, j*C + c]`` of one job (see ``golden.tile``):

* ``a`` (in): per beat the ``R`` activation (or query) rows' ``L`` codes and flags, and ``last`` on a job's
  final beat. Row ``r``'s operands reach the ``C`` elements of row ``r`` of the array: one SDR encoder per
  activation row serves ``C`` columns.
* ``w`` (in): per beat the ``C`` weight (or key) rows' ``L`` codes and flags; weights are streamed (one ``w``
  beat pairs with each ``a`` beat, the job boundary is ``a.last``).
* ``y`` (out): ``R`` beats per job, row ``r`` of the block as ``C`` accumulators, ``last`` on row ``R - 1``.

Both input streams are joined: a beat is taken when both are valid and the tile has room, so back-pressure on
either input or on ``y`` stalls only the handshake, never the datapath. A beat taken in cycle ``t`` reaches
the accumulators after cycle ``t + 3``; on a job's last beat they are copied into a result buffer of ``depth``
blocks (``ShiftResultBuffer``: a queue whose head block shifts its rows out, so ``y`` comes straight from
registers), which drains one row per ``y`` handshake while the array already works on the next job. A ``last``
beat is only taken if the blocks buffered plus those in flight leave a slot, so nothing is ever overwritten:
with ``depth = 2`` a job of ``T >= R`` beats streams at one beat per cycle.

Modes: one datapath serves linear layers (``a``: A16 -> ``a_kept`` bits, flags ``0 .. 16 - a_kept``) and
Q x K^T (``a``: KV8 -> 4-bit queries, flags ``0 .. 4``, a subset); a tile built with ``a_base = 8`` is the
smaller Q x K^T-only variant. Scales stay outside: ``y`` is the integer sum of ``(ca * cw) << (fa + fw)``
(``golden.tile``), multiplied by the row's and column's scales downstream.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .dot import DotProductCore, IntDotProductCore
from .parts import SignMag, check_width, flag_bits

__all__ = ["GemmTile", "IntGemmTile", "ResultBuffer", "ShiftResultBuffer", "BUFFERS"]


class ResultBuffer(wiring.Component):
    """``depth`` result blocks of ``rows x cols`` accumulators: ``push`` stores ``i`` as a block (the caller
    guarantees a free slot), ``y`` streams the oldest block one row per handshake. ``count``: blocks held."""

    def __init__(self, rows, cols, acc_width, depth, reset_data=True):
        self.rows, self.cols, self.depth = rows, cols, depth
        self.reset_data = reset_data            # False: the stored blocks are reset-less (``count`` says which hold)
        row = data.ArrayLayout(signed(acc_width), cols)
        super().__init__({
            "i": In(data.ArrayLayout(row, rows)), "push": In(1),
            "y": Out(stream.Signature(data.StructLayout({"acc": row, "last": 1}))),
            "count": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        blocks = [Signal.like(self.i, name=f"block{d}", reset_less=not self.reset_data) for d in range(self.depth)]
        wptr, rptr = Signal(range(self.depth)), Signal(range(self.depth))
        row = Signal(range(self.rows))

        def advance(p):
            return Mux(p == self.depth - 1, 0, p + 1)

        with m.If(self.push):
            m.d.sync += wptr.eq(advance(wptr))
            for d in range(self.depth):
                with m.If(wptr == d):
                    m.d.sync += blocks[d].eq(self.i)
        cur = Signal.like(self.i, name="current")
        with m.Switch(rptr):
            for d in range(self.depth):
                with m.Case(d):
                    m.d.comb += cur.eq(blocks[d])
        final = row == self.rows - 1
        with m.Switch(row):
            for r in range(self.rows):
                with m.Case(r):
                    m.d.comb += self.y.payload.acc.eq(cur[r])
        m.d.comb += [self.y.valid.eq(self.count != 0), self.y.payload.last.eq(final)]
        pop = Signal()
        m.d.comb += pop.eq(self.y.valid & self.y.ready & final)
        with m.If(self.y.valid & self.y.ready):
            m.d.sync += row.eq(Mux(final, 0, row + 1))
        with m.If(pop):
            m.d.sync += rptr.eq(advance(rptr))
        m.d.sync += self.count.eq(self.count + self.push - pop)
        return m


def _check_buffer(buffer):
    if buffer not in ("select", "shift"):
        raise ValueError(f"buffer must be 'select' or 'shift', not {buffer!r}")
    return buffer


class ShiftResultBuffer(ResultBuffer):
    """``ResultBuffer``'s members and behaviour with the blocks in a queue that shifts: slot 0 is the block being
    drained and its row 0 drives ``y`` straight from registers (no row or block select); each ``y`` handshake moves
    slot 0's rows up by one, a block's last row moves every slot down by one, and ``push`` writes the first slot
    left free. Each stored bit chooses among its neighbours instead of feeding a wide read multiplexer."""

    def elaborate(self, platform):
        m = Module()
        rows = self.rows
        layout = self.i.shape().elem_shape
        slots = [[Signal(layout, name=f"slot{d}_row{r}", reset_less=not self.reset_data) for r in range(rows)]
                 for d in range(self.depth)]
        row = Signal(range(rows))
        final = row == rows - 1
        take, pop = Signal(), Signal()
        m.d.comb += [take.eq(self.y.valid & self.y.ready), pop.eq(take & final),
                     self.y.valid.eq(self.count != 0), self.y.payload.last.eq(final),
                     self.y.payload.acc.eq(slots[0][0])]
        dest = Signal(range(self.depth + 1))                  # where a block pushed now goes
        m.d.comb += dest.eq(self.count - pop)
        for d in range(self.depth):
            here = ~dest.any() if d == 0 else dest == d       # (``== 0`` would export as a lint-flagged ``!x``)
            for r in range(rows):
                with m.If(self.push & here):
                    m.d.sync += slots[d][r].eq(self.i[r])
                if d + 1 < self.depth:
                    with m.Elif(pop):                         # the queue advances
                        m.d.sync += slots[d][r].eq(slots[d + 1][r])
                if d == 0 and r + 1 < rows:
                    with m.Elif(take):                        # the head block's rows move up
                        m.d.sync += slots[0][r].eq(slots[0][r + 1])
        with m.If(take):
            m.d.sync += row.eq(Mux(final, 0, row + 1))
        m.d.sync += self.count.eq(self.count + self.push - pop)
        return m


BUFFERS = {"select": ResultBuffer, "shift": ShiftResultBuffer}


class GemmTile(wiring.Component):
    """``rows x cols`` processing elements of ``lanes`` lanes each: ``rows * cols * lanes`` MACs per cycle.

    Parameters
    ----------
    rows, cols : int
        R and C (1..16).
    lanes, group_size, a_base, a_kept, w_base, w_kept, acc_width : int
        As ``DotProductUnit``.
    depth : int
        Result blocks buffered (1..4).
    buffer : str
        ``"shift"`` (``ShiftResultBuffer``: a queue of blocks that shifts rows out; default) or ``"select"``
        (``ResultBuffer``: blocks addressed by pointers, read through row and block selects). On the 4 x 4 x 16
        W4A4 tile the shifting queue is 0.6 % larger and lifts f_max from 119 to 143 MHz (synthesis, OSU 0.18 um).
    acc_split : int or None
        The processing elements' accumulators: carry-delayed in parts of ``acc_split`` bits
        (``hdl.parts.SplitAccumulator``: the carries between them registered; default 11, three parts of a 32-bit
        sum), ``None`` two halves, 0 one ``acc_width``-bit adder (``Accumulator``).
    retime : bool or None
        The processing elements' stage-2 registers hold each group's two half-tree sums and its shift amount
        (``DotProductCore``): the tree's root adder moves into the shift-and-accumulate stage. Default None: where
        each group has at least two lanes (not at ``group_size = 1``).
    reset_data : bool
        Whether the reset clears the data registers (operands, partial sums, accumulators, stored blocks); by
        default (False) only the control registers are reset: every sum starts with ``load`` and ``y`` shows a
        block only when ``valid``.

    Members
    -------
    a : In(stream.Signature({codes: R x L SignMag, flags: R x S, last}))
    w : In(stream.Signature({codes: C x L SignMag, flags: C x S}))
    y : Out(stream.Signature({acc: C x signed(acc_width), last}))
        ``R`` beats per job, ``last`` on row ``R - 1``.
    """

    latency = None          # a stream unit: results follow handshakes, not a fixed number of cycles
    pipeline = 3            # a beat taken in cycle t is in the accumulators after cycle t + 3

    def __init__(self, *, rows=4, cols=4, lanes=16, group_size=16, a_base=16, a_kept=4, w_base=8, w_kept=4,
                 acc_width=32, depth=2, buffer="shift", acc_split=11, retime=None, reset_data=False):
        self.rows = check_width("rows", rows, 1, 16)
        self.cols = check_width("cols", cols, 1, 16)
        self.depth = check_width("depth", depth, 1, 4)
        self.buffer = _check_buffer(buffer)
        self.core = dict(lanes=lanes, group_size=group_size, a_base=a_base, a_kept=a_kept, w_base=w_base,
                         w_kept=w_kept, acc_width=acc_width, acc_split=acc_split, retime=retime,
                         reset_data=reset_data)
        pe = DotProductCore(**self.core)                 # checks the element formats, lanes and group size
        self.lanes, self.sub, self.acc_width = pe.lanes, pe.sub, pe.acc_width
        self.a_fmt, self.w_fmt = pe.a_fmt, pe.w_fmt

        def operand(n, fmt, extra):
            return data.StructLayout({
                "codes": data.ArrayLayout(data.ArrayLayout(SignMag(fmt.mag_bits), self.lanes), n),
                "flags": data.ArrayLayout(data.ArrayLayout(flag_bits(fmt.max_flag), self.sub), n), **extra})
        super().__init__({
            "a": In(stream.Signature(operand(self.rows, self.a_fmt, {"last": 1}))),
            "w": In(stream.Signature(operand(self.cols, self.w_fmt, {}))),
            "y": Out(stream.Signature(data.StructLayout({"acc": data.ArrayLayout(signed(acc_width), self.cols),
                                                         "last": 1}))),
        })

    @property
    def macs_per_cycle(self):
        return self.rows * self.cols * self.lanes

    def elaborate(self, platform):
        m = Module()
        a, w = self.a, self.w
        m.submodules.results = buf = BUFFERS[self.buffer](self.rows, self.cols, self.acc_width, self.depth,
                                                          self.core["reset_data"])
        wiring.connect(m, wiring.flipped(self.y), buf.y)
        # a job's last beat needs a free result block once every block in flight has landed
        last = [Signal(name=f"last_q{k}") for k in (1, 2, 3)]
        room = Signal()
        m.d.comb += room.eq(buf.count + last[0] + last[1] + last[2] < self.depth)
        ok = room | ~a.payload.last
        fire = Signal()
        m.d.comb += [a.ready.eq(w.valid & ok), w.ready.eq(a.valid & ok), fire.eq(a.valid & w.valid & ok)]
        # stage 1: the operands, registered once for the whole array
        keep = not self.core["reset_data"]
        a_q = Signal.like(a.payload, name="a_q", reset_less=keep)
        w_q = Signal.like(w.payload, name="w_q", reset_less=keep)
        en, load, first = Signal(name="en_q"), Signal(name="load_q"), Signal(name="first", init=1)
        m.d.sync += [a_q.eq(a.payload), w_q.eq(w.payload), en.eq(fire), load.eq(fire & first),
                     last[0].eq(fire & a.payload.last), last[1].eq(last[0]), last[2].eq(last[1])]
        with m.If(fire):
            m.d.sync += first.eq(a.payload.last)
        for r in range(self.rows):
            for c in range(self.cols):
                pe = self._pe()
                m.submodules[f"pe{r}_{c}"] = pe
                m.d.comb += self._feed(pe, a_q, w_q, r, c)
                m.d.comb += [pe.en.eq(en), pe.load.eq(load), buf.i[r][c].eq(pe.acc)]
        m.d.comb += buf.push.eq(last[2])
        return m

    def _pe(self):
        return DotProductCore(**self.core)

    def _feed(self, pe, a_q, w_q, r, c):
        """Processing element ``(r, c)``'s operands from the registered beats."""
        return [pe.a.eq(a_q.codes[r]), pe.fa.eq(a_q.flags[r]), pe.w.eq(w_q.codes[c]), pe.fw.eq(w_q.flags[c])]


class IntGemmTile(GemmTile):
    """The INT baseline of ``GemmTile``: the same array, streams, job protocol, pipeline and result buffer, with
    ``IntDotProductCore`` processing elements (``lanes`` two's complement ``a_bits x b_bits`` products and a
    balanced tree per element) and no flags (golden model: ``golden.tile_golden_int``).

    Parameters
    ----------
    rows, cols : int
        R and C (1..16).
    lanes, a_bits, b_bits, acc_width : int
        As ``IntDotProductUnit``.
    depth, buffer, acc_split, retime, reset_data
        As ``GemmTile``.

    Members
    -------
    a : In(stream.Signature({codes: R x L signed(a_bits), last}))
    w : In(stream.Signature({codes: C x L signed(b_bits)}))
    y : Out(stream.Signature({acc: C x signed(acc_width), last}))
    """

    def __init__(self, *, rows=4, cols=4, lanes=16, a_bits=8, b_bits=8, acc_width=32, depth=2, buffer="shift",
                 acc_split=11, retime=None, reset_data=False):
        self.rows = check_width("rows", rows, 1, 16)
        self.cols = check_width("cols", cols, 1, 16)
        self.depth = check_width("depth", depth, 1, 4)
        self.buffer = _check_buffer(buffer)
        self.core = dict(lanes=lanes, a_bits=a_bits, b_bits=b_bits, acc_width=acc_width, acc_split=acc_split,
                         retime=retime, reset_data=reset_data)
        pe = IntDotProductCore(**self.core)              # checks lanes, widths and accumulator
        self.lanes, self.acc_width, self.sub = pe.lanes, pe.acc_width, 0

        def operand(n, bits, extra):
            return data.StructLayout({"codes": data.ArrayLayout(data.ArrayLayout(signed(bits), self.lanes), n),
                                      **extra})
        wiring.Component.__init__(self, {
            "a": In(stream.Signature(operand(self.rows, a_bits, {"last": 1}))),
            "w": In(stream.Signature(operand(self.cols, b_bits, {}))),
            "y": Out(stream.Signature(data.StructLayout({"acc": data.ArrayLayout(signed(acc_width), self.cols),
                                                         "last": 1}))),
        })

    def _pe(self):
        return IntDotProductCore(**self.core, style="tree")

    def _feed(self, pe, a_q, w_q, r, c):
        return [pe.a.eq(a_q.codes[r]), pe.b.eq(w_q.codes[c])]
