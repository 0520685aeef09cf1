"""Bit-exact model of the GEMM tile: ``R x C`` decompression-free dot-product units fed by streams.

The tile computes output blocks of ``Y = A @ W^T`` (``A``: M x K activations or queries, ``W``: N x K weights or
keys, both SDR-compressed along K with one group size). A *job* is one ``R x C`` block: rows ``i*R ..`` of
``A`` against rows ``j*C ..`` of ``W`` over the whole reduction K. The job is streamed as ``K / L`` *beats*
(steps of ``L`` elements of K); beat ``t`` carries

* on the activation stream ``a``: ``codes`` (R, L), ``flags`` (R, S) and ``last`` (the job's final beat),
* on the weight stream ``w``: ``codes`` (C, L), ``flags`` (C, S),

with ``S = max(1, L / g)`` flags per row and beat (sub-group ``s`` covers lanes ``s*L/S ..``; with ``g >= L`` a
group spans ``g / L`` beats and its flag repeats in each). The tile answers every job with ``R`` beats on the
result stream ``y``: ``acc`` (C,) (row ``r`` of the block, ``acc_width``-bit two's complement) and ``last``
(row ``R - 1``). Scales stay outside the tile, as in ``gemm_dfree``: the result is the integer sum of
``(ca * cw) << (fa + fw)``; multiply by the row's and column's scales downstream.

``tile_golden`` models the hardware beat by beat (each beat's own flags); ``job_beats`` cuts SDR tensors into
beats, and a whole GEMM through ``tile_golden`` equals ``gemm_dfree`` (tested in ``tests/test_tile.py``).
"""

import numpy as np

from .mac import ACC_WIDTH, check_codes, wrap
from .sdr import SDRTensor
from .validate import check_int_array, check_int_param

__all__ = ["sub_groups", "job_beats", "tile_golden", "blocks_to_matrix", "JobError", "job_beats_int",
           "tile_golden_int"]


class JobError(ValueError):
    """Operands that cannot be cut into the tile's jobs and beats."""


