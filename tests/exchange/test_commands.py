"""Every command's effect, and every refusal: a refused command changes nothing."""

from __future__ import annotations

import pytest

from exchange import commands as c
from exchange.events import (
    BalanceChanged,
    BookLevelChanged,
    InstrumentStatusChanged,
    KillSwitchChanged,
    LedgerPosting,
    OrderChanged,
    PositionChanged,
    TradeExecuted,
    TransferDone,
)
from exchange.results import ResultCode as R
from exchange.sequencer import Sequencer

from .conftest import DAY, DEADLINE_45, MAT_EXPIRY, T0, W45_END, W45_START, Market


def _of(result, cls):
    return [e for e in result.events if isinstance(e, cls)]


@pytest.fixture
def world(market):
    """operator 1, supplier 2 (capacity 1000 units, resting sell 2 @ 500), creators 3 and 4 (cash;
    3 holds 1 contract), an exercised booking, a halted MAT and a pending CAP."""
    m = market
    m.op = m.account("operator")
    m.sup = m.account("supplier", cash=100_000)
    m.a = m.account("creator", cash=1_000_000)
    m.b = m.account("creator", cash=1_000_000)
    m.run(
        c.RegisterCapacity,
        actor=m.sup,
        process="notebook-a5-print",
        window_start=W45_START,
        window_end=W45_END,
        units=1000,
    )
    m.cap = m.list_cap(strike=12, units=100)
    m.place(m.sup, m.cap, "sell", 500, 4)
    m.place(m.a, m.cap, "buy", 500, 2)
    m.booking = m.run(c.Exercise, actor=m.a, symbol=m.cap, quantity=1).data["booking_ids"][0]
    m.sup_order = m.seq.open_orders(m.sup)[0].order_id
    m.mat = m.list_mat()
    m.run(c.HaltInstrument, actor=m.op, symbol=m.mat)
    terms = c.CapacityOptionTerms(
        process="pen-line",
        window_start=W45_START,
        window_end=W45_END,
        strike=5,
        units_per_contract=10,
        exercise_deadline=DEADLINE_45,
    )
    m.pending = m.run(
        c.ListInstrument,
        actor=m.op,
        terms=terms,
        tick=10,
        lot=1,
        min_price=0,
        max_price=10_000,
        trading_start=T0 + 10 * DAY,
        expiry=DEADLINE_45,
    ).data["symbol"]
    m.lot5 = m.list_cap(strike=13, units=100, lot=5)
    return m


def _po(m, actor, symbol, side="buy", price=500, quantity=1, **kw):
    return c.PlaceOrder(
        timestamp=m.tick(),
        actor_id=actor,
        symbol=symbol,
        client_order_id=kw.pop("coid", "r1"),
        side=side,
        price=price,
        quantity=quantity,
        **kw,
    )


