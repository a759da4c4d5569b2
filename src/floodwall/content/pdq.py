"""Batched numpy PDQ (Meta's 256-bit perceptual hash), after pdq/cpp/hashing/pdqhashing.cpp.

Hashes are ``(n, 4)`` uint64; word 0 is the first 16 hex digits of the ThreatExchange
hex form, so bit order is the hex reading order, which is ``pdqhash.compute``'s order.
Pipeline: float32 luma, the Jarosz tent filter and 64x64 decimation as one banded
operator per axis, the image-domain quality metric, the 16x16 DCT as two float32
matmuls, then ``coefficient > lower median`` (what torben returns for 256 values).

Exactness vs ``pdqhash.compute`` 0.2.8 (``bench/bench_hashing.py --agreement``, 28,824
frames at 64-512 px): not bit-exact by construction (the C++ box filter keeps a float32
running sum, pdqhash rounds luma from float64, BLAS sums in its own order: coefficients
differ by ~1e-3). Measured: identical hashes on uniform-random, grid+shapes and
sim.render frames bar one (2 bits, of 20,184); on near-flat sine gratings, whose DCT
coefficients tie at the median, 13 frames of quality >= 50 differ by 2 bits and 17 of
quality < 50 by up to 156 (noise; the quality gate drops them). Quality equal but for 6
frames off by one at a /90 boundary. The 30 reference images: same hash and quality as
pdqhash, 0-12 bits from Meta's expected hashes.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import TypeAlias

import numpy as np

__all__ = [
    "MIN_QUALITY",
    "Hashes",
    "bits_to_hashes",
    "from_hex",
    "from_hex_many",
    "hamming",
    "hash_frame",
    "hash_frames",
    "hashes_to_bits",
    "to_hex",
    "to_hex_many",
]

#: PDQ hashes: shape (n, 4) uint64, word 0 = first 16 hex digits (a single hash is (4,)).
Hashes: TypeAlias = np.ndarray

#: Frames with quality below this are too flat to hash meaningfully (Meta's default gate).
MIN_QUALITY = 50

_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_MIN_HASHABLE_DIM = 5
# The C++ stores these as float; arithmetic on them is float32.
_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))
# Float scratch bytes per chunk: big enough to amortise per-call overhead, small
# enough to stay in L2/L3.
_CHUNK_BYTES = 4 << 20


# ----------------------------------------------------------------------------- hex / bits


def to_hex(h: np.ndarray) -> str:
    """One hash ``(4,)`` uint64 -> 64 lowercase hex chars (ThreatExchange format)."""
    h = np.asarray(h)
    if h.shape != (4,):
        raise ValueError(f"expected a hash of shape (4,), got {h.shape}")
    return h.astype(">u8").tobytes().hex()


def to_hex_many(h: np.ndarray) -> list[str]:
    """Hashes ``(n, 4)`` uint64 -> list of 64-char hex strings."""
    h = np.asarray(h)
    if h.ndim != 2 or h.shape[1] != 4:
        raise ValueError(f"expected hashes of shape (n, 4), got {h.shape}")
    s = h.astype(">u8").tobytes().hex()
    return [s[i : i + 64] for i in range(0, len(s), 64)]


def _check_hex(s: object) -> str:
    if not isinstance(s, str):
        raise ValueError(f"PDQ hex must be a str, got {type(s).__name__}")
    if len(s) != 64:
        raise ValueError(f"PDQ hex must be 64 hex digits, got {len(s)} characters: {s[:80]!r}")
    if not _HEX_RE.fullmatch(s):
        bad = next(c for c in s if c not in "0123456789abcdefABCDEF")
        raise ValueError(f"PDQ hex has a non-hex character {bad!r}: {s!r}")
    return s


def from_hex(s: str) -> np.ndarray:
    """64 hex chars -> hash ``(4,)`` uint64; ValueError on anything else."""
    return from_hex_many([s])[0]


def from_hex_many(strings: list[str] | tuple[str, ...]) -> np.ndarray:
    """Sequence of 64-char hex strings -> ``(n, 4)`` uint64; ValueError on a bad one."""
    for s in strings:
        _check_hex(s)
    if not strings:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = bytes.fromhex("".join(strings))
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between hashes ``(..., 4)``, broadcasting; int32."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    return np.bitwise_count(x).sum(axis=-1, dtype=np.int32)


def bits_to_hashes(bits: np.ndarray) -> np.ndarray:
    """Bits ``(n, 256)`` (or ``(256,)``) in pdqhash's order -> ``(n, 4)`` (or ``(4,)``) uint64."""
    bits = np.asarray(bits)
    if bits.shape[-1] != 256 or bits.ndim not in (1, 2):
        raise ValueError(f"expected bits of shape (n, 256) or (256,), got {bits.shape}")
    packed = np.packbits(bits.astype(bool).reshape(-1, 256), axis=1)
    out = packed.view(">u8").astype(np.uint64)
    return out[0] if bits.ndim == 1 else out