def sub_groups(lanes, group_size):
    """Flags per row and beat: ``max(1, lanes / group_size)``."""
    return max(1, lanes // group_size)


def _beats_of(t, name, block, lanes):
    if not isinstance(t, SDRTensor):
        raise TypeError(f"{name} must be an SDRTensor, not {type(t).__name__}")
    if t.codes.ndim != 2 or t.axis != 1:
        raise JobError(f"{name} must be 2-D and grouped along its last axis (K), got shape {t.codes.shape} "
                       f"grouped along axis {t.axis}")
    rows, k = t.codes.shape
    g = t.fmt.group_size
    if rows % block:
        raise JobError(f"{name} has {rows} rows, not a multiple of the tile's {block} (pad it)")
    if k % lanes:
        raise JobError(f"{name}: reduction length K={k} is not a multiple of the tile's {lanes} lanes")
    steps = k // lanes
    codes = t.codes.astype(np.int64).reshape(rows, steps, lanes).transpose(1, 0, 2)       # (steps, rows, L)
    flags = np.repeat(t.flags.astype(np.int64), t.fmt.group_size, axis=1)                 # per element
    s = sub_groups(lanes, g)
    flags = flags.reshape(rows, steps, s, lanes // s)[..., 0].transpose(1, 0, 2)          # (steps, rows, S)
    return codes.reshape(steps, rows // block, block, lanes), flags.reshape(steps, rows // block, block, s)


def _select_jobs(jobs, row_blocks, col_blocks, steps):
    """``jobs`` (default: every block pair, row-major) as an (n, 2) array, checked against the block counts, and
    the ``last`` flag of each of their ``steps`` beats, (n * steps,)."""
    if jobs is None:
        jobs = [(i, j) for i in range(row_blocks) for j in range(col_blocks)]
    jobs = np.asarray(jobs, np.int64).reshape(-1, 2)
    if jobs.size and (jobs.min() < 0 or jobs[:, 0].max() >= row_blocks or jobs[:, 1].max() >= col_blocks):
        raise JobError(f"job blocks must lie in [0, {row_blocks}) x [0, {col_blocks}), got "
                       f"{jobs.min(axis=0).tolist()}..{jobs.max(axis=0).tolist()}")
    last = np.zeros((len(jobs), steps), np.int64)
    last[:, -1] = 1
    return jobs, last.reshape(-1)


def _result_stream(contrib, ends, acc_width):
    """Per-beat contributions (beats, R, C) summed per job (each ending at a beat of ``ends``), wrapped: the result
    stream, one row of C accumulators per beat, ``last`` on each job's row R - 1."""
    rows, cols = contrib.shape[1:]
    starts = np.concatenate([[0], ends[:-1] + 1])
    sums = wrap(np.add.reduceat(contrib, starts, axis=0), acc_width)                     # (jobs, R, C)
    out_last = np.zeros((len(ends), rows), np.int64)
    out_last[:, -1] = 1
    return {"acc": sums.reshape(-1, cols), "last": out_last.reshape(-1)}


def job_beats(a, w, rows, cols, lanes, jobs=None):
    """Beats of the tile's input streams for the GEMM ``a @ w^T`` (``a``: M x K, ``w``: N x K ``SDRTensor``s).

    ``jobs``: ``[(i, j), ...]`` row-block / column-block pairs in order (default: all, row-major). Returns
    ``({"codes", "flags", "last"} of a, {"codes", "flags"} of w, jobs)``, beats along axis 0."""
    rows = check_int_param("rows", rows, 1, 64)
    cols = check_int_param("cols", cols, 1, 64)
    lanes = check_int_param("lanes", lanes, 1, 1024)
    ca, fa = _beats_of(a, "a", rows, lanes)
    cw, fw = _beats_of(w, "w", cols, lanes)
    if a.codes.shape[1] != w.codes.shape[1]:
        raise JobError(f"reduction lengths differ: a is {a.codes.shape}, w is {w.codes.shape}")
    if a.fmt.group_size != w.fmt.group_size:
        raise JobError(f"group sizes differ: a uses {a.fmt.group_size}, w uses {w.fmt.group_size}")
    jobs, last = _select_jobs(jobs, ca.shape[1], cw.shape[1], ca.shape[0])
    # (jobs, steps, block, ...) -> (jobs * steps, block, ...)
    abeat = {"codes": ca[:, jobs[:, 0]].swapaxes(0, 1).reshape(-1, rows, lanes),
             "flags": fa[:, jobs[:, 0]].swapaxes(0, 1).reshape(-1, rows, fa.shape[-1]),
             "last": last}
    wbeat = {"codes": cw[:, jobs[:, 1]].swapaxes(0, 1).reshape(-1, cols, lanes),
             "flags": fw[:, jobs[:, 1]].swapaxes(0, 1).reshape(-1, cols, fw.shape[-1])}
    return abeat, wbeat, [tuple(map(int, x)) for x in jobs]


def tile_golden(abeat, wbeat, fmt_a, fmt_w, acc_width=ACC_WIDTH):
    """The tile's result stream for its input beats: ``{"acc": (jobs * R, C), "last": (jobs * R,)}``.

    Beat ``b``, row ``r``, column ``c`` adds ``sum_s (sum_{l in s} ca[b,r,l] * cw[b,c,l]) << (fa[b,r,s] +
    fw[b,c,s])``; a job's sum starts after the previous ``last`` and is reported (wrapped to ``acc_width`` bits)
    at its own ``last``. Beats after the final ``last`` belong to no finished job and give no output."""
    ca, fa, last = (np.asarray(abeat[k]) for k in ("codes", "flags", "last"))
    cw, fw = np.asarray(wbeat["codes"]), np.asarray(wbeat["flags"])
    if ca.ndim != 3 or cw.ndim != 3 or fa.ndim != 3 or fw.ndim != 3 or last.ndim != 1:
        raise JobError(f"beats must be codes (beats, rows|cols, L), flags (beats, rows|cols, S), last (beats,); "
                       f"got a codes {ca.shape}, a flags {fa.shape}, last {last.shape}, w codes {cw.shape}, "
                       f"w flags {fw.shape}")
    n, rows, lanes = ca.shape
    cols, s = cw.shape[1], fa.shape[2]
    if cw.shape != (n, cols, lanes) or fa.shape != (n, rows, s) or fw.shape != (n, cols, s) or last.shape != (n,):
        raise JobError(f"beat streams disagree: a codes {ca.shape}, a flags {fa.shape}, last {last.shape}, "
                       f"w codes {cw.shape}, w flags {fw.shape}")
    if s < 1 or lanes % s:
        raise JobError(f"{s} flags per row do not divide {lanes} lanes into equal sub-groups")
    if last.size and not np.isin(last, (0, 1)).all():
        raise JobError(f"last must be 0 or 1, got values {np.unique(last)[:8].tolist()}")
    ca, fa = check_codes("a", ca, fa, fmt_a)
    cw, fw = check_codes("w", cw, fw, fmt_w)
    ends = np.flatnonzero(last)
    if not ends.size:
        return {"acc": np.zeros((0, cols), np.int64), "last": np.zeros(0, np.int64)}
    n = int(ends[-1]) + 1
    per = lanes // s
    # partial sums per beat, row, column, sub-group: 3x3-bit products of <= 64 lanes, exact in float64 BLAS
    pa = ca[:n].reshape(n, rows, s, per).astype(np.float64)
    pw = cw[:n].reshape(n, cols, s, per).astype(np.float64)
    partial = np.einsum("brsl,bcsl->brcs", pa, pw, optimize=True).astype(np.int64)
    shift = fa[:n, :, None, :] + fw[:n, None, :, :]
    contrib = (partial << shift).sum(axis=3)                                             # (beats, R, C)
    return _result_stream(contrib, ends, acc_width)


def blocks_to_matrix(acc, jobs, rows, cols, shape):
    """The result stream's ``acc`` (jobs * R, C) back into the ``shape`` (M, N) output matrix."""
    acc = np.asarray(acc).reshape(len(jobs), rows, cols)
    out = np.zeros(shape, np.int64)
    for (i, j), blk in zip(jobs, acc):
        out[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = blk
    return out


# ----------------------------------------------------------------------------------------------------------
# The INT tile (hdl.tile.IntGemmTile): the same jobs and beats, two's complement operands, no flags


def _int_beats_of(x, name, block, lanes, bits):
    x = check_int_array(name, x, bits)
    if x.ndim != 2:
        raise JobError(f"{name} must be 2-D (rows x K), got shape {x.shape}")
    rows, k = x.shape
    if rows % block:
        raise JobError(f"{name} has {rows} rows, not a multiple of the tile's {block} (pad it)")
    if k % lanes:
        raise JobError(f"{name}: reduction length K={k} is not a multiple of the tile's {lanes} lanes")
    steps = k // lanes
    codes = x.astype(np.int64).reshape(rows, steps, lanes).transpose(1, 0, 2)
    return codes.reshape(steps, rows // block, block, lanes)


def job_beats_int(a, w, rows, cols, lanes, a_bits=8, w_bits=8, jobs=None):
    """Beats of the INT tile's streams for ``a @ w^T`` (``a``: M x K, ``w``: N x K two's complement integers of
    ``a_bits`` and ``w_bits``): ``({"codes", "last"} of a, {"codes"} of w, jobs)``, as ``job_beats``."""
    rows = check_int_param("rows", rows, 1, 64)
    cols = check_int_param("cols", cols, 1, 64)
    lanes = check_int_param("lanes", lanes, 1, 1024)
    ca, cw = _int_beats_of(a, "a", rows, lanes, a_bits), _int_beats_of(w, "w", cols, lanes, w_bits)
    if ca.shape[0] != cw.shape[0]:
        raise JobError(f"reduction lengths differ: a has {ca.shape[0] * lanes}, w {cw.shape[0] * lanes}")
    jobs, last = _select_jobs(jobs, ca.shape[1], cw.shape[1], ca.shape[0])
    abeat = {"codes": ca[:, jobs[:, 0]].swapaxes(0, 1).reshape(-1, rows, lanes), "last": last}
    wbeat = {"codes": cw[:, jobs[:, 1]].swapaxes(0, 1).reshape(-1, cols, lanes)}
    return abeat, wbeat, [tuple(map(int, x)) for x in jobs]


def tile_golden_int(abeat, wbeat, a_bits=8, w_bits=8, acc_width=ACC_WIDTH):
    """The INT tile's result stream: per job (up to its ``last``) and row, the ``C`` sums ``sum a * w`` wrapped
    to ``acc_width`` bits, as ``tile_golden`` (beats after the final ``last`` give no output)."""
    ca, last, cw = np.asarray(abeat["codes"]), np.asarray(abeat["last"]), np.asarray(wbeat["codes"])
    if (ca.ndim != 3 or cw.ndim != 3 or last.ndim != 1 or cw.shape[0] != ca.shape[0]
            or last.shape[0] != ca.shape[0] or ca.shape[2] != cw.shape[2]):
        raise JobError(f"beats must be codes (beats, rows|cols, L) and last (beats,); got a codes {ca.shape}, "
                       f"last {last.shape}, w codes {cw.shape}")
    if last.size and not np.isin(last, (0, 1)).all():
        raise JobError(f"last must be 0 or 1, got values {np.unique(last)[:8].tolist()}")
    ca = check_int_array("a codes", ca, a_bits).astype(np.int64)
    cw = check_int_array("w codes", cw, w_bits).astype(np.int64)
    cols = cw.shape[1]
    ends = np.flatnonzero(last)
    if not ends.size:
        return {"acc": np.zeros((0, cols), np.int64), "last": np.zeros(0, np.int64)}
    n = int(ends[-1]) + 1
    # 8 x 8-bit products of <= 1024 lanes: exact in float64 BLAS
    contrib = np.einsum("brl,bcl->brc", ca[:n].astype(np.float64), cw[:n].astype(np.float64),
                        optimize=True).astype(np.int64)
    return _result_stream(contrib, ends, acc_width)