REJECTIONS = {
    "deposit unknown account": (
        lambda m: c.Deposit(timestamp=m.tick(), actor_id=0, account_id=99, amount=1),
        R.UNKNOWN_ACCOUNT,
    ),
    "unknown actor": (lambda m: _po(m, 99, m.cap), R.UNKNOWN_ACCOUNT),
    "unknown instrument": (lambda m: _po(m, m.b, "NOPE"), R.UNKNOWN_INSTRUMENT),
    "exercise unknown instrument": (
        lambda m: c.Exercise(timestamp=m.tick(), actor_id=m.a, symbol="NOPE", quantity=1),
        R.UNKNOWN_INSTRUMENT,
    ),
    "bad side": (lambda m: _po(m, m.b, m.cap, side="up"), R.INVALID_FIELD),
    "bad order type": (lambda m: _po(m, m.b, m.cap, order_type="stop"), R.INVALID_FIELD),
    "bad stp": (lambda m: _po(m, m.b, m.cap, stp="maybe"), R.INVALID_FIELD),
    "empty client order id": (lambda m: _po(m, m.b, m.cap, coid=""), R.INVALID_FIELD),
    "deposit zero": (
        lambda m: c.Deposit(timestamp=m.tick(), actor_id=m.op, account_id=m.a, amount=0),
        R.INVALID_FIELD,
    ),
    "bad role": (
        lambda m: c.CreateAccount(timestamp=m.tick(), actor_id=0, name="x", role="king"),
        R.INVALID_FIELD,
    ),
    "list tick 0": (
        lambda m: c.ListInstrument(
            timestamp=m.tick(),
            actor_id=m.op,
            terms=c.MaterialCallTerms(
                material="m", index="I", strike=1, cap=2, units_per_contract=1, settlement_window_start=T0
            ),
            tick=0,
            lot=1,
            min_price=0,
            max_price=10,
            trading_start=T0,
            expiry=MAT_EXPIRY,
        ),
        R.INVALID_FIELD,
    ),
    "list cap below strike": (
        lambda m: c.ListInstrument(
            timestamp=m.tick(),
            actor_id=m.op,
            terms=c.MaterialCallTerms(
                material="m", index="I", strike=5, cap=2, units_per_contract=1, settlement_window_start=T0
            ),
            tick=1,
            lot=1,
            min_price=0,
            max_price=10,
            trading_start=T0,
            expiry=MAT_EXPIRY,
        ),
        R.INVALID_FIELD,
    ),
    "swap with unknown leg": (
        lambda m: c.ListInstrument(
            timestamp=m.tick(),
            actor_id=m.op,
            terms=c.CapacitySwapTerms(give_symbol=m.cap, receive_symbol="CAP-X"),
            tick=1,
            lot=1,
            min_price=-10,
            max_price=10,
            trading_start=T0,
            expiry=DEADLINE_45,
        ),
        R.UNKNOWN_INSTRUMENT,
    ),
    "register zero units": (
        lambda m: c.RegisterCapacity(
            timestamp=m.tick(), actor_id=m.sup, process="p", window_start=1, window_end=2, units=0
        ),
        R.INVALID_FIELD,
    ),
    "bad milestone": (
        lambda m: c.ConfirmBooking(timestamp=m.tick(), actor_id=m.sup, booking_id=m.booking, milestone="x"),
        R.INVALID_FIELD,
    ),
    "negative index price": (
        lambda m: c.PublishIndexPrice(timestamp=m.tick(), actor_id=m.op, index="I", price=-1),
        R.INVALID_FIELD,
    ),
    "index price beyond the band": (
        lambda m: c.PublishIndexPrice(
            timestamp=m.tick(), actor_id=m.op, index="INK-BLACK-SPECIAL", price=800_000
        ),
        R.INDEX_PRICE_BAND,
    ),
    "material call on an index never published": (
        lambda m: c.ListInstrument(
            timestamp=m.tick(),
            actor_id=m.op,
            terms=c.MaterialCallTerms(
                material="m",
                index="NO-SUCH-INDEX",
                strike=1,
                cap=2,
                units_per_contract=1,
                settlement_window_start=T0,
            ),
            tick=1,
            lot=1,
            min_price=0,
            max_price=10,
            trading_start=T0,
            expiry=MAT_EXPIRY,
        ),
        R.UNKNOWN_INDEX,
    ),
    "capacity for a window that has ended": (
        lambda m: c.RegisterCapacity(
            timestamp=m.tick(), actor_id=m.sup, process="p", window_start=T0 - 7 * DAY, window_end=T0, units=1
        ),
        R.INVALID_FIELD,
    ),
    "transfer swap-less zero": (
        lambda m: c.TransferPosition(
            timestamp=m.tick(), actor_id=m.a, to_account_id=m.b, symbol=m.cap, quantity=0
        ),
        R.INVALID_FIELD,
    ),
    "creator lists": (
        lambda m: c.HaltInstrument(timestamp=m.tick(), actor_id=m.a, symbol=m.cap),
        R.NOT_PERMITTED,
    ),
    "creator deposits": (
        lambda m: c.Deposit(timestamp=m.tick(), actor_id=m.a, account_id=m.a, amount=5),
        R.NOT_PERMITTED,
    ),
    "creator registers capacity": (
        lambda m: c.RegisterCapacity(
            timestamp=m.tick(), actor_id=m.a, process="p", window_start=1, window_end=2, units=1
        ),
        R.NOT_PERMITTED,
    ),
    "cancel all of another": (
        lambda m: c.CancelAll(timestamp=m.tick(), actor_id=m.a, account_id=m.sup),
        R.NOT_PERMITTED,
    ),
    "kill switch of another": (
        lambda m: c.SetKillSwitch(timestamp=m.tick(), actor_id=m.a, account_id=m.sup, engaged=True),
        R.NOT_PERMITTED,
    ),
    "operator trades": (lambda m: _po(m, m.op, m.cap), R.NOT_PERMITTED),
    "creator confirms for supplier": (
        lambda m: c.ConfirmBooking(
            timestamp=m.tick(), actor_id=m.b, booking_id=m.booking, milestone="confirmed"
        ),
        R.NOT_PERMITTED,
    ),
    "creator publishes index": (
        lambda m: c.PublishIndexPrice(timestamp=m.tick(), actor_id=m.a, index="I", price=1),
        R.NOT_PERMITTED,
    ),
    "duplicate symbol": (
        lambda m: c.ListInstrument(
            timestamp=m.tick(),
            actor_id=m.op,
            terms=m.seq.state.instruments[m.cap].terms,
            tick=10,
            lot=1,
            min_price=0,
            max_price=100,
            trading_start=T0,
            expiry=DEADLINE_45,
        ),
        R.DUPLICATE_SYMBOL,
    ),
    "cancel unknown order": (
        lambda m: c.CancelOrder(timestamp=m.tick(), actor_id=m.a, order_id=999),
        R.UNKNOWN_ORDER,
    ),
    "amend unknown order": (
        lambda m: c.AmendOrder(timestamp=m.tick(), actor_id=m.a, order_id=999, price=1, quantity=1),
        R.UNKNOWN_ORDER,
    ),
    "cancel another's order": (
        lambda m: c.CancelOrder(timestamp=m.tick(), actor_id=m.a, order_id=m.sup_order),
        R.NOT_YOUR_ORDER,
    ),
    "amend another's order": (
        lambda m: c.AmendOrder(timestamp=m.tick(), actor_id=m.a, order_id=m.sup_order, price=500, quantity=1),
        R.NOT_YOUR_ORDER,
    ),
    "unknown booking": (
        lambda m: c.ConfirmBooking(timestamp=m.tick(), actor_id=m.sup, booking_id=99, milestone="confirmed"),
        R.UNKNOWN_BOOKING,
    ),
    "cash to self": (
        lambda m: c.TransferCash(timestamp=m.tick(), actor_id=m.a, to_account_id=m.a, amount=1),
        R.SAME_ACCOUNT,
    ),
    "buy beyond cash": (lambda m: _po(m, m.b, m.cap, price=1000, quantity=1000), R.INSUFFICIENT_FUNDS),
    "withdraw beyond cash": (
        lambda m: c.Withdraw(timestamp=m.tick(), actor_id=m.op, account_id=m.b, amount=10**9),
        R.INSUFFICIENT_FUNDS,
    ),
    "transfer beyond cash": (
        lambda m: c.TransferCash(timestamp=m.tick(), actor_id=m.b, to_account_id=m.a, amount=10**9),
        R.INSUFFICIENT_FUNDS,
    ),
    "exercise beyond cash": (
        lambda m: (
            m.seq.state.accounts[m.a].__setattr__("available", m.seq.state.accounts[m.a].available)
            or c.Exercise(timestamp=m.tick(), actor_id=m.a, symbol=m.cap, quantity=1)
        ),
        None,
    ),
    "write beyond capacity": (
        lambda m: _po(m, m.sup, m.cap, side="sell", quantity=7),
        R.INSUFFICIENT_CAPACITY,
    ),
    "creator sells short": (lambda m: _po(m, m.b, m.cap, side="sell"), R.INSUFFICIENT_POSITION),
    "transfer beyond long": (
        lambda m: c.TransferPosition(
            timestamp=m.tick(), actor_id=m.a, to_account_id=m.b, symbol=m.cap, quantity=2
        ),
        R.INSUFFICIENT_POSITION,
    ),
    "exercise beyond long": (
        lambda m: c.Exercise(timestamp=m.tick(), actor_id=m.a, symbol=m.cap, quantity=2),
        R.INSUFFICIENT_POSITION,
    ),
    "quantity 0": (lambda m: _po(m, m.b, m.cap, quantity=0), R.MATCHING_INVALID_QUANTITY),
    "off tick": (lambda m: _po(m, m.b, m.cap, price=505), R.MATCHING_PRICE_OFF_TICK),
    "out of band": (lambda m: _po(m, m.b, m.cap, price=200_000), R.MATCHING_PRICE_OUT_OF_BAND),
    "notional overflow": (
        lambda m: _po(m, m.b, m.cap, price=100_000, quantity=2**62),
        R.MATCHING_NOTIONAL_OVERFLOW,
    ),
    "quantity too large": (
        lambda m: _po(m, m.b, m.cap, price=0, quantity=10**13),
        R.MATCHING_NOTIONAL_OVERFLOW,
    ),
    "off lot": (lambda m: _po(m, m.b, m.lot5, quantity=3), R.MATCHING_QUANTITY_OFF_LOT),
    "post-only crosses": (
        lambda m: _po(m, m.b, m.cap, price=500, order_type="post_only"),
        R.MATCHING_WOULD_CROSS,
    ),
    "amend off tick": (
        lambda m: c.AmendOrder(
            timestamp=m.tick(), actor_id=m.sup, order_id=m.sup_order, price=501, quantity=1
        ),
        R.MATCHING_PRICE_OFF_TICK,
    ),
    "halted": (lambda m: _po(m, m.b, m.mat, price=100), R.INSTRUMENT_NOT_TRADING),
    "pending": (lambda m: _po(m, m.b, m.pending, price=100), R.INSTRUMENT_NOT_TRADING),
    "exercise a call": (
        lambda m: c.Exercise(timestamp=m.tick(), actor_id=m.a, symbol=m.mat, quantity=1),
        R.NOT_EXERCISABLE,
    ),
    "exercise without long": (
        lambda m: c.Exercise(timestamp=m.tick(), actor_id=m.b, symbol=m.cap, quantity=1),
        R.NOT_EXERCISABLE,
    ),
    "decline without long": (
        lambda m: c.DeclineAutoExercise(timestamp=m.tick(), actor_id=m.b, symbol=m.cap),
        R.NOT_EXERCISABLE,
    ),
    "delivered before confirmed": (
        lambda m: c.ConfirmBooking(
            timestamp=m.tick(), actor_id=m.a, booking_id=m.booking, milestone="delivered"
        ),
        R.BOOKING_STATE,
    ),
}
del REJECTIONS["exercise beyond cash"]


