"""The model on the hardware: every quantized GEMM of a real forward pass computed as the RTL computes it.

Integer mode (``IntegerPath``), for QRazor schemes (``w4`` weights, ``a4``/``a8`` activations, ``kv4`` or float
Q/K/V) and for the INT 8x8 baseline (``W8A8`` and ``W8A8KV8``: W8 weights, the A16 integers narrowed to 8 bits,
KV8 queries and keys, on ``hdl.tile.IntGemmTile``):

* the seven linear layers of every decoder layer: the input's A16 integers (static per-tensor scale) razored to
  ``a_kept`` bits and the weight's W8 integers (per output channel) razored to 4 bits, both grouped along K, then
  ``wrap(decompress(A) @ decompress(W)^T, acc_width)`` -- the tile's integer result (``golden.gemm_exact``, equal
  to ``golden.gemm_dfree``) -- times the row and column scales afterwards (float64, then float32);
* Q x K^T for ``kv4`` schemes: each query head's KV8 integers (per-head scale) against its key head's, razored to
  4 bits in groups of ``min(g, head_dim)``, the same way, times both scales and the attention scaling; the causal
  mask and the softmax follow in float64;
* P x V stays as the study has it: the softmax output (float) times the razored, dequantized values (float64).

Embeddings, norms, rotary embedding, SiLU, softmax and ``lm_head`` stay in float, as in ``llmstudy.llm``.

The RTL path (``RTLBackend``) sends the very same compressed operands to the Verilated tile (``hdl.native``), uses
the tile's results downstream, and compares every output with the integer golden path (counted). Jobs run on any
``concurrent.futures.Executor`` (processes by default, a Dask ``Client``'s executor for a cluster); every GEMM's
results are cached by a hash of the harness (tile Verilog, configuration, harness, Verilator) and the operands, so a
killed run resumes where it stopped and a result is never reused for other weights, scheme or tile.
"""

import argparse
import concurrent.futures as cf
import hashlib
import json
import math
import os
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import golden as G
from golden import quant

from . import llm, settings
from .llm import LINEARS, SCHEMES, _back, _np
from .traces import SITE

__all__ = ["IntegerPath", "RTLBackend", "KINDS", "EXTRA_SCHEMES", "find_scheme", "run", "main", "cost"]

KINDS = LINEARS + ("qk",)
DEFAULT_SCHEME, DEFAULT_TILE = "W4A4KV4 g16", "tile4x4_w4a4"
# the INT 8x8 baseline with its Q x K^T on KV8 integers (not in the accuracy sweep's list)
EXTRA_SCHEMES = {"W8A8KV8": llm.Scheme("W8A8KV8", "w8", "i8", "kv8")}


def find_scheme(name):
    """A scheme of ``llm.SCHEMES`` or of ``EXTRA_SCHEMES`` by name."""
    return EXTRA_SCHEMES[name] if name in EXTRA_SCHEMES else llm.scheme(name)


def _codes(t):
    return t.codes if isinstance(t, G.SDRTensor) else t


def _exact(a, w):
    """Exact int64 sums of ``a @ w^T``: ``gemm_exact`` for SDR operands, ``matmul_exact`` for plain integers."""
    return G.gemm_exact(a, w) if isinstance(a, G.SDRTensor) else G.matmul_exact(a, w)


@dataclass
class KindStats:
    """One GEMM kind over a run: integer golden path, then (with the RTL) the tile's counts."""
    gemms: int = 0
    macs: int = 0
    outputs: int = 0
    max_abs: int = 0                 # largest |exact sum| before the accumulator wraps
    wraps: int = 0                   # outputs whose exact sum does not fit acc_width bits
    rtl_checked: int = 0
    mismatches: int = 0
    cached: int = 0                  # GEMMs whose RTL results came from the cache
    cycles: int = 0
    beats: int = 0
    stalls: int = 0
    out_beats: int = 0
    protocol: int = 0
    cpu_ns: int = 0
    fake_max_rel: float = 0.0       # largest |fake - integer| / max|integer| of one call, on the same inputs


@dataclass
class Pending:
    problems: list
    keys: list
    results: dict = field(default_factory=dict)   # problem index -> (y, stats, cached)
    futures: list = field(default_factory=list)   # (future, [(problem index, piece)])


_TILES = {}


def _native_tile(unit, build_root=None):
    """``hdl.native.NativeTile`` once per process and tile (exporting the tile's Verilog takes seconds)."""
    from hdl.native import NativeTile
    key = (unit, build_root)
    if key not in _TILES:
        _TILES[key] = NativeTile(unit, **({"build_root": build_root} if build_root else {}))
    return _TILES[key]


