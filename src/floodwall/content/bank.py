"""Hash banks (known-bad "block" lists and "allow" lists) in ThreatExchange's PDQ hex format.

A bank is append-only storage with stable entry ids (the row an entry was added at);
``remove`` tombstones. ``BankSet`` keeps one ``HashIndex`` per bank and brings it up
to date lazily before each match, so bank edits take effect on the next ``match``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from floodwall.content.index import HashIndex
from floodwall.content.pdq import from_hex_many, to_hex_many

__all__ = ["BankMatches", "BankSet", "HashBank", "parse_hash_lines"]

_FIELD_END = re.compile(r"[\s,]")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_hash_lines(text: str) -> list[str]:
    """Lowercase hex hashes from a one-per-line export; ValueError names the first bad line."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        # ThreatExchange exports sometimes carry extra columns after the hash.
        token = _FIELD_END.split(s, maxsplit=1)[0]
        if not token:
            raise ValueError(f"line {lineno}: empty hash field before a comma: {line!r}")
        if len(token) != 64:
            raise ValueError(f"line {lineno}: PDQ hash must be 64 hex digits, got {len(token)}: {token[:80]!r}")
        if not _HEX64.fullmatch(token):
            bad = next(ch for ch in token if ch not in "0123456789abcdefABCDEF")
            raise ValueError(f"line {lineno}: PDQ hash has a non-hex character {bad!r}: {token!r}")
        out.append(token.lower())
    return out


