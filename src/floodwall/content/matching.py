"""Sampled frames against the hash banks: plain PDQ with its mirror image, or robust query views.

The plain path looks up each frame's PDQ hash and its mirror image at every bank's own
radius (31 by default). The robust path (``RobustMatcher``, content/robust.py) looks up
up to ten views per frame (the frame and its trimmed content boxes, each mirrored) at the
robust radius (47), where the benchmark measured no false match on 52 M unrelated pairs.
Either way a frame matches a block bank when one of its views does and none of its views
is in an allow bank. Bank entries stay PDQ hex: on the robust path, confirmed content is
also banked as derived views (crops, rotations) of its frame, tagged ``derived:<view>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from floodwall.content.bank import BankMatches, BankSet
from floodwall.content.pdq import MIN_QUALITY, hash_frames
from floodwall.content.robust import RobustMatcher

__all__ = ["FrameMatcher", "FrameMatches"]

_ROW = np.dtype((np.void, 32))  # one 256-bit hash as a single sortable item


@dataclass(frozen=True)
class FrameMatches:
    """Per-frame bank results; one row per frame."""

    matched: np.ndarray  # bool: a block bank holds a near copy of a view, no allow bank does, the frame's hash is good
    allowed: np.ndarray  # bool: an allow bank holds a near copy of one of the frame's good views
    distance: np.ndarray  # int32: best block-bank distance over the frame's good views, -1 if none
    bank: list[str | None]  # name of the block bank of that best hit where matched, else None

    def __len__(self) -> int:
        return len(self.matched)


class FrameMatcher:
    """Matches sampled frames against a BankSet, plainly or through a RobustMatcher's views."""

    def __init__(self, banks: BankSet, robust: RobustMatcher | None = None, *, min_quality: int = MIN_QUALITY) -> None:
        """Plain PDQ and mirror unless ``robust`` is given; views of lower quality than ``min_quality`` never match."""
        self.banks = banks
        self.robust = robust
        self.min_quality = int(min_quality)

    def match_frames(
        self, pixels: np.ndarray | None, hashes: np.ndarray, mirrored: np.ndarray, quality: np.ndarray
    ) -> FrameMatches:
        """Bank results for frames (n, h, w, 3) with their plain PDQ hashes, mirror hashes and quality.

        ``pixels`` None: hashes computed at the edge, matched as plain PDQ and mirror (no robust views).
        """
        n = len(hashes)
        good = np.asarray(quality) >= self.min_quality
        if self.robust is None or pixels is None:
            # Views (plain, mirror) share the frame's quality; queries side-major as BankSet gets them.
            m = self.banks.match(np.concatenate([hashes, mirrored]))
            order = np.arange(2 * n).reshape(2, n).T.ravel()
            ok = np.repeat(good, 2)
            return _per_frame(m, order, ok, n, 2, good)
        if not any(len(b) for b in self.banks.banks):
            # Nothing banked yet: skip the views (the costly part) and match nothing, as the lookup would.
            none = np.full(n, -1, np.int32)
            return FrameMatches(np.zeros(n, bool), np.zeros(n, bool), none, [None] * n)
        views, vq = self.robust.query_views(pixels)
        v = self.robust.m
        ok = (vq >= self.min_quality) & np.repeat(good, v)
        sel = np.flatnonzero(ok)
        # Frames without borders repeat a hash across their views: look each distinct one up once.
        uniq, inv = np.unique(np.ascontiguousarray(views[sel]).view(_ROW).ravel(), return_inverse=True)
        m = self.banks.match(uniq.view(np.uint64).reshape(-1, 4), radius=self.robust.threshold)
        order = np.full(n * v, -1, np.int64)
        order[sel] = inv.ravel()
        return _per_frame(m, order, ok, n, v, good)

    def bank_views(self, frame: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Derived hashes (k, 4) of one frame (h, w, 3) for a block bank, and their notes ``derived:<view>``.

        None on the plain path, or for a frame too flat to hash (its views would be noise).
        """
        f = np.asarray(frame)[None]
        if self.robust is None or hash_frames(f)[1][0] < self.min_quality:
            return np.zeros((0, 4), np.uint64), []
        hashes = self.robust.bank_variants(f)
        return hashes, [f"derived:{v.name}" for v in self.robust.variants]


def _per_frame(m: BankMatches, order: np.ndarray, ok: np.ndarray, n: int, v: int, good: np.ndarray) -> FrameMatches:
    """Reduce per-query results to per-frame ones; ``order[i * v + j]`` is view j of frame i's query row (-1: none)."""
    if not m.allowed.any() and not (m.bank >= 0).any():
        # No bank knows any view (the common case): what the reduction below would give, without it.
        return FrameMatches(np.zeros(n, bool), np.zeros(n, bool), np.full(n, -1, np.int32), [None] * n)
    ok = ok.reshape(n, v)
    at = np.maximum(order, 0)
    blk = np.where(ok, m.bank[at].reshape(n, v), -1)
    dist = m.distance[at].reshape(n, v)
    allowed = (ok & m.allowed[at].reshape(n, v)).any(1)
    d = np.where(blk >= 0, dist, np.iinfo(np.int32).max)
    best = d.argmin(1)  # ties go to the earlier view: the frame itself before its mirror image
    ar = np.arange(n)
    hit = blk[ar, best] >= 0
    matched = hit & ~allowed & good
    names = m.bank_names
    bank = [names[b] if mt else None for b, mt in zip(blk[ar, best].tolist(), matched.tolist())]
    return FrameMatches(matched=matched, allowed=allowed, distance=np.where(hit, dist[ar, best], -1).astype(np.int32),
                        bank=bank)
