"""Data streams for the units: base precisions by tensor role, the hardware's sign-magnitude words, and one
interface for the data that drives them.

A *data source* hands out base integers by role, the same way for real LLM traces
(``llmstudy.traces.TraceSet``) and for the synthetic LLM-like source here (``SyntheticSource``), so every
consumer (RTL benches, gate-level simulation, switching activity) builds its stimulus once:

* ``dot_stream(pair, cycles, seed, align=1)``: whole dot products one after another, ``pair`` a role pair
  such as ``("activation", "weight")`` or ``("query", "key")``; returns ``a``, ``b`` (base integers),
  ``a_scale``, ``b_scale`` (the value of one unit of each element) and ``load`` (True at the first step of
  each dot product), each of length >= ``cycles``. Every dot product is zero-padded to a multiple of ``align``,
  so groups of any size dividing ``align`` never straddle two dot products.
* ``groups(role, g, count, seed)``: ``count`` groups of ``g`` base integers of one role, shape ``(count, g)``.
* ``blocks(pair, rows, cols, count, seed)``: ``count`` GEMM blocks ``(A, B)``: ``rows`` rows of the pair's first
  role and ``cols`` rows of its second, one reduction length ``K`` per block (the rows of one tensor pair).
"""

import numpy as np

from .validate import check_int_param

__all__ = ["BASE_BITS", "ROLES", "DOT_PAIRS", "llm_like", "signmag", "from_signmag", "assemble_dot_stream",
           "SyntheticSource"]

# Base precision of each tensor role (paper Sec. 4.1): activations 16-bit per tensor, weights 8-bit per output
# channel, Q/K/V (KV cache) 8-bit per head.
BASE_BITS = {"activation": 16, "weight": 8, "query": 8, "key": 8, "value": 8}
ROLES = tuple(BASE_BITS)
DOT_PAIRS = (("activation", "weight"), ("query", "key"))


def check_pair(pair):
    if tuple(pair) not in DOT_PAIRS:
        raise ValueError(f"role pair {pair!r} has no dot products; expected one of {DOT_PAIRS}")
    return tuple(pair)


def check_role(role):
    if role not in BASE_BITS:
        raise ValueError(f"role {role!r} is unknown; expected one of {ROLES}")
    return role


def llm_like(rng, shape, bits):
    """Student-t (3 dof) values scaled to ``qmax/40``, a per-row scale spread over ``bits-2`` octaves, rounded
    and clipped to ``+-qmax``: most magnitudes small, a few outliers, flags over their whole range."""
    qm = (1 << (bits - 1)) - 1
    x = rng.standard_t(3, size=shape) * (qm / 40)
    x = x / (2.0 ** rng.integers(0, bits - 2, size=shape[:-1] + (1,)))
    return np.clip(np.rint(x), -qm, qm).astype(np.int64)


def signmag(codes, fmt):
    """Codes -> the hardware's sign-magnitude words ``sign << n | magnitude``."""
    c = np.asarray(codes, np.int64)
    return np.abs(c) | ((c < 0).astype(np.int64) << fmt.mag_bits)


def from_signmag(words, fmt):
    """The hardware's sign-magnitude words -> codes (the inverse of ``signmag``)."""
    w = np.asarray(words, np.int64)
    mag = w & ((1 << fmt.mag_bits) - 1)
    return np.where(w >> fmt.mag_bits, -mag, mag)


def assemble_dot_stream(pick, rng, cycles, align=1):
    """Concatenate whole dot products from ``pick(rng) -> (a_row, b_row, a_scale, b_scale)`` until at least
    ``cycles`` steps, each zero-padded to a multiple of ``align`` (see the module docstring)."""
    cycles = check_int_param("cycles", cycles, 1, 1 << 26)
    align = check_int_param("align", align, 1, 1 << 16)
    cols, n = [], 0
    while n < cycles:
        a, b, sa, sb = pick(rng)
        k = len(a)
        pad = (-k) % align
        load = np.zeros(k + pad, bool)
        load[0] = True
        cols.append((np.pad(np.asarray(a, np.int64), (0, pad)), np.pad(np.asarray(b, np.int64), (0, pad)),
                     np.full(k + pad, float(sa)), np.full(k + pad, float(sb)), load))
        n += k + pad
    return dict(zip(("a", "b", "a_scale", "b_scale", "load"), (np.concatenate(c) for c in zip(*cols))))


class SyntheticSource:
    """LLM-like random data (``llm_like``) behind the data-source interface; not real model data."""

    name = "synthetic"

    def dot_stream(self, pair, cycles, seed, align=1):
        ra, rb = check_pair(pair)
        ba, bb = BASE_BITS[ra], BASE_BITS[rb]

        def pick(rng):
            k = int(rng.integers(16, 512))
            return (llm_like(rng, (1, k), ba)[0], llm_like(rng, (1, k), bb)[0],
                    40.0 / ((1 << (ba - 1)) - 1), 0.8 / ((1 << (bb - 1)) - 1))
        return assemble_dot_stream(pick, np.random.default_rng(seed), cycles, align)

    def groups(self, role, g, count, seed):
        return llm_like(np.random.default_rng(seed), (count, g), BASE_BITS[check_role(role)])

    def blocks(self, pair, rows, cols, count, seed):
        ra, rb = check_pair(pair)
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(check_int_param("count", count, 0, 1 << 20)):
            k = 64 * int(rng.integers(1, 9))
            out.append((llm_like(rng, (rows, k), BASE_BITS[ra]), llm_like(rng, (cols, k), BASE_BITS[rb])))
        return out
