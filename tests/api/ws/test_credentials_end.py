"""A credential that ends ends on every open WebSocket at once: a revoked API key, a logged-out
session and an expired session each stop order entry and private channels on the connections that
used them (an UNAUTHENTICATED notice, then close 1008), and the periodic check catches an end that
no message announced (api/credentials.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from api.accounts import log_in
from exchange.store.tables import Order
from tests.api.ws.conftest import WsClient, api_key, list_material_call, run, sign_challenge


def _orders_of(live_market, account_id: int) -> int:
    from sqlmodel import Session, select

    with Session(live_market.app.state.db_engine) as db:
        return len(db.exec(select(Order).where(Order.account_id == account_id)).all())


async def _ended(client: WsClient, timeout: float = 5.0) -> dict[str, Any]:
    """The UNAUTHENTICATED notice, then the close (1008)."""
    notice = await client.expect(lambda m: m.get("type") == "error", timeout=timeout)
    assert notice["code"] == "UNAUTHENTICATED", notice
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await client.connection.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    return notice


def test_a_revoked_api_key_stops_order_entry_on_its_open_socket(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)
    key_id, secret = api_key(live_market, maker)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.ok("auth", key=key_id, **sign_challenge(secret, client.welcome["challenge"]))
        placed = await client.ok("place", symbol=symbol, side="buy", price=100, quantity=1)
        assert placed["order_id"] > 0
        async with httpx.AsyncClient(base_url=live_server.base_url) as rest:
            revoked = await rest.delete(
                f"/api/v1/api-keys/{key_id}", headers={"Authorization": f"Bearer {maker.token}"}
            )
            assert revoked.status_code == 200, revoked.text
        # Sent after the revocation was answered: refused, never an order (or the socket is
        # already closed).
        with contextlib.suppress(ConnectionClosed):
            late = {"op": "place", "id": "late", "symbol": symbol, "side": "buy", "price": 100, "quantity": 1}
            await client.send(late)
        notice = await _ended(client)
        assert "revoked" in notice["message"]

    run(scenario())
    assert _orders_of(live_market, maker.account_id) == 1


def test_logout_ends_the_private_channels_of_the_session(live_server, live_market):
    user = live_market.user("alice", "creator", cash=1_000)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.ok("auth", token=user.token)
        await client.ok("subscribe", channel="balances")
        other = await WsClient.open(live_server)  # a second connection of the same session
        await other.ok("auth", token=user.token)
        async with httpx.AsyncClient(base_url=live_server.base_url) as rest:
            out = await rest.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {user.token}"})
            assert out.status_code == 204
        for connection in (client, other):
            assert "logged out" in (await _ended(connection))["message"]
        # The token authenticates nothing any more, on a new connection either.
        fresh = await WsClient.open(live_server)
        assert (await fresh.error("auth", token=user.token))["code"] == "UNAUTHENTICATED"
        await fresh.close()

    run(scenario())


def test_an_expired_session_ends_while_the_socket_stays_open(live_server, live_market):
    user = live_market.user("bob", "creator", cash=1_000)
    token, _, _ = live_server.call(log_in, live_server.app.state.db_engine, user.username, user.password, 1)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.ok("auth", token=token)
        await client.ok("subscribe", channel="orders")
        assert "expired" in (await _ended(client, timeout=5.0))["message"]

    run(scenario())


@pytest.mark.parametrize("settings_overrides", [{"ws_credential_check_seconds": 0.2}])
def test_the_periodic_check_ends_a_key_revoked_without_a_message(live_server, live_market):
    """As when a worker missed the Redis message: the row changes, nobody announces it."""
    from sqlmodel import Session

    from api.tables import ApiKey

    maker = live_market.user("maker", "market_maker", cash=1_000)
    key_id, secret = api_key(live_market, maker)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.ok("auth", key=key_id, **sign_challenge(secret, client.welcome["challenge"]))
        with Session(live_server.app.state.db_engine) as db:
            row = db.get(ApiKey, key_id)
            assert row is not None
            row.revoked_at = 1
            db.add(row)
            db.commit()
        await _ended(client, timeout=3.0)

    run(scenario())


def test_other_connections_keep_their_credentials(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=1_000)
    first_id, first_secret = api_key(live_market, maker)
    second_id, second_secret = api_key(live_market, maker)

    async def scenario() -> None:
        revoked = await WsClient.open(live_server)
        await revoked.ok("auth", key=first_id, **sign_challenge(first_secret, revoked.welcome["challenge"]))
        kept = await WsClient.open(live_server)
        await kept.ok("auth", key=second_id, **sign_challenge(second_secret, kept.welcome["challenge"]))
        async with httpx.AsyncClient(base_url=live_server.base_url) as rest:
            response = await rest.delete(
                f"/api/v1/api-keys/{first_id}", headers={"Authorization": f"Bearer {maker.token}"}
            )
            assert response.status_code == 200
        await _ended(revoked)
        await asyncio.sleep(0.2)
        assert await kept.ok("subscribe", channel="balances") == {"channel": "balances", "symbol": None}
        await kept.close()

    run(scenario())


def test_an_auth_that_finishes_after_its_credential_ended_is_ended_at_once(live_server):
    """The race of an `auth` that looked its key up just before the revocation and registers
    just after: the watch remembers what ended lately."""
    watch = live_server.app.state.credential_watch
    ended: list[str] = []

    class Connection:
        def credential_ended(self, reason: str) -> None:
            ended.append(reason)

    async def scenario() -> None:
        await watch.end("key:ak_race", "the API key was revoked")
        watch.hold("key:ak_race", Connection())
        watch.hold("key:ak_other", Connection())

    live_server.call(scenario)
    assert ended == ["the API key was revoked"]
    assert "key:ak_race" not in watch.held() and "key:ak_other" in watch.held()
