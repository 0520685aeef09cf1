# amaranth: UnusedElaboratable=no
"""The GEMM tile's stream protocol, for any input sequence, on a small tile (``2 x 2`` elements of 4 lanes:
the protocol logic, the result buffer and the join do not depend on the array's size, only their widths do)."""

from .core import Proof, _export


def tile_protocol_proof(rows=2, cols=2, lanes=4, depth=2, int8=False, cycles=16):
    """The wrapper counts what the tile takes and gives and asserts, every cycle, for any input and ``ready``
    sequence: the two input streams are taken together (no ``a`` beat without its ``w`` beat); an output beat
    shown and not taken is shown again, unchanged (``valid`` held, payload stable); output beats come in
    blocks of ``rows`` with ``last`` on the last row; the blocks held never exceed the buffer (nothing is
    overwritten), and ``y.valid`` is high exactly when a job whose last beat was taken at least ``pipeline +
    1`` cycles ago has a block not yet drained: every job gives exactly one block, none is lost, duplicated
    or shown early."""
    from hdl.tile import GemmTile, IntGemmTile
    from hdl.unit import streams
    tile = (IntGemmTile(rows=rows, cols=cols, lanes=lanes, depth=depth) if int8 else
            GemmTile(rows=rows, cols=cols, lanes=lanes, depth=depth))
    width = {s.name: s.width for s in streams(tile)}
    aw, ww, yw = width["a"], width["w"], width["y"]
    p = tile.pipeline
    top = f"""module top(input clk, input rst, input [{aw - 1}:0] a_payload, input a_valid,
    input [{ww - 1}:0] w_payload, input w_valid, input y_ready);
  wire a_ready, w_ready, y_valid;
  wire [{yw - 1}:0] y_payload;
  dut u(.clk(clk), .rst(rst), .a__payload(a_payload), .a__valid(a_valid), .a__ready(a_ready),
        .w__payload(w_payload), .w__valid(w_valid), .w__ready(w_ready),
        .y__payload(y_payload), .y__valid(y_valid), .y__ready(y_ready));
  wire a_fire = a_valid & a_ready, w_fire = w_valid & w_ready, y_fire = y_valid & y_ready;
  wire job_end = a_fire & a_payload[{aw - 1}];          // a.last: the payload's top bit
  wire y_last = y_payload[{yw - 1}];                    // y.last: the payload's top bit
  reg held = 0;                                         // y shown and not taken in the previous cycle
  reg [{yw - 1}:0] shown = 0;
  reg [3:0] outstanding = 0;                            // jobs ended minus blocks drained
  reg [{p - 1}:0] flight = 0;                           // job ends of the last {p} cycles
  reg [7:0] row = 0;                                    // output beats of the current block
  always @(posedge clk) begin
    if (rst) begin
      held <= 0; shown <= 0; outstanding <= 0; flight <= 0; row <= 0;
    end else begin
      held <= y_valid & ~y_ready;
      shown <= y_payload;
      outstanding <= outstanding + job_end - (y_fire & y_last);
      flight <= {{flight[{p - 2}:0], job_end}};
      if (y_fire) row <= y_last ? 0 : row + 1;
    end
  end
  wire [3:0] landing = {" + ".join(f"flight[{k}]" for k in range(p))};
  always @* begin
    assert(a_fire == w_fire);
    if (held) assert(y_valid && y_payload == shown);
    assert(y_last == (row == {rows - 1}));
    assert(outstanding <= {depth});
    assert(y_valid == (outstanding > landing));
  end
endmodule
"""
    kind = "int8x8" if int8 else "w4a4"
    return Proof(f"tile{rows}x{cols}x{lanes}_{kind}_protocol", f"{rows} x {cols} x {lanes} {kind.upper()} GEMM tile "
                 f"(depth {depth}): inputs joined, output held until taken, {rows} rows per block, no block lost, "
                 "duplicated, overwritten or shown early, any input and ready sequence (every cycle of the first "
                 f"{cycles})",
                 "bmc",
                 {"dut.v": _export(tile, "dut"), "top.sv": top}, "dut.v", "top",
                 (r"(assign room = [^;]*?) < ", r"\1 <= "), depth=cycles, tags=("tile",))


