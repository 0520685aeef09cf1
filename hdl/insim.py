"""Run a registered unit in-process with ``amaranth.sim`` (no Icarus, no Verilator) and compare it with its
golden model: the fast layer of verification; ``sim/`` runs the exported Verilog under cocotb.

``run(unit, drive, rst)`` returns the outputs aligned with the inputs (entry ``j`` is what the port shows
``latency`` cycles after cycle ``j``'s inputs), so they compare directly with ``unit.expect(drive)``.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from .unit import expected_lanes, words

__all__ = ["run", "check", "Mismatches"]


def _value(component, port):
    v = getattr(component, port.name)
    return v.as_value() if hasattr(v, "as_value") else v


def run(unit, drive, rst=None):
    """Simulate one copy of ``unit`` on ``drive``; ``rst``: optional (cycles,) synchronous reset pulses."""
    n = unit.check_drive(drive)
    dut = unit.build()
    lat = unit.latency
    ins = [(p, _value(dut, p), words(drive[p.name], p.elem_width)) for p in unit.inputs]
    outs = [(p, _value(dut, p)) for p in unit.outputs]
    rst = np.zeros(n, np.int64) if rst is None else np.asarray(rst, np.int64)
    got = {p.name: [] for p, _ in outs}

    async def bench(ctx):
        for j in range(n + max(lat - 1, 0)):
            for _, sig, w in ins:
                ctx.set(sig, w[j] if j < n else 0)
            if unit.clocked:
                ctx.set(dut_rst, int(rst[j]) if j < n else 0)
                await ctx.tick()
            if j >= lat - 1 or not unit.clocked:
                for p, sig in outs:
                    got[p.name].append(ctx.get(sig) & ((1 << p.width) - 1))

    top = Module()
    top.submodules.dut = dut
    dut_rst = None
    if unit.clocked:
        top.domains.sync = cd = ClockDomain("sync")
        dut_rst = cd.rst
    sim = Simulator(top)
    if unit.clocked:
        sim.add_clock(1e-8, domain="sync")
    sim.add_testbench(bench)
    sim.run()
    return {p.name: got[p.name][:n] for p, _ in outs}


@dataclass
class Mismatches:
    """Every mismatch of a run: ``count`` of ``checked`` output values, the first few with their cycles."""
    checked: int
    count: int
    first: list

    def __str__(self):
        lines = [f"{self.count} of {self.checked} output values differ from the golden model"]
        lines += [f"  cycle {j} port {p}: expected {e:#x}, got {g:#x}" for j, p, e, g in self.first]
        return "\n".join(lines)


def check(unit, drive, rst=None, show=8):
    """Run ``unit`` on ``drive`` and count every mismatch against ``unit.expect`` (all outputs it names)."""
    lane = {k: np.asarray(v)[:, None] for k, v in drive.items()}
    exp = {k: v[:, 0] for k, v in expected_lanes(unit, lane, rst).items()}
    got = run(unit, drive, rst)
    checked, bad = 0, []
    for p in unit.outputs:
        if p.name not in exp:
            continue
        e = p.words(exp[p.name])
        for j, (a, b) in enumerate(zip(e, got[p.name])):
            checked += 1
            if a != b:
                bad.append((j, p.name, a, b))
    if checked == 0:
        raise AssertionError(f"{unit.name}: no output value was checked")
    return Mismatches(checked, len(bad), bad[:show])
