"""Placing, matching and cancelling orders, and the queries; run on both books (see conftest)."""

from __future__ import annotations

from matching_engine.codes import OrderType
from tests.matching_engine.helpers import (
    BUY,
    SELL,
    CancelReason,
    accepted,
    cancelled,
    fill,
    gone,
    level,
)

LIMIT, IOC, FOK, POST_ONLY, MARKET = (
    OrderType.LIMIT,
    OrderType.IOC,
    OrderType.FOK,
    OrderType.POST_ONLY,
    OrderType.MARKET,
)


def ladder(book):
    """Asks 105x3 (id 1, acct 1), 105x4 (id 2, acct 2), 110x5 (id 3, acct 1).

    Bids 95x6 (id 4, acct 3), 90x2 (id 5, acct 3).
    """
    book.place(1, 1, SELL, 105, 3)
    book.place(2, 2, SELL, 105, 4)
    book.place(3, 1, SELL, 110, 5)
    book.place(4, 3, BUY, 95, 6)
    book.place(5, 3, BUY, 90, 2)


# -- LIMIT -----------------------------------------------------------------------------------------


def test_new_book_is_empty(book):
    assert book.sequence == 0
    assert book.order_count == 0
    assert book.level_count == 0
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.depth(5) == ([], [])
    assert book.order(1) is None


def test_limit_rests_and_reports_its_level(book):
    events = book.place(1, 10, BUY, 100, 5)
    assert events == book.numbered(accepted(1, 10, BUY, 100, 5), level(BUY, 100, 5, 1))
    events = book.place(2, 11, BUY, 100, 7)
    assert events == book.numbered(accepted(2, 11, BUY, 100, 7), level(BUY, 100, 12, 2))
    assert book.best_bid() == (100, 12)
    assert book.order(1) == (1, 10, BUY, 100, 5, LIMIT, 0)
    assert book.order_count == 2
    assert book.level_count == 1
    assert book.sequence == 4


def test_limit_partial_fill_then_rests(book):
    book.place(1, 10, SELL, 100, 3)
    events = book.place(2, 11, BUY, 100, 5)
    assert events == book.numbered(
        accepted(2, 11, BUY, 100, 5),
        fill(2, 11, BUY, 100, 3, 2, 1, 10, 0),
        level(SELL, 100, 0, 0),
        level(BUY, 100, 2, 1),
    )
    assert book.best_ask() is None
    assert book.best_bid() == (100, 2)
    assert book.order(1) is None


def test_limit_sweeps_levels_at_maker_prices_oldest_first(book):
    ladder(book)
    events = book.place(10, 9, BUY, 110, 9)
    assert events == book.numbered(
        accepted(10, 9, BUY, 110, 9),
        fill(10, 9, BUY, 105, 3, 6, 1, 1, 0),
        fill(10, 9, BUY, 105, 4, 2, 2, 2, 0),
        fill(10, 9, BUY, 110, 2, 0, 3, 1, 3),
        gone(SELL, 105),
        level(SELL, 110, 3, 1),
    )
    assert book.depth(10) == ([(95, 6, 1), (90, 2, 1)], [(110, 3, 1)])
    assert book.order(3) == (3, 1, SELL, 110, 3, LIMIT, 0)


def test_limit_stops_at_its_limit_price(book):
    ladder(book)
    events = book.place(10, 9, BUY, 105, 9)
    assert events == book.numbered(
        accepted(10, 9, BUY, 105, 9),
        fill(10, 9, BUY, 105, 3, 6, 1, 1, 0),
        fill(10, 9, BUY, 105, 4, 2, 2, 2, 0),
        gone(SELL, 105),
        level(BUY, 105, 2, 1),
    )
    assert book.best_bid() == (105, 2)
    assert book.best_ask() == (110, 5)


def test_sell_limit_matches_bids_best_first(book):
    ladder(book)
    events = book.place(10, 9, SELL, 90, 7)
    assert events == book.numbered(
        accepted(10, 9, SELL, 90, 7),
        fill(10, 9, SELL, 95, 6, 1, 4, 3, 0),
        fill(10, 9, SELL, 90, 1, 0, 5, 3, 1),
        gone(BUY, 95),
        level(BUY, 90, 1, 1),
    )


