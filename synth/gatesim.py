"""Gate-level simulation of a synthesized netlist on real traces: functional check and per-pin toggles.

The flattened OSU 0.18 um netlist that ``synth.flow.synthesize`` writes is simulated with delays by Icarus and
the library's own cell models (``osu018_stdcells.v``, their specify delays), and with zero delay by the
cycle-based ``synth.cyclesim`` (the liberty's cell functions; the same settled-value counts), on the unit's
own real-trace stimulus (``Unit.stimulus``, the builder that also feeds its benches and its activity). A stream
unit (a GEMM tile) is driven by a handshaking testbench (``_stream_testbench``): every input stream offers its
next beat every cycle, every output stream is always ready, so the unit runs at the full rate its throughput
figures assume; toggles are counted from the end of the pipeline fill to the cycle its last input beat is taken
(the pipeline kept full), the outputs until the last one has drained. Two results:

* every output, every cycle, against the unit's golden function (a synthesized-netlist equivalence check on
  real data; any mismatch is an error naming the count and the first cycle);
* the toggle count of every cell output pin, read from the VCD (each cell instance is a VCD scope whose
  output port is the pin), from which ``synth.libpower`` computes power with the liberty's tables (OpenSTA
  2019 cannot take activity on internal pins), instead of OpenSTA's statistical propagation of the input-port
  activity.
"""

from pathlib import Path

import numpy as np

from hdl.unit import words

from . import cyclesim, libpower
from .activity import SEED
from .flow import ToolError, run_tool

CELL_MODELS = "osu018_stdcells.v"
WINDOWS = 5                  # equal stretches of a run whose powers give the error of the mean
IVERILOG, VVP = "iverilog", "vvp"


def _testbench(unit, cycles, half_period_ns=5):
    ins, outs = unit.inputs, unit.outputs
    total = sum(p.width for p in ins)
    decl = "\n".join(f"  reg [{p.width - 1}:0] {p.name} = 0;" for p in ins)
    decl += "\n" + "\n".join(f"  wire [{p.width - 1}:0] {p.name};" for p in outs)
    clocks = [".clk(clk)", ".rst(rst)"] if unit.clocked else []      # a combinational unit: the tb's clock
    conns = ", ".join(clocks + [f".{p.name}({p.name})" for p in unit.ports])  # only paces the vectors
    cat = "{" + ", ".join(p.name for p in ins) + "}"
    show = " ".join("%h" for _ in outs)
    return f"""`timescale 1ns/10ps
module tb;
  reg clk = 0, rst = 1;
{decl}
  reg [{total - 1}:0] mem [0:{cycles - 1}];
  integer i, f;
  {unit.name} dut ({conns});
  always #{half_period_ns} clk = ~clk;
  initial begin
    $readmemh("stim.hex", mem);
    f = $fopen("out.txt", "w");
    @(negedge clk); @(negedge clk); rst = 0;
    $dumpfile("gl.vcd");
    $dumpvars(0, dut);
    for (i = 0; i < {cycles + unit.latency}; i = i + 1) begin
      if (i < {cycles}) {cat} = mem[i];
      @(negedge clk);
      $fdisplay(f, "{show}", {", ".join(p.name for p in outs)});
    end
    $fclose(f);
    $finish;
  end
endmodule
"""


def _stim_hex(unit, drive, cycles):
    word = [0] * cycles
    for p in unit.inputs:
        w = words(np.asarray(drive[p.name], np.int64)[:cycles], p.elem_width)
        word = [(x << p.width) | y for x, y in zip(word, w)]
    return "\n".join(format(x, "x") for x in word) + "\n"


