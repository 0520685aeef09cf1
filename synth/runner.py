"""Resumable, cached, parallel runs of per-item jobs with a progress display that stays readable in a log.

``make synth``, ``make fpga``, ``make pnr`` and ``make formal`` each run one job per unit (or proof). This module
gives them the same three things:

* a result cache (``Cache``): one JSON file per item and key, where the key is a digest of everything the result
  depends on (the item's exported Verilog, the liberty file's bytes, the clock, the trace file's bytes, the tool
  versions, the flow's own source). A killed run, rerun, picks up where it stopped; a result made from anything
  else is never reused; an unreadable entry is named and recomputed;
* a scheduler (``run``) that keeps at most ``jobs`` items running (worker processes, or threads for jobs that
  only wait on tools), longest first by the last measured times, and stops at the first error after the items
  already running have finished (their results are cached);
* ``Progress``: one line per finished item (``[done/total] name: seconds, cached or not``) with what is
  running, the time so far and an estimate of what is left, plus a line every ``heartbeat`` seconds while
  nothing finishes. Plain lines, no carriage returns, so a CI log reads like a terminal.
"""

import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from llmstudy.settings import OutputError, writable_dir  # the one copy, shared with the LLM study

__all__ = ["digest", "file_digest", "source_digest", "tool_version", "Cache", "Progress", "run", "clock", "cached_call",
           "writable_dir", "OutputError", "SHARED", "share"]

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "synth" / "timings"        # per-flow item times measured here, committed (see Cache.timings)


def digest(*parts):
    """SHA-256 of ``parts`` as canonical JSON (dict keys sorted; anything else by ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_FILES = {}


def file_digest(path):
    """SHA-256 of a file's bytes (remembered per path, size and modification time within a process)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _FILES:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILES[key] = h.hexdigest()
    return _FILES[key]


def source_digest(*paths, suffixes=(".py", ".cpp", ".ys", ".tcl")):
    """SHA-256 over project source: each of ``paths`` (relative to the project root) is a folder (every source
    file under it) or one file. A flow names only what its results depend on, so that editing, say, the place
    and route driver does not invalidate synthesis results."""
    h = hashlib.sha256()
    for rel in paths:
        p = ROOT / rel
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in suffixes
                       and "__pycache__" not in f.parts) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


_TOOLS = {}


def tool_version(*cmd):
    """The first line a tool prints for its version command (``"missing"`` if it cannot run)."""
    if cmd not in _TOOLS:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            text = (r.stdout or r.stderr).strip()
            _TOOLS[cmd] = text.splitlines()[0] if text else f"exit {r.returncode}"
        except (OSError, subprocess.TimeoutExpired):
            _TOOLS[cmd] = "missing"
    return _TOOLS[cmd]


class Cache:
    """Results by item and key in ``folder``: ``<item>.<key[:16]>.json`` holding ``{"key", "item", "result"}``,
    written atomically. ``timings.json`` keeps each item's last measured seconds for the next run's estimate."""

    def __init__(self, folder, defaults=None):
        self.folder = Path(folder)
        self.defaults = Path(defaults) if defaults else None
        self._lock = threading.Lock()

    def _path(self, item, key):
        return self.folder / f"{item}.{key[:16]}.json"

    def get(self, item, key):
        """The stored result of ``item`` under ``key``, or None. A damaged entry is reported and removed."""
        path = self._path(item, key)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text())
            if not isinstance(entry, dict) or entry.get("key") != key or entry.get("item") != item:
                raise ValueError("its key or item does not match its name")
            return entry["result"]
        except (OSError, ValueError, KeyError) as e:
            print(f"cache: {path} is unreadable ({e}); computing {item} again", file=sys.stderr, flush=True)
            path.unlink(missing_ok=True)
            return None

    def put(self, item, key, result):
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(item, key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"key": key, "item": item, "result": result}, indent=1))
        tmp.replace(path)

    def timings(self):
        """``{item: seconds}``: this cache's measured times over ``defaults`` (a committed file of times
        measured on a reference machine, so that a fresh clone schedules the longest items first)."""
        out = {}
        for path in (self.defaults, self.folder / "timings.json"):
            try:
                data = json.loads(path.read_text()) if path else {}
                out.update({k: float(v) for k, v in data.items()} if isinstance(data, dict) else {})
            except (OSError, ValueError, TypeError, AttributeError):
                pass
        return out

    def record_timings(self, measured):
        """Merge ``{item: seconds}`` of items computed this run into ``timings.json``."""
        if not measured:
            return
        with self._lock:
            try:
                data = json.loads((self.folder / "timings.json").read_text())
                data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                data = {}
            data.update({k: round(v, 1) for k, v in measured.items()})
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"timings.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            tmp.replace(self.folder / "timings.json")


SHARED = {}                 # the run's settings in each worker process (set by ``share``, run's initializer)


def share(settings):
    """Make ``settings`` this process's ``SHARED`` (``run(..., initializer=share, initargs=(settings,))``)."""
    SHARED.clear()
    SHARED.update(settings)


