"""When each gate answer was stored, so a journal cut can drop answers older than the retry window
(service/journal.py: GATE_ANSWERS_KEEP); the table grew by every gate call before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add gate_answers.ts (answers already stored count from now) and its index."""
    now = time.time()
    if op.get_bind().dialect.name == "sqlite":
        # Moved aside, made anew and copied back, so the table's DDL is create_all's byte for byte
        # (tests/test_persistence.py); ALTER TABLE, or a rebuild under another name, reformats or quotes it.
        op.rename_table("gate_answers", "gate_answers_0002")
        op.create_table(
            "gate_answers",
            sa.Column("run", sa.String(length=64), nullable=False),
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("answer", sa.LargeBinary(), nullable=False),
            sa.Column("ts", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("run", "id"),
        )
        old = sa.table("gate_answers_0002", sa.column("run"), sa.column("id"), sa.column("answer"))
        new = sa.table("gate_answers", sa.column("run"), sa.column("id"), sa.column("answer"), sa.column("ts"))
        op.execute(new.insert().from_select(["run", "id", "answer", "ts"],
                                            sa.select(old.c.run, old.c.id, old.c.answer, sa.literal(now))))
        op.drop_table("gate_answers_0002")
    else:
        op.add_column("gate_answers", sa.Column("ts", sa.Float(), nullable=True))
        op.execute(sa.table("gate_answers", sa.column("ts")).update().values(ts=now))
    op.create_index("ix_gate_answers_ts", "gate_answers", ["run", "ts"])


def downgrade() -> None:
    """Drop gate_answers.ts and its index."""
    op.drop_index("ix_gate_answers_ts", table_name="gate_answers")
    op.drop_column("gate_answers", "ts")
