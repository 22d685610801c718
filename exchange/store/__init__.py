"""Persistence of the exchange: the command journal, snapshots, SQL projections and the schema.

- `database`: engines with the durability settings (SQLite WAL + synchronous=FULL, PostgreSQL
  synchronous_commit=on).
- `tables`: SQLModel tables (journal, snapshots, projections).
- `projections`: a batch of results' events -> coalesced upserts / inserts (SQLAlchemy Core).
- `journal`: `Store`, one transaction per batch (journal rows + projections), journal reads,
  snapshots, and the schema upgrade (alembic, run on open).
"""

from exchange.store.journal import (
    JournalRecord,
    SnapshotCorruptError,
    Store,
    StoredSnapshot,
    StoreUnavailableError,
)

__all__ = ["JournalRecord", "SnapshotCorruptError", "Store", "StoredSnapshot", "StoreUnavailableError"]
