"""Generic cocotb bench for a ``lanes_<unit>`` wrapper: driver, monitor and scoreboard.

Stimulus (from the pytest side, ``stimulus.npz`` in the build folder):
  ``in_<port>``      (cycles, lanes) values driven on input ``port`` in cycle j
  ``expect_<port>``  (cycles, lanes) the golden model's value of output ``port`` ``latency`` cycles later
  ``rst``            (cycles,) optional synchronous reset driven in cycle j (all lanes)
After reset (two cycles) every output must read 0 (checked). Each cycle's outputs are compared with the golden
model's as whole wide words; a mismatch names the cycle, lane, port, expected and got. The count of compared
lane-vectors is saved in ``results.npz`` and the bench fails if it compared none.
"""

import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer
from lanes import pack, unpack

CLOCK_NS = 10


def _meta():
    ports = []
    for item in os.environ["QR_PORTS"].split(";"):
        name, width, is_in = item.split(":")
        ports.append((name, int(width), bool(int(is_in))))
    return dict(unit=os.environ["QR_UNIT"], lanes=int(os.environ["QR_LANES"]), dir=Path(os.environ["QR_DIR"]),
                ports=ports, latency=int(os.environ["QR_LATENCY"]), clocked=bool(int(os.environ["QR_CLOCKED"])))


@cocotb.test()
async def check_against_golden(dut):
    m = _meta()
    st = dict(np.load(m["dir"] / "stimulus.npz"))
    lanes, lat = m["lanes"], m["latency"]
    ins = [(n, w) for n, w, i in m["ports"] if i]
    outs = [(n, w) for n, w, i in m["ports"] if not i and f"expect_{n}" in st]
    if not outs:
        raise AssertionError("stimulus has no expected outputs: nothing would be checked")
    cycles = st[f"in_{ins[0][0]}"].shape[0]
    drive = {n: pack(st[f"in_{n}"], w) for n, w in ins}
    expect = {n: pack(st[f"expect_{n}"], w) for n, w in outs}
    rst = st.get("rst", np.zeros(cycles, np.int64)).tolist()
    handles_in = {n: getattr(dut, n) for n, _ in ins}
    handles_out = {n: getattr(dut, n) for n, _ in outs}
    idle = {n: 0 for n, _ in ins}
    checked = 0

    def compare(j, when):
        nonlocal checked
        for n, w in outs:
            got = handles_out[n].value.to_unsigned()
            if got != expect[n][j]:
                g = unpack(got, w, lanes)
                e = unpack(expect[n][j], w, lanes)
                lane = next(i for i, (a, b) in enumerate(zip(g, e)) if a != b)
                stim = {k: st[f"in_{k}"][j, lane].tolist() for k, _ in ins}
                raise AssertionError(f"{m['unit']} {when}: cycle {j} lane {lane} port {n}: expected "
                                     f"{e[lane]:#x}, got {g[lane]:#x} (inputs {stim})")
        checked += lanes * len(outs)

    t0 = time.perf_counter()
    if m["clocked"]:
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        for h in handles_in.values():
            h.value = 0
        dut.rst.value = 1
        for _ in range(2):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        for n, _ in outs:                                          # reset state
            if handles_out[n].value.to_unsigned() != 0:
                raise AssertionError(f"{m['unit']}: output {n} is {handles_out[n].value} after reset, expected 0")
        for j in range(cycles + lat):
            await FallingEdge(dut.clk)
            if j >= lat:
                compare(j - lat, "after the latency")
            src = drive if j < cycles else None
            for n, h in handles_in.items():
                h.value = src[n][j] if src else idle[n]
            dut.rst.value = rst[j] if j < cycles else 0
    else:
        for j in range(cycles):
            for n, h in handles_in.items():
                h.value = drive[n][j]
            await Timer(1, unit="ns")
            compare(j, "combinational")
    dt = time.perf_counter() - t0
    if checked == 0:
        raise AssertionError("checked zero vectors")
    vectors = cycles * lanes
    dut._log.info(f"{m['unit']}: {vectors} vectors ({checked} output values) checked against the golden model "
                  f"in {dt:.2f} s: {vectors / dt:,.0f} vectors/s")
    np.savez(m["dir"] / "results.npz", vectors=vectors, checked=checked, seconds=dt)
