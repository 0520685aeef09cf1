"""Gate-level simulation of a synthesized MAC netlist on real traces: functional check and per-pin toggles.

The flattened OSU 0.18 um netlist that ``synth.flow.synthesize`` writes is simulated with Icarus and the
library's own cell models (``osu018_stdcells.v``, zero delay: specify blocks are ignored) on the same
real-trace input streams that give the switching activity (``synth.activity.streams_for``). Two results:

* the netlist's accumulator, every cycle, against the golden model (a synthesized-netlist equivalence check on
  real data; a mismatch is an error);
* the toggle count of every cell output pin, read from the VCD (each cell instance is a VCD scope whose
  output port is the pin), from which ``synth.libpower`` computes power with the liberty's tables (OpenSTA
  2019 cannot take activity on internal pins), instead of OpenSTA's statistical propagation of the input-port
  activity.
"""

from pathlib import Path

import numpy as np

import golden as G
from golden.streams import from_signmag
from hdl.export import ports as unit_ports

from . import libpower
from .activity import streams_for
from .flow import ToolError, _run

CELL_MODELS = "osu018_stdcells.v"
IVERILOG, VVP = "iverilog", "vvp"


def expected_acc(unit, streams):
    """Golden accumulator after each cycle for the unit's streams (``en`` held high)."""
    cls = type(unit).__name__
    load = streams["load"].astype(bool)
    if cls == "FP16MAC":
        return G.fp16.fp16_mac_stream(streams["a"], streams["b"], load).astype(np.int64)
    if cls == "IntMAC":
        prod = G.int_product(streams["a"], streams["b"], unit.a_bits, unit.b_bits)
    else:
        fa = G.SDRFormat(unit.a_base, unit.a_kept, 1)
        fw = G.SDRFormat(unit.w_base, unit.w_kept, 1)
        ca, cw = from_signmag(streams["a"], fa), from_signmag(streams["w"], fw)
        prod = G.dfree_product(ca, streams["fa"], cw, streams["fw"], fa, fw)
    acc = G.accumulate(prod, load, width=unit.acc_width)
    return acc & ((1 << unit.acc_width) - 1)


def _testbench(name, ports, cycles, half_period_ns=5):
    ins = [(n, w) for n, w, i in ports if i]
    outs = [(n, w) for n, w, i in ports if not i]
    total = sum(w for _, w in ins)
    decl = "\n".join(f"  reg [{w - 1}:0] {n} = 0;" for n, w in ins)
    decl += "\n" + "\n".join(f"  wire [{w - 1}:0] {n};" for n, w in outs)
    conns = ", ".join([".clk(clk)", ".rst(rst)"] + [f".{n}({n})" for n, _, _ in ports])
    cat = "{" + ", ".join(n for n, _ in ins) + "}"
    show = " ".join("%h" for _ in outs)
    return f"""`timescale 1ns/10ps
module tb;
  reg clk = 0, rst = 1;
{decl}
  reg [{total - 1}:0] mem [0:{cycles - 1}];
  integer i, f;
  {name} dut ({conns});
  always #{half_period_ns} clk = ~clk;
  initial begin
    $readmemh("stim.hex", mem);
    f = $fopen("out.txt", "w");
    @(negedge clk); @(negedge clk); rst = 0;
    $dumpfile("gl.vcd");
    $dumpvars(0, dut);
    for (i = 0; i < {cycles + 2}; i = i + 1) begin
      if (i < {cycles}) {cat} = mem[i];
      @(negedge clk);
      $fdisplay(f, "{show}", {", ".join(n for n, _ in outs)});
    end
    $fclose(f);
    $finish;
  end
endmodule
"""


def _stim_hex(ins, streams, cycles):
    word = np.zeros(cycles, dtype=object)
    for n, w in ins:
        v = np.asarray(streams[n], np.int64).reshape(cycles, -1)[:, 0] & ((1 << w) - 1)
        word = word * (1 << w) + v.astype(object)
    return "\n".join(format(int(x), "x") for x in word) + "\n"