class RTLBackend:
    """The Verilated tile ``unit`` (a registered tile's name), its jobs on ``executor`` (default: a process pool
    of ``workers`` threads, the machine's cores, each feeding one harness process), results cached under ``cache``."""

    def __init__(self, unit=DEFAULT_TILE, executor=None, workers=None, cache=None, p_valid=1.0, p_ready=1.0,
                 seed=0, build_root=None):
        self.tile = _native_tile(unit, build_root)
        self.workers = workers or os.cpu_count() or 1
        self._own = executor is None
        # The simulation runs in harness processes (one per job); the default executor's threads only feed them
        # and wait, so no Python worker process (and no fork of a process holding torch's threads) is needed.
        self.executor = executor or cf.ThreadPoolExecutor(self.workers, thread_name_prefix="tile")
        self.cache = Path(cache) if cache else settings.build_dir("infer", "cache")
        self.p_valid, self.p_ready, self.seed = p_valid, p_ready, seed
        self.tile.encode([], p_valid, p_ready, seed)              # checks the probabilities
        self.corrupt = 0

    def close(self):
        if self._own:
            self.executor.shutdown()

    # -- cache ----------------------------------------------------------------------------------------------
    def _key(self, prob):
        h = hashlib.sha256(f"{self.tile.key}|{self.p_valid}|{self.p_ready}|{self.seed}|".encode())
        h.update(prob.digest().encode())
        return h.hexdigest()

    def _path(self, key):
        return self.cache / key[:2] / f"{key}.npz"

    def _load(self, key, prob):
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as f, np.load(f) as z:
                if str(z["key"]) != key:
                    raise ValueError(f"it holds the result of {str(z['key'])[:16]}")
                y = z["y"].astype(np.int64)
                stats = dict(zip(z["stat_names"].tolist(), z["stats"].tolist()))
            if y.shape != (prob.m, prob.n):
                raise ValueError(f"shape {y.shape}, expected {(prob.m, prob.n)}")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            print(f"infer: cache entry {path} is corrupt ({e}); computing it again", file=sys.stderr)
            path.unlink(missing_ok=True)
            self.corrupt += 1
            return None
        return y, stats

    def _store(self, key, y, stats):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        acc = self.tile.acc_width
        dtype = np.int32 if acc <= 32 else np.int64
        names = list(stats)
        settings.write_atomic(path, lambda p: np.savez(p, key=key, y=y.astype(dtype), stat_names=np.array(names),
                                                       stats=np.array([stats[k] for k in names], np.int64)))

    # -- jobs -----------------------------------------------------------------------------------------------
    def submit(self, pairs):
        """Start the GEMMs ``[(a SDRTensor, w SDRTensor)]``; ``collect`` returns their results."""
        from hdl.native import run_problems
        probs = [self.tile.problem(a, w) for a, w in pairs]
        pend = Pending(probs, [self._key(p) for p in probs])
        todo = []
        for i, (p, k) in enumerate(zip(probs, pend.keys)):
            hit = self._load(k, p)
            if hit is not None:
                pend.results[i] = (*hit, True)
            else:
                todo.append(i)
        if not todo:
            return pend
        parts = max(1, math.ceil(self.workers / len(todo)))
        pieces = [(i, q) for i in todo for q in self.tile.split(probs[i], parts)]
        bins = [[] for _ in range(min(self.workers, len(pieces)))]
        load = [0] * len(bins)
        for i, q in sorted(pieces, key=lambda x: -x[1].a_codes.size * x[1].w_codes.shape[0]):
            b = load.index(min(load))
            bins[b].append((i, q))
            load[b] += q.a_codes.size * q.w_codes.shape[0]
        for b in bins:
            data = self.tile.encode([q for _, q in b], self.p_valid, self.p_ready, self.seed)
            pend.futures.append((self.executor.submit(run_problems, str(self.tile.binary), data), b))
        return pend

    def collect(self, pend):
        """``[(y, stats, cached)]`` of a ``submit``, in order (a piece's rows land where they came from)."""
        from hdl.native import decode
        parts = {}
        for fut, b in pend.futures:
            try:
                out = fut.result()
            except cf.BrokenExecutor as e:
                raise RuntimeError(f"a simulation worker died ({e}); run again: every finished GEMM comes from "
                                   f"the cache") from None
            for (i, q), (y, st) in zip(b, decode(out, [q for _, q in b])):
                parts.setdefault(i, []).append((q, y, st))
        for i, got in parts.items():
            prob = pend.problems[i]
            y = np.zeros((prob.a_codes.shape[0], prob.n), np.int64)
            stats = dict.fromkeys(got[0][2], 0)
            row = 0
            for q, yq, st in got:                          # pieces of one problem come back in row order
                y[row:row + yq.shape[0]] = yq
                row += q.a_codes.shape[0]
                for k, v in st.items():
                    stats[k] += v
            y = y[:prob.m]
            self._store(pend.keys[i], y, stats)
            pend.results[i] = (y, stats, False)
        return [pend.results[i] for i in range(len(pend.problems))]


