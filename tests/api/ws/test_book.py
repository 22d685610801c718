"""The book channel over a real connection: snapshot, deltas with an unbroken prev_seq chain and
checksums, checked by an independent client book against the sequencer's own book; the resync
op; the heartbeat; and the hub's own resync after batches were lost upstream."""

from __future__ import annotations

import asyncio

from api.ws.market_data import MarketDataHub
from tests.api.ws.conftest import (
    ClientBook,
    WsClient,
    exchange_levels,
    list_material_call,
    of,
    place,
    run,
)


def test_snapshot_then_deltas_keep_an_independent_book_in_sync(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    taker = live_market.user("taker", "creator", cash=50_000_000)
    symbol = list_material_call(live_market)
    other = list_material_call(live_market, strike=8_100)
    # A deep book before subscribing: 14 bids, 14 asks, so levels move in and out of the top 10.
    for i in range(14):
        place(live_market, maker, symbol, "buy", 500 - 10 * i, 1 + i)
        place(live_market, maker, symbol, "sell", 600 + 10 * i, 1 + i)

    async def scenario() -> ClientBook:
        client = await WsClient.open(live_server)
        subscribed = await client.ok("subscribe", channel="book", symbol=symbol)
        assert subscribed == {"channel": "book", "symbol": symbol}
        book = ClientBook()
        snapshot = await client.expect(of("book", "snapshot", symbol))
        book.apply(snapshot)
        assert len(snapshot["bids"]) == 14 and len(snapshot["asks"]) == 14  # every level, not only 10
        assert snapshot["bids"][0] == [500, 1, 1] and snapshot["asks"][0] == [600, 1, 1]

        # Changes: new levels, a partial fill, a sweep of three levels (removed levels bring deeper
        # ones into the top 10), cancels, and orders on another book that must not show up here.
        loop = asyncio.get_running_loop()

        def trade() -> None:
            place(live_market, maker, symbol, "buy", 505, 2)
            place(live_market, taker, symbol, "sell", 500, 1)  # fills at the 505 bid
            place(live_market, taker, symbol, "buy", 620, 6)  # sweeps 600, 610, 620 (1 + 2 + 3)
            place(live_market, maker, other, "buy", 400, 1)
            place(live_market, maker, symbol, "sell", 605, 4)
            place(live_market, taker, symbol, "sell", 480, 3)  # fills 505 (1) and 500 (1), 490 (1 of 2)

        await loop.run_in_executor(None, trade)
        deltas = 0
        while deltas < 5:
            message = await client.expect(of("book", symbol=symbol))
            assert message["symbol"] == symbol
            book.apply(message)
            deltas += 1
        assert book.levels() == await loop.run_in_executor(None, exchange_levels, live_server, symbol)
        assert not client.taken(of("book", symbol=other))
        await client.close()
        return book

    book = run(scenario())
    assert book.applied == 6


def test_resync_op_sends_a_fresh_snapshot_and_heartbeats_carry_the_book_seq(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)
    place(live_market, maker, symbol, "buy", 500, 3)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.ok("subscribe", channel="book", symbol=symbol)
        book = ClientBook()
        book.apply(await client.expect(of("book", "snapshot", symbol)))
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: place(live_market, maker, symbol, "sell", 700, 2)
        )
        book.apply(await client.expect(of("book", "delta", symbol)))
        # The client lost track (say a checksum mismatch): it resyncs this one instrument.
        resync = await client.ok("resync", symbol=symbol)
        assert resync == {"symbol": symbol, "last_seq": book.last_seq}
        snapshot = await client.expect(of("book", "snapshot", symbol))
        assert snapshot["last_seq"] == book.last_seq
        fresh = ClientBook()
        fresh.apply(snapshot)
        assert fresh.levels() == book.levels() == ([(500, 3)], [(700, 2)])
        heartbeat = await client.expect(lambda m: m["type"] == "heartbeat", timeout=2)
        assert heartbeat["books"] == {symbol: book.last_seq}
        assert heartbeat["journal_seq"] >= client.welcome["journal_seq"]
        # Resync of a book not subscribed is refused.
        error = await client.error("resync", symbol="MAT-NOT-SUBSCRIBED")
        assert error["code"] == "NOT_SUBSCRIBED"
        # Unsubscribed: no more deltas, and heartbeats no longer list the book.
        await client.ok("unsubscribe", channel="book", symbol=symbol)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: place(live_market, maker, symbol, "sell", 710, 2)
        )
        heartbeat = await client.expect(lambda m: m["type"] == "heartbeat" and not m["books"], timeout=2)
        assert heartbeat["books"] == {}
        await client.request("ping")
        assert not client.taken(of("book"))
        await client.close()

    run(scenario())


