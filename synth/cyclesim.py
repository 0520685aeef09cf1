"""Cycle-based zero-delay simulation of a mapped netlist, in NumPy: settled values and cell-output toggles.

The zero-delay gate-level figure counts, for every cell output pin, the changes of its *settled* value from
one simulation time to the next (``synth.gatesim``: clock edges and input changes). An event-driven simulator
gets there through every delta-cycle re-evaluation, and on deep reconvergent logic (Booth multipliers, the
16-lane INT 16x8 adder tree) Icarus spent over 10 minutes on 200 cycles here. Settled values need no events:
after each clock edge and each input change every combinational cell is evaluated once, in topological order,
vectorized over all cells of one type at one logic level. The result is the same count by definition (tested
against Icarus on the units both finish: ``tests/test_synth.py``), about a thousand times faster on the wide units.

* The netlist is Yosys' JSON of the flattened mapped design (``synth.flow.synthesize`` writes
  ``<name>_netlist.json`` beside the Verilog, with the cell instance names the Verilog has).
* Cell behaviour comes from the liberty file: each output pin's ``function`` and each ``ff`` group's
  ``next_state``/``clocked_on`` (rising-edge flip-flops without clear or preset; any other sequential cell is
  an error naming it).
* The schedule is the Icarus testbench's (``gatesim._testbench``): reset high for two rising edges with the
  inputs at zero, then at a falling edge reset low, counting starts and cycle 0's inputs are applied; each
  cycle has a rising edge (registers load, logic settles) and a falling edge (next inputs, logic settles);
  outputs are read after each rising edge. Registers start at zero (Icarus starts them unknown; the units'
  registers are all reset, so the two agree from the end of reset on).
"""

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import libpower

__all__ = ["Netlist", "cell_models", "simulate", "SimError"]


class SimError(ValueError):
    """A netlist or a liberty cell the cycle simulator cannot take."""


_TOKEN = re.compile(r"\s*([A-Za-z_][\w\[\]\.]*|[()!'^+*&|]|[01])")


