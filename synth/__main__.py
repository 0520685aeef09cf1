"""`make synth`: synthesize every unit, write build/synth/report.{md,json} and area.png.

Usage: python -m synth [--liberty FILE] [--clock-ns NS] [--out DIR] [UNIT ...]
"""

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hdl.configs import ENCODER_GROUPS, MACS, UNITS, get
from llmstudy import traces

from . import fpga, gatesim, libpower
from .activity import activity
from .flow import DEFAULT_ABC, DEFAULT_LIBERTY, REFERENCE_YOSYS, ToolError, breakdown, require_tools, sta, synthesize
from .report import write_report

GATE_CYCLES = 2000


def run_unit(name, out, liberty, clock_ns, ts, with_fpga=True):
    unit = get(name).build()
    clocked = unit.latency > 0
    act = activity(unit, ts)
    work = out / name
    syn = synthesize(name, unit, work, liberty)
    res = {"name": name, "doc": get(name).doc, "params": get(name).params, "area_um2": syn["total"],
           "cells": syn["cells"], "modules": syn["modules"], "parts": breakdown(name, syn["modules"])}
    res.update(sta(name, work, liberty, clock_ns, act, clocked))
    res["mean_input_activity"] = sum(act.values()) / max(1, len(act))
    # the mapping comparisons that justify the flow: Yosys' default ABC script (same Yosys, Booth) ...
    ref = synthesize(name, unit, work / "default_abc", liberty, abc_script=DEFAULT_ABC)
    res["mapping_default_abc"] = {"area_um2": ref["total"], "parts": breakdown(name, ref["modules"]),
                                  **sta(name, work / "default_abc", liberty, clock_ns, act, clocked)}
    if name in MACS:                 # ... and Debian's Yosys 0.23 without Booth (areas only)
        ref = synthesize(name, unit, work / "reference_yosys", liberty, yosys=REFERENCE_YOSYS, booth=False,
                         abc_script=DEFAULT_ABC)
        res["mapping_reference"] = {"yosys": "Debian Yosys 0.23, synth", "area_um2": ref["total"],
                                    "parts": breakdown(name, ref["modules"])}
        for key, timed in (("gate_level", False), ("gate_level_timed", True)):
            period = max(clock_ns, 5 * round(res["critical_path_ns"] * 1.5 / 5 + 0.5)) if timed else clock_ns
            gl = gatesim.simulate(name, unit, work, liberty, ts, cycles=GATE_CYCLES, timed=timed, period_ns=period)
            rates = {pin: n / gl["cycles"] for pin, n in gl["toggles"].items()}
            res[key] = dict(libpower.power(work / f"{name}_netlist.v", liberty, clock_ns, rates,
                                           input_port_rates=act),
                            cycles=gl["cycles"], sim_period_ns=period,
                            mean_toggle_rate=sum(rates.values()) / len(rates))
            res[key]["power_mw"] = res[key]["total_mw"]
    if with_fpga:
        res["ice40"] = fpga.ice40(name, unit, work)
    if hasattr(unit, "group_size"):
        res["group_size"] = unit.group_size
        res["area_per_element_um2"] = syn["total"] / unit.group_size
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--liberty", default=DEFAULT_LIBERTY)
    ap.add_argument("--clock-ns", type=float, default=10.0, help="clock for timing and power (default 10 ns)")
    ap.add_argument("--out", default="build/synth")
    ap.add_argument("--trace", default=None, help="trace file for switching activity (default: make traces' set)")
    ap.add_argument("--no-fpga", action="store_true", help="skip the iCE40 synthesis and place-and-route")
    ap.add_argument("units", nargs="*", help="default: every MAC, decoder and encoder")
    args = ap.parse_args(argv)
    try:
        require_tools(args.liberty)
        if not args.no_fpga and not fpga.available():
            raise ToolError(f"missing tool {fpga.NEXTPNR}; run `make setup` (apt packages nextpnr-ice40, "
                            "fpga-icestorm) or pass --no-fpga")
        ts = traces.load(args.trace)
    except (ToolError, traces.TraceError) as e:
        sys.exit(f"synth: {e}")
    names = args.units or [n for n in UNITS if n in MACS or n.startswith("sdr_")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, t0 = [], time.perf_counter()
    for name in tqdm(names, desc="synth", unit="unit"):
        try:
            results.append(run_unit(name, out, args.liberty, args.clock_ns, ts, not args.no_fpga))
        except ToolError as e:
            sys.exit(f"synth: {e}")
    meta = {"liberty": args.liberty, "clock_ns": args.clock_ns, "seconds": round(time.perf_counter() - t0, 1),
            "encoder_groups": list(ENCODER_GROUPS),
            "activity_trace": {k: ts.meta.get(k) for k in ("model", "text_source", "evaluation_text", "tokens",
                                                            "layers")}}
    (out / "report.json").write_text(json.dumps({"meta": meta, "units": results}, indent=2))
    md = write_report(results, meta, out)
    print(md)


if __name__ == "__main__":
    main()
