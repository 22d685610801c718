"""Instruments: their terms, status and symbol.

Symbol scheme (derived from the terms, so the same terms can not be listed twice):

- CAP: ``CAP-<PROCESS>-<WINDOW>-K<strike>``, e.g. ``CAP-NOTEBOOK-A5-PRINT-2026W45-K1200``.
  PROCESS is the process name upper-cased; WINDOW is ``<ISO year>W<ISO week>`` when the delivery
  window is exactly one ISO week (Monday 00:00 UTC to the next Monday 00:00 UTC), otherwise
  ``<YYYYMMDD>-<YYYYMMDD>`` (first and last UTC day of the window). The strike is fen per unit.
- MAT: ``MAT-<INDEX>-<YYYYMMDD of expiry>-K<strike>-C<cap>``,
  e.g. ``MAT-INK-BLACK-SPECIAL-20261101-K8000-C9600``.
- SWP: ``SWP-<give symbol without "CAP-">~<receive symbol without "CAP-">``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import msgspec

from exchange.commands import CapacityOptionTerms, CapacitySwapTerms, InstrumentTerms, MaterialCallTerms


class InstrumentKind(StrEnum):
    """What an instrument is; its value is the symbol's prefix and the terms' tag (commands.py)."""

    CAP = "CAP"  # capacity option: the right to book a supplier's capacity (physically settled)
    MAT = "MAT"  # material call: cash-settled on an index's TWAP, payoff capped
    SWP = "SWP"  # capacity swap: one CAP leg exchanged for another, settled on the trade


# The members as module constants: the hot path compares kinds per order and per fill, and an
# Enum class attribute lookup costs about 50 ns on Python 3.11, a module global a few.
CAPACITY_OPTION = InstrumentKind.CAP
MATERIAL_CALL = InstrumentKind.MAT
CAPACITY_SWAP = InstrumentKind.SWP


class Status:
    PENDING = "pending"
    TRADING = "trading"
    HALTED = "halted"
    EXPIRED = "expired"
    SETTLED = "settled"


class Instrument(msgspec.Struct, kw_only=True):
    """One listed instrument. Prices in fen per contract; quantities in contracts.

    `collateral_per_contract`: for MAT the fen a writer locks per short contract
    ((cap - strike) * units_per_contract); for CAP the production units per contract; 0 for SWP.
    `capacity_key`: for CAP the key of the suppliers' capacity that backs a short."""

    symbol: str
    instrument_id: int
    kind: InstrumentKind
    terms: InstrumentTerms
    tick: int
    lot: int
    min_price: int
    max_price: int
    trading_start: int
    expiry: int
    status: str
    listed_at: int
    last_trade_time: int | None = None
    last_trade_price: int | None = None  # fen per contract; the fat-finger band's reference
    settlement_price: int | None = None
    collateral_per_contract: int = 0
    capacity_key: str = ""


def _day(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC)


def format_utc(ms: int) -> str:
    """A time for people: "2026-11-02 00:00 UTC" (seconds only when not zero)."""
    moment = _day(ms)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment.second else f"{moment:%Y-%m-%d %H:%M} UTC"


def window_tag(window_start: int, window_end: int) -> str:
    start = _day(window_start)
    iso = start.isocalendar()
    if (
        window_start % 1000 == 0
        and start.weekday() == 0
        and start.hour == start.minute == start.second == 0
        and window_end - window_start == 7 * 24 * 3600 * 1000
    ):
        return f"{iso.year}W{iso.week:02d}"
    last = _day(window_end - 1)
    return f"{start:%Y%m%d}-{last:%Y%m%d}"


def capacity_key(supplier_id: int, process: str, window_start: int, window_end: int) -> str:
    return f"{supplier_id}|{process}|{window_start}|{window_end}"


def derive_symbol(terms: InstrumentTerms, expiry: int) -> str:
    if isinstance(terms, CapacityOptionTerms):
        window = window_tag(terms.window_start, terms.window_end)
        return f"{CAPACITY_OPTION}-{terms.process.upper()}-{window}-K{terms.strike}"
    if isinstance(terms, MaterialCallTerms):
        return f"{MATERIAL_CALL}-{terms.index.upper()}-{_day(expiry):%Y%m%d}-K{terms.strike}-C{terms.cap}"
    assert isinstance(terms, CapacitySwapTerms)
    leg_prefix = f"{CAPACITY_OPTION}-"
    give, receive = terms.give_symbol.removeprefix(leg_prefix), terms.receive_symbol.removeprefix(leg_prefix)
    return f"{CAPACITY_SWAP}-{give}~{receive}"


def kind_of(terms: InstrumentTerms) -> InstrumentKind:
    if isinstance(terms, CapacityOptionTerms):
        return CAPACITY_OPTION
    if isinstance(terms, MaterialCallTerms):
        return MATERIAL_CALL
    return CAPACITY_SWAP
