"""The project's units, one descriptor each (``hdl.unit.Unit``), built by one function per unit family, and the
registry that holds them: ``get(name)``, ``units(...)``.

A family function states, for every unit of its kind: the component and parameters, the golden function (the
unit's own: the conventional MAC is checked against ``conventional_product``, the decompression-free one
against ``dfree_product``), how a data source's streams become port values, the exhaustive and corner
segments, the report table and the area groups. The families, one module each: ``macs`` (compressed, INT and
FP16 MACs), ``codecs`` (SDR encoders and decoders), ``dots`` (dot-product units), ``dmq`` (the DMQ baseline),
``mx`` (MXFP4 and NVFP4 dot-product units), ``tiles`` (GEMM tiles and the tile GEMM API). Importing this package
registers the units; ``hdl.unit`` holds the descriptor and the registry's mechanics and imports none of this.
"""

# isort: off
# registration order = report order within a table: the MACs, encoders and decoders, dot-product units, DMQ,
# MXFP4/NVFP4, tiles
from . import macs, codecs, dots, dmq, mx, tiles  # noqa: F401
# isort: on
from ..unit import get, register, units
from .codecs import DECODER_TABLE, ENCODER_TABLE, decoder, encoder, encoder_corner_groups
from .common import A4, A8, W4, accumulating, headline
from .dmq import dmq_corner_groups, dmq_encoder, dot_dmq_unit
from .dots import DOT_LANES, dot_dfree_unit, dot_int_unit, dot_table
from .macs import MAC_TABLE, PAPER_TABLE5, compressed_mac, fp16_mac, int_mac
from .tiles import TILE_TABLE, gemm_tile_unit, int_tile_unit, tile_beats, tile_formats, tile_gemm, tile_razor

# every kind of component `python -m hdl.export --custom` builds: kind -> component class, from the families
KINDS = {**macs.KINDS, **codecs.KINDS, **dots.KINDS, **dmq.KINDS, **mx.KINDS, **tiles.KINDS}

__all__ = [
    "KINDS",
    "get", "units", "register", "headline", "A4", "A8", "W4", "accumulating",
    "MAC_TABLE", "PAPER_TABLE5", "compressed_mac", "int_mac", "fp16_mac",
    "ENCODER_TABLE", "DECODER_TABLE", "encoder", "decoder", "encoder_corner_groups",
    "DOT_LANES", "dot_table", "dot_dfree_unit", "dot_int_unit",
    "dmq_encoder", "dot_dmq_unit", "dmq_corner_groups",
    "TILE_TABLE", "gemm_tile_unit", "int_tile_unit", "tile_formats", "tile_beats", "tile_razor", "tile_gemm",
]
