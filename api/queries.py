"""Typed reads of the sequencer's hot state: the queries the API asks most, as small frozen structs.

The gateway still carries builtins (`Gateway.query(name, *args)`, the same over every transport);
these functions name the query once and convert its answer with `msgspec.convert`, so the routes and
the WebSocket read `account.role` rather than `account["role"]`. Unknown fields are ignored (a newer
sequencer may report more), and a missing one is an error here rather than a KeyError later.
"""

from __future__ import annotations

from typing import Any

import msgspec

from api.gateway import Gateway


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """An account (exchange.accounts.Account): cash in fen."""

    account_id: int
    name: str
    role: str
    available: int = 0
    locked: int = 0
    kill_switch: bool = False
    created_at: int = 0


class InstrumentView(msgspec.Struct, frozen=True, kw_only=True):
    """A listed instrument (exchange.instruments.Instrument). `terms` as listed: the builtins of
    commands.InstrumentTerms, tagged `type` ("CAP", "MAT" or "SWP")."""

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


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    """An open order (exchange.state.Order); `side` is a codes.Side."""

    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: int
    order_type: str
    stp: str
    price: int
    quantity: int
    open_quantity: int
    filled_quantity: int
    status: str
    created_at: int
    updated_at: int
    lock_per: int
    reserve_symbol: str = ""
    cancel_reason: str | None = None


async def account(gateway: Gateway, account_id: int) -> AccountView | None:
    """The account, or None if there is no such account."""
    return msgspec.convert(await gateway.query("account", account_id), AccountView | None)


async def instrument(gateway: Gateway, symbol: str) -> InstrumentView | None:
    """The instrument, or None if none is listed under `symbol`."""
    return msgspec.convert(await gateway.query("instrument", symbol), InstrumentView | None)


async def instruments(gateway: Gateway) -> list[InstrumentView]:
    """Every listed instrument, by symbol."""
    return msgspec.convert(await gateway.query("instruments"), list[InstrumentView])


async def order(gateway: Gateway, order_id: int) -> OrderView | None:
    """The order if it is open (closed ones live in the store's projections), else None."""
    return msgspec.convert(await gateway.query("order", order_id), OrderView | None)