@pytest.mark.parametrize("name", sorted(REJECTIONS))
def test_refused_command_changes_nothing(world, name):
    make, code = REJECTIONS[name]
    command = make(world)
    before = world.seq.state_hash(journal=False)
    seq_before = world.seq.last_seq
    result = world.seq.apply(command)
    assert result.code == code, (result.code_name, result.message)
    assert result.events == ()
    assert result.message
    assert world.seq.last_seq == seq_before + 1
    assert world.seq.state_hash(journal=False) == before
    assert world.seq.audit() == []


def test_past_deadline_and_kill_switch_refusals(world):
    m = world
    m.run(c.SetKillSwitch, actor=m.b, account_id=m.b, engaged=True)
    before = m.seq.state_hash(journal=False)
    assert m.seq.apply(_po(m, m.b, m.cap)).code == R.KILL_SWITCH_ENGAGED
    m.ts = DEADLINE_45
    assert (
        m.seq.apply(c.Exercise(timestamp=m.ts, actor_id=m.a, symbol=m.cap, quantity=1)).code
        == R.PAST_DEADLINE
    )
    assert m.seq.apply(_po(m, m.a, m.cap, coid="late")).code == R.INSTRUMENT_NOT_TRADING
    assert m.seq.state_hash(journal=False) == before


