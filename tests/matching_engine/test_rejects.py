"""Every reject reason, the order of the checks, and construction errors."""

from __future__ import annotations

import pytest

from matching_engine.codes import INT64_MAX, INT64_MIN, CommandKind, OrderType, StpMode
from matching_engine.events import BookCommand
from tests.matching_engine.helpers import (
    BUY,
    SELL,
    AmendPriority,
    RejectReason,
    accepted,
    amended,
    level,
    rejected,
)

R = RejectReason
LIMIT, IOC, FOK, POST_ONLY, MARKET = OrderType


def state(book):
    """Everything but the sequence."""
    data = book.snapshot()
    return data[:48] + data[56:]


@pytest.mark.parametrize(
    "args",
    [
        (7, 0, 1, -10, 10),
        (7, -5, 1, -10, 10),
        (7, 5, 0, -10, 10),
        (7, 5, -1, -10, 10),
        (7, 5, 1, 10, -10),
        (7, 5, 1, -12, 10),
        (7, 5, 1, -10, 12),
    ],
    ids=["tick0", "tick<0", "lot0", "lot<0", "min>max", "min-off-tick", "max-off-tick"],
)
def test_bad_configuration_raises(book_class, args):
    with pytest.raises(ValueError):
        book_class(*args)


def test_single_price_band_is_allowed(book_class):
    book = book_class(1, 5, 1, 100, 100)
    assert book.place(1, 1, BUY, 100, 1)[0].kind == 1


# -- PLACE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_id, side, order_type, stp",
    [
        (1, 2, LIMIT, 0),
        (1, -1, LIMIT, 0),
        (1, BUY, 5, 0),
        (1, BUY, -1, 0),
        (1, SELL, LIMIT, 4),
        (1, SELL, LIMIT, -1),
        (0, BUY, LIMIT, 0),
        (-3, BUY, LIMIT, 0),
    ],
)
def test_invalid_command(book, order_id, side, order_type, stp):
    # The other fields are invalid too: INVALID_COMMAND is checked first.
    events = book.place(order_id, 9, side, 101, -4, order_type, stp)
    assert events == book.numbered(rejected(order_id, 9, side, 101, -4, R.INVALID_COMMAND))


@pytest.mark.parametrize(
    "price, quantity, reason",
    [
        (101, 0, R.INVALID_QUANTITY),
        (1001, -2, R.INVALID_QUANTITY),
        (101, 15, R.QUANTITY_OFF_LOT),
        (1001, 1, R.QUANTITY_OFF_LOT),
        (101, 20, R.PRICE_OFF_TICK),
        (-3, 10, R.PRICE_OFF_TICK),
        (1001, 10, R.PRICE_OFF_TICK),
        (1005, 10, R.PRICE_OUT_OF_BAND),
        (-1005, 10, R.PRICE_OUT_OF_BAND),
        (-1000, 10, None),
        (1000, 10, None),
        (-5, 10, None),
    ],
)
def test_price_and_quantity_checks_in_order(make_book, price, quantity, reason):
    book = make_book(lot=10)
    events = book.place(1, 9, SELL, price, quantity, IOC)
    if reason is None:
        assert events[0] == book.numbered(accepted(1, 9, SELL, price, quantity, IOC))[0]
    else:
        assert events == book.numbered(rejected(1, 9, SELL, price, quantity, reason))


def test_notional_overflow_boundary(make_book):
    book = make_book(tick=1, min_price=-1000, max_price=1000)
    biggest = INT64_MAX // 1000
    for order_id, price in ((1, 1000), (2, -1000)):
        events = book.place(order_id, 1, BUY if price < 0 else SELL, price, biggest + 1)
        assert events == book.numbered(
            rejected(order_id, 1, BUY if price < 0 else SELL, price, biggest + 1, R.NOTIONAL_OVERFLOW)
        )
    events = book.place(3, 1, SELL, 1000, biggest)
    assert events == book.numbered(accepted(3, 1, SELL, 1000, biggest), level(SELL, 1000, biggest, 1))
    events = book.place(4, 1, BUY, 0, INT64_MAX)  # price 0: any quantity fits
    assert events == book.numbered(accepted(4, 1, BUY, 0, INT64_MAX), level(BUY, 0, INT64_MAX, 1))


