"""Fixtures of the store tests: every test that takes `database_url` runs on SQLite and PostgreSQL.

SQLite: a fresh file per test. PostgreSQL (127.0.0.1:5432, database `test`, or
TEST_POSTGRES_URL): a fresh schema per test, reached through the URL's `search_path` option, and
dropped afterwards. PostgreSQL unreachable: the test is skipped, or fails when CI is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_admin():
    return create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh, empty schema."""
    engine = _postgres_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL unreachable at {POSTGRES_URL}: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    return request.getfixturevalue("postgres_schema_url")
