"""Typed reads of the sequencer's hot state: the queries the API asks most, converted back into the
exchange's own structs (an account, an open order).

The gateway still carries builtins (`Gateway.query(name, *args)`, the same over every transport);
these functions name the query once and convert its answer with `msgspec.convert`, so the routes and
the WebSocket read `account.role` rather than `account["role"]`. Unknown fields are ignored (a newer
sequencer may report more), and a missing one is an error here rather than a KeyError later.
"""

from __future__ import annotations

from typing import Any

import msgspec

from api.gateway import Gateway
from exchange.accounts import Account
from exchange.state import Order


class InstrumentView(msgspec.Struct, frozen=True, kw_only=True):
    """A listed instrument (exchange.instruments.Instrument), but with `terms` left as the builtins
    of commands.InstrumentTerms, tagged `type` ("CAP", "MAT" or "SWP"): the routes answer them as
    they are, and the WebSocket hub reads them by name."""

    symbol: str
    instrument_id: int
    kind: str
    terms: dict[str, Any]
    tick: int
    lot: int
    min_price: int
    max_price: int
    trading_start: int
    expiry: int
    status: str
    listed_at: int
    last_trade_time: int | None = None
    last_trade_price: int | None = None
    settlement_price: int | None = None
    collateral_per_contract: int = 0
    capacity_key: str = ""


async def account(gateway: Gateway, account_id: int) -> Account | None:
    """The account, or None if there is no such account."""
    return msgspec.convert(await gateway.query("account", account_id), Account | None)


async def instrument(gateway: Gateway, symbol: str) -> InstrumentView | None:
    """The instrument, or None if none is listed under `symbol`."""
    return msgspec.convert(await gateway.query("instrument", symbol), InstrumentView | None)


async def instruments(gateway: Gateway) -> list[InstrumentView]:
    """Every listed instrument, by symbol."""
    return msgspec.convert(await gateway.query("instruments"), list[InstrumentView])


async def order(gateway: Gateway, order_id: int) -> Order | None:
    """The order if it is open (closed ones live in the store's projections), else None."""
    return msgspec.convert(await gateway.query("order", order_id), Order | None)
