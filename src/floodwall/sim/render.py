"""Fast, deterministic synthetic keyframe renderer for the attack simulator.

Every live room sends small sampled keyframes (``size`` x ``size`` RGB uint8).
Honest rooms show their own procedurally generated scene (merchant table, game,
chat room, outdoor); EVENT rooms co-broadcast a shared source; CLIP rooms show a
looping abstract stand-in for contraband video (geometric shapes only), each copy
perturbed by the re-streamer's :class:`Look`.

Design (tens of thousands of frames/s on one core):

* A *shot* is a ``(kind, seed, shot)`` tuple. Its base image (``size * 5/4`` square,
  uint8) is generated once from ``np.random.default_rng`` seeded with that tuple and
  kept in a bounded LRU cache (``cache_entries``; ~19 KB each at size 64). Per frame we
  only slice a window out of it (camera pan) and stamp one moving sprite.
* Shot schedules and pan/sprite motion come from a vectorised splitmix64 hash of the
  tuple: nothing depends on process state, ``hash()``, call order or batch make-up.
* Looks are applied to all frames that have one, 16 frames at a time (temporaries stay
  in cache). Frames are carried as YCbCr with 4:2:0 chroma, like the codec a platform
  receives. The colour change (contrast, hue) is a per-frame 3x3 matrix on input; the
  axis-aligned geometry (crop, mirror, solid pad, downscale-and-back) is one resampling
  matrix per axis (two small GEMMs per plane, chroma straight to half resolution);
  watermark masks are cached per overlay seed; luma noise comes from a fixed bank of
  Gaussian fields picked per frame by hash; JPEG is an 8x8 block DCT round trip in numpy
  with the standard ITU-T T.81 Annex K luminance/chrominance tables scaled by the IJG
  quality formula, 4:2:0, no entropy coding (lossless, so it does not change pixels).
  Rotation and blurred padding (``"strong"`` looks) take a slower per-frame path.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

__all__ = [
    "CHAT",
    "CLIP",
    "EVENT",
    "GAMER",
    "HONEST_KINDS",
    "KIND_NAMES",
    "MERCHANT",
    "OUTDOOR",
    "Look",
    "Renderer",
    "clip_shots",
    "handle_text",
    "sample_frames",
]

MERCHANT = 0
GAMER = 1
CHAT = 2
OUTDOOR = 3
EVENT = 4
CLIP = 5
HONEST_KINDS: tuple[int, ...] = (MERCHANT, GAMER, CHAT, OUTDOOR)
KIND_NAMES: dict[int, str] = {
    MERCHANT: "merchant",
    GAMER: "gamer",
    CHAT: "chat",
    OUTDOOR: "outdoor",
    EVENT: "event",
    CLIP: "clip",
}

_M64 = (1 << 64) - 1
# Salts keep the random streams of different purposes independent.
_SALT_SHOT = 0x5EED_0001
_SALT_ROOM = 0x5EED_0002
_SALT_SCHED = 0x5EED_0003
_SALT_CLIP = 0x5EED_0004
_SALT_OVERLAY = 0x5EED_0005
_SALT_NOISE = 0x5EED_0006
_SALT_BANK = 0x5EED_0007

# Shot length ranges in seconds for the hash-scheduled kinds (an EVENT cuts between cameras).
_SHOT_RANGE = {
    MERCHANT: (60.0, 180.0),
    GAMER: (60.0, 150.0),
    CHAT: (120.0, 300.0),
    OUTDOOR: (60.0, 240.0),
    EVENT: (20.0, 60.0),
}
_CLIP_LOOP = (120.0, 300.0)
_CLIP_SHOT = (8.0, 20.0)

# (pan amplitude as a fraction of the margin, pan period range s,
#  sprite amplitude as a fraction of the frame, sprite period range s).
# Webcam kinds (merchant, chat) and clips keep a static camera, since a 1 px pan alone moves
# PDQ ~15 bits; their motion is the sprite. Clip frames ~1 s apart in a shot thus stay near
# duplicates (attack rooms play the clip at arbitrary offsets). Games, outdoor and events pan.
_MOTION = {
    MERCHANT: (0.0, (20.0, 40.0), 0.6, (4.0, 9.0)),
    GAMER: (1.0, (6.0, 15.0), 1.0, (2.0, 5.0)),
    CHAT: (0.0, (10.0, 20.0), 0.4, (5.0, 12.0)),
    OUTDOOR: (1.0, (60.0, 240.0), 1.0, (8.0, 20.0)),
    EVENT: (0.8, (8.0, 20.0), 0.8, (3.0, 7.0)),
    CLIP: (0.0, (12.0, 24.0), 0.2, (12.0, 24.0)),
}


# ----------------------------------------------------------------------------- hashing


def _mixi(*parts: int) -> int:
    """Scalar splitmix64 over a tuple of ints (pure Python, process independent)."""
    h = 0x243F6A8885A308D3
    for p in parts:
        h = (h ^ (p & _M64)) & _M64
        h = (h + 0x9E3779B97F4A7C15) & _M64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _M64
        h ^= h >> 31
    return h


def _vmix(*parts: np.ndarray | int) -> np.ndarray:
    """Vectorised twin of :func:`_mixi` (uint64 arrays wrap silently)."""
    h = np.full(1, 0x243F6A8885A308D3, dtype=np.uint64)
    for p in parts:
        h = h ^ np.asarray(p).astype(np.uint64)
        h = h + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    return h


def _unit(h: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _rng(*parts: int) -> np.random.Generator:
    """PCG64 generator seeded by a tuple of (masked, non-negative) ints."""
    return np.random.default_rng([p & _M64 for p in parts])


# ----------------------------------------------------------------------------- Look


@dataclass(frozen=True)
class Look:
    """Per-room perturbation applied by a re-streamer to every frame it sends."""

    # Order of application: crop, mirror, rotate, pad, downscale, colour, overlay, noise, JPEG.
    crop: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # fractions cut: left, top, right, bottom
    mirror: bool = False  # horizontal flip
    scale: float = 1.0  # re-encoded at round(size * scale) px, then resampled back
    rotate: float = 0.0  # degrees about the centre; corners black
    pad: float = 0.0  # border of pad * picture size on each side; the picture shrinks to fit
    pad_mode: str = "solid"  # "solid" (black bars) or "blur" (blurred stretched picture)
    brightness: float = 0.0  # additive, fraction of full scale, in [-0.3, 0.3]
    contrast: float = 1.0  # gain about mid-grey
    hue: float = 0.0  # degrees of hue rotation (YIQ chroma plane; luma kept)
    overlay: int | None = None  # seed of a watermark: room handle text on a translucent strip
    noise: float = 0.0  # Gaussian sigma in 0..255 units, on luma, fixed per frame
    jpeg: int | None = None  # re-encoding quality 1..100 (IJG scaling of Annex K tables)

    def __post_init__(self) -> None:
        object.__setattr__(self, "crop", tuple(float(v) for v in self.crop))  # hashable even if given a list
        if self.pad_mode not in ("solid", "blur"):
            raise ValueError(f"pad_mode must be 'solid' or 'blur', not {self.pad_mode!r}")
        if len(self.crop) != 4 or self.crop[0] + self.crop[2] >= 0.9 or self.crop[1] + self.crop[3] >= 0.9:
            raise ValueError(f"bad crop {self.crop!r}")
        if not 0.05 <= self.scale <= 1.0:
            raise ValueError(f"scale must be in [0.05, 1], not {self.scale}")
        if self.jpeg is not None and not 1 <= self.jpeg <= 100:
            raise ValueError(f"jpeg quality must be in 1..100, not {self.jpeg}")
        if not -0.3 <= self.brightness <= 0.3 or self.contrast <= 0 or self.noise < 0 or not 0 <= self.pad <= 1:
            raise ValueError("brightness must be in [-0.3, 0.3], contrast > 0, noise >= 0, pad in [0, 1]")

    @property
    def is_identity(self) -> bool:
        """True when the look leaves pixels unchanged."""
        return self == _IDENTITY

    @staticmethod
    def random(rng: np.random.Generator, intensity: str = "mild") -> Look:
        """Draw a look: "none", "mild" (every attack copy), "strong" or "broadcast" (honest co-broadcaster).

        mild: <= 3 % cropped in total, mirror 50 %, scale 0.6-1, brightness +-0.08,
        contrast 0.85-1.15, hue +-20 deg, watermark 80 %, noise <= 6, JPEG 50-90.
        strong: the same plus 5-10 % of each axis cropped, rotation +-4 deg and, for half of
        them, 20 % padding (solid or blur). broadcast: channel logo, scale 0.75-1, JPEG 60-90.
        """
        if intensity == "none":
            return Look()
        u = rng.random(16)
        overlay = int(rng.integers(0, 2**31))
        if intensity == "broadcast":
            # Honest relay of a public event: channel logo, re-encode, tiny resize.
            return Look(
                scale=float(0.75 + 0.25 * u[0]),
                brightness=float(0.04 * (u[1] - 0.5)),
                contrast=float(0.95 + 0.1 * u[2]),
                overlay=overlay,
                jpeg=int(60 + 31 * u[3]),
            )
        if intensity not in ("mild", "strong"):
            raise ValueError(f"unknown intensity {intensity!r}")
        common = dict(
            mirror=bool(u[4] < 0.5),
            scale=float(0.6 + 0.4 * u[5]),
            brightness=float(0.16 * (u[6] - 0.5)),
            contrast=float(0.85 + 0.3 * u[7]),
            hue=float(40.0 * (u[8] - 0.5)),
            overlay=overlay if u[9] < 0.8 else None,
            noise=float(6.0 * u[10]),
            jpeg=int(50 + 41 * u[11]),
        )
        if intensity == "mild":
            # <= 3 % cropped in total, split over the four sides. PDQ itself cannot absorb
            # 3 % per side (Meta's bridge reference photo moves 60 bits), so per side is out.
            crop = tuple(float(x) for x in 0.03 * u[12] * rng.dirichlet(np.ones(4)))
            return Look(crop=crop, **common)  # type: ignore[arg-type]
        # 5-10 % of each axis cropped, split between its two sides.
        ax = 0.05 + 0.05 * rng.random(2)
        sp = rng.random(2)
        crop = (float(ax[0] * sp[0]), float(ax[1] * sp[1]), float(ax[0] * (1 - sp[0])), float(ax[1] * (1 - sp[1])))
        pad = 0.2 if u[15] < 0.5 else 0.0
        return Look(
            crop=crop,  # type: ignore[arg-type]
            rotate=float(8.0 * (u[13] - 0.5)),
            pad=pad,
            pad_mode="blur" if u[14] < 0.5 else "solid",
            **common,
        )


_IDENTITY = Look()


# ----------------------------------------------------------------------------- drawing helpers
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


# ----------------------------------------------------------------------------- scene generators


def _gen_merchant(c: _Ctx) -> None:
    B, img = c.B, c.img
    wall = _hsv(c.pal[0], 0.05 + 0.25 * c.pal[1], 0.55 + 0.4 * c.pal[2])
    img[:] = _field(B, 3, c.jitter(wall, 3, 60))
    ty = B * c.u(0.55, 0.74)
    if c.u() < 0.5:  # shelf of goods behind the presenter
        sy = B * c.u(0.08, 0.3)
        _rect(img, sy, B * c.u(0, 0.4), B * 0.05, B * c.u(0.3, 0.6), c.col(s=(0.1, 0.4), v=(0.2, 0.6)))
        for _ in range(c.i(2, 6)):
            _put(img, _RECT if c.u() < 0.6 else _BOTTLE, sy - B * 0.12, B * c.u(0, 0.9), B * 0.12, B * c.u(0.04, 0.09), c.col())
    else:  # poster
        _rect(img, B * c.u(0.05, 0.2), B * c.u(0.05, 0.7), B * c.u(0.2, 0.35), B * c.u(0.2, 0.3), c.col(v=(0.3, 1.0)))
    pw = B * c.u(0.35, 0.55)
    _person(c, img, B * c.u(0.2, 0.8), ty + B * 0.05, pw, B * c.u(0.5, 0.7))
    tcol = c.col(h=[0.08, 0.0, 0.6, c.u()][c.i(0, 4)], s=(0.05, 0.7), v=(0.2, 0.95))
    t0 = int(ty)
    img[:, t0:] = tcol
    img[:, t0 : t0 + 2] = np.minimum(tcol * 1.35 + 20, 255)
    if c.u() < 0.4:  # cloth stripes
        img[:, t0 + 3 :: 6] = c.col()
    n = c.i(3, 7)
    for x in sorted(c.u(0.0, 0.9) for _ in range(n)):
        w = B * c.u(0.08, 0.18)
        h = B * c.u(0.1, 0.32)
        shape = [_RECT, _BOTTLE, _ELL, _RECT][c.i(0, 4)]
        y = ty + B * c.u(0.0, 0.12) - h
        _put(img, shape, y, x * B, h, w, c.col(s=(0.5, 1.0), v=(0.4, 1.0)))
        if shape != _ELL:  # label band
            _rect(img, y + h * c.u(0.35, 0.55), x * B, h * 0.22, w, c.col(s=(0.0, 0.3), v=(0.8, 1.0)))
    for _ in range(c.i(1, 4)):  # price tags
        th, tw = B * c.u(0.07, 0.11), B * c.u(0.13, 0.22)
        ty2, tx = B * c.u(0.05, 0.88), B * c.u(0.0, 0.85)
        k = c.i(0, 3)
        _rect(img, ty2, tx, th, tw, [_rgb(255, 230, 40), _rgb(250, 250, 245), _rgb(220, 30, 40)][k])
        _glyphs(c, ty2 + th * 0.2, tx + tw * 0.1, th * 0.6, 4, _rgb(20, 20, 25) if k < 2 else _WHITE)
    if c.u() < 0.5:  # sale banner
        _rect(img, 0, 0, B * 0.1, B, c.col(h=c.pal[3], s=(0.7, 1.0), v=(0.6, 1.0)))
        _glyphs(c, B * 0.02, B * c.u(0.05, 0.4), B * 0.06, c.i(4, 9), _WHITE)


@lru_cache(maxsize=8)
def _bevel(B: int, T: int) -> np.ndarray:
    """Multiplicative tile shading (B, B) so tile maps read as tiles, not flat blocks."""
    p = np.ones(T, np.float32)
    p[0] = 1.25
    p[-1] = 0.7
    row = np.tile(p, B // T + 1)[:B]
    return (row[:, None] * 0.5 + row[None, :] * 0.5).astype(np.float32)


def _gen_gamer(c: _Ctx) -> None:
    B, img = c.B, c.img
    T = 8
    nt = (B + T - 1) // T
    pal = np.stack([c.col(h=c.pal[0] + k * (0.15 + 0.2 * c.pal[1]), s=(0.3, 1.0), v=(0.15, 0.95))[:, 0, 0] for k in range(6)])
    if c.u() < 0.5:  # side-scroller: sky, platforms, ground
        idx = np.zeros((nt, nt), np.int64)
        ground = c.vals(nt)
        for j in range(nt):
            gh = int(nt * (0.65 + 0.25 * ground[j]))
            idx[gh:, j] = 1
            idx[gh, j] = 2
        for _ in range(c.i(2, 5)):
            py, px, pl = c.i(2, nt - 4), c.i(0, nt - 2), c.i(2, 5)
            idx[py, px : px + pl] = 3
    else:  # top-down map: thresholded random field -> terrain classes
        f = _field(nt, 3, c.vals(9).reshape(1, 3, 3))[0] + c.vals(nt * nt).reshape(nt, nt) * 0.35
        idx = np.minimum((f * 4.0).astype(np.int64), 5)
    img[:] = pal.T[:, idx].repeat(T, 1).repeat(T, 2)[:, :B, :B]
    img *= _bevel(B, T)
    for _ in range(c.i(3, 7)):  # sprites with dark outline
        s = B * c.u(0.08, 0.14)
        y, x = B * c.u(0.15, 0.85), B * c.u(0.0, 0.9)
        shape = [_ELL, _DIAM, _PERSON, _RECT][c.i(0, 4)]
        _put(img, shape, y - 1, x - 1, s + 2, s * 0.8 + 2, _BLACK)
        _put(img, shape, y, x, s, s * 0.8, c.col(s=(0.7, 1.0), v=(0.8, 1.0)))
    top = B * 0.1
    reg = img[:, : int(top)]  # translucent HUD bar
    reg *= 0.3
    reg += _rgb(15, 15, 22) * 0.7
    hl = B * c.u(0.15, 0.35)
    _rect(img, top * 0.25, B * 0.03, top * 0.5, hl, _rgb(220, 30, 30))
    _rect(img, top * 0.25, B * 0.03 + hl, top * 0.5, B * 0.35 - hl, _rgb(60, 60, 60))
    _glyphs(c, top * 0.2, B * c.u(0.55, 0.7), top * 0.6, c.i(3, 7), _rgb(250, 240, 120))
    mm = B * c.u(0.18, 0.26)
    corner = c.i(0, 2)
    my, mx = B - mm - 2, (2 if corner else B - mm - 2)
    _rect(img, my, mx, mm, mm, _rgb(25, 30, 35))  # minimap
    for _ in range(5):
        _rect(img, my + c.u(0.1, 0.85) * mm, mx + c.u(0.1, 0.85) * mm, 2, 2, c.col(v=(0.9, 1.0)))
    if c.u() < 0.45:  # face-cam box
        fw = B * c.u(0.22, 0.3)
        fx = B - fw - 2 if corner else 2
        fy = top + 2
        _rect(img, fy, fx, fw, fw, c.col(s=(0.0, 0.3), v=(0.3, 0.7)))
        sub = img[:, int(fy) : int(fy + fw), int(fx) : int(fx + fw)]
        _person(c, sub, fw * 0.5, fw, fw * 0.8, fw * 0.75)


def _gen_chat(c: _Ctx) -> None:
    B, img = c.B, c.img
    wall = _hsv(c.pal[0], 0.1 + 0.4 * c.pal[1], 0.3 + 0.6 * c.pal[2])
    img[:] = _field(B, 3, c.jitter(wall, 3, 50))
    if c.u() < 0.6:
        img[:, int(B * c.u(0.75, 0.9)) :] = c.col(h=0.08, s=(0.2, 0.6), v=(0.2, 0.6))
    for _ in range(c.i(2, 5)):
        kind = c.i(0, 5)
        x, y = B * c.u(0.0, 0.8), B * c.u(0.05, 0.5)
        if kind == 0:  # shelf with books
            w = B * c.u(0.25, 0.45)
            _rect(img, y + B * 0.14, x, B * 0.03, w, c.col(h=0.08, s=(0.3, 0.7), v=(0.2, 0.5)))
            bx = x
            while bx < x + w - 2:
                bw = B * c.u(0.025, 0.05)
                bh = B * c.u(0.08, 0.14)
                _rect(img, y + B * 0.14 - bh, bx, bh, bw, c.col(v=(0.3, 0.9)))
                bx += bw + 1
        elif kind == 1:  # door
            _rect(img, y, x, B * 0.7, B * 0.22, c.col(h=0.08, s=(0.2, 0.6), v=(0.25, 0.7)))
            _put(img, _ELL, y + B * 0.35, x + B * 0.17, 3, 3, _rgb(220, 200, 90))
        elif kind == 2:  # framed picture
            w, h = B * c.u(0.15, 0.3), B * c.u(0.12, 0.25)
            _rect(img, y - 1, x - 1, h + 2, w + 2, _rgb(30, 25, 20))
            sub = img[:, int(y) : int(y + h), int(x) : int(x + w)]
            if sub.size:
                sub[:] = c.col()
                _put(sub, _TRI, sub.shape[1] * 0.3, 0, sub.shape[1] * 0.7, sub.shape[2], c.col())
        elif kind == 3:  # lamp
            _put(img, _ELL, y, x, B * 0.2, B * 0.2, _rgb(255, 245, 200), 0.5)
            _put(img, _ELL, y + B * 0.05, x + B * 0.05, B * 0.1, B * 0.1, _rgb(255, 250, 230))
        else:  # plant
            _put(img, _TREE, y + B * 0.2, x, B * 0.3, B * 0.2, c.col(h=0.3, s=(0.5, 0.9), v=(0.3, 0.7)))
    if c.u() < 0.5:  # RGB LED strip, a streamer classic
        _rect(img, B * c.u(0.0, 0.1), 0, 2, B, c.col(s=(0.9, 1.0), v=(0.9, 1.0)))
    _person(c, img, B * c.u(0.3, 0.7), B * 1.05, B * c.u(0.45, 0.75), B * c.u(0.6, 0.85))
    if c.u() < 0.4:  # microphone on a boom
        mx = B * c.u(0.1, 0.8)
        _rect(img, B * 0.7, mx + 2, B * 0.3, 2, _rgb(30, 30, 30))
        _put(img, _ELL, B * 0.6, mx, B * 0.12, 7, _rgb(40, 40, 45))


@lru_cache(maxsize=8)
def _ramp(B: int) -> np.ndarray:
    """Vertical 0..1 ramp (B, 1) for sky gradients."""
    return np.linspace(0, 1, B, dtype=np.float32)[:, None]


def _gen_outdoor(c: _Ctx) -> None:
    B, img = c.B, c.img
    style = c.i(0, 3)  # 0 day, 1 sunset, 2 overcast
    top = [_hsv(0.6, c.u(0.5, 0.8), c.u(0.6, 0.9)), _hsv(c.u(0.7, 0.8), 0.6, 0.5), _hsv(0.6, 0.05, c.u(0.5, 0.7))][style]
    bot = [_hsv(0.55, 0.25, 0.95), _hsv(c.u(0.02, 0.1), 0.7, 0.95), _hsv(0.6, 0.03, c.u(0.7, 0.85))][style]
    img[:] = top + (bot - top) * _ramp(B)
    for _ in range(c.i(0, 5)):  # clouds
        w = B * c.u(0.15, 0.4)
        _put(img, _ELL, B * c.u(0.0, 0.3), B * c.u(-0.1, 0.9), w * c.u(0.3, 0.5), w, _WHITE, c.u(0.5, 0.9))
    if style == 1 or c.u() < 0.3:  # sun
        s = B * c.u(0.08, 0.15)
        _put(img, _ELL, B * c.u(0.1, 0.35), B * c.u(0.1, 0.8), s, s, _rgb(255, 240, 190))
    yy = np.arange(B, dtype=np.float32)[:, None]
    hz = c.u(0.35, 0.6)
    far = B * (hz - 0.05 - 0.2 * (_up_matrix(B, 7) @ c.vals(7)))
    np.copyto(img, _hsv(c.u(0.55, 0.7), c.u(0.1, 0.4), c.u(0.35, 0.65)), where=yy >= far)
    near = B * (hz + 0.06 * (_up_matrix(B, 5) @ c.vals(5)))
    gcol = _hsv([0.28, 0.1, 0.14, 0.3][c.i(0, 4)], c.u(0.35, 0.8), c.u(0.3, 0.6))
    np.copyto(img, _field(B, 4, c.jitter(gcol, 4, 70)), where=yy >= near)
    if c.u() < 0.3:  # water band with light streaks
        wy = B * c.u(0.75, 0.88)
        _rect(img, wy, 0, B, B, _hsv(0.58, 0.5, 0.55))
        for k in range(int(wy) + 2, B, 4):
            _rect(img, k, B * c.u(0, 0.6), 1, B * c.u(0.1, 0.4), _hsv(0.55, 0.2, 0.85))
    if c.u() < 0.35:  # city skyline with lit windows
        x = 0.0
        wc = _rgb(250, 230, 150)
        while x < B:
            w, h = B * c.u(0.08, 0.18), B * c.u(0.1, 0.4)
            y = near[min(int(x), B - 1)] - h
            _rect(img, y, x, h + 2, w, _hsv(c.u(0.55, 0.65), c.u(0.0, 0.2), c.u(0.2, 0.5)))
            img[:, max(int(y) + 2, 0) : int(y + h) : 3, max(int(x) + 2, 0) : int(x + w) - 1 : 3] = wc
            x += w + c.u(0, 4)
    for _ in range(c.i(4, 13)):  # trees
        x = B * c.u(-0.05, 0.95)
        s = B * c.u(0.1, 0.35)
        base = near[min(max(int(x + s / 3), 0), B - 1)] + B * c.u(0.0, 0.3)
        tc = _hsv(c.u(0.22, 0.38), c.u(0.4, 0.9), c.u(0.15, 0.5))
        _put(img, _CONE if c.u() < 0.5 else _TREE, base - s, x, s, s * c.u(0.45, 0.75), tc)


def _gen_event(c: _Ctx, ev: list[float]) -> None:
    """ev: per-event constants (style, team colours) shared by every shot of the event."""
    B, img = c.B, c.img
    white = _rgb(240, 240, 240)
    if ev[0] < 0.6:  # sports: stands, ad boards, striped pitch, players, score bug
        close = c.u() < 0.35
        stripe = max(B // (6 if close else 10), 1)
        g0 = _hsv(0.3 + 0.04 * ev[1], 0.6, 0.55)
        img[:] = g0
        for k in range(stripe, B, 2 * stripe):  # mowing stripes
            img[:, :, k : k + stripe] *= 0.85
        cy = int(B * c.u(0.15, 0.3)) if not close else int(B * c.u(0.0, 0.12))
        if cy > 0:
            # Crowd: 2-px mosaic of shirt colours, dimmed.
            ch = (cy + 1) // 2
            m = c.vals(3 * ch * (B // 2)).reshape(3, ch, B // 2) * 140 + 15
            img[:, :cy] = m.repeat(2, 1).repeat(2, 2)[:, :cy]
            bh = max(2, int(B * 0.05))
            x = 0.0
            while x < B:  # advertising boards
                w = B * c.u(0.15, 0.3)
                bc = _hsv(c.u(), c.u(0.5, 1.0), c.u(0.5, 1.0))
                _rect(img, cy, x, bh, w, bc)
                _glyphs(c, cy + 1, x + 2, bh - 2, int(w / 3), white if bc.mean() < 140 else _BLACK)
                x += w
            cy += bh
        lx = B * c.u(0.1, 0.9)
        lw = 2 if not close else 3
        _rect(img, cy, lx, B, lw, white)
        r = B * c.u(0.25, 0.5)
        _put(img, _RING, B * c.u(0.3, 0.7) - r / 2, lx - r / 2, r, r * 1.4, white, 0.9)
        _rect(img, cy + 1, 0, lw, B, white)
        if c.u() < 0.6:  # penalty box
            bx = B * (c.u(-0.1, 0.1) if c.u() < 0.5 else c.u(0.7, 0.9))
            _rect(img, B * c.u(0.35, 0.5), bx, lw, B * 0.3, white)
            _rect(img, B * c.u(0.35, 0.5), bx + B * 0.3, B * 0.4, lw, white)
        tc = [_hsv(ev[2], 0.85, 0.9), _hsv(ev[3], 0.8, 0.35 + 0.6 * ev[4])]
        shorts = [_WHITE, _rgb(20, 20, 30)]
        for k in range(c.i(6, 14) if not close else c.i(2, 5)):
            s = B * (c.u(0.1, 0.18) if not close else c.u(0.25, 0.45))
            py, px = B * c.u(0.35, 0.95) - s, B * c.u(-0.05, 0.95)
            _put(img, _RECT, py + s * 0.85, px + s * 0.14, s * 0.3, s * 0.27, shorts[k % 2])
            _put(img, _PERSON, py, px, s * 0.9, s * 0.55, tc[k % 2])
        _put(img, _ELL, B * c.u(0.4, 0.9), B * c.u(0.1, 0.9), 3, 3, white)  # ball
        _rect(img, B * 0.04, B * 0.04, B * 0.09, B * 0.4, _rgb(20, 20, 60))  # score bug
        _rect(img, B * 0.04, B * 0.04, B * 0.09, B * 0.06, tc[0])
        _glyphs(c, B * 0.055, B * 0.12, B * 0.06, 7, white)
    else:  # concert: dark stage, light rig, beams, LED screen, performers, crowd
        img[:] = _field(B, 3, c.jitter(_hsv(ev[1], 0.6, 0.15) + 20, 3, 40))
        sx, sw = B * c.u(0.1, 0.35), B * c.u(0.35, 0.55)
        _rect(img, B * 0.12, sx, B * 0.35, sw, _hsv(ev[2] + c.u(-0.1, 0.1), 0.7, 0.8))
        for _ in range(c.i(4, 9)):  # visuals on the LED screen
            s = B * c.u(0.05, 0.15)
            _put(img, [_ELL, _DIAM, _RING][c.i(0, 3)], B * c.u(0.12, 0.4), sx + c.u(0, sw - s), s, s, c.col(s=(0.6, 1.0), v=(0.7, 1.0)))
        lamp = _rgb(255, 250, 220)
        for k in range(int(B // 6)):  # light rig
            _put(img, _ELL, B * 0.03, k * 6 + 1, 3, 3, lamp)
        for _ in range(c.i(4, 8)):  # beams
            w = B * c.u(0.12, 0.3)
            _put(img, _TRI, B * 0.04, B * c.u(-0.1, 0.9), B * c.u(0.5, 0.9), w, _hsv(ev[3] + c.u(-0.15, 0.15), 0.6, 1.0), c.u(0.3, 0.6))
        _rect(img, B * 0.62, 0, B, B, _rgb(35, 30, 40))
        for _ in range(c.i(1, 4)):
            s = B * c.u(0.3, 0.5)
            _put(img, _PERSON, B * 0.62 - s * 0.9, B * c.u(0.1, 0.8), s, s * 0.45, _rgb(15, 12, 20))
        for _ in range(c.i(15, 30)):  # confetti / pyro sparks
            _rect(img, B * c.u(0.0, 0.6), B * c.u(0.0, 1.0), 2, 2, c.col(s=(0.0, 1.0), v=(0.8, 1.0)))
        phone = _rgb(230, 240, 255)
        for _ in range(32):  # crowd heads, rim-lit by the stage colours, and raised phones
            s = B * c.u(0.07, 0.15)
            hx = B * c.u(-0.05, 1.0)
            _put(img, _ELL, B * c.u(0.7, 0.95), hx, s, s * 0.9, _hsv(ev[3] + c.u(-0.2, 0.2), c.u(0.3, 0.9), c.u(0.03, 0.4)))
            if c.u() < 0.3:
                _rect(img, B * c.u(0.62, 0.8), hx, 3, 2, phone)


@lru_cache(maxsize=8)
def _grids(B: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index grids (B, 1), (1, B)."""
    return np.arange(B)[:, None], np.arange(B)[None, :]