def test_exercise_needs_the_strike_in_cash(market):
    m = market
    sup = m.account("supplier", cash=100_000)
    a = m.account("creator", cash=600)
    m.register_capacity(sup, 100)
    sym = m.list_cap(strike=12, units=100)
    m.place(sup, sym, "sell", 500, 1)
    m.place(a, sym, "buy", 500, 1)
    before = m.seq.state_hash(journal=False)
    m.run(c.Exercise, actor=a, symbol=sym, quantity=1, expect=R.INSUFFICIENT_FUNDS)
    assert m.seq.state_hash(journal=False) == before


def test_idempotent_place_order(world):
    m = world
    cmd = _po(m, m.b, m.cap, price=400, quantity=2, coid="same")
    first = m.do(cmd)
    seq = m.seq.last_seq
    h = m.seq.state_hash()
    retry = c.PlaceOrder(**{**{f: getattr(cmd, f) for f in cmd.__struct_fields__}, "timestamp": m.tick()})
    again = m.seq.apply(retry)  # the first result, nothing applied, no seq used
    assert (again.seq, again.code, again.data, again.events) == (first.seq, 0, first.data, ())
    assert m.seq.last_seq == seq and m.seq.state_hash() == h
    other = _po(m, m.b, m.cap, price=410, quantity=2, coid="same")
    business = m.seq.state_hash(journal=False)
    r = m.do(other, expect=R.DUPLICATE_CLIENT_ORDER_ID)
    assert m.seq.state_hash(journal=False) == business
    assert r.seq == seq + 1
    assert len(m.seq.open_orders(m.b)) == 1
    # a refused order's id is used up too: the retry gets the refusal again
    bad = _po(m, m.b, m.cap, price=505, coid="bad")
    r1 = m.do(bad, expect=R.MATCHING_PRICE_OFF_TICK)
    assert m.seq.apply(bad) == r1
    # another account may use the same id
    m.do(_po(m, m.a, m.cap, price=400, quantity=1, coid="same"))


