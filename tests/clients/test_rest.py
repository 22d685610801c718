"""The SDK's REST client against a real server: log in, typed answers, errors as CapexError, and
requests signed with an API key (GET with a query, POST with a body, DELETE), which the server
verifies with api.security."""

from __future__ import annotations

import pytest

from clients.python import (
    CapexClient,
    CapexError,
    Ed25519Signer,
    WsSession,
    generate_ed25519_key,
    load_ed25519_key,
    private_key_hex,
    public_key_hex,
)
from clients.python import models as m
from tests.clients.conftest import PASSWORD, run


def test_session_login_and_rest_calls(live_server, live_market):
    symbol = live_market.list_capacity_option()
    live_market.user("buyer1", cash=1_000_000)

    async def scenario():
        async with CapexClient(live_server.base_url) as client:
            with pytest.raises(CapexError) as refused:
                await client.login("buyer1", "wrong-password")
            assert (refused.value.status, refused.value.code) == (401, "INVALID_CREDENTIALS")

            session = await client.login("buyer1", PASSWORD)
            assert isinstance(session, m.Session) and session.role == "creator"
            me = await client.me()
            assert (me.username, me.via, me.account_id) == ("buyer1", "session", session.account_id)

            (instrument,) = await client.instruments(kind="CAP")
            assert instrument.symbol == symbol and isinstance(instrument.terms, m.CapacityOptionTerms)
            assert await client.instruments(kind="MAT") == []

            ack = await client.place_order(symbol, "buy", 150, 4, client_order_id="rest-1")
            assert (ack.status, ack.open_quantity, ack.price) == ("open", 4, 150)
            # the same client order id and order: the first result, nothing twice
            again = await client.place_order(symbol, "buy", 150, 4, client_order_id="rest-1")
            assert (again.order_id, again.seq) == (ack.order_id, ack.seq)

            book = await client.book(symbol, levels=5)
            assert [(lv.price, lv.quantity) for lv in book.bids] == [(150, 4)] and book.last_seq > 0
            balance = await client.balances()
            assert balance.locked >= 150 * 4 and balance.total == 1_000_000

            amended = await client.amend_order(ack.order_id, 140, 2)
            assert (amended.price, amended.open_quantity) == (140, 2)
            assert [o.order_id for o in await client.orders()] == [ack.order_id]
            cancelled = await client.cancel_order(ack.order_id)
            assert cancelled.status == "cancelled"
            assert await client.orders() == []
            assert (await client.balances()).locked == 0

            with pytest.raises(CapexError) as unknown:
                await client.place_order("CAP-NOPE", "buy", 1, 1)
            assert (unknown.value.status, unknown.value.code) == (404, "UNKNOWN_INSTRUMENT")
            with pytest.raises(CapexError) as off_band:
                await client.place_order(symbol, "buy", 0, 1)
            assert off_band.value.status == 422

            await client.logout()
            assert client.token is None
            with pytest.raises(CapexError) as logged_out:
                await client.me()
            assert logged_out.value.status == 401

    run(scenario())


def test_ed25519_keys_sign_rest_and_websocket(live_server, live_market):
    """The SDK makes the key pair, registers the public key, signs REST requests and the WebSocket
    challenge with the private key; HMAC keys (`(key_id, secret)`) go on working beside them."""
    symbol = live_market.list_capacity_option()
    live_market.user("edholder", role="market_maker", cash=1_000_000)

    async def scenario():
        async with CapexClient(live_server.base_url) as web:
            await web.login("edholder", PASSWORD)
            created, private_key = await web.create_ed25519_api_key(["read", "trade"], "ed bot")
            assert (created.algorithm, created.secret) == ("ed25519", None)
            assert created.public_key == public_key_hex(private_key)
            stored = load_ed25519_key(private_key_hex(private_key))  # saved and read back
            reader = await web.create_api_key(["read"], public_key=generate_ed25519_key().public_key())
            hmac_key = await web.create_api_key(["read"], "hmac")
            assert hmac_key.algorithm == "hmac-sha256" and hmac_key.secret
            listed = {k.key_id: (k.algorithm, k.public_key) for k in await web.api_keys()}
            assert listed[created.key_id] == ("ed25519", created.public_key)
            assert listed[hmac_key.key_id] == ("hmac-sha256", None)

        async with CapexClient(live_server.base_url, api_key=(created.key_id, stored)) as bot:
            me = await bot.me()
            assert (me.via, me.key_id) == ("api_key", created.key_id)
            ack = await bot.place_order(symbol, "buy", 120, 3)  # a signed body
            assert [o.order_id for o in await bot.orders(status="open", symbol=symbol)] == [ack.order_id]
            async with bot.ws() as session:  # the same key signs the challenge
                assert (session.auth.via, session.auth.scopes) == ("api_key", ["read", "trade"])
                assert (await session.cancel(ack.order_id)).order_id == ack.order_id
        async with CapexClient(live_server.base_url, api_key=Ed25519Signer(created.key_id, stored)) as signer:
            assert (await signer.me()).key_id == created.key_id
        async with CapexClient(live_server.base_url, api_key=(hmac_key.key_id, hmac_key.secret)) as old:
            assert (await old.me()).key_id == hmac_key.key_id

        # signed with another private key: refused, over REST and WebSocket
        wrong = (reader.key_id, generate_ed25519_key())
        async with CapexClient(live_server.base_url, api_key=wrong) as forger:
            with pytest.raises(CapexError) as forged:
                await forger.me()
            assert (forged.value.status, forged.value.code) == (401, "UNAUTHENTICATED")
        with pytest.raises(CapexError) as refused:
            await WsSession(live_server.base_url, api_key=wrong, reconnect=False).connect()
        assert refused.value.code == "UNAUTHENTICATED"

    run(scenario())


