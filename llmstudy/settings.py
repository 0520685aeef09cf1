"""Where the study reads and writes, in one place: relative to the working directory (the repository root when
run through ``make``), overridable with ``QR_BUILD`` (outputs: traces, analysis, accuracy) and ``QR_CACHE``
(downloaded inputs: the text corpus)."""

import os
from pathlib import Path

__all__ = ["build_dir", "cache_dir", "default_trace", "full_trace", "write_atomic"]


def build_dir(*parts):
    return Path(os.environ.get("QR_BUILD", "build")).joinpath(*parts)


def cache_dir(*parts):
    return Path(os.environ.get("QR_CACHE", ".cache")).joinpath(*parts)


def default_trace():
    """The small trace set ``make traces`` writes (3 layers, 256 tokens)."""
    return build_dir("traces", "default.npz")


def full_trace():
    """Every layer, 1024 tokens (``make traces-full``)."""
    return build_dir("traces", "full.npz")


def write_atomic(path, data):
    """Write ``data`` (text, bytes, or a callable that writes a given path) to ``path`` through a temporary file
    in the same folder and a rename, so an interrupted run never leaves a partial output a rerun could trust."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        if callable(data):
            data(tmp)
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
        tmp.replace(path)
    finally:
        try:                                        # a failed cleanup must not hide the error that caused it
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


class OutputError(ValueError):
    """An output folder that cannot be written (named in the message)."""


def writable_dir(path):
    """``path`` as a folder this process can write (created if missing), checked before any work starts."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {p} is a file; give a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise OutputError(f"cannot write to output folder {p}: {e.strerror or e}") from None
    return p
