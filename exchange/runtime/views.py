"""What the sequencer runtime hands out besides results: event batches (one per journaled command,
gapless by journal seq), book views, and the answers to read-only queries of the hot state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from exchange.events import AnyEvent
from exchange.results import CommandResult


def now_ms() -> int:
    """The wall clock in ms since the epoch (the runtime's default clock)."""
    return time.time_ns() // 1_000_000


class EventBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The events of one journaled command. `seq` is its journal seq: gapless across batches."""

    seq: int
    events: tuple[AnyEvent, ...]


class BookView(msgspec.Struct, frozen=True, kw_only=True):
    """One book's aggregated levels at a point of the journal. Levels are (price, quantity,
    order_count), best first. `book_seq` is the book's engine sequence (the last event it emitted);
    `journal_seq` the last journaled command applied when the view was taken."""

    symbol: str
    book_seq: int
    journal_seq: int
    bids: list[tuple[int, int, int]]
    asks: list[tuple[int, int, int]]


# Read-only sequencer queries a client may ask for (Sequencer method names). Results come back as
# plain builtins (msgspec.to_builtins), the same over every transport.
QUERIES = frozenset(
    {
        "account",
        "balances",
        "positions",
        "order",
        "open_orders",
        "instrument",
        "instruments",
        "bookings",
        "capacity",
        "index_prices",
        "index_price_bands",
        "estimated_settlement_price",
        "system_balances",
        "audit",
        "last_seq",
    }
)


def take_book_views(sequencer: Any, symbols: Sequence[str] | None, levels: int) -> list[BookView]:
    """Book views straight from a sequencer (called on its writer thread), all at one journal seq."""
    books = sequencer._books
    names = sorted(books) if symbols is None else [s for s in symbols if s in books]
    views = []
    for symbol in names:
        book = books[symbol]
        bids, asks = book.depth(levels)
        views.append(
            BookView(
                symbol=symbol,
                book_seq=int(book.sequence),
                journal_seq=int(sequencer.last_seq),
                bids=[tuple(level) for level in bids],
                asks=[tuple(level) for level in asks],
            )
        )
    return views


def run_query(sequencer: Any, name: str, args: Sequence[Any]) -> Any:
    """One of QUERIES on the sequencer, as builtins; ValueError for any other name."""
    if name not in QUERIES:
        raise ValueError(f"unknown query {name!r}")
    attribute = getattr(sequencer, name)
    value = attribute(*args) if callable(attribute) else attribute
    return msgspec.to_builtins(value)


def journaled_batches(results: Sequence[CommandResult], published_seq: int) -> tuple[list[EventBatch], int]:
    """One EventBatch per newly journaled command (refused ones too, with no events), so that
    batch seqs are gapless; repeats (an idempotent retry answered with an old seq) publish nothing."""
    batches = []
    for result in results:
        if result.seq > published_seq:
            batches.append(EventBatch(seq=result.seq, events=result.events))
            published_seq = result.seq
    return batches, published_seq
