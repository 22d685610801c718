"""Immutable command and event records of the order book, and their flat int64 encodings.

A `BookEvent` is a tuple subclass with fixed fields (see `codes.EVENT_FIELDS`); the Cython book
builds them directly in C, the reference book builds them in Python, and the two compare equal
field by field. The batch API works on flat `array('q')` buffers of records instead, so that no
Python object is made per command or event on the hot path.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from matching_engine.codes import COMMAND_WIDTH, EVENT_WIDTH, CommandKind, OrderType, StpMode


class BookCommand(NamedTuple):
    """One command to a book. Prices in minor units (a multiple of the tick), quantities in contracts."""

    kind: int
    order_id: int = 0
    account_id: int = 0
    side: int = 0
    order_type: int = 0
    stp: int = 0
    price: int = 0
    quantity: int = 0

    @classmethod
    def place(
        cls,
        order_id: int,
        account_id: int,
        side: int,
        price: int,
        quantity: int,
        order_type: int = OrderType.LIMIT,
        stp: int = StpMode.NONE,
    ) -> BookCommand:
        return cls(CommandKind.PLACE, order_id, account_id, side, order_type, stp, price, quantity)

    @classmethod
    def cancel(cls, order_id: int, account_id: int) -> BookCommand:
        return cls(CommandKind.CANCEL, order_id, account_id)

    @classmethod
    def amend(cls, order_id: int, account_id: int, price: int, quantity: int) -> BookCommand:
        return cls(CommandKind.AMEND, order_id, account_id, price=price, quantity=quantity)

    @classmethod
    def mass_cancel(cls, account_id: int) -> BookCommand:
        return cls(CommandKind.MASS_CANCEL, account_id=account_id)


class BookEvent(NamedTuple):
    """One event of a book; `seq` rises by exactly one per event of that book.

    Field use per kind (unused fields are 0):
    - ACCEPTED: order_id, account_id, side, price, quantity (= remaining), remaining, reason = order type.
    - REJECTED: order_id, account_id, side, price, quantity as given in the command; reason = RejectReason.
    - FILL: the taker in order_id/account_id/side/remaining, the maker in maker_*; price is the
      maker's price, quantity the traded quantity, remainders are after this fill.
    - CANCELLED: order_id, account_id, side, price, quantity = the cancelled (open) quantity,
      remaining = 0, reason = CancelReason.
    - AMENDED: order_id, account_id, side, the new price, quantity = remaining = the new open
      quantity, reason = AmendPriority.
    - LEVEL: side, price, quantity = total open quantity at that price (0: the level is gone),
      order_count = number of orders resting there.
    """

    seq: int
    kind: int
    order_id: int = 0
    account_id: int = 0
    side: int = 0
    price: int = 0
    quantity: int = 0
    remaining: int = 0
    reason: int = 0
    maker_order_id: int = 0
    maker_account_id: int = 0
    maker_remaining: int = 0
    order_count: int = 0


def encode_commands(commands: Iterable[Sequence[int]]) -> array[int]:
    """Flatten commands into the batch format: `COMMAND_WIDTH` int64 values per command."""
    buffer = array("q")
    for command in commands:
        if len(command) != COMMAND_WIDTH:
            raise ValueError(f"a command has {COMMAND_WIDTH} fields, got {len(command)}")
        buffer.extend(command)
    return buffer


def decode_events(buffer: Sequence[int]) -> list[BookEvent]:
    """Turn a flat event buffer (`EVENT_WIDTH` int64 values per event) into `BookEvent`s."""
    if len(buffer) % EVENT_WIDTH:
        raise ValueError(f"an event buffer holds a multiple of {EVENT_WIDTH} values")
    return [
        BookEvent._make(buffer[start : start + EVENT_WIDTH]) for start in range(0, len(buffer), EVENT_WIDTH)
    ]