class HashBank:
    """Named list of PDQ hashes with per-entry metadata; ``kind`` is "block" or "allow"."""

    def __init__(
        self, name: str, kind: Literal["block", "allow"] = "block", *, threshold: int | None = None
    ) -> None:
        """Empty bank; ``threshold`` overrides the BankSet's threshold for this bank."""
        if kind not in ("block", "allow"):
            raise ValueError(f"bank kind must be 'block' or 'allow', got {kind!r}")
        self.name = name
        self.kind = kind
        self.threshold = threshold
        self._hashes = np.zeros((0, 4), dtype=np.uint64)
        self._pending: list[np.ndarray] = []
        self._hex: list[str] = []
        self._alive: list[bool] = []
        self.added_at: list[float] = []
        self.source: list[str] = []
        self.note: list[str] = []
        self._row_of: dict[str, int] = {}
        # Rows removed, in order; BankSet replays the tail it has not seen yet.
        self._removed_log: list[int] = []

    def __len__(self) -> int:
        """Number of live entries."""
        return len(self._row_of)

    def __repr__(self) -> str:
        return f"HashBank({self.name!r}, kind={self.kind!r}, entries={len(self)})"

    @property
    def n_rows(self) -> int:
        """Rows ever added (live and removed); entry ids are 0 .. n_rows - 1."""
        return len(self._hex)

    def add(
        self,
        hashes: np.ndarray | str | Iterable[str],
        *,
        source: str = "",
        added_at: float | None = None,
        note: str | Sequence[str] = "",
    ) -> int:
        """Add hashes ((n, 4) uint64, or hex strings), ``note`` one for all or one each; returns how many were new.

        Exact duplicates of a live entry are skipped and keep their first source and note.
        """
        if isinstance(hashes, str):
            hexes = [hashes]
            from_hex_many(hexes)  # validates
        elif isinstance(hashes, np.ndarray):
            arr = hashes.reshape(1, 4) if hashes.shape == (4,) else hashes
            hexes = to_hex_many(np.asarray(arr, dtype=np.uint64))
        else:
            hexes = list(hashes)
            from_hex_many(hexes)
        when = time.time() if added_at is None else float(added_at)
        notes = [note] * len(hexes) if isinstance(note, str) else list(note)
        if len(notes) != len(hexes):
            raise ValueError(f"{len(hexes)} hashes but {len(notes)} notes")
        new = []
        for h, nt in zip((x.lower() for x in hexes), notes):
            if h in self._row_of:
                continue
            self._row_of[h] = len(self._hex)
            self._hex.append(h)
            self._alive.append(True)
            self.added_at.append(when)
            self.source.append(source)
            self.note.append(nt)
            new.append(h)
        if new:
            self._pending.append(from_hex_many(new))
        return len(new)

    def remove(self, hex_hash: str) -> bool:
        """Remove the entry with this hex hash; False if the bank does not hold it."""
        row = self._row_of.pop(hex_hash.lower(), None)
        if row is None:
            return False
        self._alive[row] = False
        self._removed_log.append(row)
        return True

    def remove_source(self, source: str) -> int:
        """Remove every live entry added with this source (an undone decision); returns how many."""
        gone = [h for h, row in self._row_of.items() if self.source[row] == source]
        for h in gone:
            self.remove(h)
        return len(gone)

    def __contains__(self, hex_hash: object) -> bool:
        return isinstance(hex_hash, str) and hex_hash.lower() in self._row_of

    def hexes(self) -> list[str]:
        """Live hashes as hex, in insertion order."""
        return [h for h, alive in zip(self._hex, self._alive) if alive]

    def hex_at(self, entry: int) -> str:
        """Hex of entry id ``entry`` (live or removed)."""
        return self._hex[entry]

    def hashes(self) -> np.ndarray:
        """All rows ever added as (n_rows, 4) uint64, indexed by entry id (removed rows included)."""
        if self._pending:
            self._hashes = np.concatenate([self._hashes, *self._pending])
            self._pending.clear()
        return self._hashes

    def import_text(self, text: str, *, source: str = "", added_at: float | None = None) -> int:
        """Add hashes from one-per-line text (``#`` comments, blanks, extra columns ignored); returns count new."""
        return self.add(parse_hash_lines(text), source=source, added_at=added_at)

    def import_file(self, path: str | Path, *, source: str | None = None, added_at: float | None = None) -> int:
        """``import_text`` of a file; ``source`` defaults to the file name."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        return self.import_text(text, source=p.name if source is None else source, added_at=added_at)

    def export_text(self) -> str:
        """Live hashes, one lowercase hex per line."""
        return "".join(h + "\n" for h in self.hexes())

    def export_file(self, path: str | Path) -> None:
        """Write ``export_text()`` to a file."""
        Path(path).write_text(self.export_text(), encoding="utf-8")


@dataclass(frozen=True)
class BankMatches:
    """Per-query match results of ``BankSet.match``; all arrays have one row per query.

    ``distance``/``bank``/``entry`` describe the best block-bank hit within threshold
    (-1 where none) and are kept even when an allow bank suppressed it, so the
    suppression can be audited; ``matched`` is that hit minus the allowed ones.
    """

    matched: np.ndarray  # bool
    distance: np.ndarray  # int32, -1 if no block hit
    bank: np.ndarray  # int32 index into bank_names, -1 if none
    entry: np.ndarray  # int64 entry id within that bank, -1 if none
    allowed: np.ndarray  # bool: an allow bank holds a hash within its threshold
    allow_bank: np.ndarray  # int32, -1 if not allowed
    allow_entry: np.ndarray  # int64, -1 if not allowed
    allow_distance: np.ndarray  # int32, -1 if not allowed
    bank_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.matched)

    def bank_name(self, i: int) -> str | None:
        """Name of the block bank that matched query ``i`` (None if it did not match)."""
        return self.bank_names[self.bank[i]] if self.matched[i] else None

    def allow_bank_name(self, i: int) -> str | None:
        """Name of the allow bank that suppressed query ``i`` (None if not allowed)."""
        return self.bank_names[self.allow_bank[i]] if self.allowed[i] else None


class _Synced:
    __slots__ = ("bank", "index", "removed", "rows")

    def __init__(self, bank: HashBank) -> None:
        self.bank = bank
        self.index = HashIndex(delta_limit=256)  # banks grow in small adds; keep the scanned part small
        self.rows = 0
        self.removed = 0

    def refresh(self) -> HashIndex:
        b = self.bank
        if b.n_rows > self.rows:
            hashes = b.hashes()
            ids = np.arange(self.rows, b.n_rows, dtype=np.int64)
            alive = np.array(b._alive[self.rows :], dtype=bool)
            self.index.add(hashes[self.rows :][alive], ids[alive])
            self.rows = b.n_rows
        if len(b._removed_log) > self.removed:
            self.index.remove(np.array(b._removed_log[self.removed :], dtype=np.int64))
            self.removed = len(b._removed_log)
        return self.index


class BankSet:
    """Several block/allow banks matched together, one HashIndex per bank."""

    def __init__(
        self, banks: Iterable[HashBank] = (), *, threshold: int = 31, allow_threshold: int | None = None
    ) -> None:
        """Banks matched at ``threshold`` bits (allow banks at ``allow_threshold``, default the same)."""
        self.threshold = int(threshold)
        self.allow_threshold = self.threshold if allow_threshold is None else int(allow_threshold)
        self._banks: list[_Synced] = []
        for b in banks:
            self.add_bank(b)

    def add_bank(self, bank: HashBank) -> None:
        """Add a bank; its later edits are picked up automatically."""
        if any(s.bank.name == bank.name for s in self._banks):
            raise ValueError(f"a bank named {bank.name!r} is already in this set")
        self._banks.append(_Synced(bank))

    def remove_bank(self, name: str) -> None:
        """Drop the bank with this name (KeyError if absent)."""
        for i, s in enumerate(self._banks):
            if s.bank.name == name:
                del self._banks[i]
                return
        raise KeyError(name)

    @property
    def banks(self) -> list[HashBank]:
        """Banks in match order (ties go to the earlier bank)."""
        return [s.bank for s in self._banks]

    def __getitem__(self, name: str) -> HashBank:
        for s in self._banks:
            if s.bank.name == name:
                return s.bank
        raise KeyError(name)

    def threshold_for(self, bank: HashBank) -> int:
        """Effective match radius of a bank."""
        if bank.threshold is not None:
            return int(bank.threshold)
        return self.threshold if bank.kind == "block" else self.allow_threshold

    def match(self, hashes: np.ndarray, *, radius: int | None = None) -> BankMatches:
        """Best block-bank hit per query unless an allow bank holds a near copy; ``radius`` overrides every bank's."""
        q = np.asarray(hashes, dtype=np.uint64)
        if q.shape == (4,):
            q = q[None]
        if q.ndim != 2 or q.shape[1] != 4:
            raise ValueError(f"expected hashes of shape (n, 4), got {q.shape}")
        n = len(q)
        # (distance, bank, entry) per kind, -1 where none: rows of two arrays (this runs for every batch).
        i32, i64 = np.full((4, n), -1, np.int32), np.full((2, n), -1, np.int64)
        best = {"block": (i32[0], i32[1], i64[0]), "allow": (i32[2], i32[3], i64[1])}
        for bi, s in enumerate(self._banks):
            index = s.refresh()
            if not len(index):
                continue
            # The robust matcher's query views are calibrated at their own radius (content/robust.py).
            r = self.threshold_for(s.bank) if radius is None else int(radius)
            ids, dist = index.nearest(q, r)
            b_dist, b_bank, b_entry = best[s.bank.kind]
            # Strictly closer wins; ties keep the earlier bank.
            better = (ids >= 0) & ((b_dist < 0) | (dist < b_dist))
            b_dist[better] = dist[better]
            b_bank[better] = bi
            b_entry[better] = ids[better]
        blk_dist, blk_bank, blk_entry = best["block"]
        al_dist, al_bank, al_entry = best["allow"]
        allowed = al_bank >= 0
        return BankMatches(
            matched=(blk_bank >= 0) & ~allowed,
            distance=blk_dist,
            bank=blk_bank,
            entry=blk_entry,
            allowed=allowed,
            allow_bank=al_bank,
            allow_entry=al_entry,
            allow_distance=al_dist,
            bank_names=tuple(s.bank.name for s in self._banks),
        )
