"""Drawing helpers for base images: anti-aliased shapes, colours, people and glyphs on planar canvases."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np

# Canvases are planar float32 (3, B, B): numpy blends on (h, w, 3) regions iterate an inner
# loop of length 3 and ran ~15x slower than on planar (3, h, w) regions.

_ELL, _RECT, _TRI, _PERSON, _CONE, _TREE, _RING, _DIAM, _BOTTLE, _HALF = range(10)


@lru_cache(maxsize=8192)
def _stamp(shape: int, h: int, w: int) -> np.ndarray:
    """Anti-aliased alpha mask (h, w) float32 of a unit shape stretched to h x w."""
    h = max(int(h), 1)
    w = max(int(w), 1)
    y = ((np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1)[:, None]
    x = ((np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1)[None, :]
    if shape == _ELL:
        d = np.sqrt(x * x + y * y) - 1
    elif shape == _RECT:
        d = np.maximum(np.abs(x), np.abs(y)) - 1
    elif shape == _TRI:
        d = np.maximum(np.abs(x) - (y + 1) / 2, y - 1)
    elif shape == _PERSON:
        head = np.sqrt((x / 0.42) ** 2 + ((y + 0.5) / 0.45) ** 2) - 1
        body = np.sqrt((x / 1.0) ** 2 + ((y - 1.0) / 1.05) ** 2) - 1
        d = np.minimum(head, body)
    elif shape == _CONE:
        cone = np.maximum(np.abs(x) - (y + 1) / 2.2, y - 0.6)
        trunk = np.maximum(np.abs(x) - 0.12, np.abs(y - 0.8) - 0.2)
        d = np.minimum(cone, trunk)
    elif shape == _TREE:
        crown = np.sqrt(x * x + ((y + 0.25) / 0.75) ** 2) - 1
        trunk = np.maximum(np.abs(x) - 0.12, np.abs(y - 0.75) - 0.25)
        d = np.minimum(crown, trunk)
    elif shape == _RING:
        d = np.abs(np.sqrt(x * x + y * y) - 0.72) - 0.28
    elif shape == _DIAM:
        d = np.abs(x) + np.abs(y) - 1
    elif shape == _BOTTLE:
        body = np.maximum(np.abs(x) - 1, np.abs(y - 0.25) - 0.75)
        neck = np.maximum(np.abs(x) - 0.35, np.abs(y + 0.7) - 0.3)
        d = np.minimum(body, neck)
    elif shape == _HALF:
        d = np.maximum(np.sqrt(x * x + (y - 1) ** 2 / 4) - 1, -y - 1)
    else:
        raise ValueError(shape)
    a = np.clip(0.5 - d * (min(h, w) / 2.0), 0.0, 1.0).astype(np.float32)
    a = np.ascontiguousarray(np.broadcast_to(a, (h, w)))
    a.flags.writeable = False
    return a


def _q(v: float) -> int:
    """Quantise a stamp dimension (even below 24 px, multiples of 4 above) so stamps stay cached."""
    v = int(v)
    return v if v < 8 else (v & ~1 if v < 24 else v & ~3)


def _put(img: np.ndarray, shape: int, y: float, x: float, h: float, w: float, col: np.ndarray, alpha: float = 1.0) -> None:
    """Alpha-blend a stamp with top-left (y, x) into planar img (clipped at borders)."""
    h = _q(h)
    w = _q(w)
    if h < 1 or w < 1:
        return
    y = int(y)
    x = int(x)
    H = img.shape[1]
    W = img.shape[2]
    y0 = max(0, y)
    x0 = max(0, x)
    y1 = min(H, y + h)
    x1 = min(W, x + w)
    if y0 >= y1 or x0 >= x1:
        return
    aa = _stamp(shape, h, w)[y0 - y : y1 - y, x0 - x : x1 - x]
    if alpha != 1.0:
        aa = aa * alpha
    reg = img[:, y0:y1, x0:x1]
    reg += aa * (col - reg)


def _rect(img: np.ndarray, y: float, x: float, h: float, w: float, col: np.ndarray) -> None:
    """Opaque axis-aligned rectangle (fast path, clipped)."""
    y0, x0 = max(int(y), 0), max(int(x), 0)
    y1, x1 = int(y + h), int(x + w)
    if y0 < y1 and x0 < x1:
        img[:, y0:y1, x0:x1] = col


_WHEEL = [colorsys.hsv_to_rgb(i / 360.0, 1.0, 1.0) for i in range(360)]


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """HSV in [0,1] -> planar RGB colour (3, 1, 1) float32 in 0..255 (hue to 1 degree)."""
    r, g, b = _WHEEL[int(h % 1.0 * 360.0) % 360]
    k = 255.0 * v
    m = k * (1.0 - s)
    s *= k
    return np.array((m + s * r, m + s * g, m + s * b), dtype=np.float32).reshape(3, 1, 1)


def _rgb(r: float, g: float, b: float) -> np.ndarray:
    """Planar RGB colour (3, 1, 1)."""
    return np.array((r, g, b), dtype=np.float32).reshape(3, 1, 1)


_BLACK = _rgb(10, 10, 10)
_WHITE = _rgb(250, 250, 250)


@lru_cache(maxsize=64)
def _up_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Bilinear upsampling matrix (n_out, n_in) with edge clamping."""
    c = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    c = np.clip(c, 0, n_in - 1)
    j = np.arange(n_in)
    m = np.maximum(0.0, 1.0 - np.abs(j[None, :] - c[:, None]))
    m /= m.sum(1, keepdims=True)
    return m.astype(np.float32)