def _compile(expr, cell):
    """A liberty function (``"(!((A B)+C))"``) -> (Python source over NumPy bool arrays, input names).
    Liberty precedence (NOT, AND by juxtaposition or ``*``/``&``, XOR ``^``, OR ``+``/``|``) is Python's
    (``~``, ``&``, ``^``, ``|``)."""
    tokens, pos, text = [], 0, expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SimError(f"cell {cell}: cannot read function {expr!r} at {text[pos:]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    out, names = [], []
    prev = None
    for t in tokens:
        operand_start = t == "(" or t == "!" or t[0].isalpha() or t[0] == "_" or t in "01"
        if prev is not None and (prev == ")" or prev[0].isalnum() or prev[0] == "_" or prev == "'") \
                and operand_start:
            out.append("&")                                    # juxtaposition is AND
        if t == "!":
            out.append("~")
        elif t == "'":                                        # postfix NOT
            raise SimError(f"cell {cell}: postfix ' in {expr!r} is not supported")
        elif t in ("+", "|"):
            out.append("|")
        elif t in ("*", "&"):
            out.append("&")
        elif t in ("^", "(", ")"):
            out.append(t)
        elif t in ("0", "1"):
            out.append(f"_{t}")
        else:
            if t not in names:
                names.append(t)
            out.append(f"v[{names.index(t)}]")
        prev = t
    return " ".join(out), names


@lru_cache(maxsize=4)
def cell_models(liberty):
    """``{cell: {"outputs": {pin: (fn, [input pins])}, "ff": (q_state, d_pin, clock_pin) or None}}`` from the
    liberty file (via ``liberty-parser``, as ``synth.libpower`` reads it)."""
    lib = libpower._library(str(liberty))
    models = {}
    for c in lib.get_groups("cell"):
        name = libpower._str(c.args[0])
        ffs = c.get_groups("ff")
        state = {}
        if ffs:
            ff = ffs[0]
            q = libpower._str(ff.args[0])
            qn = libpower._str(ff.args[1]) if len(ff.args) > 1 else None
            clk = libpower._str(ff.get("clocked_on"))
            nxt = libpower._str(ff.get("next_state"))
            if ff.get("clear") is not None or ff.get("preset") is not None or not re.fullmatch(r"\w+", clk or "") \
                    or not re.fullmatch(r"\w+", nxt or ""):
                state = {"unsupported": f"flip-flop clocked on {clk!r}, next state {nxt!r}, clear/preset"}
            else:
                state = {"ff": (q, qn, nxt, clk)}
        elif c.get_groups("latch"):
            state = {"unsupported": "latch"}
        outputs = {}
        for pin in c.get_groups("pin"):
            if libpower._str(pin.get("direction")) != "output":
                continue
            fn = libpower._str(pin.get("function"))
            pname = libpower._str(pin.args[0])
            if fn is None:
                outputs[pname] = None                          # e.g. a tristate buffer: no plain function
                continue
            src, names = _compile(fn, name)
            outputs[pname] = (src, names)
        models[name] = {"outputs": outputs, **state}
    return models


class Netlist:
    """A flattened mapped netlist (Yosys JSON) levelized for the cycle simulator."""

    def __init__(self, path, liberty, top=None):
        try:
            data = json.loads(Path(path).read_text())
            mods = data["modules"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SimError(f"{path} is not a Yosys JSON netlist ({e})") from None
        top = top or next((m for m, d in mods.items() if d.get("attributes", {}).get("top")), None) \
            or next(m for m, d in mods.items() if d.get("cells"))
        mod = mods[top]
        models = cell_models(str(liberty))
        bits = {"0": 0, "1": 1, "x": 0, "z": 0}
        nbits = 2 + max([b for p in mod["ports"].values() for b in p["bits"] if isinstance(b, int)]
                        + [b for c in mod["cells"].values() for v in c["connections"].values() for b in v
                           if isinstance(b, int)] + [0])

        def idx(b):
            return b + 2 if isinstance(b, int) else bits[b]
        self.nbits = nbits + 2
        self.ports = {n: (p["direction"], [idx(b) for b in p["bits"]]) for n, p in mod["ports"].items()}
        comb, self.ffs, self.pins = [], [], []              # pins: (instance, pin, bit) of every cell output
        driver = {}
        for inst, c in mod["cells"].items():
            m = models.get(c["type"])
            if m is None:
                raise SimError(f"cell {c['type']} ({inst}) of {path} is not in {liberty}")
            if "unsupported" in m:
                raise SimError(f"cell {c['type']} ({inst}): {m['unsupported']} is not supported by the cycle "
                               "simulator")
            conns = {p: idx(v[0]) for p, v in c["connections"].items() if v}
            if "ff" in m:
                q, qn, d, clk = m["ff"]
                outs = {p: f for p, f in m["outputs"].items()}
                qpin = next((p for p, f in outs.items() if f and f[0] == "v[0]" and f[1] == [q]), None)
                if qpin is None or len(outs) != 1:
                    raise SimError(f"cell {c['type']}: only flip-flops with one output Q = state are supported")
                self.ffs.append((conns[d], conns[qpin]))
                self.pins.append((inst, qpin, conns[qpin]))
                continue
            for p, f in m["outputs"].items():
                if p not in conns:
                    continue
                if f is None:
                    raise SimError(f"cell {c['type']} ({inst}): output {p} has no function")
                src, names = f
                comb.append((c["type"], p, src, [conns[n] for n in names], conns[p]))
                driver[conns[p]] = len(comb) - 1
                self.pins.append((inst, p, conns[p]))
        # levelize: a cell's level is one more than its inputs' drivers'
        level = [None] * len(comb)

        def lev(i, stack=()):
            if level[i] is not None:
                return level[i]
            if i in stack:
                raise SimError(f"{path}: combinational loop through {comb[i][0]} driving bit {comb[i][4]}")
            lv = 0
            for b in comb[i][3]:
                j = driver.get(b)
                if j is not None:
                    lv = max(lv, lev(j, stack + (i,)) + 1)
            level[i] = lv
            return lv
        import sys
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 4 * len(comb) + 1000))
        try:
            for i in range(len(comb)):
                lev(i)
        finally:
            sys.setrecursionlimit(old)
        groups = {}
        for i, (ctype, p, src, ins, out) in enumerate(comb):
            groups.setdefault((level[i], ctype, p), (src, [], []))
            g = groups[(level[i], ctype, p)]
            g[1].append(ins)
            g[2].append(out)
        self.groups = []
        for key in sorted(groups):
            src, ins, outs = groups[key]
            fn = eval(f"lambda v, _0, _1: {src}")             # noqa: S307 (source built from the liberty above)
            self.groups.append((fn, np.asarray(ins, np.int64).T, np.asarray(outs, np.int64)))
        self.levels = 1 + max(level, default=-1)
        self.pin_bits = np.asarray([b for _, _, b in self.pins], np.int64)

    def settle(self, v):
        zero, one = np.zeros(1, bool), np.ones(1, bool)
        for fn, ins, outs in self.groups:
            v[outs] = fn([v[i] for i in ins], zero, one)


