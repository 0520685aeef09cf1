"""Switching activity of each input bit (toggles per cycle) for the power estimate, from real LLM traces.

Every MAC sees the same real dot products (``llmstudy.traces.linear_dot_stream``: a token's linear-layer input
times one weight row, whole rows one after another) in the representation that unit consumes: SDR-compressed
words and flags (g = 16) for the QRazor MACs, base integers for INT 16x8, activations requantized to 8 bits for
INT 8x8, the dequantized values as binary16 for the FP16 MAC. Encoders see groups of the activation stream,
decoders its compressed words.
"""

import numpy as np
from amaranth.hdl import Value

import golden as G
from golden.streams import signmag
from llmstudy.traces import linear_dot_stream

CYCLES = 20000
GROUP = 16


def _toggles(name, values, width):
    v = np.asarray(values, np.int64)
    if v.ndim == 1:
        v = v[:, None]
    ew = width // v.shape[1]
    v = v & ((1 << ew) - 1)
    bits = (v[:, :, None] >> np.arange(ew)) & 1              # (cycles, elements, ew)
    rate = (bits[1:] != bits[:-1]).mean(axis=0).reshape(-1)  # element-major, LSB first
    return {f"{name}[{i}]" if width > 1 else name: float(r) for i, r in enumerate(rate)}


def streams_for(unit, ts, cycles=CYCLES, seed=0):
    """Per-port input streams (one entry per cycle) that ``unit`` sees on the real dot products."""
    st = linear_dot_stream(ts, cycles, seed)
    xa, xw = st["a"].astype(np.int64), st["w"].astype(np.int64)
    cls = type(unit).__name__
    streams = {}
    if cls in ("DecompressionFreeMAC", "ConventionalMAC"):
        fa = G.SDRFormat(unit.a_base, unit.a_kept, GROUP)
        fw = G.SDRFormat(unit.w_base, unit.w_kept, GROUP)
        a, w = G.compress(xa, fa), G.compress(xw, fw)
        streams = {"a": signmag(a.codes, fa), "fa": a.flags_per_element(), "w": signmag(w.codes, fw),
                   "fw": w.flags_per_element()}
    elif cls == "IntMAC":
        a = xa if unit.a_bits == 16 else np.clip(np.rint(xa / 256), -127, 127).astype(np.int64)
        streams = {"a": a, "b": xw}
    elif cls == "FP16MAC":
        streams = {"a": G.fp16.from_float(xa * st["a_scale"]), "b": G.fp16.from_float(xw * st["w_scale"])}
    elif cls == "SDREncoder":
        g = unit.group_size
        x = xa if unit.base_bits == 16 else xw
        streams = {"x": x[: x.size // g * g].reshape(-1, g)}
    elif cls == "SDRDecoder":
        fmt = G.SDRFormat(unit.base_bits, unit.kept_bits, GROUP)
        t = G.compress(xa if unit.base_bits == 16 else xw, fmt)
        streams = {"code": signmag(t.codes, fmt), "flag": t.flags_per_element()}
    else:
        raise TypeError(f"no activity model for {cls}")
    if hasattr(unit, "load"):
        streams["load"] = st["load"].astype(np.int64)
    if hasattr(unit, "en"):
        streams["en"] = np.ones(cycles, np.int64)            # held high
    return streams


def activity(unit, ts, seed=0):
    """``{port_bit: toggles per cycle}`` for every input bit of ``unit``."""
    streams = streams_for(unit, ts, seed=seed)
    act = {}
    for p, v in streams.items():
        act.update(_toggles(p, v, len(Value.cast(getattr(unit, p)))))
    return act
