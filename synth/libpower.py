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


class _Table:
    """A 1-D or 2-D lookup table of a liberty group, linearly interpolated (clamped at the edges)."""

    def __init__(self, group, variables):
        self.vars = variables
        self.idx = [np.asarray(group.get_array(k), float).reshape(-1) for k in ("index_1", "index_2")
                    if group.get(k) is not None]
        vals = np.asarray(group.get_array("values"), float)
        self.vals = vals.reshape([len(x) for x in self.idx]) if self.idx else vals.reshape(-1)

    def at(self, load, slew):
        point = {"total_output_net_capacitance": load}
        x = [point.get(v, slew) for v in self.vars]     # any transition variable takes the slew
        if not self.idx:
            return float(self.vals[0])
        if len(self.idx) == 1:
            return float(np.interp(x[0], self.idx[0], self.vals))
        rows = [np.interp(x[1], self.idx[1], r) for r in self.vals]
        return float(np.interp(x[0], self.idx[0], rows))


def _str(v):
    return str(v).strip('"') if v is not None else None


@lru_cache(maxsize=4)
def _library(path):
    from liberty.parser import parse_liberty  # PyPI liberty-parser
    try:
        return parse_liberty(Path(path).read_text())
    except Exception as e:                       # the parser raises its own (lark) exception types
        raise ValueError(f"{path}: not a readable liberty file ({e!r})") from None


@lru_cache(maxsize=4)
def cell_areas(path):
    """``{cell: area}`` of a liberty file."""
    return {_str(c.args[0]): float(c["area"]) for c in _library(path).get_groups("cell")}


@lru_cache(maxsize=4)
def load_library(path):
    """``{cell: {"leakage": nW, "pins": {pin: {"dir", "cap", "tables"}}}}`` from a liberty file."""
    lib = _library(path)
    templates = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for t in lib.get_groups(kind):
            templates[_str(t.args[0]) if t.args else ""] = [_str(t[k]) for k in ("variable_1", "variable_2")
                                                            if t.get(k) is not None]
    cells = {}
    for c in lib.get_groups("cell"):
        pins = {}
        for pin in c.get_groups("pin"):
            tables = []
            for ip in pin.get_groups("internal_power"):
                for kind in ("rise_power", "fall_power"):
                    for t in ip.get_groups(kind):
                        tables.append(_Table(t, templates.get(_str(t.args[0]) if t.args else "", [])))
            pins[_str(pin.args[0])] = {"dir": _str(pin.get("direction")),
                                       "cap": float(pin.get("capacitance") or 0), "tables": tables}
        cells[_str(c.args[0])] = {"leakage": float(c.get("cell_leakage_power") or 0), "pins": pins}
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
    """Instances of a flattened netlist: [(cell, instance, {pin: net})]. A ``.json`` path is Yosys' JSON netlist
    (``synth.flow.synthesize`` writes it beside the Verilog; nets named as the Verilog names them: ``port[i]`` for a
    bit of a multi-bit port, ``port`` for a one-bit port, ``$<bit>`` for an internal net, ``1'b0``/``1'b1``);
    otherwise the Verilog netlist, read by pattern."""
    if Path(path).suffix == ".json":
        return _read_json_netlist(path)
    text = Path(path).read_text()
    body = text.split(";", 1)[1] if ";" in text else text
    out = []
    for cell, inst, conns in INSTANCE.findall(body):
        if cell in ("module", "input", "output", "wire", "assign", "reg"):
            continue
        out.append((cell, inst, {p: n.strip() for p, n in CONN.findall(conns)}))
    return out


def _read_json_netlist(path):
    import json
    try:
        mods = json.loads(Path(path).read_text())["modules"]
        mod = next(m for m in mods.values() if m.get("attributes", {}).get("top")) if len(mods) > 1 else \
            next(iter(mods.values()))
        names = {}
        for pname, port in mod["ports"].items():
            for i, b in enumerate(port["bits"]):
                if isinstance(b, int):
                    names.setdefault(b, pname if len(port["bits"]) == 1 else f"{pname}[{i}]")

        def net(bits):
            b = bits[0] if bits else "x"
            return names.get(b, f"${b}") if isinstance(b, int) else f"1'b{b}"
        return [(c["type"], inst, {p: net(v) for p, v in c["connections"].items()})
                for inst, c in mod["cells"].items()]
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as e:
        raise ValueError(f"{path} is not a Yosys JSON netlist ({e!r})") from None