def simulate(netlist, unit, drive, cycles, windows=1):
    """Run ``netlist`` (a ``Netlist``) on ``drive``'s first ``cycles`` input cycles, with the testbench schedule
    above. Returns ``(outputs, toggles)``: ``outputs[port]`` the unsigned word after each rising edge
    (``cycles + latency`` of them), ``toggles[(instance, pin)]`` the settled-value changes of every cell output
    pin from the start of counting, and the same per equal stretch of the run (``windows`` dicts)."""
    v = np.zeros(netlist.nbits, bool)
    v[1] = True

    def port_bits(name):
        if name not in netlist.ports:
            raise SimError(f"{unit.name}: netlist has no port {name}")
        return np.asarray(netlist.ports[name][1], np.int64)
    ins = [(p, port_bits(p.name)) for p in unit.inputs]
    outs = [(p, port_bits(p.name)) for p in unit.outputs]
    words = {p.name: np.asarray(p.words(np.asarray(drive[p.name])[:cycles]), object) for p in unit.inputs}

    def apply(j):
        for p, b in ins:
            w = int(words[p.name][j])
            v[b] = [(w >> k) & 1 for k in range(len(b))]
    clocked = unit.clocked
    d_bits = np.asarray([d for d, _ in netlist.ffs], np.int64)
    q_bits = np.asarray([q for _, q in netlist.ffs], np.int64)
    rst = port_bits("rst") if clocked else None

    def edge():
        v[q_bits] = v[d_bits]
        netlist.settle(v)
    if clocked:
        v[rst] = True
        netlist.settle(v)
        edge()
        edge()
        v[rst] = False
    apply(0)
    netlist.settle(v)
    prev = v[netlist.pin_bits].copy()
    total = cycles + unit.latency
    counts = np.zeros((max(1, windows), len(prev)), np.int64)
    out_vals = {p.name: [] for p, _ in outs}
    weights = {p.name: [1 << k for k in range(len(b))] for p, b in outs}
    for i in range(total):
        w = i * len(counts) // total
        if clocked:
            edge()
            now = v[netlist.pin_bits]
            counts[w] += now != prev
            prev = now
        for p, b in outs:
            out_vals[p.name].append(sum(w for w, bit in zip(weights[p.name], v[b]) if bit))
        if i + 1 < cycles:
            apply(i + 1)
            netlist.settle(v)
            now = v[netlist.pin_bits]
            counts[w] += now != prev
            prev = now
    keys = [(inst, pin) for inst, pin, _ in netlist.pins]
    toggles = dict(zip(keys, counts.sum(axis=0).tolist()))
    return out_vals, toggles, [dict(zip(keys, c.tolist())) for c in counts]