def test_notional_exactly_int64_max_fits(make_book):
    book = make_book(tick=1, min_price=-1000, max_price=1000)
    exact = INT64_MAX // 7  # 7 divides 2**63 - 1
    assert exact * 7 == INT64_MAX
    assert book.place(1, 1, SELL, 7, exact) == book.numbered(
        accepted(1, 1, SELL, 7, exact), level(SELL, 7, exact, 1)
    )
    assert book.place(2, 1, BUY, -7, exact) == book.numbered(
        accepted(2, 1, BUY, -7, exact), level(BUY, -7, exact, 1)
    )
    assert book.amend(1, 1, 7, exact) == book.numbered(
        amended(1, 1, SELL, 7, exact, AmendPriority.KEPT), level(SELL, 7, exact, 1)
    )
    assert book.amend(1, 1, 14, exact) == book.numbered(rejected(1, 1, SELL, 14, exact, R.NOTIONAL_OVERFLOW))


def test_notional_overflow_at_the_int64_extremes(make_book):
    book = make_book(tick=1, min_price=INT64_MIN, max_price=INT64_MAX)
    events = book.place(1, 1, BUY, INT64_MIN, 1)  # |INT64_MIN| itself does not fit
    assert events == book.numbered(rejected(1, 1, BUY, INT64_MIN, 1, R.NOTIONAL_OVERFLOW))
    events = book.place(2, 1, BUY, INT64_MIN + 1, 1)
    assert events == book.numbered(accepted(2, 1, BUY, INT64_MIN + 1, 1), level(BUY, INT64_MIN + 1, 1, 1))
    events = book.place(3, 1, SELL, INT64_MAX, 1, POST_ONLY)
    assert events == book.numbered(
        accepted(3, 1, SELL, INT64_MAX, 1, POST_ONLY), level(SELL, INT64_MAX, 1, 1)
    )
    events = book.place(4, 1, SELL, INT64_MAX, 2)
    assert events == book.numbered(rejected(4, 1, SELL, INT64_MAX, 2, R.NOTIONAL_OVERFLOW))
    events = book.place(5, 1, BUY, INT64_MIN + 1, INT64_MAX)
    assert events == book.numbered(rejected(5, 1, BUY, INT64_MIN + 1, INT64_MAX, R.NOTIONAL_OVERFLOW))


def test_notional_overflow_before_duplicate(make_book):
    book = make_book(tick=1)
    book.place(1, 1, BUY, 10, 1)
    events = book.place(1, 1, BUY, 10, INT64_MAX)
    assert events == book.numbered(rejected(1, 1, BUY, 10, INT64_MAX, R.NOTIONAL_OVERFLOW))


@pytest.mark.parametrize("order_type", list(OrderType))
def test_duplicate_of_a_resting_id_for_every_type(book, order_type):
    book.place(1, 1, BUY, 100, 1)
    before = state(book)
    # Duplicate is checked before WOULD_CROSS (this post-only sell would cross).
    events = book.place(1, 2, SELL, 100, 3, order_type, StpMode.CANCEL_BOTH)
    assert events == book.numbered(rejected(1, 2, SELL, 100, 3, R.DUPLICATE_ORDER_ID))
    assert state(book) == before


def test_out_of_band_before_duplicate(book):
    book.place(1, 1, BUY, 100, 1)
    assert book.place(1, 1, BUY, 2000, 1) == book.numbered(rejected(1, 1, BUY, 2000, 1, R.PRICE_OUT_OF_BAND))


def test_post_only_would_cross(book):
    book.place(1, 1, SELL, 100, 2)
    book.place(2, 1, BUY, 90, 2)
    before = state(book)
    for order_id, side, price in ((3, BUY, 100), (4, BUY, 105), (5, SELL, 90), (6, SELL, 85)):
        events = book.place(order_id, 2, side, price, 1, POST_ONLY)
        assert events == book.numbered(rejected(order_id, 2, side, price, 1, R.WOULD_CROSS))
    assert state(book) == before


def test_a_rejected_command_changes_nothing_but_the_sequence(book):
    book.place(1, 1, BUY, 100, 2)
    before = state(book)
    book.place(2, 1, SELL, 100, 0)
    assert state(book) == before
    assert book.sequence == 3


