"""What one command does, collected while it runs and published after it (STYLE habit 3).

Events of a command: postings, trades, book levels and status changes in the order they happen,
then the absolute new state of every order, position, capacity, booking and balance it touched.
The components that mutate the state append the first kind to `events` and mark what they touched
in the `dirty_*` maps; `flush` adds the second kind, once per record however often it changed.
"""

from __future__ import annotations

from exchange.accounts import Account
from exchange.bookings import Booking
from exchange.capacity import Capacity
from exchange.events import AnyEvent, BalanceChanged
from exchange.state import Order, Position


class Effects:
    """The per-command context shared by the sequencer's components: the command's `seq` and
    `timestamp` (ms since epoch, UTC: the only clock), its events so far, and the records it
    touched, keyed so that each is reported once (accounts, orders and bookings by id; positions
    and capacity by identity, as they have no single id).

    One instance lives as long as its sequencer. `reset` starts a new `events` list (cheaper than
    clearing the last one: the result keeps its own tuple) and clears the maps in place, so a
    component may keep a reference to a map but reads `events` from here each time."""

    __slots__ = (
        "seq",
        "timestamp",
        "events",
        "dirty_accounts",
        "dirty_orders",
        "dirty_positions",
        "dirty_capacity",
        "dirty_bookings",
    )

    def __init__(self) -> None:
        self.seq = 0
        self.timestamp = 0
        self.events: list[AnyEvent] = []
        self.dirty_accounts: dict[int, Account] = {}
        self.dirty_orders: dict[int, Order] = {}
        self.dirty_positions: dict[int, Position] = {}
        self.dirty_capacity: dict[int, Capacity] = {}
        self.dirty_bookings: dict[int, Booking] = {}

    def reset(self, seq: int, timestamp: int) -> None:
        """Start the command `seq` stamped `timestamp`."""
        self.seq = seq
        self.timestamp = timestamp
        self.events = []
        if self.dirty_accounts:
            self.dirty_accounts.clear()
        if self.dirty_orders:
            self.dirty_orders.clear()
        if self.dirty_positions:
            self.dirty_positions.clear()
        if self.dirty_capacity:
            self.dirty_capacity.clear()
        if self.dirty_bookings:
            self.dirty_bookings.clear()

    def flush(self) -> tuple[AnyEvent, ...]:
        """The command's events: those collected, then the new state of every touched record."""
        events = self.events
        for order in self.dirty_orders.values():
            events.append(order.event())
        for position in self.dirty_positions.values():
            events.append(position.event())
        for capacity in self.dirty_capacity.values():
            events.append(capacity.event())
        for booking in self.dirty_bookings.values():
            events.append(booking.event())
        for account in self.dirty_accounts.values():
            events.append(
                BalanceChanged(
                    account_id=account.account_id, available=account.available, locked=account.locked
                )
            )
        return tuple(events)
