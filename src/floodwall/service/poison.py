"""Poison never stops the engine: find the one event (or row) that fails, keep it with why, go on.

Shared by the embedded loop and the NATS worker. An engine failure on a batch runs the batch's events
again one by one (the engine forgets their ids first, or it would skip them as repeats); a row the
database refuses is retried alone inside a savepoint, so the transaction keeps the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from floodwall.events import DeadLetter, Event, encode_event

log = logging.getLogger("floodwall.poison")


def dead_event(ev: Event, why: str) -> DeadLetter:
    """A dead letter for an event that failed after validation."""
    try:
        raw = encode_event(ev).decode()
    except Exception:  # noqa: BLE001  (a log event the client union does not hold)
        raw = repr(ev)
    return DeadLetter(raw=raw[:10_000], field="", reason=why[:2000])


def handle_isolated(handle: Callable[[Sequence[Event]], object], engine, events: Sequence[Event]
                    ) -> list[tuple[Event, str]]:
    """Run ``handle(events)``; if it raises, run each event alone; the ones that fail, with why."""
    try:
        handle(events)
        return []
    except Exception as exc:  # noqa: BLE001  (one poison event must not cost its batch)
        if len(events) == 1:
            log.exception("engine failed on event %s", events[0].id)
            return [(events[0], f"engine error: {type(exc).__name__}: {str(exc)[:500]}")]
        log.exception("engine failed on a batch of %d events; isolating the poison", len(events))
    # The engine marked the batch's ids seen before it failed. (Events handled before the failure may
    # count twice: a rare, logged path, and better than losing the batch.)
    seen = getattr(engine, "_seen_ids", None)
    if isinstance(seen, dict):
        for ev in events:
            seen.pop(ev.id, None)
    failed = []
    for ev in events:
        try:
            handle([ev])
        except Exception as exc:  # noqa: BLE001
            failed.append((ev, f"engine error: {type(exc).__name__}: {str(exc)[:500]}"))
    return failed


def insert_isolated(conn: sa.Connection, stmt, rows: list[dict], table: str) -> list[DeadLetter]:
    """Insert rows one by one, each in a savepoint; the rows the database refuses, as dead letters."""
    dead = []
    for row in rows:
        try:
            with conn.begin_nested():
                conn.execute(stmt, [row])
        except sa.exc.SQLAlchemyError as exc:
            dead.append(DeadLetter(raw=json.dumps(row, default=str)[:10_000], field=table,
                                   reason=f"store error: {type(exc).__name__}: {str(exc)[:500]}"))
    return dead