def test_create_account_deposit_withdraw_transfer(market):
    m = market
    r = m.run(c.CreateAccount, name="ops", role="operator")
    op = r.data["account_id"]
    assert op == 1
    a = m.run(c.CreateAccount, actor=op, name="alice", role="creator").data["account_id"]
    b = m.account("creator")
    r = m.run(c.Deposit, actor=op, account_id=a, amount=1000)
    (p,) = _of(r, LedgerPosting)
    assert (p.debit_account, p.credit_account, p.amount) == ("external", f"user:{a}:available", 1000)
    assert _of(r, BalanceChanged) == [BalanceChanged(account_id=a, available=1000, locked=0)]
    r = m.run(c.TransferCash, actor=a, to_account_id=b, amount=300)
    assert _of(r, TransferDone)[0].quantity == 300
    m.run(c.Withdraw, actor=op, account_id=a, amount=700)
    assert m.cash(a) == {"available": 0, "locked": 0} and m.cash(b)["available"] == 300
    assert m.seq.system_balances()["external"] == -300


def test_order_types_amend_cancel_and_events(market):
    m = market
    mm = m.account("market_maker", cash=1_000_000)
    t = m.account("market_maker", cash=1_000_000)
    sym = m.list_mat()
    r = m.place(mm, sym, "sell", 300, 5)
    oid = r.data["order_id"]
    (oc,) = _of(r, OrderChanged)
    assert (oc.status, oc.open_quantity, oc.side) == ("open", 5, "sell")
    (lv,) = _of(r, BookLevelChanged)
    assert (lv.side, lv.price, lv.quantity, lv.order_count) == ("sell", 300, 5, 1)
    assert _of(r, PositionChanged)[0].position == 0
    # amend down keeps the lock in proportion; amend up locks more collateral
    m.run(c.AmendOrder, actor=mm, order_id=oid, price=300, quantity=3)
    assert m.cash(mm)["locked"] == 3 * 16_010
    m.run(c.AmendOrder, actor=mm, order_id=oid, price=310, quantity=6)
    assert m.cash(mm)["locked"] == 6 * 16_010
    # FOK too big: nothing happens but the order's own life
    r = m.place(t, sym, "buy", 310, 7, order_type="fok")
    assert _of(r, TradeExecuted) == [] and _of(r, OrderChanged)[0].cancel_reason == "fok_not_fillable"
    # IOC partial
    r = m.place(t, sym, "buy", 310, 2, order_type="ioc")
    assert sum(x.quantity for x in _of(r, TradeExecuted)) == 2
    # market with protection, rest cancelled
    r = m.place(t, sym, "buy", 310, 10, order_type="market")
    oc = [e for e in _of(r, OrderChanged) if e.account_id == t][0]
    assert (oc.filled_quantity, oc.status, oc.cancel_reason) == (4, "cancelled", "market_protection")
    assert m.cash(t)["locked"] == 0 and m.pos(t, sym) == 6 and m.pos(mm, sym) == -6
    # post-only rests, self-trade prevention cancels the newest
    m.place(t, sym, "sell", 320, 1, order_type="post_only")
    r = m.place(t, sym, "buy", 320, 1)
    assert _of(r, OrderChanged)[0].cancel_reason == "self_trade"
    # cancel all, then the kill switch
    m.place(t, sym, "buy", 100, 1)
    assert m.run(c.CancelAll, actor=t, account_id=t).data == {"cancelled": 2}
    m.place(t, sym, "buy", 100, 1)
    r = m.run(c.SetKillSwitch, actor=t, account_id=t, engaged=True)
    assert r.data == {"cancelled": 1} and _of(r, KillSwitchChanged)[0].engaged
    m.place(t, sym, "buy", 100, 1, expect=R.KILL_SWITCH_ENGAGED)
    m.run(c.SetKillSwitch, actor=t, account_id=t, engaged=False)
    r = m.place(t, sym, "buy", 100, 1)
    m.run(c.CancelOrder, actor=t, order_id=r.data["order_id"])
    assert m.seq.open_orders(t) == [] and m.cash(t)["locked"] == 0
    # buying back closes the short and releases its cover
    m.place(mm, sym, "buy", 300, 6)
    m.place(t, sym, "sell", 300, 6)
    assert m.pos(mm, sym) == 0 and m.cash(mm)["locked"] == 0


