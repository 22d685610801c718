"""Order entry over the WebSocket: correlated responses (pipelined), refusals passed on from the
sequencer, request validation, the separate rate-limit buckets of orders and quotes, and the mass
quote."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.ws.conftest import WsClient, list_material_call, of, place, run


def _open_orders(server, account_id: int) -> list[dict]:
    return server.call(server.app.state.gateway.query, "open_orders", account_id)


def test_place_cancel_amend_cancel_all_with_correlated_responses(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    other = live_market.user("other", "creator", cash=10_000_000)
    symbol = list_material_call(live_market)
    foreign = place(live_market, other, symbol, "buy", 100, 1).data["order_id"]

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        assert (await client.error("place", symbol=symbol, side="buy", price=1, quantity=1))["code"] == (
            "UNAUTHENTICATED"
        )
        await client.authenticate(maker)
        await client.ok("subscribe", channel="orders")
        # Pipelined: five requests sent before any answer is read; answers matched by id.
        requests = {
            "a": {
                "op": "place",
                "symbol": symbol,
                "side": "buy",
                "price": 500,
                "quantity": 2,
                "client_order_id": "a-1",
            },
            "b": {"op": "place", "symbol": symbol, "side": "sell", "price": 700, "quantity": 3},
            "c": {"op": "place", "symbol": symbol, "side": "buy", "price": 510, "quantity": 10**9},
            "d": {"op": "cancel", "order_id": foreign},
            "e": {"op": "cancel", "order_id": 999_999},
        }
        for request_id, request in requests.items():
            await client.send({"id": request_id, **request})
        answers = {rid: await client.response(rid) for rid in requests}
        assert all(answer["op"] == requests[rid]["op"] for rid, answer in answers.items())
        placed = answers["a"]["result"]
        assert placed["client_order_id"] == "a-1" and placed["status"] == "open"
        assert (placed["open_quantity"], placed["filled_quantity"]) == (2, 0)
        assert answers["b"]["ok"] and answers["b"]["result"]["client_order_id"].startswith("ws-")
        assert answers["c"]["error"]["code"] == "INSUFFICIENT_FUNDS"
        assert answers["d"]["error"]["code"] == "NOT_YOUR_ORDER"
        assert answers["e"]["error"]["code"] == "UNKNOWN_ORDER"
        order_id = placed["order_id"]
        update = await client.expect(lambda m: of("orders", "order")(m) and m["order_id"] == order_id)
        assert update["client_order_id"] == "a-1"

        # The same client order id again: the first result, nothing placed twice.
        repeat = await client.ok(
            "place", symbol=symbol, side="buy", price=500, quantity=2, client_order_id="a-1"
        )
        assert repeat["order_id"] == order_id and repeat["status"] is None
        conflict = await client.error(
            "place", symbol=symbol, side="buy", price=490, quantity=2, client_order_id="a-1"
        )
        assert conflict["code"] == "DUPLICATE_CLIENT_ORDER_ID"

        amended = await client.ok("amend", order_id=order_id, price=505, quantity=1)
        assert amended["order_id"] == order_id and amended["seq"] > placed["seq"]
        opened = {o["order_id"]: o for o in _open_orders(live_server, maker.account_id)}
        assert (opened[order_id]["price"], opened[order_id]["open_quantity"]) == (505, 1)
        assert (await client.ok("cancel", order_id=order_id))["order_id"] == order_id
        assert (await client.error("cancel", order_id=order_id))["code"] == "UNKNOWN_ORDER"
        assert (await client.ok("cancel_all", symbol=symbol))["cancelled"] == 1  # the 700 sell
        assert _open_orders(live_server, maker.account_id) == []
        assert len(_open_orders(live_server, other.account_id)) == 1  # not theirs to cancel

        # Shapes are checked before anything is submitted.
        for fields in (
            {"symbol": symbol, "side": "buy", "price": "500", "quantity": 1},
            {"symbol": symbol, "side": "buy", "price": 500.5, "quantity": 1},
            {"symbol": symbol, "side": "buy", "price": 2**70, "quantity": 1},
            {"symbol": symbol, "side": "buy", "quantity": 1},
            {"symbol": symbol, "side": "buy", "price": 1, "quantity": 1, "client_order_id": "x" * 65},
            {"symbol": symbol, "side": "hold", "price": 1, "quantity": 1},
        ):
            assert (await client.error("place", **fields))["code"] == "BAD_REQUEST"
        assert (await client.error("cancel_all", symbol="MAT-NOPE"))["code"] == "UNKNOWN_INSTRUMENT"
        assert _open_orders(live_server, maker.account_id) == []
        await client.close()

    run(scenario())


@pytest.mark.parametrize(
    "settings_overrides",
    [{"ws_order_rate": 0.5, "ws_order_burst": 3, "ws_quote_rate": 0.5, "ws_quote_burst": 2}],
)
def test_orders_and_quotes_have_separate_rate_limit_buckets(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    first = list_material_call(live_market)
    second = list_material_call(live_market, strike=8_100)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        for price in (500, 501, 502):
            await client.ok("place", symbol=first, side="buy", price=price, quantity=1)
        limited = await client.error("place", symbol=first, side="buy", price=503, quantity=1)
        assert limited["code"] == "RATE_LIMITED" and 0 < limited["retry_after"] <= 2.0
        assert (await client.error("cancel_all"))["code"] == "RATE_LIMITED"  # the same orders bucket
        # Quotes have their own bucket: a two-entry mass quote (cost 2) still passes.
        quoted = await client.ok(
            "mass_quote",
            quotes=[
                {"symbol": first, "ask_price": 700, "ask_quantity": 1},
                {"symbol": second, "bid_price": 400, "bid_quantity": 1},
            ],
        )
        assert [q["ok"] for q in quoted["quotes"]] == [True, True]
        limited = await client.error(
            "mass_quote", quotes=[{"symbol": second, "bid_price": 401, "bid_quantity": 1}]
        )
        assert limited["code"] == "RATE_LIMITED" and limited["retry_after"] > 0
        # Refused requests submitted nothing: 3 orders and 2 quote orders rest.
        assert len(_open_orders(live_server, maker.account_id)) == 5
        await client.close()

    run(scenario())


def test_mass_quote_replaces_the_connections_quotes(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    other = live_market.user("other", "creator", cash=10_000_000)
    first = list_material_call(live_market)
    second = list_material_call(live_market, strike=8_100)
    place(live_market, other, second, "sell", 450, 1)  # a resting ask that a post-only bid may not cross

    def book(symbol: str):
        view = live_server.call(live_server.app.state.gateway.book_view, symbol, 100)
        return [(p, q) for p, q, _ in view.bids], [(p, q) for p, q, _ in view.asks]

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        result = await client.ok(
            "mass_quote",
            quotes=[
                {"symbol": first, "bid_price": 500, "bid_quantity": 5, "ask_price": 600, "ask_quantity": 5},
                {"symbol": second, "bid_price": 400, "bid_quantity": 2, "ask_price": 460, "ask_quantity": 2},
            ],
        )
        assert [(q["symbol"], q["ok"]) for q in result["quotes"]] == [(first, True), (second, True)]
        assert result["quotes"][0]["bid"]["ok"] and result["quotes"][0]["ask"]["order_id"] > 0
        assert await loop.run_in_executor(None, book, first) == ([(500, 5)], [(600, 5)])

        # Replace: the previous quote on each symbol is cancelled, the new one placed; a post-only
        # bid that would cross the other account's ask is refused, its other side still placed.
        result = await client.ok(
            "mass_quote",
            quotes=[
                {"symbol": first, "bid_price": 510, "bid_quantity": 4, "ask_price": 590, "ask_quantity": 4},
                {"symbol": second, "bid_price": 455, "bid_quantity": 2, "ask_price": 470, "ask_quantity": 2},
                {"symbol": "MAT-NOPE", "bid_price": 1, "bid_quantity": 1},
            ],
        )
        first_answer, second_answer, unknown = result["quotes"]
        assert first_answer["ok"] is True
        assert (
            second_answer["ok"] is False and second_answer["bid"]["error"]["code"] == "MATCHING_WOULD_CROSS"
        )
        assert second_answer["ask"]["ok"] is True
        assert unknown == {
            "symbol": "MAT-NOPE",
            "ok": False,
            "bid": {"ok": False, "error": unknown["bid"]["error"]},
            "ask": None,
        }
        assert unknown["bid"]["error"]["code"] == "UNKNOWN_INSTRUMENT"
        assert await loop.run_in_executor(None, book, first) == ([(510, 4)], [(590, 4)])
        assert await loop.run_in_executor(None, book, second) == ([], [(450, 1), (470, 2)])

        # An entry without sides pulls the quote; the other symbol's quote stays.
        result = await client.ok("mass_quote", quotes=[{"symbol": first}])
        assert result["quotes"] == [{"symbol": first, "ok": True, "bid": None, "ask": None}]
        assert await loop.run_in_executor(None, book, first) == ([], [])
        assert await loop.run_in_executor(None, book, second) == ([], [(450, 1), (470, 2)])

        # Malformed mass quotes are refused whole, nothing submitted.
        for fields in (
            {"quotes": []},
            {"quotes": [{"symbol": first, "bid_price": 1, "bid_quantity": 1}] * 2},
            {"quotes": [{"symbol": first, "bid_price": 1}]},
            {"quotes": [{"symbol": first, "bid_price": 1, "bid_quantity": 1}], "order_type": "ioc"},
        ):
            assert (await client.error("mass_quote", **fields))["code"] == "BAD_REQUEST"
        assert await loop.run_in_executor(None, book, first) == ([], [])
        await client.close()

    run(scenario())


def test_order_entry_fails_closed_when_the_sequencer_is_unreachable(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=1_000_000)
    symbol = list_material_call(live_market)
    gateway = live_server.app.state.gateway

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        await client.ok("place", symbol=symbol, side="buy", price=500, quantity=1)
        live_server.call(gateway.stop)  # the sequencer is gone
        for op, fields in (
            ("place", {"symbol": symbol, "side": "buy", "price": 501, "quantity": 1}),
            ("cancel_all", {}),
            ("mass_quote", {"quotes": [{"symbol": symbol, "bid_price": 502, "bid_quantity": 1}]}),
        ):
            error = await client.error(op, **fields)
            assert error["code"] == "UNAVAILABLE", error
        assert "server_time" in await client.ok("ping")  # market data connections stay up
        await client.close()

    run(scenario())
