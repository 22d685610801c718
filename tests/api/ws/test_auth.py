"""Authentication of WebSocket sessions (session token, API key over the signed challenge), the
refusals, the scopes, and the Origin check of browser connections."""

from __future__ import annotations

import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api.ws.conftest import WsClient, api_key, run, sign_challenge


def test_session_token_auth_opens_private_channels(live_server, live_market):
    user = live_market.user("alice", "creator", cash=1_000)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        refused = await client.error("subscribe", channel="orders")
        assert refused["code"] == "UNAUTHENTICATED"
        assert (await client.error("auth", token="not-a-token"))["code"] == "UNAUTHENTICATED"
        result = await client.ok("auth", token=user.token)
        assert result == {
            "account_id": user.account_id,
            "role": "creator",
            "scopes": ["read", "trade", "transfer"],
            "via": "session",
        }
        assert (await client.error("auth", token=user.token))["code"] == "ALREADY_AUTHENTICATED"
        assert await client.ok("subscribe", channel="orders") == {"channel": "orders", "symbol": None}
        await client.close()

    run(scenario())


def test_api_key_auth_over_the_signed_challenge(live_server, live_market):
    user = live_market.user("maker", "market_maker", cash=1_000)
    key_id, secret = api_key(live_market, user, scopes="trade")  # no read scope
    other_id, other_secret = api_key(live_market, user, scopes="read")

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        challenge = client.welcome["challenge"]
        assert len(challenge) == 32
        # Tampered: signed with another secret, or over another challenge.
        wrong_secret = sign_challenge(other_secret, challenge)
        assert (await client.error("auth", key=key_id, **wrong_secret))["code"] == "UNAUTHENTICATED"
        other_challenge = sign_challenge(secret, "0" * 32)
        assert (await client.error("auth", key=key_id, **other_challenge))["code"] == "UNAUTHENTICATED"
        result = await client.ok("auth", key=key_id, **sign_challenge(secret, challenge))
        assert result == {
            "account_id": user.account_id,
            "role": "market_maker",
            "scopes": ["trade"],
            "via": "api_key",
        }
        # The key's scopes apply: private channels need `read`.
        assert (await client.error("subscribe", channel="balances"))["code"] == "SCOPE_REQUIRED"
        await client.close()

        reader = await WsClient.open(live_server)
        await reader.ok("auth", key=other_id, **sign_challenge(other_secret, reader.welcome["challenge"]))
        await reader.ok("subscribe", channel="balances")
        assert (await reader.error("cancel_all"))["code"] == "SCOPE_REQUIRED"  # order entry needs trade
        await reader.close()

    run(scenario())


def test_stale_unknown_and_repeated_refusals_close_the_connection(live_server, live_market):
    user = live_market.user("maker", "market_maker")
    key_id, secret = api_key(live_market, user)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        challenge = client.welcome["challenge"]
        stale = sign_challenge(secret, challenge, timestamp=int(time.time() * 1000) - 60_000)
        error = await client.error("auth", key=key_id, **stale)
        assert error["code"] == "UNAUTHENTICATED" and "clock" in error["message"]
        future = sign_challenge(secret, challenge, timestamp=int(time.time() * 1000) + 60_000)
        assert (await client.error("auth", key=key_id, **future))["code"] == "UNAUTHENTICATED"
        assert (await client.error("auth", key=key_id))["code"] == "BAD_REQUEST"  # not counted
        error = await client.error("auth", key="ak_0000000000000000", **sign_challenge(secret, challenge))
        assert "closing" in error["message"]  # the third refusal
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv(timeout=3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

        # A revoked key is refused like an unknown one.
        from sqlmodel import Session as DbSession

        from api.tables import ApiKey

        with DbSession(live_market.app.state.db_engine) as db:
            row = db.get(ApiKey, key_id)
            row.revoked_at = int(time.time() * 1000)
            db.add(row)
            db.commit()
        client = await WsClient.open(live_server)
        signed = sign_challenge(secret, client.welcome["challenge"])
        assert (await client.error("auth", key=key_id, **signed))["code"] == "UNAUTHENTICATED"
        await client.close()

    run(scenario())


def test_oversized_or_non_ascii_auth_fields_are_answered_not_dropped(live_server, live_market):
    """A 5,000-digit timestamp used to reach int() and drop the connection without an answer; "²"
    passed str.isdigit() and failed int(). Each is a BAD_REQUEST answer now (not counted as a
    refused attempt), and the connection goes on."""
    user = live_market.user("maker", "market_maker")
    key_id, secret = api_key(live_market, user)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        now = str(int(time.time() * 1000))
        for timestamp in ("9" * 5000, "²", "1²", "١٢٣", "1" * 17, "-1", "1e12", 10**17, -1, 1.5, True):
            error = await client.error("auth", key=key_id, timestamp=timestamp, signature="00" * 32)
            assert error["code"] == "BAD_REQUEST", (timestamp, error)
        for key, signature in (("ak_" + "0" * 5000, "00" * 32), (key_id, "0" * 5000), (key_id, "zz" * 32)):
            error = await client.error("auth", key=key, timestamp=now, signature=signature)
            assert error["code"] == "BAD_REQUEST", error
        assert "server_time" in await client.ok("ping")
        result = await client.ok("auth", key=key_id, **sign_challenge(secret, client.welcome["challenge"]))
        assert result["via"] == "api_key"
        await client.close()

    run(scenario())


def test_origin_of_browser_connections_is_checked(live_server):
    async def scenario() -> None:
        allowed = await WsClient.open(live_server, origin="http://127.0.0.1")
        assert "server_time" in await allowed.ok("ping")
        await allowed.close()
        no_origin = await WsClient.open(live_server)  # not a browser
        assert "server_time" in await no_origin.ok("ping")
        await no_origin.close()
        with pytest.raises(InvalidStatus) as refused:
            await connect(live_server.ws_url, origin="http://evil.example", open_timeout=5)
        assert refused.value.response.status_code == 403

    run(scenario())
