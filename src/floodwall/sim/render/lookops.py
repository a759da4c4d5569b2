"""Look operators: colour, geometry, watermark, noise and JPEG as matrices over YCbCr 4:2:0 frames."""

from __future__ import annotations

import hashlib
import math
from dataclasses import fields
from functools import lru_cache

import numpy as np

from floodwall.sim.render.mix import _SALT_OVERLAY, _rng
from floodwall.sim.render.look import Look
from floodwall.sim.render.draw import _hsv


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
