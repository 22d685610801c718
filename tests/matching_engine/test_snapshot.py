"""Snapshots (format, round trips, across implementations), state hashes and the batch API."""

from __future__ import annotations

import struct
import zlib
from array import array

import pytest

from matching_engine.codes import EVENT_WIDTH, OrderType, StpMode
from matching_engine.events import BookCommand, decode_events, encode_commands
from matching_engine.reference import ReferenceOrderBook
from tests.matching_engine.conftest import cython_book_class
from tests.matching_engine.helpers import (
    BUY,
    SELL,
    AmendPriority,
    CancelReason,
    CheckedBook,
    RejectReason,
    accepted,
    amended,
    cancelled,
    fill,
    gone,
    level,
    rejected,
)

LIMIT, IOC, FOK, POST_ONLY, MARKET = OrderType
HEADER = struct.Struct("<4si7q")
ORDER = struct.Struct("<4q3i")


def populate(book):
    book.place(1, 10, BUY, 95, 4)
    book.place(2, 11, BUY, 100, 3, POST_ONLY, StpMode.CANCEL_BOTH)
    book.place(3, 10, BUY, 95, 2, LIMIT, StpMode.CANCEL_OLDEST)
    book.place(4, 12, SELL, 110, 5)
    book.place(5, 12, SELL, 105, 1)
    book.place(6, 11, SELL, 105, 7, POST_ONLY)
    book.place(7, 13, SELL, 105, 2, IOC)  # trades nothing, never rests
    book.amend(1, 10, 95, 6)  # loses priority: now behind order 3


def test_snapshot_format(book):
    populate(book)
    expected = HEADER.pack(b"MEBK", 1, 7, 5, 1, -1000, 1000, book.sequence, 6) + b"".join(
        ORDER.pack(*fields)
        for fields in [
            (2, 11, 100, 3, BUY, POST_ONLY, StpMode.CANCEL_BOTH),
            (3, 10, 95, 2, BUY, LIMIT, StpMode.CANCEL_OLDEST),
            (1, 10, 95, 6, BUY, LIMIT, 0),
            (5, 12, 105, 1, SELL, LIMIT, 0),
            (6, 11, 105, 7, SELL, POST_ONLY, 0),
            (4, 12, 110, 5, SELL, LIMIT, 0),
        ]
    )
    assert book.snapshot() == expected
    assert book.state_hash() == zlib.crc32(expected)


def test_empty_snapshot(book_class):
    book = book_class(-3, 1, 100, -500, 0)
    data = book.snapshot()
    assert data == HEADER.pack(b"MEBK", 1, -3, 1, 100, -500, 0, 0, 0)
    copy = book_class.restore(data)
    assert (copy.instrument_id, copy.tick, copy.lot, copy.min_price, copy.max_price) == (-3, 1, 100, -500, 0)
    assert copy.sequence == 0 and copy.order_count == 0 and copy.level_count == 0


def same_state(a, b):
    assert a.snapshot() == b.snapshot()
    assert a.state_hash() == b.state_hash()
    assert a.sequence == b.sequence
    assert a.order_count == b.order_count
    assert a.level_count == b.level_count
    assert a.depth(100) == b.depth(100)
    assert a.best_bid() == b.best_bid() and a.best_ask() == b.best_ask()
    for order_id in range(1, 10):
        assert a.order(order_id) == b.order(order_id)


def follow_up(book):
    """Commands whose events depend on priority, post-only and stp memory."""
    events = book.place(20, 14, SELL, 95, 9)
    events += book.amend(6, 11, 95, 7)  # post-only: rejected, it would cross the bid left at 95
    events += book.amend(6, 11, 100, 7)
    events += book.amend(2, 11, 110, 3)  # filled above: unknown
    events += book.place(21, 12, BUY, 110, 20, IOC)
    return events


@pytest.mark.parametrize("target", ["same", "reference", "cython"])
def test_round_trip_and_cross_restore(book, target):
    populate(book)
    target_class = {
        "same": type(book.book),
        "reference": ReferenceOrderBook,
        "cython": None,
    }[target] or cython_book_class()
    copy = target_class.restore(book.snapshot())
    assert type(copy) is target_class
    copy.check_integrity()
    same_state(book, copy)
    assert follow_up(book.book) == follow_up(copy)
    same_state(book, copy)


def test_restored_book_keeps_post_only_and_stp(book_class):
    book = book_class(1, 5, 1, -1000, 1000)
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 2, BUY, 90, 1, POST_ONLY, StpMode.CANCEL_NEWEST)
    book.place(3, 2, SELL, 120, 1)
    book.place(5, 2, BUY, 85, 6, LIMIT, StpMode.CANCEL_NEWEST)
    copy = CheckedBook(book_class.restore(book.snapshot()))
    assert copy.amend(2, 2, 100, 1) == copy.numbered(rejected(2, 2, BUY, 100, 1, RejectReason.WOULD_CROSS))
    assert copy.amend(5, 2, 120, 6) == copy.numbered(
        amended(5, 2, BUY, 120, 6, AmendPriority.LOST),
        fill(5, 2, BUY, 100, 5, 1, 1, 1, 0),
        cancelled(5, 2, BUY, 120, 1, CancelReason.SELF_TRADE),
        gone(BUY, 85),
        gone(SELL, 100),
    )


def with_orders(*orders):
    return HEADER.pack(b"MEBK", 1, 7, 5, 1, -1000, 1000, 0, len(orders)) + b"".join(
        ORDER.pack(*fields) for fields in orders
    )


