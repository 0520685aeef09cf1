"""Block floating-point formats of today's 4-bit hardware: OCP MXFP4 (and MXFP8 E4M3) and NVIDIA NVFP4.

NumPy only. Element and scale codecs, quantizers, dequantizers, packing, and the dot-product step the
hardware of ``hdl.mx`` computes. See docs/number-formats.md ("MXFP4 and NVFP4") for every decision; in short:

* **E2M1** (FP4) elements: ``s ee m``, bias 1, values +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no Inf or NaN codes;
  conversion rounds to nearest, ties to even, and saturates to +-6; the sign of a value is kept, so a small
  negative value becomes ``-0`` (code 8), as torchao's conversion does.
* **E4M3** (OCP FP8 "fn"): bias 7, subnormals, largest 448, NaN ``S.1111.111``, no Inf; conversion rounds to
  nearest even and saturates (a finite value beyond 448 becomes 448).
* **E8M0** scale: ``2^(code - 127)``, code 255 is NaN.
* **MXFP4** (OCP MX v1.0): blocks of 32 E2M1 elements and one E8M0 scale ``X = 2^(floor(log2(amax)) - 2)``
  (the spec's rule with emax(E2M1) = 2, clamped to the E8M0 range); elements ``RNE_sat(V / X)``: exact, since X
  is a power of two. 4.25 bits per element.
* **NVFP4**: blocks of 16 E2M1 elements, one E4M3 block scale and one FP32 scale per tensor. The block scale is
  ``e4m3(clamp(amax / 6 / t, 2^-6, 448))`` and each element ``RNE_sat(x * ((1 / t) / s))`` with every step in
  FP32 arithmetic: the numerics of NVIDIA's quantization kernel as torchao transcribes them (the reciprocal is
  rounded, so an element near a rounding boundary can differ from rounding ``x / (s t)`` exactly; the tests count
  how often). 4.5 bits per element (plus 32 bits per tensor).
* A block whose values include a NaN **or an Inf** gets the NaN scale code (its elements are 0): a finite block
  cannot hold either. (torchao gives the NaN scale for NaN but saturates an Inf to the largest element at the
  largest scale; this is the one place the golden model departs from it on purpose, tested.)
* Blocks run along ``axis``; a row whose length is not a multiple of the block ends in a short block, zero-padded
  (zeros change neither the absolute maximum nor the dot product).
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BlockFormat", "MXFP4", "MXFP8", "NVFP4", "FORMATS", "E2M1_MAX", "E4M3_MAX", "E8M0_NAN", "E4M3_NAN",
    "E2M1_VALUES", "e2m1_encode", "e2m1_decode", "e4m3_encode", "e4m3_decode", "e8m0_decode", "round_to_float",
    "BlockTensor", "quantize", "dequantize", "fake_quantize", "tensor_scale", "pack", "unpack", "PackedBlock",
    "fp32", "dot_terms", "dot_stream", "BlockFormatError", "CANONICAL_NAN",
]

E2M1_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
E2M1_MAX = 6.0
E4M3_MAX = 448.0
E4M3_MIN_NORMAL = 2.0 ** -6
E8M0_NAN = 0xFF
E4M3_NAN = 0x7F
E8M0_BIAS = 127
# (exponent bits, mantissa bits, bias, largest finite value) of the element and scale formats
_MINIFLOATS = {"e2m1": (2, 1, 1, E2M1_MAX), "e4m3": (4, 3, 7, E4M3_MAX)}


class BlockFormatError(ValueError):
    """A value, code or parameter the block formats do not define."""


@dataclass(frozen=True)
class BlockFormat:
    """One block format: ``elem`` ('e2m1' or 'e4m3') elements, ``block`` of them per ``scale`` ('e8m0': MX, a
    power of two; 'e4m3': NVFP4, with an FP32 scale per tensor)."""
    name: str
    elem: str
    scale: str
    block: int

    def __post_init__(self):
        if self.elem not in _MINIFLOATS:
            raise BlockFormatError(f"element format must be one of {sorted(_MINIFLOATS)}, not {self.elem!r}")
        if self.scale not in ("e8m0", "e4m3"):
            raise BlockFormatError(f"scale format must be 'e8m0' or 'e4m3', not {self.scale!r}")
        if isinstance(self.block, bool) or not isinstance(self.block, (int, np.integer)) or self.block < 2 \
                or self.block & (self.block - 1):
            raise BlockFormatError(f"block size must be a power of two >= 2, not {self.block!r}")

    @property
    def elem_bits(self):
        e, m, _, _ = _MINIFLOATS[self.elem]
        return 1 + e + m

    @property
    def bits_per_element(self):
        """Element bits plus the block scale's share (the NVFP4 per-tensor FP32 scale is not counted)."""
        return self.elem_bits + 8 / self.block

    def with_block(self, block):
        return BlockFormat(f"{self.name.split(' b')[0]} b{block}", self.elem, self.scale, block)


