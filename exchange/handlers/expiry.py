"""Expiry of instruments and auto-confirmation of due bookings (RunExpiry).

RunExpiry(timestamp) takes every instrument with `expiry <= timestamp` that is not `settled`, swaps
first (a swap never outlives its legs, and its resting orders reserve the legs' longs), then by
symbol. For each: resting orders are cancelled in order id order (cancel_reason "expired"), MAT is
settled (see below), every position goes to zero releasing its cover (unexercised CAP longs expire,
writers' capacity is released), and the status goes expired -> settled. Then every open booking with
`window_end + booking_grace_ms <= timestamp` is auto-confirmed as delivered (booking id order).
Pending instruments whose trading_start has come start trading. Run twice: nothing more happens.

MAT settlement: S = TWAP of the index over [settlement_window_start, expiry) (SettlementPriceSet; not
emitted when no index price was ever published before expiry: then nothing is paid). If
S - strike >= tick, every long that did not decline is exercised and paid
min(S - strike, cap - strike) * units_per_contract per contract: the exercised contracts are assigned
to writers oldest short first, each writer pays from its cover lock into `exchange:settlement`, and
the holders are paid from there.
"""

from __future__ import annotations

from collections.abc import Callable

from exchange.bookings import OPEN_BOOKING_STATUSES, Booking
from exchange.books import OrderBook
from exchange.commands import MaterialCallTerms, RunExpiry
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.events import SettlementPriceSet
from exchange.handlers.instruments import set_status
from exchange.handlers.require import require_operator
from exchange.index_prices import twap
from exchange.instruments import CAPACITY_SWAP, MATERIAL_CALL, Instrument, Status
from exchange.ledger import LOCKED, SETTLEMENT, Ledger
from exchange.risk import Risk
from exchange.settlement import Settlement
from exchange.state import State
from matching_engine.codes import EventKind

_CANCELLED = int(EventKind.CANCELLED)


class ExpiryHandlers:
    """`deliver_booking` is the lifecycle handlers' (what a creator's confirmation of delivery
    does)."""

    __slots__ = (
        "_state",
        "_config",
        "_effects",
        "_books",
        "_ledger",
        "_risk",
        "_settlement",
        "_deliver_booking",
    )

    def __init__(
        self,
        state: State,
        config: ExchangeConfig,
        effects: Effects,
        books: dict[str, OrderBook],
        ledger: Ledger,
        risk: Risk,
        settlement: Settlement,
        deliver_booking: Callable[[Booking], None],
    ) -> None:
        self._state = state
        self._config = config
        self._effects = effects
        self._books = books
        self._ledger = ledger
        self._risk = risk
        self._settlement = settlement
        self._deliver_booking = deliver_booking

    def run_expiry(self, c: RunExpiry) -> dict[str, list[str] | list[int]]:
        state = self._state
        require_operator(state, c.actor_id)
        ts = c.timestamp
        due = [i for i in state.instruments.values() if i.expiry <= ts and i.status != Status.SETTLED]
        due.sort(key=lambda i: (i.kind != CAPACITY_SWAP, i.symbol))
        for inst in due:
            self._expire_instrument(inst)
        for sym in sorted(state.instruments):
            inst = state.instruments[sym]
            if inst.status == Status.PENDING and inst.trading_start <= ts:
                set_status(self._effects, inst, Status.TRADING)
        confirmed = []
        grace = self._config.booking_grace_ms
        for bid in sorted(state.bookings):
            booking = state.bookings[bid]
            if booking.status in OPEN_BOOKING_STATUSES and booking.window_end + grace <= ts:
                self._deliver_booking(booking)
                confirmed.append(bid)
        return {"expired": [i.symbol for i in due], "auto_confirmed_booking_ids": confirmed}

    def _expire_instrument(self, inst: Instrument) -> None:
        state = self._state
        settlement = self._settlement
        book = self._books[inst.symbol]
        resting = sorted(o.order_id for o in state.orders.values() if o.symbol == inst.symbol)
        for oid in resting:
            o = state.orders[oid]
            book_events = book.cancel(oid, o.account_id)
            # CANCELLED (reason USER) then LEVEL: settle as an expiry cancel
            for ev in book_events:
                if ev[1] == _CANCELLED:
                    settlement.order_cancelled(o, ev[6], "expired")
                else:
                    settlement.apply_book_events(inst, [ev])
        if inst.status != Status.EXPIRED:
            set_status(self._effects, inst, Status.EXPIRED)
        if inst.kind == MATERIAL_CALL:
            self._settle_material_call(inst)
        positions = state.positions.get(inst.symbol, {})
        dirty_positions = self._effects.dirty_positions
        for aid in sorted(positions):
            pos = positions[aid]
            if pos.position or pos.reserved or pos.cover:
                pos.position = 0
                pos.reserved = 0
                self._risk.set_cover(pos, inst)
                dirty_positions[id(pos)] = pos
        set_status(self._effects, inst, Status.SETTLED)

    def _settle_material_call(self, inst: Instrument) -> None:
        state = self._state
        ledger = self._ledger
        terms = inst.terms
        assert isinstance(terms, MaterialCallTerms)
        price = twap(state.index_prices.get(terms.index, []), terms.settlement_window_start, inst.expiry)
        if price is None:
            return
        inst.settlement_price = price
        self._effects.events.append(SettlementPriceSet(symbol=inst.symbol, price=price))
        if price - terms.strike < inst.tick:
            return
        payoff = min(price - terms.strike, terms.cap - terms.strike) * terms.units_per_contract
        positions = state.positions.get(inst.symbol, {})
        holders = [positions[a] for a in sorted(positions) if positions[a].position > 0]
        holders = [p for p in holders if not p.decline_auto_exercise]
        exercised = sum(p.position for p in holders)
        if not exercised:
            return
        accounts = state.accounts
        dirty_positions = self._effects.dirty_positions
        cpc = inst.collateral_per_contract
        for wpos, k in self._risk.assign_shorts(inst, exercised):
            writer = accounts[wpos.account_id]
            wpos.position += k
            wpos.cover -= k
            dirty_positions[id(wpos)] = wpos
            ledger.user_to_system(writer, LOCKED, SETTLEMENT, k * payoff, f"{inst.symbol} settlement")
            ledger.release(writer, k * (cpc - payoff), f"{inst.symbol} settlement")
        for hpos in holders:
            ledger.system_to_user(
                SETTLEMENT, accounts[hpos.account_id], hpos.position * payoff, f"{inst.symbol} payoff"
            )
            hpos.position = 0
            dirty_positions[id(hpos)] = hpos