def tile_pe_proof(lanes=4, g=16, a_kept=4, int8=False, depth=5):
    """The GEMM tile's processing element as the tile builds it (``DotProductCore`` / ``IntDotProductCore`` with
    the tile's defaults: the retimed stage-2 registers, the carry-delayed accumulator, data registers without
    reset) behind the operand registers the tile shares among its elements, against the dot-product reference
    (``formal.dots``): the accumulator is the sum of the lanes' decoded products, for any input sequence.
    The reset is held low (the element's data registers are not reset by design: every sum starts with
    ``load``, and the tile's control, which is reset, is the protocol proof's); registers start at zero."""
    from golden.sdr import SDRFormat
    from hdl.dot import DotProductCore, IntDotProductCore
    from hdl.tile import GemmTile, IntGemmTile

    from .dots import dot_reference, int_dot_reference
    if int8:
        core = IntGemmTile(rows=1, cols=1, lanes=lanes).core
        pe = IntDotProductCore(**core, style="tree")
        ports = [("a", lanes * 8), ("b", lanes * 8)]
        ref = int_dot_reference("ref", lanes, 8, 8)
        assumes, kind = "", "int8x8"
        mutation = (r"(assign sum = [^;]*?) \+ ", r"\1 - ")
    else:
        core = GemmTile(rows=1, cols=1, lanes=lanes, group_size=g, a_kept=a_kept).core
        pe = DotProductCore(**core)
        fa, fw = SDRFormat(16, a_kept, g), SDRFormat(8, 4, g)
        ba, bw = fa.max_flag.bit_length(), fw.max_flag.bit_length()
        sub = pe.sub
        ports = [("a", lanes * (fa.mag_bits + 1)), ("w", lanes * (fw.mag_bits + 1)), ("fa", sub * ba),
                 ("fw", sub * bw)]
        ref = dot_reference("ref", lanes, g, fa, fw)
        assumes = " ".join(f"assume(fa[{s * ba + ba - 1}:{s * ba}] <= {fa.max_flag}); "
                           f"assume(fw[{s * bw + bw - 1}:{s * bw}] <= {fw.max_flag});" for s in range(sub))
        kind = f"w4a{a_kept}"
        mutation = (r"(assign l0_0 = [^;]*?) \+ ", r"\1 - ")
    ports += [("en", 1), ("load", 1)]
    decl = ", ".join(f"input [{w - 1}:0] {n}" for n, w in ports)
    regs = "\n".join(f"  reg [{w - 1}:0] {n}_q = 0;" for n, w in ports)
    moves = " ".join(f"{n}_q <= {n};" for n, _ in ports)
    conn = ", ".join(f".{n}({n}_q)" for n, _ in ports)
    raw = ", ".join(f".{n}({n})" for n, _ in ports)
    top = f"""module top(input clk, input rst, {decl});
{regs}
  always @(posedge clk) begin {moves} end
  wire [31:0] acc1, acc2;
  pe u1(.clk(clk), .rst(rst), {conn}, .acc(acc1));
  ref u2(.clk(clk), .rst(rst), {raw}, .acc(acc2));
  always @* begin
    assume(!rst);
    {assumes}
    assert(acc1 == acc2);
  end
endmodule
"""
    what = (f"the {lanes}-lane {kind.upper()} processing element of the GEMM tile as the tile builds it (retimed, "
            f"carry-delayed accumulator in {core['acc_split']}-bit parts, data registers not reset), behind the "
            "tile's operand registers: the accumulator is the sum of the lanes' decoded products, any sequence "
            "without reset")
    return Proof(f"tile_pe{lanes}_{kind}", what, "induct", {"pe.v": _export(pe, "pe"), "ref.v": ref, "top.sv": top},
                 "pe.v", "top", mutation, depth=depth, tags=("tile",))