MXFP4 = BlockFormat("MXFP4", "e2m1", "e8m0", 32)
MXFP8 = BlockFormat("MXFP8", "e4m3", "e8m0", 32)
NVFP4 = BlockFormat("NVFP4", "e2m1", "e4m3", 16)
FORMATS = {f.name: f for f in (MXFP4, MXFP8, NVFP4)}


# ---------------------------------------------------------------------------------------------------------
# Element and scale codecs

def round_to_float(mag, elem):
    """Non-negative finite ``mag`` rounded to the nearest value of ``elem`` ('e2m1' or 'e4m3'), ties to even,
    saturating to the largest value (float64 in and out; exact: every step is a power-of-two scaling or
    ``rint``)."""
    ebits, mbits, bias, top = _MINIFLOATS[elem]
    mag = np.asarray(mag, dtype=np.float64)
    if elem == "e2m1":                                     # the same rule, unrolled: quanta 0.5, 1 and 2
        m = np.minimum(mag, top)
        return np.where(m < 2, np.rint(m * 2) * 0.5, np.where(m < 4, np.rint(m), np.rint(m * 0.5) * 2))
    _, ex = np.frexp(mag)                                  # mag = f * 2^ex, f in [0.5, 1): floor(log2) = ex - 1
    e = np.maximum(ex - 1, 1 - bias)                       # subnormals share the smallest normal exponent
    quantum = np.ldexp(1.0, e - mbits)
    return np.minimum(np.rint(mag / quantum) * quantum, top)


def _encode(v, elem):
    ebits, mbits, bias, _ = _MINIFLOATS[elem]
    v = np.asarray(v, dtype=np.float64)
    sign = np.signbit(v).astype(np.uint8)
    r = round_to_float(np.abs(v), elem)
    _, ex = np.frexp(r)
    e = np.maximum(ex - 1, 1 - bias)
    normal = r >= np.ldexp(1.0, 1 - bias)
    field = np.where(normal, e + bias, 0)
    mant = np.where(normal, np.ldexp(r, mbits - e) - (1 << mbits), np.ldexp(r, mbits - (1 - bias)))
    code = (sign << (ebits + mbits)) | (field.astype(np.int64) << mbits).astype(np.uint8) | mant.astype(np.uint8)
    return code.astype(np.uint8)


def _value_table(elem):
    ebits, mbits, bias, _ = _MINIFLOATS[elem]
    c = np.arange(1 << (1 + ebits + mbits))
    field, mant = (c >> mbits) & ((1 << ebits) - 1), c & ((1 << mbits) - 1)
    mag = np.where(field > 0, np.ldexp(1.0 + mant / (1 << mbits), field - bias),
                   np.ldexp(mant.astype(np.float64), 1 - bias - mbits))
    return np.where(c >> (ebits + mbits) & 1, -mag, mag)


_VALUES = {elem: _value_table(elem) for elem in _MINIFLOATS}
_TWICE_E2M1 = (2 * _VALUES["e2m1"][:8]).astype(np.int64)        # 0, 1, 2, 3, 4, 6, 8, 12: exact integers


def _decode(codes, elem):
    table = _VALUES[elem]
    c = np.asarray(codes)
    if c.dtype != np.uint8 or table.size != 256:
        c = c.astype(np.int64)
        if c.size and (c.min() < 0 or c.max() >= table.size):
            bad = c[(c < 0) | (c >= table.size)].flat[0]
            raise BlockFormatError(f"{elem} code {bad} is out of range 0..{table.size - 1}")
    return table[c]


def e2m1_encode(v):
    """Codes (uint8, 0..15) of finite values ``v``: round to nearest even, saturate to +-6, sign kept (-0)."""
    v = np.asarray(v, dtype=np.float64)
    if not np.isfinite(v).all():
        raise BlockFormatError(f"E2M1 has no code for {v[~np.isfinite(v)].flat[0]}: it has no Inf or NaN")
    return _encode(v, "e2m1")


def e2m1_decode(codes):
    """Values (float64) of E2M1 codes 0..15."""
    return _decode(codes, "e2m1")