def test_hub_resyncs_books_after_batches_are_lost_upstream(live_server, live_market):
    """Scale-out loses event batches when Redis drops messages. Here the hub's subscription is cut
    while two commands are journaled (their batches are lost to it), then restored: the next batch
    shows a gap, and the hub sends fresh snapshots of the books that moved, and only of those."""
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    moved = list_material_call(live_market)
    quiet = list_material_call(live_market, strike=8_100)
    place(live_market, maker, moved, "buy", 500, 3)
    place(live_market, maker, quiet, "buy", 400, 1)
    hub: MarketDataHub = live_server.app.state.market_data
    gateway = live_server.app.state.gateway

    async def cut() -> None:
        gateway.unsubscribe(hub._queue)

    async def restore() -> None:
        gateway._subscribers.append(hub._queue)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        books = {moved: ClientBook(), quiet: ClientBook()}
        for symbol, book in books.items():
            await client.ok("subscribe", channel="book", symbol=symbol)
            book.apply(await client.expect(of("book", "snapshot", symbol)))
        quiet_seq = books[quiet].last_seq

        def lose_two_batches() -> None:
            live_server.call(cut)
            place(live_market, maker, moved, "buy", 510, 1)
            place(live_market, maker, moved, "sell", 700, 4)
            live_server.call(restore)
            place(live_market, maker, moved, "buy", 490, 2)  # the batch that reveals the gap

        gaps_before = hub.gaps
        await loop.run_in_executor(None, lose_two_batches)
        gap = await client.expect(lambda m: m["type"] == "gap")
        assert gap["to_seq"] - gap["from_seq"] == 1  # two journal seqs lost
        snapshot = await client.expect(of("book", "snapshot", moved))
        books[moved].apply(snapshot)
        assert hub.gaps == gaps_before + 1
        # The fresh snapshot holds everything, also the lost commands and the revealing one.
        assert books[moved].levels() == ([(510, 1), (500, 3), (490, 2)], [(700, 4)])
        # Deltas go on from the snapshot; the quiet book kept its chain and got no snapshot.
        await loop.run_in_executor(None, lambda: place(live_market, maker, moved, "sell", 690, 1))
        await loop.run_in_executor(None, lambda: place(live_market, maker, quiet, "buy", 410, 1))
        books[moved].apply(await client.expect(of("book", "delta", moved)))
        delta = await client.expect(of("book", "delta", quiet))
        assert delta["prev_seq"] == quiet_seq
        books[quiet].apply(delta)
        assert not client.taken(of("book", "snapshot"))
        for symbol, book in books.items():
            assert book.levels() == await loop.run_in_executor(None, exchange_levels, live_server, symbol)
        await client.close()

    run(scenario())


def test_hub_starts_while_the_sequencer_is_unreachable_and_loads_later(tmp_path):
    """Scale-out: a worker starts while Redis or the sequencer is down; market data must not stop
    the worker from starting, and loads the books once the sequencer answers."""
    from api.gateway import EmbeddedGateway
    from exchange import commands as cmd
    from exchange.accounts import SYSTEM_ACCOUNT_ID

    url = f"sqlite:///{tmp_path / 'exchange.db'}"

    async def scenario() -> None:
        gateway = EmbeddedGateway(url)
        hub = MarketDataHub(gateway)
        await hub.start()  # the gateway is not running: no exception
        assert not hub.loaded
        await gateway.start()
        published = await gateway.submit(
            cmd.PublishIndexPrice(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, index="INK", price=1)
        )
        assert published.ok  # an index is known once it has a price
        terms = cmd.MaterialCallTerms(
            material="ink", index="INK", strike=1, cap=5, units_per_contract=1, settlement_window_start=10**13
        )
        listed = await gateway.submit(
            cmd.ListInstrument(
                timestamp=0,
                actor_id=SYSTEM_ACCOUNT_ID,
                terms=terms,
                tick=1,
                lot=1,
                min_price=1,
                max_price=4,
                trading_start=0,
                expiry=2 * 10**13,
            )
        )
        assert listed.ok
        for _ in range(300):
            if hub.loaded and listed.data["symbol"] in hub.instruments:
                break
            await asyncio.sleep(0.01)
        assert hub.loaded and hub.journal_seq == listed.seq
        assert hub.underlying(listed.data["symbol"]) == "ink"
        await hub.stop()
        await gateway.stop()

    run(scenario())
