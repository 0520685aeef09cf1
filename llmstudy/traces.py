"""Real-LLM trace files: base integers of weights, activations and Q/K/V, with their metadata.

Format (version 1, see docs/trace-format.md): a NumPy ``.npz`` archive (a zip file; every member carries a
CRC-32) holding one integer array per tensor plus a member ``__meta__``, a UTF-8 JSON document (stored as
``uint8``) with the file-wide metadata (format name and version, model, text source, seed, tokens) and,
for every tensor: layer, module, kind, base bits, scale granularity, scale, shape, dtype and the SHA-256 of
its bytes. ``load`` checks all of it and raises ``TraceError`` naming the file and what is wrong.

Tensor names: ``layerLL.<module>.weight`` (int8, ``(out, in)``, W8 per output channel),
``layerLL.<site>.input`` (int16, ``(tokens, in)``, A16 per tensor; sites: attn_in, o_in, mlp_in, down_in),
``layerLL.<query|key|value>`` (int8, ``(heads, tokens, head_dim)``, KV8 per head, after the rotary embedding).
"""

import hashlib
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.streams import BASE_BITS, assemble_dot_stream, check_pair, check_role

from . import settings

__all__ = [
    "FORMAT", "VERSION", "SITE", "TraceError", "TraceTensor", "TraceSet", "save", "load",
]

FORMAT = "qrazor-trace"
VERSION = 1
META = "__meta__"
# file kind -> role (golden.streams.ROLES): the kind "input" holds the role "activation"
ROLE_OF_KIND = {"weight": "weight", "input": "activation", "query": "query", "key": "key", "value": "value"}
KIND_OF_ROLE = {r: k for k, r in ROLE_OF_KIND.items()}
_GRANULARITY = {"weight": "per output channel", "input": "per tensor", "query": "per head", "key": "per head",
                "value": "per head"}
KINDS = {k: (BASE_BITS[r], _GRANULARITY[k]) for k, r in ROLE_OF_KIND.items()}
# Linear layers that read the same tensor share one input "site" (and one A16 scale).
SITE = {"q_proj": "attn_in", "k_proj": "attn_in", "v_proj": "attn_in", "o_proj": "o_in",
        "gate_proj": "mlp_in", "up_proj": "mlp_in", "down_proj": "down_in"}


class TraceError(ValueError):
    """A trace file is corrupt, truncated, of another format or version, or does not match its metadata."""


@dataclass
class TraceTensor:
    name: str
    layer: int
    module: str
    kind: str
    data: np.ndarray
    scale: np.ndarray
    granularity: str

    @property
    def base_bits(self):
        return KINDS[self.kind][0]

    def dequantized(self):
        """Float64 values the integers stand for (scale broadcast per its granularity)."""
        s = np.asarray(self.scale, np.float64)
        if self.kind == "weight":
            s = s[:, None]
        elif self.kind in ("query", "key", "value"):
            s = s[:, None, None]
        return self.data.astype(np.float64) * s


