"""The NATS service's own tables: committed log offsets, the case mirror, the coordinator's offsets, banks.

The engine's tables (verdicts, actions, reports, dead letters) are in ``adapters/store.py``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

log_batches = sa.Table(
    "log_batches",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # JetStream stream sequence of the message
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("verdicts", sa.Integer, nullable=False),
    sa.Column("incident_level", sa.Integer, nullable=False),
    sa.Column("published", sa.Float, nullable=True),
    sa.Column("committed", sa.Float, nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # p<partition>:<item>, unique within a run
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("priority", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("streams", sa.Integer, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("violating", sa.Boolean, nullable=True),
    sa.Column("reviewer", sa.String(128), nullable=False),
)

coord_batches = sa.Table(
    "coord_batches",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # JetStream stream sequence of the sketch
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("sketch", sa.BigInteger, nullable=False),  # the worker's log sequence the sketch came from
    sa.Column("sent", sa.Integer, nullable=False),  # events published to partitions for it
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("committed", sa.Float, nullable=False),
)

banks = sa.Table(
    "banks",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

bank_entries = sa.Table(
    "bank_entries",
    metadata,
    sa.Column("run", sa.String(64), primary_key=True),
    sa.Column("bank", sa.String(64), primary_key=True),
    sa.Column("hash", sa.String(64), primary_key=True),  # PDQ hex
    sa.Column("source", sa.String(128), nullable=False, index=True),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
)

BUILT_IN_BANKS = (("confirmed", "block"), ("reviewed", "block"), ("honest", "allow"))  # every engine has them


def create_tables(engine: sa.Engine) -> None:
    """Create the service's tables (idempotent)."""
    metadata.create_all(engine)
