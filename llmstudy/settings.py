"""Where the study reads and writes, in one place: relative to the working directory (the repository root when
run through ``make``), overridable with ``QR_BUILD`` (outputs: traces, analysis, accuracy) and ``QR_CACHE``
(downloaded inputs: the text corpus)."""

import os
from pathlib import Path

__all__ = ["build_dir", "cache_dir", "default_trace", "full_trace"]


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
