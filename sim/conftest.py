import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def trace_set():
    """The real-LLM trace set: ``QR_TRACE`` if set, else the default set ``make traces`` writes."""
    from llmstudy import traces
    return traces.load(os.environ.get("QR_TRACE") or None)


def pytest_sessionstart(session):
    from harness import RUNS_FILE
    if not hasattr(session.config, "workerinput"):          # the controller (or a run without xdist)
        RUNS_FILE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    """Vectors and rates per bench, from every process (pytest-xdist workers append to one file)."""
    import json

    from harness import RUNS_FILE
    tr = terminalreporter
    if not RUNS_FILE.exists():
        return
    RUNS = [tuple(json.loads(line)) for line in RUNS_FILE.read_text().splitlines() if line.strip()]
    tr.section("RTL vs golden model: vectors checked per bench")
    tr.write_line(f"{'unit':28s} {'test':8s} {'simulator':9s} {'vectors':>10s} {'elements':>11s} "
                  f"{'real-trace':>11s} {'seconds':>7s} {'vectors/s':>10s}")
    for name, test_id, sim, n, sec, elems, real in RUNS:
        tr.write_line(f"{name:28s} {test_id:8s} {sim:9s} {n:>10,} {elems:>11,} {real:>11,} {sec:7.1f} "
                      f"{n / max(sec, 1e-9):>10,.0f}")
    tr.write_line(f"{len(RUNS)} benches; element vectors: {sum(r[5] for r in RUNS):,}, of them real-trace "
                  f"{sum(r[6] for r in RUNS):,}; {sum(r[4] for r in RUNS):.1f} s of simulation")