def hashes_to_bits(h: np.ndarray) -> np.ndarray:
    """Hashes ``(n, 4)`` (or ``(4,)``) uint64 -> bits ``(n, 256)`` (or ``(256,)``) uint8, pdqhash's order."""
    h = np.asarray(h)
    if h.shape[-1] != 4 or h.ndim not in (1, 2):
        raise ValueError(f"expected hashes of shape (n, 4) or (4,), got {h.shape}")
    raw = np.ascontiguousarray(h.reshape(-1, 4).astype(">u8")).view(np.uint8)
    bits = np.unpackbits(raw, axis=1)
    return bits[0] if h.ndim == 1 else bits


# ----------------------------------------------------------------------------- plan


def _jarosz_window(old_dim: int, new_dim: int = 64) -> int:
    # computeJaroszFilterWindowSize: ceil(old / (2 * new)).
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


def _box_matrix(length: int, window: int) -> np.ndarray:
    # box1DFloat: output o averages input [o - (window - half), o + half - 1] clipped to
    # the vector, divided by the number of samples actually summed.
    half = (window + 2) // 2
    o = np.arange(length)
    lo = np.maximum(0, o - (window - half))
    hi = np.minimum(length - 1, o + half - 1)
    cols = np.arange(length)
    inside = (cols[None, :] >= lo[:, None]) & (cols[None, :] <= hi[:, None])
    return inside / (hi - lo + 1)[:, None].astype(np.float64)


