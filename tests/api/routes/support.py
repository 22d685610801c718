"""Helpers of the REST route tests: cheaper (still real) password hashing, request signing, and a
small market of accounts and instruments built through the real app."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api import security
from api.gateway import now_ms
from tests.api.conftest import DAY, NOW, Market, User

API = "/api/v1"
# Argon2id with the smallest cost: the same code path, ~1 ms instead of ~150 ms per hash.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", FAST_HASHER)


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four signing headers of docs/api.md for one request."""
    ts = str(now_ms() if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(12)
    message = security.canonical_request(ts, nonce, method, path, query, body)
    return {
        "X-Capex-Key": key_id,
        "X-Capex-Timestamp": ts,
        "X-Capex-Nonce": nonce,
        "X-Capex-Signature": security.sign(security.signing_key(secret), message),
    }


@dataclass(frozen=True)
class ApiKeyCredentials:
    key_id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass
class Caller:
    """Makes requests as one account, with its session token or one of its API keys (signed)."""

    client: TestClient
    user: User
    key: ApiKeyCredentials | None = None

    def request(
        self, method: str, path: str, body: Any = None, query: str = "", headers: dict[str, str] | None = None
    ):
        content = b"" if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if self.key is None:
            sent.update(self.user.headers)
        else:
            sent.update(signed_headers(self.key.key_id, self.key.secret, method, path, query, content))
        sent.update(headers or {})
        url = f"{path}?{query}" if query else path
        return self.client.request(method, url, content=content or None, headers=sent)

    def get(self, path: str, query: str = ""):
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any = None):
        return self.request("POST", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    def patch(self, path: str, body: Any):
        return self.request("PATCH", path, body)


def create_key(client: TestClient, user: User, scopes: list[str], label: str = "") -> ApiKeyCredentials:
    response = client.post(f"{API}/api-keys", json={"scopes": scopes, "label": label}, headers=user.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    return ApiKeyCredentials(body["key_id"], body["secret"], tuple(body["scopes"]))


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == status and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


WINDOW_WEEK = 20
PROCESS = "notebook-a5-print"


@dataclass
class World:
    """An operator, a supplier with capacity, two creators with cash, and a capacity option."""

    client: TestClient
    market: Market
    operator: User
    supplier: User
    alice: User
    bob: User
    cap: str
    _ids: dict[str, int] = field(default_factory=dict)

    def as_(self, user: User, key: ApiKeyCredentials | None = None) -> Caller:
        return Caller(self.client, user, key)

    def client_order_id(self, prefix: str = "o") -> str:
        self._ids[prefix] = self._ids.get(prefix, 0) + 1
        return f"{prefix}-{self._ids[prefix]}"

    def place(
        self, user: User, side: str, price: int, quantity: int, symbol: str | None = None, **extra: Any
    ):
        body = {
            "symbol": symbol or self.cap,
            "client_order_id": extra.pop("client_order_id", None) or self.client_order_id(user.username),
            "side": side,
            "price": price,
            "quantity": quantity,
            **extra,
        }
        return self.client.post(f"{API}/orders", json=body, headers=user.headers)

    def rest(
        self, user: User, side: str, price: int, quantity: int, symbol: str | None = None
    ) -> dict[str, Any]:
        response = self.place(user, side, price, quantity, symbol)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "open", response.text
        return response.json()

    def holding(self, user: User, contracts: int, price: int = 500) -> None:
        """`user` buys `contracts` of the capacity option from the supplier (who writes them)."""
        self.rest(self.supplier, "sell", price, contracts)
        response = self.place(user, "buy", price, contracts)
        assert response.status_code == 201 and response.json()["status"] == "filled", response.text

    def window(self, week: int = WINDOW_WEEK) -> tuple[int, int]:
        start = NOW + week * DAY
        return start, start + 7 * DAY

    def list_material_call(
        self, index: str = "INK-BLACK-SPECIAL", strike: int = 8000, cap: int = 9600, index_price: int = 8000
    ) -> str:
        """A material call on `index`; an index is known once it has a price, so the operator
        publishes `index_price` first when the index has none yet."""
        if not self.client.get(f"{API}/index-prices/{index}").json()["prices"]:
            published = self.client.post(
                f"{API}/operator/index-prices",
                json={"index": index, "price": index_price},
                headers=self.operator.headers,
            )
            assert published.status_code == 201, published.text
        expiry = NOW + 30 * DAY
        body = {
            "terms": {
                "kind": "MAT",
                "material": "special-black-ink",
                "index": index,
                "strike": strike,
                "cap": cap,
                "units_per_contract": 10,
                "settlement_window_start": NOW - DAY,
            },
            "tick": 10,
            "lot": 1,
            "min_price": 0,
            "max_price": (cap - strike) * 10,
            "expiry": expiry,
        }
        response = self.client.post(f"{API}/instruments", json=body, headers=self.operator.headers)
        assert response.status_code == 201, response.text
        return response.json()["symbol"]


def build_world(client: TestClient, market: Market) -> World:
    operator = market.user("operator-1", role="operator")
    supplier = market.user("supplier-1", role="supplier", cash=1_000_000)
    alice = market.user("alice", cash=10_000_000)
    bob = market.user("bob", cash=10_000_000)
    cap = market.list_capacity_option(PROCESS, strike=1200, week=WINDOW_WEEK)
    market.register_capacity(supplier, PROCESS, week=WINDOW_WEEK, units=10_000)
    return World(client, market, operator, supplier, alice, bob, cap)
