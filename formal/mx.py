# amaranth: UnusedElaboratable=no
"""MXFP4 / NVFP4 dot-product unit proofs, up to the FP32 adder, in two parts: the term stage (block sum times
the two scales, rounded once to FP32, NaN) against a case-by-case reference for every input (``term_proof``); and
the unit with that stage and the FP32 adder replaced by recording stand-ins against a lane-loop reference
(``pipeline_proof``: the E2M1 lane products, the block sums, the scale codes, ``en``/``load``, any sequence).
The FP32 adder itself is checked against NumPy's binary32 addition (tests/test_mx_hdl.py), not proven."""

from hdl.mx import BlockDotProductUnit, MXQuantizer

from .core import Proof, _export, _Text, module_text, replace_module

ADDER = "\\dot.accumulator "
# The stand-in keeps the adder's ports; XOR makes the accumulator a record of every term and of where ``load``
# restarted it, so equal accumulators on every cycle mean equal terms, ``en`` and ``load`` on every cycle.
STANDIN = f"""module {ADDER}(b, o, a);
  input [31:0] a;
  input [31:0] b;
  output [31:0] o;
  assign o = a ^ b;
endmodule
"""


def _term_reference(mag_bits):
    """Verilog statements: ``term`` (FP32 bits) of ``sgn``, ``mag`` (``mag_bits`` wide, < 2^24), ``e`` (signed
    exponent), ``nan``, by cases (zero; above the range; normal, exact; subnormal, rounded to nearest even)."""
    return f"""
    p = 0;
    for (i = 0; i < {mag_bits}; i = i + 1) if (mag[i]) p = i;
    top = e + p;
    if (nan) term = 32'h7fc00000;
    else if (mag == 0) term = {{sgn, 31'd0}};
    else if (top > 127) term = {{sgn, 31'h7f800000}};
    else if (top >= -126) begin
      norm = mag << (23 - p);
      term = {{sgn, top[7:0] + 8'd127, norm[22:0]}};
    end else begin
      k = e + 149;                                     // value / 2^-149 = mag * 2^k
      if (k >= 0) q = mag << k;
      else if (k < -{mag_bits + 1}) q = 0;
      else begin
        q = mag >> (-k);
        rem = mag - (q << (-k));
        half = 1 << (-k - 1);
        if (rem > half || (rem == half && q[0])) q = q + 1;
      end
      term = {{sgn, q[30:0]}};
    end"""


def _scale_reference(fmt):
    """Verilog statements: ``e``, ``nan``, ``prod`` from the block sum ``sv`` and the scale codes ``av``, ``wv``."""
    if fmt == "mxfp4":
        return """
    nan = (av == 8'hff) || (wv == 8'hff);
    e = $signed({4'b0, av}) + $signed({4'b0, wv}) - 12'sd256;
    prod = sv;"""
    return """
    nan = (av == 7'h7f) || (wv == 7'h7f);
    ma = av[6:3] ? {1'b1, av[2:0]} : {1'b0, av[2:0]};
    mw = wv[6:3] ? {1'b1, wv[2:0]} : {1'b0, wv[2:0]};
    e = $signed({8'b0, (av[6:3] ? av[6:3] : 4'd1)}) + $signed({8'b0, (wv[6:3] ? wv[6:3] : 4'd1)}) - 12'sd22;
    mamw = ma * mw;
    prod = sv * $signed({1'b0, mamw});"""


_REF_DECLS = """  reg signed [25:0] prod;
  reg signed [11:0] e, top, k;
  reg [3:0] ma, mw;
  reg [7:0] mamw;
  reg [23:0] mag, norm;
  reg [31:0] q, rem, half;
  reg [31:0] term;
  reg sgn, nan;
  integer i, p;"""


