"""Public and private channels over real connections: trades, ticker, instruments, index prices
(with estimated and final settlement prices), the private streams of one account, and the errors
of subscribe / unsubscribe."""

from __future__ import annotations

import asyncio
import time

from api.main import create_app
from exchange import commands as cmd
from tests.api.conftest import LiveServer, free_port
from tests.api.ws.conftest import WsClient, list_material_call, of, place, run, system


def test_trades_and_ticker(live_server, live_market, api_settings):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    taker = live_market.user("taker", "creator", cash=10_000_000)
    symbol = list_material_call(live_market)
    other = list_material_call(live_market, strike=8_100)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        one = await WsClient.open(live_server)
        every = await WsClient.open(live_server)
        await one.ok("subscribe", channel="trades", symbol=symbol)
        await one.ok("subscribe", channel="ticker", symbol=symbol)
        first = await one.expect(of("ticker", "ticker", symbol))
        assert first["best_bid"] is None and first["best_ask"] is None and first["last_price"] is None
        assert first["volume_24h"] == 0 and first["best_bid_quantity"] == 0
        await every.ok("subscribe", channel="trades")
        await every.ok("subscribe", channel="ticker")
        initial = [await every.expect(of("ticker", "ticker")) for _ in range(2)]
        assert sorted(t["symbol"] for t in initial) == sorted([symbol, other])

        def trade() -> None:
            place(live_market, maker, symbol, "buy", 500, 3)
            place(live_market, maker, symbol, "sell", 560, 2)
            place(live_market, taker, symbol, "sell", 500, 2)
            place(live_market, maker, other, "buy", 300, 1)
            place(live_market, taker, other, "sell", 300, 1)

        await loop.run_in_executor(None, trade)
        trade_message = await one.expect(of("trades", "trade", symbol))
        assert {k: trade_message[k] for k in ("price", "quantity", "taker_side")} == {
            "price": 500,
            "quantity": 2,
            "taker_side": "sell",
        }
        assert "maker_account_id" not in trade_message  # public: nobody's account
        ticker = await one.expect(lambda m: of("ticker", "ticker", symbol)(m) and m["last_price"] is not None)
        assert (ticker["best_bid"], ticker["best_bid_quantity"]) == (500, 1)
        assert (ticker["best_ask"], ticker["best_ask_quantity"]) == (560, 2)
        assert (ticker["last_price"], ticker["last_quantity"], ticker["volume_24h"]) == (500, 2, 2)
        # The all-instruments subscriber sees both instruments' trades; the other one only its own.
        symbols = {(await every.expect(of("trades", "trade")))["symbol"] for _ in range(2)}
        assert symbols == {symbol, other}
        await one.request("ping")
        assert not one.taken(of("trades", symbol=other)) and not one.taken(of("ticker", symbol=other))
        await one.close()
        await every.close()

    run(scenario())

    # A restarted server seeds last trades and 24-hour volume from the trades table.
    live_server.stop()
    restarted = LiveServer(create_app(api_settings), free_port())
    restarted.start()
    try:

        async def after_restart() -> None:
            client = await WsClient.open(restarted)
            await client.ok("subscribe", channel="ticker", symbol=symbol)
            ticker = await client.expect(of("ticker", "ticker", symbol))
            assert (ticker["best_bid"], ticker["best_ask"]) == (500, 560)
            assert (ticker["last_price"], ticker["last_quantity"], ticker["volume_24h"]) == (500, 2, 2)
            await client.close()

        run(after_restart())
    finally:
        restarted.stop()


