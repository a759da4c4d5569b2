"""The engine's snapshots, so the embedded service can cut its journal (service/compaction.py); failed key
attempts shared by every API process of a store (service/attempts.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add journal_snapshots and auth_failures."""
    op.create_table(
        "journal_snapshots",
        sa.Column("run", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run", "seq", "part"),
    )
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("who", sa.String(length=160), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auth_failures_who", "auth_failures", ["who"])


def downgrade() -> None:
    """Drop journal_snapshots and auth_failures."""
    op.drop_index("ix_auth_failures_who", table_name="auth_failures")
    op.drop_table("auth_failures")
    op.drop_table("journal_snapshots")
