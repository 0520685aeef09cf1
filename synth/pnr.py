"""Place and route on OSU 0.18 um with qflow: ``python -m synth.pnr`` (``make pnr``).

For each unit, in ``build/pnr/<name>/``: the exported Verilog in ``source/``, then Debian's qflow 1.3
``synthesize place route backanno migrate drc lvs gdsii`` with the osu018 technology:

* synthesis: **qflow's own** script (Debian's Yosys 0.23, ABC with the liberty, ``blifFanout`` buffering), not the
  project's Yosys 0.70 ``synth -booth`` + ABC_SCRIPT netlist of ``make synth``: the cell areas differ, and both
  are reported side by side (``qflow cell area`` and ``make synth area``);
* placement: graywolf at ``initial_density`` (``--density``, default 0.6), power stripes;
* routing: qrouter (no failed routes required), RC extracted from the routed wires;
* post-route timing: qflow ``backanno`` (vesta with the extracted RC back-annotated as delays); pre-route
  (placement estimate) beside it;
* DRC (magic, on the abstract cell views qflow migrates), LVS (netgen, layout against the synthesized netlist),
  GDSII, and a PNG of the routed layout (the GDS rendered by KLayout's Python module, headless). qflow stops at a
  DRC violation: the rules violated are then listed (magic ``drc listall why``), LVS still runs, no GDS is
  written and the picture comes from the routed DEF. An LVS mismatch is reported with the nets netgen could not
  match (an unconnected pin shows as ``CELL_n/PIN``);
* a run that is not clean is placed again at a slightly lower density (``--retries``, default 2; see
  ``place_and_route``), and every attempt is reported.

Reports per unit: die area, cell area and utilization (from the routed DEF and the LEF cell sizes, fill cells
excluded), wire length (from the DEF's routed segments), f_max before and after routing, DRC errors, LVS result,
failed routes, run time. Writes ``build/pnr/report.{md,json}`` with area ratios against the tables' baselines
next to the synthesis-only ratios (from ``build/synth/report.json`` if present) and the paper's.
"""

import argparse
import functools
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from hdl.catalog import get, units
from hdl.export import to_verilog
from hdl.unit import UnitError

from .flow import ToolError, run_tool
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

__all__ = ["place_and_route", "parse_def", "default_units", "main", "TECH_DIR"]

TECH = "osu018"
TECH_DIR = Path("/usr/share/qflow/tech/osu018")
STEPS = ("synthesize", "place", "sta", "route", "backanno", "migrate", "drc", "lvs", "gdsii")
TIMEOUT = 3600
def default_units():
    """The units whose descriptors say ``pnr`` (``hdl.catalog``: the MACs, the decoders, the g = 16 A16 encoder and
    the small and 16-lane dot-product units). dmq_encoder_a16k4_g16 is not among them: its qflow run (16
    combinational dividers) did not finish in 3,600 s here; run it by name with a longer --timeout."""
    return [u.name for u in units() if u.pnr]


def _lefdef_options():
    """klayout's LEF/DEF reader: routing as paths on ``<layer>.ROUTE``, the die and every macro's size as a box on
    ``OUTLINE``, vias and special nets (power) left out, warnings off."""
    import klayout.db as kdb
    opt = kdb.LoadLayoutOptions()
    opt.warn_level = 0
    c = opt.lefdef_config
    c.dbu = 0.01
    c.produce_cell_outlines, c.cell_outline_layer = True, "OUTLINE"
    c.produce_routing, c.routing_suffix = True, ".ROUTE"
    c.produce_special_routing = c.produce_via_geometry = False
    return kdb, opt


@functools.lru_cache(maxsize=4)
def lef_sizes(lef):
    """``{macro: (width, height)}`` in microns from a LEF file (klayout's reader: each macro's SIZE outline)."""
    kdb, opt = _lefdef_options()
    layout = kdb.Layout()
    layout.read(str(lef), opt)
    outline = layout.find_layer(kdb.LayerInfo("OUTLINE"))
    if outline is None:
        raise ValueError(f"{lef}: no macro with a SIZE (not a cell LEF)")
    boxes = {cell.name: cell.dbbox_per_layer(outline) for cell in layout.each_cell()}
    return {n: (b.width(), b.height()) for n, b in boxes.items() if not b.empty()}


