"""Immutable domain events: what the sequencer says happened, in order, for each command.

The store projects them into SQL tables (orders, trades, positions, ledger, bookings...) in the same
transaction as the journal entry; the API streams them to WebSocket channels. Events carry the new
absolute state of what they describe (a balance, a position, an order), so a consumer never has to
add deltas up, and replaying them into projections is idempotent.

Units as in commands.py: fen, fen per contract, contracts, production units, ms since epoch.
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pass


class AccountCreated(Event, frozen=True, kw_only=True, tag=True):
    account_id: int
    name: str
    role: str


class BalanceChanged(Event, frozen=True, kw_only=True, tag=True):
    """Cash of a user account after the change: available + locked is what the user owns."""

    account_id: int
    available: int
    locked: int


class LedgerPosting(Event, frozen=True, kw_only=True, tag=True):
    """One balanced movement of `amount` fen from `debit_account` to `credit_account`.

    Ledger account names: "user:<id>:available", "user:<id>:locked", "exchange:fees",
    "exchange:escrow", "exchange:settlement", "external" (the world outside: deposits and
    withdrawals). The sum of all balances, "external" included, is always zero."""

    posting_id: int
    debit_account: str
    credit_account: str
    amount: int
    memo: str


class InstrumentListed(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    kind: str  # an instruments.InstrumentKind: "CAP" | "MAT" | "SWP"
    terms_json: str  # the listing's terms as JSON (commands.InstrumentTerms)
    tick: int
    lot: int
    min_price: int
    max_price: int
    trading_start: int
    expiry: int
    status: str


class InstrumentStatusChanged(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    status: str  # pending | trading | halted | expired | settled


class OrderChanged(Event, frozen=True, kw_only=True, tag=True):
    """The whole state of an order after a change. status: open | partially_filled | filled |
    cancelled; cancel_reason names the codes.CancelReason (lower case) when cancelled."""

    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: str
    order_type: str
    price: int
    quantity: int  # the latest total quantity: filled + open + cancelled
    open_quantity: int
    filled_quantity: int
    status: str
    cancel_reason: str | None = None
    created_at: int
    updated_at: int


class TradeExecuted(Event, frozen=True, kw_only=True, tag=True):
    trade_id: int
    symbol: str
    price: int
    quantity: int
    taker_side: str
    maker_order_id: int
    taker_order_id: int
    maker_account_id: int
    taker_account_id: int
    maker_fee: int
    taker_fee: int
    executed_at: int


class BookLevelChanged(Event, frozen=True, kw_only=True, tag=True):
    """Absolute state of one price level; quantity 0 removes it. book_seq is the engine's sequence
    number of the LEVEL event, which market data uses to detect gaps."""

    symbol: str
    side: str
    price: int
    quantity: int
    order_count: int
    book_seq: int


class PositionChanged(Event, frozen=True, kw_only=True, tag=True):
    """Net position in contracts (long > 0, short < 0) and the part of a long reserved by resting
    sell orders, swap legs or transfers in flight."""

    account_id: int
    symbol: str
    position: int
    locked: int


class CapacityChanged(Event, frozen=True, kw_only=True, tag=True):
    """A supplier's capacity for a process and window, in production units: registered, locked
    (collateral of written options and resting sells) and booked (assigned by exercise)."""

    supplier_id: int
    process: str
    window_start: int
    window_end: int
    registered: int
    locked: int
    booked: int


class BookingChanged(Event, frozen=True, kw_only=True, tag=True):
    """status: confirmed_pending | confirmed | delivered | defaulted. Amounts in fen."""

    booking_id: int
    symbol: str
    creator_id: int
    supplier_id: int
    process: str
    window_start: int
    window_end: int
    units: int
    strike: int
    escrow_total: int
    released_to_supplier: int
    refunded_to_creator: int
    status: str
    created_at: int
    updated_at: int


class IndexPricePublished(Event, frozen=True, kw_only=True, tag=True):
    index: str
    price: int
    published_at: int


class SettlementPriceSet(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    price: int  # fen per unit of material, the frozen TWAP


class TransferDone(Event, frozen=True, kw_only=True, tag=True):
    transfer_id: int
    from_account_id: int
    to_account_id: int
    symbol: str | None  # None for cash
    quantity: int  # contracts, or fen for cash
    transferred_at: int


class KillSwitchChanged(Event, frozen=True, kw_only=True, tag=True):
    account_id: int
    engaged: bool


class AutoExerciseDeclined(Event, frozen=True, kw_only=True, tag=True):
    """A material-call holder filed DeclineAutoExercise: its long is not exercised at expiry."""

    account_id: int
    symbol: str


AnyEvent = (
    AccountCreated
    | BalanceChanged
    | LedgerPosting
    | InstrumentListed
    | InstrumentStatusChanged
    | OrderChanged
    | TradeExecuted
    | BookLevelChanged
    | PositionChanged
    | CapacityChanged
    | BookingChanged
    | IndexPricePublished
    | SettlementPriceSet
    | TransferDone
    | KillSwitchChanged
    | AutoExerciseDeclined
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> Event:
    return _decoder.decode(data)
