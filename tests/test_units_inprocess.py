"""Every registered unit, simulated in-process with amaranth.sim against its own golden function: exhaustive
operand spaces and corners (the descriptor's segments), synthetic LLM-like streams with stalls, a reset pulse
mid-stream, and real LLM data. No Icarus or Verilator needed (sim/ runs the exported Verilog)."""

import dataclasses

import numpy as np
import pytest

from golden.streams import SyntheticSource
from hdl import insim, mutants
from hdl.catalog import get, units
from hdl.unit import concat, control_coverage, control_ports, coverage_text, expected_lanes

NAMES = [u.name for u in units(protocol="cycle")]
CLOCKED = [u.name for u in units(protocol="cycle") if u.clocked]
CYCLES = 2000                       # synthetic cycles after the segments (scaled by the unit's cycles_scale)


def _cycles(u):
    return max(1, int(CYCLES * u.cycles_scale))


@pytest.mark.parametrize("name", NAMES)
def test_unit_matches_golden(name):
    u = get(name)
    d = u.vectors(_cycles(u), seed=1)
    m = insim.check(u, d)
    assert m.count == 0, f"{name}: {m}"
    assert m.checked >= len(d[u.inputs[0].name])


@pytest.mark.parametrize("name", CLOCKED)
def test_reset_mid_stream(name):
    """Synchronous reset pulses: the in-flight inputs are lost and the unit restarts from its reset state."""
    u = get(name)
    d = {k: v[-700:] for k, v in u.vectors(400, seed=3).items()}
    rst = np.zeros(700, np.int64)
    rst[[200, 201, 450, 600]] = 1
    m = insim.check(u, d, rst)
    assert m.count == 0, f"{name}: {m}"
    # the reset model is live: the same run compared with a golden model that ignores the reset fails
    lane = {k: np.asarray(v)[:, None] for k, v in d.items()}
    assert any((expected_lanes(u, lane, rst)[k] != expected_lanes(u, lane)[k]).any() for k in u.expect(d))


@pytest.mark.trace
@pytest.mark.parametrize("name", NAMES)
def test_unit_on_real_trace(name, trace_set):
    u = get(name)
    d = u.stimulus(trace_set, _cycles(u), seed=11)
    m = insim.check(u, d)
    assert m.count == 0, f"{name}: {m}"


@pytest.mark.parametrize("name", ["mac_dfree_w4a4", "sdr_encoder_a16k4_g8", "sdr_decoder_w8k4"])
def test_a_wrong_golden_value_is_counted(name):
    """The comparison is live: one corrupted golden value is reported with its cycle, and only it."""
    u = get(name)

    def corrupt(d, golden=u.golden):
        out = golden(d)
        k = sorted(out)[0]
        v = out[k].copy()
        v[5] = v[5] ^ 1
        return dict(out, **{k: v})
    m = insim.check(dataclasses.replace(u, golden=corrupt), u.vectors(50, seed=2))
    assert m.count >= 1 and m.first[0][0] == 5


@pytest.mark.parametrize("name", [u.name for u in units(protocol="cycle") if control_ports(u)])
def test_stimulus_covers_every_control_combination(name):
    """Every combination of the control inputs (en/load, i_valid) in both states (outputs zero, or holding a
    value a wrong priority would clear or keep) is driven, several times."""
    u = get(name)
    counts = control_coverage(u, u.vectors(_cycles(u), seed=1))
    print(f"{name}: {coverage_text(u, counts)}")
    assert min(counts.values()) >= 5, f"{name}: {coverage_text(u, counts)}"


def test_a_missing_output_register_fails():
    """Outputs are read with the answered cycle's successors applied: the pipelined encoder with its output
    register removed (still declaring latency 1) differs from the golden model."""
    u = mutants.no_output_register()
    m = insim.check(u, u.vectors(_cycles(u), seed=1))
    assert m.count > 0.03 * m.checked, f"{u.name}: {m}"


def test_load_without_en_is_covered():
    """An accumulator that lets ``load`` act while ``en`` is low fails on the stimulus; the data streams alone
    (without ``control_segments``) never drive that combination and pass it, which is the hole they closed."""
    u = mutants.load_ignores_en()
    m = insim.check(u, u.vectors(_cycles(u), seed=1))
    assert m.count > 0, f"{u.name}: {m}"
    streams_only = concat([*u.segments(1), u.stimulus(SyntheticSource(), _cycles(u), 1)])
    assert insim.check(u, streams_only).count == 0
