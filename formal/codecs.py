# amaranth: UnusedElaboratable=no
"""SDR encoder proofs (against a behavioural reference) and decoder proofs (the decoder inverts the encoder)."""


from golden.sdr import FLAG_BITS, SDRFormat
from hdl.sdr_decoder import SDRDecoder
from hdl.sdr_encoder import SDREncoder

from .core import Proof, _export

# ---------------------------------------------------------------- the SDR encoder against a behavioural reference

def encoder_reference(name, g, base, kept):
    """Behavioural SDR encoder with the unit's ports, written from the golden model's rules (not the RTL's
    structure): per element the absolute value with the most negative value saturated, the OR of the group,
    its bit length by a loop, ``flag = max(0, bitlen - n)``, round half up by adding half a step
    (``(m + 2^(f-1)) >> f``, clamped to the largest code: the overflow guard), sign 0 for a zero code."""
    n = kept - 1
    maxmag = (1 << (base - 1)) - 1
    return f"""module {name}(input [{g * base - 1}:0] x, input i_valid, output reg [{g * kept - 1}:0] codes,
    output reg [{FLAG_BITS - 1}:0] flag, output o_valid);
  assign o_valid = i_valid;
  integer i, b, len;
  reg signed [{base - 1}:0] v;
  reg [{base}:0] mag, ored, r;
  always @* begin
    ored = 0;
    for (i = 0; i < {g}; i = i + 1) begin
      v = x[i*{base} +: {base}];
      mag = (v < 0) ? -v : v;
      if (mag > {maxmag}) mag = {maxmag};
      ored = ored | mag;
    end
    len = 0;
    for (b = 0; b < {base}; b = b + 1)
      if (ored[b]) len = b + 1;
    flag = (len > {n}) ? len - {n} : 0;
    for (i = 0; i < {g}; i = i + 1) begin
      v = x[i*{base} +: {base}];
      mag = (v < 0) ? -v : v;
      if (mag > {maxmag}) mag = {maxmag};
      r = (flag == 0) ? mag : ((mag + ({base + 1}'d1 << (flag - 1))) >> flag);
      if (r > {(1 << n) - 1}) r = {(1 << n) - 1};
      codes[i*{kept} +: {kept}] = {{(v < 0) && (r != 0), r[{n - 1}:0]}};
    end
  end
endmodule
"""


def encoder_proof(g, base, kept):
    enc = SDREncoder(group_size=g, base_bits=base, kept_bits=kept)
    name = f"enc_a{base}k{kept}_g{g}"
    return Proof(
        name, f"SDR encoder {base} -> {kept} bits, g = {g}: equals the behavioural reference for every group",
        "equiv", {"dut.v": _export(enc, "dut"), "ref.v": encoder_reference("ref", g, base, kept)}, "dut.v", "miter",
        (r"(sh0\[\d+:1\]) \+ ", r"\1 - "), gold="ref", gate="dut", tags=("encoder", f"g{g}"))


# ---------------------------------------------------------------- the decoder inverts the encoder's codes

def decoder_proof(g, base, kept):
    """Encoder -> ``g`` decoders: the decoded value is the code's ``(-1)^s m << flag``; exactly the input where the
    input is representable at the group's flag (low ``flag`` bits zero, not the saturated most negative value);
    within half a step of the (saturated) input elsewhere, one step where the overflow guard floors."""
    fmt = SDRFormat(base, kept, g)
    n = kept - 1
    enc = _export(SDREncoder(group_size=g, base_bits=base, kept_bits=kept), "enc")
    dec = _export(SDRDecoder(base_bits=base, kept_bits=kept), "dec")
    maxmag = fmt.max_mag
    inst = "\n".join(f"  dec d{i}(.code(codes[{i * kept + kept - 1}:{i * kept}]), .flag(flag), "
                     f".value(value[{i * base + base - 1}:{i * base}]));" for i in range(g))
    top = f"""module top(input [{g * base - 1}:0] x);
  wire [{g * kept - 1}:0] codes;
  wire [{FLAG_BITS - 1}:0] flag;
  wire o_valid;
  wire [{g * base - 1}:0] value;
  enc e(.x(x), .i_valid(1'b1), .codes(codes), .flag(flag), .o_valid(o_valid));
{inst}
  integer i;
  reg signed [{base}:0] xs, d, err, step, half, dv;
  reg [{base}:0] mag;
  reg [{n - 1}:0] m;
  always @* begin
    for (i = 0; i < {g}; i = i + 1) begin
      xs = $signed(x[i*{base} +: {base}]);
      if (xs < -{maxmag}) xs = -{maxmag};
      mag = (xs < 0) ? -xs : xs;
      d = $signed(value[i*{base} +: {base}]);
      m = codes[i*{kept} +: {n}];
      step = {base + 1}'sd1 <<< flag;
      half = (flag == 0) ? 0 : ({base + 1}'sd1 <<< (flag - 1));
      err = (d > xs) ? d - xs : xs - d;
      dv = m;
      dv = dv <<< flag;
      if (codes[i*{kept} + {n}]) dv = -dv;
      assert(d == dv);
      if (((mag & (step - 1)) == 0) && (x[i*{base} +: {base}] != {base}'h{1 << (base - 1):x})) assert(d == xs);
      if (m == {(1 << n) - 1}) assert(err < step); else assert(err <= half);
    end
  end
endmodule
"""
    return Proof(f"dec_a{base}k{kept}_g{g}", f"SDR decoder inverts the encoder ({base} -> {kept} bits, g = {g}): "
                 "exact on representable values, error within half a step (one step under the overflow guard)",
                 "comb", {"enc.v": enc, "dec.v": dec, "top.sv": top}, "dec.v", "top", (r"= - o;", "= o;"),
                 tags=("decoder", f"g{g}"))
