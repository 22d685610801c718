"""Configuration of the exchange core, read from environment variables in one settings object.

Defaults run on one machine with nothing else installed: a SQLite file under ./var.

- DATABASE_URL (or EXCHANGE_DATABASE_URL, API_DATABASE_URL): `sqlite:///./var/exchange.db` by default;
  `postgresql+psycopg://user@host:5432/db` (or `postgresql://...`) for PostgreSQL.
- EXCHANGE_GROUP_COMMIT_SIZE: the most commands committed in one transaction (the sequencer's
  group commit, in every deployment).
- EXCHANGE_SNAPSHOT_INTERVAL: a snapshot of the sequencer's state is saved after at least this
  many journaled commands since the last one (0 disables snapshots).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExchangeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/exchange.db",
        validation_alias=AliasChoices("DATABASE_URL", "EXCHANGE_DATABASE_URL", "API_DATABASE_URL"),
    )
    group_commit_size: int = Field(default=1000, ge=1)
    snapshot_interval: int = Field(default=100_000, ge=0)