# -- unknown command kind, process() -----------------------------------------------------------------


@pytest.mark.parametrize("kind", [0, 5, -1, 99])
def test_unknown_command_kind(book, kind):
    events = book.process((kind, 5, 6, 1, 3, 2, 100, 3))
    assert events == book.numbered(rejected(5, 6, 1, 100, 3, R.INVALID_COMMAND))


def test_process_takes_book_commands(book):
    assert book.process(BookCommand.place(1, 2, SELL, 100, 3)) == book.numbered(
        accepted(1, 2, SELL, 100, 3), level(SELL, 100, 3, 1)
    )
    assert (
        book.process(BookCommand(CommandKind.PLACE, 2, 2, SELL, IOC, 0, 95, 1))[0]
        == book.numbered(accepted(2, 2, SELL, 95, 1, IOC))[0]
    )


@pytest.mark.parametrize("command", [(), (1, 2, 3), (1, 1, 1, 0, 0, 0, 100, 1, 0)])
def test_process_of_a_record_of_the_wrong_length_raises(book, command):
    with pytest.raises(ValueError):
        book.book.process(command)
    assert book.sequence == 0


# -- CANCEL ----------------------------------------------------------------------------------------


def test_cancel_rejects(book):
    book.place(1, 1, SELL, 100, 2)
    before = state(book)
    assert book.cancel(2, 1) == book.numbered(rejected(2, 1, 0, 0, 0, R.UNKNOWN_ORDER))
    assert book.cancel(1, 2) == book.numbered(rejected(1, 2, SELL, 0, 0, R.NOT_ORDER_OWNER))
    assert book.process((CommandKind.CANCEL, 1, 3, BUY, 0, 0, 100, 2)) == book.numbered(
        rejected(1, 3, SELL, 0, 0, R.NOT_ORDER_OWNER)
    )
    assert state(book) == before
    book.place(3, 2, BUY, 100, 2)
    assert book.cancel(1, 1) == book.numbered(rejected(1, 1, 0, 0, 0, R.UNKNOWN_ORDER))


# -- AMEND -----------------------------------------------------------------------------------------


def test_amend_rejects_in_order(make_book):
    book = make_book(lot=10)
    book.place(1, 1, SELL, 100, 20)
    before = state(book)
    cases = [
        (2, 1, 100, 10, 0, R.UNKNOWN_ORDER),
        (1, 2, 101, 0, SELL, R.NOT_ORDER_OWNER),  # owner is checked before the fields
        (1, 1, 101, 0, SELL, R.INVALID_QUANTITY),
        (1, 1, 101, -10, SELL, R.INVALID_QUANTITY),
        (1, 1, 101, 15, SELL, R.QUANTITY_OFF_LOT),
        (1, 1, 1001, 10, SELL, R.PRICE_OFF_TICK),
        (1, 1, 1005, 10, SELL, R.PRICE_OUT_OF_BAND),
        (1, 1, -1005, 10, SELL, R.PRICE_OUT_OF_BAND),
        (1, 1, 1000, INT64_MAX - INT64_MAX % 10, SELL, R.NOTIONAL_OVERFLOW),
    ]
    for order_id, account_id, price, quantity, side, reason in cases:
        events = book.amend(order_id, account_id, price, quantity)
        assert events == book.numbered(rejected(order_id, account_id, side, price, quantity, reason))
    assert state(book) == before
    assert book.order(1) == (1, 1, SELL, 100, 20, LIMIT, 0)


def test_arguments_outside_int64_raise_overflow_error(book):
    calls = [
        lambda b: b.place(2**63, 1, BUY, 100, 1),
        lambda b: b.place(1, 1, BUY, 100, -(2**63) - 1),
        lambda b: b.cancel(1, 2**64),
        lambda b: b.amend(1, 1, 2**63, 1),
        lambda b: b.mass_cancel(-(2**63) - 1),
        lambda b: b.process((CommandKind.PLACE, 1, 1, BUY, 0, 0, 2**70, 1)),
    ]
    for call in calls:
        with pytest.raises(OverflowError):
            call(book.book)
    assert book.sequence == 0
