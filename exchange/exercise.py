"""Exercise of capacity options and assignment of shorts.

Assignment rule (CAP exercise and MAT expiry): shorts are taken oldest first, ordered by
(`Position.short_since` = journal seq of the trade that opened the account's current short,
account id); each short takes as much of the exercised quantity as it holds.

CAP exercise of q contracts by a holder (free long >= q, before `exercise_deadline`):
`strike * units_per_contract * q` fen move from the holder's available cash to `exchange:escrow`;
each assigned supplier's short shrinks by its k contracts, the k * units_per_contract capacity units
it had locked become booked, and one booking (confirmed_pending) is created per assigned supplier.
"""

from __future__ import annotations

from exchange.bookings import Booking
from exchange.commands import Exercise
from exchange.instruments import Instrument, Status
from exchange.ledger import ESCROW
from exchange.results import ResultCode
from exchange.risk import Reject
from exchange.state import Position


class ExerciseMixin:
    def _assign_shorts(self, inst: Instrument, quantity: int) -> list[tuple[Position, int]]:
        shorts = [p for p in self.state.positions.get(inst.symbol, {}).values() if p.position < 0]
        shorts.sort(key=lambda p: (p.short_since, p.account_id))
        assigned = []
        for pos in shorts:
            if not quantity:
                break
            k = min(-pos.position, quantity)
            assigned.append((pos, k))
            quantity -= k
        if quantity:  # pragma: no cover - open interest balances
            raise AssertionError(f"not enough shorts to assign in {inst.symbol}")
        return assigned

    def _exercise(self, c: Exercise) -> dict:
        holder = self._require_account(c.actor_id)
        inst = self._require_instrument(c.symbol)
        if inst.kind != "CAP":
            raise Reject(ResultCode.NOT_EXERCISABLE, f"{inst.symbol} is not a capacity option")
        if inst.status not in (Status.TRADING, Status.HALTED, Status.PENDING):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        terms = inst.terms
        if c.timestamp >= terms.exercise_deadline:
            raise Reject(ResultCode.PAST_DEADLINE, "the exercise deadline has passed")
        if c.quantity <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "quantity must be > 0")
        pos = self._find_position(holder.account_id, inst.symbol)
        free = pos.position - pos.reserved if pos is not None else 0
        if free <= 0:
            raise Reject(ResultCode.NOT_EXERCISABLE, "no free long to exercise")
        if free < c.quantity:
            raise Reject(ResultCode.INSUFFICIENT_POSITION, f"free long {free} < {c.quantity}")
        units_per_contract = terms.units_per_contract
        cost = terms.strike * units_per_contract * c.quantity
        if holder.available < cost:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"strike {cost} > available {holder.available}")
        # -- mutation --
        self._remove_free_long(holder.account_id, inst, c.quantity)
        booking_ids = []
        for spos, k in self._assign_shorts(inst, c.quantity):
            units = k * units_per_contract
            spos.position += k
            spos.cover -= k  # the locked units become booked, not free
            cap = self._supplier_capacity(spos.account_id, inst)
            cap.locked -= units
            cap.booked += units
            self._dirty_capacity[id(cap)] = cap
            self._dirty_positions[id(spos)] = spos
            bid = self.state.next_booking_id
            self.state.next_booking_id = bid + 1
            booking = Booking(
                booking_id=bid,
                symbol=inst.symbol,
                creator_id=holder.account_id,
                supplier_id=spos.account_id,
                process=terms.process,
                window_start=terms.window_start,
                window_end=terms.window_end,
                units=units,
                strike=terms.strike,
                escrow_total=terms.strike * units,
                created_at=c.timestamp,
                updated_at=c.timestamp,
            )
            self.state.bookings[bid] = booking
            self._user_to_system(holder, 0, ESCROW, booking.escrow_total, f"booking {bid} escrow")
            self._dirty_bookings[bid] = booking
            booking_ids.append(bid)
        return {"booking_ids": booking_ids}
