"""Throughput of SDR compress + decompress: ``python -m llmstudy.bench [--elements N] [--group G]``.

Measures the library path (``compress`` + ``decompress``) and, in the same run on the same data, a
straightforward reference: the algorithm written plainly in NumPy with int64 arithmetic, one pass per step,
no chunking. Both results are checked equal before any figure is printed. A benchmark, not a test: it
asserts nothing about speed.
"""

import argparse
import time

import numpy as np

from golden.sdr import SDRFormat, compress, decompress


def straightforward(x, fmt):
    """Plain NumPy SDR: group, OR, leading one, truncate, round with guard, decompress."""
    n = fmt.mag_bits
    grp = x.astype(np.int64).reshape(-1, fmt.group_size)
    mag = np.minimum(np.abs(grp), fmt.max_mag)
    ored = np.bitwise_or.reduce(mag, axis=1)
    p = np.floor(np.log2(np.maximum(ored, 1))).astype(np.int64)
    p[ored == 0] = -1
    flag = np.maximum(p + 1 - n, 0)[:, None]
    kept = mag >> flag
    rnd = np.where(flag > 0, (mag >> np.maximum(flag - 1, 0)) & 1, 0)
    m = np.where(kept == (1 << n) - 1, kept, kept + rnd)
    codes = np.where(grp < 0, -m, m)
    return codes.reshape(x.shape), flag[:, 0], (codes << flag).reshape(x.shape)


def best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=1 << 24, help="tensor size (default 16 M)")
    ap.add_argument("--group", type=int, default=16, help="group size (default 16)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        fmt = SDRFormat(16, 4, args.group)
    except ValueError as e:
        ap.error(f"--group {args.group}: {e}")
    if not 1 <= args.elements <= 1 << 28 or args.elements % args.group:
        ap.error(f"--elements {args.elements}: expected a multiple of the group size {args.group} in "
                 f"[{args.group}, {1 << 28}]")
    if args.repeat < 1:
        ap.error(f"--repeat {args.repeat}: expected at least 1")
    if args.seed < 0:
        ap.error(f"--seed {args.seed}: expected a seed >= 0")
    rng = np.random.default_rng(args.seed)
    # activation-like data: mostly small, heavy tailed, with outliers up to the full 16-bit range
    x = np.clip(rng.standard_t(3, args.elements) * 800, -32767, 32767).astype(np.int16)

    t_lib, (c, d) = best_of(lambda: (lambda t: (t, decompress(t)))(compress(x, fmt)), args.repeat)
    t_ref, (rc, rf, rd) = best_of(lambda: straightforward(x, fmt), max(1, args.repeat - 2))
    if not (np.array_equal(c.codes, rc) and np.array_equal(c.flags, rf) and np.array_equal(d, rd)):
        raise SystemExit("library and straightforward reference disagree: not reporting throughput")
    n = x.size
    print(f"SDR compress+decompress, 16-bit activations, kept 4 bits, g={args.group}, {n:,} elements")
    print(f"  golden (compress + decompress):  {n / t_lib / 1e6:8.1f} M elements/s  ({t_lib * 1e3:.0f} ms)")
    print(f"  straightforward NumPy reference: {n / t_ref / 1e6:8.1f} M elements/s  ({t_ref * 1e3:.0f} ms)")
    print(f"  speed-up: {t_ref / t_lib:.1f}x; outputs identical on all {n:,} elements")


if __name__ == "__main__":
    main()
