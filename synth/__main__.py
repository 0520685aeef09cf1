"""`make synth`: synthesize the registered units, write build/synth/report.{md,json} and the charts.

Usage: python -m synth [--liberty FILE] [--clock-ns NS] [--out DIR] [--trace FILE] [--no-fpga] [--merge]
                       [--jobs N] [--table KEY ...] [UNIT ...]

``--merge`` keeps the results of units not run this time from an existing ``report.json`` in ``--out`` (only if
it was made with the same liberty and clock), so partial runs add up to one report. ``--jobs N`` runs N units at
a time (separate processes, each with its own copy of the trace set); every unit's figures are the same as in a
sequential run, in the same order.
"""

import argparse
import concurrent.futures
import json
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hdl.unit import UnitError, units
from llmstudy import traces

from . import fpga, gatesim, libpower
from .activity import activity
from .flow import DEFAULT_ABC, DEFAULT_LIBERTY, REFERENCE_YOSYS, ToolError, breakdown, require_tools, sta, synthesize
from .report import write_report

GATE_CYCLES = 2000
GATE_PRODUCTS = 8000         # products per gate-level run of a wide unit (dot-product lanes x cycles)


def run_unit(unit, out, liberty, clock_ns, ts, with_fpga=True):
    """Every figure of one unit: area by group, timing and power (OpenSTA), the mapping comparisons, timed and
    zero-delay gate-level power on real traces, iCE40 counts, as the descriptor's ``flows`` ask."""
    component = unit.build()
    act = activity(unit, ts)
    work = out / unit.name
    syn = synthesize(unit, work, liberty, component=component)
    res = {"name": unit.name, "doc": unit.doc, "label": unit.label, "table": unit.table.key,
           "params": dict(unit.params), "per": unit.per, "area_um2": syn["total"], "cells": syn["cells"],
           "modules": syn["modules"], "parts": breakdown(unit, syn["modules"])}
    res.update(sta(unit.name, work, liberty, clock_ns, act, unit.clocked))
    res["mean_input_activity"] = sum(act.values()) / max(1, len(act))
    if "mapping" in unit.flows:
        # the mapping comparisons that justify the flow: Yosys' default ABC script (same Yosys, Booth) ...
        ref = synthesize(unit, work / "default_abc", liberty, abc_script=DEFAULT_ABC, component=component)
        res["mapping_default_abc"] = {"area_um2": ref["total"], "parts": breakdown(unit, ref["modules"]),
                                      **sta(unit.name, work / "default_abc", liberty, clock_ns, act, unit.clocked)}
        # ... and Debian's Yosys 0.23 without Booth (areas only)
        ref = synthesize(unit, work / "reference_yosys", liberty, yosys=REFERENCE_YOSYS, booth=False,
                         abc_script=DEFAULT_ABC, component=component)
        res["mapping_reference"] = {"yosys": "Debian Yosys 0.23, synth", "area_um2": ref["total"],
                                    "parts": breakdown(unit, ref["modules"])}
    if "gate_level" in unit.flows:
        for key, timed in (("gate_level", False), ("gate_level_timed", True)):
            period = max(clock_ns, 5 * round(res["critical_path_ns"] * 1.5 / 5 + 0.5)) if timed else clock_ns
            gl = gatesim.simulate(unit, work, liberty, ts, cycles=gate_cycles(unit), timed=timed, period_ns=period)
            rates = {pin: n / gl["cycles"] for pin, n in gl["toggles"].items()}
            res[key] = dict(libpower.power(work / f"{unit.name}_netlist.v", liberty, clock_ns, rates,
                                           input_port_rates=act),
                            cycles=gl["cycles"], checked=gl["checked"], sim_period_ns=period,
                            mean_toggle_rate=sum(rates.values()) / len(rates))
            res[key]["power_mw"] = res[key]["total_mw"]
    if with_fpga and "ice40" in unit.flows:
        res["ice40"] = fpga.ice40(unit, work, component=component)
    if with_fpga and "ecp5" in unit.flows:
        res["ecp5"] = fpga.ecp5(unit, work, component=component)
        res["ecp5_nodsp"] = fpga.ecp5(unit, work, dsp=False, component=component)
    return res


_WORKER = {}


def _worker_init(trace, args):
    _WORKER.update(ts=traces.load(trace), args=args)


def _worker_run(name):
    a = _WORKER["args"]
    return run_unit(units([name])[0], Path(a["out"]), a["liberty"], a["clock_ns"], _WORKER["ts"], a["fpga"])


