"""Failed sign-in attempts, limited per client address and per key id (429 with Retry-After).

Counted in this process's memory and, given the store, in its ``auth_failures`` table too, so several
API processes serving one store hold a guesser to one limit between them, not one each. The table is
read only when a key is not in the verified cache (a new or a wrong one), so honest traffic never
touches it; rows older than the window are pruned as failures arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import sqlalchemy as sa

from floodwall.persistence.tables import auth_failures

log = logging.getLogger("floodwall.auth")

PRUNE_EVERY = 100  # failures between deletions of rows older than the window


class FailedAttempts:
    """At most ``limit`` failures per ``window`` seconds for one client address and for one key id."""

    MAX_TRACKED = 100_000  # addresses and key ids remembered; beyond it the oldest are forgotten

    def __init__(self, limit: int = 10, window: float = 60.0, store: sa.Engine | None = None) -> None:
        self.limit = limit
        self.window = window
        self.store = store  # shared counts (every process of the store); None: this process only
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._since_prune = 0

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
        names = _names(address, key_id)
        with self._lock:
            local = max((self._wait(who, now) for who in names), default=0.0)
        if local > 0 or self.store is None:
            return local
        return self._shared_wait(names)

    def _shared_wait(self, names: list[str]) -> float:
        """The wait the store's counts call for: each name's oldest failure in the window, once it holds `limit`."""
        if not names:
            return 0.0
        now, t = time.time(), auth_failures
        try:
            with self.store.connect() as conn:
                rows = conn.execute(sa.select(t.c.who, sa.func.count(), sa.func.min(t.c.ts))
                                    .where(t.c.who.in_(names), t.c.ts > now - self.window).group_by(t.c.who)).all()
        except sa.exc.SQLAlchemyError:  # the store is down: this process's own counts still hold
            log.warning("failed-attempt counts unreadable; this process's own limit applies", exc_info=True)
            return 0.0
        return max((oldest + self.window - now for _who, n, oldest in rows if n >= self.limit), default=0.0)

    def fail(self, address: str | None, key_id: str | None) -> None:
        """Count one failed attempt against the address and the key id it named."""
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > self.MAX_TRACKED:
                for k in list(self._fails)[: self.MAX_TRACKED // 10]:
                    del self._fails[k]
            for who in _names(address, key_id):
                self._fails.setdefault(who, deque()).append(now)
            self._since_prune += 1
            prune = self._since_prune >= PRUNE_EVERY
            if prune:
                self._since_prune = 0
        if self.store is None:
            return
        wall, t = time.time(), auth_failures
        try:
            with self.store.begin() as conn:
                conn.execute(t.insert(), [{"who": who, "ts": wall} for who in _names(address, key_id)])
                if prune:
                    conn.execute(t.delete().where(t.c.ts <= wall - self.window))
        except sa.exc.SQLAlchemyError:
            log.warning("a failed attempt could not be shared; this process counted it", exc_info=True)


def _names(address: str | None, key_id: str | None) -> list[str]:
    """What a failure counts against: the client address and the key id it named."""
    return [who for who in (f"addr:{address}"[:160] if address else None, f"key:{key_id}" if key_id else None) if who]


def key_id_of(presented: str) -> str | None:
    """The key id a presented ``fw_<id>_<secret>`` names (None if it has no such shape)."""
    parts = presented.split("_", 2)
    return parts[1][:32] if len(parts) == 3 and parts[0] == "fw" and parts[1] else None
