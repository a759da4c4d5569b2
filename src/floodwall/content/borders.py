"""Border detection for robust matching: the content boxes of a keyframe once smooth padding is trimmed.

Streamers (and attackers) pad a picture with solid bars or a blurred, stretched copy of
itself; both are smooth. ``border_boxes`` finds where the smooth run down each column (and
along each row) ends, to sub-pixel accuracy, and proposes up to four candidate boxes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_BOXES", "border_boxes", "detect_border"]

N_BOXES = 4  # candidate content boxes per query frame (border_boxes)


def _lead(flat: np.ndarray) -> np.ndarray:
    """Number of leading True values along axis 1 of (n, L, M) -> (n, M)."""
    n, L, M = flat.shape
    stop = np.argmin(flat, axis=1)
    return np.where(flat.all(axis=1), L, stop)


def _side(
    v: np.ndarray, smooth: np.ndarray, cap: int, min_support: float, edge: float
) -> tuple[np.ndarray, np.ndarray]:
    """Border depth at the top of (n, L, M) planes: (sub-pixel depth, share of agreeing columns); 0 where none."""
    n, L, M = v.shape
    run = np.minimum(_lead(smooth[:, : cap + 2]), cap + 1)  # (n, M) smooth run down each column
    counts = np.bincount((np.arange(n)[:, None] * (cap + 2) + run).ravel(), minlength=n * (cap + 2)).reshape(n, cap + 2)
    # A boundary between two pixel rows splits its columns over two depths: pool neighbours.
    pooled = counts[:, :-1] + np.concatenate([counts[:, 1:-1], np.zeros((n, 1), counts.dtype)], 1)
    pooled[:, :2] = 0  # 0-1 px "borders" are not worth a view
    best = np.argmax(pooled, 1)
    share = pooled[np.arange(n), best] / M
    ok = share >= min_support
    # Sub-pixel: per column, the edge |d/dy| (less the border's own slope) near the
    # depth, and the centroid of the 3 gradients around its peak (an antialiased edge
    # spreads over 2-3; fewer positions let in less of the picture's own texture, which
    # pulls a centroid inwards); median over the columns that agree on the depth and
    # show an edge.
    ar = np.arange(n)[:, None]
    lo = np.clip(best - 2, 0, L - 8)
    seg = v[ar, lo[:, None] + np.arange(8)[None, :]]  # (n, 8, M)
    g = np.diff(seg, axis=1)  # g[:, j] sits between rows lo+j and lo+j+1, i.e. at position lo+j+1
    e = np.abs(g[:, 1:] - g[:, :1])  # (n, 6, M) at positions lo+2 .. lo+7
    agree = np.abs(run - best[:, None]) <= 1
    k = 1 + np.argmax(e[:, 1:5], axis=1)  # (n, M) per-column peak
    ek = np.stack([np.take_along_axis(e, (k + d)[:, None], 1)[:, 0] for d in (-1, 0, 1)], 1)
    tot = ek.sum(1)
    cen = (lo[:, None] + 2 + k) + (ek[:, 2] - ek[:, 0]) / np.maximum(tot, 1e-6)
    use = agree & (tot >= edge)
    cnt = use.sum(1)
    has = cnt >= max(3, int(0.1 * M))
    # Median of the used columns (lower middle): unused ones sort to the end as +inf.
    srt = np.sort(np.where(use, cen, np.inf), axis=1)
    med = srt[np.arange(n), np.maximum(cnt - 1, 0) // 2]
    depth = np.where(ok, np.where(has, med, best), 0.0)
    return depth, np.where(ok, share, 0.0)


def border_boxes(
    y: np.ndarray, *, tol: float = 3.0, max_frac: float = 0.3, min_support: float = 0.4, edge: float = 8.0
) -> np.ndarray:
    """Candidate content boxes (n, 4, 4) (top, left, bottom, right) px of luma (n, H, W); the whole frame where none.

    A border pixel is smooth (second differences <= ``tol`` grey levels both ways):
    solid bars and the heavily blurred copy of the picture streamers pad with both are.
    Per side, the depth shared by the most columns' smooth runs (>= ``min_support`` of
    them, <= ``max_frac`` of the frame) is the border, refined to sub-pixel by the
    centroid of the edge where it ends. Box 0 is every side as detected. Box 1 assumes
    a centred letterbox/pillarbox and gives both sides of an axis the deeper of the two
    (a caption on one bar stops that bar's run short). Box 2 puts the best-supported
    side's border, as a fraction of its axis, on all four sides (a picture shrunk into a
    uniform frame, some of whose bars are lost against smooth picture). Box 3 trims only
    the best-supported axis, both sides to its deeper border (a letterbox or pillarbox
    beside smooth picture that reads as a border on the other axis).
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 3:
        raise ValueError(f"expected luma of shape (n, h, w), got {y.shape}")
    # Chunks of 128 64x64 frames keep the temporaries in cache.
    step = max(1, (128 * 64 * 64) // max(1, y.shape[1] * y.shape[2]))
    parts = [_border_chunk(y[a : a + step], tol, max_frac, min_support, edge) for a in range(0, len(y), step)]
    return np.concatenate(parts) if parts else np.zeros((0, N_BOXES, 4))


def _border_chunk(y: np.ndarray, tol: float, max_frac: float, min_support: float, edge: float) -> np.ndarray:
    n, H, W = y.shape
    out = np.zeros((n, N_BOXES, 4))
    out[:, :, 2], out[:, :, 3] = H, W
    if H < 8 or W < 8:
        return out
    # Second differences; zero on the outermost lines (linear extrapolation), so a
    # smooth slope at the frame edge reads as smooth.
    d2v = np.zeros_like(y)
    d2h = np.zeros_like(y)
    np.abs(y[:, :-2] + y[:, 2:] - 2 * y[:, 1:-1], out=d2v[:, 1:-1])
    np.abs(y[:, :, :-2] + y[:, :, 2:] - 2 * y[:, :, 1:-1], out=d2h[:, :, 1:-1])
    smooth = (d2v <= tol) & (d2h <= tol)
    best_frac = np.zeros(n)
    best_share = np.zeros(n)
    best_axis = np.zeros(n, np.int64)
    best_deep = np.zeros(n)
    for axis in (0, 1):
        v = y if axis == 0 else y.transpose(0, 2, 1)
        s = smooth if axis == 0 else smooth.transpose(0, 2, 1)
        L = v.shape[1]
        cap = int(max_frac * L)
        depth, share = _side(np.concatenate([v, v[:, ::-1]]), np.concatenate([s, s[:, ::-1]]), cap, min_support, edge)
        top, bot = depth[:n], depth[n:]
        out[:, 0, axis], out[:, 0, axis + 2] = top, L - bot
        deep = np.maximum(top, bot)
        out[:, 1, axis], out[:, 1, axis + 2] = deep, L - deep
        sh = np.maximum(share[:n], share[n:])
        better = sh > best_share
        best_share = np.where(better, sh, best_share)
        best_frac = np.where(better, np.where(share[:n] >= share[n:], top, bot) / L, best_frac)
        best_axis = np.where(better, axis, best_axis)
        best_deep = np.where(better, deep, best_deep)
    out[:, 2, 0], out[:, 2, 2] = best_frac * H, H - best_frac * H
    out[:, 2, 1], out[:, 2, 3] = best_frac * W, W - best_frac * W
    # Box 3: bars on the best-supported axis only (letterbox or pillarbox).
    lb = best_share > 0
    for axis, L in ((0, H), (1, W)):
        on = lb & (best_axis == axis)
        out[on, 3, axis], out[on, 3, axis + 2] = best_deep[on], L - best_deep[on]
    return out


def detect_border(y: np.ndarray, **kw: float) -> np.ndarray:
    """Content box (n, 4) float (top, left, bottom, right) px of luma frames (n, H, W), smooth borders trimmed."""
    return border_boxes(y, **kw)[:, 0]
