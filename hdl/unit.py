# amaranth: UnusedElaboratable=no
"""Unit descriptors: a unit describes itself once, and every tool reads that description.

A ``Unit`` names one Verilog module and states everything the tools need to know about it: how to build the
Amaranth component, its golden model (input port streams -> expected output port streams), how real or
synthetic data becomes its port values (``stimulus``), its exhaustive and corner-case segments, its report
table, label and area groups. ``sim/`` (cocotb benches), ``tests/`` (in-process simulation), ``synth/``
(activity, gate-level simulation, flow, report) and ``hdl.export`` read only descriptors; nothing branches on
a class name. ``hdl.catalog`` registers the project's units (this module never imports it); adding a unit is its
Amaranth module, its golden function and one ``register(Unit(...))``.

Port streams ("drives") are dicts of NumPy integer arrays, one entry per clock cycle: ``(cycles,)`` for a
scalar port, ``(cycles, k)`` for an array port of ``k`` elements (``data.ArrayLayout``). Sign-magnitude
words are given as their integer word. The golden function models one copy of the unit from its reset state;
output ``o`` for input cycle ``j`` is what the port shows ``latency`` cycles after cycle ``j``'s inputs.
"""

import itertools
import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data, wiring

__all__ = ["Port", "Stream", "Table", "Unit", "streams", "register", "get", "units", "ports", "concat", "idle",
           "split_lanes", "words", "unpack_word", "expected_lanes", "unregister", "UnitError",
           "control_ports", "control_coverage", "count_controls", "coverage_text"]


class UnitError(ValueError):
    """A descriptor, a unit name or a port stream is not what the registry expects."""


@dataclass(frozen=True)
class Port:
    """One port of a unit's exported module: ``width`` bits in all, ``count`` elements of ``width // count``."""
    name: str
    width: int
    is_input: bool
    count: int = 1
    array: bool = False

    @property
    def shape(self):
        """Shape of one cycle's value in a port stream."""
        return (self.count,) if self.array else ()

    def words(self, values):
        """A port stream (one entry per cycle) as the port's unsigned words, one Python int per cycle."""
        if self.array:
            return words(values, self.elem_width)
        return [int(x) & ((1 << self.width) - 1) for x in np.asarray(values).reshape(-1)]

    @property
    def elem_width(self):
        return self.width // self.count


def ports(component):
    """Ports of ``component`` as the Verilog export names them (a stream member ``a`` becomes ``a__payload``,
    ``a__valid``, ``a__ready``); ``clk``/``rst`` of clocked units are not listed."""
    out = []
    for path, member, value in component.signature.flatten(component):
        shape = value.shape()
        array = isinstance(shape, data.ArrayLayout) and len(path) == 1
        out.append(Port("__".join(map(str, path)), Shape.cast(shape).width, member.flow == wiring.In,
                        shape.length if array else 1, array))
    return out