@functools.lru_cache(maxsize=64)
def _axis_operator(length: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(idx (64, K), weights (64, K) float32, is_pure_selection) for one image axis."""
    box = _box_matrix(length, _jarosz_window(length))
    tent = box @ box  # PDQ_NUM_JAROSZ_XY_PASSES = 2
    # decimateFloat samples at pixel centres: (int)(((i + 0.5) * in) / out).
    rows = ((np.arange(64) + 0.5) * length / 64).astype(np.int64)
    m = tent[rows]
    nz = [np.flatnonzero(r) for r in m]
    k = max(len(z) for z in nz)
    idx = np.empty((64, k), dtype=np.int64)
    w = np.zeros((64, k), dtype=np.float32)
    for i, z in enumerate(nz):
        idx[i, : len(z)] = z
        idx[i, len(z) :] = z[-1]
        w[i, : len(z)] = m[i, z]
    pure = k == 1 and bool(np.all(w == 1.0))
    return idx, w, pure


@functools.lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    # dct_matrix_64: float(sqrt(2/64)) * cos(...) evaluated in double, stored as float.
    scale = float(np.float32(np.sqrt(2.0 / 64.0)))
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (scale * np.cos((np.pi / 2.0 / 64.0) * i * (2.0 * j + 1.0))).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _dct_matrix_t() -> np.ndarray:
    return np.ascontiguousarray(_dct_matrix().T)


# ----------------------------------------------------------------------------- hashing


class _Workspace:
    """Scratch arrays for one chunk, kept per thread and reused across chunks and calls.

    Fresh multi-MB temporaries cost a page fault per 4 KiB (malloc hands big blocks
    straight back to the OS), which at 64x64 is as much as the arithmetic itself.
    """

    _MAX_BUFFERS = 32  # a few frame sizes' worth; beyond that start over

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}

    def get(self, name: str, c: int, shape: tuple[int, ...]) -> np.ndarray:
        key = (name, shape)
        buf = self._bufs.get(key)
        if buf is None or buf.shape[0] < c:
            if len(self._bufs) >= self._MAX_BUFFERS:
                self._bufs.clear()
            buf = self._bufs[key] = np.empty((c, *shape), dtype=np.float32)
        return buf[:c]


_THREAD = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_THREAD, "workspace", None)
    if ws is None:
        ws = _THREAD.workspace = _Workspace()
    return ws


def _luma(x: np.ndarray, ws: _Workspace, name: str) -> np.ndarray:
    # fillFloatLumaFromRGB: (cR*R + cG*G) + cB*B, every step rounded to float32.
    c = x.shape[0]
    y = ws.get(name, c, x.shape[1:3])
    tmp = ws.get(name + "_tmp", c, x.shape[1:3])
    np.multiply(x[..., 0], _LUMA[0], out=y)
    np.multiply(x[..., 1], _LUMA[1], out=tmp)
    y += tmp
    np.multiply(x[..., 2], _LUMA[2], out=tmp)
    y += tmp
    return y


@functools.lru_cache(maxsize=256)
def _selector(length: int, k: int) -> slice | np.ndarray:
    """Column k of an axis operator's indices, as a slice where evenly spaced (cached: asked per batch)."""
    return _as_slice(_axis_operator(length)[0][:, k])


def _take_k(a: np.ndarray, length: int, k: int, axis: int) -> np.ndarray:
    sel = _selector(length, k)
    if isinstance(sel, slice):
        return a[(slice(None),) * axis + (sel,)]
    return np.take(a, sel, axis=axis)


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    # Evenly spaced indices become a slice: a strided view instead of a gather copy
    # (fancy indexing also hands back non-C-ordered arrays that slow the matmuls 5x).
    if len(idx) > 1:
        step = int(idx[1] - idx[0])
        if step > 0 and np.array_equal(idx, idx[0] + step * np.arange(len(idx))):
            return slice(int(idx[0]), int(idx[-1]) + 1, step)
    return idx


def _downsample(chunk: np.ndarray, ws: _Workspace) -> np.ndarray:
    """(c, H, W, 3) uint8 -> (c, 64, 64) float32 luma after Jarosz filter and decimation.

    The two box passes per axis and the decimation are linear, so per axis they are
    one banded operator: each of the 64 outputs is a weighted sum of a few inputs
    (one for H <= 128, 3 at 256, 7 at 512). Rows are reduced first on the raw
    channels, then luma, then columns.
    """
    c, h, w, _ = chunk.shape
    ridx, rw, rpure = _axis_operator(h)
    cidx, cw, cpure = _axis_operator(w)
    if rpure:
        rows = _take_k(chunk, h, 0, axis=1)  # (c, 64, W, 3) uint8
    else:
        flat = chunk.reshape(c, h, w * 3)
        acc = ws.get("rows", c, (64, w * 3))
        tmp = ws.get("rows_tmp", c, (64, w * 3))
        np.multiply(_take_k(flat, h, 0, axis=1), rw[None, :, 0, None], out=acc)
        for k in range(1, ridx.shape[1]):
            np.multiply(_take_k(flat, h, k, axis=1), rw[None, :, k, None], out=tmp)
            acc += tmp
        rows = acc.reshape(c, 64, w, 3)
    if rows.dtype != np.float32:
        # Whole rows convert fast; picking every k-th 3-byte pixel out of uint8 does not.
        x = ws.get("rgb", c, (64, w, 3))
        x[...] = rows
        rows = x
    if cpure:
        return _luma(_take_k(rows, w, 0, axis=2), ws, "z")
    lum = _luma(rows, ws, "luma_rows")  # (c, 64, W)
    z = ws.get("z", c, (64, 64))
    tmp = ws.get("z_tmp", c, (64, 64))
    np.multiply(_take_k(lum, w, 0, axis=2), cw[None, None, :, 0], out=z)
    for k in range(1, cidx.shape[1]):
        np.multiply(_take_k(lum, w, k, axis=2), cw[None, None, :, k], out=tmp)
        z += tmp
    return z


def _quality(z: np.ndarray, ws: _Workspace) -> np.ndarray:
    # pdqImageDomainQualityMetric: sum of |int(((u - v) * 100) / 255)| over vertical and
    # horizontal neighbours, / 90, capped at 100. Same float32 steps as the C++; int()
    # truncates, so |trunc(x)| == floor(|x|), and float32 sums of these small integers
    # are exact (< 2**24).
    # Both neighbour directions in one buffer, one pass: the sum of at most 8,064 integers <= 100
    # is exact in float32 in any order, so it equals the two sums added.
    k100, k255 = np.float32(100), np.float32(255)
    c = z.shape[0]
    d = ws.get("dq", c, (2 * 63 * 64,))
    np.subtract(z[:, :-1, :], z[:, 1:, :], out=d[:, : 63 * 64].reshape(c, 63, 64))
    np.subtract(z[:, :, :-1], z[:, :, 1:], out=d[:, 63 * 64 :].reshape(c, 64, 63))
    d *= k100
    d /= k255
    np.abs(d, out=d)
    np.floor(d, out=d)
    total = d.sum(axis=1).astype(np.float64)
    return np.minimum(total.astype(np.int64) // 90, 100).astype(np.int32)


def _dct16(z: np.ndarray, ws: _Workspace) -> np.ndarray:
    """(c, 64, 64) -> (c, 256) float32, row-major 16x16 of D Z D^T (dct64To16)."""
    c = z.shape[0]
    t = ws.get("dct_t", c, (16, 64))
    out = ws.get("dct_b", c, (256,))
    np.matmul(_dct_matrix(), z, out=t)  # T = D A first, as the C++ does
    np.matmul(t.reshape(c * 16, 64), _dct_matrix_t(), out=out.reshape(c * 16, 16))
    return out


def _coeffs_to_hashes(coeffs: np.ndarray) -> np.ndarray:
    # torben() on 256 values returns the lower median, i.e. the 128th smallest.
    med = np.partition(coeffs, 127, axis=1)[:, 127:128]
    bits = coeffs > med
    # Bit k = i*16 + j is bit k of the 256-bit number the hex spells (Hash256::setBit and
    # format print w[15] first), so reading order is k = 255 .. 0.
    return np.packbits(bits[:, ::-1], axis=1).view(">u8").astype(np.uint64)


# Horizontal mirror (columns reversed) negates DCT columns with even j
# (dct16OriginalToFlipY in the C++; the 6th hash of pdqhash.compute_dihedral).
_MIRROR_SIGN = np.tile(np.where(np.arange(16) % 2 == 0, -1.0, 1.0).astype(np.float32), 16)


def check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """The batch as an array, or ValueError unless it is (n, h, w, 3) uint8 RGB."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"expected {what} of shape (n, h, w, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 {what}, got {frames.dtype}")
    return frames


def hash_frames(
    frames: np.ndarray, *, with_mirror: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PDQ of ``(n, h, w, 3)`` uint8 RGB frames -> (hashes (n,4) uint64, quality (n,) int32[, mirrored]).

    ``mirrored`` comes from the same DCT by sign flips, as pdqhash.compute_dihedral's
    left-right flip does. It equals the hash of the flipped frame only where the tent
    filter and 64-point sampling grid are mirror-symmetric (64 and 100 wide, say); at
    128 or 256 the flip moves the grid by half a sample, which PDQ feels (measured: 15-25
    bits on noisy synthetic frames). Hash ``frames[:, :, ::-1]`` when that matters.
    Frames under 5 pixels on a side hash to zero with quality 0, as in the C++.
    """
    frames = check_frames(frames)
    n, h, w, _ = frames.shape
    hashes = np.zeros((n, 4), dtype=np.uint64)
    quality = np.zeros(n, dtype=np.int32)
    mirrored = np.zeros((n, 4), dtype=np.uint64) if with_mirror else None
    if n and min(h, w) >= _MIN_HASHABLE_DIM:
        per_frame = 64 * w * 3 * 4  # the largest float32 scratch array
        step = max(1, min(512, _CHUNK_BYTES // per_frame))
        ws = _workspace()
        for s in range(0, n, step):
            z = _downsample(np.ascontiguousarray(frames[s : s + step]), ws)
            quality[s : s + step] = _quality(z, ws)
            coeffs = _dct16(z, ws)
            if mirrored is not None:  # both in one pass: the per-call cost, not the rows, dominates small batches
                k = len(coeffs)
                both = _coeffs_to_hashes(np.concatenate([coeffs, coeffs * _MIRROR_SIGN]))
                hashes[s : s + step] = both[:k]
                mirrored[s : s + step] = both[k:]
            else:
                hashes[s : s + step] = _coeffs_to_hashes(coeffs)
    if mirrored is not None:
        return hashes, quality, mirrored
    return hashes, quality


def hash_frame(frame: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ of one ``(h, w, 3)`` uint8 RGB frame -> (hash (4,) uint64, quality)."""
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise ValueError(f"expected a frame of shape (h, w, 3), got {frame.shape}")
    hashes, quality = hash_frames(frame[None])
    return hashes[0], int(quality[0])
