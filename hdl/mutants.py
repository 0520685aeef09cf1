# amaranth: UnusedElaboratable=no
"""Deliberately broken variants of registered units, one per class of bug a check must catch (the tests run
each through the check and require it to fail). Not for use in designs.

* ``no_output_register``: the pipelined SDR encoder with its output register removed (the outputs follow the
  inputs combinationally) while it still declares latency 1: benches that read outputs with the answered
  cycle's inputs still applied cannot see it.
* ``load_ignores_en``: the decompression-free MAC whose accumulator clears on ``load`` even while ``en`` is low
  (the documented priority: ``load`` acts only with ``en``): stimulus that never drives ``load`` without ``en``
  cannot see it.
"""

import dataclasses

from amaranth import Signal

from .catalog import get
from .macs import DecompressionFreeMAC
from .parts import Accumulator
from .sdr_encoder import SDREncoder

__all__ = ["no_output_register", "load_ignores_en"]


class _CombinationalEncoder(SDREncoder):
    """The SDR encoder with combinational outputs that claims the pipelined encoder's latency 1 (it keeps a
    clock and reset: one register on ``i_valid`` that nothing reads)."""

    def __init__(self, **params):
        super().__init__(**dict(params, pipeline=False))

    @property
    def latency(self):
        return 1

    def elaborate(self, platform):
        m = super().elaborate(platform)
        seen = Signal(name="seen")
        m.d.sync += seen.eq(self.i_valid)
        return m


class _LoadFirstAccumulator(Accumulator):
    """As ``Accumulator``, but ``load`` with ``en`` low clears ``acc`` (it should leave it): ``load`` wins."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.load & ~self.en):
            m.d.sync += self.acc.eq(0)
        return m


class _LoadFirstMAC(DecompressionFreeMAC):
    accumulator = _LoadFirstAccumulator


def no_output_register():
    """``sdr_encoder_a16k4_g16_pipe`` with its output register removed (named ``..._mutant_comb``)."""
    u = get("sdr_encoder_a16k4_g16_pipe")
    return dataclasses.replace(u, name=u.name + "_mutant_comb", component=_CombinationalEncoder)


def load_ignores_en():
    """``mac_dfree_w4a4`` with ``load`` clearing the accumulator while ``en`` is low (``..._mutant_load``)."""
    u = get("mac_dfree_w4a4")
    return dataclasses.replace(u, name=u.name + "_mutant_load", component=_LoadFirstMAC)
