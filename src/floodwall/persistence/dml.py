"""Statements whose SQL differs by dialect, written as each dialect's Core construct (never as strings)."""

from __future__ import annotations

import sqlalchemy as sa


def insert_ignore(engine: sa.Engine, table: sa.Table):
    """INSERT that skips rows whose primary key exists (ON CONFLICT DO NOTHING on PostgreSQL and SQLite)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        return insert(table).on_conflict_do_nothing()
    return table.insert()


def probe() -> sa.Select:
    """The cheapest statement a database answers (a readiness probe)."""
    return sa.select(sa.literal(1))
