"""Switching activity of each input bit (toggles per cycle) for the power estimate, from real LLM traces.

Every unit's input streams come from its own descriptor (``Unit.stimulus``) on the trace set: the same builder
that drives its RTL benches and its gate-level simulation, so each unit sees the real data in the
representation it consumes (razored words and flags, base integers, binary16, groups). A stream unit's
beats are taken one per cycle (the full-rate case its throughput figures assume).
"""

import numpy as np

__all__ = ["CYCLES", "SEED", "toggles", "activity"]

CYCLES = 20000
SEED = 0                        # the gate-level simulation uses the same stream (its first cycles)


def toggles(port, values):
    """``{port_bit: toggles per cycle}`` of one port's stream (elements of an array port in order, LSB first)."""
    v = np.asarray(values, np.int64)
    if v.ndim == 1:
        v = v[:, None]
    ew = port.elem_width
    v = v & ((1 << ew) - 1)
    bits = (v[:, :, None] >> np.arange(ew)) & 1              # (cycles, elements, ew)
    rate = (bits[1:] != bits[:-1]).mean(axis=0).reshape(-1)  # element-major, LSB first
    return {f"{port.name}[{i}]" if port.width > 1 else port.name: float(r) for i, r in enumerate(rate)}


def activity(unit, source, cycles=CYCLES, seed=SEED):
    """``{port_bit: toggles per cycle}`` for every input bit of ``unit`` on ``source``'s data."""
    drive = unit.stimulus(source, cycles, seed)
    if unit.protocol == "stream":         # a beat every cycle: valid/ready held high, payload bits toggle
        act = {p.name: 0.0 for p in unit.inputs if p.width == 1}
        for st in unit.streams:
            if st.is_input:
                act.update(st.toggles(drive[st.name]))
        return act
    act = {}
    for p in unit.inputs:
        act.update(toggles(p, drive[p.name]))
    return act
