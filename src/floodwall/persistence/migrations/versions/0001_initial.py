"""The schema as it was when migrations began: nineteen tables of the engine, the service, keys, audit,
outbox and HMA.

Databases made before migrations existed (``metadata.create_all`` in each module) already hold some or
all of these tables: this revision creates only what is missing, adds the ``api_keys.created_by``
column older stores lack, and so adopts them without touching their rows.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RUN = ("run", 64)  # most tables are scoped by the deployment's run name


def _s(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _c(name: str, type_: sa.types.TypeEngine, nullable: bool = False, **kw) -> sa.Column:
    return sa.Column(name, type_, nullable=nullable, **kw)


def _tables() -> list[tuple[str, list, list[str], dict]]:
    """(name, columns and constraints, indexed columns, table options) of every table, in creation order."""
    f, i, b, j, t = sa.Float(), sa.Integer(), sa.Boolean(), sa.JSON(), sa.Text()
    big, blob = sa.BigInteger(), sa.LargeBinary()
    return [
        ("actions", [_s("key", 160), _s(*RUN), _c("ts", f), _s("action", 16), _s("subject", 16), _s("target", 128),
                     _s("verdict", 64), _c("reason", t), sa.PrimaryKeyConstraint("key")], ["run", "target"], {}),
        ("api_keys", [_s("id", 32), _s("name", 128), _s("hash", 256), _c("scopes", j), _c("rate", f), _c("burst", f),
                      _c("created", f), _c("revoked", f, True), _s("created_by", 32, True),
                      sa.PrimaryKeyConstraint("id")], [], {}),
        ("audit_log", [_s("chain", 64), _c("seq", i, autoincrement=False), _c("ts", f), _s("actor", 128),
                       _s("action", 64), _s("subject", 160), _c("payload", t), _s("prev", 64), _s("hash", 64),
                       sa.PrimaryKeyConstraint("chain", "seq")], [], {}),
        ("bank_entries", [_s(*RUN), _s("bank", 64), _s("hash", 64), _s("source", 128), _s("note", 500),
                          _c("added_at", f), _c("removed", b), sa.PrimaryKeyConstraint("run", "bank", "hash")],
         ["source"], {}),
        ("banks", [_s(*RUN), _s("name", 64), _s("kind", 8), _c("created", f), sa.PrimaryKeyConstraint("run", "name")],
         [], {}),
        ("cases", [_s("id", 80), _s(*RUN), _s("kind", 16), _s("key", 128), _s("status", 16), _c("priority", f),
                   _c("created", f), _c("streams", i), _c("evidence", j), _c("violating", b, True), _s("reviewer", 128),
                   sa.PrimaryKeyConstraint("id", "run")], ["status"], {}),
        ("console_sessions", [_s("id_hash", 64), _s("key_id", 32), _s("csrf", 64), _c("created", f), _c("expires", f),
                              _c("ended", f, True), sa.PrimaryKeyConstraint("id_hash")], ["key_id"], {}),
        ("coord_batches", [_s(*RUN), _c("seq", big), _c("partition", i), _c("sketch", big), _c("sent", i),
                           _c("level", i), _c("committed", f), sa.PrimaryKeyConstraint("run", "seq")], [], {}),
        ("dead_letters", [_c("id", i, autoincrement=True), _s(*RUN), _s("field", 128), _c("reason", t),
                          _c("line", i, True), _c("raw", t), sa.PrimaryKeyConstraint("id")], ["run"], {}),
        ("gate_answers", [_s(*RUN), _s("id", 64), _c("answer", blob), sa.PrimaryKeyConstraint("run", "id")], [], {}),
        ("hma_banks", [_s(*RUN), _s("name", 64), _c("enabled_ratio", f), _c("created", f),
                       sa.PrimaryKeyConstraint("run", "name")], [], {}),
        ("hma_content", [_c("id", i, autoincrement=True), _s(*RUN), _s("bank", 64), _s("pdq", 64),
                         _c("disable_until_ts", big), _s("original_media_uri", 2048, True), _c("meta", j, True),
                         _c("created", f), sa.PrimaryKeyConstraint("id")], ["bank", "run"],
         {"sqlite_autoincrement": True}),
        ("hma_views", [_c("content_id", i), _s("hash", 64), _s("view", 48),
                       sa.PrimaryKeyConstraint("content_id", "hash")], [], {}),
        ("journal", [_s(*RUN), _c("seq", big, autoincrement=False), _s("kind", 8), _c("events", i), _c("body", blob),
                     _c("ts", f), sa.PrimaryKeyConstraint("run", "seq")], [], {}),
        ("journal_marks", [_s(*RUN), _c("processed", big), _c("boots", i), sa.PrimaryKeyConstraint("run")], [], {}),
        ("log_batches", [_s(*RUN), _c("partition", i), _c("seq", big), _c("events", i), _c("verdicts", i),
                         _c("incident_level", i), _c("published", f, True), _c("committed", f),
                         sa.PrimaryKeyConstraint("run", "partition", "seq")], [], {}),
        ("notify_outbox", [_s("key", 200), _s(*RUN), _s("account", 128), _s("recipient", 128), _s("subject", 200),
                           _c("body", t), _c("created_at", f), _s("status", 16), _c("attempts", i),
                           _c("next_attempt_at", f), _c("sent_at", f, True), _c("last_error", t),
                           sa.PrimaryKeyConstraint("key")], ["run", "status"], {}),
        ("reports", [_s(*RUN), _s("id", 64), _c("ts", f), _s("stream", 128), _s("reporter", 128), _s("reason", 64),
                     _c("weight", f), sa.PrimaryKeyConstraint("run", "id")], ["stream"], {}),
        ("verdicts", [_s("id", 64), _s(*RUN), _c("ts", f), _s("subject", 16), _s("key", 128), _s("action", 16),
                      _c("shadow", b), _s("policy", 64), _c("rules", j), _c("shadow_rules", j), _c("evidence", j),
                      sa.PrimaryKeyConstraint("id")], ["key", "run"], {}),
    ]


def upgrade() -> None:
    """Create every table and index that is missing; add api_keys.created_by where it is missing."""
    inspector = sa.inspect(op.get_bind())
    have = set(inspector.get_table_names())
    for name, elements, indexed, options in _tables():
        if name not in have:
            op.create_table(name, *elements, **options)
            present: set[str] = set()
        else:
            present = {ix["name"] for ix in inspector.get_indexes(name)}
        for col in indexed:
            if f"ix_{name}_{col}" not in present:
                op.create_index(f"ix_{name}_{col}", name, [col], unique=False)
    if "api_keys" in have and "created_by" not in {c["name"] for c in inspector.get_columns("api_keys")}:
        op.add_column("api_keys", sa.Column("created_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Drop every table (and its rows): back to an empty database."""
    for name, _elements, indexed, _options in reversed(_tables()):
        for col in indexed:
            op.drop_index(f"ix_{name}_{col}", table_name=name)
        op.drop_table(name)
