"""The numeric codes of the books agree with `matching_engine.codes`.

The Cython book repeats the codes as C enums in `book.pxd`. If the module exposes them (a mapping
`C_CODES`: enum class name -> {member name: value}, plus "COMMAND_WIDTH"/"EVENT_WIDTH"), they are
compared directly; in any case every code is checked by behaviour: each command below must produce
exactly the code of codes.py that names what happened.
"""

from __future__ import annotations

import importlib
from array import array

import pytest

from matching_engine import codes
from matching_engine.codes import (
    COMMAND_WIDTH,
    EVENT_WIDTH,
    AmendPriority,
    CancelReason,
    CommandKind,
    EventKind,
    OrderType,
    RejectReason,
    Side,
    StpMode,
)
from matching_engine.events import BookCommand, encode_commands
from tests.matching_engine.conftest import cython_book_class

ENUMS = (Side, OrderType, StpMode, CommandKind, EventKind, RejectReason, CancelReason, AmendPriority)


def test_codes_are_distinct_and_widths_match_the_fields():
    for enum in ENUMS:
        values = [member.value for member in enum]
        assert len(set(values)) == len(values), enum
    assert COMMAND_WIDTH == 8 and len(codes.COMMAND_FIELDS) == 8
    assert EVENT_WIDTH == 13 and len(codes.EVENT_FIELDS) == 13


def test_exposed_c_enums_agree():
    cython_book_class()  # fails when the engine is not built
    exposed = getattr(importlib.import_module("matching_engine.book"), "C_CODES", None)
    if exposed is None:
        return  # not exposed: the behavioural tests below are the check
    for enum in ENUMS:
        assert dict(exposed[enum.__name__]) == {m.name: m.value for m in enum}, enum.__name__
    assert exposed["COMMAND_WIDTH"] == COMMAND_WIDTH
    assert exposed["EVENT_WIDTH"] == EVENT_WIDTH


def new(book_class):
    return book_class(1, 1, 1, -100, 100)


def test_sides_and_widths(book_class):
    book = new(book_class)
    out = book.process_batch(
        encode_commands([BookCommand.place(1, 1, Side.BUY, 10, 1), BookCommand.place(2, 1, Side.SELL, 20, 1)])
    )
    assert len(out) == 4 * EVENT_WIDTH  # two ACCEPTED, two LEVEL
    assert book.depth(1) == ([(10, 1, 1)], [(20, 1, 1)])
    with pytest.raises(ValueError):
        book.process_batch(array("q", [0] * (COMMAND_WIDTH + 1)))


def test_command_and_event_kinds(book_class):
    book = new(book_class)
    kinds = [e.kind for e in book.process(BookCommand.place(1, 1, Side.SELL, 10, 2))]
    assert kinds == [EventKind.ACCEPTED, EventKind.LEVEL]
    kinds = [e.kind for e in book.process(BookCommand.place(2, 2, Side.BUY, 10, 1))]
    assert kinds == [EventKind.ACCEPTED, EventKind.FILL, EventKind.LEVEL]
    kinds = [e.kind for e in book.process(BookCommand.amend(1, 1, 10, 1))]
    assert kinds == [EventKind.AMENDED, EventKind.LEVEL]
    kinds = [e.kind for e in book.process(BookCommand.cancel(1, 1))]
    assert kinds == [EventKind.CANCELLED, EventKind.LEVEL]
    kinds = [e.kind for e in book.process(BookCommand.cancel(1, 1))]
    assert kinds == [EventKind.REJECTED]
    book.place(3, 3, Side.BUY, 5, 1)
    kinds = [e.kind for e in book.process(BookCommand.mass_cancel(3))]
    assert kinds == [EventKind.CANCELLED, EventKind.LEVEL]
    assert book.process(BookCommand(max(CommandKind) + 1, 9))[0].reason == RejectReason.INVALID_COMMAND


