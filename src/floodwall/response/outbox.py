"""Owner notifications: an outbox table in the store, drained by a delivery worker with retries and backoff.

`notify` orders become outbox rows keyed by an idempotency key (one per order), so an order seen
twice is one message. The worker claims due rows, hands each to a notifier port, and marks it sent,
or schedules a retry with exponential backoff, or gives up after `max_attempts` (status `dead`).
The key travels with the message (an `Idempotency-Key` header for webhooks) so a receiver can drop a
duplicate if the process dies between sending and marking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from floodwall.events import ActionOrder
from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import outbox


SUBJECT = "Your account may have been taken over"
BODY = (
    "We saw signs that someone else used your account {account} and we stopped it. "
    "Please sign in, re-verify your phone number and set a new password. "
    "We will never ask you for your password or a code by message."
)


@dataclass(frozen=True)
class Notification:
    """One message to an account's owner."""

    key: str
    account: str
    recipient: str
    subject: str
    body: str


class NotifyError(Exception):
    """A notifier could not deliver (the worker retries)."""


class Notifier(Protocol):
    """Notifier port: deliver one message or raise NotifyError."""

    name: str

    def send(self, msg: Notification) -> None: ...


def message_rows(run: str, orders: Iterable[ActionOrder], recipient_of: Callable[[str], str]) -> list[dict]:
    """Outbox rows (pending) for the notify orders among ``orders``."""
    return [
        {
            "key": f"{run}|{o.key}", "run": run, "account": o.target, "recipient": recipient_of(o.target),
            "subject": SUBJECT, "body": BODY.format(account=o.target), "created_at": o.ts, "status": "pending",
            "attempts": 0, "next_attempt_at": o.ts, "sent_at": None, "last_error": "",
        }
        for o in orders if o.action == "notify" and o.subject == "account"
    ]


class Outbox:
    """The outbox table of one run in a store."""

    def __init__(self, db: sa.Engine | str, run: str = "default") -> None:
        self.db = sa.create_engine(db) if isinstance(db, str) else db
        self.run = run
        self.enqueued = 0  # messages this object added (a sole delivery worker reads it to skip idle polls)
        ensure(self.db)

    def enqueue(self, orders: Iterable[ActionOrder], recipient_of: Callable[[str], str]) -> int:
        """Add a message for each notify order (a key already there is left alone); how many were new."""
        rows = message_rows(self.run, orders, recipient_of)
        if not rows:
            return 0
        with self.db.begin() as conn:
            have = set(conn.execute(sa.select(outbox.c.key).where(outbox.c.key.in_([r["key"] for r in rows]))).scalars())
            new = [r for r in rows if r["key"] not in have]
            new = list({r["key"]: r for r in new}.values())
            if new:
                conn.execute(outbox.insert(), new)
        self.enqueued += len(new)
        return len(new)

    def rows(self, status: str | None = None) -> list[dict]:
        """This run's messages (optionally of one status), oldest first."""
        q = sa.select(outbox).where(outbox.c.run == self.run)
        if status:
            q = q.where(outbox.c.status == status)
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(outbox.c.created_at, outbox.c.key))]


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait before the next try after `attempts` failures: base * 2^(attempts-1), capped."""
    return min(cap, base * 2 ** max(0, attempts - 1))


class DeliveryWorker:
    """Drains due outbox rows through a notifier; retries with exponential backoff."""

    def __init__(self, box: Outbox, notifier: Notifier, *, base_delay: float = 2.0, max_delay: float = 300.0,
                 max_attempts: int = 8, batch: int = 200, every: float = 0.0, sole: bool = False) -> None:
        self.box = box
        self.every = every  # seconds between polls of the outbox (poll); 0: every call
        self._last_poll: float | None = None
        # sole: every message reaches the table through `box`, in this process (the replay). A poll then
        # skips the database while nothing was enqueued since the last drain and nothing pending is due.
        self.sole = sole
        self._seen = -1  # box.enqueued at the last drain
        self._next_due: float | None = None  # the earliest pending message's next attempt after that drain
        self.notifier = notifier
        self.base = base_delay
        self.cap = max_delay
        self.max_attempts = max_attempts
        self.batch = batch  # messages per drain: a gateway's throughput, not the whole backlog at once

    def poll(self, now: float) -> dict[str, int] | None:
        """Drain if `every` seconds passed since the last drain (a worker's polling loop on any clock)."""
        if self._last_poll is not None and now - self._last_poll < self.every:
            return None
        self._last_poll = now
        if self.sole and self._seen == self.box.enqueued and (self._next_due is None or now < self._next_due):
            return {"sent": 0, "retried": 0, "dead": 0}  # what the database would answer
        self._seen = self.box.enqueued
        out = self.drain(now)
        if self.sole:
            self._next_due = self.next_due()
        return out

    def next_due(self) -> float | None:
        """When the earliest pending message is due (None: none is pending)."""
        t = outbox
        with self.box.db.connect() as conn:
            return conn.execute(sa.select(sa.func.min(t.c.next_attempt_at))
                                .where(t.c.run == self.box.run, t.c.status == "pending")).scalar()

    def drain(self, now: float) -> dict[str, int]:
        """Deliver what is due at `now`; counts of sent, retried and dead messages."""
        out = {"sent": 0, "retried": 0, "dead": 0}
        db, t = self.box.db, outbox
        with db.connect() as conn:
            due = conn.execute(
                sa.select(t).where(t.c.run == self.box.run, t.c.status == "pending", t.c.next_attempt_at <= now)
                .order_by(t.c.next_attempt_at, t.c.key).limit(self.batch)
            ).all()
        for row in due:
            # Claim first: a second worker on the same store skips a row another one holds.
            with db.begin() as conn:
                claimed = conn.execute(
                    t.update().where(t.c.key == row.key, t.c.status == "pending").values(status="sending")
                ).rowcount
            if not claimed:
                continue
            msg = Notification(key=row.key, account=row.account, recipient=row.recipient, subject=row.subject,
                               body=row.body)
            try:
                self.notifier.send(msg)
            except Exception as exc:  # noqa: BLE001 - any failure of the channel is a retry, never a crash of the loop
                attempts = row.attempts + 1
                dead = attempts >= self.max_attempts
                values = {"status": "dead" if dead else "pending", "attempts": attempts,
                          "next_attempt_at": now + backoff(attempts, self.base, self.cap),
                          "last_error": f"{type(exc).__name__}: {exc}"[:500]}
                out["dead" if dead else "retried"] += 1
            else:
                values = {"status": "sent", "attempts": row.attempts + 1, "sent_at": now}
                out["sent"] += 1
            with db.begin() as conn:
                conn.execute(t.update().where(t.c.key == row.key).values(**values))
        return out


def delays(rows: Sequence[dict]) -> list[float]:
    """Seconds from each sent message's notify order to its leaving the outbox."""
    return [r["sent_at"] - r["created_at"] for r in rows if r["status"] == "sent" and r["sent_at"] is not None]
