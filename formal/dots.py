# amaranth: UnusedElaboratable=no
"""Dot-product unit proofs: the accumulator is the sum of the lanes' decoded products; the paired unit in two
parts (its packed multipliers, then the unit with them abstracted)."""

import re

from golden.sdr import SDRFormat
from hdl.dot import DotProductUnit, pair_packing

from .core import FormalError, Proof, _export, _Text, replace_module

# ---------------------------------------------------------------- dot-product units: the sum of their lanes' products

def dot_reference(name, lanes, g, fa, fw):
    """Behavioural L-lane dot-product unit (latency 3). Each lane's signed product ``(-1)^(sa^sw) ma * mw``;
    each sub-group's products summed and the sum shifted once by its ``fa_s + fw_s`` (the decompression-free
    identity, which the ``mac_*_dfree_eq_formula`` proofs show equal to the decoded operands' product); then
    registered and accumulated modulo 2^32. Written as a loop over lanes, not as the RTL's adder trees and barrel
    shifters. (With every lane's product shifted by itself before one sum, Yosys' SAT did not finish the
    induction step of even a 4-lane unit in 5 minutes: reassociating shifted sums is hard for it.)"""
    sub = max(1, lanes // g)
    per = lanes // sub
    na, nw = fa.mag_bits, fw.mag_bits
    ka, kw = na + 1, nw + 1
    ba, bw = (fa.max_flag).bit_length(), (fw.max_flag).bit_length()
    return f"""module {name}(input clk, input rst, input [{lanes * ka - 1}:0] a, input [{lanes * kw - 1}:0] w,
    input [{sub * ba - 1}:0] fa, input [{sub * bw - 1}:0] fw, input en, input load, output reg [31:0] acc = 0);
  reg [{lanes * ka - 1}:0] a_q = 0; reg [{lanes * kw - 1}:0] w_q = 0;
  reg [{sub * ba - 1}:0] fa_q = 0; reg [{sub * bw - 1}:0] fw_q = 0;
  reg en_q = 0, load_q = 0, en_q2 = 0, load_q2 = 0;
  reg [31:0] step_q = 0;
  reg signed [31:0] s, p, t;
  reg [{na}:0] ea; reg [{nw}:0] ew; reg [{na + nw - 1}:0] mm; reg [5:0] sh;
  integer i;
  always @* begin
    s = 0;
    t = 0;
    for (i = 0; i < {lanes}; i = i + 1) begin
      ea = a_q[i*{ka} +: {ka}]; ew = w_q[i*{kw} +: {kw}];
      sh = fa_q[(i / {per})*{ba} +: {ba}] + fw_q[(i / {per})*{bw} +: {bw}];
      mm = ea[{na - 1}:0] * ew[{nw - 1}:0];
      p = mm;
      if (ea[{na}] ^ ew[{nw}]) p = -p;
      t = t + p;
      if (i % {per} == {per - 1}) begin
        t = t <<< sh;
        s = s + t;
        t = 0;
      end
    end
  end
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; w_q <= 0; fa_q <= 0; fw_q <= 0; en_q <= 0; load_q <= 0; en_q2 <= 0; load_q2 <= 0; step_q <= 0;
      acc <= 0;
    end else begin
      a_q <= a; w_q <= w; fa_q <= fa; fw_q <= fw; en_q <= en; load_q <= load;
      step_q <= s; en_q2 <= en_q; load_q2 <= load_q;
      if (en_q2) acc <= (load_q2 ? 32'd0 : acc) + step_q;
    end
  end
endmodule
"""


def pairs_reference(name, lanes, fa, fw, k):
    """Behavioural stand-in for a paired unit's ``multipliers`` submodule (same module name and ports): each
    lane pair's ``a0*w0 + a1*w1`` of the signed codes, as a K-bit two's complement field, by a loop (in K-bit
    arithmetic: 32-bit products made the 16-lane induction run for over 25 minutes)."""
    na, nw = fa.mag_bits, fw.mag_bits
    ka, kw = na + 1, nw + 1
    return f"""module {name} (input [{lanes * ka - 1}:0] a, input [{lanes * kw - 1}:0] w,
    output reg [{lanes // 2 * k - 1}:0] p);
  integer i, j;
  reg signed [{k - 1}:0] s;
  reg signed [{na}:0] x;
  reg signed [{nw}:0] y;
  always @* begin
    for (i = 0; i < {lanes // 2}; i = i + 1) begin
      s = 0;
      for (j = 2 * i; j < 2 * i + 2; j = j + 1) begin
        x = {{1'b0, a[j*{ka} +: {na}]}};
        y = {{1'b0, w[j*{kw} +: {nw}]}};
        if (a[j*{ka} + {na}]) x = -x;
        if (w[j*{kw} + {nw}]) y = -y;
        s = s + x * y;
      end
      p[i*{k} +: {k}] = s;
    end
  end
endmodule
"""


PAIRS_MODULE = "\\dot.multipliers "          # the paired unit's multipliers, as Amaranth names the submodule


def _dot_unit(lanes, g, a_kept, dsp_pairs):
    fa, fw = SDRFormat(16, a_kept, g), SDRFormat(8, 4, g)
    dut = DotProductUnit(lanes=lanes, group_size=g, a_base=16, a_kept=a_kept, w_base=8, w_kept=4,
                         dsp_pairs=dsp_pairs)
    return fa, fw, dut, _export(dut, "dot")


def dot_proof(lanes, g, a_kept=4, depth=5, dsp_pairs=False):
    """The unit against ``dot_reference``. With ``dsp_pairs`` the proof is compositional: the unit's packed
    multipliers are replaced by ``pairs_reference`` (``pairs_proof`` shows them equal for every input), since
    Yosys' SAT does not finish the induction through the packed 12 x 12 products (over 20 minutes at 4 lanes)."""
    fa, fw, dut, v = _dot_unit(lanes, g, a_kept, dsp_pairs)
    if dsp_pairs:
        k, exported = pair_packing(fa, fw)[0], v
        v = _Text(lambda: replace_module(str(exported), PAIRS_MODULE, pairs_reference(PAIRS_MODULE, lanes, fa, fw, k)))
    sub = dut.sub
    ba, bw = fa.max_flag.bit_length(), fw.max_flag.bit_length()
    assumes = "\n    ".join(f"assume(fa[{s * ba + ba - 1}:{s * ba}] <= {fa.max_flag}); "
                           f"assume(fw[{s * bw + bw - 1}:{s * bw}] <= {fw.max_flag});" for s in range(sub))
    ka, kw = fa.mag_bits + 1, fw.mag_bits + 1
    top = f"""module top(input clk, input rst, input [{lanes * ka - 1}:0] a, input [{lanes * kw - 1}:0] w,
    input [{sub * ba - 1}:0] fa, input [{sub * bw - 1}:0] fw, input en, input load);
  wire [31:0] acc1, acc2;
  dot u1(.clk(clk), .rst(rst), .a(a), .w(w), .fa(fa), .fw(fw), .en(en), .load(load), .acc(acc1));
  ref u2(.clk(clk), .rst(rst), .a(a), .w(w), .fa(fa), .fw(fw), .en(en), .load(load), .acc(acc2));
  always @* begin
    {assumes}
    assert(acc1 == acc2);
  end
endmodule
"""
    tree_add = r"(assign l0_0 = [^;]*?) \+ "
    pairs = "_dsp2" if dsp_pairs else ""
    what = (f"{lanes}-lane W4A{a_kept} dot-product unit, g = {g} ({sub} group(s) per step): the accumulator is the "
            "sum of its lanes' decoded products, any sequence")
    if dsp_pairs:
        what = (f"{lanes}-lane W4A{a_kept} dot-product unit with two lanes per packed multiplier, g = {g}: with its "
                f"multipliers replaced by the pair sums (proven equal by pairs{lanes}_w4a{a_kept}), the accumulator "
                "is the sum of its lanes' decoded products, any sequence")
    return Proof(f"dot{lanes}_w4a{a_kept}{pairs}_g{g}", what, "induct",
                 {"dot.v": v, "ref.v": dot_reference("ref", lanes, g, fa, fw), "top.sv": top}, "dot.v",
                 "top", (tree_add, r"\1 - "), depth=depth, tags=("dot",), exported=exported if dsp_pairs else None)


def pairs_proof(lanes, g, a_kept=4):
    """The packed multipliers of the paired unit, as exported inside it: every pair's field ``p[i]`` (the middle
    K bits of ``(a0 + a1 << K) * (w1 + w0 << K)`` plus the low field's borrow) is ``a0*w0 + a1*w1``, for every
    input. Together with the ``dot*_dsp2`` proof this proves the whole paired unit."""
    fa, fw, _, exported = _dot_unit(lanes, g, a_kept, True)

    def checked():
        v = str(exported)
        if re.search(r"^module " + re.escape(PAIRS_MODULE) + r"\([^)]*\bclk\b", v, re.M):
            raise FormalError(f"{PAIRS_MODULE.strip()} has a clock: the compositional proof assumes it combinational")
        return v
    v = _Text(checked)
    k, pa, pw = pair_packing(fa, fw)            # the field width only locates the fields in the port
    na, nw = fa.mag_bits, fw.mag_bits
    ka, kw = na + 1, nw + 1
    top = f"""module top(input [{lanes * ka - 1}:0] a, input [{lanes * kw - 1}:0] w);
  wire [{lanes // 2 * k - 1}:0] p;
  {PAIRS_MODULE} u1(.a(a), .w(w), .p(p));
  integer i, j;
  reg signed [31:0] s, x, y, field;
  always @* begin
    for (i = 0; i < {lanes // 2}; i = i + 1) begin
      s = 0;
      for (j = 2 * i; j < 2 * i + 2; j = j + 1) begin
        x = a[j*{ka} +: {na}];
        y = w[j*{kw} +: {nw}];
        if (a[j*{ka} + {na}]) x = -x;
        if (w[j*{kw} + {nw}]) y = -y;
        s = s + x * y;
      end
      field = $signed(p[i*{k} +: {k}]);
      assert(field == s);
    end
  end
endmodule
"""
    return Proof(f"pairs{lanes}_w4a{a_kept}", f"{lanes}-lane W4A{a_kept} unit's packed multipliers (two lanes per "
                 f"{pa} x {pw} product): each field, sign-extended, is the pair's exact a0*w0 + a1*w1 (in 32 bits: "
                 "a field too narrow for the sum fails), every input", "comb",
                 {"dot.v": v, "top.sv": top}, "dot.v", "top",
                 (r"(= pair0\[\d+:\d+\]) \+ ", r"\1 - "), tags=("dot", "pairs"), x_module=PAIRS_MODULE,
                 exported=exported)


# ---------------------------------------------------------------- INT dot-product units: the sum of a_i * b_i

def int_dot_reference(name, lanes, a_bits, b_bits):
    """Behavioural INT dot-product unit (latency 3): ``sum_i a_i * b_i`` of the two's complement operands by a
    loop in 32 bits, registered, accumulated modulo 2^32 (``if en: acc <= (load ? 0 : acc) + sum``)."""
    return f"""module {name}(input clk, input rst, input [{lanes * a_bits - 1}:0] a, input [{lanes * b_bits - 1}:0] b,
    input en, input load, output reg [31:0] acc = 0);
  reg [{lanes * a_bits - 1}:0] a_q = 0; reg [{lanes * b_bits - 1}:0] b_q = 0;
  reg en_q = 0, load_q = 0, en_q2 = 0, load_q2 = 0;
  reg [31:0] step_q = 0;
  reg signed [31:0] s, x, y;
  integer i;
  always @* begin
    s = 0;
    for (i = 0; i < {lanes}; i = i + 1) begin
      x = $signed(a_q[i*{a_bits} +: {a_bits}]);
      y = $signed(b_q[i*{b_bits} +: {b_bits}]);
      s = s + x * y;
    end
  end
  always @(posedge clk) begin
    if (rst) begin
      a_q <= 0; b_q <= 0; en_q <= 0; load_q <= 0; en_q2 <= 0; load_q2 <= 0; step_q <= 0; acc <= 0;
    end else begin
      a_q <= a; b_q <= b; en_q <= en; load_q <= load;
      step_q <= s; en_q2 <= en_q; load_q2 <= load_q;
      if (en_q2) acc <= (load_q2 ? 32'd0 : acc) + step_q;
    end
  end
endmodule
"""


def int_dot_proof(lanes, a_bits, b_bits, style="tree", depth=5):
    from hdl.dot import IntDotProductUnit
    dut = _export(IntDotProductUnit(lanes=lanes, a_bits=a_bits, b_bits=b_bits, style=style), "dot")
    top = f"""module top(input clk, input rst, input [{lanes * a_bits - 1}:0] a, input [{lanes * b_bits - 1}:0] b,
    input en, input load);
  wire [31:0] acc1, acc2;
  dot u1(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc1));
  ref u2(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc2));
  always @* assert(acc1 == acc2);
endmodule
"""
    tag = "" if style == "tree" else f"_{style}"
    return Proof(f"dot{lanes}_int{a_bits}x{b_bits}{tag}", f"{lanes}-lane INT {a_bits}x{b_bits} dot-product unit "
                 f"({style}): the accumulator is the sum of a_i * b_i, any sequence", "induct",
                 {"dot.v": dut, "ref.v": int_dot_reference("ref", lanes, a_bits, b_bits), "top.sv": top}, "dot.v",
                 "top", (r"load \? 32'd0 : acc", "load ? 32'd1 : acc"), depth=depth, tags=("dot",))
