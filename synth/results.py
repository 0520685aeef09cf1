"""Rewrite the generated blocks of README.md and docs/results.md from the reports under ``build/``:
``python -m synth.results`` (``make results``). A block is the text between ``<!-- generated: KIND ARG -->`` and
``<!-- end generated -->``; nothing in it is typed by hand. Kinds:

* ``synth TABLE``: a synthesis report table (``mac``, ``dot16``, ``encoder``, ... : a report table key) with its
  ratio, shared-encoder and paper tables, from the synthesis report (``--synth``, default
  ``build/synth-all/report.json``);
* ``headline``: the headline units' ratios against their baselines (area, power), from the same report;
* ``file PATH``: a report's markdown file as it is (``build/infer/system.md``, ``build/formal/report.md``, ...);
  ``file PATH#HEADING`` only the section under that heading (spaces in HEADING written as ``_``); a whole file
  loses its own ``#`` title, and images (relative to the report's folder) are left out.

Every block starts with a line naming the command that made the report and the report's date (the file's
modification time, UTC). A block whose report is missing is left as it is and named. Also copies the per-lane
area plot to docs/.
"""

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

from hdl.catalog import get
from hdl.unit import UnitError

from .report import _paper_table, _ratio_table, _shared_table, _throughput_table, _unit_table, ratio_rows, tables

BLOCK = re.compile(r"(<!-- generated: (\w+)(?: ([^ ]+))? -->\n)(.*?)(<!-- end generated -->)", re.S)
FILES = ("README.md", "docs/results.md")
# the command that writes each report (a block of a report not named here is an error: say how it is made)
COMMANDS = {
    "build/synth-all/report.json": "make synth-all", "build/synth/report.json": "make synth",
    "build/infer/system.md": "make infer-all", "build/formal/report.md": "make formal",
    "build/accuracy/table8.md": "make accuracy", "build/frontier/frontier.md": "make frontier",
    "build/pnr/report.md": "make pnr", "build/fpga/report.md": "make fpga",
    "build/analysis/figure2.md": "make analysis", "build/formal/units.md": "python -m formal --units",
    "build/tile_steps/report.md": "make tile-steps", "build/pnr_tile/report.md": "make pnr-tile",
    "build/synth_tile/report.md": "make synth-tiles",
}


class ResultsError(ValueError):
    """A block that cannot be generated: unknown kind or report, a report that is not what it should be."""


