"""What every backend offers the API: ingest, gate, reviews, banks; and the reads both modes share."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import anyio
import sqlalchemy as sa

from floodwall.adapters.store import SqlStore
from floodwall.events import DeadLetter, Event, ReviewDecided, ReviewReversed, StreamStarted
from floodwall.persistence import tables
from floodwall.persistence.dml import probe
from floodwall.persistence.schema import ensure
from floodwall.service.auth import ApiError
from floodwall.service.metrics import Metrics


def gate_answer(ev: StreamStarted, verdict: dict | None, orders: list[dict], duplicate: bool = False) -> dict:
    """The gate's reply: may the stream go live, and why."""
    action = verdict["action"] if verdict else "allow"
    return {
        "stream": ev.stream, "account": ev.account, "event": ev.id,
        "allow": action not in ("takedown", "freeze"), "action": action,
        "rules": verdict["rules"] if verdict else [], "evidence": verdict.get("evidence", {}) if verdict else {},
        "verdict": verdict["id"] if verdict else None, "orders": orders, "duplicate": duplicate,
    }


class Backend:
    """What both modes offer the API."""

    mode = "base"
    durable = False

    def __init__(self, store: SqlStore, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        ensure(store.engine)  # every table, the NATS mode's own included

    async def start(self) -> None:
        """Connect or start threads."""

    async def stop(self) -> None:
        """Disconnect or stop threads."""

    async def ingest(self, events: Sequence[Event]) -> dict:
        """Accept events for processing; returns what the client may rely on."""
        raise NotImplementedError

    async def dead(self, items: Sequence[DeadLetter]) -> None:
        """Keep malformed input with its reason."""
        await anyio.to_thread.run_sync(self.store.record_dead, items)

    async def gate(self, ev: StreamStarted) -> dict:
        """The go-live decision for one stream."""
        raise NotImplementedError

    @staticmethod
    def decision_event(case: str, status: str | None, violating: bool, note: str, reviewer: str) -> ReviewDecided:
        """The ReviewDecided event for an open case; ApiError if the case is unknown or already decided."""
        if status is None:
            raise ApiError(404, "not_found", f"no review case {case!r}")
        if status == "decided":
            raise ApiError(409, "already_decided", f"case {case!r} is already decided")
        return ReviewDecided(id=f"rd-{uuid.uuid4().hex}", ts=time.time(), item=case, reviewer=reviewer,
                             violating=violating, note=note)

    @staticmethod
    def undo_event(case: str, known: bool, undoable: bool, note: str, reviewer: str) -> ReviewReversed:
        """The ReviewReversed event for a decided case; ApiError if it is unknown or has nothing to undo."""
        if not known:
            raise ApiError(404, "not_found", f"no review case {case!r}")
        if not undoable:
            raise ApiError(409, "nothing_to_undo", f"case {case!r} has no decision to undo")
        return ReviewReversed(id=f"rr-{uuid.uuid4().hex}", ts=time.time(), item=case, reviewer=reviewer, note=note)

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency."""
        def ping() -> bool:
            try:
                with self.store.engine.connect() as conn:
                    conn.execute(probe())
                return True
            except (sa.exc.SQLAlchemyError, OSError):
                return False
        return {"store": await anyio.to_thread.run_sync(ping)}

    def dead_letters(self, limit: int) -> list[dict]:
        """The newest dead letters with their reasons."""
        t = tables.dead_letters
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run == self.store.run).order_by(t.c.id.desc()).limit(limit))
            return [{"id": r.id, "index": r.line, "field": r.field, "reason": r.reason, "raw": r.raw[:2000]}
                    for r in rows]

    # Hash banks: the embedded engine holds them; with NATS every worker does, fed through the log.

    async def bank_list(self) -> list[dict]:
        """Every bank: name, kind, live entries."""
        raise NotImplementedError

    async def bank_create(self, name: str, kind: str) -> None:
        """Create an empty bank (409 if the name is taken)."""
        raise NotImplementedError

    async def bank_add(self, name: str, hexes: list[str], source: str, note: str = "") -> int:
        """Add PDQ hex hashes to a bank (404 if none); how many were new."""
        raise NotImplementedError

    async def bank_remove(self, name: str, hex_hash: str) -> bool:
        """Remove one hash (404 if no bank); False if the bank does not hold it."""
        raise NotImplementedError

    async def bank_export(self, name: str) -> str:
        """The bank's live hashes, PDQ hex one a line (404 if no bank)."""
        raise NotImplementedError

    def decisions(self, key: str) -> dict:
        """Every verdict about a stream or account, and the actions sent for it."""
        t = tables.actions
        with self.store.engine.connect() as conn:
            acts = conn.execute(sa.select(t).where(t.c.run == self.store.run, t.c.target == key).order_by(t.c.ts))
            actions = [dict(r._mapping) for r in acts]
        return {"key": key, "verdicts": self.store.decisions_for(key), "actions": actions}
