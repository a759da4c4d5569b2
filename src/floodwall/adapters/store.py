"""Store port on SQLAlchemy Core: SQLite embedded, PostgreSQL at scale (the schema: ``floodwall.persistence``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from floodwall.events import ActionOrder, DeadLetter, Verdict
from floodwall.persistence.dml import insert_ignore, json_text
from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import actions, dead_letters, reports, verdicts

__all__ = ["SqlStore", "actions", "dead_letters", "reports", "verdicts"]


class SqlStore:
    """Decisions, actions and dead letters, written in batches."""

    def __init__(self, url: str = "sqlite://", run: str = "default") -> None:
        self.engine = sa.create_engine(url, json_serializer=json_text)
        self.run = run
        ensure(self.engine)  # every table (migrations for a database on disk)

    def record(self, vs: Iterable[Verdict], orders: Iterable[ActionOrder]) -> None:
        """Store verdicts and the actions sent for them (an action key is stored once)."""
        vrows, arows = self.verdict_rows(vs), self.action_rows(orders)
        if not vrows and not arows:
            return
        with self.engine.begin() as conn:
            self.write(conn, vrows, arows, [])

    def verdict_rows(self, vs: Iterable[Verdict]) -> list[dict]:
        """Rows of the verdicts table."""
        return [
            {
                "id": v.id, "run": self.run, "ts": v.ts, "subject": v.subject, "key": v.key,
                "action": v.action, "shadow": v.shadow, "policy": v.policy, "rules": v.rules,
                "shadow_rules": v.shadow_rules, "evidence": v.evidence,
            }
            for v in vs
        ]

    def action_rows(self, orders: Iterable[ActionOrder]) -> list[dict]:
        """Rows of the actions table."""
        return [
            {
                "key": o.key, "run": self.run, "ts": o.ts, "action": o.action, "subject": o.subject,
                "target": o.target, "verdict": o.verdict, "reason": o.reason,
            }
            for o in orders
        ]

    def write(self, conn: sa.Connection, vrows: list[dict], arows: list[dict], reps: list[dict]) -> None:
        """Insert verdict, action and report rows in the caller's transaction (actions and reports once)."""
        if vrows:
            conn.execute(verdicts.insert(), vrows)
        if arows:
            conn.execute(insert_ignore(self.engine, actions), arows)
        if reps:
            conn.execute(insert_ignore(self.engine, reports), [{**r, "run": self.run} for r in reps])

    def record_reports(self, rows: list[dict]) -> None:
        """Store every report received, with the weight it was given."""
        if rows:
            with self.engine.begin() as conn:
                self.write(conn, [], [], rows)

    def record_dead(self, items: Iterable[DeadLetter]) -> None:
        """Store malformed events with their reasons."""
        rows = [{"run": self.run, "field": d.field, "reason": d.reason, "line": d.line, "raw": d.raw} for d in items]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(dead_letters.insert(), rows)

    def decisions_for(self, key: str) -> list[dict]:
        """Every verdict about one stream or account, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(verdicts).where(verdicts.c.run == self.run, verdicts.c.key == key).order_by(verdicts.c.ts)
            )
            return [dict(r._mapping) for r in rows]

    def count(self, table: sa.Table) -> int:
        """Rows of this run in a table."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.run == self.run)).scalar_one()

