"""Fixtures of the SDK and bot tests: the API tests' real servers (`live_server`, a uvicorn on a
free 127.0.0.1 port; `live_market`, its setup helper), plus helpers to list material calls and to
wait for something to become true."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID
from tests.api.conftest import DAY, NOW, Market, api_settings, live_market, live_server  # noqa: F401

T = TypeVar("T")
PASSWORD = "password-123"  # Market.user's default


def run(coroutine: Awaitable[T], timeout: float = 30.0) -> T:
    """Run a test's coroutine on a fresh event loop, bounded so that nothing hangs."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


async def eventually(
    check: Callable[[], Awaitable[T] | T], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """The first truthy value of `check()` (sync or async), polled until `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(interval)


def list_material_call(
    market: Market,
    material: str = "special-black-ink",
    index: str = "INK-TEST",
    strike: int = 8_000,
    cap: int = 9_600,
    units: int = 10,
    tick: int = 1,
    days: int = 60,
    index_price: int | None = None,
) -> str:
    """A material call that trades from now on; the payoff is at most (cap - strike) * units.

    An index is known once it has a price: when `index` has none yet, `index_price` (default: the
    strike, where the call is worth nothing and the fat-finger band is widest) is published first."""
    if not market.call(market.gateway.query, "index_prices", index):
        publish_index(market, index, strike if index_price is None else index_price)
    expiry = NOW + days * DAY
    terms = cmd.MaterialCallTerms(
        material=material,
        index=index,
        strike=strike,
        cap=cap,
        units_per_contract=units,
        settlement_window_start=expiry - 7 * DAY,
    )
    result = market.submit(
        cmd.ListInstrument(
            timestamp=0,
            actor_id=SYSTEM_ACCOUNT_ID,
            terms=terms,
            tick=tick,
            lot=1,
            min_price=tick,
            max_price=(cap - strike) * units,
            trading_start=0,
            expiry=expiry,
        )
    )
    assert result.ok, result
    return result.data["symbol"]


def publish_index(market: Market, index: str, price: int) -> None:
    result = market.submit(
        cmd.PublishIndexPrice(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, index=index, price=price)
    )
    assert result.ok, result


def place(
    market: Market,
    account_id: int,
    symbol: str,
    side: str,
    price: int,
    quantity: int,
    order_type: str = "limit",
    client_order_id: str | None = None,
) -> Any:
    """An order through the gateway (the path the routes take); the result must be ok."""
    result = market.submit(
        cmd.PlaceOrder(
            timestamp=0,
            actor_id=account_id,
            symbol=symbol,
            client_order_id=client_order_id or f"t-{time.monotonic_ns()}",
            side=side,
            order_type=order_type,
            price=price,
            quantity=quantity,
        )
    )
    assert result.ok, result
    return result
