# amaranth: UnusedElaboratable=no
"""SDR encoder proofs (against a behavioural reference) and decoder proofs (the decoder inverts the encoder)."""


from golden.sdr import FLAG_BITS, SDRFormat
from hdl.sdr_decoder import SDRDecoder
from hdl.sdr_encoder import SDREncoder

from .core import FormalError, Proof, _export, _Text, module_text, replace_module

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


# ---------------------------------------------------------------- the pipelined encoder: the reference, one cycle later

def encoder_pipe_proof(g, base, kept):
    """The SDR encoder with registered outputs (``pipeline=True``) shows, every cycle, the behavioural reference's
    outputs for the previous cycle's inputs (zero after reset), for any input sequence."""
    dut = _export(SDREncoder(group_size=g, base_bits=base, kept_bits=kept, pipeline=True), "dut")
    w = g * kept
    top = f"""module top(input clk, input rst, input [{g * base - 1}:0] x, input i_valid);
  wire [{w - 1}:0] c1, c2; wire [{FLAG_BITS - 1}:0] f1, f2; wire v1, v2;
  dut u1(.clk(clk), .rst(rst), .x(x), .i_valid(i_valid), .codes(c1), .flag(f1), .o_valid(v1));
  ref u2(.x(x), .i_valid(i_valid), .codes(c2), .flag(f2), .o_valid(v2));
  reg [{w - 1}:0] cq = 0; reg [{FLAG_BITS - 1}:0] fq = 0; reg vq = 0;
  always @(posedge clk) begin
    if (rst) begin cq <= 0; fq <= 0; vq <= 0; end
    else begin cq <= c2; fq <= f2; vq <= v2; end
  end
  always @* assert(c1 == cq && f1 == fq && v1 == vq);
endmodule
"""
    return Proof(f"enc_a{base}k{kept}_g{g}_pipe", f"SDR encoder {base} -> {kept} bits, g = {g}, registered "
                 "outputs: the behavioural reference one cycle later, any input sequence", "induct",
                 {"dut.v": dut, "ref.v": encoder_reference("ref", g, base, kept), "top.sv": top}, "dut.v", "top",
                 (r"(sh0\[\d+:1\]) \+ ", r"\1 - "), depth=2, tags=("encoder", f"g{g}"))


# ---------------------------------------------------------------- the DMQ quantizer, in two parts

DIVIDER = "\\dut.divide0 "        # the quantizer's first rounding divider, as Amaranth names the submodule


def _dmq_export(g, base, kept):
    from hdl.dmq import DMQEncoder
    return _export(DMQEncoder(group_size=g, base_bits=base, kept_bits=kept), "dut")


def dmq_divider_proof(g=8, base=16, kept=4):
    """The DMQ quantizer's rounding divider (``\\dut.divide0`` inside the exported unit), against the
    definition stated without a division: for every ``mag <= m``, its quotient ``q`` satisfies
    ``q * 2m <= 2 Q mag + m < (q + 1) * 2m`` (``floor((2 Q mag + m) / (2 m))``), and ``q = 0`` for ``m = 0``.
    With ``dmq_a*_g*`` (the quantizer equals a reference built from this divider) it proves the quantizer."""
    from golden.dmq import DMQFormat
    fmt = DMQFormat(base, kept, g)
    n, w = kept - 1, base - 1
    wide = w + n + 3
    terms = " + ".join(f"(q[{b}] ? {{den, {b}'b0}} : {wide}'d0)" if b else f"(q[0] ? den : {wide}'d0)"
                       for b in range(n))
    top = f"""module top(input [{w - 1}:0] mag, input [{w - 1}:0] m);
  wire [{n - 1}:0] q;
  {DIVIDER} u(.mag(mag), .m(m), .\\q$13 (q));
  wire [{wide - 1}:0] num = {2 * fmt.qmax} * mag + m;
  wire [{wide - 1}:0] den = {{m, 1'b0}};
  wire [{wide - 1}:0] lo = {terms};
  wire [{wide - 1}:0] hi = lo + den;
  always @* if (mag <= m) begin
    if (m == 0) assert(q == 0);
    else assert(lo <= num && num < hi);
  end
endmodule
"""
    return Proof(f"dmq_divider_a{base}k{kept}", f"DMQ quantizer's rounding divider ({base} -> INT{kept}): the "
                 "quotient is floor((2 Q mag + m) / 2m) for every mag <= m (stated without a division)", "comb",
                 {"dut.v": _dmq_export(g, base, kept), "top.sv": top}, "dut.v", "top",
                 (r"(assign q\d+ = [^;]*?) >= ", r"\1 > "), tags=("dmq", "encoder"), x_module=DIVIDER)


