"""Rewrite the generated blocks of README.md from build/synth/report.json: ``python -m synth.readme``
(``make readme``). A block is the text between ``<!-- generated: synth TABLE -->`` and ``<!-- end generated -->``;
``TABLE`` is a report table key (``mac``, ``dot16``, ``encoder``, ...). Nothing in those blocks is typed by hand.
Also copies the per-lane area plot to docs/ for the README."""

import json
import re
import sys
from pathlib import Path

from .report import _paper_table, _ratio_table, _shared_table, _throughput_table, _unit_table, tables

BLOCK = re.compile(r"(<!-- generated: synth (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def block(table, rows, meta, results):
    lines = [f"*{table.title}: `make synth`, {meta['liberty'].rsplit('/', 1)[-1]}, {meta['clock_ns']:g} ns clock.*",
             ""] + _unit_table(table, rows) + [""]
    rt = _ratio_table(table, rows)
    if rt:
        lines += rt + [""]
    through = _throughput_table(rows, meta["clock_ns"]) if table.per == "lane" else []
    for extra in (_shared_table(table, rows, results), _paper_table(rows), through):
        if extra:
            lines += extra + [""]
    return "\n".join(lines)


def rewrite(readme, report):
    data = json.loads(Path(report).read_text())
    by_key = {t.key: (t, rows) for t, rows in tables(data["units"])}
    text = Path(readme).read_text()
    missing = []

    def sub(m):
        key = m.group(2)
        if key not in by_key:
            missing.append(key)
            return m.group(0)
        return m.group(1) + block(*by_key[key], data["meta"], data["units"]) + m.group(4)
    out = BLOCK.sub(sub, text)
    return out, missing


def main(argv=None):
    args = argv if argv is not None else sys.argv[1:]
    readme = Path(args[0] if args else "README.md")
    report = Path(args[1] if len(args) > 1 else "build/synth/report.json")
    try:
        out, missing = rewrite(readme, report)
    except (OSError, ValueError) as e:
        sys.exit(f"readme: cannot read {report} or {readme} ({e}); run `make synth` first")
    if missing:
        print(f"readme: report.json has no table(s) {missing}; those blocks are left as they are", file=sys.stderr)
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(out)
    tmp.replace(readme)
    plot = report.parent / "area_per_lane.png"
    if plot.exists():                                   # the README shows it from docs/
        dest = readme.parent / "docs" / plot.name
        dest.write_bytes(plot.read_bytes())
    print(f"readme: rewrote the generated blocks of {readme} from {report}")


if __name__ == "__main__":
    main()
