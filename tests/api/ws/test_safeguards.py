"""Market-maker safeguards over real connections: cancel-on-disconnect, the dead-man's switch
(cancel_all_after), and market-maker protection triggering, freezing, expiring and resetting."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api.ws.conftest import WsClient, list_material_call, place, run


def _open_orders(server, account_id: int) -> list[dict]:
    return server.call(server.app.state.gateway.query, "open_orders", account_id)


async def _until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while not await loop.run_in_executor(None, condition):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_cancel_on_disconnect_is_opt_in(live_server, live_market):
    opted = live_market.user("opted", "market_maker", cash=1_000_000)
    plain = live_market.user("plain", "market_maker", cash=1_000_000)
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        clients = {}
        for user in (opted, plain):
            client = await WsClient.open(live_server)
            await client.authenticate(user)
            await client.ok("place", symbol=symbol, side="buy", price=500, quantity=1)
            await client.ok("place", symbol=symbol, side="buy", price=490, quantity=1)
            clients[user.username] = client
        assert await clients["opted"].ok("cancel_on_disconnect", enabled=True) == {"enabled": True}
        # Set and cleared again: off.
        await clients["plain"].ok("cancel_on_disconnect", enabled=True)
        assert await clients["plain"].ok("cancel_on_disconnect", enabled=False) == {"enabled": False}
        for client in clients.values():
            await client.close()
        await _until(lambda: _open_orders(live_server, opted.account_id) == [])
        await asyncio.sleep(0.2)
        assert len(_open_orders(live_server, plain.account_id)) == 2

        # Before authentication there is no account to protect.
        anonymous = await WsClient.open(live_server)
        assert (await anonymous.error("cancel_on_disconnect", enabled=True))["code"] == "UNAUTHENTICATED"
        await anonymous.close()

    run(scenario())


def test_dead_mans_switch_fires_unless_rearmed(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=1_000_000)
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        await client.ok("place", symbol=symbol, side="buy", price=500, quantity=1)
        # Disarmed with 0: nothing happens.
        assert (await client.ok("cancel_all_after", timeout_ms=300))["armed"] is True
        assert await client.ok("cancel_all_after", timeout_ms=0) == {"armed": False, "deadline": None}
        await asyncio.sleep(0.45)
        assert len(_open_orders(live_server, maker.account_id)) == 1

        armed_at = time.monotonic()
        armed = await client.ok("cancel_all_after", timeout_ms=600)
        assert armed["armed"] is True and armed["deadline"] >= int(time.time() * 1000)
        for _ in range(5):  # re-armed every 150 ms: it never fires
            await asyncio.sleep(0.15)
            await client.ok("cancel_all_after", timeout_ms=600)
        assert time.monotonic() - armed_at > 0.6
        assert len(_open_orders(live_server, maker.account_id)) == 1
        # The client stops re-arming: 600 ms later everything is cancelled and the client is told.
        fired = await client.expect(lambda m: m["type"] == "cancel_all_after", timeout=2)
        assert fired["cancelled"] == 1 and fired["seq"] > 0
        assert _open_orders(live_server, maker.account_id) == []
        assert (await client.error("cancel_all_after", timeout_ms=600_001))["code"] == "BAD_REQUEST"
        assert (await client.error("cancel_all_after", timeout_ms=-1))["code"] == "BAD_REQUEST"

        # The switch outlives the connection: it is for clients that can no longer reach us.
        await client.ok("place", symbol=symbol, side="buy", price=500, quantity=1)
        await client.ok("cancel_all_after", timeout_ms=800)
        await client.close()
        await asyncio.sleep(0.1)
        assert len(_open_orders(live_server, maker.account_id)) == 1
        await _until(lambda: _open_orders(live_server, maker.account_id) == [])

    run(scenario())


def test_market_maker_protection_triggers_freezes_and_resets(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    taker = live_market.user("taker", "creator", cash=50_000_000)
    ink_a = list_material_call(live_market, material="special-black-ink", index="INK-A")
    ink_b = list_material_call(live_market, material="special-black-ink", index="INK-B")
    paper = list_material_call(live_market, material="special-paper", index="PAPER")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        config = await client.ok(
            "mmp_config", underlying="special-black-ink", quantity=3, interval_ms=10_000, frozen_ms=0
        )
        assert config == {
            "underlying": "special-black-ink",
            "quantity": 3,
            "interval_ms": 10_000,
            "frozen_ms": 0,
            "frozen": False,
            "frozen_until": None,
        }
        await client.ok(
            "mass_quote",
            quotes=[
                {"symbol": ink_a, "bid_price": 500, "bid_quantity": 5, "ask_price": 600, "ask_quantity": 5},
                {"symbol": ink_b, "bid_price": 500, "bid_quantity": 5},
                {"symbol": paper, "bid_price": 300, "bid_quantity": 5},
            ],
        )
        # 2 contracts traded as maker: below the limit, nothing happens.
        await loop.run_in_executor(None, lambda: place(live_market, taker, ink_a, "sell", 500, 2))
        await client.request("ping")
        assert not client.taken(lambda m: m["type"] == "mmp_triggered")
        assert len(_open_orders(live_server, maker.account_id)) == 4
        # 1 more on the other instrument of the same underlying: 3 within the interval -> triggered.
        await loop.run_in_executor(None, lambda: place(live_market, taker, ink_b, "sell", 500, 1))
        triggered = await client.expect(lambda m: m["type"] == "mmp_triggered")
        assert triggered["underlying"] == "special-black-ink" and triggered["traded_quantity"] == 3
        assert triggered["frozen_until"] is None and triggered["cancelled"] == 3  # ink_a bid+ask, ink_b bid
        assert [o["symbol"] for o in _open_orders(live_server, maker.account_id)] == [paper]

        refused = await client.error("place", symbol=ink_b, side="buy", price=480, quantity=1)
        assert refused["code"] == "MMP_TRIGGERED"
        quote = await client.ok(
            "mass_quote",
            quotes=[
                {"symbol": ink_a, "bid_price": 480, "bid_quantity": 1},
                {"symbol": paper, "bid_price": 310, "bid_quantity": 1},
            ],
        )
        assert quote["quotes"][0]["ok"] is False and quote["quotes"][0]["error"]["code"] == "MMP_TRIGGERED"
        assert quote["quotes"][1]["ok"] is True  # another underlying is not frozen
        paper_order = quote["quotes"][1]["bid"]["order_id"]
        assert (await client.ok("amend", order_id=paper_order, price=305, quantity=1))[
            "order_id"
        ] == paper_order

        reset = await client.ok("mmp_reset", underlying="special-black-ink")
        assert reset["frozen"] is False
        await client.ok("place", symbol=ink_b, side="buy", price=480, quantity=1)

        # With a frozen time the freeze ends by itself.
        await client.ok(
            "mmp_config", underlying="special-black-ink", quantity=1, interval_ms=10_000, frozen_ms=1_000
        )
        await loop.run_in_executor(None, lambda: place(live_market, taker, ink_b, "sell", 480, 1))
        triggered = await client.expect(lambda m: m["type"] == "mmp_triggered")
        assert triggered["frozen_until"] is not None
        assert (await client.error("place", symbol=ink_a, side="buy", price=470, quantity=1))[
            "code"
        ] == "MMP_TRIGGERED"
        await asyncio.sleep(max(0.0, triggered["frozen_until"] / 1000 - time.time()) + 0.05)
        await client.ok("place", symbol=ink_a, side="buy", price=470, quantity=1)
        await client.close()

    run(scenario())


@pytest.mark.parametrize(
    "settings_overrides",
    [{"mmp_default_quantity": 2, "mmp_default_interval_ms": 5_000, "mmp_default_frozen_ms": 60_000}],
)
def test_market_maker_protection_defaults_apply_to_trading_connections(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=50_000_000)
    taker = live_market.user("taker", "creator", cash=50_000_000)
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        await client.ok("place", symbol=symbol, side="buy", price=500, quantity=5)
        await loop.run_in_executor(None, lambda: place(live_market, taker, symbol, "sell", 500, 2))
        triggered = await client.expect(lambda m: m["type"] == "mmp_triggered")
        assert triggered["underlying"] == "special-black-ink" and triggered["cancelled"] == 1
        assert triggered["frozen_until"] > int(time.time() * 1000) + 50_000
        refused = await client.error("place", symbol=symbol, side="buy", price=500, quantity=1)
        assert refused["code"] == "MMP_TRIGGERED"
        await client.close()

    run(scenario())
