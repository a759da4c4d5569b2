"""Alembic's environment: runs the revisions on the connection ``schema.upgrade`` hands over.

The caller holds the transaction and the lock (``schema.upgrade``); the revisions run inside it, so a
failed upgrade leaves nothing half done where the database's DDL is transactional.
"""

from __future__ import annotations

from alembic import context

from floodwall.persistence.tables import metadata

if context.is_offline_mode():
    raise SystemExit("Floodwall's migrations run online only: `floodwall db upgrade --url URL`")
_conn = context.config.attributes.get("connection")
if _conn is None:
    raise SystemExit("Floodwall's migrations run through floodwall.persistence.schema.upgrade "
                     "(`floodwall db upgrade --url URL`), which hands them a connection")
context.configure(connection=_conn, target_metadata=metadata, render_as_batch=_conn.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
