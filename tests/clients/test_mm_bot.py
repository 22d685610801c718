"""The market-maker bot against a real server: it quotes both sides on several instruments within
seconds (checked in the books over REST), inside the tick, the listing's band and the fat-finger
band; stopping it pulls every quote (cancel-on-disconnect); market-maker protection makes it stay
off the underlying until the frozen time has passed; and the command line runs it and stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from clients.python import CapexClient
from clients.python import models as m
from clients.python.mm_bot import fat_finger_band, index_implied_value, quote_prices, run_bot
from tests.clients.conftest import PASSWORD, eventually, list_material_call, place, publish_index, run

REPO = Path(__file__).resolve().parents[2]


def instrument(
    kind: str = "MAT", tick: int = 10, min_price: int = 10, max_price: int = 16_000
) -> m.Instrument:
    terms: m.Terms
    if kind == "MAT":
        terms = m.MaterialCallTerms(
            material="ink",
            index="INK",
            strike=8_000,
            cap=9_600,
            units_per_contract=10,
            settlement_window_start=0,
        )
    else:
        terms = m.CapacitySwapTerms(give_symbol="CAP-A", receive_symbol="CAP-B")
    return m.Instrument(
        symbol="X",
        kind=kind,
        status="trading",
        terms=terms,
        contract_size=1,
        tick=tick,
        lot=1,
        min_price=min_price,
        max_price=max_price,
        trading_start=0,
        expiry=1,
        listed_at=0,
    )


def test_quote_prices_stay_on_the_grid_inside_the_bands_and_never_cross_others():
    call = instrument()
    assert quote_prices(call, 1_000, 2, None, None, None) == (980, 1_020)
    assert quote_prices(call, 1_005, 2, None, None, None) == (980, 1_030)  # off-grid fair value
    assert quote_prices(call, 1_000, 2, (900, 1_015), None, None) == (980, 1_010)  # inside the band
    assert quote_prices(call, 1_000, 2, None, 1_010, 970) == (960, 1_020)  # below the others' ask
    assert quote_prices(call, 1_000, 2, None, 1_030, None) == (980, 1_040)  # above the others' bid
    assert quote_prices(call, 20, 3, None, None, None) == (10, 50)  # the listing's min price
    # The fair value above the band: only the bid fits, at the band's top.
    assert quote_prices(call, 1_000, 2, (0, 500), None, None) == (500, None)
    assert quote_prices(call, 1_000, 2, (2_000, 1_500), None, None) == (None, None)
    swap = instrument("SWP", tick=100, min_price=-10_000, max_price=10_000)
    assert quote_prices(swap, -250, 1, None, None, None) == (-400, -100)  # swap prices may be negative


def test_fat_finger_band_mirrors_the_exchange_rule():
    call = instrument()
    assert fat_finger_band(call, 1_000, None, 50, 10) == (500, 1_500)  # around the last trade
    assert fat_finger_band(call, 100, None, 50, 10) == (0, 200)  # at least 10 ticks
    assert fat_finger_band(call, None, None, 50, 10) is None  # nothing to anchor on yet
    assert fat_finger_band(call, 1_000, 8_500, 50, 10) == (2_500, 16_000)  # the index-implied value rules
    assert fat_finger_band(call, None, 7_000, 50, 10) == (-100, 16_000)  # out of the money: worth 0
    assert fat_finger_band(call, 1_000, None, 0, 10) is None  # band turned off
    assert index_implied_value(call.terms, 9_999) == 16_000  # capped at (cap - K) * units


def seed(live_market) -> dict[str, str]:
    """Three instruments the bot can quote two-sided: two material calls with an index price (an
    index must have a price before a call is listed on it), and a capacity option the market
    maker holds a long of (it writes none)."""
    ink = list_material_call(live_market, material="special-black-ink", index="INK-TEST")
    paper = list_material_call(  # implied value (1600 - 1500) * 10 = 1000 per contract
        live_market,
        material="special-art-paper",
        index="PAPER-TEST",
        strike=1_500,
        cap=1_800,
        index_price=1_600,
    )
    publish_index(live_market, "INK-TEST", 8_500)  # implied value (8500 - 8000) * 10 = 5000 per contract
    cap = live_market.list_capacity_option()
    supplier = live_market.user("supplier1", role="supplier", cash=1_000_000)
    live_market.register_capacity(supplier)
    maker = live_market.user("maker1", role="market_maker", cash=100_000_000)
    place(live_market, supplier.account_id, cap, "sell", 500, 10)
    place(live_market, maker.account_id, cap, "buy", 500, 10)  # last trade 500, the maker is long 10
    return {"ink": ink, "paper": paper, "cap": cap}


async def bot_orders(client: CapexClient) -> dict[str, dict[str, m.Order]]:
    """The bot account's open orders: symbol -> side -> order."""
    by_symbol: dict[str, dict[str, m.Order]] = {}
    for order in await client.orders(limit=1000):
        by_symbol.setdefault(order.symbol, {})[order.side] = order
    return by_symbol


async def two_sided_in_books(client: CapexClient, symbols: list[str]) -> dict[str, dict[str, m.Order]]:
    orders = await bot_orders(client)
    for symbol in symbols:
        sides = orders.get(symbol, {})
        if set(sides) != {"buy", "sell"}:
            return {}
        book = await client.book(symbol)
        if not (
            any(lv.price == sides["buy"].price for lv in book.bids)
            and any(lv.price == sides["sell"].price for lv in book.asks)
        ):
            return {}
    return orders


