"""RTL vs golden model on real LLM data: the default trace set (``make traces``, llmstudy.traces).

Dot products of real activations x weights (W8A16 base integers, and razored to W4A4 / W4A8 by the golden
model), real Q . K products (KV8), real binary16 values for the FP16 MAC, and real groups for the encoders.
``QR_TRACE_CYCLES`` sets the cycles per MAC bench (each cycle checks every lane).
"""

import os

import numpy as np
import pytest
import vectors as V
from harness import check, simulator

import golden as G
from llmstudy import traces

LANES = 32
CYCLES = int(os.environ.get("QR_TRACE_CYCLES", "10000"))


@pytest.fixture(scope="module")
def ts():
    return traces.load()          # a clear TraceError if `make traces` has not written it


@pytest.mark.parametrize("name,fa,fw", [("mac_dfree_w4a4", G.A16_K4, G.W8_K4), ("mac_dfree_w4a8", G.A16_K8, G.W8_K4),
                                        ("mac_conv_w4a4", G.A16_K4, G.W8_K4)])
def test_compressed_mac_on_trace(ts, name, fa, fw):
    check(name, V.trace_compressed_mac_stimulus(ts, fa, fw, LANES, CYCLES, seed=11), "trace", LANES, "trace")


def test_int16x8_on_trace(ts):
    check("mac_int16x8", V.trace_int16x8_stimulus(ts, LANES, CYCLES, seed=12), "trace", LANES, "trace")


def test_int8x8_on_query_key(ts):
    check("mac_int8x8", V.trace_int8x8_stimulus(ts, LANES, CYCLES, seed=13), "trace", LANES, "trace")


def test_fp16_mac_on_trace(ts):
    real = V.trace_fp16_operands(ts, LANES, CYCLES // 4, seed=14)
    check("mac_fp16", V.fp16_mac_stimulus(LANES, 0, seed=14, real=real), "trace", LANES, "trace")


ENCODERS = [("sdr_encoder_a16k4_g16", G.A16_K4), ("sdr_encoder_a16k8_g16", G.A16_K8),
            ("sdr_encoder_w8k4_g16", G.W8_K4), ("sdr_encoder_a16k4_g8", G.A16_K4.with_group(8))]


@pytest.mark.parametrize("name,fmt", ENCODERS)
def test_encoder_on_trace(ts, name, fmt):
    groups = V.trace_encoder_groups(ts, fmt, CYCLES, seed=15)
    check(name, V.encoder_stimulus(fmt, 8, 0, seed=15, groups=groups), "trace", 8, "trace", fmt.group_size)


@pytest.mark.parametrize("g", [32, 64, 128])
def test_wide_encoder_on_trace(ts, g):
    """g = 32..128: Icarus evaluates these wide combinational netlists slowly (g=128: ~10 groups/s), so it gets
    a few real groups plus the corner groups; Verilator gets thousands."""
    fmt = G.A16_K4.with_group(g)
    count = 4096 if simulator() == "verilator" else 48
    groups = V.trace_encoder_groups(ts, fmt, count, seed=16)
    corners = V.encoder_corner_groups(fmt)
    stim = V.encoder_stimulus(fmt, 8, 0, seed=16, groups=np.concatenate([corners, groups]))
    check(f"sdr_encoder_a16k4_g{g}", stim, "trace", 8, "trace", g)