def test_partial_fill_of_maker_keeps_its_priority(book):
    book.place(1, 1, SELL, 100, 5)
    book.place(2, 2, SELL, 100, 5)
    book.place(3, 3, BUY, 100, 2)
    events = book.place(4, 3, BUY, 100, 4)
    assert events == book.numbered(
        accepted(4, 3, BUY, 100, 4),
        fill(4, 3, BUY, 100, 3, 1, 1, 1, 0),
        fill(4, 3, BUY, 100, 1, 0, 2, 2, 4),
        level(SELL, 100, 4, 1),
    )


def test_non_crossing_limit_does_not_trade(book):
    ladder(book)
    events = book.place(10, 9, BUY, 100, 1)
    assert events == book.numbered(accepted(10, 9, BUY, 100, 1), level(BUY, 100, 1, 1))
    assert book.depth(1) == ([(100, 1, 1)], [(105, 7, 2)])


def test_order_ids_may_be_reused_once_gone(book):
    book.place(1, 1, SELL, 100, 2)
    book.place(2, 2, BUY, 100, 2)
    events = book.place(1, 3, BUY, 100, 2)
    assert events == book.numbered(accepted(1, 3, BUY, 100, 2), level(BUY, 100, 2, 1))


# -- IOC / FOK / MARKET ----------------------------------------------------------------------------


def test_ioc_fills_what_it_can_and_cancels_the_rest(book):
    ladder(book)
    events = book.place(10, 9, BUY, 105, 9, IOC)
    assert events == book.numbered(
        accepted(10, 9, BUY, 105, 9, IOC),
        fill(10, 9, BUY, 105, 3, 6, 1, 1, 0),
        fill(10, 9, BUY, 105, 4, 2, 2, 2, 0),
        cancelled(10, 9, BUY, 105, 2, CancelReason.IOC_REMAINDER),
        gone(SELL, 105),
    )
    assert book.order(10) is None
    assert book.best_bid() == (95, 6)


def test_ioc_without_liquidity_touches_no_level(book):
    ladder(book)
    events = book.place(10, 9, SELL, 100, 4, IOC)
    assert events == book.numbered(
        accepted(10, 9, SELL, 100, 4, IOC), cancelled(10, 9, SELL, 100, 4, CancelReason.IOC_REMAINDER)
    )


def test_ioc_fully_filled_has_no_cancel(book):
    ladder(book)
    events = book.place(10, 9, BUY, 105, 3, IOC)
    assert events == book.numbered(
        accepted(10, 9, BUY, 105, 3, IOC), fill(10, 9, BUY, 105, 3, 0, 1, 1, 0), level(SELL, 105, 4, 1)
    )


def test_fok_fills_completely_across_levels(book):
    ladder(book)
    events = book.place(10, 9, BUY, 110, 12, FOK)
    assert events == book.numbered(
        accepted(10, 9, BUY, 110, 12, FOK),
        fill(10, 9, BUY, 105, 3, 9, 1, 1, 0),
        fill(10, 9, BUY, 105, 4, 5, 2, 2, 0),
        fill(10, 9, BUY, 110, 5, 0, 3, 1, 0),
        gone(SELL, 105),
        gone(SELL, 110),
    )
    assert book.best_ask() is None


def test_fok_not_fillable_touches_nothing(book):
    ladder(book)
    before = book.snapshot()
    events = book.place(10, 9, BUY, 110, 13, FOK)
    assert events == book.numbered(
        accepted(10, 9, BUY, 110, 13, FOK), cancelled(10, 9, BUY, 110, 13, CancelReason.FOK_NOT_FILLABLE)
    )
    after = book.snapshot()
    assert after[:48] + after[56:] == before[:48] + before[56:]  # only the sequence (bytes 48-56) changed