def _stream_testbench(unit, counts, expect, half_period_ns):
    """Icarus testbench of a stream unit: in each cycle every input stream offers its next beat (``valid`` high
    until its beats run out), every output stream is ready; handshakes are sampled half a nanosecond before the
    rising edge, when the unit's cell delays have settled. ``out.txt``: one line per output handshake (stream
    index, payload), ``# inputs <cycle>`` when every input beat has been taken, ``# cycles <n>`` at the end.
    ``counts``: beats per input stream; ``expect``: output beats in all (the run ends when they are out and every
    input beat has been taken)."""
    ins = [st for st in unit.streams if st.is_input]
    outs = [st for st in unit.streams if not st.is_input]
    limit = 4 * max(counts.values()) + 1000
    decl, conns, drive, sample = [], [".clk(clk)", ".rst(rst)"], [], []
    for st in ins:
        n, w = st.name, st.width
        decl += [f"  reg [{w - 1}:0] {n}__payload = 0;", f"  reg {n}__valid = 0;", f"  wire {n}__ready;",
                 f"  reg [{w - 1}:0] mem_{n} [0:{counts[n] - 1}];", f"  integer i_{n} = 0;"]
        conns += [f".{n}__payload({n}__payload)", f".{n}__valid({n}__valid)", f".{n}__ready({n}__ready)"]
        drive += [f"      {n}__valid = i_{n} < {counts[n]};",
                  f"      if (i_{n} < {counts[n]}) {n}__payload = mem_{n}[i_{n}];"]
        sample += [f"      if ({n}__valid && {n}__ready) i_{n} = i_{n} + 1;"]
    for k, st in enumerate(outs):
        n, w = st.name, st.width
        decl += [f"  wire [{w - 1}:0] {n}__payload;", f"  wire {n}__valid;", f"  reg {n}__ready = 0;"]
        conns += [f".{n}__payload({n}__payload)", f".{n}__valid({n}__valid)", f".{n}__ready({n}__ready)"]
        drive += [f"      {n}__ready = 1;"]
        sample += [f"      if ({n}__valid && {n}__ready) begin $fdisplay(f, \"{k} %h\", {n}__payload); "
                   f"got = got + 1; end"]
    done = " && ".join(f"i_{st.name} == {counts[st.name]}" for st in ins)
    loads = "\n".join(f'    $readmemh("{st.name}.hex", mem_{st.name});' for st in ins)
    nl = "\n"
    return f"""`timescale 1ns/10ps
module tb;
  reg clk = 0, rst = 1;
{nl.join(decl)}
  integer f, cyc = 0, got = 0, fed = 0;
  {unit.name} dut ({", ".join(conns)});
  always #{half_period_ns} clk = ~clk;
  initial begin
{loads}
    f = $fopen("out.txt", "w");
    @(negedge clk); @(negedge clk); rst = 0;
    $dumpfile("gl.vcd");
    $dumpvars(0, dut);
    while ((got < {expect} || !fed) && cyc < {limit}) begin
{nl.join(drive)}
      #{half_period_ns - 0.5};
{nl.join(sample)}
      cyc = cyc + 1;
      if (!fed && {done}) begin $fdisplay(f, "# inputs %0d", cyc); fed = 1; end
      @(negedge clk);
    end
    $fdisplay(f, "# cycles %0d", cyc);
    $fclose(f);
    $finish;
  end
endmodule
"""


