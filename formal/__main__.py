"""`make formal`: run every proof and its mutant -> build/formal/report.{md,json}.

Usage: python -m formal [--full] [--out DIR] [--jobs N] [--cache DIR] [NAME ...]
       python -m formal --units [--out DIR]    every registered unit's proofs -> DIR/units.md (no solving)
Exit status 1 if a property is not proven or a mutant is (a proof that cannot fail): the operator mutant and
the x mutant (every output undefined where the unit drives 0) must both fail. Each result is cached by
a digest of the proof's Verilog, its Yosys script, the mutation, the Yosys version and this package's source:
a killed run continues where it stopped, and a rerun of unchanged proofs takes seconds."""

import argparse
import json
import os
import sys
import time

from synth.runner import (
    TIMINGS,
    Cache,
    OutputError,
    Progress,
    cached_call,
    digest,
    source_digest,
    tool_version,
    writable_dir,
)
from synth.runner import run as run_jobs

from . import NOT_PROVEN, FormalError, coverage, proofs, run
from .core import _yosys


def _work(todo, out, cache, base):
    """``run``'s work function for ``name`` or ``name:mutant``."""
    by_name = {p.name: p for p in todo}

    def work(item):
        name, _, tag = item.partition(":")
        p, mutant = by_name[name], {"": False, "mutant": True, "x": "x"}[tag]
        key = digest(base, p.sources, p.script(), p.mutation, mutant, p.kind, p.depth, p.x_module)

        def compute():
            r = run(p, out / "work", mutant=mutant)
            return {"proven": r.proven, "seconds": round(r.seconds, 1), "steps": r.steps}
        return cached_call(cache, item, key, compute)
    return work


def _write(out, name, text):
    tmp = out / (name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out / name)


def units_table():
    """Markdown: every registered unit, the proofs of its exact Verilog (CI set or ``--full`` only), or what
    stops one (``NOT_PROVEN``)."""
    ci = {p.name for p in proofs(False)}
    cov = coverage(full=True)
    proven = sum(bool(v) for v in cov.values())
    lines = [f"{proven} of {len(cov)} registered units have a proof of their exact exported Verilog (proofs marked",
             "`full` run in `make formal` only, the others in CI too).", "",
             "| unit | proofs | what stops a proof / note |", "|---|---|---|"]
    for unit, names in cov.items():
        shown = ", ".join(f"`{n}`" + ("" if n in ci else " (full)") for n in names) or "-"
        lines.append(f"| {unit} | {shown} | {NOT_PROVEN.get(unit, '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m formal", description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="every group size 8..128 and the larger dot-product units")
    ap.add_argument("--out", default="build/formal")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="proofs run side by side (default: one per core)")
    ap.add_argument("--cache", default="build/cache/formal", help="result cache folder (default build/cache/formal)")
    ap.add_argument("--units", action="store_true", help="write the per-unit proof status (units.md) and stop")
    ap.add_argument("names", nargs="*", help="only these proofs (default all)")
    args = ap.parse_args(argv)
    if not 1 <= args.jobs <= 64:                      # the cheap checks first: building the proofs takes a while
        sys.exit(f"formal: --jobs {args.jobs}: expected 1..64")
    try:
        out, cache = writable_dir(args.out), Cache(writable_dir(args.cache), defaults=TIMINGS / "formal.json")
    except OutputError as e:
        sys.exit(f"formal: {e}")
    if args.units:
        md = units_table()
        _write(out, "units.md", md)
        print(md)
        return
    todo = proofs(args.full)
    known = {p.name for p in todo}
    bad = sorted(set(args.names) - known)
    if bad:
        full_only = sorted(set(bad) & {p.name for p in proofs(True)}) if not args.full else []
        hint = f"; {full_only} are in the full set: add --full" if full_only else ""
        sys.exit(f"formal: unknown proof(s) {bad}{hint}; known: {sorted(known)}")
    if args.names:
        todo = [p for p in todo if p.name in args.names]
    t0 = time.perf_counter()
    items = [f"{p.name}{tag}" for p in todo for tag in ("", ":mutant", ":x")]
    progress = Progress("formal", items, args.jobs, cache.timings(), record=cache.record_timings)
    base = digest("formal", tool_version(_yosys(), "-V"), source_digest("formal"))
    try:
        done = run_jobs(items, _work(todo, out, cache, base), args.jobs, progress, pool="thread")
    except FormalError as e:
        sys.exit(f"formal: {e} (finished proofs are cached in {cache.folder}: run again to continue)")
    finally:
        progress.close()
    results = [(done[p.name], done[p.name + ":mutant"], done[p.name + ":x"]) for p in todo]
    rows, failed = [], []
    for p, (r, rm, rx) in zip(todo, results):
        rows.append({"name": p.name, "what": p.what, "engine": p.engine, "proven": r["proven"],
                     "seconds": r["seconds"], "induction_length": r["steps"],
                     "mutant": p.mutation[1].strip(), "mutant_fails": not rm["proven"],
                     "mutant_seconds": rm["seconds"], "x_mutant_fails": not rx["proven"],
                     "cached": p.name not in progress.measured})
        if not r["proven"] or rm["proven"] or rx["proven"]:
            failed.append(p.name)
    lines = ["# Formal proofs (Yosys 0.70 `sat`, no external solver)", "",
             f"{len(rows)} properties, {'full' if args.full else 'CI'} set, {time.perf_counter() - t0:.0f} s "
             f"with {args.jobs} job(s), {progress.cached} of {len(items)} results from the cache (times are those "
             "measured when computed). Undefined values are modelled in every proof. Each mutant is the unit's "
             "Verilog with one operator changed; each x mutant reads x on every output where the unit drives 0.",
             "", "| property | what | engine | proven | time (s) | induction length | mutant fails (s) "
             "| x mutant fails |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['name']}` | {r['what']} | {r['engine']} | {'yes' if r['proven'] else '**NO**'} | "
                     f"{r['seconds']} | {r['induction_length'] or '-'} | "
                     f"{'yes' if r['mutant_fails'] else '**NO**'} ({r['mutant_seconds']}) | "
                     f"{'yes' if r['x_mutant_fails'] else '**NO**'} |")
    md = "\n".join(lines) + "\n"
    for name, text in (("report.md", md), ("report.json", json.dumps(rows, indent=2))):
        _write(out, name, text)
    print(md)
    if failed:
        sys.exit(f"formal: not proven, or mutant proven: {failed}")


if __name__ == "__main__":
    main()
