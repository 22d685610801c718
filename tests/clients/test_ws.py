"""The SDK's WebSocket session against a real server over a real socket: order entry with
correlated responses, API-key authentication by a signed challenge, a LocalBook that stays equal to
the REST depth under a stream of orders, detection of a gap, a bad checksum and a lost message
(injected as a tampered message) with a resync of that one book, and reconnection after the server
closes the socket or restarts."""

from __future__ import annotations

import asyncio
import random

import pytest

from api.main import create_app
from clients.python import CapexClient, CapexError, ConnectionLost, LocalBook, WsSession
from tests.api.conftest import LiveServer
from tests.clients.conftest import PASSWORD, eventually, list_material_call, run


async def logged_in(base_url: str, username: str) -> CapexClient:
    client = CapexClient(base_url)
    await client.login(username, PASSWORD)
    return client


async def rest_levels(client: CapexClient, symbol: str) -> tuple[int, list, list]:
    book = await client.book(symbol, levels=100)
    return (
        book.last_seq,
        [(lv.price, lv.quantity, lv.order_count) for lv in book.bids],
        [(lv.price, lv.quantity, lv.order_count) for lv in book.asks],
    )


async def assert_book_matches_rest(client: CapexClient, book: LocalBook) -> None:
    async def equal() -> bool:
        last_seq, bids, asks = await rest_levels(client, book.symbol)
        # The REST sequence may be ahead: commands that change no level (an IOC that finds nothing
        # to trade) advance the book sequence without a delta.
        return book.synced and book.last_seq <= last_seq and (book.bids(), book.asks()) == (bids, asks)

    await eventually(equal, timeout=5)


def test_order_entry_round_trip(live_server, live_market):
    symbol = list_material_call(live_market)
    live_market.user("wsmaker", role="market_maker", cash=10_000_000)

    async def scenario():
        client = await logged_in(live_server.base_url, "wsmaker")
        async with client, client.ws() as session:
            assert session.auth is not None and session.auth.via == "session"
            await session.subscribe("orders")
            updates: list[dict] = []
            session.add_listener(lambda msg: updates.append(msg) if msg.get("channel") == "orders" else None)

            # Concurrent requests: each answer finds its own request by id.
            placed = await asyncio.gather(
                *(session.place(symbol, "buy", 100 + i, 1 + i, client_order_id=f"c-{i}") for i in range(5))
            )
            assert [p.client_order_id for p in placed] == [f"c-{i}" for i in range(5)]
            assert [p.open_quantity for p in placed] == [1, 2, 3, 4, 5]
            assert len({p.order_id for p in placed}) == 5

            amended = await session.amend(placed[0].order_id, 90, 1)
            assert amended.order_id == placed[0].order_id
            await session.cancel(placed[1].order_id)
            with pytest.raises(CapexError) as unknown:
                await session.cancel(placed[1].order_id)
            assert (unknown.value.status, unknown.value.code) == (None, "UNKNOWN_ORDER")
            with pytest.raises(CapexError) as band:
                await session.place(symbol, "buy", 10**7, 1)
            assert band.value.code == "MATCHING_PRICE_OUT_OF_BAND"

            quoted = await session.mass_quote(
                [{"symbol": symbol, "bid_price": 200, "bid_quantity": 2, "ask_price": 300, "ask_quantity": 2}]
            )
            (entry,) = quoted.quotes
            assert entry.ok and entry.bid.order_id and entry.ask.order_id
            open_orders = {o.order_id: o for o in await client.orders()}
            assert {entry.bid.order_id, entry.ask.order_id} <= set(open_orders)
            assert open_orders[placed[0].order_id].price == 90

            result = await session.cancel_all()
            assert result.cancelled == 6  # four placed orders left, and the quote's two sides
            assert await client.orders() == []
            assert await session.ping() > 0
            await eventually(lambda: any(u["status"] == "cancelled" for u in updates))

            state = await session.mmp_config("special-black-ink", 10, 1_000, 2_000)
            assert (state.quantity, state.frozen) == (10, False)
            switch = await session.cancel_all_after(60_000)
            assert switch.armed and switch.deadline is not None
            assert not (await session.cancel_all_after(0)).armed

        with pytest.raises(ConnectionLost):
            await session.ping()

    run(scenario())


