"""The whole life of each instrument kind: list -> trade -> resell -> transfer -> exercise / expiry
-> settled, with the audit after every step (Market.do)."""

from __future__ import annotations

from exchange import commands as c
from exchange.events import BookingChanged, SettlementPriceSet, TradeExecuted
from exchange.ledger import ESCROW, FEES

from .conftest import DAY, DEADLINE_45, MAT_EXPIRY, W45_END, W46_END, W46_START


def test_capacity_option_life(market):
    m = market
    op = m.account("operator")
    supplier = m.account("supplier", cash=10_000)
    a = m.account("creator", cash=1_000_000)
    b = m.account("creator", cash=1_000_000)
    cc = m.account("creator", cash=1_000_000)
    m.register_capacity(supplier, 1000)
    sym = m.list_cap(strike=12, units=100)
    assert sym == "CAP-NOTEBOOK-A5-PRINT-2026W45-K12"
    assert m.seq.instrument(sym).status == "trading"

    # the supplier writes 5 contracts: 500 units locked, premium 500 fen each
    m.place(supplier, sym, "sell", 500, 5)
    cap = m.seq.capacity(supplier)[0]
    assert (cap.registered, cap.locked, cap.booked) == (1000, 500, 0)
    # a 6th contract would need 600 units... 1000 - 500 = 500 free: 6 more is too many
    m.place(supplier, sym, "sell", 500, 6, expect=2002)

    r = m.place(a, sym, "buy", 500, 3)
    trades = [e for e in r.events if isinstance(e, TradeExecuted)]
    assert [(t.price, t.quantity, t.taker_fee, t.maker_fee) for t in trades] == [(500, 3, 30, 15)]
    assert m.pos(a, sym) == 3 and m.pos(supplier, sym) == -3
    assert m.cash(a) == {"available": 1_000_000 - 1500 - 30, "locked": 0}
    assert m.cash(supplier) == {"available": 10_000 - 20 + 1500 - 15, "locked": 20}
    assert m.seq.system_balances()[FEES] == 45

    # resell one to b, transfer one to cc
    m.place(a, sym, "sell", 450, 1)  # better than the supplier's 500
    m.place(b, sym, "buy", 600, 1)
    assert m.pos(a, sym) == 2 and m.pos(b, sym) == 1
    m.run(c.TransferPosition, actor=a, to_account_id=cc, symbol=sym, quantity=1)
    assert m.pos(a, sym) == 1 and m.pos(cc, sym) == 1

    # a exercises 1: 12 * 100 fen to escrow, one booking with the supplier
    r = m.run(c.Exercise, actor=a, symbol=sym, quantity=1)
    (bid,) = r.data["booking_ids"]
    assert m.seq.system_balances()[ESCROW] == 1200
    cap = m.seq.capacity(supplier)[0]
    assert (cap.locked, cap.booked) == (400, 100)
    assert m.pos(supplier, sym) == -2
    m.run(c.ConfirmBooking, actor=a, booking_id=bid, milestone="confirmed", expect=1004)
    m.run(c.ConfirmBooking, actor=supplier, booking_id=bid, milestone="delivered", expect=1004)
    m.run(c.ConfirmBooking, actor=a, booking_id=bid, milestone="delivered", expect=4004)
    m.run(c.ConfirmBooking, actor=supplier, booking_id=bid, milestone="confirmed")
    assert m.seq.system_balances()[ESCROW] == 1200 - 360
    m.run(c.ConfirmBooking, actor=a, booking_id=bid, milestone="delivered")
    assert m.seq.system_balances()[ESCROW] == 0
    assert m.seq.bookings(a)[0].status == "delivered"

    # cc exercises 1; the supplier defaults: the escrow goes back
    bid2 = m.run(c.Exercise, actor=cc, symbol=sym, quantity=1).data["booking_ids"][0]
    m.run(c.MarkSupplierDefault, actor=op, booking_id=bid2)
    assert m.cash(cc)["available"] == 1_000_000
    m.run(c.MarkSupplierDefault, actor=op, booking_id=bid2, expect=4004)

    # past the deadline: no exercise; expiry releases the rest
    m.ts = DEADLINE_45
    m.run(c.Exercise, actor=b, symbol=sym, quantity=1, expect=4002)
    r = m.run(c.RunExpiry)
    assert r.data["expired"] == [sym]
    assert m.seq.instrument(sym).status == "settled"
    assert m.pos(b, sym) == 0 and m.pos(supplier, sym) == 0
    cap = m.seq.capacity(supplier)[0]
    assert (cap.locked, cap.booked) == (0, 200)
    assert m.seq.open_orders(supplier) == []
    again = m.run(c.RunExpiry)
    assert again.data == {"expired": [], "auto_confirmed_booking_ids": []}
    assert [e for e in again.events] == []
    m.place(b, sym, "buy", 500, 1, expect=4001)


