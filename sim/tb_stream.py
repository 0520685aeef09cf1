"""Generic cocotb bench for a stream unit (``amaranth.lib.stream`` ports): drivers, monitor and scoreboard.

Stimulus (from the pytest side, ``stimulus.npz`` in the build folder):
  ``in_<stream>``      payload words (hex strings) of each input stream, in order
  ``expect_<stream>``  the golden model's payload words of each output stream, in order
Settings (environment): ``QR_STREAMS`` (``name:width:is_input;...``), ``QR_P_VALID`` (each cycle an input
with no beat pending offers its next beat with this probability), ``QR_P_READY`` (each output is ready with
this probability), ``QR_SEED``.

Every cycle the drivers set ``valid``/``payload`` at the falling edge and hold a beat until its handshake;
the monitor samples the settled handshakes before the rising edge. Each output beat is compared with the next
expected one as a whole word; the bench counts mismatches, lost beats (expected, never sent), extra beats and
protocol violations (an output's ``valid`` dropped, or its payload changed, before its handshake), logs the
first few mismatches, and fails if any count is non-zero or nothing was compared. Counts go to ``results.npz``.
"""

import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly
from tb_common import finish

from hdl.insim import compare_beats

CLOCK_NS = 10
SHOW = 8
DRAIN = 32            # cycles after the last expected beat in which an extra beat would be caught
PATIENCE = 5000       # cycles without any handshake before the bench gives up (lost beats)


def _meta():
    streams = []
    for item in os.environ["QR_STREAMS"].split(";"):
        name, width, is_in = item.split(":")
        streams.append((name, int(width), bool(int(is_in))))
    return dict(unit=os.environ["QR_UNIT"], dir=Path(os.environ["QR_DIR"]), streams=streams,
                p_valid=float(os.environ["QR_P_VALID"]), p_ready=float(os.environ["QR_P_READY"]),
                seed=int(os.environ["QR_SEED"]))


@cocotb.test()
async def check_streams(dut):
    m = _meta()
    st = np.load(m["dir"] / "stimulus.npz")
    ins = [n for n, _, i in m["streams"] if i]
    outs = [n for n, _, i in m["streams"] if not i]
    feed = {n: [int(x, 16) for x in st[f"in_{n}"]] for n in ins}
    want = {n: [int(x, 16) for x in st[f"expect_{n}"]] for n in outs}
    if not any(want.values()):
        raise AssertionError("stimulus has no expected output beats: nothing would be checked")
    rng = np.random.default_rng(m["seed"])
    h = {n: (getattr(dut, f"{n}__payload"), getattr(dut, f"{n}__valid"), getattr(dut, f"{n}__ready"))
         for n in ins + outs}
    got = {n: [] for n in outs}
    idx, shown = dict.fromkeys(ins, 0), dict.fromkeys(ins, False)
    held, protocol, cycles, quiet, after = {}, 0, 0, 0, 0

    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    for n in ins:
        h[n][1].value = 0
        h[n][0].value = 0
    for n in outs:
        h[n][2].value = 0
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    t0 = time.perf_counter()
    while quiet < PATIENCE and after < DRAIN:
        await FallingEdge(dut.clk)
        for n in ins:
            if not shown[n] and idx[n] < len(feed[n]) and rng.random() < m["p_valid"]:
                h[n][0].value = feed[n][idx[n]]
                shown[n] = True
            h[n][1].value = int(shown[n])
        ready = {n: int(rng.random() < m["p_ready"]) for n in outs}
        for n in outs:
            h[n][2].value = ready[n]
        await ReadOnly()
        progress = False
        for n in ins:
            if shown[n] and int(h[n][2].value):
                idx[n] += 1
                shown[n] = False
                progress = True
        for n in outs:
            valid = int(h[n][1].value)
            payload = h[n][0].value.to_unsigned() if valid else None
            if n in held and (not valid or payload != held[n]):
                protocol += 1
            held.pop(n, None)
            if valid and ready[n]:
                got[n].append(payload)
                progress = True
            elif valid:
                held[n] = payload
        cycles += 1
        quiet = 0 if progress else quiet + 1
        if all(len(got[n]) >= len(want[n]) for n in outs) and all(idx[n] == len(feed[n]) for n in ins):
            after += 1
    dt = time.perf_counter() - t0

    checked, count, first, lost, extra = compare_beats(want, got, SHOW)     # the in-process checker's comparison
    shown = [f"beat {j} of {n}: expected {a:#x}, got {b:#x}" for j, n, a, b in first]
    consumed = sum(idx.values())
    failure = (count or lost or extra or protocol) and (f"{count} of {checked} output beats differ, {lost} lost, "
                                                        f"{extra} extra, {protocol} protocol violations")
    finish(dut, m, checked, shown, failure, "output beats",
           f"{checked} output beats checked, {consumed} input beats in {cycles} cycles, {dt:.2f} s: "
           f"{cycles / dt:,.0f} cycles/s", mismatches=count, lost=lost, extra=extra, protocol=protocol,
           cycles=cycles, consumed=consumed, seconds=dt)
