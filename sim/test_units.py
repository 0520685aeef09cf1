"""RTL vs golden model, through the exported Verilog, under Icarus (default) or Verilator (SIM=verilator)."""

import os

import pytest
import vectors as V
from harness import BUILD, check, run_bench, simulator

import golden as G

LANES = 32
CYCLES = int(os.environ["QR_SIM_CYCLES"])

COMPRESSED_MACS = {
    "mac_dfree_w4a4": (G.A16_K4, G.W8_K4),
    "mac_dfree_w4a8": (G.A16_K8, G.W8_K4),
    "mac_conv_w4a4": (G.A16_K4, G.W8_K4),
}
INT_MACS = {"mac_int16x8": (16, 8), "mac_int8x8": (8, 8)}
ENCODERS = {
    "sdr_encoder_a16k4_g16": G.SDRFormat(16, 4, 16),
    "sdr_encoder_a16k4_g16_pipe": G.SDRFormat(16, 4, 16),
    "sdr_encoder_a16k8_g16": G.SDRFormat(16, 8, 16),
    "sdr_encoder_w8k4_g16": G.SDRFormat(8, 4, 16),
    "sdr_encoder_a16k4_g8": G.SDRFormat(16, 4, 8),
}
# g = 32..128 run on real-trace groups in test_real_traces.py (Icarus evaluates g=128 at ~10 groups/s).
DECODERS = {"sdr_decoder_a16k4": G.A16_K4, "sdr_decoder_w8k4": G.W8_K4}


def _run(name, stim, test_id, lanes=LANES, elements_per_vector=1):
    check(name, stim, test_id, lanes, elements_per_vector=elements_per_vector)


@pytest.mark.parametrize("name", COMPRESSED_MACS)
def test_compressed_mac(name):
    fa, fw = COMPRESSED_MACS[name]
    _run(name, V.compressed_mac_stimulus(fa, fw, LANES, CYCLES, seed=1), "vectors")


@pytest.mark.parametrize("name", INT_MACS)
def test_int_mac(name):
    _run(name, V.int_mac_stimulus(*INT_MACS[name], LANES, CYCLES, seed=2), "vectors")


def test_fp16_mac():
    _run("mac_fp16", V.fp16_mac_stimulus(LANES, CYCLES, seed=5), "vectors")


@pytest.mark.parametrize("name", ["mac_dfree_w4a4", "mac_int16x8", "mac_fp16"])
def test_reset_mid_stream(name):
    """A synchronous reset pulse in the middle of accumulation: acc clears, the registered operand is dropped."""
    if name == "mac_fp16":
        stim = V.fp16_mac_stimulus(4, 320, seed=3, reset_at=-150)
    elif name in COMPRESSED_MACS:
        stim = V.compressed_mac_stimulus(*COMPRESSED_MACS[name], 4, 320, seed=3, reset_at=-150)
    else:
        stim = V.int_mac_stimulus(*INT_MACS[name], 4, 320, seed=3, reset_at=-150)
    assert stim["rst"].sum() == 1
    _run(name, stim, "reset", lanes=4)


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder(name):
    fmt = ENCODERS[name]
    _run(name, V.encoder_stimulus(fmt, 8, max(1, CYCLES // (4 * fmt.group_size // 16)), seed=4), "vectors", lanes=8,
         elements_per_vector=fmt.group_size)


@pytest.mark.parametrize("name", DECODERS)
def test_decoder_exhaustive(name):
    _run(name, V.decoder_stimulus(DECODERS[name], 8), "exhaustive", lanes=8)


def test_bench_catches_a_wrong_expectation():
    """The scoreboard is live: one corrupted expected value must fail the cocotb test itself."""
    from cocotb_tools.runner import get_results

    stim = V.decoder_stimulus(G.W8_K4, 8)
    stim["expect_value"] = stim["expect_value"].copy()
    stim["expect_value"][3, 5] ^= 1
    with pytest.raises(SystemExit):                   # the cocotb runner exits when a bench fails under pytest
        run_bench("sdr_decoder_w8k4", "tb_lanes", 8, stim, "negative")
    build = BUILD / simulator() / "sdr_decoder_w8k4_negative"
    (xml,) = build.glob("*result*.xml")               # named after the pytest test when run under pytest
    assert get_results(xml) == (1, 1)                  # the bench ran, and it is the one that failed
    assert not (build / "results.npz").exists()
