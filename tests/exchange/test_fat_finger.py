"""The fat-finger band: order prices far from the reference price are refused with FAT_FINGER.

Reference: the last trade price (tolerance fat_finger_percent of it, at least
fat_finger_min_ticks ticks); for material calls with a published index price, the index-implied
value per contract, up to the most a contract can pay."""

from __future__ import annotations

import pytest

from exchange import commands as c
from exchange.config import ExchangeConfig
from exchange.results import ResultCode
from tests.exchange.conftest import Market

FAT_FINGER = ResultCode.FAT_FINGER
BAND = ExchangeConfig(taker_fee=10, maker_fee=5, fat_finger_percent=50, fat_finger_min_ticks=10)


@pytest.fixture
def banded(book_factory) -> Market:
    return Market(book_factory, BAND)


def _trade_cap_at(m: Market, price: int) -> tuple[str, int, int]:
    """A CAP instrument with one trade at `price`; returns (symbol, buyer, supplier)."""
    supplier = m.account("supplier", cash=100_000)
    m.register_capacity(supplier, 10_000)
    buyer = m.account("creator", cash=10_000_000)
    symbol = m.list_cap()
    m.place(supplier, symbol, "sell", price, 1)
    m.place(buyer, symbol, "buy", price, 1)
    assert m.seq.instrument(symbol).last_trade_price == price
    return symbol, buyer, supplier


def test_no_reference_no_band(banded):
    symbol, buyer, _ = _trade_cap_at(banded, 500)
    other = banded.list_cap(strike=1300)  # never traded: only the listing's min/max apply
    banded.place(buyer, other, "buy", 90_000, 1)


def test_band_around_last_trade(banded):
    symbol, buyer, supplier = _trade_cap_at(banded, 500)
    before = banded.seq.state_hash(journal=False)
    result = banded.place(buyer, symbol, "buy", 760, 1, expect=FAT_FINGER)
    assert "[250, 750]" in result.message
    banded.place(supplier, symbol, "sell", 240, 1, expect=FAT_FINGER)
    assert banded.seq.state_hash(journal=False) == before  # refusals changed nothing
    banded.place(buyer, symbol, "buy", 750, 1)
    banded.place(supplier, symbol, "sell", 250, 1)  # crosses the 750 bid: a trade at 750
    assert banded.seq.instrument(symbol).last_trade_price == 750
    banded.place(buyer, symbol, "buy", 1120, 1)  # the band moved with the trade: [380, 1120]


def test_minimum_tolerance_in_ticks(banded):
    symbol, buyer, _ = _trade_cap_at(banded, 20)  # 50% of 20 is 10 < 10 ticks of 10 = 100
    banded.place(buyer, symbol, "buy", 120, 1)
    banded.place(buyer, symbol, "buy", 130, 1, expect=FAT_FINGER)


def test_amend_to_a_price_outside_the_band_is_refused(banded):
    symbol, buyer, _ = _trade_cap_at(banded, 500)
    order_id = banded.place(buyer, symbol, "buy", 400, 2).data["order_id"]
    banded.run(c.AmendOrder, FAT_FINGER, actor=buyer, order_id=order_id, price=800, quantity=2)
    banded.run(c.AmendOrder, actor=buyer, order_id=order_id, price=400, quantity=1)  # same price
    assert banded.seq.order(order_id).open_quantity == 1


def test_material_call_band_from_index(banded):
    writer = banded.account("market_maker", cash=10_000_000)
    buyer = banded.account("creator", cash=10_000_000)
    symbol = banded.list_mat(strike=8000, cap=9600, units=10)  # max payoff (9600-8000)*10 = 16000
    banded.run(c.PublishIndexPrice, index="INK-BLACK-SPECIAL", price=8500)  # intrinsic 5000
    banded.place(buyer, symbol, "buy", 16_010, 1, expect=FAT_FINGER)  # above the max payoff
    banded.place(buyer, symbol, "buy", 16_000, 1)
    banded.place(writer, symbol, "sell", 2_490, 1, expect=FAT_FINGER)  # below 5000 - 2500
    banded.place(writer, symbol, "sell", 2_500, 1, expect=0)


def test_band_off(book_factory):
    m = Market(book_factory, ExchangeConfig(fat_finger_percent=0))
    symbol, buyer, _ = _trade_cap_at(m, 500)
    m.place(buyer, symbol, "buy", 90_000, 1)