def _simulate_stream(unit, gl, netlist, models, source, cycles, timed, period_ns):
    """A stream unit's gate-level run in Icarus (see the module doc), every output beat checked against the golden
    model; returns ``(beats, cycle the last input beat was taken, output beats checked, input beats)``."""
    # the first ``cycles`` beats (a job cut short gives no output, in the golden model as in the unit)
    beats = {k: {f: np.asarray(v)[:cycles] for f, v in b.items()}
             for k, b in unit.stimulus(source, cycles, seed=SEED).items()}
    exp = unit.expect(beats)
    ins = [st for st in unit.streams if st.is_input]
    outs = [st for st in unit.streams if not st.is_input]
    if not any(st.check(exp[st.name], unit.name) for st in outs):
        raise ToolError(f"{unit.name}: the first {cycles} input beats complete no job, so no output could be "
                        "checked; simulate more cycles")
    n_in = unit.check_beats(beats)                       # beats per input stream
    for st in ins:
        (gl / f"{st.name}.hex").write_text("".join(f"{x:x}\n" for x in st.pack(beats[st.name])))
    want = {k: st.pack(exp[st.name]) if st.check(exp[st.name], unit.name) else [] for k, st in enumerate(outs)}
    tb = _stream_testbench(unit, n_in, sum(len(v) for v in want.values()), period_ns / 2)
    (gl / "tb.v").write_text(tb)
    run_tool([IVERILOG, *(["-gspecify"] if timed else []), "-o", "tb.vvp", "-s", "tb", "tb.v",
              str(netlist.resolve()), str(models)], gl / "iverilog.log", gl)
    run_tool([VVP, "-n", "tb.vvp"], gl / "vvp.log", gl, timeout=3600)
    got, fed, ran = {k: [] for k in want}, None, None
    for line in (gl / "out.txt").read_text().splitlines():
        parts = line.split()
        if parts[:2] == ["#", "inputs"]:
            fed = int(parts[2])
        elif parts[:2] == ["#", "cycles"]:
            ran = int(parts[2])
        else:
            got[int(parts[0])].append(parts[1])
    checked = bad = 0
    first = None
    for k, st in enumerate(outs):
        for j, w in enumerate(want[k]):
            text = got[k][j] if j < len(got[k]) else "missing"
            value = int(text, 16) if all(c in "0123456789abcdef" for c in text) else None
            checked += 1
            if value != w:
                bad += 1
                first = first or (j, st.name, w, text)
        if len(got[k]) > len(want[k]):
            bad += len(got[k]) - len(want[k])
            first = first or (len(want[k]), st.name, 0, "an extra beat")
    if bad or not checked or fed is None:
        j, name, w, text = first or (0, "-", 0, "no beats" if fed is not None else "inputs not all taken")
        raise ToolError(f"{unit.name}: gate-level netlist disagrees with the golden model in {bad} of {checked} "
                        f"output beats (ran {ran} cycles); first at beat {j} of stream {name}: expected {w:#x}, "
                        f"got {text}")
    return beats, fed, checked, max(n_in.values())


_UNITS_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}


def _count_vcd(path, output_pins, windows=1, span_ns=None, until_ns=None, from_ns=None):
    """{(cell instance, output pin): toggles}: changes of each pin's settled value from one simulation time to
    the next (zero-delay delta-cycle glitches inside one time step are not counted), after the $dumpvars
    block's initial values. With ``windows`` > 1 and ``span_ns`` = (start, end) of the counted run, also the
    counts per equal time window (a list of such dicts). Changes after ``until_ns`` and before ``from_ns`` are not
    counted.
    Hand-written on purpose: pyvcd's pure-Python
    tokenizer took 8.6x longer (331 s vs 38 s on a 68 MB VCD, same counts), and timed runs of the wide baselines
    write VCDs of several hundred MB."""
    ids = {}
    scope, in_defs, in_dump, in_timescale = [], True, False, False
    settled, pending = {}, {}
    counts = [dict() for _ in range(windows)]
    unit_ns, window = 1.0, 0

    counting = from_ns is None

    def commit():
        c = counts[window]
        for k, v in pending.items():
            if counting and settled.get(k) is not None and settled[k] != v:
                c[k] = c.get(k, 0) + 1
            settled[k] = v
        pending.clear()

    with open(path) as f:
        for line in f:
            if in_defs:
                if in_timescale or line[:10] == "$timescale":
                    text = line.replace("$timescale", "").replace("$end", "").strip()
                    in_timescale = "$end" not in line
                    if text:
                        num = text.rstrip("afmnpsu ") or "1"
                        unit_ns = float(num) * _UNITS_NS[text[len(num):].strip()]
                elif line[:6] == "$scope":
                    scope.append(line.split()[2])
                elif line[:8] == "$upscope":
                    scope.pop()
                elif line[:4] == "$var":
                    parts = line.split()
                    if parts[2] == "1" and len(scope) >= 3 and parts[4] in output_pins:
                        ids.setdefault(parts[3], []).append((scope[-1], parts[4]))
                elif line[:15] == "$enddefinitions":
                    in_defs = False
                continue
            c = line[:1]
            if c == "#":
                commit()
                t = int(line[1:]) * unit_ns
                if until_ns is not None and t > until_ns:
                    break
                counting = from_ns is None or t >= from_ns
                if windows > 1:
                    start, end = span_ns
                    window = min(windows - 1, max(0, int((t - start) * windows / (end - start))))
            elif line[:9] == "$dumpvars":
                in_dump = True
            elif in_dump and line[:4] == "$end":
                in_dump = False
            elif c in ("0", "1", "x", "z"):
                key = line[1:].strip()
                if key in ids:
                    if in_dump:
                        settled[key] = c
                    else:
                        pending[key] = c
        commit()
    per_window = [{pin: w.get(k, 0) for k, pins in ids.items() for pin in pins} for w in counts]
    total = {pin: sum(w[pin] for w in per_window) for pin in per_window[0]} if per_window else {}
    return (total, per_window) if windows > 1 else total


