# amaranth: UnusedElaboratable=no
"""MAC proofs: decompression-free = conventional MAC = the golden formula, for any input sequence."""


from golden.sdr import SDRFormat
from hdl.macs import ConventionalMAC, DecompressionFreeMAC, IntMAC

from .core import Proof, _export

# ---------------------------------------------------------------- MACs: decompression-free = conventional = formula

def _mac_wrapper(fa_fmt, fw_fmt, a_bits, w_bits, other, assertion):
    return f"""module top(input clk, input rst, input [{a_bits}:0] a, input [3:0] fa, input [{w_bits}:0] w,
    input [2:0] fw, input en, input load);
  wire [31:0] acc1, acc2;
  dfree u1(.clk(clk), .rst(rst), .a(a), .fa(fa), .w(w), .fw(fw), .en(en), .load(load), .acc(acc1));
  {other} u2(.clk(clk), .rst(rst), .a(a), .fa(fa), .w(w), .fw(fw), .en(en), .load(load), .acc(acc2));
  always @* begin
    assume(fa <= {fa_fmt.max_flag});
    assume(fw <= {fw_fmt.max_flag});
    {assertion}
  end
endmodule
"""


def mac_reference(name, fa, fw):
    """The MAC step as the golden formula, behaviourally: operands registered, then
    ``acc <= (load ? 0 : acc) + ((-1)^sa (ma << fa)) * ((-1)^sw (mw << fw))`` when ``en``, modulo 2^32."""
    na, nw = fa.mag_bits, fw.mag_bits
    return f"""module {name}(input clk, input rst, input [{na}:0] a, input [3:0] fa, input [{nw}:0] w,
    input [2:0] fw, input en, input load, output reg [31:0] acc = 0);
  reg [{na}:0] a_q = 0; reg [{nw}:0] w_q = 0; reg [3:0] fa_q = 0; reg [2:0] fw_q = 0; reg en_q = 0, load_q = 0;
  wire signed [31:0] ma = $signed({{1'b0, a_q[{na - 1}:0]}}) <<< fa_q;
  wire signed [31:0] mw = $signed({{1'b0, w_q[{nw - 1}:0]}}) <<< fw_q;
  wire signed [31:0] da = a_q[{na}] ? -ma : ma;
  wire signed [31:0] dw = w_q[{nw}] ? -mw : mw;
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; w_q <= 0; fa_q <= 0; fw_q <= 0; en_q <= 0; load_q <= 0; acc <= 0;
    end else begin
      a_q <= a; w_q <= w; fa_q <= fa; fw_q <= fw; en_q <= en; load_q <= load;
      if (en_q) acc <= (load_q ? 32'd0 : acc) + da * dw;
    end
  end
endmodule
"""


def mac_proofs(a_kept):
    fa, fw = SDRFormat(16, a_kept, 1), SDRFormat(8, 4, 1)
    params = dict(a_base=16, a_kept=a_kept, w_base=8, w_kept=4)
    dfree = _export(DecompressionFreeMAC(**params), "dfree")
    conv = _export(ConventionalMAC(**params), "conv")
    tag = f"w4a{a_kept}"
    mutation = (r"= fa_q \+ fw_q;", "= fa_q - fw_q;")
    wrapper = _mac_wrapper(fa, fw, a_kept - 1, 3, "ref", "assert(acc1 == acc2);")
    return [
        Proof(f"mac_{tag}_dfree_eq_conv", f"W4A{a_kept} decompression-free MAC holds the same accumulator as the "
              "conventional (decode + multiply) MAC after any input sequence", "induct",
              {"dfree.v": dfree, "conv.v": conv,
               "top.sv": _mac_wrapper(fa, fw, a_kept - 1, 3, "conv", "assert(acc1 == acc2);")},
              "dfree.v", "top", mutation, depth=4, tags=("mac",)),
        Proof(f"mac_{tag}_dfree_eq_formula", f"W4A{a_kept} decompression-free MAC: every step adds "
              "(-1)^sa (ma << fa) * (-1)^sw (mw << fw) (behavioural reference)", "induct",
              {"dfree.v": dfree, "ref.v": mac_reference("ref", fa, fw),
               "top.sv": _mac_wrapper(fa, fw, a_kept - 1, 3, "ref", "assert(acc1 == acc2);")},
              "dfree.v", "top", mutation, depth=4, tags=("mac",)),
        Proof(f"mac_{tag}_conv_eq_formula", f"W4A{a_kept} conventional MAC: every step adds the decoded "
              "operands' product (behavioural reference; with the formula proof of the decompression-free MAC "
              "this covers the accumulator both MACs share, which the MAC-to-MAC proof cannot see)", "induct",
              {"conv.v": conv, "ref.v": mac_reference("ref", fa, fw),
               "top.sv": wrapper.replace("  dfree u1", "  conv u1")},
              "conv.v", "top", (r"load \? 32'd0 : acc", "load ? 32'd1 : acc"), depth=4, tags=("mac",)),
    ]


def int_mac_reference(name, a_bits, b_bits):
    """The INT MAC as its definition: operands registered, then ``acc <= (load ? 0 : acc) + a * b`` when ``en``,
    modulo 2^32, with ``a`` and ``b`` two's complement (sign-extended to 32 bits before the product)."""
    return f"""module {name}(input clk, input rst, input signed [{a_bits - 1}:0] a, input signed [{b_bits - 1}:0] b,
    input en, input load, output reg [31:0] acc = 0);
  reg signed [{a_bits - 1}:0] a_q = 0; reg signed [{b_bits - 1}:0] b_q = 0; reg en_q = 0, load_q = 0;
  wire signed [31:0] x = a_q, y = b_q;
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; b_q <= 0; en_q <= 0; load_q <= 0; acc <= 0;
    end else begin
      a_q <= a; b_q <= b; en_q <= en; load_q <= load;
      if (en_q) acc <= (load_q ? 32'd0 : acc) + x * y;
    end
  end
endmodule
"""


def int_mac_proof(a_bits, b_bits):
    dut = _export(IntMAC(a_bits=a_bits, b_bits=b_bits), "dut")
    top = f"""module top(input clk, input rst, input [{a_bits - 1}:0] a, input [{b_bits - 1}:0] b, input en,
    input load);
  wire [31:0] acc1, acc2;
  dut u1(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc1));
  ref u2(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc2));
  always @* assert(acc1 == acc2);
endmodule
"""
    return Proof(f"mac_int{a_bits}x{b_bits}", f"INT {a_bits}x{b_bits} MAC: every step adds a * b of the two's "
                 "complement operands (behavioural reference), any input sequence", "induct",
                 {"dut.v": dut, "ref.v": int_mac_reference("ref", a_bits, b_bits), "top.sv": top}, "dut.v", "top",
                 (r"load \? 32'd0 : acc", "load ? 32'd1 : acc"), depth=4, tags=("mac",))
