"""The simulator's own records (accounts, streams) and its opaque ids. None of this reaches the engine."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from floodwall.sim.tactics import LogNormal

DAY = 86_400.0
FRAME, CHATLINE, VIEWERS, REPORT, END, GOLIVE, START = range(7)
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def lognormal(rng: np.random.Generator, d: LogNormal, n: int | None = None):
    """Draw from a capped lognormal (one value, or ``n``)."""
    x = rng.lognormal(math.log(d.median), d.sigma, n)
    return np.minimum(x, d.max)


class Ids:
    """Opaque ids: a keyed hash of the simulator's internal name, so an id says nothing about role.

    The key is drawn from the seed apart from the plan's generator, so opaque ids leave the plan as it
    was. Every account, stream, device and principal gets the same shape of id whatever its role; the
    prefix names only the kind of thing (a stream id is not an account id).
    """

    def __init__(self, seed: int) -> None:
        self.key = np.random.default_rng([seed, 3]).bytes(16)
        self._cache: dict[str, str] = {}

    def __call__(self, kind: str, name: str) -> str:
        """The public id of the internal ``name`` of a ``kind`` ("a" account, "s" stream, "d" device, "k" key)."""
        full = f"{kind}:{name}"
        got = self._cache.get(full)
        if got is None:
            h = int.from_bytes(hashlib.blake2b(full.encode(), key=self.key, digest_size=5).digest(), "big")
            got = self._cache[full] = kind + "-" + "".join(_B32[(h >> (5 * i)) & 31] for i in range(8))
        return got

    def viewer(self, n: int) -> str:
        """A viewer's account id (viewers are not cached: there are millions)."""
        h = int.from_bytes(hashlib.blake2b(f"a:u{n}".encode(), key=self.key, digest_size=5).digest(), "big")
        return "a-" + "".join(_B32[(h >> (5 * i)) & 31] for i in range(8))


@dataclass(slots=True)
class SimAccount:
    """An account as the simulator knows it (with its role, which events never carry)."""

    id: str
    phone: str
    device: str
    ip: str
    registered: float
    avatar: bool
    title: str
    attack: bool = False
    hijacked: bool = False
    frozen: bool = False
    live: str | None = None
    session: bool = False  # taken over with a stolen session: no login event, the owner's device and network
    emulated: bool = False  # an emulator instance: a fresh device id at every go-live


@dataclass(slots=True)
class SimStream:
    """A room as the simulator knows it."""

    id: str
    account: SimAccount
    kind: int
    seed: int
    look: Any  # render.Look or None
    attack: bool
    start: float
    planned_end: float
    source_t0: float  # time of the source's clock at start (clip offset, event clock)
    peak: float
    device: str
    ip: str
    title: str = ""
    slot: int = -1
    limited_at: float | None = None
    unlimited_at: float | None = None  # a limit lifted (probation passed)
    sample_every: float = 10.0
    frame_ver: int = 0
    ended: float | None = None
    end_reason: str = ""
    first_frame: float | None = None
    frames: int = 0
    reports: int = 0
    restart_of: str | None = None
    restored_as: str | None = None  # an undone takedown brought the room back under this id
    went_live: bool = False
    planned_start: float = 0.0
    speed: float = 1.0  # playback speed of the source
    skip_gate: bool = False  # started through a privileged endpoint: no stream_started, limits ignored
    group: str = ""  # honest group it belongs to ("co_broadcast", "surge"), for the scorer
