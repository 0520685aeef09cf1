"""Packed storage of an SDR tensor: ``kept_bits``-bit elements, then 4-bit flags, bit-packed LSB first.

Element ``i`` (in the order of the tensor with the grouping axis moved last, C order) occupies bits
``[i*K, (i+1)*K)`` of the element section as a sign-magnitude word ``sign << (K-1) | magnitude``; group ``j``'s
flag occupies bits ``[4j, 4j+4)`` of the flag section. Each section is padded to a whole byte. With K=4 the
size is ``N/2 + N/(2g)`` bytes: 4.25 bits per element at g=16, 4.125 at g=32.
"""

from dataclasses import dataclass

import numpy as np

from .sdr import FLAG_BITS, SDRFormat, SDRTensor

__all__ = ["PackedSDR", "pack", "unpack"]


@dataclass(frozen=True)
class PackedSDR:
    elements: bytes
    flags: bytes
    shape: tuple
    fmt: SDRFormat
    axis: int

    @property
    def nbytes(self):
        return len(self.elements) + len(self.flags)

    @property
    def bits_per_element(self):
        return 8 * self.nbytes / int(np.prod(self.shape))


def _to_bits(values, width):
    v = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1, 1)
    return np.unpackbits(v, axis=1, bitorder="little")[:, :width].reshape(-1)


def _from_bits(data, count, width, what):
    need = (count * width + 7) // 8
    if len(data) != need:
        raise ValueError(f"packed {what} section is {len(data)} bytes, expected {need} for {count} "
                         f"fields of {width} bits")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    pad = bits[count * width:]
    if pad.any():
        raise ValueError(f"packed {what} section has non-zero padding bits: corrupt data")
    fields = bits[:count * width].reshape(count, width)
    return fields @ (1 << np.arange(width, dtype=np.int64))


def pack(t):
    if not isinstance(t, SDRTensor):
        raise TypeError(f"expected an SDRTensor, not {type(t).__name__}")
    n = t.fmt.mag_bits
    codes = np.moveaxis(t.codes, t.axis, -1).astype(np.int16)
    words = (np.abs(codes) | ((codes < 0).astype(np.int16) << n)).reshape(-1)
    flags = np.moveaxis(t.flags, t.axis, -1).reshape(-1)
    return PackedSDR(
        elements=np.packbits(_to_bits(words, t.fmt.kept_bits), bitorder="little").tobytes(),
        flags=np.packbits(_to_bits(flags, FLAG_BITS), bitorder="little").tobytes(),
        shape=tuple(t.shape), fmt=t.fmt, axis=t.axis)


def unpack(p):
    if not isinstance(p, PackedSDR):
        raise TypeError(f"expected a PackedSDR, not {type(p).__name__}")
    fmt, n = p.fmt, p.fmt.mag_bits
    moved = list(p.shape)
    moved.append(moved.pop(p.axis))
    count = int(np.prod(moved))
    if moved[-1] % fmt.group_size:
        raise ValueError(f"group_size {fmt.group_size} does not divide the grouping axis of length {moved[-1]}")
    words = _from_bits(p.elements, count, fmt.kept_bits, "element")
    flags = _from_bits(p.flags, count // fmt.group_size, FLAG_BITS, "flag")
    if flags.size and flags.max() > fmt.max_flag:
        raise ValueError(f"packed flag {int(flags.max())} exceeds the largest flag {fmt.max_flag} of {fmt}")
    mag, sign = words & fmt.max_code, words >> n
    if (sign.astype(bool) & (mag == 0)).any():
        raise ValueError("packed element holds a negative zero, which compress() never produces: corrupt data")
    codes = np.where(sign.astype(bool), -mag, mag).astype(np.int8).reshape(moved)
    flags = flags.astype(np.uint8).reshape(moved[:-1] + [moved[-1] // fmt.group_size])
    return SDRTensor(np.moveaxis(codes, -1, p.axis), np.moveaxis(flags, -1, p.axis), fmt, p.axis)