def test_booking_auto_confirms_after_grace(market):
    m = market
    supplier = m.account("supplier", cash=10_000)
    a = m.account("creator", cash=1_000_000)
    m.register_capacity(supplier, 100)
    sym = m.list_cap(strike=12, units=100)
    m.place(supplier, sym, "sell", 500, 1)
    m.place(a, sym, "buy", 500, 1)
    bid = m.run(c.Exercise, actor=a, symbol=sym, quantity=1).data["booking_ids"][0]
    m.ts = W45_END + m.seq.config.booking_grace_ms - 10
    assert m.run(c.RunExpiry).data["auto_confirmed_booking_ids"] == []
    m.ts = W45_END + m.seq.config.booking_grace_ms
    r = m.run(c.RunExpiry)
    assert r.data["auto_confirmed_booking_ids"] == [bid]
    (bc,) = [e for e in r.events if isinstance(e, BookingChanged)]
    assert bc.status == "delivered" and bc.released_to_supplier == 1200
    assert m.cash(supplier)["available"] == 10_000 + 500 - 5 + 1200


def test_assignment_is_oldest_short_first(market):
    m = market
    s1 = m.account("supplier", cash=10_000)
    s2 = m.account("supplier", cash=10_000)
    a = m.account("creator", cash=10_000_000)
    for s in (s1, s2):
        m.register_capacity(s, 1000)
    sym = m.list_cap(strike=12, units=100)
    m.place(s2, sym, "sell", 500, 2)
    m.place(a, sym, "buy", 500, 2)  # s2's short is the oldest
    m.place(s1, sym, "sell", 500, 3)
    m.place(a, sym, "buy", 500, 3)
    r = m.run(c.Exercise, actor=a, symbol=sym, quantity=3)
    bookings = [e for e in r.events if isinstance(e, BookingChanged)]
    assert [(b.supplier_id, b.units) for b in bookings] == [(s2, 200), (s1, 100)]
    assert m.pos(s2, sym) == 0 and m.pos(s1, sym) == -2


def _ink_prices(m, feed, prices):
    for ts, price in prices:
        m.ts = ts - 1
        m.run(c.PublishIndexPrice, actor=feed, index="INK-BLACK-SPECIAL", price=price)


def test_material_call_life(market):
    m = market
    feed = m.account("index_feed")
    writer = m.account("market_maker", cash=1_000_000)
    a = m.account("creator", cash=100_000)
    b = m.account("creator", cash=100_000)
    d = m.account("creator", cash=100_000)
    sym = m.list_mat(strike=8000, cap=9600, units=10)
    assert sym == "MAT-INK-BLACK-SPECIAL-20261101-K8000-C9600"
    # writing 3 contracts locks (9600 - 8000) * 10 = 16,000 fen each + fees
    m.place(writer, sym, "sell", 300, 3)
    assert m.cash(writer)["locked"] == 3 * 16_000 + 3 * 10
    m.place(a, sym, "buy", 300, 2)
    assert m.pos(writer, sym) == -2
    assert m.cash(writer)["locked"] == 3 * 16_000 + 1 * 10  # the resting one still covered
    m.place(a, sym, "buy", 300, 1)
    assert m.cash(writer)["locked"] == 3 * 16_000
    m.place(a, sym, "sell", 350, 1)  # resell
    m.place(b, sym, "buy", 350, 1)
    m.run(c.TransferPosition, actor=a, to_account_id=d, symbol=sym, quantity=1)
    m.run(c.DeclineAutoExercise, actor=d, symbol=sym)
    m.run(c.DeclineAutoExercise, actor=writer, symbol=sym, expect=4003)
    # index: 9000 from before the window, 9400 for the last 2 days of the 5-day window
    start = MAT_EXPIRY - 5 * DAY
    _ink_prices(m, feed, [(start - DAY, 9000), (MAT_EXPIRY - 2 * DAY, 9400)])
    assert m.seq.estimated_settlement_price(sym) == 9000
    m.ts = MAT_EXPIRY
    r = m.run(c.RunExpiry)
    (sp,) = [e for e in r.events if isinstance(e, SettlementPriceSet)]
    assert sp.price == (9000 * 3 + 9400 * 2) // 5  # 9160
    payoff = (9160 - 8000) * 10
    # a and b hold 1 each and are paid; d declined
    assert m.cash(a)["available"] == 100_000 - 900 - 30 + 350 - 5 + payoff
    assert m.cash(a)["locked"] == 0
    assert m.cash(b)["available"] == 100_000 - 350 - 10 + payoff
    assert m.cash(d)["available"] == 100_000
    assert m.cash(writer) == {"available": 1_000_000 + 900 - 15 - 2 * payoff, "locked": 0}
    assert m.seq.instrument(sym).status == "settled"


