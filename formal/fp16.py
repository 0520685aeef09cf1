# amaranth: UnusedElaboratable=no
"""FP16 FMA and MAC proofs: the documented special cases, identities and symmetry as properties."""



from .core import Proof, _export

# ---------------------------------------------------------------- FP16: the documented special cases as properties

_FP16_FUNCS = """  function nan(input [15:0] h); nan = (h[14:10] == 5'h1f) && (h[9:0] != 0); endfunction
  function inf(input [15:0] h); inf = (h[14:10] == 5'h1f) && (h[9:0] == 0); endfunction
  function zero(input [15:0] h); zero = (h[14:0] == 0); endfunction
"""


def fp16_proofs():
    """The FP16 FMA (``hdl.fp16_mac.FP16FMA``, the MAC's datapath) against golden.fp16's documented behaviour,
    for every operand triple: NaN, ``Inf * 0`` and ``Inf - Inf`` give the canonical NaN and nothing else does;
    ``x * 1 + (-0) = x`` exactly (subnormals and signed zeros included); ``fma(-a, b, -c) = -fma(a, b, c)`` unless
    the result is NaN or an exact zero (round to nearest even is symmetric); and in the MAC (``FP16MAC``) every
    NaN the accumulator ever holds is the canonical ``0x7E00`` and the accumulator is never undefined, for any input
    sequence."""
    from hdl.fp16_mac import FP16FMA, FP16MAC
    fma = _export(FP16FMA(), "fma")
    specials = f"""module top(input [15:0] a, input [15:0] b, input [15:0] c);
  wire [15:0] r;
  fma u(.a(a), .b(b), .c(c), .r(r));
{_FP16_FUNCS}  wire special = nan(a) || nan(b) || nan(c) || (inf(a) && zero(b)) || (zero(a) && inf(b))
      || ((inf(a) || inf(b)) && inf(c) && ((a[15] ^ b[15]) != c[15]));
  always @* begin
    assert(special == nan(r));
    if (nan(r)) assert(r == 16'h7e00);
  end
endmodule
"""
    defined = """module top(input [15:0] a, input [15:0] b, input [15:0] c);
  wire [15:0] r;
  fma u(.a(a), .b(b), .c(c), .r(r));
  always @* assert(r == r);
endmodule
"""
    identity = f"""module top(input [15:0] a);
  wire [15:0] r;
  fma u(.a(a), .b(16'h3c00), .c(16'h8000), .r(r));
{_FP16_FUNCS}  always @* if (!nan(a)) assert(r == a);
endmodule
"""
    symmetry = f"""module top(input [15:0] a, input [15:0] b, input [15:0] c);
  wire [15:0] r1, r2;
  fma u1(.a(a), .b(b), .c(c), .r(r1));
  fma u2(.a(a ^ 16'h8000), .b(b), .c(c ^ 16'h8000), .r(r2));
{_FP16_FUNCS}  always @* begin
    assert(r1 < 16'h8000 || r1 >= 16'h8000);      // defined: with an x this is undefined, not true
    if (!nan(r1) && !zero(r1)) assert(r2 == (r1 ^ 16'h8000));
  end
endmodule
"""
    mac = _export(FP16MAC(), "mac")
    canonical = f"""module top(input clk, input rst, input [15:0] a, input [15:0] b, input en, input load);
  wire [15:0] acc;
  mac u(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc));
{_FP16_FUNCS}  always @* begin
    assert(acc < 16'h8000 || acc >= 16'h8000);    // every bit defined: with an x this is undefined, not true
    if (nan(acc)) assert(acc == 16'h7e00);
  end
endmodule
"""
    nan_mutant = (r"r = 16'h7e00;", "r = 16'h7e01;")
    return [
        Proof("fp16_fma_specials", "FP16 FMA: the result is NaN exactly for a NaN operand, Inf * 0 or Inf - Inf, "
              "and every NaN is 0x7E00", "comb", {"fma.v": fma, "top.sv": specials}, "fma.v", "top", nan_mutant,
              tags=("fp16",)),
        Proof("fp16_fma_no_x", "FP16 FMA: no X on the result for any defined operands (undef modelling)", "defined",
              {"fma.v": fma, "top.sv": defined}, "fma.v", "top", (r"r = 16'h7e00;", "r = 16'hxxxx;"), tags=("fp16",)),
        Proof("fp16_fma_identity", "FP16 FMA: x * 1 + (-0) = x for every non-NaN x (subnormals, signed zeros)",
              "comb", {"fma.v": fma, "top.sv": identity}, "fma.v", "top", (r"= a_e \+ b_e;", "= a_e - b_e;"),
              tags=("fp16",)),
        Proof("fp16_fma_sign_symmetry", "FP16 FMA: fma(-a, b, -c) = -fma(a, b, c) unless NaN or an exact zero "
              "(round to nearest even is symmetric)", "comb", {"fma.v": fma, "top.sv": symmetry}, "fma.v", "top",
              (r"= - \$signed\(total\);", "= $signed(total);"), tags=("fp16",)),
        Proof("fp16_mac_nan_canonical", "FP16 MAC: every NaN the accumulator holds is 0x7E00, and no bit of it is "
              "undefined, any input sequence",
              "induct", {"mac.v": mac, "top.sv": canonical}, "mac.v", "top", nan_mutant, depth=3, tags=("fp16",)),
    ]


# (lanes, g, a_kept): the CI set proves in about a minute here; the full set adds the 16-lane g = 16 unit
# (about 140 s) and more shapes. A 16-lane W4A8 unit did not finish in 5 minutes.