def test_bot_quotes_two_sided_and_pulls_its_quotes_when_stopped(live_server, live_market):
    symbols = seed(live_market)

    async def scenario():
        stop = asyncio.Event()
        bot = asyncio.create_task(
            run_bot(
                live_server.base_url,
                username="maker1",
                password=PASSWORD,
                stop_event=stop,
                interval=0.2,
                spread_ticks=2,
                size=3,
            )
        )
        async with CapexClient(live_server.base_url) as viewer:
            await viewer.login("maker1", PASSWORD)
            quotes = await eventually(lambda: two_sided_in_books(viewer, list(symbols.values())), timeout=8)
            instruments = {i.symbol: i for i in await viewer.instruments()}

            ink = instruments[symbols["ink"]]
            implied = index_implied_value(ink.terms, 8_500)
            assert implied == 5_000
            band = fat_finger_band(ink, None, 8_500, 50, 10)
            ink_quote = quotes[symbols["ink"]]
            assert (ink_quote["buy"].price, ink_quote["sell"].price) == (implied - 2, implied + 2)
            assert band[0] <= ink_quote["buy"].price < ink_quote["sell"].price <= band[1]

            cap_quote = quotes[symbols["cap"]]  # around the last trade; the ask sells the long it holds
            assert (cap_quote["buy"].price, cap_quote["sell"].price) == (498, 502)
            assert cap_quote["sell"].quantity == 3
            paper_quote = quotes[symbols["paper"]]  # around its index-implied value, 1000
            assert (paper_quote["buy"].price, paper_quote["sell"].price) == (998, 1_002)
            for symbol, sides in quotes.items():
                instrument = instruments[symbol]
                for order in sides.values():
                    assert order.order_type == "post_only" and order.quantity == 3
                    assert order.price % instrument.tick == 0
                    assert instrument.min_price <= order.price <= instrument.max_price

            # A quote stays put while nothing moves: the same orders keep their priority.
            await asyncio.sleep(0.6)
            again = await bot_orders(viewer)
            assert {o.order_id for s in again.values() for o in s.values()} == {
                o.order_id for s in quotes.values() for o in s.values()
            }

            stop.set()
            stats = await asyncio.wait_for(bot, 10)
            assert stats.two_sided >= set(symbols.values())
            assert stats.refusals.get("FAT_FINGER", 0) == 0 and stats.book_gaps == 0
            # Stopping closed the connection: cancel-on-disconnect pulled every quote.
            await eventually(lambda: _no_orders(viewer), timeout=5)
            for symbol in symbols.values():
                book = await viewer.book(symbol)
                assert book.bids == [] and book.asks == []

    run(scenario(), timeout=40)


def test_bot_backs_off_while_market_maker_protection_is_frozen(live_server, live_market):
    symbols = seed(live_market)
    taker = live_market.user("taker1", cash=10_000_000)

    async def scenario():
        stop = asyncio.Event()
        bot = asyncio.create_task(
            run_bot(
                live_server.base_url,
                username="maker1",
                password=PASSWORD,
                stop_event=stop,
                symbols=[symbols["ink"], symbols["paper"]],
                interval=0.1,
                size=2,
                mmp_quantity=2,
                mmp_interval_ms=10_000,
                mmp_frozen_ms=1_500,
            )
        )
        async with CapexClient(live_server.base_url) as viewer:
            await viewer.login("maker1", PASSWORD)
            quotes = await eventually(
                lambda: two_sided_in_books(viewer, [symbols["ink"], symbols["paper"]]), timeout=8
            )
            ask = quotes[symbols["ink"]]["sell"]
            # The taker lifts the bot's whole ask: 2 contracts as maker reach the MMP quantity.
            place(live_market, taker.account_id, symbols["ink"], "buy", ask.price, 2, order_type="ioc")
            triggered = asyncio.get_running_loop().time()

            # Protection pulled the quotes on the ink underlying, and the bot stays off it...
            await eventually(lambda: _no_orders(viewer, symbols["ink"]), timeout=3)
            while asyncio.get_running_loop().time() - triggered < 1.0:
                assert await _no_orders(viewer, symbols["ink"])
                await asyncio.sleep(0.1)
            # ...while the paper quote, another underlying, stays.
            assert set((await bot_orders(viewer)).get(symbols["paper"], {})) == {"buy", "sell"}
            # After the frozen time the bot quotes the ink call again.
            back = await eventually(lambda: two_sided_in_books(viewer, [symbols["ink"]]), timeout=5)
            assert asyncio.get_running_loop().time() - triggered >= 1.4
            assert back[symbols["ink"]]["sell"].quantity == 2

            stop.set()
            stats = await asyncio.wait_for(bot, 10)
            assert stats.mmp_triggers == 1 and stats.fills >= 1

    run(scenario(), timeout=40)


def test_command_line_bot_stops_cleanly_on_sigterm(live_server, live_market):
    symbols = seed(live_market)
    env = {**os.environ, "CAPEX_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "clients.python.mm_bot",
        "--url",
        live_server.base_url,
        "--username",
        "maker1",
        "--interval",
        "0.2",
        "--symbols",
        symbols["ink"],
        symbols["cap"],
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:

        async def quoted():
            async with CapexClient(live_server.base_url) as viewer:
                await viewer.login("maker1", PASSWORD)
                await eventually(
                    lambda: two_sided_in_books(viewer, [symbols["ink"], symbols["cap"]]), timeout=15
                )
                process.send_signal(signal.SIGTERM)
                await eventually(lambda: process.poll() is not None, timeout=10)
                await eventually(lambda: _no_orders(viewer), timeout=5)

        run(quoted(), timeout=30)
        stdout, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert '"two_sided_symbols":2' in stdout, stdout
    assert "quoting 2 instruments" in stderr


async def _no_orders(client: CapexClient, symbol: str | None = None) -> bool:
    return await client.orders(symbol=symbol) == []