def _count_vcd(path, output_pins):
    """{(cell instance, output pin): toggles}: changes of each pin's settled value from one simulation time to
    the next (zero-delay delta-cycle glitches inside one time step are not counted), after the $dumpvars
    block's initial values."""
    ids = {}
    scope, in_defs, in_dump = [], True, False
    settled, pending, counts = {}, {}, {}

    def commit():
        for k, v in pending.items():
            if settled.get(k) is not None and settled[k] != v:
                counts[k] = counts.get(k, 0) + 1
            settled[k] = v
        pending.clear()

    with open(path) as f:
        for line in f:
            if in_defs:
                if line.startswith("$scope"):
                    scope.append(line.split()[2])
                elif line.startswith("$upscope"):
                    scope.pop()
                elif line.startswith("$var"):
                    parts = line.split()
                    if parts[2] == "1" and len(scope) >= 3 and parts[4] in output_pins:
                        ids.setdefault(parts[3], []).append((scope[-1], parts[4]))
                elif line.startswith("$enddefinitions"):
                    in_defs = False
                continue
            c = line[:1]
            if c == "#":
                commit()
            elif line.startswith("$dumpvars"):
                in_dump = True
            elif in_dump and line.startswith("$end"):
                in_dump = False
            elif c in ("0", "1", "x", "z"):
                key = line[1:].strip()
                if key in ids:
                    if in_dump:
                        settled[key] = c
                    else:
                        pending[key] = c
        commit()
    return {pin: counts.get(k, 0) for k, pins in ids.items() for pin in pins}


def simulate(name, unit, workdir, liberty, ts, cycles=2000, timed=False, period_ns=10):
    """Run the netlist on real-trace streams; returns toggles per cell output pin and the functional check.

    ``timed``: use the cell models' specify delays (``iverilog -gspecify``), so that glitches are simulated and
    counted; ``period_ns`` must then exceed the critical path (toggles are per cycle, whatever the period)."""
    work = Path(workdir)
    netlist = work / f"{name}_netlist.v"
    models = Path(liberty).with_name(CELL_MODELS)
    if not netlist.is_file():
        raise ToolError(f"{netlist} is missing: synthesize {name} first")
    if not models.is_file():
        raise ToolError(f"cell models {models} not found beside the liberty file (qflow-tech-osu018 ships them)")
    gl = work / ("gatesim_timed" if timed else "gatesim")
    gl.mkdir(exist_ok=True)
    streams = streams_for(unit, ts, cycles=cycles, seed=1)
    ports = unit_ports(unit)
    ins = [(n, w) for n, w, i in ports if i]
    (gl / "stim.hex").write_text(_stim_hex(ins, streams, cycles))
    (gl / "tb.v").write_text(_testbench(name, ports, cycles, period_ns / 2))
    _run([IVERILOG, *(["-gspecify"] if timed else []), "-o", "tb.vvp", "-s", "tb", "tb.v", str(netlist.resolve()),
          str(models)], gl / "iverilog.log", gl)
    _run([VVP, "-n", "tb.vvp"], gl / "vvp.log", gl)
    out = [int(line.split()[0], 16) for line in (gl / "out.txt").read_text().split()]
    exp = expected_acc(unit, streams)
    got = np.array(out[1:cycles + 1], dtype=object)            # line i holds the result of input i - 1
    bad = np.nonzero(got != exp.astype(object))[0]
    if bad.size:
        i = int(bad[0])
        raise ToolError(f"{name}: gate-level netlist disagrees with the golden model at cycle {i}: "
                        f"expected {int(exp[i]):#x}, got {int(got[i]):#x} ({bad.size} of {cycles} cycles differ)")
    lib = libpower.load_library(str(liberty))
    outputs = {p for cell in lib.values() for p, pin in cell["pins"].items() if pin["dir"] == "output"}
    toggles = _count_vcd(gl / "gl.vcd", outputs)
    if not toggles:
        raise ToolError(f"{name}: no cell output pins found in {gl / 'gl.vcd'}")
    (gl / "gl.vcd").unlink()                                    # large; the counts are what is kept
    return {"cycles": cycles, "toggles": toggles}
