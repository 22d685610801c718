"""The whole in-memory state of one sequencer, as plain msgspec structs.

Everything that the state hash covers lives here (plus each book's own snapshot); indexes that can
be rebuilt from it (open orders per account, positions per account) live with their owners
(`index_open_orders`, risk.Risk) and are rebuilt from it on restore.
"""

from __future__ import annotations

import msgspec

from exchange.accounts import Account
from exchange.bookings import Booking
from exchange.capacity import Capacity
from exchange.commands import AnyCommand
from exchange.events import OrderChanged, PositionChanged
from exchange.instruments import Instrument
from exchange.results import CommandResult

SIDE_NAMES = ("buy", "sell")  # by codes.Side


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

    def event(self) -> OrderChanged:
        return OrderChanged(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            account_id=self.account_id,
            symbol=self.symbol,
            side=SIDE_NAMES[self.side],
            order_type=self.order_type,
            price=self.price,
            quantity=self.quantity,
            open_quantity=self.open_quantity,
            filled_quantity=self.filled_quantity,
            status=self.status,
            cancel_reason=self.cancel_reason,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


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

    def event(self) -> PositionChanged:
        """`locked`: the part of the long that resting orders reserve."""
        p = self.position
        return PositionChanged(
            account_id=self.account_id,
            symbol=self.symbol,
            position=p,
            locked=min(p if p > 0 else 0, self.reserved),
        )


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


def index_open_orders(state: State) -> dict[int, dict[int, Order]]:
    """Open orders by account id, then order id: every account has an entry, empty or not."""
    index: dict[int, dict[int, Order]] = {account_id: {} for account_id in state.accounts}
    for order_id, order in state.orders.items():
        index[order.account_id][order_id] = order
    return index
