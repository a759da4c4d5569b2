"""Cutting the embedded journal: a signed snapshot of the engine's state, then the rows it covers go.

Without it the journal keeps every batch ever accepted (raw frames included) and a restart replays all
of it. Every ``every`` processed events the loop thread, between two batches and under the Hub's lock,
takes a snapshot (engine/snapshot.py) at the journal position it has just processed, signs it with
HMAC-SHA-256 under the audit key (kept outside the database, response/audit_keys.py), and the journal
swaps it for the rows up to that position in one transaction. A restart checks the MAC before it reads
a byte of the pickle (a mismatch stops the start), loads it, and replays only the rows after it. A
snapshot made by another Floodwall version is set aside with a critical log line: the engine then starts
from the rows after it, without what it learned before (serving on beats not starting during an attack).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from floodwall.engine import snapshot
from floodwall.service.hub import Hub
from floodwall.service.journal import Journal

log = logging.getLogger("floodwall.compaction")

DEFAULT_EVERY = 500_000  # processed events between snapshots (see docs/service.md: restart time against lock time)


class SnapshotRefused(RuntimeError):
    """The stored snapshot's MAC does not check: it is not loaded (and the service does not start)."""


def sign(key: bytes, data: bytes) -> str:
    """The snapshot's MAC."""
    return hmac.new(key, b"floodwall engine snapshot\0" + data, hashlib.sha256).hexdigest()


def load(journal: Journal, engine, key: bytes) -> int:
    """Load the newest snapshot into ``engine`` if there is one; the journal seq it covers (0: none)."""
    got = journal.snapshot()
    if got is None:
        return 0
    seq, data, mac = got
    if not hmac.compare_digest(mac, sign(key, data)):
        raise SnapshotRefused(f"the engine snapshot at journal seq {seq} (table journal_snapshots, run "
                              f"{journal.run!r}) does not match its MAC: it was changed, or the audit key is "
                              "not the one it was signed with; refusing to load it")
    try:
        snapshot.loads(engine, data)
    except snapshot.SnapshotError as exc:  # an upgrade: serve on from what follows rather than not at all
        log.critical("%s; it is set aside and the engine starts from the journal rows after it: what it learned "
                     "before journal seq %d is lost", exc, seq)
        return 0
    return seq


class Compactor:
    """Counts processed events; every ``every`` of them, snapshots the engine and cuts the journal."""

    def __init__(self, journal: Journal, hub: Hub, key: bytes, every: int = DEFAULT_EVERY) -> None:
        self.journal = journal
        self.hub = hub
        self.key = key
        self.every = every
        self.since = 0  # events processed since the last cut
        self.last: dict = {}  # what the last cut did (also logged)

    def after_batch(self, processed: int | None, events: int) -> None:
        """Called by the loop after a batch's results and mark are written (processed: that mark)."""
        self.since += events
        if self.every <= 0 or processed is None or self.since < self.every:
            return
        t0 = time.perf_counter()
        with self.hub.lock:  # between batches: the state is every event up to `processed`, and applied gate calls
            data = snapshot.dumps(self.hub.engine)
        held = time.perf_counter() - t0
        cut = self.journal.cut(processed, data, sign(self.key, data))
        self.since = 0
        self.last = {"seq": processed, "bytes": len(data), "rows_cut": cut, "lock_seconds": round(held, 3),
                     "seconds": round(time.perf_counter() - t0, 3)}
        log.info("journal cut at a snapshot", extra=self.last)