def _slice_divider(name, w, n, lo):
    """A stand-in for a divider module ``name`` (same ports) whose quotient is bits ``lo .. lo + n - 1`` of
    ``{mag, m}`` (zero-padded): it shows the encoder's wiring into its dividers, a slice at a time."""
    return (f"module {name}(m, \\q$13 , mag);\n  input [{w - 1}:0] m;\n  input [{w - 1}:0] mag;\n"
            f"  output [{n - 1}:0] \\q$13 ;\n  wire [{2 * w + n - 1}:0] both = {{{n}'d0, mag, m}};\n"
            f"  assign \\q$13  = both[{lo + n - 1}:{lo}];\nendmodule\n")


def dmq_encoder_proof(g, base=16, kept=4):
    """The DMQ quantizer against a reference built from the definition (``golden.dmq``), in two parts (Yosys'
    SAT needs minutes for one division property and did not finish the whole g = 8 quantizer in 15 minutes):
    ``dmq_divider`` proves its divider; this proof shows the rest. Every divider module of the exported unit
    (``divide0 .. divide{g-1}``, checked to be the same text as ``divide0``) is replaced by a stand-in whose
    quotient is an ``n``-bit slice of its inputs ``{mag, m}``, in one copy of the unit per slice, and each copy
    must equal the reference around the same stand-in: ``scale`` is the largest saturated magnitude (a loop),
    every code the stand-in's output for the element's saturated magnitude and ``scale`` with the input's sign
    (0 for a zero code), ``o_valid = i_valid``. Since the slices cover every input bit, every divider receives
    exactly the reference's operands and its quotient reaches exactly its code, so the unit with its proven
    dividers is the definition."""
    from golden.dmq import DMQFormat
    fmt = DMQFormat(base, kept, g)
    n, w = kept - 1, base - 1
    slices = list(range(0, 2 * w, n))
    exported = _dmq_export(g, base, kept)

    def copies():
        v = str(exported)
        first = module_text(v, DIVIDER)
        out = []
        for j, lo in enumerate(slices):
            t = v
            for i in range(g):
                name = f"\\dut.divide{i} "
                if module_text(t, name).replace(name, DIVIDER) != first:
                    raise FormalError(f"{name.strip()} differs from divide0: the divider proof would not cover it")
                t = replace_module(t, name, _slice_divider(name, w, n, lo))
            out.append(t.replace("module dut(", f"module dut_s{j}(").replace("\\dut.", f"\\dut_s{j}."))
        return "\n".join(out)

    insts, checks = [], []
    for j, lo in enumerate(slices):
        insts.append(f"  wire [{g * kept - 1}:0] codes{j}; wire [{w - 1}:0] scale{j}; wire o_valid{j};\n"
                     f"  dut_s{j} u{j}(.x(x), .i_valid(i_valid), .codes(codes{j}), .scale(scale{j}), "
                     f".o_valid(o_valid{j}));")
        checks.append(f"""    assert(o_valid{j} == i_valid);
    assert(scale{j} == top_m);
    for (i = 0; i < {g}; i = i + 1) begin
      v = x[i*{base} +: {base}];
      both = {{{n}'d0, mags[i*{w} +: {w}], top_m}};
      q = both[{lo} +: {n}];
      assert(codes{j}[i*{kept} +: {n}] == q);
      assert(codes{j}[i*{kept} + {n}] == ((v < 0) && (q != 0)));
    end""")
    insts_text = "\n".join(insts)
    checks_text = "\n".join(checks)
    top = f"""module top(input [{g * base - 1}:0] x, input i_valid);
{insts_text}
  reg [{g * w - 1}:0] mags;
  reg [{w - 1}:0] top_m;
  reg [{2 * w + n - 1}:0] both;
  reg [{n - 1}:0] q;
  integer i;
  reg signed [{base - 1}:0] v;
  reg [{base - 1}:0] mag;
  always @* begin
    top_m = 0;
    for (i = 0; i < {g}; i = i + 1) begin
      v = x[i*{base} +: {base}];
      mag = (v < 0) ? -v : v;
      if (mag > {fmt.max_mag}) mag = {fmt.max_mag};
      mags[i*{w} +: {w}] = mag;
      if (mag > top_m) top_m = mag;
    end
  end
  always @* begin
{checks_text}
  end
endmodule
"""
    return Proof(f"dmq_a{base}k{kept}_g{g}", f"DMQ quantizer {base} -> INT{kept}, g = {g}: the scale is the "
                 "group's largest saturated magnitude and every divider gets that scale and its element's "
                 "saturated magnitude, its quotient becoming the code with the input's sign (with dmq_divider: "
                 "the definition), every group", "comb", {"dut.v": _Text(copies), "top.sv": top},
                 "dut.v", "top", (r"(assign \\\$\d+  = mag\d+) > ", r"\1 < "),
                 tags=("dmq", "encoder", f"g{g}"), x_module="dut_s0", exported=exported,
                 needs=(dmq_divider_proof(g, base, kept).name,))
