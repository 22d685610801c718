"""Engines for the store: SQLite (the embedded default) or PostgreSQL, chosen by URL.

Durability settings are applied on every new DBAPI connection, so no code path can forget them:

- SQLite: `journal_mode=WAL` (readers never block the single writer) and `synchronous=FULL` (every
  commit fsyncs the WAL before it returns: a committed group survives a power cut, not only a
  process crash), `foreign_keys=ON`, and a busy timeout so a reader's lock does not fail a commit.
- PostgreSQL: `synchronous_commit=on` (a commit returns after the WAL is flushed to disk).

The engine is used from one writer thread (the sequencer's); readers may open their own engines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 5_000


def normalize_url(url: str) -> str:
    """Accept the usual spellings: `postgresql://` and `postgres://` mean psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine with the durability settings above. For a SQLite file, its folder is created."""
    url = normalize_url(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(os.path.dirname(os.path.abspath(database))).mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _pg_settings(dbapi_connection: Any, _record: Any) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit TO on")
            finally:
                dbapi_connection.autocommit = autocommit

        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def make_reader_engine(url: str) -> Engine:
    """A short-lived engine for tools (audit, tests): no pooling kept around."""
    return make_engine(url, poolclass=NullPool)