def parse_def(path, lef=TECH_DIR / "osu018_stdcells.lef", fill="FILL"):
    """Die area, cell area (fill cells excluded), cell count and routed wire length (microns, the routes'
    centre lines) of a DEF, read with klayout's LEF/DEF reader."""
    kdb, opt = _lefdef_options()
    sizes = lef_sizes(str(lef))
    layout = kdb.Layout()
    try:
        layout.read(str(path), opt)
    except RuntimeError as e:
        raise ValueError(f"{path}: not a readable DEF ({str(e).splitlines()[0][:200]})") from None
    top = layout.top_cell()
    outline = layout.find_layer(kdb.LayerInfo("OUTLINE"))
    die = top.dbbox_per_layer(outline) if outline is not None else kdb.DBox()
    if die.empty():
        raise ValueError(f"{path}: no DIEAREA")
    logic = [inst.cell.name for inst in top.each_inst()
             if inst.cell.name in sizes and not inst.cell.name.startswith(fill)]      # vias are cells too: not these
    cell_area = sum(sizes[c][0] * sizes[c][1] for c in logic)
    wire = 0.0
    for li in layout.layer_indexes():
        if layout.get_info(li).name.endswith(".ROUTE"):
            for shape in top.shapes(li).each():
                if shape.is_path():
                    pts = list(shape.dpath.each_point())
                    wire += sum(abs(a.x - b.x) + abs(a.y - b.y) for a, b in zip(pts, pts[1:]))
    die_area = die.area()
    return dict(die_um2=die_area, die_w_um=die.width(), die_h_um=die.height(), cell_area_um2=cell_area,
                cells=len(logic), utilization=cell_area / die_area if die_area else 0.0, wire_um=wire)


def _fmax(log):
    if not Path(log).is_file():
        return None
    m = re.findall(r"Computed maximum clock frequency \(zero margin\) = ([\d.]+) MHz", Path(log).read_text())
    return float(m[-1]) if m else None


def render(layout_file, png, width=900, height=700, lef=TECH_DIR / "osu018_stdcells.lef"):
    """PNG of a GDS file, or of a routed DEF read with the cells' ``lef`` (KLayout's Python module, headless),
    flattened, text labels removed so the wires show."""
    import klayout.db as db
    import klayout.lay as lay

    layout = db.Layout()
    if str(layout_file).endswith(".def"):
        opts = db.LoadLayoutOptions()
        opts.lefdef_config.lef_files = [str(lef)]
        opts.lefdef_config.dbu = 0.01                  # qflow's DEF: 100 units per micron
        layout.read(str(layout_file), opts)
    else:
        layout.read(str(layout_file))
    top = layout.top_cell()
    top.flatten(True)                 # the cells are abstract (empty) views: flattened, no ghost-cell frames
    for li in layout.layer_indexes():
        for t in list(top.shapes(li).each(db.Shapes.STexts)):
            top.shapes(li).erase(t)
    view = lay.LayoutView()
    view.set_config("background-color", "#ffffff")
    view.show_layout(layout, True)
    view.max_hier()
    view.zoom_fit()
    view.save_image(str(png), width, height)


RETRY_STEP = 0.02


