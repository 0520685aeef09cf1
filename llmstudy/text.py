"""Real English text available offline: Jane Austen's six novels, from Debian's ``r-cran-janeaustenr``.

There is no dataset hub on the machines this project targets, so the text comes from a Debian package
(public-domain Project Gutenberg texts, packaged for R by Julia Silge; Debian package ``r-cran-janeaustenr``
1.0.0). ``scripts/setup.sh`` unpacks it into ``.cache/janeaustenr`` with ``apt-get download`` + ``dpkg -x``
(no R needed); an installed copy under ``/usr/lib/R/site-library`` is used as well, and ``QR_TEXT_RDB`` names
any other ``Rdata.rdb``.

The novels are stored as an R lazy-load database: ``Rdata.rdx`` (gzip of an R-serialized index) and
``Rdata.rdb`` (one zlib-compressed R-serialized character vector per novel, one line of text per element).
The reader below understands exactly the few R serialization types these files use and rejects anything else.

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


class _RReader:
    """Minimal reader of R's XDR serialization (format 2 or 3) for lists, logical, integer and character vectors."""

    NIL, REF, SYM, LIST, CHAR, LGL, INT, STR, VEC = 254, 255, 1, 2, 9, 10, 13, 16, 19

    def __init__(self, data, what):
        self.d, self.i, self.what, self.refs = data, 0, what, []
        if data[:2] != b"X\n":
            raise CorpusError(f"{what}: not an R XDR serialization (starts with {data[:2]!r})")
        self.i = 2
        version = self.int()
        self.int()
        self.int()
        if version == 3:
            n = self.int()
            self.bytes(n)             # native encoding name
        elif version != 2:
            raise CorpusError(f"{what}: R serialization version {version}, expected 2 or 3")

    def int(self):
        if self.i + 4 > len(self.d):
            raise CorpusError(f"{self.what}: truncated at byte {self.i} of {len(self.d)}")
        (v,) = struct.unpack_from(">i", self.d, self.i)
        self.i += 4
        return v

    def bytes(self, n):
        if self.i + n > len(self.d):
            raise CorpusError(f"{self.what}: truncated at byte {self.i} of {len(self.d)}")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & 0x200, flags & 0x400
        if kind == self.NIL:
            return None
        if kind == self.CHAR:
            n = self.int()
            return None if n == -1 else self.bytes(n).decode("utf-8")
        if kind == self.SYM:
            self.refs.append(self.item())
            return self.refs[-1]
        if kind == self.REF:
            idx = (flags >> 8) or self.int()
            if not 1 <= idx <= len(self.refs):
                raise CorpusError(f"{self.what}: reference {idx} to an unknown symbol at byte {self.i}")
            return self.refs[idx - 1]
        if kind == self.LIST:
            attr = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            del attr
            return {tag: self.item(), **(self.item() or {})}
        if kind in (self.LGL, self.INT, self.STR, self.VEC):
            n = self.int()
            if kind in (self.LGL, self.INT):
                value = list(struct.unpack(f">{n}i", self.bytes(4 * n)))
            else:
                value = [self.item() for _ in range(n)]
            if has_attr:
                attrs = self.item()
                names = attrs.get("names") if isinstance(attrs, dict) else None
                if names is not None:
                    return dict(zip(names, value))
            return value
        raise CorpusError(f"{self.what}: unsupported R object type {kind} at byte {self.i - 4}")


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
    index = _RReader(index_raw, str(rdx)).item()
    if not isinstance(index, dict) or not isinstance(index.get("variables"), dict):
        raise CorpusError(f"{rdx}: no 'variables' table in the index")
    blob = rdb.read_bytes()
    out = {}
    for name, pos in index["variables"].items():
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
        lines = _RReader(raw, f"{rdb}:{name}").item()
        if not (isinstance(lines, list) and all(s is None or isinstance(s, str) for s in lines)):
            raise CorpusError(f"{rdb}: entry {name!r} is not a character vector")
        out[name] = "\n".join(s or "" for s in lines)
    missing = [n for n in NOVELS if n not in out]
    if missing:
        raise CorpusError(f"{rdb}: novels {missing} missing; found {sorted(out)}")
    return out


def novel_text(name, rdb=None):
    """The text of one novel (``name`` one of ``NOVELS``)."""
    if name not in NOVELS:
        raise ValueError(f"novel must be one of {NOVELS}, not {name!r}")
    return load_novels(rdb)[name]
