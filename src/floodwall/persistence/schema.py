"""Bring a database to the newest schema: Alembic's migrations for a database that outlives the
process, ``metadata.create_all`` for an in-memory SQLite one (the replay's: nothing to migrate, and
running Alembic for every replay store would only cost time)."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from floodwall.persistence.sqlite import begin_exclusive, in_memory
from floodwall.persistence.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (tests/test_persistence.py checks it against Alembic's head).
# Known without importing Alembic, so opening a store that is already at head costs one SELECT.
HEAD = "0003"
_version = sa.table("alembic_version", sa.column("version_num"))
# Any fixed 64-bit number: the PostgreSQL advisory lock every migrator of Floodwall's schema takes.
MIGRATION_LOCK = 0x466C6F6F64776131

_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines brought to head by this process
_ready_lock = threading.Lock()


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to this version's head (say, it is newer)."""


def alembic_config() -> Config:
    """Alembic's Config for the shipped migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest revision the package ships."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({heads}); they must have one")
    return heads[0]


def current(db: str | sa.Engine) -> str | None:
    """The revision a database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine, own = _engine(db)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if own:
            engine.dispose()


def upgrade(db: str | sa.Engine) -> str:
    """Bring a database (URL or engine) to the newest revision; idempotent; returns that revision.

    One transaction under a lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so processes
    that start together migrate once: the second finds the first one's work done.
    """
    from alembic import command
    from alembic.util import CommandError

    engine, own = _engine(db)
    try:
        cfg = alembic_config()
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            elif conn.dialect.name == "sqlite":
                begin_exclusive(conn)
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:  # e.g. a revision from a newer Floodwall than this one
                raise SchemaError(f"cannot upgrade the database: {exc} (this Floodwall knows up to {HEAD})") from None
            conn.commit()
        _ready.add(engine)
        return head()
    finally:
        if own:
            engine.dispose()


def ensure(engine: sa.Engine) -> None:
    """Every table on this engine: create_all in memory (each call), else upgrade (once per engine and process)."""
    if in_memory(engine):  # each thread may hold its own in-memory database (SingletonThreadPool): no cache
        metadata.create_all(engine)
        return
    if engine in _ready:
        return
    with _ready_lock:
        if engine not in _ready:
            if at_head(engine):
                _ready.add(engine)
            else:
                upgrade(engine)


def at_head(engine: sa.Engine) -> bool:
    """True if the database says it is at HEAD (one SELECT; False when never migrated)."""
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(_version.c.version_num)).scalars().all() == [HEAD]
    except sa.exc.DBAPIError:  # no alembic_version table yet: a new or pre-migration store
        return False


def _engine(db: str | sa.Engine) -> tuple[sa.Engine, bool]:
    if isinstance(db, sa.Engine):
        return db, False
    if not isinstance(db, str) or not db.strip():
        raise ValueError(f"url must be a SQLAlchemy database URL, not {db!r}")
    try:
        return sa.create_engine(db), True
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ValueError(f"url: {exc}") from None
