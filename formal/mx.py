# amaranth: UnusedElaboratable=no
"""MXFP4 / NVFP4 dot-product unit proofs, in two parts: the unit with its FP32 adder replaced by a stand-in
(everything up to the adder: the E2M1 lane products, the block sums, the scales, the term's rounding into FP32,
NaN codes, the pipeline and ``en``/``load``) against a lane-loop reference; and the FP32 adder itself against a
behavioural adder written another way (``fp32_adder_proof``)."""

from hdl.mx import BlockDotProductUnit

from .core import Proof, _export, _Text, replace_module

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


def mx_dot_reference(name, fmt, lanes):
    """Behavioural MXFP4/NVFP4 unit (latency 4) with the stand-in accumulator: each lane's ``(2a)(2w)`` from an
    E2M1 value table, summed by a loop; the scales decoded (E8M0: ``2^(sa + sw - 256)`` with the two doublings;
    UE4M3: ``(ma mw) 2^(ea + ew - 2)``); the term by cases; ``acc <= (load ? -0 : acc) ^ term`` on ``en``."""
    sb = 8 if fmt == "mxfp4" else 7
    mag_bits = 24
    if fmt == "mxfp4":
        scale = """
    nan = (sa_q2 == 8'hff) || (sw_q2 == 8'hff);
    e = $signed({4'b0, sa_q2}) + $signed({4'b0, sw_q2}) - 12'sd256;
    prod = s_q;"""
    else:
        scale = """
    nan = (sa_q2 == 7'h7f) || (sw_q2 == 7'h7f);
    ma = sa_q2[6:3] ? {1'b1, sa_q2[2:0]} : {1'b0, sa_q2[2:0]};
    mw = sw_q2[6:3] ? {1'b1, sw_q2[2:0]} : {1'b0, sw_q2[2:0]};
    e = $signed({8'b0, (sa_q2[6:3] ? sa_q2[6:3] : 4'd1)}) + $signed({8'b0, (sw_q2[6:3] ? sw_q2[6:3] : 4'd1)})
        - 12'sd22;
    mamw = ma * mw;
    prod = s_q * $signed({1'b0, mamw});"""
    return f"""module {name}(input clk, input rst, input [{4 * lanes - 1}:0] a, input [{4 * lanes - 1}:0] w,
    input [{sb - 1}:0] sa, input [{sb - 1}:0] sw, input en, input load, output reg [31:0] acc = 0);
  reg [{4 * lanes - 1}:0] a_q = 0, w_q = 0;
  reg [{sb - 1}:0] sa_q = 0, sw_q = 0, sa_q2 = 0, sw_q2 = 0;
  reg en_q = 0, load_q = 0, en_q2 = 0, load_q2 = 0, en_q3 = 0, load_q3 = 0;
  reg signed [15:0] s_q = 0;
  reg [31:0] term_q = 0;
  reg signed [15:0] s;
  reg [3:0] x, y;
  reg [7:0] xy, mamw;
  reg signed [25:0] prod;
  reg signed [11:0] e, top, k;
  reg [3:0] ma, mw;
  reg [{mag_bits - 1}:0] mag, norm;
  reg [31:0] q, rem, half;
  reg [31:0] term;
  reg sgn, nan;
  integer i, p;
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
  always @* begin{scale}
    sgn = prod < 0;
    mag = sgn ? -prod : prod;{_term_reference(mag_bits)}
  end
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; w_q <= 0; sa_q <= 0; sw_q <= 0; en_q <= 0; load_q <= 0; s_q <= 0; sa_q2 <= 0; sw_q2 <= 0;
      en_q2 <= 0; load_q2 <= 0; term_q <= 0; en_q3 <= 0; load_q3 <= 0; acc <= 0;
    end else begin
      a_q <= a; w_q <= w; sa_q <= sa; sw_q <= sw; en_q <= en; load_q <= load;
      s_q <= s; sa_q2 <= sa_q; sw_q2 <= sw_q; en_q2 <= en_q; load_q2 <= load_q;
      term_q <= term; en_q3 <= en_q2; load_q3 <= load_q2;
      if (en_q3) acc <= (load_q3 ? 32'h80000000 : acc) ^ term_q;
    end
  end
endmodule
"""


def mx_dot_proof(fmt, lanes, depth=6):
    """The unit up to its adder (see the module docstring), any input sequence, k-induction."""
    unit = BlockDotProductUnit(fmt=fmt, lanes=lanes)
    if unit.sub != 1:
        raise ValueError(f"the reference takes one block per cycle; {fmt} at {lanes} lanes holds {unit.sub}")
    exported = _export(unit, "dot")
    v = _Text(lambda: replace_module(str(exported), ADDER, STANDIN))
    sb = unit.scale_bits
    top = f"""module top(input clk, input rst, input [{4 * lanes - 1}:0] a, input [{4 * lanes - 1}:0] w,
    input [{sb - 1}:0] sa, input [{sb - 1}:0] sw, input en, input load);
  wire [31:0] acc1, acc2;
  dot u1(.clk(clk), .rst(rst), .a(a), .w(w), .sa(sa), .sw(sw), .en(en), .load(load), .acc(acc1));
  ref u2(.clk(clk), .rst(rst), .a(a), .w(w), .sa(sa), .sw(sw), .en(en), .load(load), .acc(acc2));
  always @* assert(acc1 == acc2);
endmodule
"""
    return Proof(f"dot{lanes}_{fmt}_to_adder", f"{lanes}-lane {fmt.upper()} dot-product unit with its FP32 adder "
                 "replaced by a recording stand-in: every term (E2M1 products, block sum, scales, FP32 rounding, "
                 "NaN) and every en/load equal a lane-loop reference's, any sequence", "induct",
                 {"dot.v": v, "ref.v": mx_dot_reference("ref", fmt, lanes), "top.sv": top}, "dot.v", "top",
                 (r"a\[3\] \^ w\[3\]", "a[3] | w[3]"), depth=depth, tags=("dot", "mx"))