def simulate(unit, workdir, liberty, source, cycles=2000, timed=False, period_ns=10, engine=None, windows=WINDOWS):
    """Run ``unit``'s netlist on ``source``'s data; returns toggles per cell output pin and the functional check.

    ``timed``: Icarus with the cell models' specify delays (``iverilog -gspecify``), so that glitches are
    simulated and counted; ``period_ns`` must then exceed the critical path (toggles are per cycle, whatever the
    period). Zero delay (``timed=False``): the cycle-based simulator ``synth.cyclesim`` on the same schedule
    (settled values only, the same counts as Icarus without delays, far faster on deep logic).
    ``engine="icarus"`` runs the zero-delay case in Icarus too (the cross-check of the two simulators).
    ``windows``: the counts are also returned per equal stretch of the run (``window_toggles``), from which
    ``libpower.power_spread`` states the statistical error of the mean power.
    A combinational unit gets one input vector per period and its outputs are read a period later.
    A stream unit always runs in Icarus (its handshaking testbench) on the first ``cycles`` input beats of its
    stimulus; the result's ``cycles`` are the counted stretch (after the ``pipeline`` fill, until the last input
    beat was taken) and ``beats`` the input beats taken in it."""
    if engine not in (None, "icarus", "cycle") or (timed and engine == "cycle"):
        raise ValueError(f"engine must be 'icarus' or 'cycle' (zero delay only), not {engine!r}")
    stream = unit.protocol == "stream"
    if stream and engine == "cycle":
        raise ValueError(f"{unit.name} is a stream unit: the cycle simulator cannot drive its handshakes; "
                         "use engine='icarus'")
    icarus = timed or engine == "icarus" or stream
    work = Path(workdir)
    netlist = work / f"{unit.name}_netlist.v"
    models = Path(liberty).with_name(CELL_MODELS)
    if not netlist.is_file():
        raise ToolError(f"{netlist} is missing: synthesize {unit.name} first")
    if icarus and not models.is_file():
        raise ToolError(f"cell models {models} not found beside the liberty file (qflow-tech-osu018 ships them)")
    if stream:
        gl = work / ("gatesim_timed" if timed else "gatesim")
        gl.mkdir(exist_ok=True)
        beats, fed, checked, n_beats = _simulate_stream(unit, gl, netlist, models, source, cycles, timed, period_ns)
        lib = libpower.load_library(str(liberty))
        outputs = {p for cell in lib.values() for p, pin in cell["pins"].items() if pin["dir"] == "output"}
        fill = getattr(unit._probe, "pipeline", 0) or 0           # cycles before the first beat does any work
        if fed <= fill:
            raise ToolError(f"{unit.name}: {fed} input cycles do not cover the {fill}-cycle pipeline fill")
        span = ((2 + fill) * period_ns, (2 + fed) * period_ns)
        toggles, window_toggles = _count_vcd(gl / "gl.vcd", outputs, max(2, windows), span, span[1] - 1e-3,
                                             span[0])
        if not toggles:
            raise ToolError(f"{unit.name}: no cell output pins found in {gl / 'gl.vcd'}")
        (gl / "gl.vcd").unlink()
        return {"cycles": fed - fill, "beats": n_beats - fill, "checked": checked, "toggles": toggles,
                "window_toggles": window_toggles,
                "simulator": "Icarus -gspecify (cell delays)" if timed else "Icarus (zero delay)"}
    drive = {k: np.asarray(v)[:cycles] for k, v in unit.stimulus(source, cycles, seed=SEED).items()}
    cycles = len(drive[unit.inputs[0].name])
    gl = work / ("gatesim_timed" if timed else "gatesim")
    gl.mkdir(exist_ok=True)
    if icarus:
        (gl / "stim.hex").write_text(_stim_hex(unit, drive, cycles))
        (gl / "tb.v").write_text(_testbench(unit, cycles, period_ns / 2))
        run_tool([IVERILOG, *(["-gspecify"] if timed else []), "-o", "tb.vvp", "-s", "tb", "tb.v",
                  str(netlist.resolve()), str(models)], gl / "iverilog.log", gl)
        run_tool([VVP, "-n", "tb.vvp"], gl / "vvp.log", gl, timeout=3600)
        lines = (gl / "out.txt").read_text().splitlines()

        def got(k, p, j):
            text = lines[j + max(unit.latency, 1) - 1].split()[k]   # a combinational output settles in-cycle
            return (int(text, 16) if all(c in "0123456789abcdef" for c in text) else None), text
    else:
        try:
            net = cyclesim.Netlist(work / f"{unit.name}_netlist.json", liberty, top=unit.name)
            values, cycle_toggles, window_toggles = cyclesim.simulate(net, unit, drive, cycles, windows)
        except cyclesim.SimError as e:
            raise ToolError(f"{unit.name}: {e}") from None

        def got(k, p, j):
            w = values[p.name][j + max(unit.latency, 1) - 1]
            return w, format(w, "x")
    exp = unit.expect(drive)
    first, bad, checked = None, 0, 0
    for k, p in enumerate(unit.outputs):
        if p.name not in exp:
            continue
        want = p.words(exp[p.name])
        for j in range(cycles):
            value, text = got(k, p, j)
            checked += 1
            if value != want[j]:
                bad += 1
                first = first or (j, p.name, want[j], text)
    if bad or not checked:
        j, name, want, text = first or (0, "-", 0, "-")
        raise ToolError(f"{unit.name}: gate-level netlist disagrees with the golden model in {bad} of {checked} "
                        f"output values; first at cycle {j} port {name}: expected {want:#x}, got {text}")
    if icarus:
        lib = libpower.load_library(str(liberty))
        outputs = {p for cell in lib.values() for p, pin in cell["pins"].items() if pin["dir"] == "output"}
        span = (2 * period_ns, (2 + cycles + unit.latency) * period_ns)   # the testbench's counted stretch
        toggles, window_toggles = _count_vcd(gl / "gl.vcd", outputs, max(2, windows), span)
        if not toggles:
            raise ToolError(f"{unit.name}: no cell output pins found in {gl / 'gl.vcd'}")
        (gl / "gl.vcd").unlink()                                # large; the counts are what is kept
    else:
        toggles = cycle_toggles
    return {"cycles": cycles, "checked": checked, "toggles": toggles, "window_toggles": window_toggles,
            "simulator": ("Icarus -gspecify (cell delays)" if timed else "Icarus (zero delay)") if icarus
            else "synth.cyclesim (zero delay)"}
