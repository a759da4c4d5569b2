"""Content clusters: rooms showing near-identical frames within a time window, across all rooms."""

from __future__ import annotations

import numpy as np

from floodwall.content.window import WindowIndex
from floodwall.coordination.unionfind import UnionFind


class ContentClusters:
    """Joins rooms whose frames match (PDQ within max_distance, mirror included) in a sliding window."""

    def __init__(self, window_s: float = 600.0, max_distance: int = 31, slice_s: float = 300.0) -> None:
        # A small unindexed delta to start with (it is scanned on every query; the window grows it with its size).
        self.index = WindowIndex(window_s=window_s, slice_s=slice_s, delta_limit=128)
        self.max_distance = max_distance
        self.uf = UnionFind()
        self.members: dict[str, set[str]] = {}
        self.first_seen: dict[str, float] = {}
        self._stream_ids: dict[str, int] = {}
        self._streams: list[str] = []

    def _sid(self, stream: str) -> int:
        sid = self._stream_ids.get(stream)
        if sid is None:
            sid = self._stream_ids[stream] = len(self._streams)
            self._streams.append(stream)
        return sid

    def observe(self, streams: list[str], hashes: np.ndarray, mirrored: np.ndarray, now: float) -> set[str]:
        """Add one batch of frames; returns the roots of clusters that gained rooms."""
        n = len(streams)
        if n == 0:
            return set()
        self.index.expire(now)
        sids = np.fromiter((self._sid(s) for s in streams), dtype=np.int64, count=n)
        # Add first, then query once: rooms going live in the same second match each other too;
        # a room's own frames are left out of the search (a looping clip matches itself all along, and
        # those were nearly all the matches). A frame is indexed under its stream's number: a match names
        # the room, and nothing per frame outlives the window.
        self.index.add(hashes, sids, now)
        both = np.concatenate([sids, sids])
        qi, ids, _ = self.index.query(np.concatenate([hashes, mirrored]), max_distance=self.max_distance,
                                      exclude=both)
        changed: set[str] = set()
        if len(qi):
            for a, b in np.unique(np.stack([both[qi], ids], axis=1), axis=0):
                root = self._join(self._streams[a], self._streams[b], now)
                if root:
                    changed.add(root)
        return changed

    def _join(self, a: str, b: str, now: float) -> str | None:
        ra, rb = self.uf.find(a), self.uf.find(b)
        if ra == rb:
            return None
        root, _ = self.uf.union(a, b)
        ma = self.members.pop(ra, {ra}) if ra != root else self.members.get(ra, {ra})
        mb = self.members.pop(rb, {rb}) if rb != root else self.members.get(rb, {rb})
        self.members[root] = ma | mb
        self.first_seen[root] = min(self.first_seen.get(ra, now), self.first_seen.get(rb, now))
        return root

    def root(self, stream: str) -> str:
        """The cluster a stream belongs to (itself if alone)."""
        return self.uf.find(stream) if stream in self.uf.parent else stream

    def rooms(self, stream: str) -> set[str]:
        """Every stream ever in this stream's cluster."""
        return self.members.get(self.root(stream), {stream})
