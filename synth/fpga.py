"""iCE40 figures: LUT4, flip-flop and carry counts from Yosys ``synth_ice40``, maximum clock from ``nextpnr-ice40``.

Device iCE40HX8K (CT256 package, 7680 logic cells, no DSP blocks, so multipliers are built from LUTs and carry
chains), placed and routed with unconstrained I/O and a fixed seed. Combinational units (encoders, decoders)
get counts only: they have no clock, and the wide encoders have more I/O than the package. Debian's Yosys
0.23 runs ``synth_ice40`` (it matches Debian's nextpnr 0.4; the yowasp build's ABC9 step exited with status 1
and no message on some units here).
"""

import json
import shutil
from pathlib import Path

from hdl.export import to_verilog

from .flow import REFERENCE_YOSYS, ToolError, read_stat_json, run_tool

NEXTPNR = "nextpnr-ice40"
DEVICE = ("--hx8k", "--package", "ct256")
USER_IO = 206                      # HX8K CT256 user I/O pins


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