@dataclass(frozen=True)
class Stream:
    """One ``amaranth.lib.stream`` member of a stream unit: its payload ``layout`` (a ``StructLayout`` whose
    fields are integers or nested ``ArrayLayout``s of them). Beats are ``{field: array (beats, *dims)}``."""
    name: str
    is_input: bool
    layout: data.StructLayout

    @property
    def fields(self):
        """``[(field, offset, element width, dims)]``: ``dims`` the nested array lengths, outermost first."""
        out = []
        for fname, fld in self.layout:
            shape, dims = fld.shape, []
            while isinstance(shape, data.ArrayLayout):
                dims.append(shape.length)
                shape = shape.elem_shape
            out.append((fname, fld.offset, Shape.cast(shape).width, tuple(dims)))
        return out

    @property
    def width(self):
        return Shape.cast(self.layout).width

    def check(self, beats, unit_name):
        """``beats`` with every field, integer, the field's dims; returns the number of beats."""
        if not isinstance(beats, Mapping) or set(beats) != {f[0] for f in self.fields}:
            got = sorted(beats) if isinstance(beats, Mapping) else type(beats).__name__
            raise UnitError(f"{unit_name}: beats of stream {self.name} must have fields "
                            f"{[f[0] for f in self.fields]}, got {got}")
        lengths = set()
        for fname, _, _, dims in self.fields:
            v = np.asarray(beats[fname])
            if v.dtype.kind not in "iub":
                raise UnitError(f"{unit_name}: field {self.name}.{fname} has dtype {v.dtype}, expected integers")
            if v.shape[1:] != dims:
                want = f"(beats, {', '.join(map(str, dims))})" if dims else "(beats,)"
                raise UnitError(f"{unit_name}: field {self.name}.{fname} has shape {v.shape}, expected {want}")
            lengths.add(v.shape[0])
        if len(lengths) != 1:
            raise UnitError(f"{unit_name}: fields of stream {self.name} differ in length: {sorted(lengths)}")
        return lengths.pop()

    def pack(self, beats):
        """Beats -> one payload word (Python int) per beat, each field at its offset."""
        out = None
        for fname, offset, ew, _ in self.fields:
            v = np.asarray(beats[fname], np.int64)
            w = words(v.reshape(v.shape[0], -1), ew)
            out = [x << offset for x in w] if out is None else [o | (x << offset) for o, x in zip(out, w)]
        return out or []

    def toggles(self, beats):
        """``{payload bit: toggles per beat}`` of consecutive beats (the port names of ``ports``)."""
        out = {}
        for fname, offset, ew, _ in self.fields:
            v = np.asarray(beats[fname], np.int64)
            v = v.reshape(v.shape[0], -1) & ((1 << ew) - 1)
            bits = (v[:, :, None] >> np.arange(ew)) & 1                  # (beats, elements, ew)
            rate = (bits[1:] != bits[:-1]).mean(axis=0).reshape(-1)    # element-major, LSB first
            out.update({f"{self.name}__payload[{offset + i}]": float(r) for i, r in enumerate(rate)})
        return out

    def unpack(self, payloads):
        """Payload words -> beats (unsigned field elements)."""
        out = {}
        for fname, offset, ew, dims in self.fields:
            count = int(np.prod(dims)) if dims else 1
            vals = [unpack_word(p >> offset, ew, count) for p in payloads]
            out[fname] = np.asarray(vals, np.int64).reshape(len(payloads), *dims)
        return out


def streams(component):
    """The ``amaranth.lib.stream`` members of ``component`` (inputs first, in signature order)."""
    from amaranth.lib import stream as _stream
    out = []
    for name, member in component.signature.members.items():
        if member.is_signature and isinstance(member.signature, _stream.Signature):
            out.append(Stream(name, member.flow == wiring.In, member.signature.members["payload"].shape))
    return sorted(out, key=lambda s: not s.is_input)


CONTROL_CYCLES = 256          # cycles of ``Unit.control_segments`` (a quarter of them on zero data)


@dataclass(frozen=True)
class Table:
    """A table of the synthesis report. ``baselines``: units every other unit of the table is compared with;
    ``per``: what the unit-level figures are divided by (``"lane"``, ``"element"`` or ``""``)."""
    key: str
    title: str
    order: int
    baselines: tuple = ()
    per: str = ""
    note: str = ""


