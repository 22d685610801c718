"""Typed models of what the API answers (REST, api/schemas.py; WebSocket, docs/market-data.md).

msgspec Structs, decoded straight from the JSON. Units as everywhere in the exchange: money in fen
(integers), prices in fen per contract (swap prices may be negative), quantities in contracts,
capacity in production units, times in milliseconds since the Unix epoch (UTC). Fields the server
adds later are ignored, so an older SDK keeps working against a newer server.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Model(msgspec.Struct, frozen=True, kw_only=True):
    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


# -- ACCOUNTS ------------------------------------------------------------------------------------


class Account(Model, frozen=True, kw_only=True):
    account_id: int
    username: str
    role: str


class Session(Model, frozen=True, kw_only=True):
    token: str
    account_id: int
    role: str
    expires_at: int


class Me(Model, frozen=True, kw_only=True):
    account_id: int
    username: str | None
    role: str
    scopes: list[str]
    via: str  # "session" | "api_key"
    key_id: str | None = None
    kill_switch: bool = False


class ApiKey(Model, frozen=True, kw_only=True):
    key_id: str
    scopes: list[str]
    label: str = ""
    created_at: int
    revoked_at: int | None = None
    algorithm: str = "hmac-sha256"  # or "ed25519"
    public_key: str | None = None  # ed25519: the registered public key, 64 hex


class ApiKeyCreated(ApiKey, frozen=True, kw_only=True):
    # hmac-sha256: shown once, sign requests with SHA-256(secret); ed25519: None (you hold the key)
    secret: str | None = None


# -- INSTRUMENTS ---------------------------------------------------------------------------------


class CapacityOptionTerms(Model, frozen=True, kw_only=True, tag_field="kind", tag="CAP"):
    process: str
    window_start: int
    window_end: int
    strike: int  # fen per production unit
    units_per_contract: int
    exercise_deadline: int


class MaterialCallTerms(Model, frozen=True, kw_only=True, tag_field="kind", tag="MAT"):
    material: str
    index: str
    strike: int  # fen per unit of material
    cap: int  # fen per unit of material
    units_per_contract: int
    settlement_window_start: int


class CapacitySwapTerms(Model, frozen=True, kw_only=True, tag_field="kind", tag="SWP"):
    give_symbol: str
    receive_symbol: str


Terms = CapacityOptionTerms | MaterialCallTerms | CapacitySwapTerms


class Instrument(Model, frozen=True, kw_only=True):
    symbol: str
    kind: Literal["CAP", "MAT", "SWP"]
    status: str  # pending, trading, halted, expired, settled
    terms: Terms
    contract_size: int
    tick: int
    lot: int
    min_price: int
    max_price: int
    trading_start: int
    expiry: int
    listed_at: int
    last_trade_time: int | None = None
    last_trade_price: int | None = None
    settlement_price: int | None = None

    @property
    def underlying(self) -> str:
        """What market-maker protection groups by: the process of a capacity option, the material
        of a material call. For a swap this is the give leg's symbol; the give leg's process is the
        real underlying (resolve it with the leg's instrument)."""
        terms = self.terms
        if isinstance(terms, CapacityOptionTerms):
            return terms.process
        if isinstance(terms, MaterialCallTerms):
            return terms.material
        return terms.give_symbol


# -- MARKET DATA ---------------------------------------------------------------------------------


class Level(Model, frozen=True, kw_only=True):
    price: int
    quantity: int
    order_count: int


class Book(Model, frozen=True, kw_only=True):
    symbol: str
    last_seq: int  # the book sequence: WebSocket deltas continue from it
    journal_seq: int
    bids: list[Level]  # best (highest) first
    asks: list[Level]  # best (lowest) first


class PublicTrade(Model, frozen=True, kw_only=True):
    trade_id: int
    symbol: str
    price: int
    quantity: int
    taker_side: str
    executed_at: int


class IndexPricePoint(Model, frozen=True, kw_only=True):
    price: int
    published_at: int
    seq: int = 0


class IndexHistory(Model, frozen=True, kw_only=True):
    index: str
    prices: list[IndexPricePoint]  # oldest first


class IndexSummary(Model, frozen=True, kw_only=True):
    index: str
    price: int
    published_at: int
    # the next price publishable without confirm_large_move: band_low..band_high (None: no band)
    band_percent: int = 0
    band_low: int | None = None
    band_high: int | None = None


class Settlement(Model, frozen=True, kw_only=True):
    symbol: str
    index: str
    settlement_window_start: int
    expiry: int
    price: int | None
    final: bool
    status: str


# -- ORDERS --------------------------------------------------------------------------------------


class Order(Model, frozen=True, kw_only=True):
    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: str
    order_type: str
    price: int
    quantity: int
    open_quantity: int
    filled_quantity: int
    status: str  # open, partially_filled, filled, cancelled
    cancel_reason: str | None = None
    created_at: int
    updated_at: int


class OrderAck(Order, frozen=True, kw_only=True):
    seq: int


class CancelAllResult(Model, frozen=True, kw_only=True):
    account_id: int | None = None
    cancelled: int
    seq: int


# -- PORTFOLIO -----------------------------------------------------------------------------------


class Balance(Model, frozen=True, kw_only=True):
    account_id: int
    available: int
    locked: int
    total: int


class BalanceAck(Balance, frozen=True, kw_only=True):
    seq: int


class Position(Model, frozen=True, kw_only=True):
    symbol: str
    position: int  # long > 0, short < 0
    locked: int


class AccountTrade(Model, frozen=True, kw_only=True):
    trade_id: int
    symbol: str
    side: str
    liquidity: str  # maker, taker, both
    price: int
    quantity: int
    fee: int
    order_id: int
    executed_at: int


class LedgerPosting(Model, frozen=True, kw_only=True):
    posting_id: int
    seq: int
    debit_account: str
    credit_account: str
    amount: int
    memo: str = ""


class Booking(Model, frozen=True, kw_only=True):
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


class Capacity(Model, frozen=True, kw_only=True):
    supplier_id: int
    process: str
    window_start: int
    window_end: int
    registered: int
    locked: int
    booked: int
    free: int


class Transfer(Model, frozen=True, kw_only=True):
    transfer_id: int
    seq: int
    from_account_id: int
    to_account_id: int
    asset: str  # cash, position
    symbol: str | None = None
    quantity: int
    transferred_at: int


class ExerciseResult(Model, frozen=True, kw_only=True):
    seq: int
    symbol: str
    quantity: int
    bookings: list[Booking]


class ExpiryResult(Model, frozen=True, kw_only=True):
    seq: int
    ran_at: int
    expired: list[str]
    auto_confirmed_booking_ids: list[int]


class IndexPricePublished(Model, frozen=True, kw_only=True):
    index: str
    price: int
    published_at: int
    seq: int


# -- WEBSOCKET -----------------------------------------------------------------------------------


class Welcome(Model, frozen=True, kw_only=True):
    challenge: str
    server_time: int
    heartbeat_ms: int = 1000
    idle_timeout_ms: int = 30_000
    journal_seq: int = 0


class WsAuth(Model, frozen=True, kw_only=True):
    account_id: int
    role: str
    scopes: list[str]
    via: str


class PlaceResult(Model, frozen=True, kw_only=True):
    """The answer to a WebSocket `place`: the order's state right after the command (None for an
    idempotent repeat, which carries no events)."""

    order_id: int
    client_order_id: str
    seq: int
    status: str | None = None
    open_quantity: int | None = None
    filled_quantity: int | None = None


class OrderRef(Model, frozen=True, kw_only=True):
    """The answer to a WebSocket `cancel` or `amend`: the order and the command's journal seq."""

    order_id: int
    seq: int


class Quote(Model, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of a mass quote. A side without price and quantity is not quoted. Prices in fen per
    contract, quantities in contracts."""

    symbol: str
    bid_price: int | None = None
    bid_quantity: int | None = None
    ask_price: int | None = None
    ask_quantity: int | None = None


class WsError(Model, frozen=True, kw_only=True):
    code: str
    message: str = ""


class QuoteSide(Model, frozen=True, kw_only=True):
    ok: bool
    order_id: int | None = None
    error: WsError | None = None


class QuoteResult(Model, frozen=True, kw_only=True):
    """One entry of a mass quote's answer: `ok` when every side it quoted was placed."""

    symbol: str
    ok: bool
    bid: QuoteSide | None = None
    ask: QuoteSide | None = None
    error: WsError | None = None


class MassQuoteResult(Model, frozen=True, kw_only=True):
    quotes: list[QuoteResult]


class DeadManSwitch(Model, frozen=True, kw_only=True):
    armed: bool
    deadline: int | None = None


class MmpState(Model, frozen=True, kw_only=True):
    underlying: str
    quantity: int
    interval_ms: int
    frozen_ms: int
    frozen: bool
    frozen_until: int | None = None


def convert(data: Any, model: Any) -> Any:
    """Builtins (decoded JSON) into a model, or a list of them (`model` may be `list[X]`)."""
    return msgspec.convert(data, model)
