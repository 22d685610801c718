"""AMEND: priority kept on a reduction, lost on a price change or increase; amends that trade."""

from __future__ import annotations

from matching_engine.codes import OrderType, StpMode
from tests.matching_engine.helpers import (
    BUY,
    SELL,
    AmendPriority,
    CancelReason,
    RejectReason,
    accepted,
    amended,
    cancelled,
    fill,
    gone,
    level,
    rejected,
)

KEPT, LOST = AmendPriority.KEPT, AmendPriority.LOST
LIMIT, POST_ONLY = OrderType.LIMIT, OrderType.POST_ONLY


def two_asks(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 2, SELL, 100, 5)


def test_reduce_keeps_priority(book):
    two_asks(book)
    events = book.amend(1, 1, 100, 2)
    assert events == book.numbered(amended(1, 1, SELL, 100, 2, KEPT), level(SELL, 100, 7, 2))
    assert book.order(1) == (1, 1, SELL, 100, 2, LIMIT, 0)
    events = book.place(3, 3, BUY, 100, 3)
    assert events == book.numbered(
        accepted(3, 3, BUY, 100, 3),
        fill(3, 3, BUY, 100, 2, 1, 1, 1, 0),
        fill(3, 3, BUY, 100, 1, 0, 2, 2, 4),
        level(SELL, 100, 4, 1),
    )


def test_unchanged_amend_is_kept_and_reports_the_level(book):
    two_asks(book)
    events = book.amend(2, 2, 100, 5)
    assert events == book.numbered(amended(2, 2, SELL, 100, 5, KEPT), level(SELL, 100, 10, 2))


def test_increase_loses_priority(book):
    two_asks(book)
    events = book.amend(1, 1, 100, 6)
    assert events == book.numbered(amended(1, 1, SELL, 100, 6, LOST), level(SELL, 100, 11, 2))
    events = book.place(3, 3, BUY, 100, 6)
    assert events == book.numbered(
        accepted(3, 3, BUY, 100, 6),
        fill(3, 3, BUY, 100, 5, 1, 2, 2, 0),
        fill(3, 3, BUY, 100, 1, 0, 1, 1, 5),
        level(SELL, 100, 5, 1),
    )


def test_increase_of_the_only_order_of_a_level(book):
    book.place(1, 1, BUY, -100, 5)
    events = book.amend(1, 1, -100, 8)
    assert events == book.numbered(amended(1, 1, BUY, -100, 8, LOST), level(BUY, -100, 8, 1))


def test_price_change_moves_to_the_back_of_the_new_level(book):
    two_asks(book)
    book.place(3, 3, SELL, 105, 1)
    events = book.amend(1, 1, 105, 5)
    assert events == book.numbered(
        amended(1, 1, SELL, 105, 5, LOST), level(SELL, 100, 5, 1), level(SELL, 105, 6, 2)
    )
    book.cancel(2, 2)
    events = book.place(4, 4, BUY, 105, 2)
    assert events == book.numbered(
        accepted(4, 4, BUY, 105, 2),
        fill(4, 4, BUY, 105, 1, 1, 3, 3, 0),
        fill(4, 4, BUY, 105, 1, 0, 1, 1, 4),
        level(SELL, 105, 4, 1),
    )


def test_price_change_with_a_smaller_quantity_also_loses_priority(book):
    two_asks(book)
    events = book.amend(2, 2, 95, 1)
    assert events == book.numbered(
        amended(2, 2, SELL, 95, 1, LOST), level(SELL, 100, 5, 1), level(SELL, 95, 1, 1)
    )
    assert book.best_ask() == (95, 1)


def test_amend_after_partial_fill_compares_with_the_open_quantity(book):
    two_asks(book)
    book.place(3, 3, BUY, 100, 3)  # order 1 has 2 open
    events = book.amend(1, 1, 100, 3)
    assert events == book.numbered(amended(1, 1, SELL, 100, 3, LOST), level(SELL, 100, 8, 2))
    events = book.amend(1, 1, 100, 3)
    assert events == book.numbered(amended(1, 1, SELL, 100, 3, KEPT), level(SELL, 100, 8, 2))