@dataclass(frozen=True)
class Unit:
    """Everything the tools need to know about one unit.

    ``component``/``params``: the ``wiring.Component`` class and its keyword arguments.
    ``golden(drive) -> {output: array}``: the unit's own golden function (one copy, from reset).
    ``stimulus(source, cycles, seed) -> drive``: port streams from a data source of ``golden.streams``
    (real traces or synthetic data; the same builder feeds benches, gate-level simulation and activity).
    ``segments(seed) -> [drive, ...]``: exhaustive and corner-case segments.
    ``parts``: submodule (instance name) -> area group; the unit's own cells and any other submodule go to
    ``rest``. ``per``: work items per vector (an encoder's group size, a dot-product unit's lanes), by which
    the table's per-item figures divide. ``flows``: optional synthesis steps (``"gate_level"``, ``"ice40"``, ``"ecp5"``,
    ``"mapping"``). ``paper``: the paper's Table 5 figures for this unit, if it has them. ``encoder``: the
    registered SDR encoder that produces this unit's activation operand (one per activation stream, shared by
    the columns that read it; the report amortizes it). ``cocotb``: whether the cocotb benches (``sim/``, Icarus
    and Verilator) run the unit; the larger tiles, which Icarus runs at tens of cycles per second, are checked
    in-process (``tests/test_tile.py``) and by the native Verilator harness (``tests/test_native.py``) instead.
    ``headline``: whether ``make synth`` (the README's first command) covers the unit; ``make synth-all`` covers
    every unit. ``pnr``: whether ``make pnr`` places and routes it by default. ``schemes``: the accuracy-sweep
    schemes (``llmstudy.accuracy``) whose arithmetic the unit computes bit for bit (a dot-product unit: its
    products and sums; an encoder: the activations' razoring), for the accuracy-versus-silicon frontier.
    ``icarus_budget``: ``(corner, synthetic, real-trace)`` cycles of the Icarus bench for a unit Icarus runs at a
    few cycles per second (None: the bench's rule by width; Verilator runs everything).
    """
    name: str
    component: type
    params: Mapping
    golden: Callable
    stimulus: Callable
    segments: Callable
    doc: str
    label: str
    table: Table
    parts: Mapping = field(default_factory=dict)
    rest: str = "registers + accumulator"
    per: int = 1
    bench_lanes: int = 32
    cycles_scale: float = 1.0
    flows: frozenset = frozenset({"gate_level", "ice40", "ecp5", "mapping"})
    paper: Mapping = None
    encoder: str = None
    protocol: str = "cycle"
    cocotb: bool = True
    headline: bool = False
    pnr: bool = False
    schemes: tuple = ()
    icarus_budget: tuple = None

    def build(self):
        return self.component(**self.params)

    @cached_property
    def _probe(self):
        unit = self.build()
        return unit

    @property
    def ports(self):
        return ports(self._probe)

    @property
    def inputs(self):
        return [p for p in self.ports if p.is_input]

    @property
    def outputs(self):
        return [p for p in self.ports if not p.is_input]

    @property
    def streams(self):
        return streams(self._probe)

    @property
    def latency(self):
        return self._probe.latency

    @property
    def clocked(self):
        return self.protocol == "stream" or self.latency > 0

    def check_beats(self, beats):
        """``beats`` with every input stream of a stream unit; returns ``{stream: beats}``."""
        ins = {st.name: st for st in self.streams if st.is_input}
        if not isinstance(beats, Mapping) or set(beats) != set(ins):
            got = sorted(beats) if isinstance(beats, Mapping) else type(beats).__name__
            raise UnitError(f"{self.name}: stimulus must give the input streams {sorted(ins)}, got {got}")
        return {k: ins[k].check(v, self.name) for k, v in beats.items()}

    def check_drive(self, drive):
        """``drive`` with every input port present, integer, one length; returns that length."""
        missing = [p.name for p in self.inputs if p.name not in drive]
        if missing:
            raise UnitError(f"{self.name}: stimulus lacks input port(s) {missing}")
        extra = sorted(set(drive) - {p.name for p in self.inputs})
        if extra:
            raise UnitError(f"{self.name}: stimulus has {extra}, which are not input ports "
                            f"({[p.name for p in self.inputs]})")
        lengths = set()
        for p in self.inputs:
            v = np.asarray(drive[p.name])
            if v.dtype.kind not in "iub":
                raise UnitError(f"{self.name}: stimulus for port {p.name} has dtype {v.dtype}, expected integers")
            if v.shape[1:] != p.shape:
                raise UnitError(f"{self.name}: stimulus for port {p.name} has shape {v.shape}, expected "
                                f"(cycles{', ' + str(p.count) if p.array else ''})")
            lengths.add(v.shape[0])
        if len(lengths) != 1:
            raise UnitError(f"{self.name}: input streams differ in length: {sorted(lengths)}")
        return lengths.pop()

    def expect(self, drive):
        """The golden model's outputs for one copy from reset: per cycle for a cycle unit; for a stream unit
        (``protocol="stream"``, ``drive`` = input beats) the beats of every output stream."""
        if self.protocol == "stream":
            self.check_beats(drive)
            out = self.golden({k: {f: np.asarray(v, np.int64) for f, v in b.items()} for k, b in drive.items()})
            outs = {st.name: st for st in self.streams if not st.is_input}
            if not isinstance(out, Mapping) or set(out) != set(outs):
                raise UnitError(f"{self.name}: golden function returned {sorted(out)}, expected the output "
                                f"streams {sorted(outs)}")
            for k, b in out.items():
                outs[k].check(b, self.name)
            return out
        n = self.check_drive(drive)
        out = self.golden({k: np.asarray(v, np.int64) for k, v in drive.items()})
        names = {p.name for p in self.outputs}
        if not out or set(out) - names:
            raise UnitError(f"{self.name}: golden function returned {sorted(out)}, expected output ports of "
                            f"{sorted(names)}")
        for k, v in out.items():
            if np.shape(v)[0] != n:
                raise UnitError(f"{self.name}: golden output {k} has {np.shape(v)[0]} cycles, inputs have {n}")
        return {k: np.asarray(v, np.int64) for k, v in out.items()}

    def vectors(self, cycles, seed):
        """Exhaustive and corner segments, then ``cycles`` of synthetic LLM-like data."""
        from golden.streams import SyntheticSource
        parts = [*self.segments(seed), self.stimulus(SyntheticSource(), cycles, seed)]
        if self.protocol == "stream":
            return {k: concat([p[k] for p in parts]) for k in parts[0]}
        return concat(parts[:-1] + self.control_segments(seed) + parts[-1:])

    def control_segments(self, seed, cycles=CONTROL_CYCLES):
        """Segments that drive every combination of the control inputs (``control_ports``: ``en``, ``load``,
        ``i_valid``), each at random, in each state ``control_coverage`` names: first on all-zero data from reset
        (the outputs stay zero), then on synthetic data (an accumulator holds a value that a wrong priority
        between ``en`` and ``load`` would clear or keep). The data streams alone never drive ``load`` with ``en``
        low, nor ``i_valid`` low. Empty for a unit without control inputs."""
        from golden.streams import SyntheticSource
        names = control_ports(self)
        if not names:
            return []
        rng = np.random.default_rng(seed + 7)
        zero = idle(self, cycles // 4)
        data = dict(self.stimulus(SyntheticSource(), cycles, seed + 7))
        for seg in (zero, data):
            for k in names:
                seg[k] = rng.integers(0, 2, len(seg[k])).astype(np.int64)
        return [zero, data]


_REGISTRY = {}


def register(unit, replace=False):
    """Add ``unit`` to the registry (checked: its component builds and its ports are consistent)."""
    if not isinstance(unit, Unit):
        raise UnitError(f"register takes a Unit descriptor, not {type(unit).__name__}")
    if not unit.name.isidentifier():
        raise UnitError(f"unit name {unit.name!r} is not a valid Verilog/Python identifier")
    if unit.name in _REGISTRY and not replace:
        raise UnitError(f"unit {unit.name!r} is already registered")
    operator.index(unit.per)
    if unit.protocol not in ("cycle", "stream"):
        raise UnitError(f"unit {unit.name!r}: protocol must be 'cycle' or 'stream', not {unit.protocol!r}")
    if unit.protocol == "stream" and not unit.streams:
        raise UnitError(f"unit {unit.name!r} is a stream unit without amaranth.lib.stream members")
    if not unit.outputs:                                  # builds the component: bad parameters fail here
        raise UnitError(f"unit {unit.name!r} has no output ports to check")
    _REGISTRY[unit.name] = unit
    return unit


def unregister(name):
    _REGISTRY.pop(name, None)


def get(name):
    """The registered unit ``name``. The project's units are registered by importing ``hdl.catalog`` (which
    re-exports this function; use it from there)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none (import hdl.catalog to register the project's units)"
        raise UnitError(f"unknown unit {name!r}; known units: {known}") from None


def units(names=None, table=None, protocol=None):
    """Registered units (all, or ``names`` in order, every name checked before any is returned); ``table``,
    ``protocol`` (``"cycle"`` or ``"stream"``) filter the registry (filled by importing ``hdl.catalog``)."""
    if names:
        return [get(n) for n in names]
    return [u for u in _REGISTRY.values()
            if (table is None or u.table.key == table) and (protocol is None or u.protocol == protocol)]


# ---------------------------------------------------------------- port streams


def concat(drives):
    keys = drives[0].keys()
    for d in drives[1:]:
        if d.keys() != keys:
            raise UnitError(f"segments drive different ports: {sorted(keys)} vs {sorted(d.keys())}")
    return {k: np.concatenate([np.asarray(d[k], np.int64) for d in drives]) for k in keys}


def idle(unit, cycles):
    """All inputs 0 (``en``, ``load``, ``valid`` low) for ``cycles`` cycles."""
    return {p.name: np.zeros((cycles, *p.shape), np.int64) for p in unit.inputs}


def split_lanes(unit, drive, lanes):
    """(cycles, ...) -> (cycles / lanes, lanes, ...): lane ``i`` runs the ``i``-th contiguous chunk, the last
    padded with idle cycles. Each lane starts from reset, so the golden model is applied per lane."""
    n = unit.check_drive(drive)
    per = -(-n // lanes)
    pad = idle(unit, per * lanes - n)
    full = concat([drive, pad]) if per * lanes > n else drive
    return {k: v.reshape(lanes, per, *v.shape[1:]).swapaxes(0, 1) for k, v in full.items()}


def expected_lanes(unit, lane_drive, rst=None):
    """Golden outputs per lane of ``split_lanes`` streams, with synchronous reset pulses ``rst`` (cycles,).

    A reset in cycle ``r`` clears every register: the inputs of cycles ``r + 1 - latency .. r`` (still in
    flight) are lost and the outputs from cycle ``r + 1 - latency`` on are those of a fresh unit. Modelled
    generically: the golden model restarts at that cycle with those inputs replaced by idle ones."""
    cycles = next(iter(lane_drive.values())).shape[0]
    lanes = next(iter(lane_drive.values())).shape[1]
    cuts = []
    if rst is not None and unit.clocked:
        for r in np.flatnonzero(np.asarray(rst)):
            cuts.append((max(0, int(r) + 1 - unit.latency), int(r) + 1))
    outs = []
    for i in range(lanes):
        lane = {k: np.array(v[:, i]) for k, v in lane_drive.items()}
        bounds = [0] + [c[0] for c in cuts] + [cycles]
        for lo, hi in cuts:
            for p in unit.inputs:
                lane[p.name][lo:hi] = 0
        pieces = [unit.expect({k: v[a:b] for k, v in lane.items()}) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        outs.append({k: np.concatenate([pc[k] for pc in pieces]) for k in pieces[0]})
    return {k: np.stack([o[k] for o in outs], axis=1) for k in outs[0]}


def words(values, elem_width):
    """Integers -> one Python int per leading index, the last axis packed element 0 in the LSBs
    (``elem_width`` bits each, two's complement modulo ``2**elem_width``)."""
    v = np.asarray(values, np.int64)
    if v.ndim == 1:
        v = v[:, None]
    u = (v & ((1 << elem_width) - 1)).astype(np.uint64)
    bits = ((u[..., None] >> np.arange(elem_width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    packed = np.packbits(bits.reshape(v.shape[0], -1), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack_word(word, elem_width, count):
    mask = (1 << elem_width) - 1
    return [(word >> (i * elem_width)) & mask for i in range(count)]


# ---------------------------------------------------------------- control coverage


def control_ports(unit):
    """The unit's one-bit control inputs (``en``, ``load``, ``i_valid``), in port order."""
    return [p.name for p in unit.inputs if p.width == 1 and not p.array]


def control_coverage(unit, drive, rst=None):
    """How often the stimulus ``drive`` (one copy from reset, as ``unit.expect`` takes it) reaches each
    combination of the unit's control inputs in each state that matters: ``{(values, state): cycles}``, with
    ``values`` a tuple of the control inputs (``control_ports`` order) and ``state`` ``"zero"`` or ``"held"``:
    whether the unit's outputs answering the previous cycle (the golden model's) were all zero or held a value
    (an accumulator that a control input could wrongly clear or keep). Every combination of every state is
    listed, reached or not (count 0), so a hole shows. Cycles with a reset pulse (``rst``) are not counted."""
    unit.check_drive(drive)
    exp = unit.expect(drive)
    return count_controls(unit, {k: np.asarray(v)[:, None] for k, v in drive.items()},
                          {k: np.asarray(v)[:, None] for k, v in exp.items()}, rst)


def count_controls(unit, lane_drive, lane_expect, rst=None):
    """``control_coverage`` of ``split_lanes`` streams and their ``expected_lanes`` outputs, over every lane."""
    names = control_ports(unit)
    cycles, lanes = next(iter(lane_drive.values())).shape[:2]
    held = np.zeros((cycles, lanes), bool)
    for v in lane_expect.values():
        nz = np.asarray(v).reshape(cycles, lanes, -1).any(axis=2)
        held[1:] |= nz[:-1]
    keys = np.zeros((cycles, lanes), np.int64)
    for i, k in enumerate(names):
        keys |= (np.asarray(lane_drive[k], np.int64) & 1) << i
    if rst is not None:
        keep = np.asarray(rst, np.int64) == 0
        keys, held = keys[keep], held[keep]
    out = {}
    for combo in itertools.product((0, 1), repeat=len(names)):
        key = sum(b << i for i, b in enumerate(combo))
        for state, mask in (("zero", ~held), ("held", held)):
            out[(combo, state)] = int(((keys == key) & mask).sum())
    return out


def coverage_text(unit, counts):
    """One line: ``en/load 00 zero 12, ...``; empty for a unit without control inputs."""
    names = control_ports(unit)
    if not names:
        return ""
    return f"{'/'.join(names)}: " + ", ".join(f"{''.join(map(str, c))} {s} {n}" for (c, s), n in counts.items())