def e4m3_encode(v):
    """OCP E4M3 ("fn") codes of ``v``: round to nearest even, saturate finite values (and Inf) to +-448,
    NaN -> 0x7F."""
    v = np.asarray(v, dtype=np.float64)
    nan = np.isnan(v)
    code = _encode(np.where(nan, 0.0, v), "e4m3")
    return np.where(nan, np.uint8(E4M3_NAN), code).astype(np.uint8)


def e4m3_decode(codes):
    """Values of E4M3 codes 0..255 (0x7F and 0xFF are NaN)."""
    c = np.asarray(codes)
    val = _decode(c, "e4m3")
    return np.where((c.astype(np.int64) & 0x7F) == 0x7F, np.nan, val)


def e8m0_decode(codes):
    """``2^(code - 127)`` (float64; 2^-127 is exact), NaN for code 255."""
    c = np.asarray(codes).astype(np.int64)
    if c.size and (c.min() < 0 or c.max() > 255):
        raise BlockFormatError(f"E8M0 code {c[(c < 0) | (c > 255)].flat[0]} is out of range 0..255")
    return np.where(c == E8M0_NAN, np.nan, np.ldexp(1.0, c - E8M0_BIAS))


def fp32(x):
    """``x`` rounded to binary32 (round to nearest even, subnormals, overflow to Inf), as float32."""
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=np.float64).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# Quantization

@dataclass(frozen=True)
class BlockTensor:
    """A quantized tensor: ``codes`` (uint8, one element code each, the tensor's shape with the block axis
    last, zero-padded to whole blocks), ``scales`` (uint8, one code per block), and for NVFP4 the FP32
    ``tensor_scale``. ``length`` is the unpadded length of the block axis; ``axis`` where it was."""
    codes: np.ndarray
    scales: np.ndarray
    fmt: BlockFormat
    length: int
    axis: int
    tensor_scale: float = 1.0


def _blocks(x, block, axis):
    """``x`` with ``axis`` moved last, zero-padded to whole blocks and split: ``(..., nblocks, block)``."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    n = x.shape[-1]
    pad = -n % block
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), dtype=x.dtype)], axis=-1)
    return x.reshape(x.shape[:-1] + (x.shape[-1] // block, block)), n


def _as_f32(x):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise BlockFormatError(f"block quantization needs real numbers, not dtype {x.dtype}")
    with np.errstate(over="ignore"):
        return x.astype(np.float32)


def _f32_exponent_field(x32):
    return (np.abs(x32).view(np.int32) >> 23) & 0xFF


def tensor_scale(amax):
    """NVFP4's per-tensor FP32 scale for a tensor (or calibrated) absolute maximum: ``amax / (448 * 6)``, so a
    block holding the tensor's maximum gets the largest block scale."""
    a = np.float32(amax)
    if not np.isfinite(a) or a < 0:
        raise BlockFormatError(f"a tensor's absolute maximum must be finite and >= 0, not {amax!r}")
    s = np.float32(a / np.float32(E4M3_MAX * E2M1_MAX))
    return float(s) if s > 0 else 1.0


def _scaled(x, fmt, axis, tensor_scale):
    """The block scales (codes), each element divided by its scale (float64, before rounding), the blocks
    holding a NaN or Inf, the unpadded length, the axis and the tensor scale."""
    if not isinstance(fmt, BlockFormat):
        raise BlockFormatError(f"fmt must be a BlockFormat, not {fmt!r}")
    x32 = _as_f32(x)
    if x32.ndim == 0:
        raise BlockFormatError("block quantization needs at least one axis")
    axis = axis % x32.ndim
    blocks, n = _blocks(x32, fmt.block, axis)
    bad = ~np.isfinite(blocks).all(axis=-1)                      # a NaN or Inf in the block
    clean = np.where(bad[..., None], np.float32(0), blocks)
    elem = _MINIFLOATS[fmt.elem]
    if fmt.scale == "e8m0":
        amax = np.abs(clean).max(axis=-1)
        emax_elem = int(np.floor(np.log2(elem[3])))              # 2 for E2M1, 8 for E4M3
        unbiased = np.clip(_f32_exponent_field(amax).astype(np.int64) - 127 - emax_elem, -127, 127)
        scales = np.where(bad, E8M0_NAN, unbiased + E8M0_BIAS).astype(np.uint8)
        y = np.ldexp(clean.astype(np.float64), -unbiased[..., None])           # exact
        ts = 1.0
    else:
        if fmt.elem != "e2m1":
            raise BlockFormatError(f"an E4M3 block scale is defined for E2M1 elements (NVFP4), not {fmt.elem}")
        ts = np.float32(1.0 if tensor_scale is None else tensor_scale)
        if not (np.isfinite(ts) and ts > 0):
            raise BlockFormatError(f"the NVFP4 tensor scale must be finite and > 0, not {tensor_scale!r}")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            amax = np.abs(clean).max(axis=-1)
            bs = amax / np.float32(E2M1_MAX)
            if tensor_scale is not None:
                bs = (bs / ts).astype(np.float32)
            s8 = e4m3_encode(np.clip(bs, np.float32(E4M3_MIN_NORMAL), np.float32(E4M3_MAX)))
            s32 = e4m3_decode(s8).astype(np.float32)
            recip = (np.float32(1.0) / s32) if tensor_scale is None else ((np.float32(1.0) / ts) / s32)
            y = (clean * recip.astype(np.float32)[..., None]).astype(np.float32)
        y = np.clip(y, -np.float32(E2M1_MAX), np.float32(E2M1_MAX)).astype(np.float64)
        scales = np.where(bad, E4M3_NAN, s8).astype(np.uint8)
    return y, scales, bad, n, axis, float(ts)