def _date(path):
    t = datetime.datetime.fromtimestamp(Path(path).stat().st_mtime, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d")


def _command(path):
    p = Path(path)
    if p.is_absolute() and p.is_relative_to(Path.cwd()):
        p = p.relative_to(Path.cwd())
    key = p.as_posix()
    if key not in COMMANDS:
        raise ResultsError(f"no command is known to make {key}; known reports: {sorted(COMMANDS)}")
    return COMMANDS[key]


def _source(path):
    p = Path(path)
    shown = p.relative_to(Path.cwd()) if p.is_absolute() and p.is_relative_to(Path.cwd()) else p
    return f"`{_command(path)}` -> `{shown.as_posix()}`, {_date(path)}"


def synth_block(table, rows, meta, results, source):
    lines = [f"*{table.title}: {source}; {meta['liberty'].rsplit('/', 1)[-1]}, {meta['clock_ns']:g} ns clock.*",
             ""] + _unit_table(table, rows) + [""]
    rt = _ratio_table(table, rows)
    if rt:
        lines += rt + [""]
    through = _throughput_table(rows, meta["clock_ns"]) if table.per == "lane" else []
    for extra in (_shared_table(table, rows, results), _paper_table(rows), through):
        if extra:
            lines += extra + [""]
    return "\n".join(lines)


def _headline(name):
    try:
        return get(name).headline
    except UnitError:
        return False


def headline_block(data, source):
    """Each headline unit against each of its baselines: area and power ratios (timed gate-level power on real
    traces where the report has it for both, else OpenSTA's), f_max."""
    lines = [f"*Synthesis, OSU 0.18 um, {data['meta']['clock_ns']:g} ns clock: {source}.*", "",
             "| unit | table | against | area | power | power from | f_max (MHz) |", "|---|---|---|---|---|---|---|"]
    for table, rows in tables(data["units"]):
        by_label = {r["label"]: r for r in rows}         # labels are unique within a table
        for lab, blab, area, sta, gl, _, _ in ratio_rows(table, rows):
            r = by_label[lab]
            if not _headline(r["name"]):
                continue
            power, what = (gl, "timed gate-level, real traces") if gl else (sta, "OpenSTA, real-trace activity")
            lines.append(f"| {lab} | {table.key} | {blab} | **{area:.3f}x** | **{power:.3f}x** | {what} | "
                         f"{r['fmax_mhz']:.0f} |")
    return "\n".join(lines) + "\n"


def file_block(arg):
    path, _, heading = arg.partition("#")
    text = Path(path).read_text()
    if heading:
        m = re.search(r"^(#+) " + re.escape(heading.replace("_", " ")) + r"\s*$", text, re.M)
        if not m:
            raise ResultsError(f"{path} has no heading {heading.replace('_', ' ')!r}")
        rest = text[m.end():]
        end = re.search(r"^#{1," + str(len(m.group(1))) + r"} ", rest, re.M)
        text = rest[:end.start()] if end else rest
    elif text.startswith("# "):                     # the report's own title: the document has its heading
        text = text.split("\n", 1)[1] if "\n" in text else ""
    # images are relative to the report's folder under build/, which a document does not have: left out
    lines = [x for x in text.strip().splitlines() if not x.startswith("![") and not x.startswith("Layouts (")]
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return f"*{_source(path)}.*\n\n{text}\n"


def _load_synth(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ResultsError(f"cannot read the synthesis report {path} ({e})") from None
    if not (isinstance(data, dict) and isinstance(data.get("units"), list) and isinstance(data.get("meta"), dict)):
        raise ResultsError(f"{path} is not a synthesis report (expected an object with 'units' and 'meta')")
    return data


def rewrite(text, synth_report):
    """``text`` with every block it can make rewritten; returns ``(text, [missing report or table, ...])``."""
    missing = []
    state = {}

    def synth():
        if "synth" not in state:
            state["synth"] = _load_synth(synth_report) if Path(synth_report).exists() else None
        return state["synth"]

    def sub(m):
        kind, arg = m.group(2), m.group(3)
        if kind == "synth" or kind == "headline":
            data = synth()
            if data is None:
                missing.append(str(synth_report))
                return m.group(0)
            source = _source(synth_report)
            if kind == "headline":
                return m.group(1) + headline_block(data, source) + m.group(5)
            by_key = {t.key: (t, rows) for t, rows in tables(data["units"])}
            if arg not in by_key:
                missing.append(f"table {arg} of {synth_report}")
                return m.group(0)
            return m.group(1) + synth_block(*by_key[arg], data["meta"], data["units"], source) + m.group(5)
        if kind == "file":
            if not Path(arg.partition("#")[0]).exists():
                missing.append(arg.partition("#")[0])
                return m.group(0)
            return m.group(1) + file_block(arg) + m.group(5)
        raise ResultsError(f"unknown generated block kind {kind!r} (synth, headline, file)")
    return BLOCK.sub(sub, text), missing


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth.results", description=__doc__.splitlines()[0])
    ap.add_argument("--synth", default="build/synth-all/report.json", help="the synthesis report")
    ap.add_argument("files", nargs="*", default=list(FILES), help=f"documents to rewrite (default {' '.join(FILES)})")
    args = ap.parse_args(argv)
    outs = []
    for f in map(Path, args.files):
        try:
            out, missing = rewrite(f.read_text(), args.synth)
        except OSError as e:
            sys.exit(f"results: cannot read {f} ({e.strerror})")
        except ResultsError as e:
            sys.exit(f"results: {f}: {e}")
        outs.append((f, out))
        for what in dict.fromkeys(missing):
            print(f"results: {f}: {what} is missing; its blocks are left as they are", file=sys.stderr)
    for f, out in outs:                              # written only once every document was generated
        tmp = f.with_name(f.name + ".tmp")
        tmp.write_text(out)
        tmp.replace(f)
        print(f"results: rewrote the generated blocks of {f}")
    plot = Path(args.synth).parent / "area_per_lane.png"
    if plot.exists():                                   # docs/results.md shows it
        Path("docs", plot.name).write_bytes(plot.read_bytes())


if __name__ == "__main__":
    main()