class IntegerPath:
    """Every quantized GEMM of ``scheme`` as the hardware computes it (module docstring); ``rtl``: an
    ``RTLBackend`` whose results are used downstream and checked against the golden integers."""

    def __init__(self, scheme, acc_width=G.ACC_WIDTH, rtl=None, compare_fake=False):
        sch = find_scheme(scheme) if isinstance(scheme, str) else scheme
        self.sdr = sch.weights == "w4" and sch.acts in ("a4", "a8") and sch.kv in ("float", "kv4")
        if not self.sdr and not (sch.weights == "w8" and sch.acts == "i8" and sch.kv in ("float", "kv8")):
            raise ValueError(f"integer inference runs QRazor schemes (weights w4, activations a4 or a8, Q/K/V float "
                             f"or kv4) and the INT 8x8 baseline (W8A8, W8A8KV8), not {sch.name!r} ({sch.weights}, "
                             f"{sch.acts}, {sch.kv})")
        self.scheme, self.acc_width, self.rtl, self.compare_fake = sch, acc_width, rtl, compare_fake
        if self.sdr:
            self.fmt_a = (G.A16_K4 if sch.acts == "a4" else G.A16_K8).with_group(sch.group)
            self.fmt_w = G.W8_K4.with_group(sch.group)
        self.stats = {k: KindStats() for k in KINDS}
        self.layer_cycles = {}                    # (layer, kind) -> tile cycles
        self._weights = {}
        self.on_gemm = None                       # callback(kind, layer) after each GEMM (progress)

    # -- one GEMM call: golden integers, and the RTL's results when there is an RTL -----------------------
    def gemm(self, kind, layer, pairs):
        pend = self.rtl.submit(pairs) if self.rtl else None      # the tile works while the golden path runs
        st = self.stats[kind]
        golden = []
        for a, w in pairs:
            exact = _exact(a, w)
            y = G.wrap(exact, self.acc_width)
            st.gemms += 1
            st.macs += _codes(a).size * _codes(w).shape[0]
            st.outputs += y.size
            st.max_abs = max(st.max_abs, int(np.abs(exact).max(initial=0)))
            st.wraps += int((y != exact).sum())
            golden.append(y)
        if pend is None:
            out = golden
        else:
            out = []
            for y, (r, rs, cached) in zip(golden, self.rtl.collect(pend)):
                st.rtl_checked += r.size
                st.mismatches += int((r != y).sum())
                st.cached += int(cached)
                for k in ("cycles", "beats", "stalls", "out_beats", "protocol", "cpu_ns"):
                    setattr(st, k, getattr(st, k) + int(rs[k]))
                self.layer_cycles[(layer, kind)] = self.layer_cycles.get((layer, kind), 0) + int(rs["cycles"])
                out.append(r)
        if self.on_gemm:
            self.on_gemm(kind, layer)
        return out

    # -- hooks called by llm.QuantizedModel -----------------------------------------------------------------
    def weight(self, li, name, w):
        key = (li, name)
        if key not in self._weights:
            wf = _np(w)
            s = quant.absmax_scale(wf, llm.W_BITS, channel_axis=0)
            q = quant.quantize(wf, s, llm.W_BITS, channel_axis=0)
            self._weights[key] = (G.compress(q, self.fmt_w, axis=1) if self.sdr else q.astype(np.int64),
                                  np.asarray(s, np.float64).reshape(-1))
        return self._weights[key]

    def linear(self, qm, li, name, x, weight):
        xs = _np(x)
        x2 = xs.reshape(-1, xs.shape[-1])
        s_a = float(qm.act_scale(li, SITE[name]))
        qa = quant.quantize(x2, s_a, llm.A_BITS)
        if self.sdr:
            a = G.compress(qa, self.fmt_a, axis=1)
        else:                              # the INT 8x8 unit's view: the A16 integers' top 8 bits
            a, s_a = quant.narrow(qa, llm.A_BITS, 8), s_a * (1 << (llm.A_BITS - 8))
        w, s_w = self.weight(li, name, weight)
        (y,) = self.gemm(name, li, [(a, w)])
        out = y.astype(np.float64) * (s_a * s_w[None, :])
        if self.compare_fake:              # the fake-quantized layer on the very same input: float32 rounding only
            import torch
            fake = torch.nn.functional.linear(qm._act(li, SITE[name], x), qm._weight(li, name, weight))
            self._compare(name, _np(fake).reshape(out.shape), out)
        return _back(out.reshape(*xs.shape[:-1], -1), x)

    def _compare(self, kind, fake, exact):
        top = np.abs(exact).max()
        if top > 0:
            st = self.stats[kind]
            st.fake_max_rel = max(st.fake_max_rel, float(np.abs(fake - exact).max() / top))

    def attention(self, qm, module, li, query, key, value, attention_mask, scaling=None, **kw):
        """Q x K^T as integers (razored for ``kv4``, KV8 for ``kv8``), then mask, softmax and P x V."""
        q, k = _np(query), _np(key)
        b, heads, t, d = q.shape
        kv_heads = k.shape[1]
        sq, sk = (np.asarray(qm.kv_scale(li, kind), np.float64).reshape(-1) for kind in ("query", "key"))
        qi = quant.quantize(q, sq, llm.KV_BITS, channel_axis=1)
        ki = quant.quantize(k, sk, llm.KV_BITS, channel_axis=1)
        rep = heads // kv_heads
        if self.sdr:
            fmt = G.KV8_K4.with_group(min(self.scheme.group, d))

            def razor(x):
                return G.compress(x, fmt, axis=1)
        else:
            def razor(x):
                return np.asarray(x, np.int64)
        ck = {(i, h): razor(ki[i, h]) for i in range(b) for h in range(kv_heads)}
        pairs = [(razor(qi[i, h]), ck[(i, h // rep)]) for i in range(b) for h in range(heads)]
        ints = np.stack(self.gemm("qk", li, pairs)).reshape(b, heads, t, -1)
        scaling = 1 / math.sqrt(d) if scaling is None else scaling
        s = ints.astype(np.float64) * (sq[:, None, None] * np.repeat(sk, rep)[:, None, None]) * scaling
        if self.compare_fake:              # the fake path's scores: razored, dequantized float32 Q and K
            fq = llm.fq_qkv(q, qm.kv_scale(li, "query"), self.scheme).astype(np.float32)
            fk = np.repeat(llm.fq_qkv(k, qm.kv_scale(li, "key"), self.scheme).astype(np.float32), rep, axis=1)
            self._compare("qk", (fq @ fk.swapaxes(-1, -2)) * np.float32(scaling), s)
        kv_len = s.shape[-1]
        if attention_mask is None:
            s = np.where(np.tril(np.ones((t, kv_len), bool), kv_len - t), s, -np.inf)
        else:
            m = attention_mask.detach().cpu().numpy()[..., :kv_len]
            s = np.where(m, s, -np.inf) if m.dtype == bool else s + m.astype(np.float64)
        s = s - s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        v = llm.fq_qkv(_np(value), qm.kv_scale(li, "value"), self.scheme)      # P x V as the study has it
        out = p @ np.repeat(v, rep, axis=1)                                     # (b, heads, t, d)
        return _back(out.transpose(0, 2, 1, 3), query).contiguous(), None

    # -- summary --------------------------------------------------------------------------------------------
    def summary(self):
        out = {k: asdict(v) for k, v in self.stats.items() if v.gemms}
        for v in out.values():
            v["acc_bits_needed"] = int(v["max_abs"]).bit_length() + 1
        return out


_MODELS = {}


def _load_model(path=None):
    """``llm.load_model`` once per process (dequantizing the GGUF file takes about 30 s here); every run gets its
    own copy, which it may truncate and hook."""
    import copy
    key = str(path)
    if key not in _MODELS:
        _MODELS[key] = llm.load_model(path)
    model, tok, name = _MODELS[key]
    return copy.deepcopy(model), tok, name


def truncate_layers(model, layers):
    """Keep the first ``layers`` decoder layers of a Llama-style model (short runs, tests)."""
    total = len(model.model.layers)
    if not 1 <= layers <= total:
        raise ValueError(f"layers must be in [1, {total}] for this model, not {layers}")
    if layers < total:
        model.model.layers = model.model.layers[:layers]
        model.config.num_hidden_layers = layers
        if getattr(model.config, "layer_types", None):
            model.config.layer_types = model.config.layer_types[:layers]
    return model


def _evaluate(qm, windows, sch, path=None):
    """Per-window NLLs and perplexity of ``sch`` (fake-quantized, or through ``path`` when given)."""
    qm.integer = path
    try:
        nlls = []
        qm.scheme = sch
        for w in windows:
            nll, _ = qm.token_scores(w[None, :])
            nlls.append(nll[0])
    finally:
        qm.integer, qm.scheme = None, SCHEMES["float"]
    nll = np.stack(nlls)
    if not np.isfinite(nll).all():
        raise FloatingPointError(f"{sch.name}: the log-likelihood is not finite")
    return nll, math.exp(float(nll.mean()))


def run(scheme=DEFAULT_SCHEME, tile=DEFAULT_TILE, tokens=512, windows=1, layers=None, cal_windows=8, cal_len=512,
        rtl=True, executor=None, workers=None, acc_width=G.ACC_WIDTH, cache=None, progress=True, p_valid=1.0,
        p_ready=1.0, model_path=None):
    """Perplexity of ``scheme`` on ``windows`` evaluation windows of ``tokens`` tokens: fake-quantized, integer
    golden path and (``rtl``) the Verilated ``tile``; with the GEMM statistics and the tile's cycle counts."""
    from tqdm import tqdm
    sch = find_scheme(scheme) if isinstance(scheme, str) else scheme
    backend = None
    if rtl:                       # build (or find) the harness before the model loads: a missing tool fails fast
        backend = RTLBackend(tile, executor=executor, workers=workers, cache=cache, p_valid=p_valid,
                             p_ready=p_ready)
    t_start = time.perf_counter()
    try:
        if backend is not None:
            sdr = IntegerPath(sch).sdr
            if backend.tile.sdr != sdr:
                raise ValueError(f"tile {tile} is {'a QRazor' if backend.tile.sdr else 'an INT'} tile, scheme "
                                 f"{sch.name} needs {'a QRazor' if sdr else 'an INT'} one")
            if sdr and backend.tile.group != sch.group:
                raise ValueError(f"tile {tile} is built for g = {backend.tile.group}, scheme {sch.name} uses g = "
                                 f"{sch.group}")
            fa = backend.tile.unit.params.get("a_kept")
            if sdr and fa != (4 if sch.acts == "a4" else 8):
                raise ValueError(f"tile {tile} takes {fa}-bit activation codes, scheme {sch.name} makes "
                                 f"{4 if sch.acts == 'a4' else 8}-bit ones")
        model, tok, name = _load_model(model_path)
        n_layers = len(model.model.layers) if layers is None else layers
        truncate_layers(model, n_layers)
        qm = llm.QuantizedModel(model)
        cal = llm.text_windows(tok, "calibration", cal_len, cal_windows)
        ev = llm.text_windows(tok, "evaluation", tokens, windows)
        qm.calibrate(cal)
        res = {}
        nll_f, res["fake"] = _evaluate(qm, ev, sch)
        gold = IntegerPath(sch, acc_width, compare_fake=True)
        t0 = time.perf_counter()
        nll_g, res["golden"] = _evaluate(qm, ev, sch, gold)
        t_golden = time.perf_counter() - t0
        cfg = model.config
        out = dict(model=name, model_shape=dict(hidden=cfg.hidden_size, intermediate=cfg.intermediate_size,
                                                heads=cfg.num_attention_heads, kv_heads=cfg.num_key_value_heads,
                                                head_dim=getattr(cfg, "head_dim", None) or
                                                cfg.hidden_size // cfg.num_attention_heads),
                   scheme=sch.name, tokens=tokens, windows=windows, layers=n_layers,
                   calibration_tokens=int(cal.size), acc_width=acc_width, perplexity_fake=res["fake"],
                   perplexity_golden=res["golden"], golden_seconds=t_golden, golden=gold.summary(),
                   nll_max_abs_diff_fake_golden=float(np.abs(nll_f - nll_g).max()))
        if backend is not None:
            path = IntegerPath(sch, acc_width, backend)
            per_layer = 7 + (sch.kv != "float")
            bar = tqdm(total=n_layers * windows, desc=f"infer {tile}", unit="layer", disable=not progress,
                       mininterval=2.0, file=sys.stderr)

            def tick(kind, layer):
                if kind == "down_proj":
                    cyc = sum(s.cycles for s in path.stats.values())
                    bar.set_postfix_str(f"{cyc / 1e6:,.1f} M cycles")
                    bar.update(1)
            path.on_gemm = tick
            t0 = time.perf_counter()
            nll_r, res["rtl"] = _evaluate(qm, ev, sch, path)
            wall = time.perf_counter() - t0
            bar.close()
            summ = path.summary()
            cycles = sum(v["cycles"] for v in summ.values())
            cpu = sum(v["cpu_ns"] for v in summ.values()) / 1e9
            fresh = sum(v["gemms"] - v["cached"] for v in summ.values())
            out.update(tile=backend.tile.unit.name, tile_params=backend.tile.unit.params, perplexity_rtl=res["rtl"],
                       rtl=summ, rtl_seconds=wall, rtl_workers=backend.workers, p_valid=p_valid, p_ready=p_ready,
                       gemms_per_layer=per_layer, cycles=cycles, harness_cpu_seconds=cpu,
                       cycles_per_cpu_second=cycles / cpu if cpu else None, gemms_from_cache=sum(
                           v["cached"] for v in summ.values()), gemms_simulated=fresh,
                       cache_corrupt=backend.corrupt, mismatches=sum(v["mismatches"] for v in summ.values()),
                       checked=sum(v["rtl_checked"] for v in summ.values()),
                       nll_equal=bool(np.array_equal(nll_g, nll_r)),
                       layer_cycles={f"{li}.{k}": c for (li, k), c in sorted(path.layer_cycles.items())})
        # the fake path's own sensitivity to rounding: the same fake-quantized model computed in float64
        import torch
        torch.nn.Module.to(model, torch.float64)
        qm._wcache.clear()
        nll_64, out["perplexity_fake_float64"] = _evaluate(qm, ev, sch)
        out["nll_max_abs_diff_fake_float32_float64"] = float(np.abs(nll_f - nll_64).max())
        out["seconds"] = time.perf_counter() - t_start
        return out
    finally:
        if backend is not None:
            backend.close()


# ----------------------------------------------------------------------------------------------------------
# What a token costs

def tile_figures(tile, synth_report=None):
    """Area, f_max and power of ``tile`` from a synthesis report (``make synth`` / ``python -m synth --table
    tile``), or ``None`` when the report lacks it."""
    path = Path(synth_report) if synth_report else settings.build_dir("synth", "report.json")
    try:
        rep = json.loads(path.read_text())
        units = {u["name"]: u for u in rep["units"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    u = units.get(tile)
    if not u or not all(isinstance(u.get(k), (int, float)) for k in ("area_um2", "fmax_mhz", "power_mw")):
        return None
    timed = (u.get("gate_level_timed") or {}).get("power_mw")
    return dict(area_um2=u["area_um2"], fmax_mhz=u["fmax_mhz"], power_mw=timed or u["power_mw"],
                power_from="gate-level timed" if timed else "OpenSTA (real-trace activity)",
                clock_ns=rep.get("meta", {}).get("clock_ns"), report=str(path))


def cost(res, figures=None):
    """Cycles per token (per GEMM kind and in all), array utilization, and with the tile's synthesis figures
    tokens/s at f_max and the tile's energy per token."""
    tokens = res["tokens"] * res["windows"]
    rtl = res["rtl"]
    kinds = {k: dict(cycles_per_token=v["cycles"] / tokens, utilization=v["beats"] / v["cycles"] if v["cycles"] else 0,
                     stall_cycles=v["stalls"]) for k, v in rtl.items()}
    cyc = res["cycles"] / tokens
    out = dict(tokens=tokens, cycles_per_token=cyc, cycles_per_token_per_layer=cyc / res["layers"],
               utilization=sum(v["beats"] for v in rtl.values()) / res["cycles"], kinds=kinds)
    if figures:
        f = figures["fmax_mhz"] * 1e6
        out.update(figures, tokens_per_s=f / cyc,
                   # power at the report's clock, scaled to f_max (dynamic power is proportional to f)
                   energy_per_token_uj=figures["power_mw"] * 1e-3 * cyc * (figures["clock_ns"] or 10) * 1e-9 * 1e6)
    return out


def report_markdown(res):
    L = [f"# The model on the hardware: {res['scheme']} on {res.get('tile', 'the integer golden path')}", "",
         f"*{res['model']}, {res['layers']} decoder layers, {res['windows']} window(s) of {res['tokens']} tokens of "
         f"the evaluation text, static scales calibrated on {res['calibration_tokens']:,} tokens; "
         f"{res['acc_width']}-bit accumulators; `python -m llmstudy.infer`, {res['seconds']:.0f} s.*", "",
         "| path | perplexity |", "|---|---|",
         f"| fake-quantized (dequantize, float32 matmul: `make accuracy`) | {res['perplexity_fake']:.6f} |",
         f"| fake-quantized, the same in float64 | {res['perplexity_fake_float64']:.6f} |",
         f"| integer golden path (exact integer GEMMs, scales after) | {res['perplexity_golden']:.6f} |"]
    if "perplexity_rtl" in res:
        same = "equal" if res["perplexity_rtl"] == res["perplexity_golden"] and res["nll_equal"] else "DIFFERENT"
        L.append(f"| RTL: every GEMM on the Verilated `{res['tile']}` | {res['perplexity_rtl']:.6f} ({same}) |")
    L += ["", "The fake-quantized and the integer path compute the same function up to float32 rounding: on the "
              "same input, every GEMM's results agree to the relative error in the table's column *fake vs integer* "
              "(largest |difference| over the call's largest |result|). The passes still diverge, because every "
              "layer's input is quantized again (rounded to A16 or KV8 integers, then razored: one group's flag "
              "follows its largest element): a rounding difference that moves one value across a rounding or flag "
              "boundary changes that integer or a whole group's codes, and such differences compound over the "
              f"layers. Largest per-token NLL difference between the two passes: "
              f"{res['nll_max_abs_diff_fake_golden']:.2f} nats; their perplexities differ by "
              f"{100 * (res['perplexity_golden'] / res['perplexity_fake'] - 1):+.1f} %. The fake path is as sensitive "
              f"to its own rounding: computed in float64 instead of float32 it gives perplexity "
              f"{res['perplexity_fake_float64']:.6f} ("
              f"{100 * (res['perplexity_fake_float64'] / res['perplexity_fake'] - 1):+.1f} %, largest per-token NLL "
              f"difference {res['nll_max_abs_diff_fake_float32_float64']:.2f} nats). Differences of this size "
              "between the paths are rounding amplified by the quantizers, not a different computation.", ""]
    src = res.get("rtl") or res["golden"]
    fake = res["golden"]
    L += [f"| GEMM | count | MACs | largest \\|sum\\| | bits needed | wraps ({res['acc_width']}-bit) | "
          "fake vs integer, same input |"
          + (" outputs checked | mismatches | from cache | tile cycles | cycles / token | utilization | stalls |"
             if "rtl" in res else ""),
          "|---|---|---|---|---|---|---|" + ("---|" * 7 if "rtl" in res else "")]
    tokens = res["tokens"] * res["windows"]
    for k, v in src.items():
        row = (f"| {k} | {v['gemms']:,} | {v['macs']:,} | {v['max_abs']:,} | {v['acc_bits_needed']} | "
               f"{v['wraps']:,} | {fake[k]['fake_max_rel']:.1e} |")
        if "rtl" in res:
            util = v["beats"] / v["cycles"] if v["cycles"] else 0
            row += (f" {v['rtl_checked']:,} | {v['mismatches']:,} | {v['cached']:,} | {v['cycles']:,} | "
                    f"{v['cycles'] / tokens:,.0f} | {util:.4f} | {v['stalls']:,} |")
        L.append(row)
    if "rtl" in res:
        c = res["cost"]
        rate = res["cycles_per_cpu_second"]
        L += ["", f"**RTL run**: {sum(v['gemms'] for v in src.values()):,} GEMMs ({res['gemms_simulated']:,} "
                  f"simulated, {res['gemms_from_cache']:,} from the cache), {sum(v['macs'] for v in src.values()):,} "
                  f"MACs, {res['cycles']:,} tile cycles, {res['checked']:,} outputs compared with the integer golden "
                  f"path: **{res['mismatches']} mismatches**, {sum(v['protocol'] for v in src.values())} protocol "
                  f"violations. Harness CPU time {res['harness_cpu_seconds']:.1f} s"
                  + (f" = **{rate / 1e6:.3f} M tile cycles per CPU-second** (reading, cutting and packing beats, "
                     f"simulating, writing results)" if rate else "")
                  + f"; RTL pass {res['rtl_seconds']:.1f} s wall with {res['rtl_workers']} harness processes at a "
                    f"time.", "",
              f"**Per token**: {c['cycles_per_token']:,.0f} tile cycles ({c['cycles_per_token_per_layer']:,.0f} per "
              f"layer), array utilization {c['utilization']:.4f} (beats taken / cycles)."]
        if "tokens_per_s" in c:
            L.append(f"At the tile's f_max of {c['fmax_mhz']:.0f} MHz ({c['area_um2']:,.0f} um^2): "
                     f"**{c['tokens_per_s']:,.1f} tokens/s** per tile; energy {c['energy_per_token_uj']:,.1f} uJ per "
                     f"token (the tile's {c['power_from']} power {c['power_mw']:.1f} mW at its "
                     f"{c['clock_ns']} ns clock x cycles). Outside the tile and not counted: the activation "
                     f"encoders, the scale multipliers, softmax, norms, embeddings, lm_head and all memory traffic.")
        else:
            L.append("No synthesis figures for this tile in build/synth/report.json: run `python -m synth --table "
                     "tile` for tokens/s and energy per token.")
    return "\n".join(L) + "\n"


def system_table(folder=None, synth_report=None):
    """One table over every ``report.json`` of RTL runs under ``folder`` (default ``build/infer``), with the tiles'
    synthesis figures: what a token costs on each tile (markdown, and the rows)."""
    folder = Path(folder) if folder else settings.build_dir("infer")
    rows = []
    for path in sorted(folder.glob("*/report.json")):
        try:
            res = json.loads(path.read_text())
            if not isinstance(res, dict) or "rtl" not in res:
                continue
            c = cost(res, tile_figures(res["tile"], synth_report))
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as e:
            print(f"infer: skipping {path}: {e}", file=sys.stderr)
            continue
        p = res["tile_params"]
        rows.append(dict(tile=res["tile"], scheme=res["scheme"], shape=f"{p['rows']}x{p['cols']}x{p['lanes']}",
                         layers=res["layers"], ppl=res["perplexity_rtl"],
                         ppl_golden=res["perplexity_golden"], mismatches=res["mismatches"], checked=res["checked"],
                         **c))
    head = ("| tile | scheme | perplexity (RTL) | outputs checked, mismatches | cycles / token | utilization | area "
            "(mm^2) | f_max (MHz) | tokens/s at f_max | power (mW) | energy / token (uJ) | tokens/s per mm^2 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in sorted(rows, key=lambda r: (r["shape"], r["tile"])):
        fig = "tokens_per_s" in r
        lines.append(
            f"| {r['tile']} ({r['shape']}) | {r['scheme']} | {r['ppl']:.3f} | {r['checked']:,}, {r['mismatches']} | "
            f"{r['cycles_per_token']:,.0f} | {r['utilization']:.4f} | "
            + (f"{r['area_um2'] / 1e6:.3f} | {r['fmax_mhz']:.0f} | {r['tokens_per_s']:,.0f} | {r['power_mw']:.1f} | "
               f"{r['energy_per_token_uj']:,.1f} | {r['tokens_per_s'] / (r['area_um2'] / 1e6):,.0f} |" if fig else
               "- | - | - | - | - | - |"))
    return "\n".join(lines) + "\n", rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.infer", description=__doc__.splitlines()[0])
    ap.add_argument("--scheme", default=DEFAULT_SCHEME, help=f"a QRazor scheme (default {DEFAULT_SCHEME!r})")
    ap.add_argument("--tile", default=DEFAULT_TILE, help=f"a registered GEMM tile (default {DEFAULT_TILE})")
    ap.add_argument("--tokens", type=int, default=512, help="tokens per window (default 512)")
    ap.add_argument("--windows", type=int, default=1, help="evaluation windows (default 1)")
    ap.add_argument("--layers", type=int, help="only the first N decoder layers (default: all)")
    ap.add_argument("--cal-windows", type=int, default=8, help="calibration windows (default 8)")
    ap.add_argument("--cal-len", type=int, default=512, help="tokens per calibration window (default 512)")
    ap.add_argument("--workers", type=int, help="harness processes at a time (default: the machine's cores)")
    ap.add_argument("--dask", metavar="ADDRESS", help="run the tile jobs on a Dask cluster (scheduler address, or "
                                                      "'local' for a local cluster of --workers workers)")
    ap.add_argument("--acc-width", type=int, default=G.ACC_WIDTH, help="accumulator bits of the golden path")
    ap.add_argument("--golden-only", action="store_true", help="the integer golden path only, no RTL")
    ap.add_argument("--p-valid", type=float, default=1.0, help="input valid probability per cycle (default 1)")
    ap.add_argument("--p-ready", type=float, default=1.0, help="output ready probability per cycle (default 1)")
    ap.add_argument("--synth", type=Path, help="synthesis report with the tile's figures (default "
                                               "build/synth/report.json)")
    ap.add_argument("--out", type=Path, default=settings.build_dir("infer"))
    ap.add_argument("--model", type=Path, help="a .gguf file or transformers checkpoint folder")
    ap.add_argument("--system", action="store_true", help="only tabulate the RTL runs under --out with the synthesis "
                                                           "figures -> system.md")
    args = ap.parse_args(argv)
    if args.system:
        md, rows = system_table(args.out, args.synth)
        if not rows:
            sys.exit(f"infer: no RTL run reports under {args.out} (run make infer-all first)")
        settings.write_atomic(args.out / "system.md", md)
        print(md)
        return 0
    try:
        sch = find_scheme(args.scheme)
        IntegerPath(sch)
    except ValueError as e:
        ap.error(str(e))
    for name in ("tokens", "windows", "cal_windows", "cal_len"):
        if getattr(args, name) < (2 if name in ("tokens", "cal_len") else 1):
            ap.error(f"--{name.replace('_', '-')} must be at least {2 if name in ('tokens', 'cal_len') else 1}")
    if args.workers is not None and args.workers < 1:
        ap.error(f"--workers must be at least 1, not {args.workers}")
    out_dir = args.out / f"{sch.name.replace(' ', '_')}-{'golden' if args.golden_only else args.tile}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        ap.error(f"--out {args.out}: cannot write there ({e.strerror or e})")
    executor, client = None, None
    if args.dask and not args.golden_only:
        executor, client = dask_executor(args.dask, args.workers or os.cpu_count())
    try:
        res = run(sch.name, args.tile, args.tokens, args.windows, args.layers, args.cal_windows, args.cal_len,
                  rtl=not args.golden_only, executor=executor, workers=args.workers, acc_width=args.acc_width,
                  p_valid=args.p_valid, p_ready=args.p_ready, model_path=args.model)
    except (llm.TextError, ValueError, RuntimeError) as e:
        sys.exit(f"infer: {e}")
    finally:
        if client is not None:
            client.close()
    if "rtl" in res:
        res["cost"] = cost(res, tile_figures(res["tile"], args.synth))
    md = report_markdown(res)
    settings.write_atomic(out_dir / "report.md", md)
    settings.write_atomic(out_dir / "report.json", json.dumps(res, indent=1))
    print(md)
    print(f"infer: wrote {out_dir / 'report.md'} and report.json")
    if "rtl" in res and (res["mismatches"] or not res["nll_equal"] or not res["checked"]):
        sys.exit(f"infer: the RTL differs from the integer golden path ({res['mismatches']} mismatches of "
                 f"{res['checked']} outputs)")
    return 0


class _DaskJobs:
    """A Dask client (and the local cluster it started, if any): ``executor`` for ``run``, ``close()`` ends both."""

    def __init__(self, client, cluster=None):
        self.client, self.cluster = client, cluster
        self.executor = client.get_executor()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def dask_executor(address, workers):
    """``(executor, jobs)`` for a Dask scheduler ``address`` or ``"local"`` (a local cluster of ``workers``
    single-threaded worker processes); ``jobs.close()`` closes the client and the local cluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        sys.exit("infer: --dask needs the package 'distributed' (pip install distributed)")
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        jobs = _DaskJobs(Client(cluster), cluster)
    else:
        jobs = _DaskJobs(Client(address))
    return jobs.executor, jobs


if __name__ == "__main__":
    sys.exit(main())
