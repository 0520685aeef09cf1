"""`make formal`: run every proof and its mutant -> build/formal/report.{md,json}.

Usage: python -m formal [--full] [--out DIR] [--jobs N] [NAME ...]
Exit status 1 if a property is not proven or a mutant is (a proof that cannot fail)."""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import FormalError, proofs, run


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m formal", description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="every group size 8..128 and the larger dot-product units")
    ap.add_argument("--out", default="build/formal")
    ap.add_argument("--jobs", type=int, default=2, help="proofs run side by side (default 2)")
    ap.add_argument("names", nargs="*", help="only these proofs (default all)")
    args = ap.parse_args(argv)
    todo = proofs(args.full)
    known = {p.name for p in todo}
    bad = sorted(set(args.names) - known)
    if bad:
        sys.exit(f"formal: unknown proof(s) {bad}; known: {sorted(known)}")
    if args.jobs < 1:
        sys.exit(f"formal: --jobs {args.jobs}: expected at least 1")
    if args.names:
        todo = [p for p in todo if p.name in args.names]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jobs = [(p, m) for p in todo for m in (False, True)]
    try:
        with ThreadPoolExecutor(args.jobs) as ex:
            results = list(ex.map(lambda pm: run(pm[0], out / "work", mutant=pm[1]), jobs))
    except FormalError as e:
        sys.exit(f"formal: {e}")
    rows, failed = [], []
    for p, (r, rm) in zip(todo, zip(results[0::2], results[1::2])):
        rows.append({"name": p.name, "what": p.what, "engine": p.engine, "proven": r.proven,
                     "seconds": round(r.seconds, 1), "induction_length": r.steps,
                     "mutant": p.mutation[1].strip(), "mutant_fails": not rm.proven,
                     "mutant_seconds": round(rm.seconds, 1)})
        if not r.proven or rm.proven:
            failed.append(p.name)
    lines = ["# Formal proofs (Yosys 0.70 `sat`, no external solver)", "",
             f"{len(rows)} properties, {'full' if args.full else 'CI'} set, {time.perf_counter() - t0:.0f} s "
             f"with {args.jobs} job(s). Each mutant is the unit's Verilog with one operator changed.", "",
             "| property | what | engine | proven | time (s) | induction length | mutant fails (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['name']}` | {r['what']} | {r['engine']} | {'yes' if r['proven'] else '**NO**'} | "
                     f"{r['seconds']} | {r['induction_length'] or '-'} | "
                     f"{'yes' if r['mutant_fails'] else '**NO**'} ({r['mutant_seconds']}) |")
    md = "\n".join(lines) + "\n"
    for name, text in (("report.md", md), ("report.json", json.dumps(rows, indent=2))):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out / name)
    print(md)
    if failed:
        sys.exit(f"formal: not proven, or mutant proven: {failed}")


if __name__ == "__main__":
    main()
