"""A sliding time window of PDQ hashes: a ring of per-slice HashIndex tables, and a flat copy for small windows."""

from __future__ import annotations

import math
import threading

import numpy as np

from floodwall.content.index import (
    HashIndex,
    _as_exclude,
    _as_hashes,
    _best_per_query,
    _empty_result,
    _flat_scan,
    _sorted_result,
)

__all__ = ["WindowIndex"]

# A query of at most this many query x entry pairs scans the window's flat copy in one pass instead of
# probing its slices' tables. A window's slices cost more than one index's probes (one probe pass per
# slice, and bringing their tables up), so a small window (up to _SMALL_WINDOW entries) scans up to
# more pairs. Replay at scale 0.01 (windows of 8,000 to 16,000): 2^18 pairs took 36.8 s, 2^19 32.4 s,
# 2^20 30.4 s, 2^22 31.6 s (same figures); at 0.1, whose windows are about ten times larger, 2^20 for
# every window gave no gain (812 s against 770 s, one run each).
_WINDOW_FLAT_BUDGET = 1 << 18
_SMALL_WINDOW_FLAT_BUDGET = 1 << 20
_SMALL_WINDOW = 1 << 15


class WindowIndex:
    """Sliding time window of hashes: a ring of per-slice HashIndex objects.

    ``expire(now)`` drops every slice whose whole time span is older than
    ``now - window_s``, so an entry stays queryable for at least ``window_s`` and less
    than ``window_s + slice_s`` after its time.
    """

    def __init__(self, window_s: float, slice_s: float | None = None, *, delta_limit: int = 4096) -> None:
        """Window of ``window_s`` seconds cut into slices of ``slice_s`` (default window/8)."""
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = float(window_s)
        self.slice_s = float(slice_s) if slice_s is not None else self.window_s / 8
        if self.slice_s <= 0:
            raise ValueError("slice_s must be positive")
        self._delta_limit = delta_limit
        self._slices: dict[int, HashIndex] = {}
        # Every entry also in one flat buffer, words as rows ((4, n): the xor runs along n),
        # with its slice key and a live flag: small windows are scanned here in one pass.
        self._fh = np.zeros((4, 64), dtype=np.uint64)
        self._fid = np.zeros(64, dtype=np.int64)
        self._fkey = np.zeros(64, dtype=np.int64)
        self._falive = np.zeros(64, dtype=bool)
        self._fn = 0
        # Adds not yet in their slice's tables: a slice is brought up only for a large query.
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._flush_lock = threading.Lock()

    def __len__(self) -> int:
        """Number of live entries across all slices."""
        return int(self._falive[: self._fn].sum())

    @property
    def slice_keys(self) -> list[int]:
        """Keys (floor(t / slice_s)) of the slices currently held, oldest first."""
        return sorted(self._slices)

    def add(self, hashes: np.ndarray, ids: np.ndarray, t: float | np.ndarray) -> None:
        """Add hashes seen at time ``t`` (a scalar, or one time per hash)."""
        h = _as_hashes(hashes)
        i = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(i) != len(h):
            raise ValueError(f"{len(h)} hashes but {len(i)} ids")
        ts = np.asarray(t, dtype=np.float64)
        if ts.ndim == 0:
            key = self._key(float(ts))
            self._slice(key)
            self._pending.setdefault(key, []).append((h, i))
            self._flat_add(h, i, np.full(len(i), key, dtype=np.int64))
            return
        if ts.shape != (len(h),):
            raise ValueError(f"t must be a scalar or have shape ({len(h)},), got {ts.shape}")
        keys = np.floor(ts / self.slice_s).astype(np.int64)
        for k in np.unique(keys):
            sel = keys == k
            self._slice(int(k))
            self._pending.setdefault(int(k), []).append((h[sel], i[sel]))
        self._flat_add(h, i, keys)

    def _flat_add(self, h: np.ndarray, ids: np.ndarray, keys: np.ndarray) -> None:
        n, m = self._fn, len(ids)
        if n + m > len(self._fid):
            cap = max(2 * len(self._fid), n + m)
            fh = np.zeros((4, cap), dtype=np.uint64)
            fh[:, :n] = self._fh[:, :n]
            self._fh = fh
            self._fid, self._fkey, self._falive = (np.resize(a, cap) for a in (self._fid, self._fkey, self._falive))
        self._fh[:, n : n + m] = h.T
        self._fid[n : n + m] = ids
        self._fkey[n : n + m] = keys
        self._falive[n : n + m] = True
        self._fn = n + m

    def remove(self, ids: np.ndarray) -> None:
        """Tombstone entries with these ids in every slice."""
        self._flush()
        for ix in self._slices.values():
            ix.remove(ids)
        n = self._fn
        self._falive[:n] &= ~np.isin(self._fid[:n], np.asarray(ids, dtype=np.int64).reshape(-1))

    def expire(self, now: float) -> int:
        """Drop slices entirely older than ``now - window_s``; returns how many were dropped."""
        cutoff = now - self.window_s
        # Slice k spans [k * slice_s, (k + 1) * slice_s).
        old = [k for k in self._slices if (k + 1) * self.slice_s <= cutoff]
        for k in old:
            del self._slices[k]
            self._pending.pop(k, None)
        if old:
            n = self._fn
            keep = np.flatnonzero(~np.isin(self._fkey[:n], old))
            m = len(keep)
            self._fh[:, :m] = self._fh[:, keep]
            self._fid[:m], self._fkey[:m], self._falive[:m] = self._fid[keep], self._fkey[keep], self._falive[keep]
            self._fn = m
        return len(old)

    def query(
        self, queries: np.ndarray, max_distance: int = 31, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All entries within ``max_distance`` in live slices: (query index, id, distance); ``exclude``: one id
        per query whose entries it does not want (HashIndex.query)."""
        q = _as_hashes(queries)
        exclude = _as_exclude(exclude, len(q))
        pairs = len(q) * self._fn
        if pairs <= _WINDOW_FLAT_BUDGET or (self._fn <= _SMALL_WINDOW and pairs <= _SMALL_WINDOW_FLAT_BUDGET):
            return self._flat_query(q, int(max_distance), exclude)
        self._flush()
        parts = [ix.query(q, max_distance, exclude) for ix in self._slices.values()]
        if not parts:
            return _empty_result()
        return _sorted_result(*(np.concatenate([p[j] for p in parts]) for j in range(3)))

    def _flat_query(self, q: np.ndarray, r: int, exclude: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same answer as the slices give, by one scan of the flat buffer."""
        return _flat_scan(q, self._fh[:, : self._fn], self._fid[: self._fn], self._falive[: self._fn], r, exclude)

    def nearest(self, queries: np.ndarray, max_distance: int = 31) -> tuple[np.ndarray, np.ndarray]:
        """Closest entry per query across live slices: (ids, dist), -1 where none."""
        q = _as_hashes(queries)
        return _best_per_query(len(q), *self.query(q, max_distance))

    def _flush(self) -> None:
        """Put pending adds into their slices' tables (in one add per slice)."""
        with self._flush_lock:  # a query may flush: concurrent queries must not add twice
            pending, self._pending = self._pending, {}
            for key, adds in pending.items():
                h, i = (np.concatenate(x) for x in zip(*adds)) if len(adds) > 1 else adds[0]
                self._slices[key].add(h, i)

    def _key(self, t: float) -> int:
        return int(math.floor(t / self.slice_s))

    def _slice(self, key: int) -> HashIndex:
        ix = self._slices.get(key)
        if ix is None:
            ix = self._slices[key] = HashIndex(delta_limit=self._delta_limit)
        return ix
