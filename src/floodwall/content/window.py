"""A sliding time window of PDQ hashes: a flat buffer of its entries, and one HashIndex over them tagged by slice."""

from __future__ import annotations

import math
import threading

import numpy as np

from floodwall.content.index import (
    HashIndex,
    _as_exclude,
    _as_hashes,
    _best_per_query,
    _flat_scan,
)

__all__ = ["WindowIndex"]

# A query of at most this many query x entry pairs scans the flat buffer in one pass instead of
# probing the index's tables (whose fixed cost per call is a few hundred microseconds).
_WINDOW_FLAT_BUDGET = 1 << 18
# The index's unindexed delta grows with the window (a 32nd of it): each merge moves every table row,
# so a fixed small delta made large windows pay O(n) every few adds.
_DELTA_SHARE = 32


class WindowIndex:
    """Sliding time window of hashes, expired a slice at a time.

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
        # Every entry in one flat buffer, words as rows ((4, n): the xor runs along n), with its id,
        # slice key and live flag: small queries scan it in one pass. The index holds the buffer's first
        # _synced entries, tagged with their slice key (expiry drops a slice by tag); it takes the rest at the
        # next large query, so a window only ever scanned flat never pays for its tables.
        self._fh = np.zeros((4, 64), dtype=np.uint64)
        self._fid = np.zeros(64, dtype=np.int64)
        self._fkey = np.zeros(64, dtype=np.int64)
        self._falive = np.zeros(64, dtype=bool)
        self._fn = 0
        self._synced = 0
        self._sync_lock = threading.Lock()  # a query may bring the index up: two must not add the same entries
        self._keys: set[int] = set()
        self._index = HashIndex(delta_limit=delta_limit)

    def __len__(self) -> int:
        """Number of live entries across all slices."""
        return int(self._falive[: self._fn].sum())

    @property
    def slice_keys(self) -> list[int]:
        """Keys (floor(t / slice_s)) of the slices currently held, oldest first."""
        return sorted(self._keys)

    def add(self, hashes: np.ndarray, ids: np.ndarray, t: float | np.ndarray) -> None:
        """Add hashes seen at time ``t`` (a scalar, or one time per hash)."""
        h = _as_hashes(hashes)
        i = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(i) != len(h):
            raise ValueError(f"{len(h)} hashes but {len(i)} ids")
        ts = np.asarray(t, dtype=np.float64)
        keys: np.ndarray | int
        if ts.ndim == 0:  # one slice for all (every batch's case): one key, not an array made unique
            keys = math.floor(float(ts) / self.slice_s)
        elif ts.shape != (len(h),):
            raise ValueError(f"t must be a scalar or have shape ({len(h)},), got {ts.shape}")
        else:
            keys = np.floor(ts / self.slice_s).astype(np.int64)
        if not len(i):
            return
        self._keys.update(np.unique(keys).tolist() if isinstance(keys, np.ndarray) else (keys,))
        self._flat_add(h, i, keys)

    def _flat_add(self, h: np.ndarray, ids: np.ndarray, keys: np.ndarray | int) -> None:
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
        """Tombstone entries with these ids."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        n = self._fn
        self._falive[:n] &= ~np.isin(self._fid[:n], ids)
        self._index.remove(ids)

    def expire(self, now: float) -> int:
        """Drop slices entirely older than ``now - window_s``; returns how many were dropped."""
        cutoff = now - self.window_s
        # Slice k spans [k * slice_s, (k + 1) * slice_s).
        old = [k for k in self._keys if (k + 1) * self.slice_s <= cutoff]
        if not old:
            return 0
        self._keys.difference_update(old)
        n = self._fn
        gone = np.isin(self._fkey[:n], old)
        self._index.remove_tags(np.array(old, dtype=np.int64))
        keep = np.flatnonzero(~gone)
        m = len(keep)
        self._synced = int(np.searchsorted(keep, self._synced))  # kept entries that were in the index
        self._fh[:, :m] = self._fh[:, keep]
        for a in (self._fid, self._fkey, self._falive):
            a[:m] = a[keep]
        self._fn = m
        return len(old)

    def query(
        self, queries: np.ndarray, max_distance: int = 31, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All live entries within ``max_distance``: (query index, id, distance); ``exclude``: one id
        per query whose entries it does not want (HashIndex.query)."""
        q = _as_hashes(queries)
        exclude = _as_exclude(exclude, len(q))
        n = self._fn
        if len(q) * n <= _WINDOW_FLAT_BUDGET:
            return _flat_scan(q, self._fh[:, :n], self._fid[:n], self._falive[:n], int(max_distance), exclude)
        self._sync()
        return self._index.query(q, max_distance, exclude)

    def _sync(self) -> None:
        """Give the index the buffer's live entries it does not hold yet."""
        with self._sync_lock:
            a, n = self._synced, self._fn
            if a == n:
                return
            live = np.flatnonzero(self._falive[a:n]) + a
            self._index.delta_limit = max(self._delta_limit, n // _DELTA_SHARE)
            self._index.add(self._fh[:, live].T, self._fid[live], self._fkey[live])
            self._synced = n

    def nearest(self, queries: np.ndarray, max_distance: int = 31) -> tuple[np.ndarray, np.ndarray]:
        """Closest entry per query across live slices: (ids, dist), -1 where none."""
        q = _as_hashes(queries)
        return _best_per_query(len(q), *self.query(q, max_distance))
