"""Clock port: virtual time in replays, wall time in the service."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Tells the engine what time it is (seconds since the Unix epoch)."""

    def now(self) -> float: ...


class VirtualClock:
    """A clock the replay advances by hand, so that runs are deterministic."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time."""
        return self._now

    def advance_to(self, t: float) -> None:
        """Move time forward (never back)."""
        if t < self._now:
            raise ValueError(f"virtual time cannot go back: {t} < {self._now}")
        self._now = float(t)


class WallClock:
    """The real time."""

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        return time.time()