def test_material_call_out_of_the_money_releases_everything(market):
    m = market
    feed = m.account("index_feed")
    writer = m.account("market_maker", cash=1_000_000)
    a = m.account("creator", cash=100_000)
    sym = m.list_mat(strike=8000, cap=9600, units=10)
    m.place(writer, sym, "sell", 300, 2)
    m.place(a, sym, "buy", 300, 2)
    _ink_prices(m, feed, [(MAT_EXPIRY - 10 * DAY, 7000)])
    m.ts = MAT_EXPIRY
    m.run(c.RunExpiry)
    assert m.cash(writer) == {"available": 1_000_000 + 600 - 10, "locked": 0}
    assert m.pos(a, sym) == 0


def test_capacity_swap_life(market):
    m = market
    s = m.account("supplier", cash=10_000)
    a = m.account("creator", cash=1_000_000)
    b = m.account("creator", cash=1_000_000)
    m.register_capacity(s, 1000)
    m.run(
        c.RegisterCapacity,
        actor=s,
        process="notebook-a5-print",
        window_start=W46_START,
        window_end=W46_END,
        units=1000,
    )
    early = m.list_cap(strike=12, units=100)
    late = m.list_cap(strike=12, units=100, window=(W46_START, W46_END), deadline=W46_START - DAY)
    swp = m.list_swap(early, late)
    assert swp == "SWP-NOTEBOOK-A5-PRINT-2026W45-K12~NOTEBOOK-A5-PRINT-2026W46-K12"
    m.place(s, early, "sell", 500, 2)
    m.place(a, early, "buy", 500, 2)
    m.place(s, late, "sell", 400, 2)
    m.place(b, late, "buy", 400, 2)
    # a (holds early) buys the swap: gives early, receives late; b sells it: gives late
    m.place(a, swp, "buy", 50, 3, expect=2003)  # holds only 2 early
    m.place(b, swp, "sell", -20, 1)  # b pays up to 20 to swap
    assert m.seq.positions(b)[0].position == 2
    m.run(c.TransferPosition, actor=b, to_account_id=a, symbol=late, quantity=2, expect=2003)
    r = m.place(a, swp, "buy", 30, 1)
    (t,) = [e for e in r.events if isinstance(e, TradeExecuted)]
    assert t.price == -20  # the maker's price: a receives 20
    assert (m.pos(a, early), m.pos(a, late), m.pos(b, early), m.pos(b, late)) == (1, 1, 1, 1)
    assert m.pos(a, swp) == 0
    assert m.cash(a)["available"] == 1_000_000 - 1000 - 20 + 20 - 10
    # a swap order resting when the legs expire is cancelled first
    m.place(a, swp, "buy", 0, 1)
    m.ts = DEADLINE_45
    r = m.run(c.RunExpiry)
    assert r.data["expired"] == [swp, early]
    assert m.seq.open_orders(a) == []
    m.ts = W46_START - DAY
    m.run(c.RunExpiry)
    assert m.seq.instrument(late).status == "settled"


def test_transfer_to_a_short_supplier_releases_its_capacity(market):
    m = market
    s = m.account("supplier", cash=10_000)
    a = m.account("creator", cash=100_000)
    m.register_capacity(s, 500)
    sym = m.list_cap(strike=12, units=100)
    m.place(s, sym, "sell", 500, 3)
    m.place(a, sym, "buy", 500, 3)
    assert m.seq.capacity(s)[0].locked == 300
    m.run(c.TransferPosition, actor=a, to_account_id=s, symbol=sym, quantity=2)
    assert m.pos(s, sym) == -1 and m.seq.capacity(s)[0].locked == 100


def test_maker_rebate(book_factory):
    from exchange.config import ExchangeConfig

    from .conftest import Market

    m = Market(book_factory, ExchangeConfig(taker_fee=10, maker_fee=-3, fat_finger_percent=0))
    mm = m.account("market_maker", cash=1_000_000)
    t = m.account("market_maker", cash=1_000_000)
    sym = m.list_mat()
    m.place(mm, sym, "sell", 300, 2)
    r = m.place(t, sym, "buy", 300, 2)
    (trade,) = [e for e in r.events if isinstance(e, TradeExecuted)]
    assert (trade.taker_fee, trade.maker_fee) == (20, -6)
    assert m.cash(mm)["available"] == 1_000_000 - 2 * 16_000 + 600 + 6
    assert m.seq.system_balances()[FEES] == 14
