"""Snapshots are stored compressed with a SHA-256 digest of the stored bytes instead of the
sequencer's state hash (computing that hash stopped the writer for seconds on a large state).

Earlier snapshot rows are dropped: they are only a shortcut, recovery replays the journal.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _snapshots(check_column: str) -> None:
    op.create_table(
        "snapshots",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column(check_column, sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def upgrade() -> None:
    op.drop_table("snapshots")
    _snapshots("digest")


def downgrade() -> None:
    op.drop_table("snapshots")
    _snapshots("state_hash")