def test_restore_rejects_bad_data(book_class):
    good = ReferenceOrderBook(7, 5, 1, -1000, 1000)
    good.place(1, 1, BUY, 100, 2)
    data = good.snapshot()
    bad = [
        b"",
        data[:10],
        b"XXXX" + data[4:],
        data[:4] + struct.pack("<i", 2) + data[8:],
        data[:-1],
        data + b"\0",
        HEADER.pack(b"MEBK", 1, 7, 0, 1, -1000, 1000, 0, 0),  # tick 0
        HEADER.pack(b"MEBK", 1, 7, 5, 1, -1000, 1000, 0, 1),  # one order announced, none present
        with_orders((1, 1, 95, 1, BUY, LIMIT, 0), (2, 1, 100, 1, BUY, LIMIT, 0)),  # bids worst first
        with_orders((1, 1, 100, 1, SELL, LIMIT, 0), (2, 1, 95, 1, BUY, LIMIT, 0)),  # asks before bids
        with_orders((1, 1, 100, 1, BUY, LIMIT, 0), (2, 1, 100, 1, SELL, LIMIT, 0)),  # crossed
        with_orders((1, 1, 100, 1, BUY, LIMIT, 0), (1, 2, 95, 1, BUY, LIMIT, 0)),  # duplicate id
        with_orders((1, 1, 100, 1, BUY, IOC, 0)),  # only LIMIT and POST_ONLY rest
        with_orders((1, 1, 100, 1, BUY, LIMIT, 4)),  # unknown stp
        with_orders((1, 1, 100, 1, 2, LIMIT, 0)),  # unknown side
        with_orders((1, 1, 101, 1, BUY, LIMIT, 0)),  # off tick
        with_orders((1, 1, 2000, 1, BUY, LIMIT, 0)),  # out of band
        with_orders((1, 1, 100, 0, BUY, LIMIT, 0)),  # no open quantity
        with_orders((0, 1, 100, 1, BUY, LIMIT, 0)),  # order id 0
    ]
    for index, blob in enumerate(bad):
        with pytest.raises(ValueError):
            book_class.restore(blob)
            pytest.fail(f"bad snapshot {index} restored")


# -- state_hash ------------------------------------------------------------------------------------


def test_state_hash_tracks_the_state(book):
    empty = book.state_hash()
    assert empty == zlib.crc32(book.snapshot())
    book.place(1, 1, BUY, 100, 2)
    assert book.state_hash() != empty
    other = type(book.book)(7, 5, 1, -1000, 1000)
    other.place(1, 1, BUY, 100, 2)
    assert other.state_hash() == book.state_hash()
    other.place(2, 1, BUY, 100, 2)
    assert other.state_hash() != book.state_hash()


# -- process_batch ---------------------------------------------------------------------------------

SCRIPT = [
    BookCommand.place(1, 10, SELL, 100, 5),
    BookCommand.place(2, 11, SELL, 100, 5, POST_ONLY),
    BookCommand.place(3, 12, BUY, 95, 4),
    BookCommand.place(4, 10, BUY, 100, 7, LIMIT, StpMode.CANCEL_OLDEST),
    BookCommand.place(5, 13, BUY, 105, 2, FOK),
    BookCommand.place(6, 13, SELL, -1000, 20, MARKET),
    BookCommand.amend(4, 10, 100, 1),
    BookCommand.amend(4, 10, 105, 3),
    BookCommand.cancel(99, 1),
    BookCommand(9, 1, 2, 3, 4, 5, 6, 7),
    BookCommand.place(7, 10, SELL, 101, 1),
    BookCommand.place(8, 10, SELL, 110, 3),
    BookCommand.place(9, 12, SELL, 120, 3),
    BookCommand.mass_cancel(10),
    BookCommand.cancel(9, 12),
]


def test_process_batch_equals_one_by_one(book_class):
    one_by_one = book_class(7, 5, 1, -1000, 1000)
    expected = [event for command in SCRIPT for event in one_by_one.process(command)]
    batched = book_class(7, 5, 1, -1000, 1000)
    out = batched.process_batch(encode_commands(SCRIPT))
    assert isinstance(out, array) and out.typecode == "q"
    assert len(out) == len(expected) * EVENT_WIDTH
    assert decode_events(out) == expected
    assert batched.snapshot() == one_by_one.snapshot()
    batched.check_integrity()
    # Split batches, memoryviews, and an empty batch give the same events.
    split = book_class(7, 5, 1, -1000, 1000)
    buffer = encode_commands(SCRIPT)
    first = split.process_batch(memoryview(buffer)[: 8 * 5])
    second = split.process_batch(buffer[8 * 5 :])
    assert len(split.process_batch(array("q"))) == 0
    assert decode_events(first) + decode_events(second) == expected
    # Any iterable of ints is accepted too (copied into an array('q')).
    listed = book_class(7, 5, 1, -1000, 1000)
    assert decode_events(listed.process_batch(list(encode_commands(SCRIPT)))) == expected


def test_process_batch_starts_where_the_book_is(book_class):
    book = book_class(7, 5, 1, -1000, 1000)
    book.place(1, 1, BUY, 100, 2)
    events = decode_events(book.process_batch(encode_commands([BookCommand.place(2, 2, SELL, 100, 1)])))
    assert events == [
        accepted(2, 2, SELL, 100, 1)._replace(seq=3),
        fill(2, 2, SELL, 100, 1, 0, 1, 1, 1)._replace(seq=4),
        level(BUY, 100, 1, 1)._replace(seq=5),
    ]
    assert book.sequence == 5


@pytest.mark.parametrize("length", [1, 7, 9, 15])
def test_process_batch_with_a_bad_length_raises(book_class, length):
    book = book_class(7, 5, 1, -1000, 1000)
    buffer = array("q", [1, 1, 1, 0, 0, 0, 100, 1] * 2)[:length]
    with pytest.raises(ValueError):
        book.process_batch(buffer)
    assert book.sequence == 0 and book.order_count == 0