def _gen_clip(c: _Ctx) -> None:
    """Abstract high-contrast stand-in for contraband video: bold geometric shapes only."""
    B, img = c.B, c.img
    bg = [_rgb(5, 5, 8), _rgb(245, 245, 240), c.col(s=(0.8, 1.0), v=(0.5, 1.0))][c.i(0, 3)]
    img[:] = _field(B, 2, c.jitter(bg, 2, 80))
    yy, xx = _grids(B)
    # A couple of large forms, then many small ones: busy compositions keep PDQ stable
    # under watermarks and crops (few-big-shape frames lost ~20 % more mild copies).
    n_big = c.i(1, 3)
    for k in range(n_big + c.i(12, 20)):
        kind = c.i(0, 6)
        if c.u() < 0.8:
            col = c.col(s=(0.7, 1.0), v=(0.6, 1.0))
        else:
            col = _rgb(*[c.u(0, 30)] * 3) if c.u() < 0.5 else _WHITE
        s = B * (c.u(0.45, 0.8) if k < n_big else c.u(0.1, 0.35))
        y, x = B * c.u(-0.2, 0.95), B * c.u(-0.2, 0.95)
        if kind == 0:
            _put(img, _ELL, y, x, s, s * c.u(0.7, 1.3), col)
        elif kind == 1:
            _put(img, _RING, y, x, s, s, col)
        elif kind == 2:
            _put(img, _TRI, y, x, s, s * c.u(0.8, 1.4), col)
        elif kind == 3:  # bar
            if c.u() < 0.5:
                _rect(img, y, 0, B * c.u(0.04, 0.1), B, col)
            else:
                _rect(img, 0, x, B, B * c.u(0.04, 0.1), col)
        elif kind == 4:  # checker / stripe patch
            p = c.i(3, 7)
            y0, x0 = max(int(y), 0), max(int(x), 0)
            y1, x1 = min(int(y + s), B), min(int(x + s), B)
            if y0 < y1 and x0 < x1:
                if c.u() < 0.5:
                    m = ((yy[y0:y1] // p + xx[:, x0:x1] // p) % 2) == 0
                else:
                    m = ((yy[y0:y1] + xx[:, x0:x1]) // p) % 2 == 0
                np.copyto(img[:, y0:y1, x0:x1], col, where=m)
        else:
            _put(img, _DIAM, y, x, s, s, col)


_GENERATORS = {MERCHANT: _gen_merchant, GAMER: _gen_gamer, CHAT: _gen_chat, OUTDOOR: _gen_outdoor, CLIP: _gen_clip}


# ----------------------------------------------------------------------------- look operators
# Look frames are carried as YCbCr with 4:2:0 chroma (as the platform's video codec carries
# them), chroma centred on 0. Geometry, colour and the JPEG DCT are all linear, so the colour
# matrix is applied on input, the 128 chroma bias never needs adding, and chroma is resampled
# straight to half resolution by its own (cheaper) geometry matrices.

_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def _resample(n_out: int, n_in: int, lo: float, hi: float) -> np.ndarray:
    """Linear map (n_out, n_in) resampling source interval [lo, hi) px onto n_out px (tent filter, antialiased)."""
    step = (hi - lo) / n_out
    sup = max(1.0, step)
    cen = lo + (np.arange(n_out) + 0.5) * step - 0.5
    j = np.arange(n_in)
    m = np.maximum(0.0, 1.0 - np.abs(j[None, :] - cen[:, None]) / sup)
    s = m.sum(1, keepdims=True)
    # Centres past the edge (crop rounding) fall back to the nearest pixel.
    dead = s[:, 0] <= 1e-9
    if dead.any():
        m[dead, np.clip(np.rint(cen[dead]).astype(int), 0, n_in - 1)] = 1.0
        s = m.sum(1, keepdims=True)
    return m / s


@lru_cache(maxsize=8192)
def _axis_op(S: int, lo: int, hi: int, flip: bool, m: int, pad: int, half: bool = False) -> np.ndarray:
    """One axis of the separable geometry: crop (quarter-px units) -> flip -> pad (percent) -> downscale to m and back.

    With half=True the result is further 2:1 box-averaged: the chroma (4:2:0) operator.
    """
    if half:
        full = _axis_op(S, lo, hi, flip, m, pad)
        out = np.ascontiguousarray(0.5 * (full[0::2] + full[1::2]), dtype=np.float32)
        out.flags.writeable = False
        return out
    op = _resample(S, S, lo / 4.0, S - hi / 4.0)
    if flip:
        op = op[::-1]
    if pad:
        w_in = max(2, int(round(S / (1 + 2 * pad / 100.0))))
        off = (S - w_in) // 2
        p = np.zeros((S, S))
        p[off : off + w_in] = _resample(w_in, S, 0, S)
        op = p @ op
    if m < S:
        op = _resample(S, m, 0, m) @ _resample(m, S, 0, S) @ op
    out = np.ascontiguousarray(op, dtype=np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=64)
def _blur_op(S: int) -> np.ndarray:
    """Heavy Gaussian blur along one axis (background of "blur" padding)."""
    x = np.arange(S)
    m = np.exp(-0.5 * ((x[:, None] - x[None, :]) / (S / 12.0)) ** 2)
    return (m / m.sum(1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=256)
def _rot_map(S: int, tenth_deg: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear gather (indices, weights) of a rotation about the centre; outside -> black."""
    th = math.radians(tenth_deg / 10.0)
    c0 = (S - 1) / 2.0
    v, u = np.mgrid[0:S, 0:S].astype(np.float64)
    x = math.cos(th) * (u - c0) + math.sin(th) * (v - c0) + c0
    y = -math.sin(th) * (u - c0) + math.cos(th) * (v - c0) + c0
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx, fy = x - x0, y - y0
    idx, wts = [], []
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < S) & (xx >= 0) & (xx < S)
        idx.append(np.where(ok, yy * S + xx, 0).astype(np.intp).ravel())
        wts.append(np.where(ok, w, 0.0).astype(np.float32).ravel())
    return np.stack(idx), np.stack(wts)


def _hue_matrix(deg: float) -> np.ndarray:
    """RGB 3x3 hue rotation (rotation of the I/Q chroma plane of YIQ; keeps luma)."""
    t = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    a = math.radians(deg)
    r = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    return np.linalg.inv(t) @ r @ t


# JPEG: standard ITU-T T.81 Annex K tables, IJG quality scaling, 8x8 orthonormal DCT-II.
_JPEG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)  # fmt: skip
_JPEG_CHROMA = np.full(64, 99.0)
_JPEG_CHROMA[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25, 32]] = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 47, 66, 99]


@lru_cache(maxsize=128)
def _jpeg_tables(q: int) -> np.ndarray:
    """(4, 64) float32: luma table, 1/luma, chroma table, 1/chroma at IJG quality q."""
    s = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
    lum = np.clip(np.floor((_JPEG_LUMA * s + 50) / 100), 1, 255)
    chm = np.clip(np.floor((_JPEG_CHROMA * s + 50) / 100), 1, 255)
    return np.stack([lum, 1 / lum, chm, 1 / chm]).astype(np.float32)


def _dct_kron() -> np.ndarray:
    """kron(D, D) for the orthonormal 8-point DCT-II: flattened 8x8 block -> coefficients."""
    k = np.arange(8)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return np.kron(d, d).astype(np.float32)


_DCT = _dct_kron()
_DCT_T = np.ascontiguousarray(_DCT.T)


def _quantise_blocks(blocks: np.ndarray, q: np.ndarray, qi: np.ndarray, dc: float) -> np.ndarray:
    """JPEG round trip of blocks (n, k, 64) with per-frame tables q, 1/q (n, 64); dc = level shift."""
    # Stacked matmul: one (k, 64) x (64, 64) GEMM per frame stays under OpenBLAS's
    # threading threshold; a single big GEMM goes multi-threaded and, on a busy machine,
    # spends milliseconds waking threads for microseconds of work.
    c = np.matmul(blocks, _DCT_T)
    if dc:
        c[:, :, 0] -= dc
    c *= qi[:, None, :]
    np.rint(c, out=c)
    c *= q[:, None, :]
    if dc:
        c[:, :, 0] += dc
    return np.matmul(c, _DCT)


def _jpeg_luma(y: np.ndarray, q: np.ndarray, qi: np.ndarray) -> np.ndarray:
    """JPEG round trip of luma planes (n, S, S) (0..255): returns (n, S, S)."""
    n, S, _ = y.shape
    b = S // 8
    blk = y.reshape(n, b, 8, b, 8).transpose(0, 1, 3, 2, 4).reshape(n, b * b, 64)
    out = _quantise_blocks(blk, q, qi, 1024.0)  # level shift -128 is -1024 on the DC term
    return out.reshape(n, b, b, 8, 8).transpose(0, 1, 3, 2, 4).reshape(n, S, S)


def _jpeg_chroma(c: np.ndarray, q: np.ndarray, qi: np.ndarray) -> np.ndarray:
    """JPEG round trip of centred chroma (n, H, 2, H) at half resolution: returns the same layout."""
    n, H = c.shape[0], c.shape[1]
    b = H // 8
    blk = c.reshape(n, b, 8, 2, b, 8).transpose(0, 3, 1, 4, 2, 5).reshape(n, 2 * b * b, 64)
    out = _quantise_blocks(blk, q, qi, 0.0)
    return out.reshape(n, 2, b, b, 8, 8).transpose(0, 2, 4, 1, 3, 5).reshape(n, H, 2, H)


_SYL = ["ka", "zu", "mi", "ro", "xo", "li", "na", "vex", "qu", "ty", "bo", "ra", "neo", "pix", "max", "jo", "sun", "dee", "tv", "live"]


def handle_text(seed: int) -> str:
    """The room handle / watermark text drawn by an overlay seed."""
    r = _rng(_SALT_OVERLAY, seed)
    k = r.integers(0, len(_SYL), 3)
    return "@" + _SYL[k[0]] + _SYL[k[1]] + ("_" if k[2] % 2 else "") + str(int(r.integers(10, 1000)))


@lru_cache(maxsize=16)
def _font(px: int):
    """PIL's bundled default font (FreeType) at a pixel size; cached."""
    from PIL import ImageFont

    return ImageFont.load_default(size=px)


@lru_cache(maxsize=32768)  # ~6 KB each at size 64
def _overlay(S: int, seed: int) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Watermark of a seed in YCbCr: rows [r0, r1) blend as v*keep + add, for luma (h, S) and chroma (h/2, 2, S/2)."""
    from PIL import Image, ImageDraw

    r = _rng(_SALT_OVERLAY, seed, 1)
    u = r.random(6)
    text = handle_text(seed)
    # A semi-transparent corner watermark, as re-streamers stamp their handle. Opaque
    # labels and full-width strips were tried: alone they move PDQ by ~36 bits (median).
    fs = max(6, int(round(S * 0.10)))
    font = _font(fs)
    h = (int(round(fs * 1.3)) + 1) & ~1  # even, so chroma rows align
    img = Image.new("L", (S, h), 0)
    d = ImageDraw.Draw(img)
    tw = int(d.textlength(text, font=font)) + 4
    layout = int(u[0] * 4)  # corner: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
    x0, x1 = (2, min(S, 2 + tw)) if layout % 2 == 0 else (max(0, S - 2 - tw), S - 2)
    d.text((x0 + 2, (h - fs) // 2 - 1), text, fill=255, font=font)
    a_t = np.asarray(img, dtype=np.float64) / 255.0 * (0.35 + 0.2 * u[3])
    y0 = 2 if layout < 2 else S - h - 2
    a_s = np.zeros((h, S))
    a_s[:, x0:x1] = 0.1 + 0.15 * u[1]
    strip_c = _YCC @ _hsv(u[2], 0.8 * u[3], 0.1 + 0.4 * u[4])[:, 0, 0]
    text_c = _YCC @ (np.full(3, 255.0) if u[5] < 0.8 else _hsv(u[2] + 0.5, 0.6, 1.0)[:, 0, 0])
    keep = (1 - a_s) * (1 - a_t)
    add = (a_s * (1 - a_t))[None] * strip_c[:, None, None] + a_t[None] * text_c[:, None, None]  # (3, h, S)
    half = lambda p: 0.25 * (p[..., 0::2, 0::2] + p[..., 1::2, 0::2] + p[..., 0::2, 1::2] + p[..., 1::2, 1::2])
    keep_c = np.repeat(half(keep)[:, None, :], 2, 1)
    add_c = half(add[1:]).transpose(1, 0, 2)
    f = lambda a: np.ascontiguousarray(a, dtype=np.float32)
    return y0, y0 + h, f(keep), f(add[0]), f(keep_c), f(add_c)


class _LookOps:
    """Everything a Look needs per frame, precomputed once per Look."""

    __slots__ = ("blur", "digest", "fast", "jpeg", "mat", "offset", "overlay", "pad_op", "pre_x", "pre_y", "rot", "rxct", "rxt", "ry", "ryc", "scale_op", "sigma")

    def __init__(self, look: Look, S: int) -> None:
        q = lambda f: int(round(min(max(f, 0.0), 0.45) * S * 4))
        l, t, r, b = (q(v) for v in look.crop)
        m = int(min(S, max(4, round(S * look.scale))))  # re-encoding happens at an integer size
        pad = int(round(look.pad * 100))
        self.rot = int(round(look.rotate * 10))
        self.blur = pad > 0 and look.pad_mode == "blur"
        self.fast = self.rot == 0 and not self.blur
        if self.fast:
            self.ry = _axis_op(S, t, b, False, m, pad)
            self.rxt = _axis_op(S, l, r, look.mirror, m, pad).T
            self.ryc = _axis_op(S, t, b, False, m, pad, True)
            self.rxct = _axis_op(S, l, r, look.mirror, m, pad, True).T
        else:
            self.pre_y = _axis_op(S, t, b, False, S, 0)
            self.pre_x = _axis_op(S, l, r, look.mirror, S, 0)
            self.pad_op = _axis_op(S, 0, 0, False, S, pad) if pad else None
            self.scale_op = _axis_op(S, 0, 0, False, m, 0) if m < S else None
        # Colour: rgb' = contrast * hue(rgb) + offset, contrast about mid-grey; as YCbCr the
        # offset only touches luma because the chroma rows of the transform sum to zero.
        a = look.contrast * (_hue_matrix(look.hue) if look.hue else np.eye(3))
        self.mat = np.ascontiguousarray((_YCC @ a).T, dtype=np.float32)
        self.offset = float(128.0 * (1 - look.contrast) + 255.0 * look.brightness)
        self.overlay = look.overlay
        self.sigma = float(look.noise)
        self.jpeg = look.jpeg
        rep = repr(tuple(getattr(look, f.name) for f in fields(look))).encode()
        self.digest = int.from_bytes(hashlib.blake2b(rep, digest_size=8).digest(), "little")


# ----------------------------------------------------------------------------- renderer


_CHUNK = 16


class _Shot:
    __slots__ = ("img", "sh", "spr_mask", "spr_rgb", "sw")

    def __init__(self, img: np.ndarray, spr_rgb: np.ndarray | None, spr_mask: np.ndarray | None) -> None:
        self.img = img
        self.spr_rgb = spr_rgb
        self.spr_mask = spr_mask
        self.sh = 0 if spr_rgb is None else spr_rgb.shape[0]
        self.sw = 0 if spr_rgb is None else spr_rgb.shape[1]


class Renderer:
    """Renders batches of keyframes for (kind, seed, t, look) tuples; deterministic, cached, vectorised."""

    def __init__(self, size: int = 64, cache_entries: int = 20_000, look_cache: int = 65_536) -> None:
        """size must be a multiple of 16; cache_entries bounds base images (~size*size*1.56*3 bytes each)."""
        if size % 16 or size < 32:
            raise ValueError("size must be a multiple of 16 and >= 32")
        self.size = size
        self.base = size + size // 4
        self.cache_entries = int(cache_entries)
        self.look_cache = int(look_cache)
        self._cache: OrderedDict[tuple[int, int, int], _Shot] = OrderedDict()
        self._looks: OrderedDict[Look, _LookOps] = OrderedDict()
        self._noise: np.ndarray | None = None
        B = self.base
        g = _rng(_SALT_BANK, size).standard_normal((2 * B, 2 * B)).astype(np.float32)
        self._grain = g * 3.0  # sensor grain: the texture PDQ's quality metric expects
        self.hits = 0
        self.misses = 0

    # -- schedules -------------------------------------------------------------------------

    def shots(self, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shot index and time within the shot for every frame (vectorised)."""
        kinds = np.asarray(kinds, np.int64)
        seeds = np.asarray(seeds, np.int64)
        t = np.asarray(t, np.float64)
        shot = np.zeros(len(t), np.int64)
        tin = np.zeros(len(t), np.float64)
        h = _vmix(_SALT_SCHED, kinds, seeds)
        u1 = _unit(h)
        u2 = _unit(_vmix(h, 1))
        lo = np.zeros(len(t))
        hi = np.ones(len(t))
        for k, (a, b) in _SHOT_RANGE.items():
            sel = kinds == k
            lo[sel], hi[sel] = a, b
        length = lo + (hi - lo) * u1
        tt = t + u2 * length  # per-room phase so rooms do not cut in lockstep
        sh = np.floor(tt / length)
        shot[:] = sh.astype(np.int64)
        tin[:] = tt - sh * length
        clip = np.flatnonzero(kinds == CLIP)
        if clip.size:
            cs = seeds[clip]
            for cid in np.unique(cs).tolist():
                sel = clip[cs == cid]
                loop, bounds = _clip_schedule(cid)
                tm = np.mod(t[sel], loop)
                k = np.searchsorted(bounds, tm, side="right") - 1
                shot[sel] = k
                tin[sel] = tm - bounds[k]
        return shot, tin

    # -- base images -----------------------------------------------------------------------

    def _make(self, kind: int, seed: int, shot: int) -> _Shot:
        B = self.base
        rng = _rng(_SALT_SHOT, kind, seed, shot)
        # Room palette (and an event's team colours) come from (kind, seed), not the shot,
        # so shots of one room share a look.
        h = _mixi(_SALT_ROOM, kind, seed)
        pal = [((h >> (12 * k)) & 0xFFF) / 4096.0 for k in range(5)]
        c = _Ctx(B, rng, pal)
        if kind == EVENT:
            _gen_event(c, pal)
        elif kind in _GENERATORS:
            _GENERATORS[kind](c)
        else:
            raise ValueError(f"unknown kind {kind}")
        img = c.img
        gy, gx = c.i(0, B), c.i(0, B)
        img += self._grain[gy : gy + B, gx : gx + B]
        np.clip(img, 0, 255, out=img)
        base = np.ascontiguousarray(img.transpose(1, 2, 0), dtype=np.uint8)
        # One moving sprite per shot (ball, bird, cursor, floating shape).
        s = max(3, int(self.size * c.u(0.07, 0.13)))
        shape = [_ELL, _DIAM, _RING, _TRI][c.i(0, 4)]
        mask = (_stamp(shape, s, s) > 0.5)[:, :, None]
        col = c.col(s=(0.6, 1.0), v=(0.7, 1.0)) if kind != OUTDOOR else _rgb(30, 30, 35)
        rgb = np.broadcast_to(col[:, 0, 0].astype(np.uint8), (s, s, 3)).copy()
        return _Shot(base, rgb, mask)

    def base_image(self, kind: int, seed: int, shot: int) -> np.ndarray:
        """The cached base image (base x base x 3 uint8) of a shot."""
        return self._get(int(kind), int(seed), int(shot)).img

    def _get(self, kind: int, seed: int, shot: int) -> _Shot:
        key = (kind, seed, shot)
        e = self._cache.get(key)
        if e is None:
            e = self._make(kind, seed, shot)
            self._cache[key] = e
            if len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
        return e

    # -- rendering -------------------------------------------------------------------------

    def render(self, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray, looks: list[Look | None] | None = None) -> np.ndarray:
        """Render frames (n, size, size, 3) uint8 for per-frame kind, source seed, source time and look."""
        kinds = np.asarray(kinds, np.int64).ravel()
        seeds = np.asarray(seeds, np.int64).ravel()
        t = np.asarray(t, np.float64).ravel()
        n = len(kinds)
        if len(seeds) != n or len(t) != n or (looks is not None and len(looks) != n):
            raise ValueError("kinds, seeds, t and looks must have the same length")
        if n and (kinds.min() < 0 or kinds.max() > CLIP):
            raise ValueError("unknown kind")
        if not np.isfinite(t).all():
            raise ValueError("t must be finite")
        S, M = self.size, self.base - self.size
        out = np.empty((n, S, S, 3), np.uint8)
        if n == 0:
            return out
        shot, tin = self.shots(kinds, seeds, t)
        # Motion parameters hashed from the shot key, vectorised.
        h = _vmix(_SALT_SHOT, kinds, seeds, shot)
        amp, plo, phi, samp, slo, shi = (np.zeros(n) for _ in range(6))
        for k, (a, (p0, p1), sa, (s0, s1)) in _MOTION.items():
            sel = kinds == k
            amp[sel], plo[sel], phi[sel], samp[sel], slo[sel], shi[sel] = a, p0, p1, sa, s0, s1
        us = [_unit(_vmix(h, j)) for j in range(8)]
        tau = 2 * np.pi
        per = plo + (phi - plo) * us[0]
        ox = M * (0.5 + 0.5 * amp * np.sin(tau * (tin / per + us[1])))
        oy = M * (0.5 + 0.15 * amp * np.sin(tau * (tin / (per * 1.37) + us[2])))
        sper = slo + (shi - slo) * us[3]
        # Sprite path: sinusoid of amplitude samp around a hashed centre, kept inside the frame.
        fx = 0.5 * samp + (1 - samp) * us[6] + 0.5 * samp * np.sin(tau * (tin / sper + us[4]))
        fy = 0.5 * samp + (1 - samp) * us[7] + 0.5 * samp * np.sin(tau * (tin / (sper * 0.71) + us[5]))
        oxl = np.clip(np.rint(ox), 0, M).astype(np.int64).tolist()
        oyl = np.clip(np.rint(oy), 0, M).astype(np.int64).tolist()
        fxl, fyl = fx.tolist(), fy.tolist()
        kl, sl, shl = kinds.tolist(), seeds.tolist(), shot.tolist()

        cache = self._cache
        get = cache.get
        mte = cache.move_to_end
        cap = self.cache_entries
        make = self._make
        copyto = np.copyto
        miss = 0
        for i in range(n):
            key = (kl[i], sl[i], shl[i])
            e = get(key)
            if e is None:
                e = make(*key)
                cache[key] = e
                miss += 1
                if len(cache) > cap:
                    cache.popitem(last=False)
            else:
                mte(key)
            x = oxl[i]
            y = oyl[i]
            o = out[i]
            o[:] = e.img[y : y + S, x : x + S]
            if e.sh:
                py = int(fyl[i] * (S - e.sh))
                px = int(fxl[i] * (S - e.sw))
                copyto(o[py : py + e.sh, px : px + e.sw], e.spr_rgb, where=e.spr_mask)
        self.misses += miss
        self.hits += n - miss

        if looks is not None:
            self._apply_looks(out, kinds, seeds, t, looks)
        return out

    def _ops(self, look: Look) -> _LookOps | None:
        c = self._looks
        ops = c.get(look)
        if ops is None:
            if look == _IDENTITY:
                return None
            ops = _LookOps(look, self.size)
            c[look] = ops
            if len(c) > self.look_cache:
                c.popitem(last=False)
        else:
            c.move_to_end(look)
        return ops

    def _noise_bank(self) -> np.ndarray:
        if self._noise is None:
            S = self.size
            # A fixed bank of unit Gaussian luma fields; each frame picks one by hash, which
            # is deterministic per frame and ~20x cheaper than drawing fresh normals.
            self._noise = _rng(_SALT_BANK, S, 1).standard_normal((128, S, S)).astype(np.float32)
        return self._noise

    def _apply_looks(self, out: np.ndarray, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray, looks: list[Look | None]) -> None:
        ops_of = self._ops
        idx: list[int] = []
        ops: list[_LookOps] = []
        for i, lk in enumerate(looks):
            if lk is not None:
                o = ops_of(lk)
                if o is not None:
                    idx.append(i)
                    ops.append(o)
        if not idx:
            return
        ia = np.asarray(idx)
        # Noise field per frame: hash of (look, kind, seed, exact t), so it is fixed per frame.
        dig = np.array([o.digest for o in ops], dtype=np.uint64)
        pick = (_vmix(_SALT_NOISE, dig, kinds[ia], seeds[ia], t[ia].view(np.uint64)) % np.uint64(128)).astype(np.intp).tolist()
        # Chunks of 16 frames keep every temporary in L2 and below malloc's mmap threshold;
        # whole-batch temporaries (MBs each) cost more in page faults than in arithmetic.
        for a in range(0, len(idx), _CHUNK):
            self._look_chunk(out, ia[a : a + _CHUNK], ops[a : a + _CHUNK], pick[a : a + _CHUNK])

    def _look_chunk(self, out: np.ndarray, ia: np.ndarray, ops: list[_LookOps], pick: list[int]) -> None:
        S, H = self.size, self.size // 2
        n = len(ia)
        matmul = np.matmul
        # Colour matrix (to YCbCr, contrast, hue) on input; linear, so it commutes with geometry.
        x = matmul(out[ia].reshape(n, S * S, 3).astype(np.float32), np.stack([o.mat for o in ops]))
        x = x.reshape(n, S, S, 3)
        yin = np.ascontiguousarray(x[..., 0])
        cin = np.ascontiguousarray(x[..., 1:].transpose(0, 1, 3, 2)).reshape(n, S, 2 * S)
        y = np.empty((n, S, S), np.float32)
        c = np.empty((n, H, 2, H), np.float32)
        cv = c.reshape(n, S, H)
        for j, o in enumerate(ops):
            # Per-frame GEMMs: stacking per-frame matrices cost more than the call overhead.
            if o.fast:
                matmul(matmul(o.ry, yin[j]), o.rxt, out=y[j])
                matmul(matmul(o.ryc, cin[j]).reshape(S, S), o.rxct, out=cv[j])
            else:
                p = self._slow_geometry(np.ascontiguousarray(x[j].transpose(2, 0, 1)), o)
                y[j] = p[0]
                ch = p[1:]  # (2, S, S) -> 4:2:0 layout (H, 2, H)
                c[j] = (0.25 * (ch[:, 0::2, 0::2] + ch[:, 1::2, 0::2] + ch[:, 0::2, 1::2] + ch[:, 1::2, 1::2])).transpose(1, 0, 2)
        # Brightness/contrast offset (luma only); +0.5 makes the final float->uint8 cast round.
        y += np.array([o.offset + 0.5 for o in ops], np.float32)[:, None, None]
        for j, o in enumerate(ops):
            if o.overlay is not None:  # the watermark goes on after the colour change
                r0, r1, keep, add, keep_c, add_c = _overlay(S, o.overlay)
                v = y[j, r0:r1]
                v *= keep
                v += add
                v = c[j, r0 // 2 : r1 // 2]
                v *= keep_c
                v += add_c
        sig = [o.sigma for o in ops]
        if any(sig):
            bank = self._noise_bank()
            for j in range(n):
                if sig[j]:
                    y[j] += bank[pick[j]] * sig[j]
        jq = [j for j in range(n) if ops[j].jpeg is not None]
        if jq:
            ja = np.asarray(jq) if len(jq) < n else slice(None)
            tabs = np.stack([_jpeg_tables(ops[j].jpeg) for j in jq])
            y[ja] = _jpeg_luma(y[ja], tabs[:, 0], tabs[:, 1])
            c[ja] = _jpeg_chroma(c[ja], tabs[:, 2], tabs[:, 3])
        # YCbCr -> RGB; chroma repeated along x once, then broadcast over row pairs so every
        # numpy inner loop runs along a full row.
        cx = c.repeat(2, axis=3)
        cb = cx[:, :, 0:1, :]
        cr = cx[:, :, 1:2, :]
        y4 = y.reshape(n, H, 2, S)
        rgb = np.empty((n, S, S, 3), np.float32)
        v = rgb.reshape(n, H, 2, S, 3)
        np.add(y4, 1.402 * cr, out=v[..., 0])
        np.subtract(y4, 0.344136 * cb + 0.714136 * cr, out=v[..., 1])
        np.add(y4, 1.772 * cb, out=v[..., 2])
        np.clip(rgb, 0, 255, out=rgb)
        out[ia] = rgb

    def _slow_geometry(self, x: np.ndarray, o: _LookOps) -> np.ndarray:
        """Per-frame geometry for rotation / blurred padding: planar x (3, S, S) -> (3, S, S)."""
        S = self.size

        def sep(ry: np.ndarray, rx: np.ndarray, v: np.ndarray) -> np.ndarray:
            return np.matmul(np.matmul(ry, v), rx.T)  # per-plane 64^3 GEMMs: single-threaded

        p = sep(o.pre_y, o.pre_x, x)
        if o.rot:
            gi, gw = _rot_map(S, o.rot)
            p = (p.reshape(3, S * S)[:, gi] * gw).sum(1).reshape(3, S, S)
        if o.pad_op is not None:
            inner = sep(o.pad_op, o.pad_op, p)
            if o.blur:
                g = _blur_op(S)
                inside = o.pad_op.sum(1) > 0
                inner += sep(g, g, p) * ~(inside[:, None] & inside[None, :])
            p = inner
        if o.scale_op is not None:
            p = sep(o.scale_op, o.scale_op, p)
        return p


@lru_cache(maxsize=4096)
def _clip_schedule(clip_id: int) -> tuple[float, np.ndarray]:
    """Loop length and shot start times of a clip (2-5 min, shots 8-20 s)."""
    r = _rng(_SALT_CLIP, clip_id)
    loop = float(r.uniform(*_CLIP_LOOP))
    d = r.uniform(*_CLIP_SHOT, size=64)
    starts = np.concatenate([[0.0], np.cumsum(d)])
    k = int(np.searchsorted(starts, loop - _CLIP_SHOT[0], side="right"))
    bounds = starts[:k]  # the last shot absorbs the remainder, so it is >= 8 s ...
    if loop - bounds[-1] > _CLIP_SHOT[1]:  # ... and is halved when that makes it > 20 s
        bounds = np.append(bounds, (bounds[-1] + loop) / 2)
    bounds.flags.writeable = False
    return loop, bounds


def clip_shots(clip_id: int) -> tuple[float, np.ndarray]:
    """Public view of a clip's loop length (s) and shot start times (s)."""
    loop, b = _clip_schedule(int(clip_id))
    return loop, b.copy()


def sample_frames(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """n distinct realistic frames of mixed honest kinds (for benchmarks)."""
    r = _rng(_SALT_ROOM, seed, n)
    kinds = np.asarray(HONEST_KINDS)[r.integers(0, len(HONEST_KINDS), n)]
    seeds = r.permutation(np.arange(n, dtype=np.int64) * 7919 + int(r.integers(0, 2**40)))
    t = r.uniform(0, 3600, n)
    # Every frame is its own room, so the cache only needs to hold one chunk.
    rend = Renderer(size, cache_entries=4096)
    out = np.empty((n, size, size, 3), np.uint8)
    for a in range(0, n, 4096):
        out[a : a + 4096] = rend.render(kinds[a : a + 4096], seeds[a : a + 4096], t[a : a + 4096], None)
    return out
