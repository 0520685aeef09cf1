"""Pack per-lane values into the wide words of a ``lanes_<unit>`` wrapper, and back (lane 0 in the LSBs)."""

import numpy as np


def pack(values, width):
    """Values -> list of Python ints, one per cycle.

    ``values`` is (cycles, lanes) for a scalar port of ``width`` bits, or (cycles, lanes, k) for an array port
    of k elements of ``width // k`` bits each (element 0 in the LSBs). Signed values are taken modulo 2**bits.
    """
    v = np.asarray(values, dtype=np.int64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim == 2:
        v = v[:, :, None]
    ew = width // v.shape[2]
    u = (v & ((1 << ew) - 1)).astype(np.uint64)
    bits = ((u[..., None] >> np.arange(ew, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    packed = np.packbits(bits.reshape(v.shape[0], -1), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack(word, width, lanes):
    """One wide Python int -> list of per-lane Python ints (``width`` bits each)."""
    mask = (1 << width) - 1
    return [(word >> (lane * width)) & mask for lane in range(lanes)]
