"""Health, metrics, and the answer when the sequencer can not be reached."""

from __future__ import annotations

import os
import socket

import pytest

from tests.api.conftest import free_port
from tests.api.routes.support import API, World, assert_error


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_health(world: World):
    response = world.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["database"] == "ok" and body["redis"] is None
    assert body["details"]["journal_seq"] == world.client.portal.call(
        world.client.app.state.gateway.query, "last_seq"
    )


def test_health_reports_an_unreachable_redis(world: World):
    world.client.app.state.settings.redis_url = f"redis://127.0.0.1:{free_port()}/0"
    response = world.client.get("/health")
    assert response.status_code == 503
    assert response.json()["ok"] is False and response.json()["redis"].startswith("error")
    assert response.json()["database"] == "ok"


def test_health_pings_a_configured_redis(world: World):
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running at 127.0.0.1:6379 (required in CI)")
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    world.client.app.state.settings.redis_url = "redis://127.0.0.1:6379/0"
    response = world.client.get("/health")
    assert response.status_code == 200 and response.json()["redis"] == "ok"


def test_metrics(world: World):
    world.rest(world.alice, "buy", 400, 1)
    response = world.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'capex_commands_total{code="OK",type="PlaceOrder"}' in text
    assert "capex_command_latency_seconds_bucket" in text and "capex_websockets_connected" in text
    seq = world.client.portal.call(world.client.app.state.gateway.query, "last_seq")
    assert f"capex_journal_seq {float(seq)}" in text
    placed = 'capex_http_requests_total{method="POST",route="/api/v1/orders",status="201"}'
    assert placed in text


def test_metrics_count_refusals_by_status(world: World):
    def count(text: str, status: str) -> float:
        line = f'capex_http_requests_total{{method="GET",route="/api/v1/orders/{{order_id}}",status="{status}"}} '
        return next((float(row[len(line) :]) for row in text.splitlines() if row.startswith(line)), 0.0)

    before = world.client.get("/metrics").text
    assert_error(world.client.get(f"{API}/orders/123456", headers=world.alice.headers), 404, "UNKNOWN_ORDER")
    assert_error(world.client.get(f"{API}/orders/123456"), 401, "UNAUTHENTICATED")
    after = world.client.get("/metrics").text
    assert count(after, "404") == count(before, "404") + 1
    assert count(after, "401") == count(before, "401") + 1


def test_an_unreachable_sequencer_is_503_and_changes_nothing(world: World):
    client = world.client
    client.portal.call(client.app.state.gateway.stop)
    assert_error(client.get(f"{API}/instruments"), 503, "UNAVAILABLE")
    assert_error(world.place(world.alice, "buy", 400, 1), 503, "UNAVAILABLE")
    assert_error(client.get(f"{API}/portfolio/balances", headers=world.alice.headers), 503, "UNAVAILABLE")
    health = client.get("/health")
    assert health.status_code == 503 and health.json()["ok"] is False
    assert client.get("/metrics").status_code == 200
