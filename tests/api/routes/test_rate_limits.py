"""Rate limits: per API key (or session account) and per IP address, answered with 429 and a
Retry-After header; a refused request changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import ApiSettings
from tests.api.routes.support import API, World, assert_error, create_key

KEY_BURST = 4
IP_BURST = 12


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    """Tiny buckets: a burst, then one request every 10 s (no refill within a test)."""
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}",
        rate_limit_per_key=0.1,
        rate_limit_per_key_burst=KEY_BURST,
        rate_limit_per_ip=0.1,
        rate_limit_per_ip_burst=IP_BURST,
    )


def test_a_session_is_limited_after_its_burst(world: World):
    statuses = [
        world.client.get(f"{API}/portfolio/balances", headers=world.alice.headers)
        for _ in range(KEY_BURST + 1)
    ]
    assert [r.status_code for r in statuses[:KEY_BURST]] == [200] * KEY_BURST
    error = assert_error(statuses[-1], 429, "RATE_LIMITED")
    retry_after = int(statuses[-1].headers["Retry-After"])
    assert 1 <= retry_after <= 10 and str(retry_after) in error["message"]
    # another account has its own bucket
    assert world.client.get(f"{API}/portfolio/balances", headers=world.bob.headers).status_code == 200


def test_a_limited_order_is_not_placed(world: World):
    for _ in range(KEY_BURST):
        world.client.get(f"{API}/me", headers=world.alice.headers)
    assert_error(world.place(world.alice, "buy", 400, 1), 429, "RATE_LIMITED")
    assert (
        world.client.portal.call(world.client.app.state.gateway.query, "open_orders", world.alice.account_id)
        == []
    )


def test_each_api_key_has_its_own_bucket(world: World):
    key = create_key(world.client, world.alice, ["read"])
    caller = world.as_(world.alice, key)
    responses = [caller.get(f"{API}/portfolio/balances") for _ in range(KEY_BURST + 1)]
    assert [r.status_code for r in responses] == [200] * KEY_BURST + [429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    # the session of the same account is a different bucket (it spent one request creating the key)
    assert world.client.get(f"{API}/portfolio/balances", headers=world.alice.headers).status_code == 200


def test_an_address_is_limited_after_its_burst(world: World):
    responses = [world.client.get(f"{API}/instruments") for _ in range(IP_BURST + 1)]
    assert [r.status_code for r in responses[:IP_BURST]] == [200] * IP_BURST
    assert_error(responses[-1], 429, "RATE_LIMITED")
    assert int(responses[-1].headers["Retry-After"]) >= 1
    # health and metrics are outside the API's buckets
    assert world.client.get("/health").status_code == 200