def place_and_route(unit, workdir, density=0.6, timeout=TIMEOUT, retries=0):
    """Run qflow on ``unit`` in ``workdir``; return its figures. Raises ``ToolError`` with the log to read.

    qrouter 1.4 sometimes ends a route with a via beside the pin instead of on it: magic reports the via's lone
    Metal1 pad (0.16 um^2) as a minimum-area violation and, where the via was the pin's only connection, netgen
    reports the pin unconnected. Another placement routes clean. With ``retries``, a run that is not clean (DRC or
    LVS) is placed again at a density ``RETRY_STEP`` lower, up to ``retries`` times; the first clean run is kept
    (else the requested density's), and ``attempts`` lists every run's density, DRC and LVS results."""
    check_retries(density, retries)
    if shutil.which("qflow") is None:
        raise ToolError("qflow is not installed; run `make setup` (Debian packages qflow, qflow-tech-osu018)")
    work = Path(workdir)
    if work.exists():
        shutil.rmtree(work)                     # a rerun trusts nothing an interrupted run left
    runs = []
    for i in range(retries + 1):
        d = round(density - i * RETRY_STEP, 3)
        run_dir = work.with_name(f".{work.name}.d{d}")
        runs.append((run_dir, _qflow(unit, run_dir, d, timeout)))
        if _clean(runs[-1][1]):
            break
    keep_dir, res = next((r for r in runs if _clean(r[1])), runs[0])
    res["attempts"] = [dict(density=r["density"], seconds=r["seconds"], drc_errors=r["drc_errors"],
                            drc_rules=r["drc_rules"], lvs_match=r["lvs_match"], lvs_errors=r["lvs_errors"],
                            lvs_unmatched=r["lvs_unmatched"])
                       for _, r in runs]
    keep_dir.rename(work)
    for run_dir, _ in runs:
        if run_dir != keep_dir:
            shutil.rmtree(run_dir)
    name = unit.name
    gds = work / f"{name}.gds"
    render(gds if gds.is_file() else work / f"{name}.def", work / f"{name}_layout.png")
    res["png"] = f"{name}/{name}_layout.png"
    return res


def check_retries(density, retries):
    """``ValueError`` unless ``retries`` is a whole number >= 0 that keeps every attempt's density >= 0.1."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
    if density - retries * RETRY_STEP < 0.1:
        raise ValueError(f"density {density} with {retries} retries would place below density 0.1")


def _clean(r):
    return r["drc_errors"] == 0 and r["lvs_match"] and not r["lvs_errors"]


def _qflow(unit, work, density, timeout):
    name = unit.name
    if work.exists():
        shutil.rmtree(work)
    (work / "source").mkdir(parents=True)
    (work / "source" / f"{name}.v").write_text(to_verilog(unit))
    (work / "project_vars.sh").write_text(f"#!/usr/bin/tcsh -f\nset initial_density = {density}\n")
    t0 = time.perf_counter()
    logs = work / "log"
    drc_rules = []
    try:
        run_tool(["qflow", *STEPS, "-T", TECH, name], work / "qflow.log", work, timeout=timeout)
    except ToolError:
        # qflow stops at the first DRC violation (no LVS, no GDS) and at an LVS mismatch (no GDS); anything else
        # is a failure of the run
        if "DRC failure" in _read(logs / "drc.log"):
            drc_rules = drc_violations(work, name)
            try:
                run_tool(["qflow", "lvs", "-T", TECH, name], work / "qflow_lvs.log", work, timeout=timeout)
            except ToolError:
                if "Design fails LVS" not in _read(logs / "lvs.log"):
                    raise
        elif "Design fails LVS" not in _read(logs / "lvs.log"):
            raise
    seconds = time.perf_counter() - t0
    route = (logs / "route.log").read_text()
    if "No failed routes" not in route.split("Final:")[-1]:
        m = re.search(r"Final: (\d+) failed routes", route)
        raise ToolError(f"{name}: qrouter left {m.group(1) if m else 'some'} routes failed; see {logs / 'route.log'}")
    for step in ("drc", "lvs"):
        if not (logs / f"{step}.log").is_file():
            raise ToolError(f"{name}: qflow wrote no {step} log; see {work / 'qflow.log'}")
    drc = re.findall(r"drc = (\d+)", (logs / "drc.log").read_text())
    lvs = (logs / "lvs.log").read_text()
    lvs_err = re.findall(r"Total errors = (\d+)", lvs)
    res = dict(name=name, label=unit.label, table=unit.table.key, per=unit.per, density=density,
               seconds=round(seconds, 1), fmax_pre_route_mhz=_fmax(logs / "sta.log"),
               fmax_post_route_mhz=_fmax(logs / "post_sta.log"), drc_errors=int(drc[-1]) if drc else None,
               lvs_errors=int(lvs_err[-1]) if lvs_err else None, lvs_match="Circuits match uniquely" in lvs
               or "Circuits match correctly" in lvs, lvs_unmatched=lvs_unmatched(work / "comp.out"),
               drc_rules=drc_rules, **parse_def(work / f"{name}.def"))
    res["gds"] = (work / f"{name}.gds").is_file()
    return res


def lvs_unmatched(comp):
    """Nets netgen could not match, from its ``comp.out`` (e.g. ``NAND3X1_130/A``: a layout net on that pin
    alone, which is an unconnected pin), layout side first."""
    text = _read(comp)
    return re.findall(r"^Net: (\S+)\s*\|\(no matching net\)", text, re.M) + \
        re.findall(r"^\(no matching net\)\s*\|Net: (\S+)", text, re.M)


def _read(path):
    return Path(path).read_text() if Path(path).is_file() else ""


def drc_violations(work, name):
    """``[(rule, count)]`` of the routed layout's DRC violations, from magic's ``drc listall why`` on the same
    abstract views qflow's DRC step checks."""
    tcl = Path(work) / "drc_why.tcl"
    tcl.write_text(f"lef read {TECH_DIR / 'osu018_stdcells.lef'}\nload {name}\ndrc on\nselect top cell\nexpand\n"
                   "drc check\ndrc catchup\nforeach {rule boxes} [drc listall why] {\n"
                   "  puts stdout \"DRCWHY [llength $boxes] $rule\"\n}\nquit\n")
    out = run_tool(["magic", "-dnull", "-noconsole", tcl.name], Path(work) / "log" / "drc_why.log", work,
                   timeout=TIMEOUT)
    return [(m.group(2).strip(), int(m.group(1))) for m in re.finditer(r"^DRCWHY (\d+) (.*)$", out, re.M)]


