"""Statements whose SQL differs by dialect, written as each dialect's Core construct (never as strings);
how JSON columns are written."""

from __future__ import annotations

import msgspec
import numpy as np
import sqlalchemy as sa


def _plain(value: object) -> object:
    if isinstance(value, np.generic):  # a numpy scalar in a verdict's evidence: its Python number
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")  # as json.dumps says


_json = msgspec.json.Encoder(enc_hook=_plain)


def json_text(value: object) -> str:
    """JSON columns' text (the engine's ``json_serializer``): msgspec, where json.dumps was a third of the
    embedded loop's flush of verdicts; NaN and infinities become null, which PostgreSQL's json accepts."""
    return _json.encode(value).decode()


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
