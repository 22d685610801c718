"""A local copy of one instrument's order book, kept in sync from the `book` channel.

The protocol is docs/market-data.md ("Book"): a snapshot holds every level, a delta the levels that
changed with their new absolute quantity (0 removes the level). Every message carries `prev_seq`,
the `last_seq` of the previous book message of the instrument on the connection, and a CRC-32 of
the top 10 levels per side after applying it. The client algorithm, exactly as documented:

    on snapshot: levels := message levels; last := last_seq; verify checksum
    on delta:    if prev_seq != last: resync (do not apply)
                 apply levels (quantity 0 deletes); last := last_seq
                 if checksum != crc32(top 10 text): resync
    resync:      ask for a fresh snapshot; ignore this symbol's deltas until it arrives

`LocalBook` holds the levels and does the checks; it never talks to the network. `apply` answers
what happened, and the WebSocket session (ws.py) sends the `resync` op when the answer asks for it.

Prices are fen per contract (swap prices may be negative), quantities contracts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sortedcontainers import SortedDict

# One checksum for the server and the SDK (wire/book.py); `checksum_text` and `book_checksum` stay
# importable from here and from `clients.python`.
from wire.book import CHECKSUM_LEVELS, book_checksum, checksum_text

__all__ = ["CHECKSUM_LEVELS", "BookUpdate", "Level", "LocalBook", "book_checksum", "checksum_text"]

Level = tuple[int, int, int]  # (price, quantity, order_count)


class BookUpdate(enum.Enum):
    """What `LocalBook.apply` did with one message."""

    APPLIED = "applied"
    SKIPPED = "skipped"  # a delta while waiting for a snapshot, or one already in a REST snapshot
    RESYNC = "resync"  # a gap or a checksum mismatch: ask the server for a fresh snapshot


class LocalBook:
    """One instrument's book: every level, best first on demand, with sequence and checksum checks.

    `last_seq` is the book sequence of the last message applied (None before the first snapshot);
    `synced` is False while a fresh snapshot is awaited. Counters: `gaps` (a delta whose
    `prev_seq` was not `last_seq`), `checksum_mismatches`, `resyncs` (fresh snapshots asked for),
    `snapshots` and `deltas` applied."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # price -> (quantity, order_count); bids are iterated high to low, asks low to high
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self.last_seq: int | None = None
        self.synced = False
        # a REST snapshot sets this: deltas at or below it are already in the levels
        self._rest_seq: int | None = None
        self.gaps = 0
        self.checksum_mismatches = 0
        self.resyncs = 0
        self.snapshots = 0
        self.deltas = 0

    # -- QUERIES ---------------------------------------------------------------------------------

    def bids(self, levels: int | None = None) -> list[Level]:
        """Bid levels, highest price first; all of them when `levels` is None."""
        return _take(((price, *self._bids[price]) for price in reversed(self._bids)), levels, len(self._bids))

    def asks(self, levels: int | None = None) -> list[Level]:
        """Ask levels, lowest price first; all of them when `levels` is None."""
        return _take(((price, *self._asks[price]) for price in self._asks), levels, len(self._asks))

    def best_bid(self) -> Level | None:
        if not self._bids:
            return None
        price = self._bids.peekitem(-1)[0]
        return (price, *self._bids[price])

    def best_ask(self) -> Level | None:
        if not self._asks:
            return None
        price = self._asks.peekitem(0)[0]
        return (price, *self._asks[price])

    def mid(self) -> int | None:
        """The integer midpoint of best bid and best ask (rounded down), None if a side is empty."""
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid[0] + ask[0]) // 2

    def checksum(self) -> int:
        """The checksum of the current levels, as the server computes it."""
        asks = [(p, q) for p, q, _ in self.asks(CHECKSUM_LEVELS)]
        bids = [(p, q) for p, q, _ in self.bids(CHECKSUM_LEVELS)]
        return book_checksum(asks, bids)

    def levels(self) -> tuple[list[Level], list[Level]]:
        """(bids, asks), every level, best first."""
        return self.bids(), self.asks()

    # -- UPDATES ---------------------------------------------------------------------------------

    def apply(self, message: Mapping[str, Any]) -> BookUpdate:
        """Apply one `book` channel message (snapshot or delta) of this symbol."""
        kind = message.get("type")
        if kind == "snapshot":
            return self._apply_snapshot(message)
        if kind == "delta":
            return self._apply_delta(message)
        raise ValueError(f"not a book message: type {kind!r}")

    def load_rest(self, book: Any) -> None:
        """Start from a REST depth answer (`GET /api/v1/instruments/{symbol}/book`: `last_seq`,
        `bids`/`asks` as levels with price, quantity, order_count, or a models.Book). Deltas with
        `last_seq <=` its `last_seq` are skipped; the first one applied must have `prev_seq <=` it.
        Only a REST snapshot of the whole book can verify checksums (docs/market-data.md)."""
        get: Callable[[str], Any] = (
            book.get if isinstance(book, Mapping) else lambda name: getattr(book, name)
        )
        self._replace(
            get("bids"),
            get("asks"),
        )
        self.last_seq = int(get("last_seq"))
        self._rest_seq = self.last_seq
        self.synced = True
        self.snapshots += 1

    def request_resync(self) -> None:
        """Mark the book as waiting for a fresh snapshot: deltas are ignored until it comes."""
        self.synced = False
        self._rest_seq = None
        self.resyncs += 1

    def verify_heartbeat(self, seq: int) -> BookUpdate:
        """Compare with a heartbeat's `books[symbol]`, the last book message the server queued
        before it: every message before the heartbeat has arrived, so a different `last_seq`
        means one was lost."""
        if not self.synced or self._rest_seq is not None:
            return BookUpdate.SKIPPED
        if seq != self.last_seq:
            self.gaps += 1
            self.synced = False
            return BookUpdate.RESYNC
        return BookUpdate.APPLIED

    def _apply_snapshot(self, message: Mapping[str, Any]) -> BookUpdate:
        self._replace(message.get("bids") or [], message.get("asks") or [])
        self.last_seq = int(message["last_seq"])
        self._rest_seq = None
        self.snapshots += 1
        if message.get("checksum") is not None and self.checksum() != message["checksum"]:
            self.checksum_mismatches += 1
            self.synced = False
            return BookUpdate.RESYNC
        self.synced = True
        return BookUpdate.APPLIED

    def _apply_delta(self, message: Mapping[str, Any]) -> BookUpdate:
        if not self.synced or self.last_seq is None:
            return BookUpdate.SKIPPED
        last_seq = int(message["last_seq"])
        prev_seq = message.get("prev_seq")
        if self._rest_seq is not None:
            # Joining a REST snapshot: what it already holds is skipped; the first delta applied
            # must continue from at or before it, or something between them is missing.
            if last_seq <= self._rest_seq:
                return BookUpdate.SKIPPED
            if prev_seq is None or prev_seq > self._rest_seq:
                self.gaps += 1
                self.synced = False
                return BookUpdate.RESYNC
            self._rest_seq = None
        elif prev_seq != self.last_seq:
            self.gaps += 1
            self.synced = False
            return BookUpdate.RESYNC
        for price, quantity, count in _levels(message.get("bids") or []):
            _set(self._bids, price, quantity, count)
        for price, quantity, count in _levels(message.get("asks") or []):
            _set(self._asks, price, quantity, count)
        self.last_seq = last_seq
        self.deltas += 1
        if message.get("checksum") is not None and self.checksum() != message["checksum"]:
            self.checksum_mismatches += 1
            self.synced = False
            return BookUpdate.RESYNC
        return BookUpdate.APPLIED

    def _replace(self, bids: Iterable[Any], asks: Iterable[Any]) -> None:
        self._bids.clear()
        self._asks.clear()
        for price, quantity, count in _levels(bids):
            _set(self._bids, price, quantity, count)
        for price, quantity, count in _levels(asks):
            _set(self._asks, price, quantity, count)


def _levels(raw: Iterable[Any]) -> Iterable[Level]:
    """Levels from the wire (`[price, quantity, order_count]`) or REST (objects or dicts with
    price, quantity, order_count)."""
    for level in raw:
        if isinstance(level, Sequence):
            yield int(level[0]), int(level[1]), int(level[2]) if len(level) > 2 else 0
        elif isinstance(level, Mapping):
            yield int(level["price"]), int(level["quantity"]), int(level.get("order_count", 0))
        else:
            yield int(level.price), int(level.quantity), int(level.order_count)


def _set(side: SortedDict, price: int, quantity: int, count: int) -> None:
    if quantity == 0:
        side.pop(price, None)
    else:
        side[price] = (quantity, count)


def _take(levels: Iterable[Level], limit: int | None, available: int) -> list[Level]:
    count = available if limit is None else min(limit, available)
    result: list[Level] = []
    for level in levels:
        if len(result) >= count:
            break
        result.append(level)
    return result