def test_instruments_channel(live_server, live_market):
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        await client.ok("subscribe", channel="instruments")
        snapshot = await client.expect(of("instruments", "snapshot"))
        assert snapshot["instruments"] == [
            {"symbol": symbol, "kind": "MAT", "status": "trading", "underlying": "special-black-ink"}
        ]
        listed_symbol = await loop.run_in_executor(
            None, lambda: live_market.list_capacity_option(strike=1300)
        )
        listed = await client.expect(of("instruments", "listed"))
        assert listed["symbol"] == listed_symbol and listed["kind"] == "CAP"
        assert listed["underlying"] == "notebook-a5-print" and listed["terms"]["strike"] == 1300
        assert listed["tick"] == 1 and listed["max_price"] == 1_000_000
        # A swap's underlying is its give leg's process.
        later_leg = await loop.run_in_executor(
            None, lambda: live_market.list_capacity_option(strike=1300, week=21)
        )
        await client.expect(lambda m: of("instruments", "listed")(m) and m["symbol"] == later_leg)
        swap = await loop.run_in_executor(None, lambda: _list_swap(live_market, listed_symbol, later_leg))
        listed = await client.expect(lambda m: of("instruments", "listed")(m) and m["symbol"] == swap)
        assert (listed["kind"], listed["underlying"]) == ("SWP", "notebook-a5-print")
        assert live_server.app.state.market_data.underlying(swap) == "notebook-a5-print"
        await loop.run_in_executor(None, lambda: system(live_market, cmd.HaltInstrument, symbol=symbol))
        status = await client.expect(of("instruments", "status"))
        assert status == {"channel": "instruments", "type": "status", "symbol": symbol, "status": "halted"}
        await loop.run_in_executor(None, lambda: system(live_market, cmd.ResumeInstrument, symbol=symbol))
        assert (await client.expect(of("instruments", "status")))["status"] == "trading"
        await client.close()

    run(scenario())


def _list_swap(market, give: str, receive: str) -> str:
    expiry = min(market.call(market.gateway.query, "instrument", leg)["expiry"] for leg in (give, receive))
    result = system(
        market,
        cmd.ListInstrument,
        terms=cmd.CapacitySwapTerms(give_symbol=give, receive_symbol=receive),
        tick=1,
        lot=1,
        min_price=-10_000,
        max_price=10_000,
        trading_start=0,
        expiry=expiry,
    )
    return result.data["symbol"]


def test_index_channel_with_estimated_and_final_settlement(live_server, live_market):
    now = int(time.time() * 1000)
    index = "INK-BLACK-SPECIAL"
    # Settlement window running: from an hour ago until expiry, 1.5 s from now.
    running = list_material_call(
        live_market,
        index=index,
        expiry=now + 1_500,
        settlement_window_start=now - 3_600_000,
        index_price=8_400,
    )
    later = list_material_call(live_market, index=index, strike=8_100)  # its window has not started
    # Two prices: the estimate is the TWAP from the first to the latest (one price alone has none).
    system(live_market, cmd.PublishIndexPrice, index=index, price=8_400)
    time.sleep(0.01)
    system(live_market, cmd.PublishIndexPrice, index=index, price=8_600)
    gateway = live_server.app.state.gateway

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        await client.ok("subscribe", channel="index")
        initial = await client.expect(of("index", "index_price"))
        assert (initial["index"], initial["price"]) == (index, 8_600)
        assert [e["symbol"] for e in initial["estimated_settlement"]] == [running]
        assert initial["estimated_settlement"][0]["price"] == 8_400  # only 8 400 has held for a while

        await loop.run_in_executor(
            None, lambda: system(live_market, cmd.PublishIndexPrice, index=index, price=8_800)
        )
        published = await client.expect(of("index", "index_price"))
        assert published["price"] == 8_800
        expected = live_server.call(gateway.query, "estimated_settlement_price", running)
        assert published["estimated_settlement"] == [{"symbol": running, "price": expected}]
        assert 8_400 <= expected <= 8_800
        assert later not in str(published)

        await client.ok("subscribe", channel="instruments")
        await client.expect(of("instruments", "snapshot"))
        await asyncio.sleep(max(0.0, (now + 1_600 - time.time() * 1000) / 1000))
        await loop.run_in_executor(None, lambda: system(live_market, cmd.RunExpiry))
        settled = await client.expect(of("index", "settlement_price"))
        final = live_server.call(gateway.query, "instrument", running)["settlement_price"]
        assert settled == {"channel": "index", "type": "settlement_price", "symbol": running, "price": final}
        statuses = [(await client.expect(of("instruments", "status", running)))["status"] for _ in range(2)]
        assert statuses == ["expired", "settled"]
        await client.close()

    run(scenario())


