"""Time-weighted settlement price of material calls."""

from __future__ import annotations

from exchange.index_prices import twap


def test_twap_holds_each_price_until_the_next():
    points = [(0, 100), (10, 200), (30, 400)]
    assert twap(points, 0, 40) == (100 * 10 + 200 * 20 + 400 * 10) // 40
    # the last price before the window start holds at the start
    assert twap(points, 20, 40) == (200 * 10 + 400 * 10) // 20
    # prices after the end are ignored
    assert twap(points, 0, 10) == 100


def test_twap_edges():
    assert twap([], 0, 10) is None
    assert twap([(10, 5)], 0, 10) is None  # nothing before the end
    assert twap([(5, 9)], 0, 10) == 9  # the average starts at the first price
    assert twap([(0, 7), (3, 8)], 5, 5) == 8  # zero-length window: the price holding then
    assert twap([(0, 3), (1, 4)], 0, 3) == (3 + 4 * 2) // 3  # rounds down
