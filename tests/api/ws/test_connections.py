"""Connection lifecycle: a slow consumer is told and dropped without holding anyone up, an idle
client is timed out, the connection gauge follows the connections, and a server without our
WebSocket protocol still delivers every message."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from prometheus_client import REGISTRY
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.main import UVICORN_OPTIONS, create_app
from tests.api.conftest import LiveServer, Market, free_port
from tests.api.ws.conftest import ClientBook, WsClient, list_material_call, of, place, run


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.mark.parametrize("settings_overrides", [{"ws_queue_size": 8}])
def test_a_slow_consumer_is_told_and_disconnected_while_others_go_on(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    symbol = list_material_call(live_market)
    for i in range(150):  # a deep book: each snapshot is a few kilobytes
        place(live_market, maker, symbol, "buy", 100 + i, 1)
        place(live_market, maker, symbol, "sell", 1_000 + i, 1)
    drops_before = _metric("capex_ws_slow_consumer_total")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        healthy = await WsClient.open(live_server)
        await healthy.ok("subscribe", channel="book", symbol=symbol)
        book = ClientBook()
        book.apply(await healthy.expect(of("book", "snapshot", symbol)))

        # The slow client: a tiny receive buffer, and it stops reading after subscribing.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", live_server.port))
        raw.setblocking(False)
        slow = WsClient(
            await connect(live_server.ws_url, sock=raw, max_queue=1, open_timeout=5, close_timeout=2)
        )
        slow.welcome = await slow.recv()
        await slow.ok("subscribe", channel="book", symbol=symbol)
        for _ in range(400):  # every resync queues a whole-book snapshot it never reads
            await slow.send({"op": "resync", "symbol": symbol})
        deadline = time.monotonic() + 10
        while _metric("capex_ws_slow_consumer_total") < drops_before + 1:
            assert time.monotonic() < deadline, "the slow consumer was never dropped"
            await asyncio.sleep(0.02)

        # The healthy client was not held up: its book keeps up with a new order.
        await loop.run_in_executor(None, lambda: place(live_market, maker, symbol, "buy", 99, 7))
        book.apply(await healthy.expect(of("book", "delta", symbol)))
        assert book.bids[99] == 7

        # The slow client reads what was already under way, then the notice, then the close.
        notices = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = await slow.recv(timeout=8)
                if message.get("type") == "error":
                    notices.append(message)
        assert [n["code"] for n in notices] == ["SLOW_CONSUMER"]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        assert _metric("capex_ws_slow_consumer_total") == drops_before + 1
        await healthy.close()

    run(scenario())


@pytest.mark.parametrize(
    "settings_overrides", [{"ws_idle_timeout_seconds": 0.6, "ws_heartbeat_seconds": 0.1}]
)
def test_idle_clients_are_timed_out_and_pinging_ones_are_not(live_server):
    async def scenario() -> None:
        idle = await WsClient.open(live_server)
        busy = await WsClient.open(live_server)
        assert idle.welcome["idle_timeout_ms"] == 600 and idle.welcome["heartbeat_ms"] == 100
        started = time.monotonic()
        heartbeats = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = await idle.recv(timeout=3)
                if message["type"] == "heartbeat":
                    heartbeats += 1
                else:
                    assert message["type"] == "error" and message["code"] == "IDLE_TIMEOUT"
                    idle_for = time.monotonic() - started
                await busy.ok("ping")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert 0.5 <= idle_for <= 2.0 and heartbeats >= 3
        assert "server_time" in await busy.ok("ping")  # it kept talking: still connected
        await busy.close()

    run(scenario())


def test_connection_gauge_follows_connections(live_server):
    async def scenario() -> None:
        before = _metric("capex_websockets_connected")
        clients = [await WsClient.open(live_server) for _ in range(3)]
        for client in clients:
            await client.ok("ping")
        assert _metric("capex_websockets_connected") == before + 3
        for client in clients:
            await client.close()
        deadline = time.monotonic() + 5
        while _metric("capex_websockets_connected") != before:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

    run(scenario())


@pytest.mark.parametrize("settings_overrides", [{"ws_queue_size": 8, "ws_max_pending_requests": 16}])
def test_a_pipelining_market_maker_is_never_dropped_for_its_own_answers(live_server, live_market):
    """Many more requests in flight than the market-data bound: the reader pauses at the pending
    limit instead, and every request is answered."""
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    symbol = list_material_call(live_market)
    drops_before = _metric("capex_ws_slow_consumer_total")
    count = 300

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        for i in range(count):  # sent before any answer is read
            await client.send(
                {"id": i, "op": "place", "symbol": symbol, "side": "buy", "price": 100 + i, "quantity": 1}
            )
        answers = [await client.response(i) for i in range(count)]
        assert all(answer["ok"] for answer in answers), [a for a in answers if not a["ok"]][:3]
        await client.close()

    run(scenario())
    assert _metric("capex_ws_slow_consumer_total") == drops_before
    assert (
        len(live_server.call(live_server.app.state.gateway.query, "open_orders", maker.account_id)) == count
    )


def test_without_the_frames_extension_a_session_sends_through_starlette(api_settings):
    """Under uvicorn's own WebSocket protocol (no FRAMES extension: api/ws/transport.py) every
    message still arrives, in order, frame by frame."""
    options = {name: value for name, value in UVICORN_OPTIONS.items() if name != "ws"}
    server = LiveServer(create_app(api_settings), free_port(), options)
    server.start()
    market = Market(server.app, server.call)
    symbol = list_material_call(market)

    async def scenario() -> None:
        client = await WsClient.open(server)
        assert "challenge" in client.welcome
        sessions = list(server.app.state.market_data.sessions)
        assert len(sessions) == 1 and sessions[0].outbox.writer is None  # the Starlette path
        pings = [await client.request("ping") for _ in range(3)]
        assert [p["ok"] for p in pings] == [True, True, True]
        await client.ok("subscribe", channel="book", symbol=symbol)
        assert (await client.expect(of("book", "snapshot", symbol)))["symbol"] == symbol
        await client.close()

    try:
        run(scenario())
    finally:
        server.stop()
