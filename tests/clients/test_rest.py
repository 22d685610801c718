"""The SDK's REST client against a real server: log in, typed answers, errors as CapexError, and
requests signed with an API key (GET with a query, POST with a body, DELETE), which the server
verifies with api.security."""

from __future__ import annotations

import pytest

from clients.python import CapexClient, CapexError
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