def _ratio_rows(results, synth):
    """Post-route die and cell area ratios against each table's baselines, with the synthesis-only ratio."""
    by = {r["name"]: r for r in results}
    syn = {u["name"]: u for u in (synth or {}).get("units", [])}
    rows = []
    for r in results:
        u = get(r["name"])
        for b in u.table.baselines:
            b = b[0] if isinstance(b, tuple) else b
            if b == r["name"] or b not in by:
                continue
            s = (syn[r["name"]]["area_um2"] / syn[b]["area_um2"]) if r["name"] in syn and b in syn else None
            paper = None
            bu = get(b)
            if u.paper and bu.paper:
                paper = u.paper["total"] / bu.paper["total"]
            rows.append((r["label"], by[b]["label"], r["die_um2"] / by[b]["die_um2"],
                         r["cell_area_um2"] / by[b]["cell_area_um2"], s, paper))
    return rows


def _drc_cell(r):
    rules = r.get("drc_rules") or []
    if not rules:
        return str(r["drc_errors"])
    return f"{r['drc_errors']} ({'; '.join(f'{n} x {rule}' for rule, n in rules)}; no GDS)"


def _lvs_cell(r):
    if r["lvs_match"] and not r["lvs_errors"]:
        return "match"
    opens = r.get("lvs_unmatched") or []
    return f"{r['lvs_errors']} errors" + (f" (unmatched: {', '.join(opens)})" if opens else "")


def _attempts_line(r):
    tries = r.get("attempts") or []
    if len(tries) < 2:
        return None
    one = [f"density {a['density']}: DRC {a['drc_errors']}"
           + (f" ({'; '.join(rule for rule, _ in a['drc_rules'])})" if a["drc_rules"] else "")
           + f", LVS {_lvs_cell(a)}" for a in tries]
    return f"- {r['label']}: " + "; ".join(one) + f"; kept density {r['density']}"


