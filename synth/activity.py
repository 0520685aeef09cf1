"""Switching activity of each input bit (toggles per cycle) for the power estimate.

Every MAC sees the same underlying dot products: one synthetic LLM-like activation stream (A16) and weight
stream (W8) along K, in the representation that unit consumes: SDR-compressed words and flags for the QRazor
MACs, base integers for INT 16x8, activations requantized to 8 bits for INT 8x8. Encoders see groups of the
activation stream. Replace with real traces once captured.
"""

import numpy as np
from amaranth.hdl import Value

import golden as G
from golden.streams import llm_like, signmag

CYCLES = 20000
DOT_LEN = 256


def _toggles(name, values, width):
    v = np.asarray(values, np.int64)
    if v.ndim == 1:
        v = v[:, None]
    ew = width // v.shape[1]
    v = v & ((1 << ew) - 1)
    bits = (v[:, :, None] >> np.arange(ew)) & 1              # (cycles, elements, ew)
    rate = (bits[1:] != bits[:-1]).mean(axis=0).reshape(-1)  # element-major, LSB first
    return {f"{name}[{i}]" if width > 1 else name: float(r) for i, r in enumerate(rate)}


def activity(unit_name, unit, seed=0):
    rng = np.random.default_rng(seed)
    # one K-stream, dot products of DOT_LEN; per-row scale drawn per dot product
    xa = llm_like(rng, (CYCLES // DOT_LEN, DOT_LEN), 16).reshape(-1)
    xw = llm_like(rng, (CYCLES // DOT_LEN, DOT_LEN), 8).reshape(-1)
    n = xa.size
    load = (np.arange(n) % DOT_LEN) == 0
    streams = {}
    cls = type(unit).__name__
    if cls in ("DecompressionFreeMAC", "ConventionalMAC"):
        fa = G.SDRFormat(unit.a_base, unit.a_kept, 16)
        fw = G.SDRFormat(unit.w_base, unit.w_kept, 16)
        a, w = G.compress(xa, fa), G.compress(xw, fw)
        streams = {"a": signmag(a.codes, fa), "fa": a.flags_per_element(), "w": signmag(w.codes, fw),
                   "fw": w.flags_per_element()}
    elif cls == "IntMAC":
        a = xa if unit.a_bits == 16 else np.clip(np.rint(xa / 256), -127, 127)
        streams = {"a": a, "b": xw}
    elif cls == "SDREncoder":
        g = unit.group_size
        x = xa if unit.base_bits == 16 else xw
        streams = {"x": x[: x.size // g * g].reshape(-1, g)}
    elif cls == "SDRDecoder":
        fmt = G.SDRFormat(unit.base_bits, unit.kept_bits, 16)
        t = G.compress(xa if unit.base_bits == 16 else xw, fmt)
        streams = {"code": signmag(t.codes, fmt), "flag": t.flags_per_element()}
    if hasattr(unit, "load"):
        streams["load"] = load.astype(np.int64)
    widths = {p: len(Value.cast(getattr(unit, p))) for p in streams}
    act = {}
    for p, v in streams.items():
        act.update(_toggles(p, v, widths[p]))
    if hasattr(unit, "en"):
        act["en"] = 0.0                                      # held high
    return act
