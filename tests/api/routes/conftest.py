"""Fixtures of the route tests: every test gets a fresh app on its own SQLite file (tests/api/
conftest.py) with a small market in it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Market
from tests.api.routes.support import World, build_world, fast_passwords

__all__ = ["fast_passwords"]


@pytest.fixture(autouse=True)
def _cheap_hashing(fast_passwords: None) -> None:
    """Every route test hashes passwords with the cheapest Argon2id parameters."""


@pytest.fixture
def world(client: TestClient, market: Market) -> World:
    return build_world(client, market)