def report_markdown(results, failed, meta, synth=None):
    syn = {u["name"]: u for u in (synth or {}).get("units", [])}
    f = lambda v, nd=0: "-" if v is None else f"{v:,.{nd}f}"      # noqa: E731
    lines = ["# Place and route (qflow 1.3, OSU 0.18 um)", "",
             f"graywolf placement at initial density {meta['density']}, qrouter, post-route timing by qflow "
             "`backanno` (vesta with the routed RC), DRC (magic), LVS (netgen). qflow synthesizes with its own "
             "script (Yosys 0.23 + ABC + blifFanout), not `make synth`'s Yosys 0.70 `-booth` netlist, so its cell "
             "area differs from `make synth area`. qflow stops at the first DRC violation; the flow then still runs "
             "LVS and reports each violated rule (magic `drc listall why`), but writes no GDS for that layout (its "
             "picture is drawn from the routed DEF).", "",
             "| unit | make synth area (um^2) | qflow cell area (um^2) | cells | density | die (um^2) | "
             "die (um x um) | utilization | wire length (mm) | f_max pre-route (MHz) | f_max post-route (MHz) | "
             "DRC errors | LVS | time (s) |", "|---" * 14 + "|"]
    for r in results:
        s = syn.get(r["name"], {}).get("area_um2")
        lvs = _lvs_cell(r)
        lines.append(f"| {r['label']} | {f(s)} | {f(r['cell_area_um2'])} | {r['cells']:,} | {r['density']} | "
                     f"{f(r['die_um2'])} | "
                     f"{r['die_w_um']:.0f} x {r['die_h_um']:.0f} | {100 * r['utilization']:.0f} % | "
                     f"{r['wire_um'] / 1000:.2f} | {f(r['fmax_pre_route_mhz'])} | {f(r['fmax_post_route_mhz'])} | "
                     f"{_drc_cell(r)} | {lvs} | {r['seconds']:.0f} |")
    retried = [line for line in map(_attempts_line, results) if line]
    if retried:
        lines += ["", f"Placed again at a lower density after a run that was not clean (qrouter's off-pin vias: "
                  f"a lone via pad below Metal1's minimum area, and an unconnected pin where it was the only "
                  f"connection), up to {meta.get('retries', '?')} times:", ""] + retried
    rows = _ratio_rows(results, synth)
    if rows:
        lines += ["", "Area ratios: post-route die and cell area against the baseline, the synthesis-only "
                  "ratio (`make synth`) and the paper's (Table 5, synthesis).", "",
                  "| unit | against | die area | qflow cell area | make synth area | paper |",
                  "|---|---|---|---|---|---|"]
        for lab, b, d, c, s, p in rows:
            lines.append(f"| {lab} | {b} | {d:.3f} | {c:.3f} | {'-' if s is None else f'{s:.3f}'} | "
                         f"{'-' if p is None else f'{p:.3f}'} |")
    if failed:
        lines += ["", "Failed:", ""] + [f"- {n}: {e}" for n, e in failed]
    pngs = [r for r in results if r.get("png")]
    if pngs:
        lines += ["", "Layouts (routed GDS, KLayout):", ""] + [f"![{r['name']}]({r['png']})" for r in pngs]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth.pnr", description=__doc__.splitlines()[0])
    ap.add_argument("units", nargs="*", help="default: the units whose descriptors say pnr (hdl.catalog)")
    ap.add_argument("--density", type=float, default=0.6, help="graywolf initial density (default 0.6)")
    ap.add_argument("--out", type=Path, default=Path("build/pnr"))
    ap.add_argument("--synth", type=Path, default=Path("build/synth/report.json"),
                    help="make synth's report, for the synthesis-only areas (optional)")
    ap.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds per run (default 3600)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="units at a time (default: one per core)")
    ap.add_argument("--cache", type=Path, default=Path("build/cache/pnr"),
                    help="result cache folder (default build/cache/pnr): a killed run continues where it stopped")
    ap.add_argument("--retries", type=int, default=2, help=f"place again at {RETRY_STEP} lower density after a "
                    "run with DRC or LVS errors, up to this many times (default 2)")
    args = ap.parse_args(argv)
    if not 0.1 <= args.density <= 0.95:
        ap.error(f"--density must be within [0.1, 0.95], not {args.density}")
    if not 0 <= args.retries <= 10:
        ap.error(f"--retries must be within [0, 10], not {args.retries}")
    try:
        check_retries(args.density, args.retries)
    except ValueError as e:
        ap.error(str(e))
    if args.timeout < 1:
        ap.error(f"--timeout must be at least 1 second, not {args.timeout}")
    if not 1 <= args.jobs <= 64:
        ap.error(f"--jobs {args.jobs} is outside [1, 64]")
    names = args.units or default_units()
    try:
        todo = units(names)
    except UnitError as e:
        ap.error(str(e))
    try:
        out, cache = writable_dir(args.out), Cache(writable_dir(args.cache), defaults=TIMINGS / "pnr.json")
        synth = _load_synth(args.synth)
    except (OutputError, ValueError) as e:
        sys.exit(f"pnr: {e}")
    names = [u.name for u in todo]
    shared = dict(out=str(out), cache=str(cache.folder), density=args.density, timeout=args.timeout,
                  retries=args.retries, key=pnr_key())
    progress = Progress("pnr", names, args.jobs, cache.timings(), record=cache.record_timings)
    done = {}
    try:
        done = run(names, pnr_one, args.jobs, progress, initializer=share, initargs=(shared,))
    finally:
        progress.close()
    results, failed = [], []
    for n in names:
        r = done[n]
        if "error" in r:
            failed.append((n, r["error"]))
            print(f"pnr: {n} failed: {r['error']}", file=sys.stderr, flush=True)
        else:
            r["cached"] = n not in progress.measured
            results.append(r)
    meta = dict(density=args.density, retries=args.retries, tech=TECH, steps=STEPS, jobs=args.jobs,
                cached=sorted(n for n in names if n not in progress.measured and "error" not in done[n]))
    kept = _earlier_rows(out / "report.json", set(names))
    if kept:                                            # a run never drops rows it did not make
        meta["kept_from_earlier_runs"] = sorted(r["name"] for r in kept)
        order = {u.name: i for i, u in enumerate(units())}
        results = sorted(results + kept, key=lambda r: order.get(r["name"], len(order)))
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(dict(meta=meta, units=results, failed=failed), indent=1))
    tmp.replace(out / "report.json")
    md = report_markdown(results, failed, meta, synth)
    tmp = out / "report.md.tmp"
    tmp.write_text(md)
    tmp.replace(out / "report.md")
    print(md)
    return 1 if failed or not results else 0


