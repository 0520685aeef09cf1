# amaranth: UnusedElaboratable=no
"""The GEMM tile: its golden model (``golden.tile``) against ``gemm_dfree`` and a plain integer matmul, its errors,
and the RTL (``hdl.tile.GemmTile``) in-process with amaranth.sim against that golden model, at full rate and with
random ``valid``/``ready`` gaps on every port (nothing lost, nothing duplicated, no protocol violation)."""

import dataclasses

import numpy as np
import pytest

import golden as G
from hdl import insim
from hdl.catalog import A4, A8, W4, gemm_tile_unit, get, units
from hdl.tile import GemmTile

STREAM_UNITS = [u.name for u in units(protocol="stream")]
# the real-trace run of the 8 x 8 tiles (the 4 x 4 tiles' generator at four times the size, 30-35 s each here) is
# left to make test-full; make test checks them on corner, synthetic and stalled streams
REAL_TRACE_UNITS = [pytest.param(u.name, marks=pytest.mark.slow) if u.params["rows"] * u.params["cols"] > 16
                    else u.name for u in units(protocol="stream")]


def _sdr(rng, rows, k, fmt):
    return G.compress(rng.integers(-(1 << (fmt.base_bits - 1)), 1 << (fmt.base_bits - 1), (rows, k)), fmt, axis=1)


@pytest.mark.parametrize("lanes,g", [(4, 16), (8, 8), (16, 16), (16, 4), (32, 8), (8, 128), (16, 64)])
@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (4, 4)])
def test_tile_golden_equals_gemm(lanes, g, rows, cols):
    """Every job of a whole GEMM, cut into beats and run through the tile's model, equals gemm_dfree and the
    decompress-then-multiply reference (groups spanning several beats, and several groups per beat)."""
    rng = np.random.default_rng(lanes * 1000 + g + rows)
    k = int(np.lcm(lanes, g)) * 3
    a = _sdr(rng, 2 * rows, k, G.SDRFormat(16, 4, g))
    w = _sdr(rng, 3 * cols, k, G.SDRFormat(8, 4, g))
    ab, wb, jobs = G.job_beats(a, w, rows, cols, lanes)
    assert len(jobs) == 6 and len(ab["last"]) == 6 * k // lanes
    y = G.tile_golden(ab, wb, a.fmt, w.fmt)
    assert y["acc"].shape == (6 * rows, cols) and y["last"].sum() == 6
    got = G.blocks_to_matrix(y["acc"], jobs, rows, cols, (2 * rows, 3 * cols))
    np.testing.assert_array_equal(got, G.gemm_dfree(a, w))
    np.testing.assert_array_equal(got, G.gemm_reference(a, w))


def test_tile_golden_job_order_and_wrap():
    """Jobs in any order give the same blocks; sums wrap to the accumulator width like gemm_dfree."""
    rng = np.random.default_rng(5)
    fa, fw = G.SDRFormat(16, 4, 16), G.SDRFormat(8, 4, 16)
    a = G.SDRTensor(np.full((4, 256), 7), np.full((4, 16), fa.max_flag), fa, 1)
    w = G.SDRTensor(np.full((4, 256), -7), np.full((4, 16), fw.max_flag), fw, 1)
    jobs = [(1, 0), (0, 1), (1, 1), (0, 0)]
    ab, wb, jobs = G.job_beats(a, w, 2, 2, 16, jobs)
    got = G.blocks_to_matrix(G.tile_golden(ab, wb, fa, fw)["acc"], jobs, 2, 2, (4, 4))
    np.testing.assert_array_equal(got, G.gemm_dfree(a, w))
    assert (got == G.mac.wrap(-49 * 256 << (fa.max_flag + fw.max_flag))).all()
    a2 = _sdr(rng, 4, 64, fa)
    w2 = _sdr(rng, 4, 64, fw)
    ab, wb, jobs = G.job_beats(a2, w2, 2, 2, 16, [(1, 1), (0, 0)])
    y = G.tile_golden(ab, wb, fa, fw, acc_width=12)
    np.testing.assert_array_equal(G.blocks_to_matrix(y["acc"], jobs, 2, 2, (4, 4))[2:, 2:],
                                  G.gemm_dfree(a2, w2, acc_width=12)[2:, 2:])