def _run_all(todo, args, ts, out):
    """Every unit of ``todo``, ``args.jobs`` at a time; a ToolError stops the run with its message."""
    if args.jobs == 1:
        return [run_unit(u, out, args.liberty, args.clock_ns, ts, not args.no_fpga)
                for u in tqdm(todo, desc="synth", unit="unit")]
    shared = {"out": str(out), "liberty": args.liberty, "clock_ns": args.clock_ns, "fpga": not args.no_fpga}
    done = {}
    with concurrent.futures.ProcessPoolExecutor(args.jobs, initializer=_worker_init,
                                                initargs=(args.trace, shared)) as pool:
        futures = {pool.submit(_worker_run, u.name): u.name for u in todo}
        try:
            for f in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="synth", unit="unit"):
                done[futures[f]] = f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return [done[u.name] for u in todo]


def _jobs(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of jobs") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n} jobs is outside [1, 64]")
    return n


def gate_cycles(unit):
    """Gate-level cycles: GATE_CYCLES for single MACs, about GATE_PRODUCTS products for wide units."""
    return min(GATE_CYCLES, max(100, GATE_PRODUCTS // max(1, unit.per)))


def _kept_results(path, args, running):
    """The results of an earlier report that this run keeps: units not in ``running``, same liberty and clock."""
    if not path.exists():
        return []
    try:
        old = json.loads(path.read_text())
        meta, res = old["meta"], old["units"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"synth: --merge: cannot read {path} ({e}); remove it or run without --merge")
    if meta.get("liberty") != args.liberty or meta.get("clock_ns") != args.clock_ns:
        sys.exit(f"synth: --merge: {path} was made with {meta.get('liberty')} at {meta.get('clock_ns')} ns, this "
                 f"run uses {args.liberty} at {args.clock_ns} ns; results would not compare")
    return [r for r in res if r.get("name") not in running]


def _clock(text):
    try:
        ns = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of nanoseconds") from None
    if not math.isfinite(ns) or not 0.5 <= ns <= 1000:
        raise argparse.ArgumentTypeError(f"{text} ns is outside [0.5, 1000] ns")
    return ns


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth", description=__doc__.splitlines()[0])
    ap.add_argument("--liberty", default=DEFAULT_LIBERTY)
    ap.add_argument("--clock-ns", type=_clock, default=10.0, help="clock for timing and power (default 10 ns)")
    ap.add_argument("--out", default="build/synth")
    ap.add_argument("--trace", default=None, help="trace file for switching activity (default: make traces' set)")
    ap.add_argument("--no-fpga", action="store_true", help="skip the iCE40 synthesis and place-and-route")
    ap.add_argument("--table", action="append", help="only the units of this report table (repeatable)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other units' results from the existing report.json (same liberty and clock)")
    ap.add_argument("--jobs", type=_jobs, default=1, help="units synthesized at a time (default 1)")
    ap.add_argument("units", nargs="*", help="default: every registered unit (python -m hdl.export --list)")
    args = ap.parse_args(argv)
    try:
        todo = units(args.units)                         # every name checked before any work starts
        if args.table:
            known = {u.table.key for u in units()}
            bad = sorted(set(args.table) - known)
            if bad:
                raise UnitError(f"unknown table(s) {bad}; known: {sorted(known)}")
            todo = [u for u in todo if u.table.key in args.table]
        if not todo:                                     # never replace a report with an empty one
            raise UnitError(f"the selection (units {args.units or 'all'}, tables {args.table}) matches no unit; "
                            "nothing to synthesize")
        require_tools(args.liberty)
        if not args.no_fpga and not fpga.available():
            raise ToolError(f"missing tool {fpga.NEXTPNR}; run `make setup` (apt packages nextpnr-ice40, "
                            "fpga-icestorm) or pass --no-fpga")
        ts = traces.load(args.trace)
    except (ToolError, traces.TraceError, UnitError) as e:
        sys.exit(f"synth: {e}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kept = _kept_results(out / "report.json", args, {u.name for u in todo}) if args.merge else []
    t0 = time.perf_counter()
    try:
        results = _run_all(todo, args, ts, out)
    except ToolError as e:
        sys.exit(f"synth: {e}")
    meta = {"liberty": args.liberty, "clock_ns": args.clock_ns, "seconds": round(time.perf_counter() - t0, 1),
            "jobs": args.jobs,
            "activity_trace": {k: ts.meta.get(k) for k in ("model", "text_source", "evaluation_text", "tokens",
                                                            "layers")}}
    if kept:
        meta["merged_from_earlier_runs"] = sorted(r["name"] for r in kept)
        order = {u.name: i for i, u in enumerate(units())}
        results = sorted(kept + results, key=lambda r: order.get(r["name"], len(order)))
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps({"meta": meta, "units": results}, indent=2))
    md = write_report(results, meta, out)
    tmp.replace(out / "report.json")
    print(md)


if __name__ == "__main__":
    main()
