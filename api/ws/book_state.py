"""One book's aggregated levels as the hub keeps them, and its book messages (docs/market-data.md,
"Book")."""

from __future__ import annotations

from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from api.gateway import BookView
from api.ws import channels as ch
from api.ws.protocol import CHECKSUM_LEVELS, book_checksum


class BookState:
    """One book's aggregated levels: price (fen) -> (quantity in contracts, order_count);
    `last_seq` is the book sequence of the last book message the hub built for it."""

    __slots__ = ("symbol", "bids", "asks", "last_seq")

    def __init__(self, symbol: str, last_seq: int = 0) -> None:
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.last_seq = last_seq

    @classmethod
    def from_view(cls, view: BookView) -> BookState:
        book = cls(view.symbol, view.book_seq)
        for price, quantity, count in view.bids:
            book.bids[price] = (quantity, count)
        for price, quantity, count in view.asks:
            book.asks[price] = (quantity, count)
        return book

    def set_level(self, side: str, price: int, quantity: int, count: int) -> None:
        levels = self.bids if side == "buy" else self.asks
        if quantity == 0:
            levels.pop(price, None)
        else:
            levels[price] = (quantity, count)

    def same_levels(self, other: BookState) -> bool:
        return dict(self.bids) == dict(other.bids) and dict(self.asks) == dict(other.asks)

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        price, (quantity, _count) = self.bids.peekitem(-1)
        return price, quantity

    def best_ask(self) -> tuple[int, int] | None:
        if not self.asks:
            return None
        price, (quantity, _count) = self.asks.peekitem(0)
        return price, quantity

    def checksum(self) -> int:
        asks = self.asks
        bids = self.bids
        return book_checksum(
            ((p, asks[p][0]) for p in islice(asks, CHECKSUM_LEVELS)),
            ((p, bids[p][0]) for p in islice(reversed(bids), CHECKSUM_LEVELS)),
        )

    def snapshot_message(self) -> dict[str, Any]:
        bids = self.bids
        asks = self.asks
        return {
            "channel": ch.BOOK,
            "type": "snapshot",
            "symbol": self.symbol,
            "first_seq": self.last_seq,
            "last_seq": self.last_seq,
            "prev_seq": None,
            "bids": [[p, *bids[p]] for p in reversed(bids)],
            "asks": [[p, *asks[p]] for p in asks],
            "checksum": self.checksum(),
        }
