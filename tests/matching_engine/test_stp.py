"""Self-trade prevention: every mode, chosen by the taker, and its effect on the FOK check."""

from __future__ import annotations

from matching_engine.codes import OrderType, StpMode
from tests.matching_engine.helpers import BUY, SELL, CancelReason, accepted, cancelled, fill, gone, level

LIMIT, IOC, FOK, MARKET = OrderType.LIMIT, OrderType.IOC, OrderType.FOK, OrderType.MARKET
NONE, NEWEST, OLDEST, BOTH = StpMode.NONE, StpMode.CANCEL_NEWEST, StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH
ST = CancelReason.SELF_TRADE


def asks(book):
    """Asks at 100: id 1 (acct 2) x3, id 2 (acct 1) x4, id 3 (acct 2) x5; at 105: id 4 (acct 3) x6."""
    book.place(1, 2, SELL, 100, 3)
    book.place(2, 1, SELL, 100, 4)
    book.place(3, 2, SELL, 100, 5)
    book.place(4, 3, SELL, 105, 6)


def test_stp_none_lets_an_account_trade_with_itself(book):
    asks(book)
    events = book.place(10, 2, BUY, 100, 4, LIMIT, NONE)
    assert events == book.numbered(
        accepted(10, 2, BUY, 100, 4),
        fill(10, 2, BUY, 100, 3, 1, 1, 2, 0),
        fill(10, 2, BUY, 100, 1, 0, 2, 1, 3),
        level(SELL, 100, 8, 2),
    )


def test_cancel_newest_cancels_the_taker_and_leaves_the_maker(book):
    asks(book)
    events = book.place(10, 1, BUY, 105, 20, LIMIT, NEWEST)
    assert events == book.numbered(
        accepted(10, 1, BUY, 105, 20),
        fill(10, 1, BUY, 100, 3, 17, 1, 2, 0),
        cancelled(10, 1, BUY, 105, 17, ST),
        level(SELL, 100, 9, 2),
    )
    assert book.order(2) == (2, 1, SELL, 100, 4, LIMIT, 0)
    assert book.order(10) is None


def test_cancel_newest_on_the_first_maker_touches_no_level(book):
    asks(book)
    events = book.place(10, 2, BUY, 100, 1, IOC, NEWEST)
    assert events == book.numbered(accepted(10, 2, BUY, 100, 1, IOC), cancelled(10, 2, BUY, 100, 1, ST))
    assert book.depth(5)[1] == [(100, 12, 3), (105, 6, 1)]


def test_cancel_oldest_cancels_the_maker_and_goes_on(book):
    asks(book)
    events = book.place(10, 1, BUY, 105, 14, LIMIT, OLDEST)
    assert events == book.numbered(
        accepted(10, 1, BUY, 105, 14),
        fill(10, 1, BUY, 100, 3, 11, 1, 2, 0),
        cancelled(2, 1, SELL, 100, 4, ST),
        fill(10, 1, BUY, 100, 5, 6, 3, 2, 0),
        fill(10, 1, BUY, 105, 6, 0, 4, 3, 0),
        gone(SELL, 100),
        gone(SELL, 105),
    )
    assert book.order_count == 0


def test_cancel_oldest_then_rests(book):
    asks(book)
    book.cancel(3, 2)
    book.cancel(4, 3)
    events = book.place(10, 1, BUY, 100, 5, LIMIT, OLDEST)
    assert events == book.numbered(
        accepted(10, 1, BUY, 100, 5),
        fill(10, 1, BUY, 100, 3, 2, 1, 2, 0),
        cancelled(2, 1, SELL, 100, 4, ST),
        gone(SELL, 100),
        level(BUY, 100, 2, 1),
    )
    assert book.order(10) == (10, 1, BUY, 100, 2, LIMIT, OLDEST)


def test_cancel_both_cancels_maker_then_taker(book):
    asks(book)
    events = book.place(10, 1, BUY, 105, 20, LIMIT, BOTH)
    assert events == book.numbered(
        accepted(10, 1, BUY, 105, 20),
        fill(10, 1, BUY, 100, 3, 17, 1, 2, 0),
        cancelled(2, 1, SELL, 100, 4, ST),
        cancelled(10, 1, BUY, 105, 17, ST),
        level(SELL, 100, 5, 1),
    )
    assert book.depth(5)[1] == [(100, 5, 1), (105, 6, 1)]


