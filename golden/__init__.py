"""QRazor golden model: NumPy only, no simulator imports. Bit-exact reference for every RTL unit.

See README.md ("Python API") and docs/number-formats.md for the decisions it implements.
"""

from . import fp16
from .mac import (
    ACC_WIDTH,
    Accumulator,
    accumulate,
    conventional_product,
    dfree_product,
    dot_dfree,
    dot_int,
    gemm_dfree,
    gemm_exact,
    gemm_reference,
    int_product,
    wrap,
)
from .pack import PackedSDR, pack, unpack
from .quant import Calibrator, absmax, absmax_scale, dequantize, qmax, quantize
from .sdr import (
    A16_K4,
    A16_K8,
    FLAG_BITS,
    GROUP_SIZES,
    KV8_K4,
    W8_K4,
    SDRFormat,
    SDRTensor,
    compress,
    compress_reference,
    decompress,
    group_flags,
    leading_one,
)
from .tile import JobError, blocks_to_matrix, job_beats, job_beats_int, sub_groups, tile_golden, tile_golden_int

__all__ = [
    "JobError",
    "blocks_to_matrix",
    "job_beats",
    "job_beats_int",
    "tile_golden_int",
    "sub_groups",
    "tile_golden",
    "Calibrator",
    "absmax",
    "absmax_scale",
    "dequantize",
    "qmax",
    "quantize",
    "A16_K4",
    "A16_K8",
    "FLAG_BITS",
    "GROUP_SIZES",
    "KV8_K4",
    "W8_K4",
    "SDRFormat",
    "SDRTensor",
    "compress",
    "compress_reference",
    "decompress",
    "group_flags",
    "leading_one",
    "PackedSDR",
    "pack",
    "unpack",
    "ACC_WIDTH",
    "Accumulator",
    "accumulate",
    "conventional_product",
    "dfree_product",
    "dot_dfree",
    "dot_int",
    "gemm_dfree",
    "gemm_exact",
    "gemm_reference",
    "int_product",
    "wrap",
    "fp16",
]
