"""Bookings: capacity assigned by exercise, paid through escrow with milestone releases.

Status: confirmed_pending (created by exercise) -> confirmed (the supplier confirmed: the configured
percent of the escrow, rounded down to the fen, goes to the supplier) -> delivered (the creator
confirmed delivery, or RunExpiry auto-confirmed it after window_end + booking_grace_ms: the rest goes
to the supplier). An operator's MarkSupplierDefault moves a confirmed_pending or confirmed booking
to defaulted and refunds the escrow still held to the creator.
"""

from __future__ import annotations

import msgspec

from exchange.events import BookingChanged


class BookingStatus:
    CONFIRMED_PENDING = "confirmed_pending"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"
    DEFAULTED = "defaulted"


OPEN_BOOKING_STATUSES = frozenset({BookingStatus.CONFIRMED_PENDING, BookingStatus.CONFIRMED})


class Booking(msgspec.Struct, kw_only=True):
    booking_id: int
    symbol: str
    creator_id: int
    supplier_id: int
    process: str
    window_start: int
    window_end: int
    units: int
    strike: int  # fen per unit
    escrow_total: int  # fen
    released_to_supplier: int = 0
    refunded_to_creator: int = 0
    status: str = BookingStatus.CONFIRMED_PENDING
    created_at: int = 0
    updated_at: int = 0

    @property
    def escrow_held(self) -> int:
        return self.escrow_total - self.released_to_supplier - self.refunded_to_creator

    def event(self) -> BookingChanged:
        return BookingChanged(
            booking_id=self.booking_id,
            symbol=self.symbol,
            creator_id=self.creator_id,
            supplier_id=self.supplier_id,
            process=self.process,
            window_start=self.window_start,
            window_end=self.window_end,
            units=self.units,
            strike=self.strike,
            escrow_total=self.escrow_total,
            released_to_supplier=self.released_to_supplier,
            refunded_to_creator=self.refunded_to_creator,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )
