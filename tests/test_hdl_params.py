# amaranth: UnusedElaboratable=no
"""RTL parameters are validated at construction with the golden model's rules and messages."""

import pytest

from hdl.dot import DotProductCore, DotProductUnit, IntDotProductCore
from hdl.macs import DecompressionFreeMAC, IntMAC
from hdl.parts import BarrelShifter, SplitAccumulator
from hdl.sdr_decoder import SDRDecoder
from hdl.sdr_encoder import SDREncoder


@pytest.mark.parametrize("make, exc, msg", [
    (lambda: SDREncoder(group_size=256), ValueError, r"group_size must be in \[1, 128\], not 256"),
    (lambda: SDREncoder(group_size=12), ValueError, r"group_size must be a power of two in \[1, 128\], not 12"),
    (lambda: SDREncoder(base_bits=17), ValueError, r"base_bits must be in \[3, 16\], not 17"),
    (lambda: SDREncoder(base_bits=6, kept_bits=8), ValueError, r"kept_bits must be at most base_bits=6, not 8"),
    (lambda: SDRDecoder(kept_bits=1), ValueError, r"kept_bits must be in \[2, 8\], not 1"),
    (lambda: DecompressionFreeMAC(w_base=8, w_kept=9), ValueError,
     r"operand w \(w_base, w_kept\): kept_bits must be in \[2, 8\], not 9"),
    (lambda: DecompressionFreeMAC(a_kept="4"), TypeError,
     r"operand a \(a_base, a_kept\): kept_bits must be an integer"),
    (lambda: DecompressionFreeMAC(acc_width=65), ValueError, r"acc_width must be in \[2, 64\], not 65"),
    (lambda: IntMAC(a_bits=1), ValueError, r"a_bits must be in \[2, 32\], not 1"),
    (lambda: BarrelShifter(0, 4), ValueError, r"width must be in \[1, 64\], not 0"),
    (lambda: DotProductUnit(a_kept=8, dsp_pairs=True), ValueError,
     r"dsp_pairs: a lane pair needs 20 x 16-bit products for A16K8 x W8K4, more than an 18 x 18 DSP block"),
    (lambda: DotProductUnit(lanes=16, group_size=1, dsp_pairs=True), ValueError,
     r"dsp_pairs needs at least 2 lanes per group, not 1 \(lanes=16, group_size=1\)"),
    (lambda: DotProductUnit(dsp_pairs=1), TypeError, r"dsp_pairs must be True or False, not 1"),
    (lambda: SplitAccumulator(20, 32, split=32), ValueError, r"split must be in \[1, 31\], not 32"),
    (lambda: SplitAccumulator(20, 32, reset="no"), TypeError, r"reset must be True or False, not 'no'"),
    (lambda: DotProductCore(acc_split=40), ValueError, r"acc_split must be in \[1, 31\], not 40"),
    (lambda: DotProductCore(retime="yes"), TypeError, r"retime must be True or False, not 'yes'"),
    (lambda: DotProductCore(lanes=16, group_size=1, retime=True), ValueError,
     r"retime splits each group's tree in two halves: it needs at least 2 tree inputs per group, not 1"),
    (lambda: DotProductCore(reset_data=False), ValueError, r"reset_data=False needs a SplitAccumulator"),
    (lambda: IntDotProductCore(style="merged", retime=True), ValueError,
     r"retime splits the adder tree in two halves: it needs style='tree'"),
])
def test_bad_parameters(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_widths_follow_the_format():
    mac = DecompressionFreeMAC(a_base=16, a_kept=4, w_base=8, w_kept=4)
    assert (mac.a_max_flag, mac.w_max_flag, mac.latency) == (12, 4, 2)
    assert len(mac.fa) == 4 and len(mac.fw) == 3 and len(mac.a.as_value()) == 4
    enc = SDREncoder(group_size=8, base_bits=8, kept_bits=4, pipeline=True)
    assert enc.latency == 1 and len(enc.flag) == 4 and len(enc.x.as_value()) == 64
    for unit in (mac, enc):
        unit._MustUse__silence = True   # constructed for their signatures only


@pytest.mark.parametrize("value", ["no", 2, None, 0.5])
def test_pipeline_is_a_bool(value):
    from hdl.dmq import DMQEncoder
    from hdl.sdr_encoder import SDREncoder
    for comp in (SDREncoder, DMQEncoder):
        with pytest.raises(TypeError, match=f"pipeline must be True or False, not {value!r}"):
            comp(pipeline=value)
