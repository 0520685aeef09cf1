"""`make synth`: synthesize the headline units (or any), write build/synth/report.{md,json} and the charts.

Usage: python -m synth [--liberty FILE] [--clock-ns NS] [--out DIR] [--trace FILE] [--no-fpga] [--merge]
                       [--jobs N] [--cache DIR] [--no-cache] [--all | --table KEY ... | UNIT ...]

Without names or tables it runs the units whose descriptors say ``headline``; ``--all`` runs every registered
unit (``make synth-all``). ``--jobs N`` runs N units at a time (worker processes; default one per core); every
unit's figures are the same as in a sequential run, in the same order. Each unit's result is cached in ``--cache``
under a digest of everything it depends on (``flow_key``, ``unit_key``), so a rerun or a killed run continues
where it stopped; ``--no-cache`` computes everything again. ``--merge`` keeps the results of units not run this
time from an existing ``report.json`` in ``--out`` (only if it was made with the same liberty and clock).
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from hdl.catalog import units
from hdl.export import to_verilog
from hdl.unit import UnitError
from llmstudy import traces

from . import fpga, gatesim, libpower
from .activity import activity
from .flow import (
    DEFAULT_ABC,
    DEFAULT_LIBERTY,
    REFERENCE_YOSYS,
    STA,
    YOSYS,
    ToolError,
    breakdown,
    require_tools,
    sta,
    synthesize,
)
from .report import write_report
from .runner import (
    SHARED,
    TIMINGS,
    Cache,
    OutputError,
    Progress,
    cached_call,
    digest,
    file_digest,
    run,
    share,
    source_digest,
    tool_version,
    writable_dir,
)

# what a unit's figures depend on in this project's source (runner.source_digest): the flow's own modules (not
# the report's layout, the place-and-route or README drivers), the RTL and descriptors, the golden model
SYNTH_SOURCES = ("synth/__main__.py", "synth/flow.py", "synth/gatesim.py", "synth/cyclesim.py", "synth/libpower.py",
                 "synth/activity.py", "synth/fpga.py", "hdl", "golden", "llmstudy/traces.py")
GATE_CYCLES = 2000
TIMED_PRODUCTS = 2000        # products per timed gate-level run of a wide unit (dot-product lanes x cycles)
STREAM_BEATS = 64            # beats of a stream unit's timed run (a 4 x 4 x 16 tile: 16,384 MACs)


def run_unit(unit, out, liberty, clock_ns, ts, with_fpga=True, component=None):
    """Every figure of one unit: area by group, timing and power (OpenSTA), the mapping comparisons, timed and
    zero-delay gate-level power on real traces, iCE40 counts, as the descriptor's ``flows`` ask. ``res["steps"]``
    holds each step's wall-clock seconds."""
    steps = {}

    def timed(step, fn, *a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            steps[step] = round(steps.get(step, 0.0) + time.perf_counter() - t, 2)

    component = component or timed("elaborate", unit.build)
    act = timed("activity", activity, unit, ts)
    work = out / unit.name
    syn = timed("synthesis", synthesize, unit, work, liberty, component=component)
    res = {"name": unit.name, "doc": unit.doc, "label": unit.label, "table": unit.table.key,
           "params": dict(unit.params), "per": unit.per, "area_um2": syn["total"], "cells": syn["cells"],
           "modules": syn["modules"], "parts": breakdown(unit, syn["modules"])}
    res.update(timed("sta", sta, unit.name, work, liberty, clock_ns, act, unit.clocked))
    res["mean_input_activity"] = sum(act.values()) / max(1, len(act))
    if "mapping" in unit.flows:
        # the mapping comparisons that justify the flow: Yosys' default ABC script (same Yosys, Booth) ...
        ref = timed("mapping", synthesize, unit, work / "default_abc", liberty, abc_script=DEFAULT_ABC,
                    component=component)
        res["mapping_default_abc"] = {"area_um2": ref["total"], "parts": breakdown(unit, ref["modules"]),
                                      **timed("mapping", sta, unit.name, work / "default_abc", liberty, clock_ns,
                                              act, unit.clocked)}
        # ... and Debian's Yosys 0.23 without Booth (areas only)
        ref = timed("mapping", synthesize, unit, work / "reference_yosys", liberty, yosys=REFERENCE_YOSYS,
                    booth=False, abc_script=DEFAULT_ABC, component=component)
        res["mapping_reference"] = {"yosys": "Debian Yosys 0.23, synth", "area_um2": ref["total"],
                                    "parts": breakdown(unit, ref["modules"])}
    if "gate_level" in unit.flows:
        model = libpower.PowerModel(work / f"{unit.name}_netlist.json", liberty, clock_ns)
        for key, is_timed in (("gate_level", False), ("gate_level_timed", True)):
            if gate_cycles(unit, is_timed) is None:
                continue
            period = max(clock_ns, 5 * round(res["critical_path_ns"] * 1.5 / 5 + 0.5)) if is_timed else clock_ns
            gl = timed(key, gatesim.simulate, unit, work, liberty, ts, cycles=gate_cycles(unit, is_timed),
                       timed=is_timed, period_ns=period)
            rates = {pin: n / gl["cycles"] for pin, n in gl["toggles"].items()}
            windows = gl["window_toggles"]
            res[key] = dict(timed(key, model, rates, input_port_rates=act),
                            cycles=gl["cycles"], checked=gl["checked"], sim_period_ns=period,
                            **({"beats": gl["beats"]} if "beats" in gl else {}),
                            simulator=gl["simulator"], mean_toggle_rate=sum(rates.values()) / len(rates),
                            power_sem_mw=timed(key, libpower.power_spread, model, windows,
                                               gl["cycles"] / len(windows), act), windows=len(windows))
            res[key]["power_mw"] = res[key]["total_mw"]
    if with_fpga and "ice40" in unit.flows:
        res["ice40"] = timed("ice40", fpga.ice40, unit, work, component=component)
    if with_fpga and "ecp5" in unit.flows:
        res["ecp5"] = timed("ecp5", fpga.ecp5, unit, work, component=component)
        res["ecp5_nodsp"] = timed("ecp5", fpga.ecp5, unit, work, dsp=False, component=component)
    res["steps"] = steps
    res["seconds"] = round(sum(steps.values()), 1)
    return res


def flow_key(liberty, clock_ns, trace, with_fpga):
    """Digest of everything a unit's figures depend on besides its own Verilog and descriptor: the liberty file
    and the cell models beside it, the clock, the trace file, the FPGA switch, the tools' versions and the
    flow's own source (synth/, hdl/, golden/: the stimulus builders and the golden functions)."""
    models = Path(liberty).with_name(gatesim.CELL_MODELS)
    tools = {"yosys": tool_version(YOSYS, "-V"), "reference_yosys": tool_version(REFERENCE_YOSYS, "-V"),
             "sta": tool_version(STA, "-version"), "iverilog": tool_version(gatesim.IVERILOG, "-V")}
    if with_fpga:
        tools.update(nextpnr_ice40=tool_version(fpga.NEXTPNR, "--version"),
                     nextpnr_ecp5=tool_version(fpga.nextpnr_ecp5(), "--version"))
    return digest("synth", file_digest(liberty), file_digest(models) if models.is_file() else None, clock_ns,
                  file_digest(trace), with_fpga, tools, source_digest(*SYNTH_SOURCES),
                  GATE_CYCLES, TIMED_PRODUCTS)


def unit_key(base, unit, verilog):
    """The cache key of one unit: the flow's key, the unit's exported Verilog and its descriptor's fields."""
    fields = (unit.name, unit.doc, unit.label, unit.table, dict(unit.params), unit.per, dict(unit.parts), unit.rest,
              sorted(unit.flows), unit.latency, unit.protocol, unit.encoder, unit.paper, gate_cycles(unit),
              gate_cycles(unit, True))
    return digest(base, verilog, repr(fields))


def _synth_one(name):
    """One unit in a worker: its cached result if its key matches, else every figure (then cached)."""
    w = SHARED
    t0 = time.perf_counter()
    unit = units([name])[0]
    component = unit.build()
    key = unit_key(w["key"], unit, to_verilog(unit, component))

    def compute():
        if "ts" not in w:
            w["ts"] = traces.load(w["trace"])
        res = run_unit(unit, Path(w["out"]), w["liberty"], w["clock_ns"], w["ts"], w["fpga"], component=component)
        res["steps"]["elaborate"] = round(time.perf_counter() - t0 - res["seconds"], 2)
        res["seconds"] = round(sum(res["steps"].values()), 1)
        return res
    res, cached, _ = cached_call(Cache(w["cache"]), name, key, compute)
    return res, cached, time.perf_counter() - t0


def _run_all(todo, args, trace, out):
    """Every unit of ``todo``, ``args.jobs`` at a time, through the result cache; returns (results, cached
    names). A ToolError stops the run (after the running units finish and are cached) with its message."""
    cache = Cache(args.cache, defaults=TIMINGS / "synth.json")
    shared = {"out": str(out), "liberty": args.liberty, "clock_ns": args.clock_ns, "fpga": not args.no_fpga,
              "trace": str(trace), "cache": str(cache.folder),
              "key": flow_key(args.liberty, args.clock_ns, trace, not args.no_fpga)}
    names = [u.name for u in todo]
    progress = Progress("synth", names, args.jobs, cache.timings(), record=cache.record_timings)
    try:
        if args.jobs == 1:                              # in this process, the same path as a worker's
            share(shared)
            done = run(names, _synth_one, 1, progress, pool="inline")
        else:
            done = run(names, _synth_one, args.jobs, progress, initializer=share, initargs=(shared,))
    finally:
        progress.close()
    cached = sorted(set(names) - set(progress.measured))
    for r in done.values():
        r["cached"] = r["name"] in cached
    return [done[n] for n in names], cached


def _jobs(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of jobs") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n} jobs is outside [1, 64]")
    return n


def gate_cycles(unit, timed=False):
    """Gate-level cycles. Zero delay (the cycle simulator, cheap): GATE_CYCLES for every unit. Timed (Icarus with
    cell delays, about a second per cycle on the 16-lane INT units): GATE_CYCLES for single MACs, about
    TIMED_PRODUCTS products (dot-product lanes or group elements x cycles) for wide units, at least 100; the
    report states each figure's standard error from WINDOWS stretches of the run. A stream unit (a tile) runs in
    Icarus only (the cycle simulator does not drive handshakes), timed only (``None`` for zero delay: a 4 x 4 INT
    tile runs at about 10 s per cycle either way here), on STREAM_BEATS beats."""
    if unit.protocol == "stream":
        return STREAM_BEATS if timed else None
    if not timed:
        return GATE_CYCLES
    return min(GATE_CYCLES, max(100, TIMED_PRODUCTS // max(1, unit.per)))


def _kept_results(path, args, running):
    """The results of an earlier report that this run keeps: units not in ``running``, same liberty and clock."""
    if not path.exists():
        return []
    try:
        old = json.loads(path.read_text())
        meta, res = old["meta"], old["units"]
        if not isinstance(meta, dict) or not isinstance(res, list) or not all(isinstance(r, dict) for r in res):
            raise ValueError("not a synthesis report: expected {'meta': {...}, 'units': [{...}, ...]}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"synth: --merge: cannot read {path} ({type(e).__name__}: {e}); remove it or run without --merge")
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


def select(names, tables, every):
    """The units a run covers: ``names`` (checked), else every unit (``every``, or ``tables`` given), else the
    headline units (``Unit.headline``); ``tables`` keeps those of these report tables."""
    if every and names:
        raise UnitError(f"--all and unit names {names} exclude each other")
    todo = units(names) if names else [u for u in units() if every or tables or u.headline]
    if tables:
        known = {u.table.key for u in units()}
        bad = sorted(set(tables) - known)
        if bad:
            raise UnitError(f"unknown table(s) {bad}; known: {sorted(known)}")
        todo = [u for u in todo if u.table.key in tables]
    if not todo:                                     # never replace a report with an empty one
        raise UnitError(f"the selection (units {names or ('all' if every else 'headline')}, tables {tables}) "
                        "matches no unit; nothing to synthesize")
    return todo


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth", description=__doc__.splitlines()[0])
    ap.add_argument("--liberty", default=DEFAULT_LIBERTY)
    ap.add_argument("--clock-ns", type=_clock, default=10.0, help="clock for timing and power (default 10 ns)")
    ap.add_argument("--out", default="build/synth")
    ap.add_argument("--trace", default=None, help="trace file for switching activity (default: make traces' set)")
    ap.add_argument("--no-fpga", action="store_true", help="skip the iCE40 and ECP5 synthesis and place-and-route")
    ap.add_argument("--all", action="store_true", help="every registered unit (default: the headline units)")
    ap.add_argument("--table", action="append", help="only the units of this report table (repeatable)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other units' results from the existing report.json (same liberty and clock)")
    ap.add_argument("--jobs", type=_jobs, default=min(64, os.cpu_count() or 1),
                    help="units synthesized at a time (default: one per core)")
    ap.add_argument("--cache", default="build/cache/synth", help="result cache folder (default build/cache/synth)")
    ap.add_argument("--no-cache", action="store_true", help="compute every unit again (results are still stored)")
    ap.add_argument("units", nargs="*", help="default: the headline units (python -m hdl.export --list marks them)")
    args = ap.parse_args(argv)
    try:
        todo = select(args.units, args.table, args.all)
        require_tools(args.liberty)
        if not args.no_fpga and not fpga.available():
            raise ToolError(f"missing tool {fpga.NEXTPNR}; run `make setup` (apt packages nextpnr-ice40, "
                            "fpga-icestorm) or pass --no-fpga")
        trace = Path(args.trace) if args.trace else traces.settings.default_trace()
        ts = traces.load(trace)                          # checked here, loaded again only by workers that run
        out = writable_dir(args.out)
        cache = writable_dir(args.cache)
    except (ToolError, traces.TraceError, UnitError, OutputError) as e:
        sys.exit(f"synth: {e}")
    if args.no_cache:
        cache = writable_dir(cache / f"fresh-{os.getpid()}-{int(time.time())}")
    args.cache = str(cache)
    kept = _kept_results(out / "report.json", args, {u.name for u in todo}) if args.merge else []
    t0 = time.perf_counter()
    try:
        results, cached = _run_all(todo, args, trace, out)
    except ToolError as e:
        sys.exit(f"synth: {e} (finished units are cached in {args.cache}: run again to continue)")
    meta = {"liberty": args.liberty, "clock_ns": args.clock_ns, "seconds": round(time.perf_counter() - t0, 1),
            "jobs": args.jobs, "selection": "all" if args.all else ("named" if args.units or args.table
                                                                     else "headline"),
            "cached": cached, "cache": args.cache,
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