def cached_call(cache, item, key, compute):
    """``(result, cached, seconds)``: ``item``'s result under ``key`` from ``cache``, else ``compute()`` stored
    there. For ``run``'s work functions."""
    t0 = time.perf_counter()
    hit = cache.get(item, key)
    if hit is not None:
        return hit, True, time.perf_counter() - t0
    result = compute()
    cache.put(item, key, result)
    return result, False, time.perf_counter() - t0


def clock(seconds):
    """``75`` -> ``"1m15s"``; ``3700`` -> ``"1h01m"``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Line-based progress of ``total`` items on ``jobs`` workers. ``estimates``: expected seconds per item (the
    last measured run); items without one are estimated by the mean of this run's computed items. ``record``:
    e.g. ``Cache.record_timings``, given each computed item's time as it finishes."""

    def __init__(self, what, names, jobs, estimates=None, stream=None, heartbeat=60.0, record=None):
        self.what, self.names, self.jobs = what, list(names), jobs
        self.record = record                # called with {name: seconds} as each computed item finishes
        self.estimates = dict(estimates or {})
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.running, self.done, self.measured = {}, [], {}
        self.cached = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = None
        if heartbeat:
            self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat,), daemon=True)
            self._beat.start()

    def _estimate(self, name):
        if name in self.estimates:
            return self.estimates[name]
        if self.measured:
            return sum(self.measured.values()) / len(self.measured)
        return None

    def left(self):
        """Estimated seconds until every item is done (None while nothing is known)."""
        now = time.monotonic()
        work = 0.0
        for name in self.names:
            if name in self.done:
                continue
            est = self._estimate(name)
            if est is None:
                return None
            if name in self.running:
                est = max(est - (now - self.running[name]), 0.0)
            work += est
        return work / max(1, min(self.jobs, len(self.names) - len(self.done)))

    def _status(self):
        now = time.monotonic()
        run = ", ".join(f"{n} {clock(now - t)}" for n, t in self.running.items()) or "-"
        left = self.left()
        tail = "" if left is None else f", about {clock(left)} left" if left >= 1 or not self.running else \
            ", past the estimate"
        return f"running: {run} | elapsed {clock(now - self.t0)}{tail}"

    def _print(self, text):
        print(f"{self.what} {text}", file=self.stream, flush=True)

    def started(self, name):
        with self._lock:
            self.running[name] = time.monotonic()

    def finished(self, name, seconds, cached=False):
        with self._lock:
            self.running.pop(name, None)
            self.done.append(name)
            if cached:
                self.cached += 1
            else:
                self.measured[name] = seconds
                if self.record:             # kept at once: a killed run's times still schedule the next one
                    self.record({name: seconds})
            width = len(str(len(self.names)))
            how = "cached" if cached else clock(seconds)
            self._print(f"[{len(self.done):{width}}/{len(self.names)}] {name}: {how} | {self._status()}")

    def failed(self, name, error):
        with self._lock:
            self.running.pop(name, None)
            self._print(f"{name} FAILED: {error}")

    def _heartbeat(self, every):
        while not self._stop.wait(every):
            with self._lock:
                if self.running:
                    width = len(str(len(self.names)))
                    self._print(f"[{len(self.done):{width}}/{len(self.names)}] {self._status()}")

    def close(self):
        self._stop.set()
        with self._lock:
            self._print(f"{len(self.done)}/{len(self.names)} done in {clock(time.monotonic() - self.t0)} "
                        f"({self.cached} from the cache)")


def run(names, work, jobs=1, progress=None, pool="process", initializer=None, initargs=()):
    """``work(name) -> (result, cached, seconds)`` for every name, at most ``jobs`` at a time; returns
    ``{name: result}``. Names are started longest first by ``progress.estimates`` (unknown ones first, in their
    order). ``pool``: ``"process"`` (worker processes, ``initializer(*initargs)`` in each), ``"thread"`` (for
    work that waits on external tools) or ``"inline"`` (one at a time in this thread). The first exception stops
    new starts; the running items finish (and are cached by ``work``), then it is raised."""
    if pool not in ("process", "thread", "inline"):
        raise ValueError(f"pool must be 'process', 'thread' or 'inline', not {pool!r}")
    est = progress.estimates if progress else {}
    order = sorted(names, key=lambda n: (n in est, -est.get(n, 0.0)))
    results = {}

    def finish(name, value):
        result, cached, seconds = value
        results[name] = result
        if progress:
            progress.finished(name, seconds, cached)

    if pool == "inline":
        for name in order:
            if progress:
                progress.started(name)
            try:
                finish(name, work(name))
            except BaseException as e:
                if progress:
                    progress.failed(name, e)
                raise
        return results
    executor = (concurrent.futures.ProcessPoolExecutor(jobs, initializer=initializer, initargs=initargs)
                if pool == "process" else concurrent.futures.ThreadPoolExecutor(jobs))
    pending, running, error = list(order), {}, None
    with executor as ex:
        while pending or running:
            while pending and len(running) < jobs and error is None:
                name = pending.pop(0)
                if progress:
                    progress.started(name)
                running[ex.submit(work, name)] = name
            if not running:
                break
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for f in done:
                name = running.pop(f)
                try:
                    finish(name, f.result())
                except BaseException as e:
                    if progress:
                        progress.failed(name, e)
                    error = error or e
    if error is not None:
        raise error
    return results


