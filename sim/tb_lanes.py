"""Generic cocotb bench for a ``lanes_<unit>`` wrapper: driver, monitor and scoreboard.

Stimulus (from the pytest side, ``stimulus.npz`` in the build folder):
  ``in_<port>``      (cycles, lanes[, k]) values driven on input ``port`` in cycle j
  ``expect_<port>``  (cycles, lanes[, k]) the golden model's value of output ``port`` ``latency`` cycles later
  ``rst``            (cycles,) synchronous reset driven in cycle j (all lanes)
After the initial reset every output must read 0. Outputs are read with the inputs of the cycle ``latency`` after
the one they answer already applied, so a missing output register fails. Each cycle's outputs are compared with
the golden model's as whole wide words; every mismatch is counted, the first few are logged with cycle, lane,
port, expected, got and the lane's inputs, and the bench fails at the end if any differed or if it compared
nothing. Counts go to ``results.npz``.
"""

import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, Timer
from tb_common import finish

from hdl.unit import unpack_word, words

CLOCK_NS = 10
SHOW = 8


def _meta():
    ports = []
    for item in os.environ["QR_PORTS"].split(";"):
        name, width, is_in, count = item.split(":")
        ports.append((name, int(width), bool(int(is_in)), int(count)))
    return dict(unit=os.environ["QR_UNIT"], lanes=int(os.environ["QR_LANES"]), dir=Path(os.environ["QR_DIR"]),
                ports=ports, latency=int(os.environ["QR_LATENCY"]), clocked=bool(int(os.environ["QR_CLOCKED"])))


def _wide(arr, lanes, count):
    """(cycles, lanes[, k]) -> one Python int per cycle, lane 0 (element 0) in the LSBs."""
    a = np.asarray(arr, np.int64)
    return a.reshape(a.shape[0], lanes * count)


@cocotb.test()
async def check_against_golden(dut):
    m = _meta()
    st = dict(np.load(m["dir"] / "stimulus.npz"))
    lanes, lat = m["lanes"], m["latency"]
    ins = [(n, w // c) for n, w, i, c in m["ports"] if i]
    outs = [(n, w // c, c) for n, w, i, c in m["ports"] if not i and f"expect_{n}" in st]
    if not outs:
        raise AssertionError("stimulus has no expected outputs: nothing would be checked")
    count = {n: c for n, w, i, c in m["ports"]}
    cycles = st[f"in_{ins[0][0]}"].shape[0]
    drive = {n: words(_wide(st[f"in_{n}"], lanes, count[n]), ew) for n, ew in ins}
    expect = {n: words(_wide(st[f"expect_{n}"], lanes, c), ew) for n, ew, c in outs}
    rst = st["rst"].tolist()
    handles_in = {n: getattr(dut, n) for n, _ in ins}
    handles_out = {n: getattr(dut, n) for n, _, _ in outs}
    checked, mismatches, shown = 0, 0, []

    def compare(j):
        nonlocal checked, mismatches
        for n, ew, c in outs:
            got = handles_out[n].value.to_unsigned()
            checked += lanes
            if got == expect[n][j]:
                continue
            g, e = unpack_word(got, ew * c, lanes), unpack_word(expect[n][j], ew * c, lanes)
            for lane in (i for i, (a, b) in enumerate(zip(g, e)) if a != b):
                mismatches += 1
                if len(shown) < SHOW:
                    stim = {k: np.asarray(st[f"in_{k}"][j, lane]).tolist() for k, _ in ins}
                    shown.append(f"cycle {j} lane {lane} port {n}: expected {e[lane]:#x}, got {g[lane]:#x} "
                                 f"(inputs {stim})")

    t0 = time.perf_counter()
    if m["clocked"]:
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        for h in handles_in.values():
            h.value = 0
        dut.rst.value = 1
        for _ in range(2):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        for n, _, _ in outs:                                          # reset state
            if handles_out[n].value.to_unsigned() != 0:
                raise AssertionError(f"{m['unit']}: output {n} is {handles_out[n].value} after reset, expected 0")
        # Cycle j's inputs go on at the falling edge; the outputs are read once they have settled, with those
        # inputs applied: a registered output still shows cycle j - latency, while an output whose register is
        # missing (or a unit with another latency) already follows cycle j and fails.
        for j in range(cycles + lat):
            await FallingEdge(dut.clk)
            for n, h in handles_in.items():
                h.value = drive[n][j] if j < cycles else 0
            dut.rst.value = rst[j] if j < cycles else 0
            if j >= lat:
                await ReadOnly()
                compare(j - lat)
    else:
        for j in range(cycles):
            for n, h in handles_in.items():
                h.value = drive[n][j]
            await Timer(1, unit="ns")
            compare(j)
    dt = time.perf_counter() - t0
    vectors = cycles * lanes
    failure = mismatches and f"{mismatches} of {checked} output values differ from the golden model"
    finish(dut, m, checked, shown, failure, "vectors",
           f"{vectors} vectors ({checked} output values) checked against the golden model in {dt:.2f} s: "
           f"{vectors / dt:,.0f} vectors/s", vectors=vectors, seconds=dt, mismatches=mismatches)
