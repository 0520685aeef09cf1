import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Vector budget: QR_SIM_CYCLES random-stream cycles per MAC bench (each cycle checks every lane).
os.environ.setdefault("QR_SIM_CYCLES", "2000")


def pytest_terminal_summary(terminalreporter):
    from harness import RUNS
    if not RUNS:
        return
    tr = terminalreporter
    tr.section("RTL vs golden model: vectors checked per bench")
    tr.write_line(f"{'unit':28s} {'test':10s} {'simulator':9s} {'data':9s} {'vectors':>10s} {'elements':>10s} "
                  f"{'seconds':>7s} {'vectors/s':>10s}")
    for name, test_id, sim, source, n, sec, elems in RUNS:
        tr.write_line(f"{name:28s} {test_id:10s} {sim:9s} {source:9s} {n:>10,} {elems:>10,} {sec:7.1f} "
                      f"{n / sec:>10,.0f}")
    trace = [r for r in RUNS if r[3] == "trace"]
    tr.write_line(f"real-trace element vectors: {sum(r[6] for r in trace):,} in {sum(r[5] for r in trace):.1f} s "
                  f"of simulation; all benches: {sum(r[6] for r in RUNS):,} elements")