def quantize(x, fmt=MXFP4, axis=-1, tensor_scale=None):
    """Quantize ``x`` (cast to float32 first, the formats' input precision) to ``fmt`` in blocks along ``axis``.

    MX formats: E8M0 scale from the block's absolute maximum (OCP rule), elements by exact division. NVFP4:
    ``tensor_scale`` is the FP32 per-tensor scale (``None``: 1.0, single-level scaling as torchao without one).
    """
    y, scales, bad, n, axis, ts = _scaled(x, fmt, axis, tensor_scale)
    codes = _encode(y, fmt.elem)
    codes = np.where(bad[..., None], np.uint8(0), codes).astype(np.uint8)
    codes = codes.reshape(codes.shape[:-2] + (-1,))
    return BlockTensor(codes, scales, fmt, n, axis, ts)


def _scale_value(scales, fmt, ts):
    if fmt.scale == "e8m0":
        return e8m0_decode(scales)
    return e4m3_decode(scales) * ts


def _unblock(v, n, axis):
    v = v.reshape(v.shape[:-2] + (-1,))[..., :n]
    return np.moveaxis(v, -1, axis)


def scale_values(t):
    """The value of each block scale (float64; NaN for the NaN code), the NVFP4 tensor scale included."""
    return _scale_value(t.scales, t.fmt, t.tensor_scale)


def dequantize(t):
    """The values a ``BlockTensor`` stands for (float64, original shape and axis; NaN for a NaN block)."""
    v = _decode(t.codes, t.fmt.elem).reshape(t.scales.shape + (t.fmt.block,)) * scale_values(t)[..., None]
    return _unblock(v, t.length, t.axis)


def fake_quantize(x, fmt=MXFP4, axis=-1, tensor_scale=None):
    """``dequantize(quantize(x, ...))``, computed without the codes (the accuracy study's hot path; the tests
    check it equals the two steps)."""
    y, scales, bad, n, axis, ts = _scaled(x, fmt, axis, tensor_scale)
    v = np.copysign(round_to_float(np.abs(y), fmt.elem), y) * _scale_value(scales, fmt, ts)[..., None]
    return _unblock(v, n, axis)


# ---------------------------------------------------------------------------------------------------------
# Packed storage

@dataclass(frozen=True)
class PackedBlock:
    elements: bytes
    scales: bytes
    shape: tuple
    fmt: BlockFormat
    axis: int
    tensor_scale: float

    @property
    def bits_per_element(self):
        n = int(np.prod(self.shape))
        return 8 * (len(self.elements) + len(self.scales)) / n


def pack(t):
    """Elements ``elem_bits`` each, two E2M1 codes per byte with the first in the low nibble (the layout of
    torchao's ``pack_uint4``), in the order of the tensor with the block axis last (padded to whole blocks),
    then one byte per block scale."""
    codes = t.codes.reshape(-1)
    if t.fmt.elem_bits == 4:
        codes = np.concatenate([codes, np.zeros(codes.size % 2, np.uint8)])
        data = (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)
    else:
        data = codes.astype(np.uint8)
    shape = t.codes.shape[:-1] + (t.length,)
    shape = shape[:-1][:t.axis] + (t.length,) + shape[:-1][t.axis:]
    return PackedBlock(data.tobytes(), t.scales.astype(np.uint8).tobytes(), shape, t.fmt, t.axis, t.tensor_scale)