def test_halt_resume_and_pending_start(market):
    m = market
    op = m.account("operator")
    t = m.account("market_maker", cash=1_000_000)
    sym = m.list_mat()
    r = m.run(c.HaltInstrument, actor=op, symbol=sym)
    assert _of(r, InstrumentStatusChanged)[0].status == "halted"
    m.place(t, sym, "buy", 100, 1, expect=R.INSTRUMENT_NOT_TRADING)
    m.run(c.ResumeInstrument, actor=op, symbol=sym)
    m.place(t, sym, "buy", 100, 1)
    m.run(c.PublishIndexPrice, actor=op, index="PAPER", price=3)
    terms = c.MaterialCallTerms(
        material="paper",
        index="PAPER",
        strike=1,
        cap=5,
        units_per_contract=1,
        settlement_window_start=MAT_EXPIRY - DAY,
    )
    later = m.run(
        c.ListInstrument,
        actor=op,
        terms=terms,
        tick=1,
        lot=1,
        min_price=0,
        max_price=100,
        trading_start=m.ts + 100,
        expiry=MAT_EXPIRY,
    ).data["symbol"]
    assert m.seq.instrument(later).status == "pending"
    m.ts += 100
    r = m.place(t, later, "buy", 1, 1)
    assert _of(r, InstrumentStatusChanged)[0].status == "trading"


def test_queries(world):
    m = world
    assert [i.symbol for i in m.seq.instruments()] == sorted([m.cap, m.mat, m.pending, m.lot5])
    bids, asks = m.seq.depth(m.cap, 5)
    assert asks == [(500, 2, 1)] and bids == []
    assert m.seq.order(m.sup_order).open_quantity == 2
    assert m.seq.positions(m.a)[0].position == 1
    assert m.seq.bookings(m.sup)[0].units == 100
    assert m.seq.capacity(m.sup)[0].booked == 100
    assert m.seq.account(m.a).role == "creator"
    assert m.seq.depth("NOPE", 5) is None


def test_default_book_factory_is_the_cython_book():
    from matching_engine.book import OrderBook

    assert Sequencer()._book_factory is OrderBook


def test_market_helper_sanity(book_factory):
    assert isinstance(Market(book_factory).seq, Sequencer)


def test_deposits_never_push_the_exchange_past_int64(market):
    from matching_engine.codes import INT64_MAX

    first = market.account("creator")
    second = market.account("creator")
    market.run(c.Deposit, account_id=first, amount=INT64_MAX - 5)
    before = market.seq.state_hash(journal=False)
    refused = market.run(c.Deposit, R.INVALID_FIELD, account_id=second, amount=6)
    assert "at most" in refused.message
    assert market.seq.state_hash(journal=False) == before
    market.run(c.Deposit, account_id=second, amount=5)


def test_unstamped_commands_encode_like_stamped_zero():
    """`timestamp` defaults to UNSTAMPED (the runtime stamps it); the default is encoded, so the
    journal's bytes are those of an explicit `timestamp=0`."""
    unstamped = c.Deposit(actor_id=1, account_id=2, amount=3)
    assert unstamped.timestamp == c.UNSTAMPED == 0
    assert c.encode_command(unstamped) == c.encode_command(
        c.Deposit(timestamp=0, actor_id=1, account_id=2, amount=3)
    )
    assert (
        c.encode_command(unstamped)
        == b'{"type":"Deposit","timestamp":0,"actor_id":1,"account_id":2,"amount":3}'
    )
    assert c.decode_command(c.encode_command(unstamped)) == unstamped
