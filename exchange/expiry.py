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

from exchange.bookings import OPEN_BOOKING_STATUSES, BookingStatus
from exchange.commands import RunExpiry
from exchange.events import InstrumentStatusChanged, SettlementPriceSet
from exchange.index_prices import twap
from exchange.instruments import Instrument, Status
from exchange.ledger import ESCROW, SETTLEMENT
from matching_engine.codes import EventKind

_CANCELLED = int(EventKind.CANCELLED)


class ExpiryMixin:
    def _run_expiry(self, c: RunExpiry) -> dict:
        self._require_operator(c.actor_id)
        ts = c.timestamp
        due = [i for i in self.state.instruments.values() if i.expiry <= ts and i.status != Status.SETTLED]
        due.sort(key=lambda i: (i.kind != "SWP", i.symbol))
        for inst in due:
            self._expire_instrument(inst)
        for sym in sorted(self.state.instruments):
            inst = self.state.instruments[sym]
            if inst.status == Status.PENDING and inst.trading_start <= ts:
                self._set_status(inst, Status.TRADING)
        confirmed = []
        grace = self.config.booking_grace_ms
        for bid in sorted(self.state.bookings):
            booking = self.state.bookings[bid]
            if booking.status in OPEN_BOOKING_STATUSES and booking.window_end + grace <= ts:
                self._deliver_booking(booking)
                confirmed.append(bid)
        return {"expired": [i.symbol for i in due], "auto_confirmed_booking_ids": confirmed}

    def _set_status(self, inst: Instrument, status: str) -> None:
        inst.status = status
        self._events.append(InstrumentStatusChanged(symbol=inst.symbol, status=status))

    def _expire_instrument(self, inst: Instrument) -> None:
        book = self._books[inst.symbol]
        resting = sorted(o.order_id for o in self.state.orders.values() if o.symbol == inst.symbol)
        for oid in resting:
            o = self.state.orders[oid]
            book_events = book.cancel(oid, o.account_id)
            # CANCELLED (reason USER) then LEVEL: settle as an expiry cancel
            for ev in book_events:
                if ev[1] == _CANCELLED:
                    self._order_cancelled(o, ev[6], "expired")
                else:
                    self._apply_book_events(inst, [ev])
        if inst.status != Status.EXPIRED:
            self._set_status(inst, Status.EXPIRED)
        if inst.kind == "MAT":
            self._settle_material_call(inst)
        positions = self.state.positions.get(inst.symbol, {})
        for aid in sorted(positions):
            pos = positions[aid]
            if pos.position or pos.reserved or pos.cover:
                pos.position = 0
                pos.reserved = 0
                self._set_cover(pos, inst)
                self._dirty_positions[id(pos)] = pos
        self._set_status(inst, Status.SETTLED)

    def _settle_material_call(self, inst: Instrument) -> None:
        terms = inst.terms
        price = twap(self.state.index_prices.get(terms.index, []), terms.settlement_window_start, inst.expiry)
        if price is None:
            return
        inst.settlement_price = price
        self._events.append(SettlementPriceSet(symbol=inst.symbol, price=price))
        if price - terms.strike < inst.tick:
            return
        payoff = min(price - terms.strike, terms.cap - terms.strike) * terms.units_per_contract
        positions = self.state.positions.get(inst.symbol, {})
        holders = [positions[a] for a in sorted(positions) if positions[a].position > 0]
        holders = [p for p in holders if not p.decline_auto_exercise]
        exercised = sum(p.position for p in holders)
        if not exercised:
            return
        accounts = self.state.accounts
        cpc = inst.collateral_per_contract
        for wpos, k in self._assign_shorts(inst, exercised):
            writer = accounts[wpos.account_id]
            wpos.position += k
            wpos.cover -= k
            self._dirty_positions[id(wpos)] = wpos
            self._user_to_system(writer, 1, SETTLEMENT, k * payoff, f"{inst.symbol} settlement")
            self._release(writer, k * (cpc - payoff), f"{inst.symbol} settlement")
        for hpos in holders:
            self._system_to_user(
                SETTLEMENT, accounts[hpos.account_id], hpos.position * payoff, f"{inst.symbol} payoff"
            )
            hpos.position = 0
            self._dirty_positions[id(hpos)] = hpos

    def _deliver_booking(self, booking) -> None:
        supplier = self.state.accounts[booking.supplier_id]
        rest = booking.escrow_held
        self._system_to_user(ESCROW, supplier, rest, f"booking {booking.booking_id} delivered")
        booking.released_to_supplier += rest
        booking.status = BookingStatus.DELIVERED
        booking.updated_at = self._ts
        self._dirty_bookings[booking.booking_id] = booking