def test_cancel_both_emptying_a_level(book):
    book.place(1, 1, BUY, 50, 2)
    events = book.place(2, 1, SELL, 50, 2, LIMIT, BOTH)
    assert events == book.numbered(
        accepted(2, 1, SELL, 50, 2),
        cancelled(1, 1, BUY, 50, 2, ST),
        cancelled(2, 1, SELL, 50, 2, ST),
        gone(BUY, 50),
    )
    assert book.level_count == 0


def test_the_takers_mode_decides(book):
    book.place(1, 1, SELL, 100, 2, LIMIT, BOTH)
    events = book.place(2, 1, BUY, 100, 2, LIMIT, NONE)
    assert events == book.numbered(
        accepted(2, 1, BUY, 100, 2), fill(2, 1, BUY, 100, 2, 0, 1, 1, 0), gone(SELL, 100)
    )


def test_cancel_oldest_with_ioc_and_market_remainders(book):
    book.place(1, 1, SELL, 100, 2)
    events = book.place(2, 1, BUY, 100, 3, IOC, OLDEST)
    assert events == book.numbered(
        accepted(2, 1, BUY, 100, 3, IOC),
        cancelled(1, 1, SELL, 100, 2, ST),
        cancelled(2, 1, BUY, 100, 3, CancelReason.IOC_REMAINDER),
        gone(SELL, 100),
    )
    book.place(3, 1, BUY, -100, 2)
    events = book.place(4, 1, SELL, -1000, 3, MARKET, OLDEST)
    assert events == book.numbered(
        accepted(4, 1, SELL, -1000, 3, MARKET),
        cancelled(3, 1, BUY, -100, 2, ST),
        cancelled(4, 1, SELL, -1000, 3, CancelReason.MARKET_PROTECTION),
        gone(BUY, -100),
    )


# -- FOK fillability under STP ---------------------------------------------------------------------


def test_fok_stp_none_counts_own_orders(book):
    asks(book)
    events = book.place(10, 1, BUY, 100, 12, FOK, NONE)
    assert events == book.numbered(
        accepted(10, 1, BUY, 100, 12, FOK),
        fill(10, 1, BUY, 100, 3, 9, 1, 2, 0),
        fill(10, 1, BUY, 100, 4, 5, 2, 1, 0),
        fill(10, 1, BUY, 100, 5, 0, 3, 2, 0),
        gone(SELL, 100),
    )


def test_fok_cancel_oldest_skips_own_orders(book):
    asks(book)
    not_fillable = book.place(10, 1, BUY, 100, 9, FOK, OLDEST)
    assert not_fillable == book.numbered(
        accepted(10, 1, BUY, 100, 9, FOK), cancelled(10, 1, BUY, 100, 9, CancelReason.FOK_NOT_FILLABLE)
    )
    assert book.order(2) is not None  # nothing touched, own order not cancelled
    events = book.place(11, 1, BUY, 105, 14, FOK, OLDEST)
    assert events == book.numbered(
        accepted(11, 1, BUY, 105, 14, FOK),
        fill(11, 1, BUY, 100, 3, 11, 1, 2, 0),
        cancelled(2, 1, SELL, 100, 4, ST),
        fill(11, 1, BUY, 100, 5, 6, 3, 2, 0),
        fill(11, 1, BUY, 105, 6, 0, 4, 3, 0),
        gone(SELL, 100),
        gone(SELL, 105),
    )


def test_fok_cancel_newest_and_both_stop_at_own_orders(book):
    asks(book)
    for order_id, mode in ((10, NEWEST), (11, BOTH)):
        events = book.place(order_id, 1, BUY, 105, 4, FOK, mode)
        assert events == book.numbered(
            accepted(order_id, 1, BUY, 105, 4, FOK),
            cancelled(order_id, 1, BUY, 105, 4, CancelReason.FOK_NOT_FILLABLE),
        )
    events = book.place(12, 1, BUY, 105, 3, FOK, BOTH)
    assert events == book.numbered(
        accepted(12, 1, BUY, 105, 3, FOK), fill(12, 1, BUY, 100, 3, 0, 1, 2, 0), level(SELL, 100, 9, 2)
    )
    assert book.order(2) == (2, 1, SELL, 100, 4, LIMIT, 0)


def test_fok_of_an_account_with_orders_elsewhere_in_the_book(book):
    """Own orders outside the walked prices do not stop the walk."""
    book.place(1, 2, SELL, 100, 3)
    book.place(2, 1, SELL, 110, 3)
    book.place(3, 1, BUY, 90, 3)
    events = book.place(10, 1, BUY, 105, 3, FOK, NEWEST)
    assert events == book.numbered(
        accepted(10, 1, BUY, 105, 3, FOK), fill(10, 1, BUY, 100, 3, 0, 1, 2, 0), gone(SELL, 100)
    )
