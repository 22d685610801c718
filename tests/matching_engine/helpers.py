"""Builders of expected events and a book wrapper that checks the invariants after every command.

Expected events are built with seq 0 and numbered by `CheckedBook.numbered`, which continues from
the first seq of the last command; `CheckedBook` itself asserts that seqs are gap-free.
"""

from __future__ import annotations

from typing import Any

from matching_engine.codes import AmendPriority, CancelReason, EventKind, OrderType, RejectReason, Side
from matching_engine.events import BookEvent

BUY = Side.BUY
SELL = Side.SELL


def accepted(
    order_id: int, account_id: int, side: int, price: int, quantity: int, order_type: int = 0
) -> BookEvent:
    return BookEvent(0, EventKind.ACCEPTED, order_id, account_id, side, price, quantity, quantity, order_type)


def rejected(
    order_id: int, account_id: int, side: int, price: int, quantity: int, reason: RejectReason
) -> BookEvent:
    return BookEvent(0, EventKind.REJECTED, order_id, account_id, side, price, quantity, 0, reason)


def fill(
    taker_id: int,
    taker_account: int,
    side: int,
    price: int,
    quantity: int,
    remaining: int,
    maker_id: int,
    maker_account: int,
    maker_remaining: int,
) -> BookEvent:
    return BookEvent(
        0,
        EventKind.FILL,
        taker_id,
        taker_account,
        side,
        price,
        quantity,
        remaining,
        0,
        maker_id,
        maker_account,
        maker_remaining,
    )


def cancelled(
    order_id: int, account_id: int, side: int, price: int, quantity: int, reason: CancelReason
) -> BookEvent:
    return BookEvent(0, EventKind.CANCELLED, order_id, account_id, side, price, quantity, 0, reason)


def amended(
    order_id: int, account_id: int, side: int, price: int, quantity: int, priority: AmendPriority
) -> BookEvent:
    return BookEvent(0, EventKind.AMENDED, order_id, account_id, side, price, quantity, quantity, priority)


def level(side: int, price: int, quantity: int, order_count: int) -> BookEvent:
    return BookEvent(0, EventKind.LEVEL, 0, 0, side, price, quantity, order_count=order_count)


def gone(side: int, price: int) -> BookEvent:
    """The LEVEL event of a level that no longer exists."""
    return level(side, price, 0, 0)


class CheckedBook:
    """Wraps a book; after every command checks seq numbering and `check_integrity()`."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.first_seq = book.sequence + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.book, name)

    def _run(self, method: str, *args: Any, **kwargs: Any) -> list[BookEvent]:
        before = self.book.sequence
        events = getattr(self.book, method)(*args, **kwargs)
        assert isinstance(events, list)
        assert all(type(event) is BookEvent for event in events), events
        assert [event.seq for event in events] == list(range(before + 1, before + 1 + len(events)))
        assert self.book.sequence == before + len(events)
        self.book.check_integrity()
        self.first_seq = before + 1
        return events

    def place(self, *args: Any, **kwargs: Any) -> list[BookEvent]:
        return self._run("place", *args, **kwargs)

    def cancel(self, *args: Any) -> list[BookEvent]:
        return self._run("cancel", *args)

    def amend(self, *args: Any) -> list[BookEvent]:
        return self._run("amend", *args)

    def mass_cancel(self, *args: Any) -> list[BookEvent]:
        return self._run("mass_cancel", *args)

    def process(self, *args: Any) -> list[BookEvent]:
        return self._run("process", *args)

    def numbered(self, *events: BookEvent) -> list[BookEvent]:
        """`events` with seqs from the first seq of the last command on."""
        return [event._replace(seq=self.first_seq + i) for i, event in enumerate(events)]


__all__ = [
    "BUY",
    "SELL",
    "AmendPriority",
    "CancelReason",
    "CheckedBook",
    "OrderType",
    "RejectReason",
    "accepted",
    "amended",
    "cancelled",
    "fill",
    "gone",
    "level",
    "rejected",
]