def _field(B: int, k: int, vals: np.ndarray) -> np.ndarray:
    """Smooth planar field: (3, k, k) control values bilinearly upsampled to (3, B, B)."""
    U = _up_matrix(B, k)
    return (U @ vals) @ U.T


_SKIN = [(0.07, 0.45, 0.95), (0.07, 0.5, 0.8), (0.06, 0.55, 0.6), (0.06, 0.6, 0.4), (0.08, 0.35, 0.9), (0.05, 0.5, 0.3)]


class _Ctx:
    """Per-shot drawing context: planar canvas plus a pre-drawn stream of uniforms."""

    __slots__ = ("B", "_nx", "_rng", "img", "pal")

    def __init__(self, B: int, rng: np.random.Generator, pal: list[float]) -> None:
        self.B = B
        self._rng = rng
        self._nx = iter(rng.random(512).tolist()).__next__  # bulk draw: Generator calls cost ~1 us each
        self.pal = pal
        self.img: np.ndarray = np.empty((3, B, B), np.float32)

    def u(self, lo: float = 0.0, hi: float = 1.0) -> float:
        """Next uniform in [lo, hi)."""
        try:
            return lo + (hi - lo) * self._nx()
        except StopIteration:
            self._nx = iter(self._rng.random(512).tolist()).__next__
            return lo + (hi - lo) * self._nx()

    def i(self, lo: int, hi: int) -> int:
        """Next integer in [lo, hi)."""
        return lo + int(self.u() * (hi - lo))

    def vals(self, n: int) -> np.ndarray:
        """n uniforms as a float32 array (drawn straight from the generator: one call)."""
        return self._rng.random(n, dtype=np.float32)

    def col(self, h: float | None = None, s: tuple[float, float] = (0.5, 1.0), v: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
        """Random colour, optionally around a given hue."""
        hh = self.u() if h is None else h + self.u(-0.04, 0.04)
        return _hsv(hh, self.u(*s), self.u(*v))

    def jitter(self, base: np.ndarray, k: int, amp: float) -> np.ndarray:
        """A (3, k, k) grid of control colours around base, for :func:`_field`."""
        return base + (self.vals(3 * k * k).reshape(3, k, k) - 0.5) * amp


def _person(c: _Ctx, img: np.ndarray, cx: float, bottom: float, w: float, h: float) -> None:
    """Head-and-shoulders silhouette with clothes, skin and hair."""
    shirt = c.col(s=(0.3, 0.9), v=(0.2, 0.9))
    _put(img, _PERSON, bottom - h, cx - w / 2, h * 1.25, w, shirt)
    skin = _hsv(*_SKIN[c.i(0, len(_SKIN))])
    hw, hh = w * 0.36, h * 0.42
    hy = bottom - h + h * 0.05
    _put(img, _ELL, hy, cx - hw / 2, hh, hw, skin)
    hair = _hsv(c.u(0.0, 0.12), c.u(0.2, 0.8), c.u(0.05, 0.6))
    _put(img, _HALF, hy - hh * 0.08, cx - hw * 0.56, hh * 0.5, hw * 1.12, hair)
    if c.u() < 0.5:  # eyes: tiny detail so faces are not flat blobs
        ey = hy + hh * 0.5
        dark = _rgb(30, 25, 25)
        _rect(img, ey, cx - hw * 0.22, max(1, hh * 0.08), max(1, hw * 0.12), dark)
        _rect(img, ey, cx + hw * 0.1, max(1, hh * 0.08), max(1, hw * 0.12), dark)


def _glyphs(c: _Ctx, y: float, x: float, h: float, n: int, col: np.ndarray) -> None:
    """A row of text-like bars (price digits, scores)."""
    step = max(2.0, h * 0.7)
    for k in range(n):
        if c.u() < 0.85:
            _rect(c.img, y + (h * 0.3 if c.u() < 0.2 else 0), x + k * step, h * (0.7 if c.u() < 0.2 else 1.0), max(1.0, step * 0.55), col)
