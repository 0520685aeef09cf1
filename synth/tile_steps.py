"""What each design change of the GEMM tile bought: ``python -m synth.tile_steps`` (``make tile-steps``).

The 4 x 4 x 16 QRazor W4A4 tile and the INT 8x8 tile of the same shape, synthesized by the flow of ``make synth``
(``synth.flow``: Yosys 0.70 ``synth -booth`` + ABC, OSU 0.18 um, OpenSTA at the 10 ns reference clock) once per
step of their history, each step adding one change to the one before (``STEPS``: the parameters of
``hdl.tile.GemmTile`` / ``IntGemmTile``), plus the variants a designer would weigh (``VARIANTS``: one result block
instead of two). Area and timing only (no power: the tiles' timed gate-level power is ``make synth``'s, for the
registered parameters). Writes ``build/tile_steps/report.{md,json}``; each step is cached by its Verilog, the
liberty file and the flow's source, so a rerun only synthesizes what changed.
"""

import argparse
import dataclasses
import functools
import json
import sys
import time

from hdl.catalog import get
from hdl.export import to_verilog

from . import flow
from .runner import Cache, OutputError, cached_call, digest, file_digest, source_digest, tool_version, writable_dir

__all__ = ["STEPS", "VARIANTS", "TILES", "measure", "main"]

TILES = ("tile4x4_w4a4", "tile4x4_int8x8")

# (label, parameters): each step keeps the ones before it
STEPS = (
    ("first tile: blocks read through row and block selects, one 32-bit accumulator adder, every register reset",
     dict(buffer="select", acc_split=0, retime=False, reset_data=True)),
    ("result buffer shifts its rows out (ShiftResultBuffer)", dict(buffer="shift")),
    ("carry-delayed accumulator in 11-bit parts (SplitAccumulator)", dict(acc_split=11)),
    ("retimed element: half-tree sums and the shift amount registered", dict(retime=True)),
    ("data registers without reset (operands, partial sums, accumulators, result blocks)", dict(reset_data=False)),
)
VARIANTS = (
    ("one result block (depth 1): Q x K^T jobs of 4 beats run at half rate", dict(depth=1)),
)


def _params(tile, upto):
    """The tile's registered parameters with every step up to ``upto`` (inclusive) applied over the first one."""
    out = dict(get(tile).params)
    for _, p in STEPS[:upto + 1]:
        out.update(p)
    return out


def measure(tile, params, work, liberty=flow.DEFAULT_LIBERTY, clock_ns=10.0):
    """Area (um^2), critical path and f_max of ``tile`` built with ``params``."""
    unit = dataclasses.replace(get(tile), params=params)
    component = unit.build()
    syn = flow.synthesize(unit, work, liberty, component=component)
    sta = flow.sta(unit.name, work, liberty, clock_ns, {}, True)
    per = unit.per
    tops_mm2 = 2 * per * sta["fmax_mhz"] * 1e6 / 1e12 / (syn["total"] / 1e6)
    return dict(area_um2=syn["total"], per_lane_um2=syn["total"] / per, cells=syn["cells"],
                critical_path_ns=sta["critical_path_ns"], fmax_mhz=sta["fmax_mhz"], tops_per_mm2=tops_mm2,
                macs_per_cycle=per)


def _pct(r, base, k):
    return f"{round(100 * (r[k] / base[k] - 1), 1) + 0.0:+.1f} %"          # + 0.0: no "-0.0"


def report_markdown(rows, meta):
    L = ["# What each design change of the GEMM tile bought", "",
         f"OSU 0.18 um, Yosys 0.70 + ABC, OpenSTA at {meta['clock_ns']:g} ns; area and timing after synthesis (no "
         f"wires); {meta['date']}.", "",
         "| tile | step | area (um^2) | per lane (um^2) | f_max (MHz) | TOPS/mm^2 at f_max | change |",
         "|---|---|---|---|---|---|---|"]
    prev = {}
    for r in rows:
        base = prev.get(r["tile"]) if r["kind"] == "step" else r["against"]
        change = (f"area {_pct(r, base, 'area_um2')}, f_max {_pct(r, base, 'fmax_mhz')}, TOPS/mm^2 "
                  f"{_pct(r, base, 'tops_per_mm2')}") if base else "-"
        label = r["label"] if r["kind"] == "step" else f"variant: {r['label']}"
        L.append(f"| {r['tile']} | {label} | {r['area_um2']:,.0f} | {r['per_lane_um2']:,.0f} | {r['fmax_mhz']:.1f} | "
                 f"{r['tops_per_mm2']:.4f} | {change} |")
        if r["kind"] == "step":
            prev[r["tile"]] = r
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth.tile_steps", description=__doc__.split("\n\n")[0])
    ap.add_argument("tiles", nargs="*", default=list(TILES), help=f"default: {' '.join(TILES)}")
    ap.add_argument("--out", default="build/tile_steps")
    ap.add_argument("--liberty", default=flow.DEFAULT_LIBERTY)
    ap.add_argument("--cache", default="build/cache/tile_steps")
    args = ap.parse_args(argv)
    try:
        out, cache = writable_dir(args.out), Cache(writable_dir(args.cache))
        flow.require_tools(args.liberty)
        for t in args.tiles:
            if get(t).table.key != "tile":
                raise ValueError(f"{t} is not a GEMM tile (python -m hdl.export --list names them)")
    except (OutputError, ValueError, KeyError, flow.ToolError) as e:
        sys.exit(f"tile_steps: {e}")
    key_flow = digest(file_digest(args.liberty), source_digest("synth/flow.py", "synth/libpower.py"),
                      tool_version(flow.YOSYS, "-V"), tool_version(flow.STA, "-version"))
    rows = []
    for tile in args.tiles:
        todo = [("step", i, label, _params(tile, i)) for i, (label, _) in enumerate(STEPS)]
        final = _params(tile, len(STEPS) - 1)
        todo += [("variant", i, label, {**final, **p}) for i, (label, p) in enumerate(VARIANTS)]
        for kind, i, label, params in todo:
            unit = dataclasses.replace(get(tile), params=params)
            key = digest(key_flow, to_verilog(unit))
            item = f"{tile}-{kind}{i}"
            res, hit, seconds = cached_call(cache, item, key, functools.partial(
                measure, tile, params, out / item, args.liberty))
            rows.append(dict(res, tile=tile, kind=kind, label=label, params=params))
            print(f"tile_steps: {tile} {kind} {i}: {res['area_um2']:,.0f} um^2, {res['fmax_mhz']:.1f} MHz, "
                  f"{res['tops_per_mm2']:.4f} TOPS/mm^2 ({'cached' if hit else f'{seconds:.0f} s'})",
                  file=sys.stderr)
        last = [r for r in rows if r["tile"] == tile and r["kind"] == "step"][-1]
        for r in rows:
            if r["tile"] == tile and r["kind"] == "variant":
                r["against"] = last
    meta = dict(date=time.strftime("%Y-%m-%d"), clock_ns=10.0, liberty=args.liberty)
    (out / "report.json").write_text(json.dumps(dict(meta=meta, rows=[{k: v for k, v in r.items() if k != "against"}
                                                                      for r in rows]), indent=1))
    (out / "report.md").write_text(report_markdown(rows, meta))
    print(f"tile_steps: wrote {out / 'report.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
