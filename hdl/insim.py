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

__all__ = ["run", "check", "Mismatches", "check_stream", "compare_beats", "StreamCheck"]


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
        # Cycle j applies its inputs, then reads the outputs before its clock edge: a registered output shows
        # what earlier cycles' inputs made, so an output whose register is missing (it follows this cycle's
        # inputs) or a latency other than the declared one differs from the golden model everywhere.
        for j in range(n + lat):
            for _, sig, w in ins:
                ctx.set(sig, w[j] if j < n else 0)
            if unit.clocked:
                ctx.set(dut_rst, int(rst[j]) if j < n else 0)
            if j >= lat:
                for p, sig in outs:
                    got[p.name].append(ctx.get(sig) & ((1 << p.width) - 1))
            if unit.clocked:
                await ctx.tick()

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


@dataclass
class StreamCheck:
    """A stream unit's run: output beats ``checked`` against the golden model, ``count`` of them different,
    beats ``lost`` (expected, never sent) and ``extra`` (sent, not expected), ``protocol`` violations (an
    output's ``valid`` dropped or its payload changed before the handshake), in ``cycles`` clock cycles."""
    checked: int
    count: int
    first: list
    lost: int
    extra: int
    protocol: int
    cycles: int

    @property
    def ok(self):
        return self.checked > 0 and not (self.count or self.lost or self.extra or self.protocol)

    def __str__(self):
        lines = [f"{self.count} of {self.checked} output beats differ from the golden model, {self.lost} lost, "
                 f"{self.extra} extra, {self.protocol} protocol violations in {self.cycles} cycles"]
        lines += [f"  beat {j} of {s}: expected {e:#x}, got {g:#x}" for j, s, e, g in self.first]
        return "\n".join(lines)


def compare_beats(want, got, show=8):
    """``{stream: [payload word]}`` expected vs received -> (checked, mismatches, first few, lost, extra)."""
    checked, bad, lost, extra = 0, [], 0, 0
    for name, w in want.items():
        g = got.get(name, [])
        lost += max(0, len(w) - len(g))
        extra += max(0, len(g) - len(w))
        for j, (a, b) in enumerate(zip(w, g)):
            checked += 1
            if a != b:
                bad.append((j, name, a, b))
    return checked, len(bad), bad[:show], lost, extra


def check_stream(unit, beats, seed=0, p_valid=1.0, p_ready=1.0, drain=32, patience=2000):
    """Run a stream unit on its input ``beats`` with random gaps (each cycle an input with no beat pending
    offers the next one with probability ``p_valid``; each output is ready with probability ``p_ready``),
    until every expected beat has arrived and ``drain`` more cycles passed (or no progress for ``patience``
    cycles); compare every output beat with the golden model."""
    unit.check_beats(beats)
    exp = unit.expect(beats)
    dut = unit.build()
    ins = [st for st in unit.streams if st.is_input]
    outs = [st for st in unit.streams if not st.is_input]
    feed = {st.name: st.pack(beats[st.name]) for st in ins}
    want = {st.name: st.pack(exp[st.name]) for st in outs}
    got = {st.name: [] for st in outs}
    rng = np.random.default_rng(seed)
    stats = {"cycles": 0, "protocol": 0}

    async def bench(ctx):
        idx, shown = dict.fromkeys(feed, 0), dict.fromkeys(feed, False)
        held = {}                                   # output stream -> payload shown without a handshake
        quiet, after = 0, 0
        while quiet < patience and after < drain:
            for st in ins:
                port = getattr(dut, st.name)
                if not shown[st.name] and idx[st.name] < len(feed[st.name]) and rng.random() < p_valid:
                    ctx.set(port.payload.as_value(), feed[st.name][idx[st.name]])
                    shown[st.name] = True
                ctx.set(port.valid, int(shown[st.name]))
            ready = {st.name: int(rng.random() < p_ready) for st in outs}
            for st in outs:
                ctx.set(getattr(dut, st.name).ready, ready[st.name])
            fired = [st.name for st in ins if shown[st.name] and ctx.get(getattr(dut, st.name).ready)]
            progress = bool(fired)
            for st in outs:
                port = getattr(dut, st.name)
                valid, payload = ctx.get(port.valid), ctx.get(port.payload.as_value())
                if st.name in held and (not valid or payload != held[st.name]):
                    stats["protocol"] += 1
                held.pop(st.name, None)
                if valid and ready[st.name]:
                    got[st.name].append(payload)
                    progress = True
                elif valid:
                    held[st.name] = payload
            await ctx.tick()
            stats["cycles"] += 1
            for name in fired:
                idx[name] += 1
                shown[name] = False
            quiet = 0 if progress else quiet + 1
            if all(len(got[k]) >= len(want[k]) for k in want) and all(idx[k] == len(feed[k]) for k in feed):
                after += 1

    top = Module()
    top.submodules.dut = dut
    top.domains.sync = ClockDomain("sync")
    sim = Simulator(top)
    sim.add_clock(1e-8, domain="sync")
    sim.add_testbench(bench)
    sim.run()
    checked, count, first, lost, extra = compare_beats(want, got)
    return StreamCheck(checked, count, first, lost, extra, stats["protocol"], stats["cycles"])
