"""Failed sign-in attempts, limited per client address and per key id (429 with Retry-After)."""

from __future__ import annotations

import threading
import time
from collections import deque


class FailedAttempts:
    """At most ``limit`` failures per ``window`` seconds for one client address and for one key id."""

    MAX_TRACKED = 100_000  # addresses and key ids remembered; beyond it the oldest are forgotten

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _wait(self, who: str, now: float) -> float:
        q = self._fails.get(who)
        if q is None:
            return 0.0
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) < self.limit:
            return 0.0
        return q[0] + self.window - now

    def wait(self, address: str | None, key_id: str | None) -> float:
        """Seconds before this address or key id may try again (0.0: now)."""
        now = time.monotonic()
        with self._lock:
            return max(self._wait(f"addr:{address}", now) if address else 0.0,
                       self._wait(f"key:{key_id}", now) if key_id else 0.0)

    def fail(self, address: str | None, key_id: str | None) -> None:
        """Count one failed attempt against the address and the key id it named."""
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > self.MAX_TRACKED:
                for k in list(self._fails)[: self.MAX_TRACKED // 10]:
                    del self._fails[k]
            for who in (f"addr:{address}" if address else None, f"key:{key_id}" if key_id else None):
                if who is not None:
                    self._fails.setdefault(who, deque()).append(now)


def key_id_of(presented: str) -> str | None:
    """The key id a presented ``fw_<id>_<secret>`` names (None if it has no such shape)."""
    parts = presented.split("_", 2)
    return parts[1][:32] if len(parts) == 3 and parts[0] == "fw" and parts[1] else None