def test_api_key_requests_are_signed(live_server, live_market):
    symbol = live_market.list_capacity_option()
    live_market.user("keyholder", role="market_maker", cash=1_000_000)

    async def scenario():
        async with CapexClient(live_server.base_url) as web:
            await web.login("keyholder", PASSWORD)
            trading = await web.create_api_key(["read", "trade"], "bot")
            reading = await web.create_api_key(["read"], "viewer")
            assert {k.key_id for k in await web.api_keys()} == {trading.key_id, reading.key_id}

        async with CapexClient(live_server.base_url, api_key=(trading.key_id, trading.secret)) as bot:
            me = await bot.me()
            assert (me.via, me.key_id, me.scopes) == ("api_key", trading.key_id, ["read", "trade"])
            ack = await bot.place_order(symbol, "buy", 120, 3)  # a signed body
            listed = await bot.orders(status="all", symbol=symbol, limit=10)  # a signed query
            assert [o.order_id for o in listed] == [ack.order_id]
            assert (await bot.cancel_order(ack.order_id)).status == "cancelled"  # a signed DELETE

        async with CapexClient(live_server.base_url, api_key=(reading.key_id, reading.secret)) as viewer:
            assert len(await viewer.orders(status="all")) == 1
            with pytest.raises(CapexError) as scope:
                await viewer.place_order(symbol, "buy", 120, 3)
            assert (scope.value.status, scope.value.code) == (403, "SCOPE_REQUIRED")

        async with CapexClient(live_server.base_url, api_key=(trading.key_id, "not-the-secret")) as forger:
            with pytest.raises(CapexError) as forged:
                await forger.me()
            assert (forged.value.status, forged.value.code) == (401, "UNAUTHENTICATED")

        async with CapexClient(live_server.base_url) as web:
            await web.login("keyholder", PASSWORD)
            assert (await web.revoke_api_key(trading.key_id)).revoked_at is not None
        async with CapexClient(live_server.base_url, api_key=(trading.key_id, trading.secret)) as revoked:
            with pytest.raises(CapexError) as gone:
                await revoked.me()
            assert gone.value.status == 401

    run(scenario())


def test_publish_index_price_with_confirm_large_move(live_server, live_market):
    live_market.user("operator1", role="operator")

    async def scenario():
        async with CapexClient(live_server.base_url) as client:
            await client.login("operator1", PASSWORD)
            first = await client.publish_index_price("INK-SDK", 9_000)  # the first price has no band
            assert isinstance(first, m.IndexPricePublished) and first.price == 9_000
            (summary,) = [i for i in await client.index_prices() if i.index == "INK-SDK"]
            assert (summary.band_percent, summary.band_low, summary.band_high) == (20, 7_200, 10_800)
            with pytest.raises(CapexError) as refused:
                await client.publish_index_price("INK-SDK", 900_000)
            assert (refused.value.status, refused.value.code) == (409, "INDEX_PRICE_BAND")
            assert "¥9,000.00" in refused.value.message and "confirm_large_move" in refused.value.message
            confirmed = await client.publish_index_price("INK-SDK", 900_000, confirm_large_move=True)
            assert confirmed.price == 900_000
            history = await client.index_history("INK-SDK")
            assert [p.price for p in history.prices] == [9_000, 900_000]

    run(scenario())
