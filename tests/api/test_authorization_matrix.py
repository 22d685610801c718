"""Authorization matrix: every private route x every credential (session; API keys with the read,
trade and transfer scope; none) x own and foreign objects. Only the allowed cells succeed; every
other cell is refused (401, 403, 404 or 409) and changes nothing, checked by re-reading the whole
state: the sequencer's business state hash and every projection and credential row.

Each route runs on a fresh app. Within a route the foreign cells run first, so that objects a
refused own cell left behind can not make a foreign cell succeed by accident.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from api.accounts import log_in
from api.config import ApiSettings
from exchange.store.tables import PROJECTION_TABLES
from tests.api.conftest import DAY, NOW, Market, User
from tests.api.routes.support import (
    API,
    ApiKeyCredentials,
    Caller,
    World,
    build_world,
    create_key,
    fast_passwords,
)

__all__ = ["fast_passwords"]

CREDENTIALS = ("none", "read", "trade", "transfer", "session", "revoked key", "ended session")
# Credentials that authenticated once and ended: every route answers 401 and changes nothing.
ENDED = ("revoked key", "ended session")
API_TABLES = ("api_credentials", "api_sessions", "api_keys")


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    """Rate limits far above what the matrix sends."""
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}",
        rate_limit_per_ip=1e6,
        rate_limit_per_ip_burst=1_000_000,
        rate_limit_per_key=1e6,
        rate_limit_per_key_burst=1_000_000,
    )


@dataclass
class Call:
    method: str
    path: str
    body: Any = None
    query: str = ""
    actor: str = "alice"  # whose credentials make the call
    session_token: str | None = None  # a fresh session for this call (logout)
    check: Callable[[Any], None] | None = None  # more to assert on an allowed cell's answer


@dataclass
class Matrix:
    world: World
    keys: dict[tuple[str, str], ApiKeyCredentials] = field(default_factory=dict)
    ended_sessions: dict[str, str] = field(default_factory=dict)  # actor -> a logged-out token
    mat: str = ""

    @property
    def client(self) -> TestClient:
        return self.world.client

    def user(self, name: str) -> User:
        return getattr(self.world, name)

    def key(self, actor: str, scope: str) -> ApiKeyCredentials:
        if (actor, scope) not in self.keys:
            self.keys[actor, scope] = create_key(
                self.client, self.user(actor), [scope], label=f"matrix {scope}"
            )
        return self.keys[actor, scope]

    def ended(self, actor: str, credential: str) -> tuple[User, ApiKeyCredentials | None]:
        """A key with every scope, revoked; or a session, logged out (made once per actor)."""
        if (actor, credential) not in self.keys:
            user = self.user(actor)
            if credential == "revoked key":
                key = create_key(self.client, user, ["read", "trade", "transfer"], label="matrix revoked")
                revoked = self.client.delete(f"{API}/api-keys/{key.key_id}", headers=user.headers)
                assert revoked.status_code == 200, revoked.text
                self.keys[actor, credential] = key
            else:
                token = self.session_token(actor)
                out = self.client.post(f"{API}/auth/logout", headers={"Authorization": f"Bearer {token}"})
                assert out.status_code == 204, out.text
                self.ended_sessions[actor] = token
        user = self.user(actor)
        if credential == "revoked key":
            return user, self.keys[actor, credential]
        return User(user.account_id, user.username, user.password, self.ended_sessions[actor]), None

    def send(self, call: Call, credential: str):
        if credential in ENDED:
            user, key = self.ended(call.actor, credential)
            return Caller(self.client, user, key).request(call.method, call.path, call.body, call.query)
        user = self.user(call.actor)
        if call.session_token is not None:
            user = User(user.account_id, user.username, user.password, call.session_token)
        if credential == "none":
            headers = {"Content-Type": "application/json"} if call.body is not None else {}
            url = f"{call.path}?{call.query}" if call.query else call.path
            content = json.dumps(call.body).encode() if call.body is not None else None
            return self.client.request(call.method, url, content=content, headers=headers)
        key = None if credential == "session" else self.key(call.actor, credential)
        return Caller(self.client, user, key).request(call.method, call.path, call.body, call.query)

    def fingerprint(self) -> str:
        """The business state hash of the sequencer and every projection and credential row."""
        gateway = self.client.app.state.gateway
        # Runs on the sequencer's writer thread, between commands (test-only use of the embedded gateway).
        business = self.client.portal.call(
            gateway._call, lambda runtime: runtime.exchange.sequencer.state_hash(journal=False)
        )
        digest = hashlib.sha256(business.encode())
        with Session(self.client.app.state.db_engine) as session:
            for table in PROJECTION_TABLES + API_TABLES:
                rows = sorted(repr(tuple(row)) for row in session.exec(text(f"SELECT * FROM {table}")))  # type: ignore[call-overload]
                digest.update(f"{table}:{rows}".encode())
        return digest.hexdigest()

    # -- objects ----------------------------------------------------------------------------------

    def order(self, owner: str) -> int:
        return self.world.rest(self.user(owner), "buy", 400, 1)["order_id"]

    def holding(self, owner: str, symbol: str | None = None) -> None:
        if symbol is None:
            self.world.holding(self.user(owner), 1)
            return
        self.world.rest(self.world.supplier, "sell", 1000, 1, symbol=symbol)
        assert self.world.place(self.user(owner), "buy", 1000, 1, symbol=symbol).json()["status"] == "filled"

    def booking(self, owner: str, confirmed: bool = True) -> int:
        self.holding(owner)
        response = self.client.post(
            f"{API}/exercise",
            json={"symbol": self.world.cap, "quantity": 1},
            headers=self.user(owner).headers,
        )
        booking_id = response.json()["bookings"][0]["booking_id"]
        if confirmed:
            path = f"{API}/bookings/{booking_id}/milestones"
            assert (
                self.client.post(
                    path, json={"milestone": "confirmed"}, headers=self.world.supplier.headers
                ).status_code
                == 200
            )
        return booking_id

    def session_token(self, owner: str) -> str:
        user = self.user(owner)
        token, _, _ = self.client.portal.call(
            log_in, self.client.app.state.db_engine, user.username, user.password, 3600
        )
        return token


def absent(ids: set[int], field_name: str) -> Callable[[Any], None]:
    """An allowed list answer must not contain another account's objects."""

    def check(response) -> None:
        seen = {row[field_name] for row in response.json()}
        assert seen and not seen & ids, (seen, ids)

    return check


