"""Store port on SQLAlchemy Core: SQLite embedded, PostgreSQL at scale (the same schema)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from floodwall.events import ActionOrder, DeadLetter, Verdict

metadata = sa.MetaData()

verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("shadow", sa.Boolean, nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("shadow_rules", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),  # idempotency key: one action once
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("target", sa.String(128), nullable=False, index=True),
    sa.Column("verdict", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),  # the event id: a report redelivered is stored once
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("stream", sa.String(128), nullable=False, index=True),
    sa.Column("reporter", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("weight", sa.Float, nullable=False),  # what it counted for (0: duplicate or rate-limited)
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run", sa.String(64), nullable=False, index=True),
    sa.Column("field", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=True),
    sa.Column("raw", sa.Text, nullable=False),
)


class SqlStore:
    """Decisions, actions and dead letters, written in batches."""

    def __init__(self, url: str = "sqlite://", run: str = "default") -> None:
        self.engine = sa.create_engine(url)
        self.run = run
        metadata.create_all(self.engine)

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
            conn.execute(_insert_ignore(self.engine, actions), arows)
        if reps:
            conn.execute(_insert_ignore(self.engine, reports), [{**r, "run": self.run} for r in reps])

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


def _insert_ignore(engine: sa.Engine, table: sa.Table):
    """INSERT that skips rows whose primary key exists (idempotent actions)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        return insert(table).on_conflict_do_nothing()
    return table.insert()
