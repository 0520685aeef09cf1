"""Real English text available offline: Jane Austen's six novels, from Debian's ``r-cran-janeaustenr``.

There is no dataset hub on the machines this project targets, so the text comes from a Debian package
(public-domain Project Gutenberg texts, packaged for R by Julia Silge; Debian package ``r-cran-janeaustenr``
1.0.0). ``scripts/setup.sh`` unpacks it into ``.cache/janeaustenr`` with ``apt-get download`` + ``dpkg -x``
(no R needed); an installed copy under ``/usr/lib/R/site-library`` is used as well, and ``QR_TEXT_RDB`` names
any other ``Rdata.rdb``.

The novels are stored as an R lazy-load database: ``Rdata.rdx`` (gzip of an R-serialized index) and
``Rdata.rdb`` (one zlib-compressed R-serialized character vector per novel, one line of text per element).
The PyPI package ``rdata`` reads the R-serialized objects; this module only unpacks their container.

Calibration and evaluation texts are disjoint novels: calibration on *Emma*, evaluation on *Pride and
Prejudice* (see ``CALIBRATION`` / ``EVALUATION``).
"""

import gzip
import os
import struct
import zlib
from pathlib import Path

from . import settings

__all__ = ["SOURCE", "CALIBRATION", "EVALUATION", "NOVELS", "find_rdb", "load_novels", "novel_text"]

SOURCE = "Jane Austen novels (Project Gutenberg) from Debian package r-cran-janeaustenr 1.0.0"
NOVELS = ("emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice", "sensesensibility")
CALIBRATION = "emma"
EVALUATION = "prideprejudice"

_REL = Path("janeaustenr") / "data" / "Rdata.rdb"


def _candidates():
    return (settings.cache_dir("janeaustenr", "usr", "lib", "R", "site-library") / _REL,
            Path("/usr/lib/R/site-library") / _REL)


class CorpusError(ValueError):
    """The text database is missing, truncated or not in the expected format."""


def find_rdb():
    """Path of ``Rdata.rdb``: ``$QR_TEXT_RDB``, the project's ``.cache``, or the R site library."""
    env = os.environ.get("QR_TEXT_RDB")
    if env:
        p = Path(env)
        if not p.is_file():
            raise CorpusError(f"QR_TEXT_RDB={env!r} is not a file; expected the path of janeaustenr's Rdata.rdb")
        return p
    for p in _candidates():
        if p.is_file():
            return p
    raise CorpusError(
        "Jane Austen text not found (looked in " + ", ".join(str(p) for p in _candidates()) +
        "); run scripts/setup.sh, which unpacks Debian's r-cran-janeaustenr into .cache/, or set QR_TEXT_RDB")


def _r_object(data, what):
    """One R-serialized object, read by the PyPI package ``rdata`` (R's lazy-load container around it, an
    index plus zlib chunks with a length header, is not something rdata reads, so that part stays here)."""
    import warnings

    import rdata
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)     # "Unknown file type: assumed RDS": it is one
            return rdata.conversion.convert(rdata.parser.parse_data(data))
    except Exception as e:                                    # rdata raises several of its own types
        raise CorpusError(f"{what}: not a readable R serialization ({type(e).__name__}: {e})") from None


def load_novels(rdb=None):
    """``{name: text}`` for the six novels (lines joined with newlines)."""
    rdb = Path(rdb) if rdb is not None else find_rdb()
    rdx = rdb.with_suffix(".rdx")
    try:
        index_raw = gzip.decompress(rdx.read_bytes())
    except FileNotFoundError:
        raise CorpusError(f"{rdx} is missing; it belongs beside {rdb}") from None
    except (OSError, EOFError, zlib.error) as e:
        raise CorpusError(f"{rdx}: not a readable gzip file ({e})") from None
    index = _r_object(index_raw, str(rdx))
    if not isinstance(index, dict) or not isinstance(index.get("variables"), dict):
        raise CorpusError(f"{rdx}: no 'variables' table in the index")
    variables = {str(k): [int(x) for x in v] if hasattr(v, "__len__") else v for k, v in index["variables"].items()}
    blob = rdb.read_bytes()
    out = {}
    for name, pos in variables.items():
        if not (isinstance(pos, list) and len(pos) == 2):
            raise CorpusError(f"{rdx}: entry {name!r} is {pos!r}, expected [offset, length]")
        off, length = pos
        if off < 0 or length < 4 or off + length > len(blob):
            raise CorpusError(f"{rdb}: entry {name!r} at [{off}, {off + length}) lies outside the "
                              f"{len(blob)}-byte file (truncated?)")
        chunk = blob[off:off + length]
        (size,) = struct.unpack_from(">I", chunk)
        try:
            raw = zlib.decompress(chunk[4:])
        except zlib.error as e:
            raise CorpusError(f"{rdb}: entry {name!r} does not decompress ({e})") from None
        if len(raw) != size:
            raise CorpusError(f"{rdb}: entry {name!r} is {len(raw)} bytes, its header says {size}")
        lines = _r_object(raw, f"{rdb}:{name}")
        if getattr(lines, "dtype", None) is None or lines.dtype.kind not in "UO" or lines.ndim != 1:
            raise CorpusError(f"{rdb}: entry {name!r} is not a character vector")
        out[name] = "\n".join(str(s) if isinstance(s, str) else "" for s in lines.tolist())
    missing = [n for n in NOVELS if n not in out]
    if missing:
        raise CorpusError(f"{rdb}: novels {missing} missing; found {sorted(out)}")
    return out


def novel_text(name, rdb=None):
    """The text of one novel (``name`` one of ``NOVELS``)."""
    if name not in NOVELS:
        raise ValueError(f"novel must be one of {NOVELS}, not {name!r}")
    return load_novels(rdb)[name]