def test_tile_golden_beats_after_the_last_job_give_nothing():
    fa, fw = G.SDRFormat(16, 4, 16), G.SDRFormat(8, 4, 16)
    rng = np.random.default_rng(1)
    ab, wb, _ = G.job_beats(_sdr(rng, 2, 32, fa), _sdr(rng, 2, 32, fw), 2, 2, 16)
    ab["last"] = ab["last"] * 0
    y = G.tile_golden(ab, wb, fa, fw)
    assert y["acc"].shape == (0, 2) and y["last"].shape == (0,)


def test_tile_golden_errors():
    rng = np.random.default_rng(2)
    fa, fw = G.SDRFormat(16, 4, 16), G.SDRFormat(8, 4, 16)
    a, w = _sdr(rng, 4, 64, fa), _sdr(rng, 4, 64, fw)
    with pytest.raises(G.JobError, match="a has 4 rows, not a multiple of the tile's 3"):
        G.job_beats(a, w, 3, 2, 16)
    with pytest.raises(G.JobError, match="K=64 is not a multiple of the tile's 128 lanes"):
        G.job_beats(a, w, 2, 2, 128)
    with pytest.raises(G.JobError, match="reduction lengths differ"):
        G.job_beats(a, _sdr(rng, 4, 32, fw), 2, 2, 16)
    with pytest.raises(G.JobError, match="group sizes differ"):
        G.job_beats(a, _sdr(rng, 4, 64, G.SDRFormat(8, 4, 32)), 2, 2, 16)
    with pytest.raises(G.JobError, match=r"job blocks must lie in \[0, 2\) x \[0, 2\)"):
        G.job_beats(a, w, 2, 2, 16, [(0, 2)])
    with pytest.raises(TypeError, match="a must be an SDRTensor, not ndarray"):
        G.job_beats(a.codes, w, 2, 2, 16)
    with pytest.raises(ValueError, match=r"rows must be in \[1, 64\], not 0"):
        G.job_beats(a, w, 0, 2, 16)
    ab, wb, _ = G.job_beats(a, w, 2, 2, 16)
    with pytest.raises(G.JobError, match="beat streams disagree"):
        G.tile_golden(ab, dict(wb, codes=wb["codes"][:-1]), fa, fw)
    with pytest.raises(G.JobError, match=r"last must be 0 or 1, got values \[1, 2\]"):
        G.tile_golden(dict(ab, last=ab["last"] * 2 + (ab["last"] == 0)), wb, fa, fw)
    with pytest.raises(ValueError, match="codes"):
        G.tile_golden(dict(ab, codes=ab["codes"] * 3), wb, fa, fw)


# ---------------------------------------------------------------- RTL, in-process

def _small(name, rows, cols, lanes, g, fa=A4, fw=W4, depth=2, **pe):
    u = gemm_tile_unit(name, rows, cols, lanes, g, fa, fw, name, name, depth=depth)
    return dataclasses.replace(u, params={**u.params, **pe}) if pe else u


# the processing elements as first built: one accumulator adder, no retiming, every register reset
CLASSIC = dict(acc_split=0, retime=False, reset_data=True)

SMALL = {
    "2x3 L8 g8 W4A4": _small("t_2x3_l8_g8", 2, 3, 8, 8),
    "2x2 L4 g16 W4A8": _small("t_2x2_l4_g16", 2, 2, 4, 16, fa=A8),
    "3x2 L8 g4 W4A4 depth 1": _small("t_3x2_l8_g4", 3, 2, 8, 4, depth=1),
    "2x2 L8 g4 W4A4 classic PE": _small("t_2x2_l8_g4c", 2, 2, 8, 4, **CLASSIC),
    "2x2 L8 g8 W4A4 acc in 3-bit parts": _small("t_2x2_l8_g8s", 2, 2, 8, 8, acc_split=3),
}


@pytest.mark.parametrize("key", list(SMALL))
@pytest.mark.parametrize("p_valid,p_ready", [(1.0, 1.0), (0.6, 0.5), (0.9, 0.2)])
def test_small_tile_matches_golden(key, p_valid, p_ready):
    u = SMALL[key]
    beats = u.vectors(300, seed=4)
    r = insim.check_stream(u, beats, seed=7, p_valid=p_valid, p_ready=p_ready)
    assert r.ok, f"{key}: {r}"
    assert r.checked == len(u.expect(beats)["y"]["last"]) > 30


def test_small_tile_full_rate():
    """With both inputs always valid and the output always ready the tile takes a beat every cycle: a job of
    T >= R beats does not wait for the result buffer (depth 2)."""
    from golden.streams import SyntheticSource
    u = SMALL["2x3 L8 g8 W4A4"]
    beats = u.stimulus(SyntheticSource(), 400, seed=5)          # jobs of 8..64 beats
    n = len(beats["a"]["last"])
    r = insim.check_stream(u, beats, drain=8)
    assert r.ok, str(r)
    assert n + 8 < r.cycles <= n + 8 + GemmTile.pipeline + 2 * u.params["rows"]


