"""Quick checks of the Cython book on its own (the full differential suite lives beside this file)."""

from __future__ import annotations

import random
from array import array

import pytest

from matching_engine.book import OrderBook
from matching_engine.codes import (
    EVENT_WIDTH,
    CancelReason,
    CommandKind,
    EventKind,
    OrderType,
    RejectReason,
    Side,
    StpMode,
)
from matching_engine.events import BookCommand, BookEvent, decode_events, encode_commands
from matching_engine.reference import ReferenceOrderBook


def new_book(tick: int = 5, lot: int = 1, lo: int = -1000, hi: int = 1000) -> OrderBook:
    return OrderBook(1, tick, lot, lo, hi)


@pytest.mark.parametrize(
    "args", [(1, 0, 1, 0, 10), (1, 1, 0, 0, 10), (1, 1, 1, 10, 0), (1, 5, 1, 1, 10), (1, 5, 1, 0, 11)]
)
def test_bad_configuration_raises(args):
    with pytest.raises(ValueError):
        OrderBook(*args)


def test_events_are_book_events_and_fill_at_maker_price():
    book = new_book()
    first = book.place(1, 10, Side.BUY, 100, 5)
    assert type(first[0]) is BookEvent
    assert first == [
        BookEvent(1, EventKind.ACCEPTED, 1, 10, 0, 100, 5, 5, OrderType.LIMIT),
        BookEvent(2, EventKind.LEVEL, 0, 0, 0, 100, 5, order_count=1),
    ]
    events = book.place(2, 11, Side.SELL, 95, 7)
    assert [e.kind for e in events] == [EventKind.ACCEPTED, EventKind.FILL, EventKind.LEVEL, EventKind.LEVEL]
    fill = events[1]
    assert (fill.price, fill.quantity, fill.remaining, fill.maker_order_id, fill.maker_remaining) == (
        100,
        5,
        2,
        1,
        0,
    )
    assert events[2] == BookEvent(5, EventKind.LEVEL, 0, 0, Side.BUY, 100, 0, order_count=0)
    assert events[3] == BookEvent(6, EventKind.LEVEL, 0, 0, Side.SELL, 95, 2, order_count=1)
    assert book.best_bid() is None and book.best_ask() == (95, 2)
    assert book.order(2) == (2, 11, Side.SELL, 95, 2, OrderType.LIMIT, StpMode.NONE)
    assert (book.order_count, book.level_count, book.sequence) == (1, 1, 6)
    book.check_integrity()


def test_negative_prices_and_rejects():
    book = new_book()
    assert book.place(1, 1, Side.SELL, -5, 1)[0].kind == EventKind.ACCEPTED
    reasons = [
        book.place(2, 1, Side.BUY, -7, 1)[0].reason,
        book.place(3, 1, Side.BUY, -1005, 1)[0].reason,
        book.place(0, 1, Side.BUY, -5, 1)[0].reason,
        book.place(1, 1, Side.BUY, -10, 1)[0].reason,
        book.place(4, 1, Side.BUY, -5, 1, OrderType.POST_ONLY)[0].reason,
        book.cancel(99, 1)[0].reason,
        book.cancel(1, 2)[0].reason,
    ]
    assert reasons == [
        RejectReason.PRICE_OFF_TICK,
        RejectReason.PRICE_OUT_OF_BAND,
        RejectReason.INVALID_COMMAND,
        RejectReason.DUPLICATE_ORDER_ID,
        RejectReason.WOULD_CROSS,
        RejectReason.UNKNOWN_ORDER,
        RejectReason.NOT_ORDER_OWNER,
    ]
    big = OrderBook(1, 1, 1, -(2**63), 2**63 - 1)
    assert big.place(1, 1, Side.BUY, -(2**63), 1)[0].reason == RejectReason.NOTIONAL_OVERFLOW
    assert big.place(1, 1, Side.BUY, 2**62, 2)[0].reason == RejectReason.NOTIONAL_OVERFLOW
    assert big.place(1, 1, Side.BUY, 2**62, 1)[0].kind == EventKind.ACCEPTED
    with pytest.raises(OverflowError):
        big.place(2**63, 1, Side.BUY, 1, 1)
    with pytest.raises(ValueError):
        big.process((1, 2, 3))
    assert big.sequence == 4  # REJECTED, REJECTED, ACCEPTED, LEVEL


