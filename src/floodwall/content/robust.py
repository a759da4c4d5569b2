"""Robust PDQ matching: border trimming and mirror on the query side, derived views on the bank side.

Plain PDQ is brittle to geometry: on 64x64 keyframes a 1 px shift of the picture moves
15-40 of the 256 bits, so a 5 % crop, 20 % letterbox padding or a 4 degree rotation
lands a copy 60-130 bits from its original. This module keeps PDQ (every hash comes
from ``pdq.hash_frames``, so bank entries stay ThreatExchange PDQ hex) and removes the
geometry instead:

* Canonical resampling. Every view is resampled (antialiased tent, as the platform's
  scaler) to 64x64, PDQ's own grid, where ``hash_frames`` reads pixels as they are. A
  bank image hashed at full size and its 64 px keyframe already differ by ~20 bits;
  hashing the bank's 64 px view removes that (photometric copies: 22 -> 6 bits median).
* Query side (cheap, per frame): border detection finds smooth borders (solid bars, or
  the blurred stretched copy streamers pad with) to sub-pixel accuracy; the query is
  hashed as is and trimmed to up to four candidate content boxes, each also mirrored
  (free: ``with_mirror`` at 64 px is exact). ``m = 10`` hashes per frame; only distinct
  boxes are hashed, so a frame without borders costs one PDQ.
* Bank side (once per bank image): derived views -- centred and off-centre crops on a
  grid (5 % and 10 % of each axis), rotations of +-2.5 and +-5 degrees with black corners
  as an attacker's rotate leaves them. ``k = len(variants)`` hashes per image, stored in
  the same ``HashIndex`` under the image's id (or exported as extra PDQ hex entries
  tagged ``derived:<variant>``).

A frame matches a bank image when any of its query hashes is within ``threshold`` bits
of any of the image's derived hashes. More comparisons per pair raise the chance that
an unrelated pair gets close, so thresholds are calibrated per method on unrelated
pairs (``calibrate``); ``bench/bench_robust.py`` does that on a calibration split of
images and reports recall on a held-out split (figures in ``bench/RESULTS-robust.md``).

Measured there (2,954 synthetic originals, 52 M unrelated pairs per split): at radius 47
(``THRESHOLD``) no unrelated pair matched, and recall on every single transform of the
brief (5/10 % crop, 20 % solid/blurred pad, 4 degrees, mirror, caption, JPEG q50,
brightness, contrast, half size) was 98.0-100 % (plain PDQ at 31: 0-92 %). Short: crops
beyond the grid (15 %: 17 %) and rotations beyond it (8 degrees: 66 %). Cost on one core:
0.14 ms per 64 px keyframe (0.32 ms with a border to trim) against 0.016 ms for plain
PDQ, 3.4 ms per 256 px bank image, and 39 index entries per bank image, which makes a
radius-47 lookup ~2 ms per keyframe against a 10,000-image bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from floodwall.content import pdq
from floodwall.content.borders import N_BOXES as _N_BOXES
from floodwall.content.borders import border_boxes, detect_border
from floodwall.content.index import HashIndex
from floodwall.content.resample import WORK, box2, hash_luma, luma, resample, resample_boxes, rotate, tent_matrix

__all__ = [
    "DEFAULT_VARIANTS",
    "LOOSE_THRESHOLD",
    "THRESHOLD",
    "RobustMatch",
    "RobustMatcher",
    "Variant",
    "border_boxes",
    "calibrate",
    "crop_grid",
    "detect_border",
    "luma",
    "min_distances",
    "resample",
    "resample_boxes",
]

#: Default match radius. The largest radius HashIndex still serves by multi-index probing
#: (beyond 47 it scans every entry), and well inside what the benchmark calibrates: see
#: LOOSE_THRESHOLD and bench/RESULTS-robust.md for recall and measured false matches.
THRESHOLD = 47
#: Largest radius whose false-match rate on the benchmark's calibration split of unrelated
#: pairs was <= 0.01 % (bench/bench_robust.py, default variants). Recall gains over
#: THRESHOLD are small and each index lookup becomes a linear scan.
LOOSE_THRESHOLD = 81

_BANK_WORK = 128  # bank views are cut from a 128 px copy (rotations sampled at 2x, then 2x2 averaged)


# ----------------------------------------------------------------------------- bank views


@dataclass(frozen=True)
class Variant:
    """A derived bank view: keep ``scale`` of each axis centred at (0.5 + dx, 0.5 + dy), rotated ``angle`` degrees."""

    angle: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    @property
    def name(self) -> str:
        """Tag for exported entries, e.g. ``crop90+0.020-0.040``, ``rot-2.5`` or ``view``."""
        if self.angle:
            return f"rot{self.angle:+g}"
        if self.scale == 1.0 and not (self.dx or self.dy):
            return "view"
        return f"crop{round(self.scale * 100):d}{self.dx:+.3f}{self.dy:+.3f}"


def crop_grid(scale: float, g: int) -> list[Variant]:
    """g x g crops keeping ``scale`` of each axis; any split of the cut is within (1-scale)/(2g) of a centre."""
    a = (1.0 - scale) / 2.0
    offs = [round(-a + a * (2 * i + 1) / g, 6) for i in range(g)]
    return [Variant(scale=scale, dx=dx, dy=dy) for dy in offs for dx in offs]


#: The whole picture; 5 % crops on a 3x3 grid of positions; 10 % crops on 5x5; +-2.5 and +-5 degrees.
DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant(),
    *crop_grid(0.95, 3),
    *crop_grid(0.90, 5),
    *(Variant(angle=a) for a in (-5.0, -2.5, 2.5, 5.0)),
)


# ----------------------------------------------------------------------------- distances


def min_distances(qv: np.ndarray, bv: np.ndarray, *, chunk_bytes: int = 1 << 27) -> np.ndarray:
    """Dense min Hamming distance over variants: queries (nq, m, 4) x bank (nb, k, 4) -> (nq, nb) int16."""
    qv = np.asarray(qv, np.uint64)
    bv = np.asarray(bv, np.uint64)
    nq, m, _ = qv.shape
    nb, k, _ = bv.shape
    out = np.empty((nq, nb), np.int16)
    if not nq or not nb:
        return out
    # Bits as +-1 floats: dot = 256 - 2 * distance, so one GEMM scores every variant pair.
    qs = pdq.hashes_to_bits(qv.reshape(-1, 4)).astype(np.float32) * 2 - 1
    bs = np.ascontiguousarray((pdq.hashes_to_bits(bv.reshape(-1, 4)).astype(np.float32) * 2 - 1).T)
    step = max(1, chunk_bytes // (4 * nb * k * m))
    for a in range(0, nq, step):
        dot = qs[a * m : (a + step) * m] @ bs
        best = dot.reshape(-1, m, nb, k).max(axis=(1, 3))
        out[a : a + step] = (256 - np.rint(best).astype(np.int32)) // 2
    return out


def calibrate(unrelated: np.ndarray, fpr: float = 1e-4) -> int:
    """Largest radius t with P(unrelated distance <= t) <= fpr (-1 if even 0 is too many)."""
    u = np.asarray(unrelated).ravel()
    if not u.size:
        raise ValueError("no unrelated distances to calibrate on")
    cdf = np.cumsum(np.bincount(np.clip(u, 0, 256).astype(np.int64), minlength=257)) / u.size
    ok = np.flatnonzero(cdf <= fpr)
    return int(ok[-1]) if ok.size else -1


# ----------------------------------------------------------------------------- matcher


@dataclass(frozen=True)
class RobustMatch:
    """Per-frame result of ``RobustMatcher.match``; arrays have one row per query frame."""

    matched: np.ndarray  # bool: distance <= threshold
    id: np.ndarray  # int64 bank id of the best hit, -1 if none within threshold
    distance: np.ndarray  # int32 min distance over the frame's hashes and the image's views, -1 if none
    query_variant: np.ndarray  # int32 which query hash (0..m-1) hit, -1 if none

    def __len__(self) -> int:
        return len(self.matched)


class RobustMatcher:
    """Matches perturbed keyframes against bank images through derived bank views and trimmed/mirrored queries."""

    def __init__(
        self,
        variants: tuple[Variant, ...] = DEFAULT_VARIANTS,
        *,
        threshold: int = THRESHOLD,
        trim: bool = True,
        mirror: bool = True,
    ) -> None:
        """Bank views ``variants``; queries trimmed (3 candidate boxes) and mirrored unless switched off."""
        if not variants:
            raise ValueError("need at least one bank variant")
        self.variants = tuple(variants)
        self.threshold = int(threshold)
        self.trim = bool(trim)
        self.mirror = bool(mirror)

    @property
    def k(self) -> int:
        """Hashes per bank image."""
        return len(self.variants)

    @property
    def m(self) -> int:
        """Hashes per query frame."""
        return (1 + _N_BOXES if self.trim else 1) * (2 if self.mirror else 1)

    # -- bank side -----------------------------------------------------------------

    def bank_variants(self, frames: np.ndarray) -> np.ndarray:
        """Derived hashes of bank images (n, h, w, 3) uint8 -> (n * k, 4); row i*k + j is view j of image i."""
        f = np.asarray(frames)
        if f.ndim != 4 or f.shape[3] != 3:
            raise ValueError(f"expected frames of shape (n, h, w, 3), got {f.shape}")
        # Chunks bound the temporaries (~40 MB per 32 images).
        parts = [self._bank_chunk(f[a : a + 32]) for a in range(0, len(f), 32)]
        return np.concatenate(parts) if parts else np.zeros((0, 4), np.uint64)

    def _bank_chunk(self, frames: np.ndarray) -> np.ndarray:
        y = resample(luma(frames), _BANK_WORK)
        n, S = y.shape[0], _BANK_WORK
        views = np.empty((n, self.k, WORK, WORK), np.float32)
        crops = [(j, v) for j, v in enumerate(self.variants) if not v.angle]
        if crops:
            # Rows of every crop of every image in one GEMM; columns one GEMM per crop.
            # (Big 2-D GEMMs: stacks of small ones crawl under multi-threaded BLAS.)
            ry = np.concatenate([tent_matrix(WORK, S, *_span(v.scale, v.dy, S)) for _, v in crops])
            rows = (ry @ y.transpose(1, 0, 2).reshape(S, n * S)).reshape(len(crops), WORK, n, S)
            for c, (j, v) in enumerate(crops):
                rx = tent_matrix(WORK, S, *_span(v.scale, v.dx, S))
                r = rows[c].transpose(1, 0, 2).reshape(n * WORK, S)
                views[:, j] = (r @ rx.T).reshape(n, WORK, WORK)
        for j, v in enumerate(self.variants):
            if v.angle:
                src = y
                if v.scale != 1.0 or v.dx or v.dy:
                    src = resample_boxes(y, np.tile(_box(v, S), (n, 1)), S)
                views[:, j] = box2(rotate(src, v.angle))
        h, _, _ = hash_luma(views.reshape(n * self.k, WORK, WORK))
        return h

    def bank_entries(self, frame: np.ndarray) -> list[tuple[str, str]]:
        """(PDQ hex, tag) rows for one bank image (h, w, 3): its plain hash ("plain"), then "derived:<view>" ones."""
        f = np.asarray(frame)[None]
        plain = pdq.to_hex(pdq.hash_frames(f)[0][0])
        hexes = pdq.to_hex_many(self.bank_variants(f))
        return [(plain, "plain")] + [(h, f"derived:{v.name}") for h, v in zip(hexes, self.variants)]

    def add_to_index(self, index: HashIndex, frames: np.ndarray, ids: np.ndarray) -> None:
        """Add every derived hash of bank images ``frames`` to ``index`` under their image's id."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if len(ids) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(ids)} ids")
        index.add(self.bank_variants(frames), np.repeat(ids, self.k))

    # -- query side ----------------------------------------------------------------

    def query_variants(self, frames: np.ndarray) -> np.ndarray:
        """Hashes of query frames (n, h, w, 3) uint8 -> (n * m, 4), frame-major; border-free frames repeat a hash."""
        return self._query(frames)[0]

    def query_views(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes (n * m, 4) and PDQ quality (n * m,) of query frames (n, h, w, 3), frame-major."""
        return self._query(frames)

    def _query(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hashes (n * m, 4), PDQ quality (n * m,)) of query frames."""
        y = luma(frames)
        n = y.shape[0]
        planes = [resample(y, WORK)]
        slot = np.arange(n)[:, None]  # (n, views): row of the hashed plane each view uses
        if self.trim:
            boxes = border_boxes(y)  # (n, _N_BOXES, 4)
            nb = boxes.shape[1]
            full = np.array([0.0, 0.0, y.shape[1], y.shape[2]])
            slot = np.concatenate([slot, np.full((n, nb), -1)], 1)
            used = n
            # Hash only boxes that trim something and differ from an earlier candidate;
            # the rest reuse an earlier hash (so a frame without borders costs one hash).
            for c in range(nb):
                col = slot[:, c + 1]
                whole = np.all(np.abs(boxes[:, c] - full) < 1e-3, axis=1)
                col[whole] = slot[whole, 0]
                for p in range(c):
                    dup = (col < 0) & np.all(np.abs(boxes[:, c] - boxes[:, p]) < 1e-3, axis=1)
                    col[dup] = slot[dup, p + 1]
                fresh = np.flatnonzero(col < 0)
                col[fresh] = used + np.arange(fresh.size)
                used += fresh.size
                if fresh.size:
                    planes.append(resample_boxes(y[fresh], boxes[fresh, c]))
        h, q, hm = hash_luma(np.concatenate(planes))
        if self.mirror:
            hashes, quality = np.concatenate([h[slot], hm[slot]], 1), np.concatenate([q[slot], q[slot]], 1)
        else:
            hashes, quality = h[slot], q[slot]
        return hashes.reshape(n * self.m, 4), quality.reshape(n * self.m)

    # -- matching ------------------------------------------------------------------

    def match(
        self, query_frames: np.ndarray, index: HashIndex, threshold: int | None = None, *, min_quality: int = 0
    ) -> RobustMatch:
        """Best bank id per query frame: min distance from its m hashes (quality >= min_quality) to ``index``."""
        r = self.threshold if threshold is None else int(threshold)
        n = len(query_frames)
        hashes, quality = self._query(query_frames)
        ids, dist = index.nearest(hashes, r)
        ids, dist = ids.reshape(n, self.m), dist.reshape(n, self.m)
        # Too-flat views hash to noise (PDQ's own gate is 50); they do not get to match.
        dist = np.where(quality.reshape(n, self.m) >= min_quality, dist, -1)
        d = np.where(dist < 0, np.iinfo(np.int32).max, dist)
        best = np.argmin(d, axis=1)
        ar = np.arange(n)
        hit = dist[ar, best] >= 0
        return RobustMatch(
            matched=hit,
            id=np.where(hit, ids[ar, best], -1),
            distance=np.where(hit, dist[ar, best], -1).astype(np.int32),
            query_variant=np.where(hit, best, -1).astype(np.int32),
        )

    def distances(self, query_frames: np.ndarray, bank_hashes: np.ndarray) -> np.ndarray:
        """Dense (n_query, n_bank) min distances against ``bank_variants`` output (n_bank * k, 4)."""
        qv = self.query_variants(query_frames).reshape(-1, self.m, 4)
        return min_distances(qv, np.asarray(bank_hashes).reshape(-1, self.k, 4))


def _span(scale: float, off: float, size: int) -> tuple[float, float]:
    lo = (0.5 + off - scale / 2) * size
    return float(lo), float(lo + scale * size)


def _box(v: Variant, size: int) -> np.ndarray:
    t, b = _span(v.scale, v.dy, size)
    l, r = _span(v.scale, v.dx, size)
    return np.array([t, l, b, r])