def test_api_key_authentication_signs_the_challenge(live_server, live_market):
    symbol = list_material_call(live_market)
    live_market.user("wskey", role="market_maker", cash=1_000_000)

    async def scenario():
        async with await logged_in(live_server.base_url, "wskey") as web:
            key = await web.create_api_key(["read", "trade"])
            viewer = await web.create_api_key(["read"])
        async with WsSession(live_server.base_url, api_key=(key.key_id, key.secret)) as session:
            assert (session.auth.via, session.auth.scopes) == ("api_key", ["read", "trade"])
            assert (await session.place(symbol, "buy", 100, 1)).status == "open"
        async with WsSession(live_server.base_url, api_key=(viewer.key_id, viewer.secret)) as session:
            with pytest.raises(CapexError) as scope:
                await session.place(symbol, "buy", 100, 1)
            assert scope.value.code == "SCOPE_REQUIRED"
        with pytest.raises(CapexError) as refused:
            await WsSession(live_server.base_url, api_key=(key.key_id, "wrong")).connect()
        assert refused.value.code == "UNAUTHENTICATED"

    run(scenario())


def test_local_book_equals_rest_depth_after_a_stream_of_orders(live_server, live_market):
    symbol = list_material_call(live_market)
    for name in ("streama", "streamb"):
        live_market.user(name, role="market_maker", cash=100_000_000)

    async def scenario():
        rng = random.Random(7)
        a = await logged_in(live_server.base_url, "streama")
        b = await logged_in(live_server.base_url, "streamb")
        async with (
            a,
            b,
            a.ws() as sa,
            b.ws() as sb,
            WsSession(live_server.base_url, request_timeout=20) as watcher,
        ):
            book = await watcher.subscribe_book(symbol)
            placed: list[int] = []

            async def one(session: WsSession) -> None:
                side = rng.choice(("buy", "sell"))
                price = rng.randint(95, 105) if side == "buy" else rng.randint(98, 110)
                order_type = rng.choice(("limit", "limit", "limit", "ioc"))
                try:
                    result = await session.place(
                        symbol, side, price, rng.randint(1, 9), order_type=order_type
                    )
                except CapexError as exc:
                    assert exc.code == "FAT_FINGER", exc  # nothing else may refuse these orders
                    return
                if result.open_quantity:
                    placed.append(result.order_id)

            for _ in range(6):
                await asyncio.gather(*(one(rng.choice((sa, sb))) for _ in range(25)))
                for order_id in rng.sample(placed, k=min(5, len(placed))):
                    placed.remove(order_id)
                    for session in (sa, sb):
                        try:
                            await session.cancel(order_id)
                            break
                        except CapexError as exc:
                            assert exc.code in ("NOT_YOUR_ORDER", "UNKNOWN_ORDER"), exc
            await assert_book_matches_rest(a, book)
            assert book.deltas > 50
            assert (book.gaps, book.checksum_mismatches, book.resyncs) == (0, 0, 0)
            trades = await a.trades(symbol, limit=1000)
            assert trades, "the stream crossed the book"

    run(scenario())


def test_gap_bad_checksum_and_lost_message_resync_that_book_only(live_server, live_market):
    symbol = list_material_call(live_market)
    other = list_material_call(
        live_market, material="special-art-paper", index="PAPER-TEST", strike=1_500, cap=1_800
    )
    live_market.user("tamper", role="market_maker", cash=10_000_000)

    async def scenario():
        client = await logged_in(live_server.base_url, "tamper")
        async with client, client.ws() as session:
            await session.place(symbol, "buy", 100, 2)
            await session.place(symbol, "sell", 120, 3)
            await session.place(other, "buy", 500, 1)
            book = await session.subscribe_book(symbol)
            other_book = await session.subscribe_book(other)
            await assert_book_matches_rest(client, book)
            resyncs_before = other_book.resyncs

            # A delta whose checksum does not match what it leaves: the book asks for a snapshot.
            tampered = {
                "channel": "book",
                "type": "delta",
                "symbol": symbol,
                "first_seq": book.last_seq + 1,
                "last_seq": book.last_seq + 1,
                "prev_seq": book.last_seq,
                "bids": [[101, 50, 1]],
                "asks": [],
                "checksum": 12345,
            }
            session.handle_message(tampered)
            assert (book.checksum_mismatches, book.resyncs) == (1, 1)
            await session.wait_synced(symbol, timeout=5)
            await assert_book_matches_rest(client, book)  # the made-up level is gone

            # A delta that does not continue from the last one applied: a gap.
            gap = dict(tampered, prev_seq=book.last_seq - 1, checksum=book.checksum())
            session.handle_message(gap)
            assert (book.gaps, book.resyncs) == (1, 2)
            await session.wait_synced(symbol, timeout=5)

            # A heartbeat naming a later book sequence than the one applied: a message was lost.
            session.handle_message(
                {"type": "heartbeat", "server_time": 0, "books": {symbol: book.last_seq + 7}}
            )
            assert (book.gaps, book.resyncs) == (2, 3)
            await session.wait_synced(symbol, timeout=5)

            # The book goes on from the fresh snapshot.
            await session.place(symbol, "buy", 105, 1)
            await assert_book_matches_rest(client, book)
            assert other_book.resyncs == resyncs_before and other_book.gaps == 0  # only that book

    run(scenario())


