"""The real LLM under the golden model: the fake-quantized forward equals the golden model's integer
arithmetic on real tensors; a quick perplexity subset; trace capture writes a file the loader accepts."""

import numpy as np
import pytest

import golden
from golden import quant, sdr
from llmstudy import llm, traces

torch = pytest.importorskip("torch", reason="the llm extra (scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def qm_tok():
    model, tok, _ = llm.load_model()
    qm = llm.QuantizedModel(model)
    qm.calibrate(llm.text_windows(tok, "calibration", 256, 2))
    return qm, tok


def _capture_linear_io(qm, ids, layer, name):
    """Float input and output of one linear layer during a forward pass under ``qm.scheme``."""
    lin = getattr(qm.layers[layer].self_attn if name in ("q_proj", "k_proj", "v_proj", "o_proj")
                  else qm.layers[layer].mlp, name)
    seen = {}
    inner = lin.forward

    def spy(x):
        y = inner(x)
        seen.setdefault("x", x.detach().clone())
        seen.setdefault("y", y.detach().clone())
        return y
    lin.forward = spy
    try:
        qm.forward_logits(ids[None, :])
    finally:
        lin.forward = inner
    return seen["x"][0].double().numpy(), seen["y"][0].double().numpy(), lin.weight.detach().double().numpy()


@pytest.mark.parametrize("layer,name,g", [(0, "q_proj", 16), (7, "down_proj", 32), (29, "o_proj", 128)])
def test_forward_equals_golden_integer_gemm(qm_tok, layer, name, g):
    """W4A4: the layer's output is the golden decompression-free GEMM of the razored operands, rescaled."""
    qm, tok = qm_tok
    ids = llm.text_windows(tok, "evaluation", 64, 1)[0]
    qm.scheme = llm.scheme(f"W4A4 g{g}")
    try:
        x, y, w = _capture_linear_io(qm, ids, layer, name)
    finally:
        qm.scheme = llm.SCHEMES["float"]
    s_a = qm.act_scale(layer, llm.SITE[name])
    s_w = quant.absmax_scale(w, 8, channel_axis=0)
    a_int = quant.quantize(x, s_a, 16)
    w_int = quant.quantize(w, s_w, 8, channel_axis=0)
    k = x.shape[-1]
    pad = (-k) % g                               # a short last group: zero padding keeps its flag
    a_c = golden.compress(np.pad(a_int, ((0, 0), (0, pad))), golden.A16_K4.with_group(g), axis=1)
    w_c = golden.compress(np.pad(w_int, ((0, 0), (0, pad))), golden.W8_K4.with_group(g), axis=1)
    acc = golden.gemm_dfree(a_c, w_c)            # the RTL's arithmetic: 4x4 products shifted by the flags
    assert np.abs(acc).max() < 2 ** 31          # no wrap at these sizes, so the integer result is exact
    expect = acc.astype(np.float64) * s_a * s_w[None, :]
    assert np.abs(expect).max() > 0
    np.testing.assert_allclose(y, expect, rtol=2e-5, atol=2e-5 * np.abs(expect).max())
    # and the activation the layer used is exactly decompress(compress(quantize(x))) * scale
    fq = llm.fq_act(x, s_a, llm.scheme(f"W4A4 g{g}"))
    np.testing.assert_array_equal(fq, sdr.razor(a_int, golden.A16_K4.with_group(g)) * s_a)


def test_kv4_quantizes_post_rope_qkv_per_head(qm_tok):
    qm, tok = qm_tok
    ids = llm.text_windows(tok, "evaluation", 64, 1)[0]
    got = qm.capture(ids, [3])
    q = got["layer03.query"][0]
    assert q.dtype == np.int8 and q.shape == (9, 64, 64)
    assert got["layer03.key"][0].shape == (3, 64, 64)
    # per-head scales from calibration: every head reaches a large code somewhere, none exceeds 127
    assert np.abs(q).max() <= 127 and (np.abs(q).max(axis=(1, 2)) > 16).all()


def test_quick_perplexity_subset(qm_tok):
    qm, tok = qm_tok
    ev = llm.text_windows(tok, "evaluation", 256, 1)
    ppl = {s: llm.perplexity(qm, ev, llm.scheme(s)) for s in ("float", "W8A16KV8", "W4A4 g16", "W4A8 g16",
                                                                "W4A4 g128")}
    assert all(np.isfinite(v) and v > 1 for v in ppl.values()), ppl
    assert abs(ppl["W8A16KV8"] / ppl["float"] - 1) < 0.05, ppl    # the base precision is nearly lossless
    assert ppl["W4A8 g16"] < ppl["W4A4 g16"] < ppl["W4A4 g128"], ppl
    # W4A8 g16 above reused W4A4 g16's cached weights; recomputed from scratch it gives the same number
    assert llm.perplexity(qm, ev, llm.scheme("W4A8 g16")) == ppl["W4A8 g16"]


def test_weight_config_groups_schemes_that_share_weights():
    cfg = lambda name: llm.weight_config(llm.scheme(name))          # noqa: E731
    assert cfg("W4A4 g16") == cfg("W4A8 g16") == cfg("W4A16 g16") == cfg("W4A4KV4 g16") != cfg("W4A4 g32")
    assert cfg("W8A16") == cfg("W8A8") == cfg("W8A4 g8") == cfg("W8A4 g128") != cfg("float")
    assert cfg("DMQ W4A4 g16") != cfg("W4A4 g16") != cfg("RTN W4A4 g16")


def test_capture_roundtrip(qm_tok, tmp_path):
    qm, tok = qm_tok
    ids = llm.text_windows(tok, "evaluation", 32, 1)[0]
    got = qm.capture(ids, [1])
    ts = traces.TraceSet({"model": "test"})
    for key, (data, scale, gran) in got.items():
        ts.tensors[key] = traces.make_tensor(key, data, scale, gran)
    path = traces.save(tmp_path / "t.npz", ts)
    back = traces.load(path, expect={"model": "test"})
    assert sorted(back.tensors) == sorted(got)
    assert len(back.select(kind="weight")) == 7 and len(back.select(kind="input")) == 4
    x = back.tensors["layer01.attn_in.input"]
    assert x.data.dtype == np.int16 and x.data.shape == (32, 576) and np.abs(x.data).max() > 1000


def test_scheme_errors():
    with pytest.raises(ValueError, match="unknown scheme 'W3A3'"):
        llm.scheme("W3A3")
    with pytest.raises(ValueError, match="needs a group size"):
        llm.Scheme("x", "w4", "a4")
    with pytest.raises(ValueError, match="weights must be one of"):
        llm.Scheme("x", "w5")


def test_model_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        llm.load_model(tmp_path / "nope.gguf")
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .gguf file"):
        llm.load_model(bad)


def test_too_few_tokens_is_a_text_error(qm_tok):
    _, tok = qm_tok
    with pytest.raises(llm.TextError, match=r"the text has \d+ tokens, 1000 needed for 2 windows of 500"):
        llm.token_windows(tok, "A short text.", 500, 2)