def test_amend_that_crosses_trades_then_rests(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 1, SELL, 105, 5)
    book.place(3, 3, BUY, 90, 4)
    events = book.amend(3, 3, 100, 7)
    assert events == book.numbered(
        amended(3, 3, BUY, 100, 7, LOST),
        fill(3, 3, BUY, 100, 5, 2, 1, 1, 0),
        gone(BUY, 90),
        gone(SELL, 100),
        level(BUY, 100, 2, 1),
    )
    assert book.order(3) == (3, 3, BUY, 100, 2, LIMIT, 0)


def test_amend_that_fills_completely_does_not_rest(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(3, 3, BUY, 90, 4)
    book.place(4, 3, BUY, 90, 1)
    events = book.amend(3, 3, 100, 5)
    assert events == book.numbered(
        amended(3, 3, BUY, 100, 5, LOST),
        fill(3, 3, BUY, 100, 5, 0, 1, 1, 0),
        level(BUY, 90, 1, 1),
        gone(SELL, 100),
    )
    assert book.order(3) is None
    assert book.order_count == 1


def test_amend_crossing_with_stp_cancel_newest_cancels_the_amended_order(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 2, SELL, 100, 1)
    book.place(3, 2, BUY, 90, 4, LIMIT, StpMode.CANCEL_NEWEST)
    events = book.amend(3, 2, 100, 8)
    assert events == book.numbered(
        amended(3, 2, BUY, 100, 8, LOST),
        fill(3, 2, BUY, 100, 5, 3, 1, 1, 0),
        cancelled(3, 2, BUY, 100, 3, CancelReason.SELF_TRADE),
        gone(BUY, 90),
        level(SELL, 100, 1, 1),
    )
    assert book.order(3) is None


def test_amend_crossing_with_stp_cancel_oldest(book):
    book.place(1, 2, SELL, 100, 5)
    book.place(3, 2, BUY, 90, 4, LIMIT, StpMode.CANCEL_OLDEST)
    events = book.amend(3, 2, 100, 4)
    assert events == book.numbered(
        amended(3, 2, BUY, 100, 4, LOST),
        cancelled(1, 2, SELL, 100, 5, CancelReason.SELF_TRADE),
        gone(BUY, 90),
        gone(SELL, 100),
        level(BUY, 100, 4, 1),
    )


def test_post_only_amend_that_would_cross_is_rejected_and_left_alone(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 2, BUY, 90, 4, POST_ONLY)
    events = book.amend(2, 2, 100, 4)
    assert events == book.numbered(rejected(2, 2, BUY, 100, 4, RejectReason.WOULD_CROSS))
    assert book.order(2) == (2, 2, BUY, 90, 4, POST_ONLY, 0)
    events = book.amend(2, 2, 95, 6)
    assert events == book.numbered(amended(2, 2, BUY, 95, 6, LOST), gone(BUY, 90), level(BUY, 95, 6, 1))
    assert book.order(2) == (2, 2, BUY, 95, 6, POST_ONLY, 0)


def test_limit_amend_may_cross_where_post_only_may_not(book):
    book.place(1, 1, BUY, 100, 5)
    book.place(2, 2, SELL, 110, 2, POST_ONLY)
    assert book.amend(2, 2, 100, 2) == book.numbered(rejected(2, 2, SELL, 100, 2, RejectReason.WOULD_CROSS))
    book.place(3, 2, SELL, 110, 2)
    events = book.amend(3, 2, 100, 2)
    assert events == book.numbered(
        amended(3, 2, SELL, 100, 2, LOST),
        fill(3, 2, SELL, 100, 2, 0, 1, 1, 3),
        level(SELL, 110, 2, 1),
        level(BUY, 100, 3, 1),
    )
