"""Pixels for robust matching: luma, antialiased resampling of whole frames or boxes, rotation, PDQ of planes.

Every view robust matching hashes (content/robust.py) is cut here: resampled with a tent
filter (antialiased when shrinking, as a platform's scaler) to PDQ's own 64 px grid, so
``pdq.hash_frames`` reads the pixels as they are.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from floodwall.content import pdq

__all__ = ["WORK", "hash_luma", "luma", "resample", "resample_boxes", "rotate", "tent_matrix", "box2"]

WORK = 64  # PDQ's own grid
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(frames: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 RGB -> (n, h, w) float32 luma (PDQ's coefficients)."""
    return pdq.check_frames(frames).astype(np.float32) @ _LUMA


def _taps(n_out: int, n_in: int, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse tent resampling of source [lo, hi) px onto n_out px: indices and weights (n, n_out, T)."""
    lo = np.asarray(lo, np.float32)[:, None, None]
    hi = np.asarray(hi, np.float32)[:, None, None]
    step = (hi - lo) / n_out
    sup = np.maximum(1.0, step)  # antialiased when shrinking, linear interpolation when enlarging
    cen = lo + (np.arange(n_out, dtype=np.float32)[None, :, None] + 0.5) * step - 0.5
    t = int(math.ceil(2 * float(sup.max()))) + 1
    j = np.floor(cen - sup) + 1 + np.arange(t, dtype=np.float32)[None, None, :]
    w = np.maximum(0.0, 1.0 - np.abs(j - cen) / sup)
    inside = (j >= 0) & (j <= n_in - 1)
    w = np.where(inside, w, 0.0)
    s = w.sum(2, keepdims=True)
    # A centre outside the source (box past the frame edge) takes the nearest pixel.
    nearest = np.clip(np.rint(cen), 0, n_in - 1)
    w = np.where(s > 1e-6, w / np.maximum(s, 1e-6), (j == nearest).astype(np.float32))
    idx = np.clip(j, 0, n_in - 1).astype(np.intp)
    return idx, w.astype(np.float32)


def _apply_taps(y: np.ndarray, ry: tuple[np.ndarray, np.ndarray], rx: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Separable gather-resample of (n, H, W) with per-frame row/column taps -> (n, oh, ow)."""
    n = y.shape[0]
    iy, wy = ry
    ix, wx = rx
    ar = np.arange(n)[:, None]
    rows = y[ar, iy[:, :, 0], :] * wy[:, :, 0, None]  # (n, oh, W)
    for t in range(1, iy.shape[2]):
        rows += y[ar, iy[:, :, t], :] * wy[:, :, t, None]
    rt = np.ascontiguousarray(rows.transpose(0, 2, 1))  # (n, W, oh): gathers below read whole rows
    out = rt[ar, ix[:, :, 0], :] * wx[:, :, 0, None]  # (n, ow, oh)
    for t in range(1, ix.shape[2]):
        out += rt[ar, ix[:, :, t], :] * wx[:, :, t, None]
    return out.transpose(0, 2, 1)


def resample_boxes(y: np.ndarray, boxes: np.ndarray, size: int = WORK) -> np.ndarray:
    """Luma (n, H, W) -> (n, size, size): box (top, left, bottom, right) px of each frame, tent-resampled."""
    n, H, W = y.shape
    b = np.asarray(boxes, np.float32).reshape(n, 4)
    (iy, wy), (ix, wx) = _taps(size, H, b[:, 0], b[:, 2]), _taps(size, W, b[:, 1], b[:, 3])
    out = np.empty((n, size, size), np.float32)
    step = max(1, (32 * 64 * 64) // max(1, H * W))  # L2-sized chunks: ~2x faster than whole batches
    for a in range(0, n, step):
        z = slice(a, a + step)
        out[z] = _apply_taps(y[z], (iy[z], wy[z]), (ix[z], wx[z]))
    return out


@functools.lru_cache(maxsize=256)
def tent_matrix(n_out: int, n_in: int, lo: float, hi: float) -> np.ndarray:
    """Dense (n_out, n_in) float32 tent resampling of source [lo, hi) px."""
    idx, w = _taps(n_out, n_in, np.array([lo]), np.array([hi]))
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.repeat(np.arange(n_out), idx.shape[2]), idx[0].ravel()), w[0].ravel())
    m.flags.writeable = False
    return m


def resample(y: np.ndarray, size: int = WORK) -> np.ndarray:
    """Whole luma frames (n, H, W) -> (n, size, size), tent-resampled (antialiased when shrinking)."""
    n, H, W = y.shape
    if H == size and W == size:
        return y
    ry = tent_matrix(size, H, 0.0, float(H))
    rx = tent_matrix(size, W, 0.0, float(W))
    # Two big 2-D GEMMs over the whole batch (a stack of small ones crawls under threaded BLAS).
    t = (ry @ y.transpose(1, 0, 2).reshape(H, n * W)).reshape(size, n, W)
    return (t.transpose(1, 0, 2).reshape(n * size, W) @ rx.T).reshape(n, size, size)


@functools.lru_cache(maxsize=64)
def _warp_map(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear gather (4, size*size) of a rotation about the centre; outside the frame -> weight 0 (black)."""
    th = math.radians(angle)
    c0 = size / 2.0
    v, u = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    # Inverse map: output pixel -> source position (a positive angle turns the picture anticlockwise, as PIL).
    x = math.cos(th) * (u - c0) - math.sin(th) * (v - c0) + c0 - 0.5
    y = math.sin(th) * (u - c0) + math.cos(th) * (v - c0) + c0 - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    idx, wts = [], []
    for ddy, ddx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + ddy, x0 + ddx
        ok = (yy >= 0) & (yy < size) & (xx >= 0) & (xx < size)
        idx.append(np.where(ok, yy * size + xx, 0).astype(np.intp).ravel())
        wts.append(np.where(ok, w, 0.0).astype(np.float32).ravel())
    i, w = np.stack(idx), np.stack(wts)
    i.flags.writeable = False
    w.flags.writeable = False
    return i, w


def rotate(y: np.ndarray, angle: float) -> np.ndarray:
    """Luma planes (n, S, S) turned ``angle`` degrees about the centre (bilinear, black corners)."""
    n, S, _ = y.shape
    idx, w = _warp_map(S, float(angle))
    flat = y.reshape(n, S * S)
    out = np.take(flat, idx[0], axis=1) * w[0]
    for k in range(1, 4):
        out += np.take(flat, idx[k], axis=1) * w[k]
    return out.reshape(n, S, S)


def box2(y: np.ndarray) -> np.ndarray:
    """2x2 box average: (n, 2S, 2S) -> (n, S, S)."""
    return 0.25 * (y[:, 0::2, 0::2] + y[:, 1::2, 0::2] + y[:, 0::2, 1::2] + y[:, 1::2, 1::2])


def hash_luma(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PDQ (hash, quality, mirrored hash) of (n, 64, 64) luma planes, via pdq.hash_frames on grey RGB."""
    g = np.clip(y + 0.5, 0, 255).astype(np.uint8)
    # Grey RGB has luma equal to the grey level, so PDQ sees these very planes.
    return pdq.hash_frames(np.stack([g, g, g], axis=-1), with_mirror=True)  # type: ignore[return-value]
