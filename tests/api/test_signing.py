"""Signed API-key requests: a valid one passes; stale, future-dated, replayed, tampered (body, path,
query, method), wrongly keyed, revoked or incomplete ones are 401 and change nothing. Also checks
the worked example of docs/api.md against the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import security
from api.config import ApiSettings
from api.gateway import now_ms
from tests.api.conftest import Market
from tests.api.routes.support import (
    API,
    World,
    assert_error,
    build_world,
    create_key,
    fast_passwords,
    signed_headers,
)

__all__ = ["fast_passwords"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
WINDOW_MS = ApiSettings().signature_window_ms


@pytest.fixture
def world(client: TestClient, market: Market, fast_passwords: None) -> World:
    return build_world(client, market)


@pytest.fixture
def key(world: World):
    return create_key(world.client, world.alice, ["read", "trade"])


def order_body(world: World, client_order_id: str = "signed-1") -> bytes:
    return json.dumps(
        {"symbol": world.cap, "client_order_id": client_order_id, "side": "buy", "price": 400, "quantity": 1}
    ).encode()


def post_order(world: World, headers: dict[str, str], body: bytes, path: str = f"{API}/orders"):
    return world.client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


def open_orders(world: World) -> list:
    return world.client.get(f"{API}/orders", headers=world.alice.headers).json()


def refused(response, words: str) -> None:
    error = assert_error(response, 401, "UNAUTHENTICATED")
    assert words in error["message"], error


def test_a_valid_signature_passes(world: World, key):
    body = order_body(world)
    placed = post_order(
        world, signed_headers(key.key_id, key.secret, "POST", f"{API}/orders", "", body), body
    )
    assert placed.status_code == 201 and placed.json()["account_id"] == world.alice.account_id
    query = "status=open&limit=5"
    listed = world.client.get(
        f"{API}/orders?{query}", headers=signed_headers(key.key_id, key.secret, "GET", f"{API}/orders", query)
    )
    assert listed.status_code == 200 and [o["order_id"] for o in listed.json()] == [placed.json()["order_id"]]


def test_the_edges_of_the_time_window(world: World, key):
    inside = now_ms() - WINDOW_MS + 5_000
    headers = signed_headers(key.key_id, key.secret, "GET", f"{API}/me", timestamp=inside)
    assert world.client.get(f"{API}/me", headers=headers).status_code == 200
    stale = signed_headers(key.key_id, key.secret, "GET", f"{API}/me", timestamp=now_ms() - WINDOW_MS - 1_000)
    refused(world.client.get(f"{API}/me", headers=stale), "stale")
    future = signed_headers(
        key.key_id, key.secret, "GET", f"{API}/me", timestamp=now_ms() + WINDOW_MS + 5_000
    )
    refused(world.client.get(f"{API}/me", headers=future), "future-dated")


def test_a_replayed_request_is_refused_and_not_executed_twice(world: World, key):
    first_body = order_body(world, "replay-1")
    headers = signed_headers(key.key_id, key.secret, "POST", f"{API}/orders", "", first_body)
    assert post_order(world, headers, first_body).status_code == 201
    refused(post_order(world, headers, first_body), "replayed")
    # the same nonce with a fresh, correctly signed request is still a replay
    second_body = order_body(world, "replay-2")
    again = signed_headers(
        key.key_id, key.secret, "POST", f"{API}/orders", "", second_body, nonce=headers["X-Capex-Nonce"]
    )
    refused(post_order(world, again, second_body), "replayed")
    assert [o["client_order_id"] for o in open_orders(world)] == ["replay-1"]


def test_tampering_is_refused(world: World, key):
    body = order_body(world, "tamper")
    headers = signed_headers(key.key_id, key.secret, "POST", f"{API}/orders", "", body)
    other_body = body.replace(b'"quantity": 1', b'"quantity": 9')
    assert other_body != body
    refused(post_order(world, headers, other_body), "does not match")
    refused(post_order(world, headers, body, path=f"{API}/orders/cancel-all"), "does not match")
    refused(post_order(world, headers, body, path=f"{API}/orders?x=1"), "does not match")
    query = "status=open"
    signed_get = signed_headers(key.key_id, key.secret, "GET", f"{API}/orders", query)
    refused(world.client.get(f"{API}/orders?status=all", headers=signed_get), "does not match")
    refused(world.client.post(f"{API}/orders?{query}", headers=signed_get), "does not match")
    assert open_orders(world) == []


def test_a_signature_made_with_another_key_is_refused(world: World, key):
    other = create_key(world.client, world.bob, ["read", "trade"])
    body = order_body(world, "wrong-key")
    wrong_secret = signed_headers(key.key_id, other.secret, "POST", f"{API}/orders", "", body)
    refused(post_order(world, wrong_secret, body), "does not match")
    guessed = signed_headers(key.key_id, key.secret + "x", "POST", f"{API}/orders", "", body)
    refused(post_order(world, guessed, body), "does not match")
    assert open_orders(world) == []


def test_a_revoked_or_unknown_key_is_refused(world: World, key):
    assert world.client.delete(f"{API}/api-keys/{key.key_id}", headers=world.alice.headers).status_code == 200
    body = order_body(world, "revoked")
    refused(
        post_order(world, signed_headers(key.key_id, key.secret, "POST", f"{API}/orders", "", body), body),
        "revoked",
    )
    unknown = signed_headers("ak_0123456789abcdef", key.secret, "GET", f"{API}/me")
    refused(world.client.get(f"{API}/me", headers=unknown), "unknown")
    assert open_orders(world) == []


def test_incomplete_or_malformed_signing_headers(world: World, key):
    headers = signed_headers(key.key_id, key.secret, "GET", f"{API}/me")
    for missing in ("X-Capex-Timestamp", "X-Capex-Nonce", "X-Capex-Signature"):
        partial = {k: v for k, v in headers.items() if k != missing}
        refused(world.client.get(f"{API}/me", headers=partial), "needs")
    refused(world.client.get(f"{API}/me", headers={**headers, "X-Capex-Timestamp": "soon"}), "ms since epoch")
    refused(world.client.get(f"{API}/me", headers={**headers, "X-Capex-Nonce": "short"}), "8 to 64")
    refused(
        world.client.get(f"{API}/me", headers={**headers, "X-Capex-Signature": "00" * 32}), "does not match"
    )


# Before the bounds, 5,000 digits with a known key id answered a plain-text 500 (int() refuses more
# than 4,300 digits) and "²" passed str.isdigit() and then failed int(): every one is a 401 now.
BAD_TIMESTAMPS = ["9" * 5000, "1" * 17, "-1", "+1793577600000", "1e12", "0x10", " 1", "1_000"]


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS, ids=lambda t: repr(t)[:12])
def test_malformed_timestamps_are_401_before_anything_converts_them(world: World, key, timestamp: str):
    headers = signed_headers(key.key_id, key.secret, "GET", f"{API}/me")
    refused(
        world.client.get(f"{API}/me", headers={**headers, "X-Capex-Timestamp": timestamp}), "ms since epoch"
    )


def test_unicode_digit_timestamps_are_401_over_http(live_server, live_market, fast_passwords):
    """Over a real socket (the test client re-encodes non-ASCII header bytes): the server reads
    headers as latin-1, so b"\xb2" is "²", which str.isdigit() accepts and int() refuses."""
    user = live_market.user("unicode", "creator")
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        created = http.post(f"{API}/api-keys", json={"scopes": ["read"]}, headers=user.headers)
        assert created.status_code == 201, created.text
        key_id, secret = created.json()["key_id"], created.json()["secret"]
        for timestamp in ("²", "1²", "³", "¹" * 13, "9" * 5000):
            headers = signed_headers(key_id, secret, "GET", f"{API}/me")
            headers["X-Capex-Timestamp"] = timestamp.encode("latin-1")  # type: ignore[assignment]
            refused(http.get(f"{API}/me", headers=headers), "ms since epoch")
        assert (
            http.get(f"{API}/me", headers=signed_headers(key_id, secret, "GET", f"{API}/me")).status_code
            == 200
        )


def test_oversized_signing_headers_are_401(world: World, key):
    headers = signed_headers(key.key_id, key.secret, "GET", f"{API}/me")
    for name, value, words in (
        ("X-Capex-Nonce", "n" * 5000, "8 to 64"),
        ("X-Capex-Nonce", "nonce with spaces", "8 to 64"),
        ("X-Capex-Signature", "0" * 5000, "at most 128"),
        ("X-Capex-Signature", "zz" * 32, "hex"),
        ("X-Capex-Key", "ak_" + "0" * 5000, "unknown"),
    ):
        refused(world.client.get(f"{API}/me", headers={**headers, name: value}), words)
    # 16 digits is the bound, not an error: it is only far in the future
    refused(world.client.get(f"{API}/me", headers={**headers, "X-Capex-Timestamp": "9" * 16}), "future-dated")
    assert world.client.get(f"{API}/me", headers=headers).status_code == 200


# -- the worked example of docs/api.md ------------------------------------------------------------


def docs_example() -> dict:
    text = DOCS.read_text()
    block = re.search(r"<!-- signing-example -->\s*```python\n(.*?)```", text, flags=re.DOTALL)
    assert block, "docs/api.md has no signing example"
    namespace: dict = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)
    return namespace


def test_the_documented_function_signs_requests_the_server_accepts(world: World, key):
    signed = docs_example()["signed_headers"]
    body = json.dumps(
        {"symbol": world.cap, "client_order_id": "docs-1", "side": "buy", "price": 400, "quantity": 1},
        separators=(",", ":"),
    ).encode()
    placed = post_order(world, signed(key.key_id, key.secret, "POST", f"{API}/orders", "", body), body)
    assert placed.status_code == 201, placed.text
    query = "status=open&limit=50"
    listed = world.client.get(
        f"{API}/orders?{query}", headers=signed(key.key_id, key.secret, "GET", f"{API}/orders", query)
    )
    assert [o["client_order_id"] for o in listed.json()] == ["docs-1"]


def test_the_documented_values_are_right():
    text = DOCS.read_text()
    secret = "Zm9yLWRvY3Mtb25seS1ub3QtYS1yZWFsLXNlY3JldA"
    timestamp, nonce = "1793577600000", "8f14e45fceea167a5a36dedd4bea2543"
    body = (
        b'{"symbol":"CAP-NOTEBOOK-A5-PRINT-2026W45-K1200","client_order_id":"bot-000001",'
        b'"side":"buy","price":500,"quantity":2}'
    )
    for value in (secret, timestamp, nonce, body.decode()):
        assert value in text
    key = security.signing_key(secret)
    post = security.sign(
        key, security.canonical_request(timestamp, nonce, "POST", "/api/v1/orders", "", body)
    )
    get = security.sign(
        key,
        security.canonical_request(timestamp, nonce, "GET", "/api/v1/orders", "status=open&limit=50", b""),
    )
    import hashlib

    for value in (hashlib.sha256(body).hexdigest(), key.hex(), post, get):
        assert f"`{value}`" in text
