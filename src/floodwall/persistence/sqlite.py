"""SQLite's connection settings (WAL, fsync level, busy wait) and its write lock: the SQL that has no Core form."""

from __future__ import annotations

import os

import sqlalchemy as sa

SYNC_LEVELS = ("FULL", "NORMAL")


def in_memory(engine: sa.Engine) -> bool:
    """True for an in-memory SQLite database (gone with the process: nothing to migrate or recover)."""
    db = engine.url.database
    return engine.dialect.name == "sqlite" and (not db or db == ":memory:" or "mode=memory" in str(engine.url))


def sqlite_file(engine: sa.Engine) -> bool:
    """True for a SQLite database in a file (an in-memory one is per connection, nothing to recover)."""
    return engine.dialect.name == "sqlite" and not in_memory(engine)


def sync_level(synchronous: str | None = None) -> str:
    """The fsync level asked for (argument, else FLOODWALL_SYNC, else full); ValueError names the setting."""
    sync = (synchronous or os.environ.get("FLOODWALL_SYNC", "full")).upper()
    if sync not in SYNC_LEVELS:
        raise ValueError(f"FLOODWALL_SYNC must be 'full' or 'normal', not {sync.lower()!r}")
    return sync


def tune_sqlite(engine: sa.Engine, synchronous: str | None = None) -> None:
    """WAL mode, fsync per commit (FULL; FLOODWALL_SYNC=normal trades power-loss safety for speed), a busy wait."""
    sync = sync_level(synchronous)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # every connection, the pool's later ones too
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sync}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    engine.dispose()  # connections opened before the listener get replaced by tuned ones


def no_autocheckpoint(conn: sa.Connection) -> None:
    """Leave WAL checkpoints to a background thread on this connection (its commits never copy the WAL)."""
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.commit()


def checkpoint(conn: sa.Connection) -> tuple[int, int]:
    """Copy what the WAL holds into the database, without blocking writers: (WAL pages, pages copied)."""
    _busy, log, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    conn.commit()
    return int(log), int(done)


def set_synchronous(conn: sa.Connection, level: str) -> None:
    """Set the fsync level for this connection's next transactions (ends the autobegun one)."""
    conn.exec_driver_sql(f"PRAGMA synchronous={sync_level(level)}")
    conn.commit()  # the pragma holds for the next transaction, not inside one


def begin_exclusive(conn: sa.Connection) -> None:
    """Open a write transaction now (BEGIN IMMEDIATE): another writer waits until it commits."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")