# -- ROUTES: (name, what the credential needs, prepare(matrix, own) -> Call) -------------------------
# needs: a scope, "session" (session token only), or "any" (any valid credentials). "own" False is
# the foreign cell: another account's object, or a non-operator on an operator route.


def _orders_list(m: Matrix, own: bool) -> Call:
    foreign = {m.order("bob")}
    m.order("alice")
    return Call("GET", f"{API}/orders", query="status=all", check=absent(foreign, "order_id"))


def _portfolio_trades(m: Matrix, own: bool) -> Call:
    m.holding("alice")
    m.holding("bob")
    bob_orders = {
        o["order_id"] for o in m.client.get(f"{API}/orders?status=all", headers=m.world.bob.headers).json()
    }
    return Call("GET", f"{API}/portfolio/trades", check=absent(bob_orders, "order_id"))


def _portfolio_bookings(m: Matrix, own: bool) -> Call:
    foreign = {m.booking("bob", confirmed=False)}
    m.booking("alice", confirmed=False)
    return Call("GET", f"{API}/portfolio/bookings", check=absent(foreign, "booking_id"))


def _portfolio_transfers(m: Matrix, own: bool) -> Call:
    sent = m.client.post(
        f"{API}/transfers",
        json={"asset": "cash", "to_account_id": m.world.supplier.account_id, "amount": 5},
        headers=m.world.bob.headers,
    )
    m.client.post(
        f"{API}/transfers",
        json={"asset": "cash", "to_account_id": m.world.bob.account_id, "amount": 7},
        headers=m.world.alice.headers,
    )
    return Call(
        "GET", f"{API}/portfolio/transfers", check=absent({sent.json()["transfer_id"]}, "transfer_id")
    )


def _api_keys_list(m: Matrix, own: bool) -> Call:
    foreign = create_key(m.client, m.world.bob, ["read"]).key_id

    def check(response) -> None:
        assert foreign not in {row["key_id"] for row in response.json()}

    return Call("GET", f"{API}/api-keys", check=check)


def _revoke_key(m: Matrix, own: bool) -> Call:
    target = create_key(m.client, m.world.alice if own else m.world.bob, ["read"])
    return Call("DELETE", f"{API}/api-keys/{target.key_id}")


def _place(m: Matrix, own: bool) -> Call:
    body = {
        "symbol": m.world.cap,
        "client_order_id": m.world.client_order_id("matrix"),
        "side": "buy",
        "price": 400,
        "quantity": 1,
    }
    return Call("POST", f"{API}/orders", body)


def _cancel(m: Matrix, own: bool) -> Call:
    return Call("DELETE", f"{API}/orders/{m.order('alice' if own else 'bob')}")


def _amend(m: Matrix, own: bool) -> Call:
    return Call("PATCH", f"{API}/orders/{m.order('alice' if own else 'bob')}", {"price": 401, "quantity": 1})