@dataclass
class TraceSet:
    meta: dict
    tensors: dict = field(default_factory=dict)

    def select(self, kind=None, layer=None):
        return [t for t in self.tensors.values()
                if (kind is None or t.kind == kind) and (layer is None or t.layer == layer)]

    def linear_pairs(self):
        """``[(input tensor, weight tensor)]`` for every traced linear layer (the input is its site's)."""
        return [(self.tensors[f"layer{w.layer:02d}.{SITE[w.module]}.input"], w) for w in self.select(kind="weight")]

    @property
    def layers(self):
        return sorted({t.layer for t in self.tensors.values()})

    # ---- the data-source interface of golden.streams (real data by tensor role)

    name = "trace"

    def by_role(self, role):
        """Tensors of one role (golden.streams.ROLES); the file's kind ``input`` is the role ``activation``."""
        check_role(role)
        return self.select(kind=KIND_OF_ROLE.get(role, role))

    def dot_stream(self, pair, cycles, seed, align=1):
        """Whole real dot products (golden.streams): ``("activation", "weight")`` pairs a token's linear-layer
        input with one weight row of that layer; ``("query", "key")`` pairs a query row with a causal key row
        of its head (grouped-query heads mapped to their KV head)."""
        pair = check_pair(pair)
        if pair == ("activation", "weight"):
            pairs = self.linear_pairs()
            if not pairs:
                raise TraceError("the trace set has no weight/input pairs to form dot products")

            def pick(rng):
                a, w = pairs[int(rng.integers(len(pairs)))]
                t, o = int(rng.integers(a.data.shape[0])), int(rng.integers(w.data.shape[0]))
                return a.data[t], w.data[o], float(a.scale), float(w.scale[o])
        else:
            qk = [(self.tensors[f"layer{li:02d}.query"], self.tensors[f"layer{li:02d}.key"]) for li in self.layers
                  if f"layer{li:02d}.query" in self.tensors and f"layer{li:02d}.key" in self.tensors]
            if not qk:
                raise TraceError("the trace set has no query/key tensors to form dot products")

            def pick(rng):
                q, k = qk[int(rng.integers(len(qk)))]
                per_kv = q.data.shape[0] // k.data.shape[0]
                h, t = int(rng.integers(q.data.shape[0])), int(rng.integers(q.data.shape[1]))
                return (q.data[h, t], k.data[h // per_kv, int(rng.integers(t + 1))],
                        float(q.scale[h]), float(k.scale[h // per_kv]))
        return assemble_dot_stream(pick, np.random.default_rng(seed), cycles, align)

    def blocks(self, pair, rows, cols, count, seed):
        """GEMM blocks of real data (golden.streams): ``("activation", "weight")``: ``rows`` tokens of a linear
        layer's input and ``cols`` rows of its weight; ``("query", "key")``: ``rows`` query rows of one head and
        ``cols`` of its KV head's key rows at or before the latest of those queries (causal)."""
        pair = check_pair(pair)
        rng = np.random.default_rng(seed)
        if pair == ("activation", "weight"):
            pairs = self.linear_pairs()
            if not pairs:
                raise TraceError("the trace set has no weight/input pairs to form GEMM blocks")
        else:
            pairs = [(self.tensors[f"layer{li:02d}.query"], self.tensors[f"layer{li:02d}.key"]) for li in self.layers
                     if f"layer{li:02d}.query" in self.tensors and f"layer{li:02d}.key" in self.tensors]
            if not pairs:
                raise TraceError("the trace set has no query/key tensors to form GEMM blocks")
        out = []
        for _ in range(count):
            x, y = pairs[int(rng.integers(len(pairs)))]
            if pair == ("activation", "weight"):
                a = x.data[rng.choice(x.data.shape[0], rows, replace=x.data.shape[0] < rows)]
                b = y.data[rng.choice(y.data.shape[0], cols, replace=y.data.shape[0] < cols)]
            else:
                h = int(rng.integers(x.data.shape[0]))
                t = rng.choice(x.data.shape[1], rows, replace=x.data.shape[1] < rows)
                keys = rng.integers(0, int(t.max()) + 1, cols)
                a, b = x.data[h, t], y.data[h // (x.data.shape[0] // y.data.shape[0]), keys]
            out.append((a.astype(np.int64), b.astype(np.int64)))
        return out

    def groups(self, role, g, count, seed):
        """``count`` real groups of ``g`` base integers of ``role``, drawn without replacement; groups lie
        inside a row along the reduction axis (a row's tail shorter than ``g`` is not used)."""
        rows = []
        for t in self.by_role(role):
            x = t.data.reshape(-1, t.data.shape[-1])
            k = x.shape[1] - x.shape[1] % g
            if k:
                rows.append(x[:, :k].reshape(-1, g))
        if not rows:
            raise TraceError(f"the trace set has no {role} rows of at least {g} elements")
        allg = np.concatenate(rows).astype(np.int64)
        rng = np.random.default_rng(seed)
        return allg[rng.choice(allg.shape[0], size=min(count, allg.shape[0]), replace=False)]


_NAME = re.compile(r"layer(\d{2,})\.(?:(query|key|value)|([a-z_]+)\.(weight|input))")


def _split(name):
    m = _NAME.fullmatch(name) if isinstance(name, str) else None
    if m is None:
        raise TraceError(f"tensor name {name!r} is not layerLL.<module>.weight|input or layerLL.query|key|value "
                         "(LL: the layer index, two or more digits)")
    layer = int(m.group(1))
    if m.group(2):
        return layer, "self_attn", m.group(2)
    module, kind = m.group(3), m.group(4)
    known = sorted(SITE) if kind == "weight" else sorted(set(SITE.values()))
    if module not in known:
        raise TraceError(f"tensor {name!r}: unknown {'module' if kind == 'weight' else 'input site'} {module!r}; "
                         f"expected one of {known}")
    return layer, module, kind


def make_tensor(name, data, scale, granularity):
    layer, module, kind = _split(name)
    return TraceTensor(name, layer, module, kind, np.asarray(data), np.asarray(scale, np.float64), granularity)


def save(path, trace):
    """Write ``trace`` (a ``TraceSet``) to ``path`` (compressed ``.npz``)."""
    path = Path(path)
    if path.is_dir():
        raise TraceError(f"{path} is a folder; give the trace file's path (for example {path / 'trace.npz'})")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays, entries = {}, {}
    for name, t in sorted(trace.tensors.items()):
        bits, gran = KINDS[t.kind]
        dtype = np.int8 if bits == 8 else np.int16
        src = np.asarray(t.data)
        lim = (1 << (bits - 1)) - 1
        if src.dtype.kind not in "iu":
            raise TraceError(f"tensor {name!r} has dtype {src.dtype}; a trace holds {bits}-bit base integers")
        if src.size and (int(src.min()) < -lim or int(src.max()) > lim):
            raise TraceError(f"tensor {name!r} holds {int(src.min())}..{int(src.max())}, outside the {bits}-bit "
                             f"absmax range +-{lim}")
        _check_layout(name, t.kind, src.shape, np.shape(t.scale), "")
        data = np.ascontiguousarray(src, dtype=dtype)
        arrays[name] = data
        arrays[name + ".scale"] = np.asarray(t.scale, np.float64)
        entries[name] = dict(layer=t.layer, module=t.module, kind=t.kind, base_bits=bits, granularity=gran,
                             shape=list(data.shape), dtype=data.dtype.str,
                             scale_shape=list(np.shape(t.scale)),
                             sha256=hashlib.sha256(data.tobytes()).hexdigest())
    meta = dict(trace.meta, format=FORMAT, version=VERSION, tensors=entries)
    arrays[META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    settings.write_atomic(path, lambda tmp: np.savez_compressed(tmp, **arrays))   # no partial file, ever
    return path


def load(path=None, expect=None):
    """Read and verify a trace file (default: the small set ``make traces`` writes, build/traces/default.npz).

    ``expect``: optional dict of metadata values that must match (e.g. ``{"model": ...}``).
    """
    path = Path(path) if path is not None else settings.default_trace()
    if not path.is_file():
        raise TraceError(f"trace file {path} does not exist (make traces writes the default set)")
    try:
        with zipfile.ZipFile(path) as zf:          # every member's CRC-32 (np.load alone may not read to the end)
            bad = zf.testzip()
        if bad is not None:
            raise TraceError(f"{path}: member {bad!r} fails its CRC-32 check (corrupt file)")
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if META not in names:
                raise TraceError(f"{path}: no {META} member; not a {FORMAT} file")
            meta = json.loads(bytes(z[META]).decode())
            arrays = {n: z[n] for n in names if n != META}
    except TraceError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise TraceError(f"{path}: corrupt or truncated trace file ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict):
        raise TraceError(f"{path}: metadata is a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise TraceError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise TraceError(f"{path}: format version {meta.get('version')!r}, this loader reads version {VERSION}")
    for key, want in (expect or {}).items():
        if meta.get(key) != want:
            raise TraceError(f"{path}: metadata {key}={meta.get(key)!r}, expected {want!r}")
    entries = meta.get("tensors")
    if not isinstance(entries, dict) or not entries:
        raise TraceError(f"{path}: metadata lists no tensors")
    extra = names - {META} - set(entries) - {n + ".scale" for n in entries}
    if extra:
        raise TraceError(f"{path}: members {sorted(extra)} are not described by the metadata")
    out = TraceSet(meta={k: v for k, v in meta.items() if k != "tensors"})
    for name, e in entries.items():
        if not isinstance(e, dict):
            raise TraceError(f"{path}: metadata entry of tensor {name!r} is a JSON {type(e).__name__}, expected an "
                             "object (layer, module, kind, base_bits, granularity, shape, dtype, sha256)")
        for member in (name, name + ".scale"):
            if member not in arrays:
                raise TraceError(f"{path}: tensor {member!r} listed in the metadata is missing")
        data, scale = arrays[name], arrays[name + ".scale"]
        layer, module, kind = _split(name)
        bits, gran = KINDS[kind]
        checks = (("layer", layer, e.get("layer")), ("module", module, e.get("module")), ("kind", kind, e.get("kind")),
                  ("base_bits", bits, e.get("base_bits")), ("granularity", gran, e.get("granularity")),
                  ("shape", list(data.shape), e.get("shape")), ("dtype", data.dtype.str, e.get("dtype")),
                  ("scale shape", list(scale.shape), e.get("scale_shape")))
        for what, got, want in checks:
            if got != want:
                raise TraceError(f"{path}: tensor {name!r} has {what} {got!r}, the metadata says {want!r}")
        if data.dtype != (np.int8 if bits == 8 else np.int16):
            raise TraceError(f"{path}: tensor {name!r} has dtype {data.dtype}, expected "
                             f"{'int8' if bits == 8 else 'int16'} ({bits}-bit base integers)")
        _check_layout(name, kind, data.shape, scale.shape, f"{path}: ")
        if hashlib.sha256(data.tobytes()).hexdigest() != e.get("sha256"):
            raise TraceError(f"{path}: tensor {name!r} does not match its SHA-256 (corrupt data)")
        lim = (1 << (bits - 1)) - 1
        if data.size and (int(data.min()) < -lim or int(data.max()) > lim):
            raise TraceError(f"{path}: tensor {name!r} holds values outside +-{lim} ({bits}-bit absmax range)")
        if not (np.isfinite(scale).all() and (scale > 0).all()):
            raise TraceError(f"{path}: tensor {name!r} has a non-finite or non-positive scale")
        out.tensors[name] = TraceTensor(name, layer, module, kind, data, scale, gran)
    _check_pairs(out, f"{path}: ")
    _check_meta(out, f"{path}: ")
    return out


def _check_meta(ts, where):
    """What the consumers rely on, besides each tensor: the metadata's token count and layer list describe the
    file (``analysis`` reports them), and every weight comes with its input site (the benches and the API pair
    them)."""
    tokens = ts.meta.get("tokens")
    for t in ts.tensors.values():
        n = t.data.shape[0] if t.kind == "input" else (t.data.shape[1] if t.kind != "weight" else None)
        if n is not None and tokens is not None and n != tokens:
            raise TraceError(f"{where}tensor {t.name!r} holds {n} tokens, the metadata says {tokens!r}")
    layers = ts.meta.get("layers")
    if layers is not None and sorted(layers) != ts.layers:
        raise TraceError(f"{where}the metadata lists layers {layers!r}, the file holds layers {ts.layers}")
    for w in ts.select(kind="weight"):
        site = f"layer{w.layer:02d}.{SITE[w.module]}.input"
        if site not in ts.tensors:
            raise TraceError(f"{where}weight {w.name!r} comes without its input {site!r}: its dot products "
                             "cannot be formed")


def _check_layout(name, kind, shape, scale_shape, where):
    """Shape and scale shape of one tensor against its kind (see docs/trace-format.md)."""
    ndim = {"weight": 2, "input": 2}.get(kind, 3)
    if len(shape) != ndim or 0 in shape:
        raise TraceError(f"{where}tensor {name!r} ({kind}) has shape {tuple(shape)}, expected {ndim} non-empty axes")
    want = {"weight": (shape[0],), "input": ()}.get(kind, (shape[0],))
    if tuple(scale_shape) != want:
        hint = ""
        if kind in ("query", "key", "value") and tuple(scale_shape) == (shape[1],):
            hint = "; is the tensor in (tokens, heads, head_dim) order? expected (heads, tokens, head_dim)"
        raise TraceError(f"{where}tensor {name!r} ({kind}) has a scale of shape {tuple(scale_shape)}, expected "
                         f"{want} ({_GRANULARITY[kind]}){hint}")


def _check_pairs(ts, where):
    """Tensors that meet in a dot product agree: a linear input and its weights in the reduction length, a
    layer's query and key in head_dim and tokens, and the query heads are a multiple of the key heads."""
    for w in ts.select(kind="weight"):
        site = f"layer{w.layer:02d}.{SITE.get(w.module, '?')}.input"
        if site in ts.tensors and ts.tensors[site].data.shape[1] != w.data.shape[1]:
            raise TraceError(f"{where}{site} has {ts.tensors[site].data.shape[1]} features but {w.name} reduces "
                             f"over {w.data.shape[1]}: they would not form dot products")
    for li in ts.layers:
        q, k = ts.tensors.get(f"layer{li:02d}.query"), ts.tensors.get(f"layer{li:02d}.key")
        if q is not None and k is not None:
            if q.data.shape[1:] != k.data.shape[1:] or q.data.shape[0] % k.data.shape[0]:
                raise TraceError(f"{where}layer {li}: query {q.data.shape} and key {k.data.shape} do not pair "
                                 "(tokens and head_dim must agree, query heads a multiple of key heads)")