def unpack(p):
    """The ``BlockTensor`` of a ``PackedBlock``; rejects a wrong section length, padding that is not zero,
    non-zero codes in a padded tail, and (MX) a NaN scale with non-zero elements."""
    shape, fmt = tuple(p.shape), p.fmt
    n = shape[p.axis]
    rows = int(np.prod(shape)) // n if n else 0
    nblocks = -(-n // fmt.block)
    count = rows * nblocks * fmt.block
    if fmt.elem_bits == 4:
        need = (count + 1) // 2
        if len(p.elements) != need:
            raise BlockFormatError(f"packed element section is {len(p.elements)} bytes, expected {need}")
        raw = np.frombuffer(p.elements, np.uint8)
        codes = np.stack([raw & 0xF, raw >> 4], axis=-1).reshape(-1)
        if count % 2 and codes[-1]:
            raise BlockFormatError("packed element section has a non-zero padding nibble: corrupt data")
        codes = codes[:count]
    else:
        if len(p.elements) != count:
            raise BlockFormatError(f"packed element section is {len(p.elements)} bytes, expected {count}")
        codes = np.frombuffer(p.elements, np.uint8).copy()
    if len(p.scales) != rows * nblocks:
        raise BlockFormatError(f"packed scale section is {len(p.scales)} bytes, expected {rows * nblocks}")
    lead = tuple(np.delete(np.array(shape, dtype=np.int64), p.axis))
    codes = codes.reshape(lead + (nblocks * fmt.block,))
    scales = np.frombuffer(p.scales, np.uint8).reshape(lead + (nblocks,)).copy()
    tail = codes[..., n:]
    if tail.size and tail.any():
        raise BlockFormatError("packed elements beyond the row's length are not zero: corrupt data")
    return BlockTensor(codes, scales, fmt, n, p.axis, p.tensor_scale)


# ---------------------------------------------------------------------------------------------------------
# The dot-product step of the hardware (hdl.mx)

def _check_codes(name, c, top):
    c = np.asarray(c)
    if c.dtype.kind not in "iu":
        raise BlockFormatError(f"{name} must be integer codes, not dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > top):
        raise BlockFormatError(f"{name} holds code {int(c[(c < 0) | (c > top)].flat[0])}, expected 0..{top}")
    return c.astype(np.int64)


def _e2m1_twice(c):
    """``2 * value`` of E2M1 codes as exact integers (magnitudes 0, 1, 2, 3, 4, 6, 8, 12)."""
    mag = _TWICE_E2M1[c & 7]
    return np.where(c & 8, -mag, mag)


def _e4m3_parts(c):
    """``(significand, exponent)`` with value ``significand * 2^exponent``: the significand is the 4-bit
    ``1.mmm`` (or ``0.mmm`` for subnormals) times 8, the exponent ``max(field, 1) - 7 - 3``."""
    field, mant = (c >> 3) & 0xF, c & 7
    return np.where(field > 0, mant | 8, mant), np.maximum(field, 1) - 10


def dot_terms(a, sa, w, sw, fmt, lanes):
    """The exact value of each cycle's step, as ``(mantissa, exponent, nan)`` (int64, int64, bool) per cycle:
    value = mantissa * 2^exponent.

    ``a``, ``w``: E2M1 codes ``(..., cycles, lanes)``; ``sa``, ``sw``: the scale codes of each cycle's blocks
    ``(..., cycles, S)`` with ``S = max(1, lanes // fmt.block)`` blocks per cycle (a block of ``g >= lanes`` spans
    ``g / lanes`` cycles, its scale presented in each). Per block: the lane products ``(2a)(2w)`` summed exactly
    (an integer), times the product of the two scales; MX: ``2^(sa + sw - 254 - 2)``; NVFP4:
    ``(ma mw) 2^(ea + ew - 2)``. A cycle's blocks are summed exactly (the NVFP4 scale range is small enough for
    a 64-bit window; MX cycles never hold two blocks since L <= 32 = block). A NaN scale makes the step NaN.
    """
    if fmt.elem != "e2m1":
        raise BlockFormatError(f"the dot-product units take E2M1 elements, not {fmt.elem}")
    a, w = _check_codes("a", a, 15), _check_codes("w", w, 15)
    top = 255 if fmt.scale == "e8m0" else 127                 # NVFP4 block scales are unsigned E4M3 (UE4M3)
    sa, sw = _check_codes("sa", sa, top), _check_codes("sw", sw, top)
    sub = max(1, lanes // fmt.block)
    if a.shape[-1] != lanes or w.shape != a.shape:
        raise BlockFormatError(f"a and w must be (..., cycles, {lanes}); got {a.shape} and {w.shape}")
    if sa.shape != a.shape[:-1] + (sub,) or sw.shape != sa.shape:
        raise BlockFormatError(f"sa and sw must be (..., cycles, {sub}); got {sa.shape} and {sw.shape}")
    prods = (_e2m1_twice(a) * _e2m1_twice(w)).reshape(a.shape[:-1] + (sub, lanes // sub)).sum(axis=-1)
    if fmt.scale == "e8m0":
        if sub != 1:
            raise BlockFormatError(f"an MX unit of {lanes} lanes would hold {sub} blocks of {fmt.block} a cycle")
        nan = (sa[..., 0] == E8M0_NAN) | (sw[..., 0] == E8M0_NAN)
        return prods[..., 0], sa[..., 0] + sw[..., 0] - 2 * E8M0_BIAS - 2, nan
    ma, ea = _e4m3_parts(sa)
    mw, ew = _e4m3_parts(sw)
    nan = ((sa == E4M3_NAN) | (sw == E4M3_NAN)).any(axis=-1)
    mant = prods * ma * mw                                   # |.| <= 16 * 144 * 225 < 2^20 per block
    exp = ea + ew - 2                                        # -2: the two doubled E2M1 values
    base = exp.min(axis=-1)
    total = (mant << (exp - base[..., None])).sum(axis=-1)   # exponents span <= 34: fits in 64 bits
    return total, base, nan


def _term_fp32(mant, exp, nan):
    """``mant * 2^exp`` rounded once to binary32 (the unit's converter), NaN where ``nan``."""
    m = np.asarray(mant, dtype=np.int64)
    sign = m < 0
    mag = np.abs(m)
    # round once, in integers, to the FP32 quantum at this magnitude: 24 significant bits, or 2^-149 below the
    # normal range (so no double rounding for subnormal results); overflow is left to the conversion below
    nbits = np.zeros(m.shape, np.int64)
    for b in range(62, -1, -1):                              # bit length of |mant| (< 2^56)
        nbits = np.where((nbits == 0) & (mag >> b > 0), b + 1, nbits)
    quantum = np.maximum(exp + nbits - 24, -149)
    drop = np.clip(quantum - exp, 0, 62)
    q = mag >> drop
    rem = mag - (q << drop)
    half = np.where(drop > 0, np.int64(1) << np.maximum(drop - 1, 0), 0)
    up = (drop > 0) & ((rem > half) | ((rem == half) & (q & 1 == 1)))
    q = q + up
    val = np.ldexp(q.astype(np.float64), exp + drop)
    val = np.where(sign, -val, val)
    out = fp32(val)                        # exact now, except an overflow to Inf
    return np.where(nan, np.float32(np.nan), out)


CANONICAL_NAN = 0x7FC00000


def dot_stream(a, sa, w, sw, fmt, lanes, load=None, en=None):
    """The FP32 accumulator of an L-lane unit over a stream of cycles (``a``, ``w``: ``(cycles, lanes)``;
    ``sa``, ``sw``: ``(cycles, S)``), from reset (+0): per enabled cycle ``acc <= fp32((load ? -0 : acc) +
    fp32(term))``, where ``term`` is ``dot_terms``' exact step (one rounding into FP32, exact unless outside the
    FP32 range), then one FP32 addition (round to nearest even; -0 is the identity, so ``load`` gives the term
    itself). A NaN is the canonical quiet NaN ``0x7FC00000``. Returns the accumulator's bit pattern after each
    cycle (uint32)."""
    mant, exp, nan = dot_terms(a, sa, w, sw, fmt, lanes)
    terms = _term_fp32(mant, exp, nan)
    n = terms.shape[0]
    load = np.zeros(n, bool) if load is None else np.asarray(load, bool)
    en = np.ones(n, bool) if en is None else np.asarray(en, bool)
    out = np.empty(n, np.uint32)
    acc = np.float32(0.0)
    nan32 = np.array([CANONICAL_NAN], np.uint32).view(np.float32)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n):
            if en[i]:
                acc = np.float32((np.float32(-0.0) if load[i] else acc) + terms[i])
                if np.isnan(acc):
                    acc = nan32
            out[i] = np.array([acc], np.float32).view(np.uint32)[0]
    return out