def _get_order(m: Matrix, own: bool) -> Call:
    return Call("GET", f"{API}/orders/{m.order('alice' if own else 'bob')}")


def _cancel_all(m: Matrix, own: bool) -> Call:
    m.order("alice")
    m.order("bob")
    return Call("POST", f"{API}/orders/cancel-all", None if own else {"account_id": m.world.bob.account_id})


def _exercise(m: Matrix, own: bool) -> Call:
    m.holding("alice" if own else "bob")
    return Call("POST", f"{API}/exercise", {"symbol": m.world.cap, "quantity": 1})


def _decline(m: Matrix, own: bool) -> Call:
    if not m.mat:
        m.mat = m.world.list_material_call()
    m.holding("alice" if own else "bob", symbol=m.mat)
    return Call("POST", f"{API}/decline-auto-exercise", {"symbol": m.mat})


def _transfer(m: Matrix, own: bool) -> Call:
    m.holding("alice" if own else "bob")
    body = {"asset": "position", "to_username": "supplier-1", "symbol": m.world.cap, "quantity": 1}
    return Call("POST", f"{API}/transfers", body)


def _capacity(m: Matrix, own: bool) -> Call:
    start = NOW + 33 * DAY
    body = {"process": "pen-line", "window_start": start, "window_end": start + DAY, "units": 10}
    return Call("POST", f"{API}/capacity", body, actor="supplier" if own else "alice")


def _milestone(m: Matrix, own: bool) -> Call:
    booking_id = m.booking("alice" if own else "bob")
    return Call("POST", f"{API}/bookings/{booking_id}/milestones", {"milestone": "delivered"})


def _kill_switch(m: Matrix, own: bool) -> Call:
    return Call(
        "POST", f"{API}/kill-switch", {"engaged": True} if own else {"account_id": m.world.bob.account_id}
    )


def _operator(method: str, path: str, body: Callable[[Matrix], Any] | None = None):
    def prepare(m: Matrix, own: bool) -> Call:
        return Call(method, f"{API}{path}", body(m) if body else None, actor="operator" if own else "alice")

    return prepare


_strikes = itertools.count(150)
_new_accounts = itertools.count(1)


def _account_body(m: Matrix) -> dict:
    return {"username": f"matrix-op-{next(_new_accounts)}", "password": "password-123", "role": "operator"}


def _instrument_body(m: Matrix) -> dict:
    start = NOW + 40 * DAY
    terms = {
        "kind": "CAP",
        "process": "pen-line",
        "window_start": start,
        "window_end": start + 7 * DAY,
        "strike": next(_strikes),
        "units_per_contract": 5,
        "exercise_deadline": start - DAY,
    }
    return {"terms": terms, "tick": 1, "lot": 1, "min_price": 1, "max_price": 10_000}


def _default(m: Matrix, own: bool) -> Call:
    return Call(
        "POST", f"{API}/operator/bookings/{m.booking('alice')}/default", actor="operator" if own else "alice"
    )


def _logout(m: Matrix, own: bool) -> Call:
    return Call("POST", f"{API}/auth/logout", session_token=m.session_token("alice"))


