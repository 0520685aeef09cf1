"""cocotb bench of the AXI4-Stream tile (``hdl.axis.AXIStreamTile``) with cocotbext-axi's AXI-Stream source and
sink, the components SoC benches use: the jobs go in as AXI packets (``a``: one packet per job, ``tlast`` on its
last beat; ``w``: the same beats without ``tlast``), the results come out as one packet per output block, and
random pause generators stall both sources and the sink (back-pressure on ``m_axis_y_tready``).

Stimulus (``stimulus.npz`` in ``QR_DIR``): ``a``, ``w`` (hex ``tdata`` words per beat), ``a_last`` (0/1 per
beat), ``y`` (the golden model's ``tdata`` words per output beat), ``y_last``. Settings: ``QR_P_PAUSE`` (each
cycle a source or the sink pauses with this probability), ``QR_SEED``. Every output packet is compared beat for
beat (its ``tdata`` and its length, so a ``tlast`` in the wrong place is a mismatch); missing packets and beats
are counted as lost, packets after the last expected one as extra. Counts go to ``results.npz``.
"""

import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
from tb_common import finish

SHOW = 8
CLOCK_NS = 10


def _pauses(rng, p):
    while True:
        yield bool(rng.random() < p)


def _packets(words, last, nbytes):
    """Split beats at ``last`` into packets of bytes (little-endian ``tdata``, ``nbytes`` per beat)."""
    out, cur = [], bytearray()
    for word, end in zip(words, last):
        cur += word.to_bytes(nbytes, "little")
        if end:
            out.append(bytes(cur))
            cur = bytearray()
    if cur:
        out.append(bytes(cur))
    return out


@cocotb.test()
async def axis_tile(dut):
    meta = dict(unit=os.environ["QR_UNIT"], dir=Path(os.environ["QR_DIR"]))
    st = np.load(meta["dir"] / "stimulus.npz")
    words = {k: [int(x, 16) for x in st[k]] for k in ("a", "w", "y")}
    nbytes = {k: len(getattr(dut, n).value) // 8 for k, n in
              (("a", "s_axis_a_tdata"), ("w", "s_axis_w_tdata"), ("y", "m_axis_y_tdata"))}
    a_last, y_last = [int(x) for x in st["a_last"]], [int(x) for x in st["y_last"]]
    a_packets = _packets(words["a"], a_last, nbytes["a"])
    w_packets = _packets(words["w"], a_last, nbytes["w"])          # the same jobs, no tlast on the wire
    want = _packets(words["y"], y_last, nbytes["y"])
    if not want:
        raise AssertionError("stimulus has no expected output beats: nothing would be checked")
    rng = np.random.default_rng(int(os.environ.get("QR_SEED", "0")))
    p = float(os.environ.get("QR_P_PAUSE", "0"))

    cocotb.start_soon(Clock(dut.aclk, CLOCK_NS, unit="ns").start())
    kw = dict(reset=dut.aresetn, reset_active_level=False)
    src_a = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_a"), dut.aclk, **kw)
    src_w = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_w"), dut.aclk, **kw)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_y"), dut.aclk, **kw)
    for port in (src_a, src_w, sink):
        port.log.setLevel("WARNING")
        if p:
            port.set_pause_generator(_pauses(rng, p))
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 4)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 2)

    t0 = time.perf_counter()
    for pa, pw in zip(a_packets, w_packets):
        await src_a.send(AxiStreamFrame(pa))
        await src_w.send(AxiStreamFrame(pw))
    shown, mismatches, lost, checked = [], 0, 0, 0
    beats = len(a_last)
    patience = (beats + 64 * len(want)) * (1 + 20 * p)      # cycles every packet may take at this pause rate
    for i, exp in enumerate(want):
        try:
            frame = await with_timeout(sink.recv(), int(patience * CLOCK_NS), "ns")
        except cocotb.triggers.SimTimeoutError:
            lost += len(want) - i
            break
        got = bytes(frame.tdata)
        n = nbytes["y"]
        for b in range(max(len(got), len(exp)) // n):
            g, e = got[b * n:(b + 1) * n], exp[b * n:(b + 1) * n]
            if not g or not e:                       # a packet shorter or longer than its block of R rows
                if not g:
                    lost += 1
                else:
                    mismatches += 1
                    if len(shown) < SHOW:
                        shown.append(f"packet {i} beat {b}: extra beat {g.hex()} (tlast came late)")
                continue
            checked += 1
            if g != e:
                mismatches += 1
                if len(shown) < SHOW:
                    shown.append(f"packet {i} beat {b}: got {g.hex()}, expected {e.hex()}")
    await ClockCycles(dut.aclk, 64)
    extra = 0
    while not sink.empty():
        sink.recv_nowait()
        extra += 1
    seconds = time.perf_counter() - t0
    bad = {k: v for k, v in dict(mismatches=mismatches, lost=lost, extra=extra).items() if v}
    finish(dut, meta, checked, shown, f"{bad}" if bad else None, "output beats",
           f"{checked} output beats in {len(want)} packets equal to the golden model ({beats} input beats, "
           f"pause probability {p}) in {seconds:.1f} s",
           mismatches=mismatches, lost=lost, extra=extra, packets=len(want), beats=beats, seconds=seconds)
