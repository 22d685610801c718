"""After the trade: capacity, exercise and bookings. RegisterCapacity, Exercise,
DeclineAutoExercise, ConfirmBooking, MarkSupplierDefault; `deliver_booking` serves RunExpiry's
auto-confirmation too.

CAP exercise of q contracts by a holder (free long >= q, before `exercise_deadline`):
`strike * units_per_contract * q` fen move from the holder's available cash to `exchange:escrow`;
the shorts are assigned oldest first (risk.Risk.assign_shorts); each assigned supplier's short
shrinks by its k contracts, the k * units_per_contract capacity units it had locked become booked,
and one booking (confirmed_pending) is created per assigned supplier.

Booking milestones (exchange/bookings.py): the supplier confirms -> booking_confirm_release_percent
of the escrow (rounded down to the fen) goes to the supplier; the creator confirms delivery (or
RunExpiry auto-confirms it) -> the rest. An operator's MarkSupplierDefault refunds the escrow still
held to the creator.
"""

from __future__ import annotations

from exchange import commands as cmd
from exchange.accounts import Role, is_operator
from exchange.bookings import Booking, BookingStatus
from exchange.capacity import Capacity
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.events import AutoExerciseDeclined
from exchange.handlers.require import (
    require_account,
    require_actor,
    require_instrument,
    require_not_expired,
    require_operator,
)
from exchange.instruments import CAPACITY_OPTION, MATERIAL_CALL, Status, capacity_key, format_utc
from exchange.ledger import AVAILABLE, ESCROW, Ledger
from exchange.results import Reject, ResultCode
from exchange.risk import Risk
from exchange.state import State