def _load_synth(path):
    """``make synth``'s report (for the synthesis-only areas), or None if there is none; a file that is not
    such a report is an error naming it."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("units"), list) or \
                not all(isinstance(u, dict) and "name" in u and "area_um2" in u for u in data["units"]):
            raise ValueError("expected {'meta': ..., 'units': [{'name', 'area_um2', ...}, ...]}")
    except (OSError, ValueError) as e:
        raise ValueError(f"--synth {path} is not a synthesis report ({e})") from None
    return data


def _earlier_rows(path, running):
    """Rows of an earlier report in the same folder for units this run does not cover (kept, marked)."""
    try:
        old = json.loads(path.read_text())
        rows = [r for r in old["units"] if isinstance(r, dict) and r.get("name") not in running]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [dict(r, kept_from_earlier_run=True) for r in rows]


def pnr_key():
    """Digest of what every unit's figures depend on besides its Verilog and the options: qflow's and the
    tools' versions, the technology files and this flow's source."""
    tech = [file_digest(f) for f in sorted(TECH_DIR.glob("*")) if f.is_file()] if TECH_DIR.is_dir() else []
    return digest("pnr", tool_version("qflow", "-v"), tool_version("yosys", "-V"), tech,
                  source_digest("synth/pnr.py", "synth/flow.py", "hdl/export.py"))


def pnr_one(name):
    """``run``'s work function: one unit placed and routed (cached), or ``{"error": ...}`` (not cached)."""
    sh = SHARED
    unit = get(name)
    verilog = to_verilog(unit)
    key = digest(sh["key"], verilog, sh["density"], sh["retries"])
    try:
        return cached_call(Cache(sh["cache"]), name, key, lambda: place_and_route(
            unit, Path(sh["out"]) / name, sh["density"], sh["timeout"], sh["retries"]))
    except ToolError as e:
        return {"name": name, "error": str(e)}, False, 0.0


if __name__ == "__main__":
    sys.exit(main())
