"""API keys: an algorithm per key (`hmac-sha256` | `ed25519`), the Ed25519 public key, and the
HMAC key encrypted with a server key (api/key_crypto.py) instead of in clear.

Existing rows become `hmac-sha256` rows that still hold their plain `signing_key_hash` (now
nullable): the migration has no server key (it also runs in the sequencer process, which never
sees API settings), so the API encrypts those digests and erases them when it starts
(`key_crypto.reseal_rows`), before it serves a request. Downgrading drops the rows that have no
plain digest (Ed25519 keys, encrypted HMAC keys): 0003's code could not verify them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite can not ALTER a column's nullability, so the table is copied there;
    # PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("algorithm", sa.String(length=16), nullable=False, server_default="hmac-sha256")
        )
        batch.add_column(sa.Column("public_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("secret_ciphertext", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("encryption_key_id", sa.String(length=32), nullable=True))
        batch.alter_column("signing_key_hash", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_keys WHERE signing_key_hash IS NULL"))
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("signing_key_hash", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("encryption_key_id")
        batch.drop_column("secret_ciphertext")
        batch.drop_column("public_key")
        batch.drop_column("algorithm")
