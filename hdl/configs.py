"""Named unit configurations: what `python -m hdl.export`, `sim/` and `synth/` build.

A name identifies one Verilog module; its parameters go into the file header. Change a configuration here and
every consumer follows.
"""

from dataclasses import dataclass, field

from .fp16_mac import FP16MAC
from .macs import ConventionalMAC, DecompressionFreeMAC, IntMAC
from .sdr_decoder import SDRDecoder
from .sdr_encoder import SDREncoder

__all__ = ["UnitConfig", "UNITS", "MACS", "ENCODER_GROUPS", "get"]


@dataclass(frozen=True)
class UnitConfig:
    name: str
    cls: type
    params: dict = field(default_factory=dict)
    doc: str = ""

    def build(self):
        return self.cls(**self.params)


ENCODER_GROUPS = (8, 16, 32, 64, 128)

_list = [
    UnitConfig("mac_dfree_w4a4", DecompressionFreeMAC, dict(a_base=16, a_kept=4, w_base=8, w_kept=4),
               "QRazor decompression-free MAC, W4A4 (A16/W8 bases): 3x3 multiplier + shifter by fa+fw (0..16)"),
    UnitConfig("mac_dfree_w4a8", DecompressionFreeMAC, dict(a_base=16, a_kept=8, w_base=8, w_kept=4),
               "QRazor decompression-free MAC, W4A8: 7x3 multiplier + shifter by fa+fw (0..12)"),
    UnitConfig("mac_conv_w4a4", ConventionalMAC, dict(a_base=16, a_kept=4, w_base=8, w_kept=4),
               "QRazor conventional MAC, W4A4: two SDR decoders + INT 16x8 multiplier"),
    UnitConfig("mac_int16x8", IntMAC, dict(a_bits=16, b_bits=8), "INT 16x8 MAC on base data (W8A16)"),
    UnitConfig("mac_int8x8", IntMAC, dict(a_bits=8, b_bits=8), "INT 8x8 MAC"),
    UnitConfig("mac_fp16", FP16MAC, {}, "FP16 MAC: binary16 fused multiply-add into an FP16 accumulator"),
    UnitConfig("sdr_decoder_a16k4", SDRDecoder, dict(base_bits=16, kept_bits=4), "SDR decoder, A16 -> 4 bits"),
    UnitConfig("sdr_decoder_w8k4", SDRDecoder, dict(base_bits=8, kept_bits=4), "SDR decoder, W8 -> 4 bits"),
    UnitConfig("sdr_encoder_a16k4_g16_pipe", SDREncoder,
               dict(group_size=16, base_bits=16, kept_bits=4, pipeline=True), "SDR encoder, registered outputs"),
    UnitConfig("sdr_encoder_a16k8_g16", SDREncoder, dict(group_size=16, base_bits=16, kept_bits=8),
               "SDR encoder, A16 -> 8 bits (W4A8)"),
    UnitConfig("sdr_encoder_w8k4_g16", SDREncoder, dict(group_size=16, base_bits=8, kept_bits=4),
               "SDR encoder, W8/KV8 -> 4 bits"),
]
_list += [UnitConfig(f"sdr_encoder_a16k4_g{g}", SDREncoder, dict(group_size=g, base_bits=16, kept_bits=4),
                     f"SDR encoder, A16 -> 4 bits, group of {g}") for g in ENCODER_GROUPS]

UNITS = {u.name: u for u in _list}
MACS = [n for n in UNITS if n.startswith("mac_")]


def get(name):
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; known units: {', '.join(sorted(UNITS))}") from None
