"""Kinds, salts and the process-independent splitmix64 hashing every random choice of the renderer comes from."""

from __future__ import annotations


import numpy as np


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


_H0 = np.array([0x243F6A8885A308D3], dtype=np.uint64)
_K0 = np.uint64(0x9E3779B97F4A7C15)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_K2 = np.uint64(0x94D049BB133111EB)
_R30, _R27, _R31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _vmix(*parts: np.ndarray | int) -> np.ndarray:
    """Vectorised twin of :func:`_mixi` (uint64 arrays wrap silently); parts broadcast together."""
    h = _H0
    for p in parts:
        # One fresh array per part, then in place: the renderer calls this on small batches
        # every tick, where allocations, not arithmetic, are the cost.
        h = np.bitwise_xor(h, np.asarray(p).astype(np.uint64))
        h += _K0
        h ^= h >> _R30
        h *= _K1
        h ^= h >> _R27
        h *= _K2
        h ^= h >> _R31
    return h


def _unit(h: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _rng(*parts: int) -> np.random.Generator:
    """PCG64 generator seeded by a tuple of (masked, non-negative) ints."""
    return np.random.default_rng([p & _M64 for p in parts])