class LifecycleHandlers:
    """Capacity goes in (RegisterCapacity); exercise turns longs into bookings backed by escrow;
    the bookings' milestones pay the escrow out."""

    __slots__ = ("_state", "_config", "_effects", "_ledger", "_risk")

    def __init__(
        self, state: State, config: ExchangeConfig, effects: Effects, ledger: Ledger, risk: Risk
    ) -> None:
        self._state = state
        self._config = config
        self._effects = effects
        self._ledger = ledger
        self._risk = risk

    def register_capacity(self, c: cmd.RegisterCapacity) -> dict[str, object]:
        state = self._state
        supplier = require_account(state, c.actor_id)
        if supplier.role != Role.SUPPLIER:
            raise Reject(ResultCode.NOT_PERMITTED, "only suppliers register capacity")
        if not c.process or "|" in c.process or c.window_start >= c.window_end or c.units <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "process, window_start < window_end, units > 0")
        if c.window_end <= c.timestamp:
            raise Reject(
                ResultCode.INVALID_FIELD,
                f"window_end {format_utc(c.window_end)} is not after the exchange's time "
                f"{format_utc(c.timestamp)}: the window has ended",
            )
        key = capacity_key(supplier.account_id, c.process, c.window_start, c.window_end)
        cap = state.capacity.get(key)
        if cap is None:
            cap = state.capacity[key] = Capacity(
                supplier_id=supplier.account_id,
                process=c.process,
                window_start=c.window_start,
                window_end=c.window_end,
            )
        cap.registered += c.units
        self._effects.dirty_capacity[id(cap)] = cap
        return {}

    def exercise(self, c: cmd.Exercise) -> dict[str, list[int]]:
        state = self._state
        risk = self._risk
        holder = require_account(state, c.actor_id)
        inst = require_instrument(state, c.symbol)
        if inst.kind != CAPACITY_OPTION:
            raise Reject(ResultCode.NOT_EXERCISABLE, f"{inst.symbol} is not a capacity option")
        if inst.status not in (Status.TRADING, Status.HALTED, Status.PENDING):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        terms = inst.terms
        assert isinstance(terms, cmd.CapacityOptionTerms)
        if c.timestamp >= terms.exercise_deadline:
            raise Reject(ResultCode.PAST_DEADLINE, "the exercise deadline has passed")
        if c.quantity <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "quantity must be > 0")
        pos = risk.find_position(holder.account_id, inst.symbol)
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
        effects = self._effects
        risk.remove_free_long(holder.account_id, inst, c.quantity)
        booking_ids = []
        for spos, k in risk.assign_shorts(inst, c.quantity):
            units = k * units_per_contract
            spos.position += k
            spos.cover -= k  # the locked units become booked, not free
            cap = risk.supplier_capacity(spos.account_id, inst)
            assert cap is not None, "a supplier's short is backed by its capacity"
            cap.locked -= units
            cap.booked += units
            effects.dirty_capacity[id(cap)] = cap
            effects.dirty_positions[id(spos)] = spos
            bid = state.next_booking_id
            state.next_booking_id = bid + 1
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
            state.bookings[bid] = booking
            self._ledger.user_to_system(
                holder, AVAILABLE, ESCROW, booking.escrow_total, f"booking {bid} escrow"
            )
            effects.dirty_bookings[bid] = booking
            booking_ids.append(bid)
        return {"booking_ids": booking_ids}

    def decline_auto_exercise(self, c: cmd.DeclineAutoExercise) -> dict[str, object]:
        state = self._state
        account = require_account(state, c.actor_id)
        inst = require_instrument(state, c.symbol)
        if inst.kind != MATERIAL_CALL:
            raise Reject(ResultCode.NOT_EXERCISABLE, f"{inst.symbol} is not a material call")
        require_not_expired(inst)
        pos = self._risk.find_position(account.account_id, inst.symbol)
        if pos is None or pos.position <= 0:
            raise Reject(ResultCode.NOT_EXERCISABLE, "no long position")
        pos.decline_auto_exercise = True
        self._effects.events.append(AutoExerciseDeclined(account_id=account.account_id, symbol=inst.symbol))
        return {}

    def confirm_booking(self, c: cmd.ConfirmBooking) -> dict[str, int]:
        state = self._state
        actor = require_actor(state, c.actor_id)
        booking = state.bookings.get(c.booking_id)
        if booking is None:
            raise Reject(ResultCode.UNKNOWN_BOOKING, f"unknown booking {c.booking_id}")
        operator = is_operator(c.actor_id, actor)
        if c.milestone == "confirmed":
            if c.actor_id != booking.supplier_id and not operator:
                raise Reject(ResultCode.NOT_PERMITTED, "the booking's supplier confirms")
            if booking.status != BookingStatus.CONFIRMED_PENDING:
                raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
            amount = booking.escrow_total * self._config.booking_confirm_release_percent // 100
            self._ledger.system_to_user(
                ESCROW,
                state.accounts[booking.supplier_id],
                amount,
                f"booking {booking.booking_id} confirmed",
            )
            booking.released_to_supplier += amount
            booking.status = BookingStatus.CONFIRMED
            booking.updated_at = c.timestamp
            self._effects.dirty_bookings[booking.booking_id] = booking
        elif c.milestone == "delivered":
            if c.actor_id != booking.creator_id and not operator:
                raise Reject(ResultCode.NOT_PERMITTED, "the booking's creator confirms delivery")
            if booking.status != BookingStatus.CONFIRMED:
                raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
            self.deliver_booking(booking)
        else:
            raise Reject(ResultCode.INVALID_FIELD, "milestone is 'confirmed' or 'delivered'")
        return {"booking_id": booking.booking_id}

    def mark_supplier_default(self, c: cmd.MarkSupplierDefault) -> dict[str, int]:
        state = self._state
        require_operator(state, c.actor_id)
        booking = state.bookings.get(c.booking_id)
        if booking is None:
            raise Reject(ResultCode.UNKNOWN_BOOKING, f"unknown booking {c.booking_id}")
        if booking.status not in (BookingStatus.CONFIRMED_PENDING, BookingStatus.CONFIRMED):
            raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
        refund = booking.escrow_held
        self._ledger.system_to_user(
            ESCROW, state.accounts[booking.creator_id], refund, f"booking {booking.booking_id} default"
        )
        booking.refunded_to_creator += refund
        booking.status = BookingStatus.DEFAULTED
        booking.updated_at = c.timestamp
        self._effects.dirty_bookings[booking.booking_id] = booking
        return {"booking_id": booking.booking_id}

    def deliver_booking(self, booking: Booking) -> None:
        """Delivered: the escrow still held goes to the supplier."""
        supplier = self._state.accounts[booking.supplier_id]
        rest = booking.escrow_held
        self._ledger.system_to_user(ESCROW, supplier, rest, f"booking {booking.booking_id} delivered")
        booking.released_to_supplier += rest
        booking.status = BookingStatus.DELIVERED
        booking.updated_at = self._effects.timestamp
        self._effects.dirty_bookings[booking.booking_id] = booking