def test_fok_counts_only_acceptable_prices(book):
    ladder(book)
    events = book.place(10, 9, BUY, 105, 8, FOK)
    assert events == book.numbered(
        accepted(10, 9, BUY, 105, 8, FOK), cancelled(10, 9, BUY, 105, 8, CancelReason.FOK_NOT_FILLABLE)
    )
    events = book.place(11, 9, SELL, 95, 6, FOK)
    assert events == book.numbered(
        accepted(11, 9, SELL, 95, 6, FOK), fill(11, 9, SELL, 95, 6, 0, 4, 3, 0), gone(BUY, 95)
    )


def test_fok_on_empty_side(book):
    events = book.place(1, 1, SELL, -50, 1, FOK)
    assert events == book.numbered(
        accepted(1, 1, SELL, -50, 1, FOK), cancelled(1, 1, SELL, -50, 1, CancelReason.FOK_NOT_FILLABLE)
    )
    assert book.order_count == 0


def test_market_fills_up_to_its_protection_price(book):
    ladder(book)
    events = book.place(10, 9, BUY, 105, 10, MARKET)
    assert events == book.numbered(
        accepted(10, 9, BUY, 105, 10, MARKET),
        fill(10, 9, BUY, 105, 3, 7, 1, 1, 0),
        fill(10, 9, BUY, 105, 4, 3, 2, 2, 0),
        cancelled(10, 9, BUY, 105, 3, CancelReason.MARKET_PROTECTION),
        gone(SELL, 105),
    )
    assert book.best_bid() == (95, 6)  # a market order never rests


def test_market_sell_fully_filled(book):
    ladder(book)
    events = book.place(10, 9, SELL, -1000, 8, MARKET)
    assert events == book.numbered(
        accepted(10, 9, SELL, -1000, 8, MARKET),
        fill(10, 9, SELL, 95, 6, 2, 4, 3, 0),
        fill(10, 9, SELL, 90, 2, 0, 5, 3, 0),
        gone(BUY, 95),
        gone(BUY, 90),
    )
    assert book.best_bid() is None


def test_market_without_liquidity(book):
    events = book.place(1, 1, BUY, 1000, 5, MARKET)
    assert events == book.numbered(
        accepted(1, 1, BUY, 1000, 5, MARKET), cancelled(1, 1, BUY, 1000, 5, CancelReason.MARKET_PROTECTION)
    )


# -- POST_ONLY -------------------------------------------------------------------------------------


def test_post_only_rests_when_it_does_not_cross(book):
    ladder(book)
    events = book.place(10, 9, BUY, 100, 3, POST_ONLY)
    assert events == book.numbered(accepted(10, 9, BUY, 100, 3, POST_ONLY), level(BUY, 100, 3, 1))
    events = book.place(11, 9, SELL, 100 + 5, 3, POST_ONLY)
    assert events == book.numbered(accepted(11, 9, SELL, 105, 3, POST_ONLY), level(SELL, 105, 10, 3))
    assert book.order(10) == (10, 9, BUY, 100, 3, POST_ONLY, 0)


def test_post_only_on_empty_book_rests(book):
    events = book.place(1, 1, SELL, -5, 3, POST_ONLY)
    assert events == book.numbered(accepted(1, 1, SELL, -5, 3, POST_ONLY), level(SELL, -5, 3, 1))


# -- CANCEL ----------------------------------------------------------------------------------------


def test_cancel_leaves_the_rest_of_the_level(book):
    ladder(book)
    events = book.cancel(1, 1)
    assert events == book.numbered(cancelled(1, 1, SELL, 105, 3, CancelReason.USER), level(SELL, 105, 4, 1))
    assert book.order(1) is None
    assert book.order_count == 4


def test_cancel_of_the_last_order_removes_the_level(book):
    ladder(book)
    events = book.cancel(4, 3)
    assert events == book.numbered(cancelled(4, 3, BUY, 95, 6, CancelReason.USER), gone(BUY, 95))
    assert book.best_bid() == (90, 2)
    assert book.level_count == 3


def test_cancel_after_partial_fill_cancels_the_open_quantity(book):
    ladder(book)
    book.place(10, 9, BUY, 105, 1)
    events = book.cancel(1, 1)
    assert events == book.numbered(cancelled(1, 1, SELL, 105, 2, CancelReason.USER), level(SELL, 105, 4, 1))


