"""The whole in-memory state of one sequencer, as plain msgspec structs.

Everything that the state hash covers lives here (plus each book's own snapshot); indexes that can
be rebuilt from it (orders per account, positions per account) live on the sequencer.
"""

from __future__ import annotations

import msgspec

from exchange.accounts import Account
from exchange.bookings import Booking
from exchange.capacity import Capacity
from exchange.commands import AnyCommand
from exchange.instruments import Instrument
from exchange.results import CommandResult


class Order(msgspec.Struct, kw_only=True):
    """A resting (or in-flight) order. `lock_per` fen per open contract are locked in the owner's
    cash; `reserve_symbol` names the instrument whose long (or short collateral) the open quantity
    reserves (sells: the instrument itself; swaps: the leg the order gives), empty for plain buys."""

    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: int  # codes.Side
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


class Position(msgspec.Struct, kw_only=True):
    """Net position (contracts, long > 0). `reserved`: contracts committed to resting sells, swap
    legs. `cover`: short contracts whose collateral is held, always max(0, reserved - position).
    `short_since`: journal seq of the trade that last opened the short (assignment order)."""

    account_id: int
    symbol: str
    position: int = 0
    reserved: int = 0
    cover: int = 0
    short_since: int = 0
    decline_auto_exercise: bool = False


class IdempotencyEntry(msgspec.Struct, kw_only=True, gc=False):
    """One per client order id, kept for the life of the state: untracked by the cycle collector
    for the same reason as CommandResult (it holds plain data and cannot be part of a cycle)."""

    command: AnyCommand  # with timestamp 0: a retry may carry a new timestamp
    result: CommandResult


class State(msgspec.Struct, kw_only=True):
    last_seq: int = 0
    next_account_id: int = 1
    next_instrument_id: int = 1
    next_order_id: int = 1
    next_trade_id: int = 1
    next_posting_id: int = 1
    next_booking_id: int = 1
    next_transfer_id: int = 1
    accounts: dict[int, Account] = {}
    system_balances: dict[str, int] = {}
    instruments: dict[str, Instrument] = {}
    orders: dict[int, Order] = {}
    positions: dict[str, dict[int, Position]] = {}
    capacity: dict[str, Capacity] = {}
    bookings: dict[int, Booking] = {}
    index_prices: dict[str, list[tuple[int, int]]] = {}
    idempotency: dict[str, IdempotencyEntry] = {}