def test_reconnects_after_the_server_closes_the_socket(live_server, live_market):
    symbol = list_material_call(live_market)
    live_market.user("reconnect", role="market_maker", cash=10_000_000)

    async def close_every_session() -> int:
        sessions = list(live_server.app.state.market_data.sessions)
        for server_session in sessions:
            server_session.shutdown()  # what the server does when it stops: close with 1001
        return len(sessions)

    async def scenario():
        client = await logged_in(live_server.base_url, "reconnect")
        async with client, client.ws(backoff_initial=0.05) as session:
            await session.set_cancel_on_disconnect(True)
            await session.subscribe("orders")
            book = await session.subscribe_book(symbol)
            await session.place(symbol, "buy", 100, 2)
            first_challenge = session.welcome.challenge

            assert live_server.call(close_every_session) == 1
            await eventually(lambda: session.reconnects == 1 and session.connected.is_set(), timeout=10)
            assert session.welcome.challenge != first_challenge  # authenticated again, on a new challenge
            assert session.auth is not None and session.auth.via == "session"

            # cancel-on-disconnect pulled the order of the old connection; the new one is on again
            await eventually(lambda: _no_open_orders(client), timeout=5)
            second = await session.place(symbol, "buy", 101, 3)
            assert second.status == "open"
            await session.wait_synced(symbol, timeout=5)
            await assert_book_matches_rest(client, book)
            assert book.bids() == [(101, 3, 1)]

            assert live_server.call(close_every_session) == 1
            await eventually(lambda: session.reconnects == 2 and session.connected.is_set(), timeout=10)
            await eventually(lambda: _no_open_orders(client), timeout=5)  # turned back on after reconnecting
            await assert_book_matches_rest(client, book)

    run(scenario())


async def _no_open_orders(client: CapexClient) -> bool:
    return await client.orders() == []


def test_reconnects_with_backoff_while_the_server_restarts(live_server, live_market, api_settings):
    symbol = list_material_call(live_market)
    live_market.user("restart", role="market_maker", cash=10_000_000)

    async def scenario():
        client = await logged_in(live_server.base_url, "restart")
        async with client, client.ws(backoff_initial=0.1, backoff_max=0.4) as session:
            book = await session.subscribe_book(symbol)
            await session.place(symbol, "sell", 130, 4)
            await eventually(lambda: book.asks() == [(130, 4, 1)], timeout=5)

            # The server goes away (its sessions are closed with 1001) and comes back on the same
            # port and database a moment later; the session keeps trying meanwhile.
            await asyncio.to_thread(live_server.stop)
            await asyncio.sleep(1.0)
            assert not session.connected.is_set() and session.reconnects == 0
            restarted = LiveServer(create_app(api_settings), live_server.port)
            await asyncio.to_thread(restarted.start)
            try:
                await eventually(lambda: session.connected.is_set(), timeout=15)
                assert session.reconnects == 1
                await session.wait_synced(symbol, timeout=5)
                assert book.asks() == [(130, 4, 1)]  # recovered from the journal, resubscribed
                assert (await session.place(symbol, "buy", 120, 1)).status == "open"  # authenticated again
                await assert_book_matches_rest(client, book)
            finally:
                await asyncio.to_thread(restarted.stop)

    run(scenario(), timeout=60)