def test_private_channels_carry_only_the_accounts_own_events(live_server, live_market):
    supplier = live_market.user("supplier", "supplier", cash=1_000_000)
    creator = live_market.user("creator", "creator", cash=10_000_000)
    bystander = live_market.user("bystander", "creator", cash=10_000_000)
    live_market.register_capacity(supplier)
    symbol = live_market.list_capacity_option()
    private = ("orders", "fills", "positions", "balances", "bookings")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        clients = {}
        for user in (creator, supplier, bystander):
            client = await WsClient.open(live_server)
            await client.authenticate(user)
            for channel in private:
                assert await client.ok("subscribe", channel=channel) == {"channel": channel, "symbol": None}
            clients[user.username] = client

        def trade_and_exercise() -> None:
            place(live_market, supplier, symbol, "sell", 500, 2)
            place(live_market, creator, symbol, "buy", 500, 2)
            result = live_market.submit(
                cmd.Exercise(timestamp=0, actor_id=creator.account_id, symbol=symbol, quantity=1)
            )
            assert result.ok, result

        await loop.run_in_executor(None, trade_and_exercise)
        mine = clients["creator"]
        order = await mine.expect(lambda m: of("orders", "order")(m) and m["status"] == "filled")
        assert (order["side"], order["filled_quantity"], order["symbol"]) == ("buy", 2, symbol)
        fill = await mine.expect(of("fills", "fill"))
        assert (fill["side"], fill["liquidity"], fill["quantity"], fill["price"]) == ("buy", "taker", 2, 500)
        assert fill["order_id"] == order["order_id"] and fill["fee"] == 20
        position = await mine.expect(lambda m: of("positions", "position")(m) and m["position"] == 1)
        assert position["symbol"] == symbol
        balances = live_server.call(live_server.app.state.gateway.query, "balances", creator.account_id)
        balance = await mine.expect(
            lambda m: of("balances", "balance")(m) and m["available"] == balances["available"]
        )
        assert balance["locked"] == balances["locked"]
        booking = await mine.expect(of("bookings", "booking"))
        assert booking["creator_id"] == creator.account_id and booking["supplier_id"] == supplier.account_id

        theirs = clients["supplier"]
        fill = await theirs.expect(of("fills", "fill"))
        assert (fill["side"], fill["liquidity"], fill["fee"]) == ("sell", "maker", 10)
        assert (await theirs.expect(of("bookings", "booking")))["booking_id"] == booking["booking_id"]

        # Events carry no other account's data: every private message of each client is its own.
        for name, client in clients.items():
            await client.request("ping")
            messages = client.taken(lambda m: m.get("channel") in private)
            for message in messages:
                assert "account_id" not in message
                if message["channel"] == "bookings":
                    assert {message["creator_id"], message["supplier_id"]} & {
                        creator.account_id,
                        supplier.account_id,
                    }
                    assert name != "bystander"
            if name == "bystander":
                assert messages == []
        for client in clients.values():
            await client.close()

    run(scenario())


def test_subscribe_errors(live_server, live_market):
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        assert (await client.error("subscribe", channel="candles"))["code"] == "UNKNOWN_CHANNEL"
        assert (await client.error("subscribe", channel="book"))["code"] == "BAD_REQUEST"
        assert (await client.error("subscribe", channel="instruments", symbol=symbol))[
            "code"
        ] == "BAD_REQUEST"
        assert (await client.error("subscribe", channel="book", symbol="MAT-NOPE"))[
            "code"
        ] == "UNKNOWN_INSTRUMENT"
        assert (await client.error("subscribe", channel="book", symbol=12))["code"] == "BAD_REQUEST"
        assert (await client.error("unsubscribe", channel="book", symbol=symbol))["code"] == "NOT_SUBSCRIBED"
        assert (await client.error("teleport"))["code"] == "UNKNOWN_OP"
        # Not JSON, not an object, no op, a bad id, a binary frame: answered, the connection stays.
        for text in ("{not json", "[1, 2]", '{"id": 5}'):
            await client.connection.send(text)
            answer = await client.expect(lambda m: m.get("type") == "response")
            assert answer["ok"] is False and answer["error"]["code"] == "BAD_REQUEST"
        assert answer["id"] == 5
        await client.send({"op": "ping", "id": [1]})
        assert (await client.expect(lambda m: m.get("type") == "response"))["error"]["code"] == "BAD_REQUEST"
        await client.connection.send(b"\x00\x01")
        answer = await client.expect(lambda m: m.get("type") == "response")
        assert answer["error"]["code"] == "BAD_REQUEST" and "binary" in answer["error"]["message"]
        assert "server_time" in await client.ok("ping")
        await client.close()

    run(scenario())
