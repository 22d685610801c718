"""The embedded mode with the sequencer in a child process (API_SEQUENCER_PROCESS=true): the same
answers, events and queries as the in-process writer thread, recovery from the journal on restart,
and order entry failing closed (OUTCOME_UNKNOWN for what was in flight, then UNAVAILABLE; health
503) when the child dies."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from api.main import create_app
from api.process_gateway import ProcessGateway
from tests.api.conftest import LiveServer, free_port
from tests.api.ws.conftest import ClientBook, WsClient, list_material_call, of, place, run

pytestmark = pytest.mark.parametrize("settings_overrides", [{"sequencer_process": True}])


def _child_pid(server: LiveServer) -> int:
    gateway = server.app.state.gateway
    assert isinstance(gateway, ProcessGateway)
    return gateway._process.pid


def test_order_entry_market_data_and_queries_go_through_the_child(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    taker = live_market.user("taker", "creator", cash=10_000_000)
    symbol = list_material_call(live_market)
    assert _child_pid(live_server) != os.getpid()

    async def scenario() -> None:
        watcher = await WsClient.open(live_server)
        await watcher.ok("subscribe", channel="book", symbol=symbol)
        book = ClientBook()
        book.apply(await watcher.expect(of("book", "snapshot", symbol)))

        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        for request_id, price in (("a", 500), ("b", 510), ("c", 10**12)):
            await client.send(
                {
                    "id": request_id,
                    "op": "place",
                    "symbol": symbol,
                    "side": "buy",
                    "price": price,
                    "quantity": 2,
                }
            )
        answers = {rid: await client.response(rid) for rid in "abc"}
        assert answers["a"]["ok"] and answers["b"]["ok"]
        assert answers["c"]["error"]["code"] == "MATCHING_PRICE_OUT_OF_BAND"
        while book.bids.get(510) != 2 or book.bids.get(500) != 2:
            book.apply(await watcher.expect(of("book", "delta", symbol)))
        await client.close()
        await watcher.close()

    run(scenario())
    # A fill between two accounts, then the queries and REST reads of the result.
    assert place(live_market, taker, symbol, "sell", 510, 1).ok
    open_orders = live_server.call(live_server.app.state.gateway.query, "open_orders", maker.account_id)
    assert sorted((o["price"], o["open_quantity"]) for o in open_orders) == [(500, 2), (510, 1)]
    with httpx.Client(base_url=live_server.base_url) as http:
        positions = http.get("/api/v1/portfolio/positions", headers=maker.headers).json()
        assert [(p["symbol"], p["position"]) for p in positions] == [(symbol, 1)]
        depth = http.get(f"/api/v1/instruments/{symbol}/book").json()
        assert [(level["price"], level["quantity"]) for level in depth["bids"]] == [(510, 1), (500, 2)]
        health = http.get("/health")
        details = health.json()["details"]
        assert health.status_code == 200 and details["mode"] == "embedded (sequencer process)"
        assert details["transport"] == "process" and details["sequencer"] == "ok"


def test_a_restart_recovers_the_journal_in_the_child(api_settings, live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)
    order_id = place(live_market, maker, symbol, "buy", 700, 3).data["order_id"]
    child = _child_pid(live_server)
    live_server.stop()
    with pytest.raises(ProcessLookupError):  # the child stopped (and was reaped) with the app
        os.kill(child, 0)

    again = LiveServer(create_app(api_settings), free_port())
    again.start()
    try:
        orders = again.call(again.app.state.gateway.query, "open_orders", maker.account_id)
        assert [(o["order_id"], o["open_quantity"]) for o in orders] == [(order_id, 3)]
    finally:
        again.stop()


def test_order_entry_fails_closed_when_the_child_dies(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        assert (await client.ok("place", symbol=symbol, side="buy", price=500, quantity=1))[
            "status"
        ] == "open"
        os.kill(_child_pid(live_server), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            answer = await client.request("place", symbol=symbol, side="buy", price=501, quantity=1)
            if not answer["ok"]:
                break
            assert time.monotonic() < deadline, "order entry still answered after the child died"
        # In flight when the child died: it may have been applied (OUTCOME_UNKNOWN); sent after the
        # gateway knew: nothing was applied (UNAVAILABLE).
        assert answer["error"]["code"] in ("OUTCOME_UNKNOWN", "UNAVAILABLE")
        await client.close()

    run(scenario())
    with httpx.Client(base_url=live_server.base_url) as http:
        health = http.get("/health")
        assert health.status_code == 503 and health.json()["details"]["sequencer"] != "ok"
