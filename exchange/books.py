"""What the exchange needs of an order book (docs/engine.md): the Cython `OrderBook` and the
pure-Python `ReferenceOrderBook` both provide it. The books know nothing of accounts or cash: they
return their events (matching_engine.events.BookEvent) and settlement.Settlement acts on them.

Prices in ticks' units (fen per contract), quantities in contracts, ids int64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from matching_engine.events import BookEvent


class OrderBook(Protocol):
    def place(
        self, order_id: int, account_id: int, side: int, price: int, quantity: int, order_type: int, stp: int
    ) -> Sequence[BookEvent]: ...

    def cancel(self, order_id: int, account_id: int) -> Sequence[BookEvent]: ...

    def amend(self, order_id: int, account_id: int, price: int, quantity: int) -> Sequence[BookEvent]: ...

    def mass_cancel(self, account_id: int) -> Sequence[BookEvent]: ...

    def best_bid(self) -> tuple[int, int] | None:
        """(price, total open quantity) of the best bid."""

    def best_ask(self) -> tuple[int, int] | None: ...

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks), best first, each level (price, quantity, order_count)."""

    def order(self, order_id: int) -> tuple[int, ...] | None:
        """(order_id, account_id, side, price, open quantity, ...) of a resting order."""

    @property
    def order_count(self) -> int: ...

    @property
    def sequence(self) -> int:
        """The book's own sequence number: one per event."""

    def snapshot(self) -> bytes: ...

    def check_integrity(self) -> None:
        """Raises AssertionError on a breach of the book's invariants."""


class BookFactory(Protocol):
    """Makes a book for a new instrument, or restores one from its snapshot()."""

    def __call__(
        self, instrument_id: int, tick: int, lot: int, min_price: int, max_price: int
    ) -> OrderBook: ...

    def restore(self, data: bytes) -> OrderBook: ...


def default_book_factory() -> BookFactory:
    """The Cython OrderBook; fails loudly when it is not built (pip install -e .)."""
    try:
        from matching_engine.book import OrderBook as CythonOrderBook
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(
            "matching_engine.book.OrderBook is not built: run `pip install -e . --no-build-isolation`, "
            "or pass book_factory=ReferenceOrderBook"
        ) from exc
    book_factory: BookFactory = CythonOrderBook
    return book_factory
