# amaranth: UnusedElaboratable=no
"""The GEMM tile behind AXI4-Stream ports, for integrators (Vivado IP, LiteX, FuseSoC users).

``AXIStreamTile`` wraps a ``GemmTile`` (or, with ``int8=True``, an ``IntGemmTile``) and renames and pads its
``amaranth.lib.stream`` ports to the AXI4-Stream conventions (ARM IHI 0051):

* ``aclk``, ``aresetn`` (active low, synchronous): the tile's clock and reset;
* ``s_axis_a_tdata``, ``s_axis_a_tvalid``, ``s_axis_a_tready``, ``s_axis_a_tlast``: the activation (or query)
  stream; ``tlast`` marks a job's final beat (the tile's ``a.last``);
* ``s_axis_w_tdata``, ``s_axis_w_tvalid``, ``s_axis_w_tready``: the weight (or key) stream, one beat per ``a``
  beat (no ``tlast``: the job boundary is ``a``'s);
* ``m_axis_y_tdata``, ``m_axis_y_tvalid``, ``m_axis_y_tready``, ``m_axis_y_tlast``: the results, ``R`` beats
  per job, ``tlast`` on a job's last row: one AXI packet per output block.

``tdata`` is the tile's payload without ``last``, in the payload layout's bit order from bit 0 (``a``: the ``R``
rows' codes, then their flags; ``w`` likewise for the ``C`` rows; ``y``: the ``C`` accumulators), zero-padded to
whole bytes (AXI4-Stream ``TDATA`` is an integer number of bytes). No ``tkeep``/``tstrb``: every byte of every
beat is data. The handshake is the tile's own (a transfer when ``tvalid & tready``), so the wrapper adds no
register and no cycle of latency.

Parameters: ``int8`` (bool: the INT 8x8 tile instead of the QRazor tile) and the wrapped tile's keyword
parameters (``rows``, ``cols``, ``lanes``, ...; see ``GemmTile`` and ``IntGemmTile``).
Members: ``tile``: the wrapped tile; ``widths``: ``{"a": bits, "w": bits, "y": bits}`` of the padded ``tdata``.
"""

from amaranth import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .parts import check_bool
from .tile import GemmTile, IntGemmTile

__all__ = ["AXIStreamTile", "axis_width"]


def axis_width(bits):
    """``tdata`` width for ``bits`` of payload: the next whole number of bytes."""
    return -(-bits // 8) * 8


class AXIStreamTile(wiring.Component):
    """A ``GemmTile`` (or ``IntGemmTile``) behind AXI4-Stream ports (see the module's description).

    Parameters
    ----------
    int8 : bool
        The INT 8x8 tile (``IntGemmTile``) instead of the QRazor tile.
    **params
        The wrapped tile's keyword parameters (``rows``, ``cols``, ``lanes``, ...).

    Members
    -------
    aclk, aresetn : In(1)
        Clock; synchronous reset, active low.
    s_axis_a_tdata, s_axis_a_tvalid, s_axis_a_tready, s_axis_a_tlast
        The activation (or query) stream; ``tlast`` on a job's last beat.
    s_axis_w_tdata, s_axis_w_tvalid, s_axis_w_tready
        The weight (or key) stream, one beat per ``a`` beat.
    m_axis_y_tdata, m_axis_y_tvalid, m_axis_y_tready, m_axis_y_tlast
        The results: ``R`` beats per job, ``tlast`` on its last row.
    tile : GemmTile or IntGemmTile
        The wrapped tile (attribute).
    widths : dict
        ``{"a", "w", "y"}``: the padded ``tdata`` widths in bits (attribute).
    """

    def __init__(self, *, int8=False, **params):
        self.int8 = check_bool("int8", int8)
        self.tile = (IntGemmTile if self.int8 else GemmTile)(**params)
        sig = self.tile.signature.members
        self.payload_bits = {n: sig[n].signature.members["payload"].shape.size for n in ("a", "w", "y")}
        data_bits = {"a": self.payload_bits["a"] - 1, "w": self.payload_bits["w"], "y": self.payload_bits["y"] - 1}
        self.widths = {n: axis_width(b) for n, b in data_bits.items()}
        self.latency = None                              # a stream unit (hdl.export: stream ports)
        self.clock_port = "aclk"                         # for the exported SDC constraint
        super().__init__({
            "aclk": In(1), "aresetn": In(1),
            "s_axis_a_tdata": In(self.widths["a"]), "s_axis_a_tvalid": In(1), "s_axis_a_tready": Out(1),
            "s_axis_a_tlast": In(1),
            "s_axis_w_tdata": In(self.widths["w"]), "s_axis_w_tvalid": In(1), "s_axis_w_tready": Out(1),
            "m_axis_y_tdata": Out(self.widths["y"]), "m_axis_y_tvalid": Out(1), "m_axis_y_tready": In(1),
            "m_axis_y_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync", local=True)
        m.d.comb += [cd.clk.eq(self.aclk), cd.rst.eq(~self.aresetn)]
        m.submodules.tile = t = self.tile
        pa, pw, py = self.payload_bits["a"], self.payload_bits["w"], self.payload_bits["y"]
        m.d.comb += [
            t.a.payload.as_value()[:pa - 1].eq(self.s_axis_a_tdata[:pa - 1]),
            t.a.payload.last.eq(self.s_axis_a_tlast),
            t.a.valid.eq(self.s_axis_a_tvalid), self.s_axis_a_tready.eq(t.a.ready),
            t.w.payload.as_value().eq(self.s_axis_w_tdata[:pw]),
            t.w.valid.eq(self.s_axis_w_tvalid), self.s_axis_w_tready.eq(t.w.ready),
            self.m_axis_y_tdata.eq(t.y.payload.as_value()[:py - 1]),     # the padding bits are zero
            self.m_axis_y_tlast.eq(t.y.payload.last),
            self.m_axis_y_tvalid.eq(t.y.valid), t.y.ready.eq(self.m_axis_y_tready),
        ]
        return m