def test_order_types_and_cancel_reasons(book_class):
    book = new(book_class)
    book.place(1, 1, Side.SELL, 10, 1)
    assert book.place(2, 2, Side.BUY, 5, 3, OrderType.LIMIT)[0].reason == OrderType.LIMIT
    assert book.order(2)[5] == OrderType.LIMIT
    ioc = book.place(3, 2, Side.BUY, 10, 3, OrderType.IOC)
    assert (ioc[0].reason, ioc[2].kind, ioc[2].reason) == (
        OrderType.IOC,
        EventKind.CANCELLED,
        CancelReason.IOC_REMAINDER,
    )
    fok = book.place(4, 2, Side.BUY, 10, 3, OrderType.FOK)
    assert (fok[0].reason, fok[1].reason) == (OrderType.FOK, CancelReason.FOK_NOT_FILLABLE)
    market = book.place(5, 2, Side.BUY, 10, 3, OrderType.MARKET)
    assert (market[0].reason, market[1].reason) == (OrderType.MARKET, CancelReason.MARKET_PROTECTION)
    post = book.place(6, 2, Side.SELL, 20, 3, OrderType.POST_ONLY)
    assert post[0].reason == OrderType.POST_ONLY and book.order(6)[5] == OrderType.POST_ONLY
    assert book.place(7, 2, Side.SELL, 5, 3, OrderType.POST_ONLY)[0].reason == RejectReason.WOULD_CROSS
    assert book.cancel(6, 2)[0].reason == CancelReason.USER
    assert book.mass_cancel(2)[0].reason == CancelReason.MASS_CANCEL


def test_stp_modes(book_class):
    book = new(book_class)
    book.place(1, 1, Side.SELL, 10, 1)
    book.place(2, 1, Side.SELL, 10, 1)
    assert book.place(3, 1, Side.BUY, 10, 1, OrderType.IOC, StpMode.NONE)[1].kind == EventKind.FILL
    newest = book.place(4, 1, Side.BUY, 10, 1, OrderType.IOC, StpMode.CANCEL_NEWEST)
    assert [(e.order_id, e.reason) for e in newest[1:]] == [(4, CancelReason.SELF_TRADE)]
    book.place(5, 2, Side.SELL, 10, 1)
    oldest = book.place(6, 1, Side.BUY, 10, 1, OrderType.IOC, StpMode.CANCEL_OLDEST)
    assert [(e.order_id, e.reason) for e in oldest[1:3]] == [(2, CancelReason.SELF_TRADE), (6, 0)]
    book.place(9, 1, Side.SELL, 10, 1)
    both = book.place(7, 1, Side.BUY, 10, 1, OrderType.IOC, StpMode.CANCEL_BOTH)
    assert [(e.order_id, e.reason) for e in both[1:3]] == [
        (9, CancelReason.SELF_TRADE),
        (7, CancelReason.SELF_TRADE),
    ]
    assert (
        book.place(8, 1, Side.BUY, 10, 1, OrderType.IOC, max(StpMode) + 1)[0].reason
        == RejectReason.INVALID_COMMAND
    )


def test_amend_priorities_and_reject_reasons(book_class):
    book = new(book_class)
    book.place(1, 1, Side.SELL, 10, 4)
    assert book.amend(1, 1, 10, 2)[0].reason == AmendPriority.KEPT
    assert book.amend(1, 1, 10, 3)[0].reason == AmendPriority.LOST
    reasons = [
        book.place(0, 1, Side.BUY, 10, 1)[0].reason,
        book.place(2, 1, Side.BUY, 10, 0)[0].reason,
        new_lot(book_class).place(2, 1, Side.BUY, 10, 3)[0].reason,
        new_tick(book_class).place(2, 1, Side.BUY, 11, 2)[0].reason,
        book.place(2, 1, Side.BUY, 105, 1)[0].reason,
        book.place(2, 1, Side.BUY, 100, 2**62)[0].reason,
        book.place(1, 1, Side.BUY, 10, 1)[0].reason,
        book.cancel(9, 1)[0].reason,
        book.cancel(1, 2)[0].reason,
    ]
    book.place(3, 2, Side.BUY, 5, 1, OrderType.POST_ONLY)
    reasons.append(book.amend(3, 2, 10, 1)[0].reason)
    assert reasons == list(RejectReason)


def new_lot(book_class):
    return book_class(1, 1, 2, -100, 100)


def new_tick(book_class):
    return book_class(1, 2, 1, -100, 100)