def test_sweep_many_levels_and_mass_cancel():
    book = OrderBook(1, 1, 1, 0, 100_000)
    for i in range(1, 3001):
        book.place(i, i % 7, Side.SELL, 1000 + i, 1)
    events = book.place(10_000, 99, Side.BUY, 5000, 2000, OrderType.IOC)
    assert sum(e.kind == EventKind.FILL for e in events) == 2000
    assert sum(e.kind == EventKind.LEVEL for e in events) == 2000
    assert book.best_ask() == (3001, 1)
    events = book.mass_cancel(3)
    cancelled = [e.order_id for e in events if e.kind == EventKind.CANCELLED]
    assert cancelled == sorted(cancelled) and all(i % 7 == 3 for i in cancelled)
    assert all(e.reason == CancelReason.MASS_CANCEL for e in events if e.kind == EventKind.CANCELLED)
    assert book.mass_cancel(3) == []
    book.check_integrity()


def test_batch_equals_one_by_one_and_rejects_bad_length():
    commands = random_commands(random.Random(3), 500)
    one = OrderBook(1, 5, 1, -100, 100)
    expected = [e for c in commands for e in one.process(c)]
    batch = OrderBook(1, 5, 1, -100, 100)
    out = batch.process_batch(encode_commands(commands))
    assert isinstance(out, array) and out.typecode == "q" and len(out) % EVENT_WIDTH == 0
    assert decode_events(out) == expected
    assert batch.state_hash() == one.state_hash()
    assert len(batch.process_batch(array("q"))) == 0
    with pytest.raises(ValueError):
        batch.process_batch(array("q", [1, 2, 3]))


def test_snapshot_restore_round_trip_and_bad_data():
    book = OrderBook(1, 5, 1, -100, 100)
    book.process_batch(encode_commands(random_commands(random.Random(4), 400)))
    data = book.snapshot()
    copy = OrderBook.restore(data)
    copy.check_integrity()
    assert copy.snapshot() == data and copy.state_hash() == book.state_hash()
    assert copy.depth(100) == book.depth(100) and copy.sequence == book.sequence
    assert ReferenceOrderBook.restore(data).snapshot() == data
    for bad in (b"", b"XXXX" + data[4:], data[:-1], data + b"\0"):
        with pytest.raises(ValueError):
            OrderBook.restore(bad)
    if book.order_count:
        dup = data + data[-44:]
        dup = dup[:56] + (book.order_count + 1).to_bytes(8, "little") + dup[64:]
        with pytest.raises(ValueError):
            OrderBook.restore(dup)


def test_memory_bytes_tracks_growth():
    book = OrderBook(1, 1, 1, 0, 10**9)
    empty = book.memory_bytes()
    commands = array("q")
    for i in range(1, 20_001):
        commands.extend(
            (CommandKind.PLACE, i, i % 50, i & 1, 0, 0, 5000 - (i % 500) if i & 1 == 0 else 6000 + i % 500, 1)
        )
    book.process_batch(commands)
    assert book.order_count == 20_000
    assert (book.memory_bytes() - empty) / book.order_count <= 128


def random_commands(rng: random.Random, n: int) -> list[BookCommand]:
    commands = []
    for _ in range(n):
        r = rng.random()
        oid, acct = rng.randint(1, 40), rng.randint(1, 3)
        price = rng.randint(-22, 22) * 5
        if r < 0.6:
            commands.append(
                BookCommand.place(
                    oid,
                    acct,
                    rng.randint(0, 1),
                    price,
                    rng.randint(1, 5),
                    rng.randint(0, 4),
                    rng.randint(0, 3),
                )
            )
        elif r < 0.8:
            commands.append(BookCommand.cancel(oid, acct))
        elif r < 0.95:
            commands.append(BookCommand.amend(oid, acct, price, rng.randint(0, 5)))
        else:
            commands.append(BookCommand.mass_cancel(acct))
    return commands


@pytest.mark.parametrize("seed", range(20))
def test_matches_reference(seed):
    rng = random.Random(seed)
    book, ref = OrderBook(1, 5, 1, -100, 100), ReferenceOrderBook(1, 5, 1, -100, 100)
    for command in random_commands(rng, 300):
        assert book.process(command) == ref.process(command), command
        book.check_integrity()
    assert book.snapshot() == ref.snapshot()