@pytest.mark.parametrize("name", STREAM_UNITS)
def test_registered_tile_matches_golden(name):
    u = get(name)
    beats = u.vectors(200, seed=1)
    r = insim.check_stream(u, beats, seed=3, p_valid=0.7, p_ready=0.6)
    assert r.ok, f"{name}: {r}"


@pytest.mark.trace
@pytest.mark.parametrize("name", REAL_TRACE_UNITS)
def test_registered_tile_on_real_trace(name, trace_set):
    u = get(name)
    r = insim.check_stream(u, u.stimulus(trace_set, 300, seed=11), seed=4, p_valid=0.8, p_ready=0.8)
    assert r.ok, f"{name}: {r}"


def test_a_wrong_tile_golden_value_is_counted():
    u = SMALL["2x3 L8 g8 W4A4"]

    def corrupt(b, golden=u.golden):
        out = golden(b)
        acc = out["y"]["acc"].copy()
        acc[4, 1] ^= 1
        return {"y": dict(out["y"], acc=acc)}
    r = insim.check_stream(dataclasses.replace(u, golden=corrupt), u.vectors(50, seed=2))
    assert not r.ok and r.count == 1 and r.first[0][0] == 4 and r.lost == r.extra == 0


def test_a_dropped_beat_is_lost():
    """A golden model that expects one more output beat than the RTL sends: counted as lost, not passed."""
    u = SMALL["2x3 L8 g8 W4A4"]

    def more(b, golden=u.golden):
        y = golden(b)["y"]
        return {"y": {k: np.concatenate([v, v[-1:]]) for k, v in y.items()}}
    r = insim.check_stream(dataclasses.replace(u, golden=more), u.vectors(50, seed=2), patience=200)
    assert not r.ok and r.lost == 1 and r.count == 0


def test_stream_activity_is_per_payload_bit():
    """Switching activity of a stream unit (synth): one rate per payload bit, equal to the toggles of the packed
    payload words beat after beat; valid and ready held (rate 0)."""
    from golden.streams import SyntheticSource
    from synth.activity import activity
    u = SMALL["2x2 L4 g16 W4A8"]
    act = activity(u, SyntheticSource(), cycles=300)
    beats = u.stimulus(SyntheticSource(), 300, 0)
    for st in (s for s in u.streams if s.is_input):
        words = st.pack(beats[st.name])
        for i in range(st.width):
            bits = np.array([(x >> i) & 1 for x in words])
            assert act[f"{st.name}__payload[{i}]"] == pytest.approx(np.mean(bits[1:] != bits[:-1]))
        assert act[f"{st.name}__valid"] == 0
    assert act["y__ready"] == 0 and len(act) == sum(p.width for p in u.inputs)


@pytest.mark.parametrize("split", [1, 3, 11, 16, 31])
@pytest.mark.parametrize("reset", [True, False])
def test_split_accumulator_equals_accumulator(split, reset):
    """``SplitAccumulator`` shows ``Accumulator``'s sum every cycle: random signed products over the whole width
    (the 32-bit sum wraps many times), random ``en`` and ``load``; without reset, from the first ``load`` on."""
    from amaranth import Module
    from amaranth.sim import Simulator

    from hdl.parts import Accumulator, SplitAccumulator
    rng = np.random.default_rng(split)
    ref, dut = Accumulator(27, 32), SplitAccumulator(27, 32, split=split, reset=reset)
    m = Module()
    m.submodules.ref, m.submodules.dut = ref, dut
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = {"checked": 0, "bad": 0}

    async def bench(ctx):
        loaded = reset
        for i in range(800):
            p, en, load = int(rng.integers(-(1 << 26), 1 << 26)), int(rng.random() < 0.8), int(rng.random() < 0.1)
            if i == 3:
                en, load = 1, 1
            for x in (ref, dut):
                ctx.set(x.product, p)
                ctx.set(x.en, en)
                ctx.set(x.load, load)
            await ctx.tick()
            loaded = loaded or (en and load)
            if loaded:
                seen["checked"] += 1
                seen["bad"] += ctx.get(ref.acc) != ctx.get(dut.acc)
    sim.add_testbench(bench)
    sim.run()
    assert seen["checked"] > 700 and seen["bad"] == 0, seen