ROUTES: list[tuple[str, str, Callable[[Matrix, bool], Call]]] = [
    ("GET /me", "any", lambda m, own: Call("GET", f"{API}/me")),
    ("POST /auth/logout", "session", _logout),
    ("POST /api-keys", "session", lambda m, own: Call("POST", f"{API}/api-keys", {"scopes": ["read"]})),
    ("GET /api-keys", "read", _api_keys_list),
    ("DELETE /api-keys/{key_id}", "session", _revoke_key),
    ("POST /orders", "trade", _place),
    ("DELETE /orders/{order_id}", "trade", _cancel),
    ("PATCH /orders/{order_id}", "trade", _amend),
    ("POST /orders/cancel-all", "trade", _cancel_all),
    ("GET /orders", "read", _orders_list),
    ("GET /orders/{order_id}", "read", _get_order),
    ("GET /portfolio/balances", "read", lambda m, own: Call("GET", f"{API}/portfolio/balances")),
    ("GET /portfolio/positions", "read", lambda m, own: Call("GET", f"{API}/portfolio/positions")),
    ("GET /portfolio/trades", "read", _portfolio_trades),
    ("GET /portfolio/ledger", "read", lambda m, own: Call("GET", f"{API}/portfolio/ledger")),
    ("GET /portfolio/bookings", "read", _portfolio_bookings),
    (
        "GET /portfolio/capacity",
        "read",
        lambda m, own: Call("GET", f"{API}/portfolio/capacity", actor="supplier"),
    ),
    ("GET /portfolio/transfers", "read", _portfolio_transfers),
    ("POST /exercise", "trade", _exercise),
    ("POST /decline-auto-exercise", "trade", _decline),
    ("POST /transfers", "transfer", _transfer),
    ("POST /capacity", "trade", _capacity),
    ("POST /bookings/{booking_id}/milestones", "trade", _milestone),
    ("POST /kill-switch", "trade", _kill_switch),
    ("POST /instruments", "trade", _operator("POST", "/instruments", _instrument_body)),
    (
        "POST /instruments/{symbol}/halt",
        "trade",
        lambda m, own: _operator("POST", f"/instruments/{m.world.cap}/halt")(m, own),
    ),
    (
        "POST /instruments/{symbol}/resume",
        "trade",
        lambda m, own: _operator("POST", f"/instruments/{m.world.cap}/resume")(m, own),
    ),
    ("POST /operator/accounts", "trade", _operator("POST", "/operator/accounts", _account_body)),
    ("POST /operator/expiry", "trade", _operator("POST", "/operator/expiry")),
    (
        "POST /operator/index-prices",
        "trade",
        _operator("POST", "/operator/index-prices", lambda m: {"index": "INK", "price": 5}),
    ),
    (
        "POST /operator/deposits",
        "trade",
        _operator(
            "POST", "/operator/deposits", lambda m: {"account_id": m.world.bob.account_id, "amount": 5}
        ),
    ),
    (
        "POST /operator/withdrawals",
        "trade",
        _operator(
            "POST", "/operator/withdrawals", lambda m: {"account_id": m.world.bob.account_id, "amount": 5}
        ),
    ),
    ("POST /operator/bookings/{booking_id}/default", "trade", _default),
    ("GET /operator/audit", "trade", _operator("GET", "/operator/audit")),
]
# Routes whose object or actor has a foreign variant; the others act on the caller's own data only.
FOREIGN = {
    "DELETE /api-keys/{key_id}",
    "DELETE /orders/{order_id}",
    "PATCH /orders/{order_id}",
    "POST /orders/cancel-all",
    "GET /orders/{order_id}",
    "POST /exercise",
    "POST /decline-auto-exercise",
    "POST /transfers",
    "POST /capacity",
    "POST /bookings/{booking_id}/milestones",
    "POST /kill-switch",
    "POST /instruments",
    "POST /instruments/{symbol}/halt",
    "POST /instruments/{symbol}/resume",
    "POST /operator/accounts",
    "POST /operator/expiry",
    "POST /operator/index-prices",
    "POST /operator/deposits",
    "POST /operator/withdrawals",
    "POST /operator/bookings/{booking_id}/default",
    "GET /operator/audit",
}


def allowed(needs: str, credential: str, own: bool) -> bool:
    if credential == "none" or credential in ENDED or not own:
        return False
    if needs == "any":
        return True
    if needs == "session":
        return credential == "session"
    return credential in ("session", needs)


def test_the_matrix_covers_every_private_route(client: TestClient):
    schema = client.get(f"{API}/openapi.json").json()
    private = {
        f"{method.upper()} {path.removeprefix(API)}"
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if operation.get("security")
    }
    assert private == {name for name, _, _ in ROUTES}
    assert FOREIGN <= private


@pytest.mark.parametrize("route", ROUTES, ids=[name for name, _, _ in ROUTES])
def test_route(route, client: TestClient, market: Market, fast_passwords: None):
    name, needs, prepare = route
    matrix = Matrix(build_world(client, market))
    variants = (False, True) if name in FOREIGN else (True,)
    for own in variants:  # foreign cells first
        for credential in CREDENTIALS:
            call = prepare(matrix, own)
            if credential in ENDED:
                matrix.ended(call.actor, credential)  # made (and ended) before the state is read
            elif credential != "none" and credential != "session":
                matrix.key(call.actor, credential)  # made before the state is read
            permitted = allowed(needs, credential, own)
            before = None if permitted else matrix.fingerprint()
            response = matrix.send(call, credential)
            cell = f"{name} as {call.actor} with {credential} ({'own' if own else 'foreign'})"
            if permitted:
                assert response.status_code in (200, 201, 204), f"{cell}: {response.text}"
                if call.check is not None:
                    call.check(response)
            else:
                expected = {401} if credential == "none" or credential in ENDED else {403, 404, 409}
                assert response.status_code in expected, f"{cell}: {response.status_code} {response.text}"
                assert response.json()["error"]["status"] == response.status_code
                assert matrix.fingerprint() == before, f"{cell} changed the state"