class PowerModel:
    """The power of one netlist as a function of its toggle rates: the per-net capacitances and per-pin energies
    are computed once, so that many activity sets (``power_spread``'s windows) cost little each."""

    def __init__(self, netlist_path, liberty, clock_ns, clock_net="clk"):
        lib = load_library(str(liberty))
        self.insts = read_netlist(netlist_path)
        self.f = 1e3 / clock_ns                                   # MHz
        self.clock_net = clock_net
        net_cap, self.drivers = {}, {}
        self.leakage = 0.0
        for cell, inst, conns in self.insts:
            c = lib.get(cell)
            if c is None:
                raise ValueError(f"cell {cell} of {netlist_path} is not in {liberty}")
            self.leakage += c["leakage"]
            for p, net in conns.items():
                pin = c["pins"].get(p)
                if pin and pin["dir"] == "input":
                    net_cap[net] = net_cap.get(net, 0.0) + pin["cap"]
                elif pin and pin["dir"] == "output":
                    self.drivers[net] = (inst, p)
        # per net: energy per toggle of the output pins driving it (internal, switching), and of input pins with
        # tables (internal), so that power = sum over nets of rate x energy
        self.out_energy, self.in_energy = {}, {}
        for cell, _inst, conns in self.insts:
            c = lib[cell]
            for p, net in conns.items():
                pin = c["pins"].get(p)
                if pin is None:
                    continue
                if pin["dir"] == "output":
                    load = net_cap.get(net, 0.0)
                    i, sw = _energy(pin, load), 0.5 * load * VDD ** 2
                    e = self.out_energy.get(net, (0.0, 0.0))
                    self.out_energy[net] = (e[0] + i, e[1] + sw)
                elif pin["tables"]:
                    self.in_energy[net] = self.in_energy.get(net, 0.0) + _energy(pin, 0.0)

    def __call__(self, pin_toggles_per_cycle, net_default=0.0, input_port_rates=None):
        """mW (internal, switching, leakage, total) from toggles per cycle of each instance output pin."""
        rate = {net: pin_toggles_per_cycle.get(drv, net_default) for net, drv in self.drivers.items()}
        for net, r in (input_port_rates or {}).items():
            rate.setdefault(net, r)
        rate[self.clock_net] = 2.0
        internal = switching = 0.0                                # pJ per cycle
        for net, (i, sw) in self.out_energy.items():
            r = rate.get(net, net_default)
            internal += r * i
            switching += r * sw
        for net, i in self.in_energy.items():
            internal += rate.get(net, net_default) * i
        # pJ per cycle x MHz = uW
        i_mw, s_mw, l_mw = internal * self.f * 1e-3, switching * self.f * 1e-3, self.leakage * 1e-6
        return {"internal_mw": i_mw, "switching_mw": s_mw, "leakage_mw": l_mw, "total_mw": i_mw + s_mw + l_mw}


def power(netlist_path, liberty, clock_ns, pin_toggles_per_cycle, net_default=0.0, clock_net="clk",
          input_port_rates=None):
    """mW (internal, switching, leakage, total) from toggles per cycle of each instance output pin.

    ``pin_toggles_per_cycle``: {(instance, pin): rate}; nets driven by top-level inputs take their rate from
    ``input_port_rates`` ({net: rate}), the clock net toggles twice per cycle, anything else ``net_default``.
    """
    return PowerModel(netlist_path, liberty, clock_ns, clock_net)(pin_toggles_per_cycle, net_default,
                                                                  input_port_rates)


def power_spread(model, window_toggles, window_cycles, input_port_rates=None):
    """The standard error of the mean total power (mW) from ``window_toggles`` (one {(instance, pin): toggles}
    per equal window of ``window_cycles`` cycles): the spread of the windows' powers over sqrt(windows)."""
    totals = [model({k: n / window_cycles for k, n in w.items()}, input_port_rates=input_port_rates)["total_mw"]
              for w in window_toggles]
    return float(np.std(totals, ddof=1) / np.sqrt(len(totals))) if len(totals) > 1 else None
