"""Power of a mapped netlist from per-net toggle counts, computed from the liberty file's own tables.

OpenSTA 2019 (Debian's ``sta``) takes switching activity on input ports only (its ``set_power_activity -pins``
branch is broken and covers input pins only), so simulated activity on internal nets cannot be handed to it.
This module evaluates the same power model OpenSTA uses, per instance:

* switching: ``0.5 * C_net * V**2`` per toggle of each driven net, ``C_net`` = sum of the input-pin
  capacitances on the net (the library has no wire-load model, so OpenSTA uses the same);
* internal: the output pins' ``internal_power`` energy tables (load ``C_net``, input transition
  ``SLEW_NS``), averaged over related pins and rise/fall, per output toggle, plus the input pins' passive
  energy tables per input toggle (the registers' clock pins: two toggles per cycle);
* leakage: ``cell_leakage_power``.

``validate_against_sta`` runs both on one uniform activity so the two calculators can be compared directly.
"""

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

SLEW_NS = 0.1
VDD = 1.8


def _tokens(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    return re.findall(r'"[^"]*"|[{}();:,]|[^\s{}();:,"]+', text)


def _parse(tokens, i=0):
    """Nested groups: returns (list of (type, name, attrs, children), next index)."""
    out = []
    while i < len(tokens) and tokens[i] != "}":
        key = tokens[i]
        if tokens[i + 1] == ":":                       # simple attribute  key : value ;
            j = i + 2
            while tokens[j] != ";":
                j += 1
            out.append(("attr", key, " ".join(tokens[i + 2:j]).strip('"'), None))
            i = j + 1
        elif tokens[i + 1] == "(":                     # complex attribute or group
            j = i + 2
            args = []
            while tokens[j] != ")":
                if tokens[j] != ",":
                    args.append(tokens[j].strip('"'))
                j += 1
            if j + 1 < len(tokens) and tokens[j + 1] == "{":
                children, k = _parse(tokens, j + 2)
                out.append(("group", key, args, children))
                i = k + 1
            else:
                out.append(("attr", key, args, None))
                i = j + 2 if j + 1 < len(tokens) and tokens[j + 1] == ";" else j + 1
        else:
            i += 1
    return out, i


def _attrs(children):
    return {k: v for t, k, v, _ in children if t == "attr"}


def _groups(children, kind):
    return [(name, ch) for t, k, name, ch in children if t == "group" and k == kind]


def _floats(s):
    if isinstance(s, list):
        s = ",".join(s)
    return np.array([float(x) for x in s.replace(",", " ").split()])


class _Table:
    """A 1-D or 2-D lookup table, linearly interpolated (clamped at the edges)."""

    def __init__(self, ch, variables):
        a = _attrs(ch)
        self.vars = variables
        self.idx = [_floats(a[k]) for k in ("index_1", "index_2") if k in a]
        vals = _floats(a["values"])
        self.vals = vals.reshape([len(x) for x in self.idx]) if self.idx else vals

    def at(self, load, slew):
        point = {"total_output_net_capacitance": load}
        x = [point.get(v, slew) for v in self.vars]     # any transition variable takes the slew
        if not self.idx:
            return float(self.vals[0])
        if len(self.idx) == 1:
            return float(np.interp(x[0], self.idx[0], self.vals))
        rows = [np.interp(x[1], self.idx[1], r) for r in self.vals]
        return float(np.interp(x[0], self.idx[0], rows))


@lru_cache(maxsize=4)
def load_library(path):
    """``{cell: {"leakage": nW, "pins": {pin: {"dir", "cap", "energy": fn(load, slew) -> pJ per toggle}}}}``."""
    text = Path(path).read_text()
    (lib,), _ = _parse(_tokens(text))
    lib_children = lib[3]
    templates = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for name, ch in _groups(lib_children, kind):
            a = _attrs(ch)
            templates[name[0] if name else ""] = [a[k] for k in ("variable_1", "variable_2") if k in a]
    cells = {}
    for name, ch in _groups(lib_children, "cell"):
        a = _attrs(ch)
        pins = {}
        for pname, pch in _groups(ch, "pin"):
            pa = _attrs(pch)
            tables = []
            for _, ich in _groups(pch, "internal_power"):
                for kind in ("rise_power", "fall_power"):
                    for tname, tch in _groups(ich, kind):
                        tables.append(_Table(tch, templates.get(tname[0] if tname else "", [])))
            pins[pname[0]] = {"dir": pa.get("direction"), "cap": float(pa.get("capacitance", 0) or 0),
                              "tables": tables}
        cells[name[0]] = {"leakage": float(a.get("cell_leakage_power", 0)), "pins": pins}
    return cells


def _energy(pin, load):
    """Internal energy charged per toggle: rise + fall table values (averaged over related pins), the
    convention OpenSTA 2019 applies (checked on single cells: an inverter toggling once per cycle is charged
    rise_power + fall_power)."""
    t = pin["tables"]
    return 2.0 * float(np.mean([tab.at(load, SLEW_NS) for tab in t])) if t else 0.0


INSTANCE = re.compile(r"^\s*(\w+)\s+(\S+)\s*\((.*?)\);", re.S | re.M)
CONN = re.compile(r"\.(\w+)\(([^()]*)\)")


def read_netlist(path):
    """Instances of a flattened Yosys netlist: [(cell, instance, {pin: net})]."""
    text = Path(path).read_text()
    body = text.split(";", 1)[1] if ";" in text else text
    out = []
    for cell, inst, conns in INSTANCE.findall(body):
        if cell in ("module", "input", "output", "wire", "assign", "reg"):
            continue
        out.append((cell, inst, {p: n.strip() for p, n in CONN.findall(conns)}))
    return out


def power(netlist_path, liberty, clock_ns, pin_toggles_per_cycle, net_default=0.0, clock_net="clk",
          input_port_rates=None):
    """mW (internal, switching, leakage, total) from toggles per cycle of each instance output pin.

    ``pin_toggles_per_cycle``: {(instance, pin): rate}; nets driven by top-level inputs take their rate from
    ``input_port_rates`` ({net: rate}), the clock net toggles twice per cycle, anything else ``net_default``.
    """
    lib = load_library(str(liberty))
    insts = read_netlist(netlist_path)
    f = 1e3 / clock_ns                                   # MHz
    net_cap, net_rate = {}, {}
    for cell, inst, conns in insts:
        c = lib.get(cell)
        if c is None:
            raise ValueError(f"cell {cell} of {netlist_path} is not in {liberty}")
        for p, net in conns.items():
            pin = c["pins"].get(p)
            if pin and pin["dir"] == "input":
                net_cap[net] = net_cap.get(net, 0.0) + pin["cap"]
            elif pin and pin["dir"] == "output":
                net_rate[net] = pin_toggles_per_cycle.get((inst, p), net_default)
    for net, r in (input_port_rates or {}).items():
        net_rate.setdefault(net, r)
    net_rate[clock_net] = 2.0
    internal = switching = leakage = 0.0                 # pJ per cycle, pJ per cycle, nW
    for cell, _inst, conns in insts:
        c = lib[cell]
        leakage += c["leakage"]
        for p, net in conns.items():
            pin = c["pins"].get(p)
            if pin is None:
                continue
            rate = net_rate.get(net, net_default)
            if pin["dir"] == "output":
                load = net_cap.get(net, 0.0)
                internal += rate * _energy(pin, load)
                switching += rate * 0.5 * load * VDD ** 2
            elif pin["tables"]:
                internal += rate * _energy(pin, 0.0)
    # pJ per cycle x MHz = uW
    i_mw, s_mw, l_mw = internal * f * 1e-3, switching * f * 1e-3, leakage * 1e-6
    return {"internal_mw": i_mw, "switching_mw": s_mw, "leakage_mw": l_mw, "total_mw": i_mw + s_mw + l_mw}