def test_cancel_from_the_middle_keeps_fifo(book):
    for order_id in (1, 2, 3):
        book.place(order_id, order_id, SELL, 100, order_id)
    book.cancel(2, 2)
    events = book.place(4, 9, BUY, 100, 4)
    assert events == book.numbered(
        accepted(4, 9, BUY, 100, 4),
        fill(4, 9, BUY, 100, 1, 3, 1, 1, 0),
        fill(4, 9, BUY, 100, 3, 0, 3, 3, 0),
        gone(SELL, 100),
    )


# -- MASS_CANCEL -----------------------------------------------------------------------------------


def test_mass_cancel_in_ascending_id_with_levels_in_first_touch_order(book):
    book.place(30, 1, SELL, 110, 1)
    book.place(20, 2, SELL, 110, 2)
    book.place(10, 1, BUY, 90, 3)
    book.place(40, 1, SELL, 105, 4)
    book.place(5, 1, SELL, 110, 5)
    events = book.mass_cancel(1)
    assert events == book.numbered(
        cancelled(5, 1, SELL, 110, 5, CancelReason.MASS_CANCEL),
        cancelled(10, 1, BUY, 90, 3, CancelReason.MASS_CANCEL),
        cancelled(30, 1, SELL, 110, 1, CancelReason.MASS_CANCEL),
        cancelled(40, 1, SELL, 105, 4, CancelReason.MASS_CANCEL),
        level(SELL, 110, 2, 1),
        gone(BUY, 90),
        gone(SELL, 105),
    )
    assert book.order_count == 1
    assert book.mass_cancel(1) == []
    assert book.sequence == book.first_seq - 1


def test_mass_cancel_without_orders_emits_nothing(book):
    assert book.mass_cancel(12345) == []
    assert book.sequence == 0


# -- QUERIES ---------------------------------------------------------------------------------------


def test_depth_best_first_and_limited(book):
    ladder(book)
    book.place(6, 4, BUY, 95, 1)
    assert book.depth(1) == ([(95, 7, 2)], [(105, 7, 2)])
    assert book.depth(10) == ([(95, 7, 2), (90, 2, 1)], [(105, 7, 2), (110, 5, 1)])
    assert book.depth(0) == ([], [])
    assert book.depth(-3) == ([], [])
    assert book.best_bid() == (95, 7)
    assert book.best_ask() == (105, 7)
    assert book.level_count == 4
    assert book.order_count == 6


def test_negative_prices_order_like_numbers(book):
    """Swap books trade at negative prices: -10 is a better bid than -20, and -15 a better ask than -5."""
    book.place(1, 1, BUY, -20, 1)
    book.place(2, 1, BUY, -10, 2)
    book.place(3, 2, SELL, -5, 3)
    book.place(4, 2, SELL, -15 + 10, 1)
    book.place(5, 2, SELL, 0, 4)
    assert book.depth(5) == ([(-10, 2, 1), (-20, 1, 1)], [(-5, 4, 2), (0, 4, 1)])
    events = book.place(6, 3, SELL, -20, 4)
    assert events == book.numbered(
        accepted(6, 3, SELL, -20, 4),
        fill(6, 3, SELL, -10, 2, 2, 2, 1, 0),
        fill(6, 3, SELL, -20, 1, 1, 1, 1, 0),
        gone(BUY, -10),
        gone(BUY, -20),
        level(SELL, -20, 1, 1),
    )
    assert book.best_ask() == (-20, 1)
    events = book.place(7, 4, BUY, -5, 3, IOC)
    assert events == book.numbered(
        accepted(7, 4, BUY, -5, 3, IOC),
        fill(7, 4, BUY, -20, 1, 2, 6, 3, 0),
        fill(7, 4, BUY, -5, 2, 0, 3, 2, 1),
        gone(SELL, -20),
        level(SELL, -5, 2, 2),
    )


def test_order_query_reports_open_quantity_type_and_stp(book):
    book.place(1, 5, SELL, 100, 10, POST_ONLY, 2)
    book.place(2, 6, BUY, 100, 4)
    assert book.order(1) == (1, 5, SELL, 100, 6, POST_ONLY, 2)
    assert book.order(2) is None
