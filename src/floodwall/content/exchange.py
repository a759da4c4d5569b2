"""Hash-list exchange in python-threatexchange's formats, and fetchers that feed a bank from a source.

Formats:

* ``pdq``: one PDQ hex a line (``#`` comments and blank lines skipped; extra columns after the
  hash ignored), what ThreatExchange's PDQ exports and ``HashBank.export_text`` write.
* ``te-csv``: python-threatexchange's typed rows ``signal_type,signal`` (``pdq,<hex>``; an
  optional ``signal_type,signal`` header). Rows of other signal types (``video_md5``, ...) are
  counted and skipped: Floodwall matches PDQ only, and a partner's mixed list must still load.

``ExchangeFetcher`` is the interface a source implements (``fetch(checkpoint)`` returns the
whole current list and a checkpoint); ``LocalFileFetcher`` reads a file on disk, so nothing
touches the network at run time. ``sync_bank`` makes a bank's entries from that source equal the
list: new hashes are added, hashes the source dropped are removed, entries from elsewhere stay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from floodwall.content.bank import HashBank, parse_hash_lines
from floodwall.content.pdq import from_hex

__all__ = [
    "FORMATS",
    "ExchangeFetcher",
    "FetchResult",
    "HashList",
    "LocalFileFetcher",
    "SyncResult",
    "dump",
    "parse",
    "sync_bank",
]

Format = Literal["auto", "pdq", "te-csv"]
FORMATS = ("auto", "pdq", "te-csv")


@dataclass(frozen=True)
class HashList:
    """PDQ hashes read from a list (lowercase hex, first occurrence order) and what was skipped."""

    hashes: list[str]
    skipped: dict[str, int] = field(default_factory=dict)  # signal type -> rows not loaded


def _looks_typed(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            head = s.split(",", 1)[0].strip()
            return "," in s and not (len(head) == 64 and all(c in "0123456789abcdefABCDEF" for c in head))
    return False


def parse(text: str, fmt: Format = "auto") -> HashList:
    """Hashes of an exported list; ValueError names the first bad line."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "auto":
        fmt = "te-csv" if _looks_typed(text) else "pdq"
    if fmt == "pdq":
        return HashList(list(dict.fromkeys(parse_hash_lines(text))))
    hashes: dict[str, None] = {}
    skipped: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = [p.strip() for p in s.split(",")]
        if len(parts) < 2 or not parts[0]:
            raise ValueError(f"line {lineno}: expected 'signal_type,signal', got {line[:80]!r}")
        st, sig = parts[0].lower(), parts[1]
        if lineno == 1 and st == "signal_type":
            continue  # header row
        if st != "pdq":
            skipped[st] = skipped.get(st, 0) + 1
            continue
        try:
            from_hex(sig)
        except ValueError as exc:
            raise ValueError(f"line {lineno}: bad pdq signal {sig[:80]!r}: {exc}") from None
        hashes[sig.lower()] = None
    return HashList(list(hashes), skipped)


def dump(hashes: list[str], fmt: Literal["pdq", "te-csv"] = "pdq") -> str:
    """A list in ``pdq`` (hex a line) or ``te-csv`` (``pdq,<hex>`` rows) form."""
    if fmt == "pdq":
        return "".join(h + "\n" for h in hashes)
    if fmt == "te-csv":
        return "".join(f"pdq,{h}\n" for h in hashes)
    raise ValueError(f"export format must be pdq or te-csv, not {fmt!r}")


@dataclass(frozen=True)
class FetchResult:
    """What a source holds now; ``changed`` False means the checkpoint says nothing moved."""

    hashes: HashList
    checkpoint: str
    changed: bool = True


class ExchangeFetcher(Protocol):
    """A hash-list source: a partner's exchange, a file a sync job drops, ..."""

    name: str

    def fetch(self, checkpoint: str | None) -> FetchResult:
        """The whole current list (or changed=False if it is the one at ``checkpoint``)."""
        ...


class LocalFileFetcher:
    """A list in a local file (no network): the checkpoint is the file's SHA-256."""

    def __init__(self, path: str | Path, *, name: str | None = None, fmt: Format = "auto") -> None:
        """Read ``path`` in ``fmt`` on each fetch; ``name`` (default the file name) tags the bank entries."""
        self.path = Path(path)
        self.name = name or self.path.name
        self.fmt = fmt

    def fetch(self, checkpoint: str | None) -> FetchResult:
        """The file's hashes; FileNotFoundError names the path if it is gone."""
        if not self.path.is_file():
            raise FileNotFoundError(f"exchange file {self.path} does not exist")
        data = self.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest == checkpoint:
            return FetchResult(HashList([]), digest, changed=False)
        return FetchResult(parse(data.decode("utf-8", "replace"), self.fmt), digest)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did to the bank."""

    added: int
    removed: int
    checkpoint: str
    skipped: dict[str, int]


def sync_bank(bank: HashBank, fetcher: ExchangeFetcher, checkpoint: str | None = None) -> SyncResult:
    """Make the bank's entries from this source equal the source's list (source tag ``exchange:<name>``)."""
    got = fetcher.fetch(checkpoint)
    if not got.changed:
        return SyncResult(0, 0, got.checkpoint, {})
    source = f"exchange:{fetcher.name}"
    want = set(got.hashes.hashes)
    # Entries this source added before and no longer lists: withdrawn by the partner.
    mine = [h for h in bank.hexes() if bank.source[bank._row_of[h]] == source]
    gone = [h for h in mine if h not in want]
    for h in gone:
        bank.remove(h)
    added = bank.add(got.hashes.hashes, source=source) if got.hashes.hashes else 0
    return SyncResult(added, len(gone), got.checkpoint, got.hashes.skipped)