def _widths(fmt, lanes):
    unit = BlockDotProductUnit(fmt=fmt, lanes=lanes)
    unit._MustUse__silence = True
    return unit.scale_bits, 9 + (lanes // unit.sub - 1).bit_length()      # scale bits, block-sum bits


def term_proof(fmt, lanes):
    """The unit's term stage (``\\dot.scale`` and its rounding, as exported inside the unit) against the
    reference's case-by-case rounding, for every block sum and scale pair (combinational)."""
    exported = _export(BlockDotProductUnit(fmt=fmt, lanes=lanes), "dot")
    sb, w = _widths(fmt, lanes)

    def modules():
        v = str(exported)
        return module_text(v, "\\dot.scale ") + module_text(v, "\\dot.scale.round ")
    top = f"""module top(input [{w - 1}:0] s, input [{sb - 1}:0] sa, input [{sb - 1}:0] sw);
  wire [31:0] o;
  \\dot.scale  u1(.s(s), .sa(sa), .sw(sw), .o(o));
  reg signed [15:0] sv;
  reg [{sb - 1}:0] av, wv;
{_REF_DECLS}
  always @* begin
    sv = $signed(s); av = sa; wv = sw;{_scale_reference(fmt)}
    sgn = prod < 0;
    mag = sgn ? -prod : prod;{_term_reference(24)}
    assert(o == term);
  end
endmodule
"""
    return Proof(f"dot{lanes}_{fmt}_term", f"{lanes}-lane {fmt.upper()} unit's term stage: the block sum times the "
                 "two block scales, rounded once to FP32 (NaN for a NaN scale), equals a case-by-case reference, "
                 "every input", "comb", {"dot.v": _Text(modules), "top.sv": top}, "dot.v", "top",
                 (r"- 9'h100", "- 9'h0ff") if fmt == "mxfp4" else (r"- 4'ha", "- 4'h9"),
                 tags=("dot", "mx"), x_module="\\dot.scale ")


def _pack(sb, w):
    return f"{{{{{32 - w - 2 * sb}{{1'b0}}}}, s, sa, sw}}"


def pipeline_proof(fmt, lanes, depth=6):
    """The unit with its term stage and its FP32 adder replaced by stand-ins (the term packs the block sum and
    both scale codes into 32 bits; the adder XORs): every block sum, scale pair, ``en`` and ``load`` reach the
    term stage and the adder as a lane-loop reference's do, any input sequence (k-induction). With
    ``term_proof`` this proves the unit up to its FP32 adder."""
    unit = BlockDotProductUnit(fmt=fmt, lanes=lanes)
    if unit.sub != 1:
        raise ValueError(f"the reference takes one block per cycle; {fmt} at {lanes} lanes holds {unit.sub}")
    exported = _export(unit, "dot")
    sb, w = _widths(fmt, lanes)
    if w + 2 * sb > 32:
        raise ValueError(f"a block sum of {w} bits and two {sb}-bit scales do not fit the 32-bit stand-in")
    term_standin = f"""module \\dot.scale (s, sa, sw, o);
  input [{w - 1}:0] s;
  input [{sb - 1}:0] sa;
  input [{sb - 1}:0] sw;
  output [31:0] o;
  assign o = {_pack(sb, w)};
endmodule
"""

    def standins():
        v = replace_module(str(exported), ADDER, STANDIN)
        v = replace_module(v, "\\dot.scale.round ", "")
        return replace_module(v, "\\dot.scale ", term_standin)
    ref = f"""module ref(input clk, input rst, input [{4 * lanes - 1}:0] a, input [{4 * lanes - 1}:0] w,
    input [{sb - 1}:0] sa, input [{sb - 1}:0] sw, input en, input load, output reg [31:0] acc = 0);
  reg [{4 * lanes - 1}:0] a_q = 0, w_q = 0;
  reg [{sb - 1}:0] sa_q = 0, sw_q = 0, sa_q2 = 0, sw_q2 = 0;
  reg en_q = 0, load_q = 0, en_q2 = 0, load_q2 = 0, en_q3 = 0, load_q3 = 0;
  reg [{w - 1}:0] s_q = 0;
  reg [31:0] term_q = 0;
  reg signed [15:0] s;
  reg [3:0] x, y;
  reg [7:0] xy;
  integer i;
  function [3:0] twice;                               // 2 * the E2M1 value of a code's magnitude
    input [2:0] c;
    case (c)
      3'd0: twice = 0; 3'd1: twice = 1; 3'd2: twice = 2; 3'd3: twice = 3;
      3'd4: twice = 4; 3'd5: twice = 6; 3'd6: twice = 8; default: twice = 12;
    endcase
  endfunction
  always @* begin
    s = 0;
    for (i = 0; i < {lanes}; i = i + 1) begin
      x = twice(a_q[4*i +: 3]);
      y = twice(w_q[4*i +: 3]);
      xy = x * y;
      if (a_q[4*i + 3] ^ w_q[4*i + 3]) s = s - xy;
      else s = s + xy;
    end
  end
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; w_q <= 0; sa_q <= 0; sw_q <= 0; en_q <= 0; load_q <= 0; s_q <= 0; sa_q2 <= 0; sw_q2 <= 0;
      en_q2 <= 0; load_q2 <= 0; term_q <= 0; en_q3 <= 0; load_q3 <= 0; acc <= 0;
    end else begin
      a_q <= a; w_q <= w; sa_q <= sa; sw_q <= sw; en_q <= en; load_q <= load;
      s_q <= s[{w - 1}:0]; sa_q2 <= sa_q; sw_q2 <= sw_q; en_q2 <= en_q; load_q2 <= load_q;
      term_q <= {{{{{32 - w - 2 * sb}{{1'b0}}}}, s_q, sa_q2, sw_q2}}; en_q3 <= en_q2; load_q3 <= load_q2;
      if (en_q3) acc <= (load_q3 ? 32'h80000000 : acc) ^ term_q;
    end
  end
endmodule
"""
    top = f"""module top(input clk, input rst, input [{4 * lanes - 1}:0] a, input [{4 * lanes - 1}:0] w,
    input [{sb - 1}:0] sa, input [{sb - 1}:0] sw, input en, input load);
  wire [31:0] acc1, acc2;
  dot u1(.clk(clk), .rst(rst), .a(a), .w(w), .sa(sa), .sw(sw), .en(en), .load(load), .acc(acc1));
  ref u2(.clk(clk), .rst(rst), .a(a), .w(w), .sa(sa), .sw(sw), .en(en), .load(load), .acc(acc2));
  always @* assert(acc1 == acc2);
endmodule
"""
    return Proof(f"dot{lanes}_{fmt}_pipeline", f"{lanes}-lane {fmt.upper()} unit with its term stage and FP32 adder "
                 "replaced by recording stand-ins: every block sum (E2M1 products summed), scale pair, en and load "
                 "equal a lane-loop reference's, any sequence", "induct",
                 {"dot.v": _Text(standins), "ref.v": ref, "top.sv": top}, "dot.v", "top",
                 (r"a\[3\] \^ w\[3\]", "a[3] | w[3]"), depth=depth, tags=("dot", "mx"),
                 needs=(f"dot{lanes}_{fmt}_term",))


def mx_dot_proofs(fmt, lanes):
    """The two parts: the term stage, then the pipeline with it abstracted."""
    return [term_proof(fmt, lanes), pipeline_proof(fmt, lanes)]


def quantizer_reference(name, block):
    """Behavioural MXFP4 quantizer with the unit's ports, written from the rule rather than the RTL's shifts: the
    scale from the largest exponent field; each element's magnitude as an integer ``sig << (d + 10)`` (``d`` its
    exponent relative to the scale) compared with the seven E2M1 midpoints ``mid * 2^17``: the code counts the
    midpoints it exceeds, and a value equal to a midpoint takes the even code of the two."""
    return f"""module {name}(input [{16 * block - 1}:0] x, input i_valid, output reg [{4 * block - 1}:0] codes,
    output reg [7:0] scale, output o_valid);
  assign o_valid = i_valid;
  integer i, j;
  reg [7:0] f, top;
  reg bad;
  reg [7:0] sig;
  reg signed [11:0] d;
  reg [23:0] v, mid;
  reg [2:0] c;
  always @* begin
    top = 0; bad = 0;
    for (i = 0; i < {block}; i = i + 1) begin
      f = x[16*i + 7 +: 8];
      if (f > top) top = f;
      if (f == 8'hff) bad = 1;
    end
    scale = bad ? 8'hff : (top >= 2 ? top - 2 : 0);
    for (i = 0; i < {block}; i = i + 1) begin
      f = x[16*i + 7 +: 8];
      sig = {{f != 0, x[16*i +: 7]}};
      d = $signed({{4'b0, (f != 0 ? f : 8'd1)}}) - $signed({{4'b0, scale}});
      v = (d < -10) ? 0 : ({{16'b0, sig}} << (d + 10));
      if (d < -10 && sig != 0) v = 1;               // far below the smallest midpoint, but not zero
      c = 0;
      for (j = 0; j < 7; j = j + 1) begin
        case (j)
          0: mid = 24'd1 << 15;  1: mid = 24'd3 << 15;  2: mid = 24'd5 << 15;  3: mid = 24'd7 << 15;
          4: mid = 24'd10 << 15; 5: mid = 24'd14 << 15; default: mid = 24'd20 << 15;
        endcase
        if (v > mid || (v == mid && j % 2 == 1)) c = j + 1;
      end
      codes[4*i +: 4] = bad ? 4'd0 : {{x[16*i + 15], c}};
    end
  end
endmodule
"""


def quantizer_proof(block=32):
    """The MXFP4 quantizer against ``quantizer_reference`` for every block of BF16 values (equivalence)."""
    q = MXQuantizer(block=block)
    return Proof(f"mx_quantizer_b{block}", f"MXFP4 quantizer, {block} BF16 values -> E2M1 codes and E8M0 scale: "
                 "equals the behavioural reference (midpoint comparisons) for every block", "equiv",
                 {"dut.v": _export(q, "dut"), "ref.v": quantizer_reference("ref", block)}, "dut.v", "miter",
                 (r"> 8'h80;", "> 8'h7f;"), gold="ref", gate="dut", tags=("encoder", "mx"), norom=True)
