"""Request and response models of the REST API (pydantic v2), with OpenAPI examples.

Units, everywhere: money in fen (1 CNY = 100 fen), prices in fen per contract (a multiple of the
instrument's tick; swap prices may be negative), quantities in contracts (a multiple of the lot),
capacity in production units, times in milliseconds since the Unix epoch (UTC).

Input bounds are the API's edge, not business rules (the sequencer decides those): they keep every
value inside what the journal and the SQL projections can hold (BIGINT columns, names that fit the
symbol columns), so no input can make the store refuse a write.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# -- BOUNDS OF THE API EDGE ---------------------------------------------------------------------

MAX_AMOUNT = 10**15  # fen: 10 trillion CNY; any single amount or price
MAX_QUANTITY = 10**12  # contracts per order (the sequencer's own cap, exchange/handlers/orders.py)
MAX_UNITS = 10**12  # production units
MAX_UNITS_PER_CONTRACT = 10**6
MAX_TIME = 4_102_444_800_000  # 2100-01-01T00:00:00Z, ms
MAX_ID = 2**63 - 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$"  # process, material, index names
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$"
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"


def _plain_digits(value: Any) -> Any:
    """A path or query integer as the URL writes it: ASCII digits with an optional minus, at most
    19 of them (`1_000`, ` 12`, `+5`, `²` or 5,000 digits are refused before anything converts
    them). URL parameters are text by nature, so this is their strictness; JSON bodies take JSON
    integers only (RequestModel)."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("write a whole number in plain digits (at most 19)")
    return value


_DIGITS = re.compile(r"-?[0-9]{1,19}")
UrlInt = Annotated[int, BeforeValidator(_plain_digits)]
"""An integer path or query parameter (see _plain_digits); bounds go in its Path()/Query()."""

Fen = Annotated[int, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="fen")]
NonNegativeFen = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="fen")]
PositiveFen = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="fen, > 0")]
Contracts = Annotated[int, Field(gt=0, le=MAX_QUANTITY, description="contracts, > 0")]
Units = Annotated[int, Field(gt=0, le=MAX_UNITS, description="production units, > 0")]
Millis = Annotated[int, Field(ge=0, le=MAX_TIME, description="ms since the Unix epoch (UTC)")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="letters, digits, . _ -; at most 48")]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, description="an instrument symbol")]

Kind = Literal["CAP", "MAT", "SWP"]
InstrumentStatus = Literal["pending", "trading", "halted", "expired", "settled"]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "ioc", "fok", "post_only", "market"]
StpMode = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]
Scope = Literal["read", "trade", "transfer"]

DAY = 86_400_000
_EXAMPLE_WINDOW = 1_793_577_600_000  # 2026-11-02T00:00:00Z (a Monday): ISO week 2026-W45


# -- REQUESTS ------------------------------------------------------------------------------------


class RequestModel(BaseModel):
    """Every request body: strict types (an integer field takes a JSON integer only, never `true`,
    `"12"`, `"1_000"` or `12.0`; a string field a JSON string only) and no unknown fields (a typo
    such as `quantiy` is refused, not ignored). The WebSocket's order entry validates with the same
    models (api/ws/order_entry.py)."""

    model_config = ConfigDict(strict=True, extra="forbid")


# -- ERRORS -------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    status: int = Field(description="the HTTP status, repeated")
    code: str = Field(description="machine-readable: a results.ResultCode name or an API code")
    message: str = Field(description="for people")


class ErrorOut(BaseModel):
    """The one error shape of the API."""

    error: ErrorBody

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "error": {
                        "status": 409,
                        "code": "INSUFFICIENT_FUNDS",
                        "message": "12010 needed, 5000 available",
                    }
                }
            ]
        }
    }


_ERROR_DESCRIPTIONS = {
    400: "The body could not be read as JSON text (BAD_REQUEST)",
    401: "Not authenticated: missing, unknown, expired or badly signed credentials (UNAUTHENTICATED, "
    "INVALID_CREDENTIALS)",
    403: "Authenticated but not allowed: SCOPE_REQUIRED, SESSION_REQUIRED, NOT_PERMITTED, "
    "ROLE_NOT_ALLOWED, NOT_YOUR_ORDER",
    404: "Unknown object, or one that belongs to another account (UNKNOWN_*, NOT_FOUND)",
    409: "Refused in the current state: risk (INSUFFICIENT_*), lifecycle (INSTRUMENT_NOT_TRADING, "
    "PAST_DEADLINE, ...), duplicates (USERNAME_TAKEN, DUPLICATE_*)",
    422: "Malformed input: VALIDATION_ERROR (shape), INVALID_FIELD and MATCHING_* (the sequencer's checks)",
    429: "Rate limited (RATE_LIMITED); retry after the Retry-After header's seconds",
    503: "The sequencer or its store is unavailable (UNAVAILABLE, STORE_UNAVAILABLE); nothing was applied",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: the error shape for each status it can answer with."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        response: dict[str, Any] = {"model": ErrorOut, "description": _ERROR_DESCRIPTIONS[status]}
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before the next request is allowed",
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = response
    return responses


PUBLIC_ERRORS = error_responses(404, 422, 429, 503)
PRIVATE_ERRORS = error_responses(401, 403, 422, 429, 503)
COMMAND_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429, 503)


# -- ACCOUNTS AND AUTHENTICATION -----------------------------------------------------------------


class RegisterIn(RequestModel):
    username: str = Field(
        min_length=1, max_length=64, description="3-32 of a-z 0-9 _ . - starting with a letter or digit"
    )
    password: str = Field(min_length=1, max_length=1024, description="8 to 128 characters")
    role: str = Field(
        default="creator",
        max_length=32,
        description="one of the roles open to registration (default: creator, supplier, market_maker)",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"username": "inkwell-studio", "password": "correct horse battery", "role": "creator"}
            ]
        }
    }


class AccountOut(BaseModel):
    account_id: int
    username: str
    role: str


class LoginIn(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)

    model_config = {
        "json_schema_extra": {
            "examples": [{"username": "inkwell-studio", "password": "correct horse battery"}]
        }
    }


class SessionOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    account_id: int
    role: str
    expires_at: int = Field(description="ms since epoch")


class MeOut(BaseModel):
    account_id: int
    username: str | None
    role: str
    scopes: list[Scope] = Field(description="what these credentials may do")
    via: Literal["session", "api_key"]
    key_id: str | None
    kill_switch: bool = Field(description="the account's kill switch is engaged: new orders are refused")


class ApiKeyCreateIn(RequestModel):
    scopes: list[Scope] = Field(min_length=1, max_length=3, description="a subset of read, trade, transfer")
    label: str = Field(default="", max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    public_key: str | None = Field(
        default=None,
        min_length=64,
        max_length=64,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="an Ed25519 key: the 32 raw bytes of your public key as 64 hex characters; "
        "sign with the private key (docs/api.md, Signing). Absent: an HMAC key, the secret answered once",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "scopes": ["read", "trade"],
                    "label": "quoting bot",
                    "public_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                },
                {"scopes": ["read"], "label": "hmac reader"},
            ]
        }
    }


class ApiKeyOut(BaseModel):
    key_id: str
    scopes: list[Scope]
    label: str
    created_at: int = Field(description="ms since epoch")
    revoked_at: int | None = Field(description="ms since epoch; a revoked key authenticates nothing")
    algorithm: Literal["hmac-sha256", "ed25519"] = Field(description="how requests are signed")
    public_key: str | None = Field(default=None, description="ed25519: the registered public key (64 hex)")


class ApiKeyCreatedOut(ApiKeyOut):
    secret: str | None = Field(
        description="hmac-sha256: shown once, never again: sign requests with SHA-256(secret) as "
        "the HMAC key; ed25519: null (you hold the private key)"
    )


# -- INSTRUMENTS ---------------------------------------------------------------------------------


class CapacityOptionTermsIn(RequestModel):
    kind: Literal["CAP"]
    process: Name = Field(description="certified production process, e.g. notebook-a5-print")
    window_start: Millis = Field(description="delivery window start, inclusive, ms")
    window_end: Millis = Field(description="delivery window end, exclusive, ms")
    strike: NonNegativeFen = Field(description="fen per production unit")
    units_per_contract: int = Field(gt=0, le=MAX_UNITS_PER_CONTRACT, description="production units")
    exercise_deadline: Millis = Field(description="American exercise until then (ms); also the expiry")


class MaterialCallTermsIn(RequestModel):
    kind: Literal["MAT"]
    material: Name = Field(description="e.g. special-black-ink")
    index: Name = Field(description="the index whose prices settle the call, e.g. INK-BLACK-SPECIAL")
    strike: NonNegativeFen = Field(description="fen per unit of material")
    cap: NonNegativeFen = Field(description="fen per unit of material; the payoff is capped at cap - strike")
    units_per_contract: int = Field(gt=0, le=MAX_UNITS_PER_CONTRACT, description="units of material")
    settlement_window_start: Millis = Field(description="settlement price = index TWAP from here to expiry")


class CapacitySwapTermsIn(RequestModel):
    kind: Literal["SWP"]
    give_symbol: Symbol = Field(description="the buyer gives this capacity-option leg")
    receive_symbol: Symbol = Field(description="the buyer receives this capacity-option leg")


TermsIn = Annotated[
    CapacityOptionTermsIn | MaterialCallTermsIn | CapacitySwapTermsIn, Field(discriminator="kind")
]


class ListInstrumentIn(RequestModel):
    terms: TermsIn
    tick: PositiveFen = Field(description="price increment, fen")
    lot: Contracts = Field(description="quantity increment, contracts")
    min_price: Fen = Field(description="lowest order price, fen per contract")
    max_price: Fen = Field(description="highest order price, fen per contract")
    trading_start: Millis = Field(default=0, description="pending before, trading from then on (ms)")
    expiry: Millis | None = Field(
        default=None,
        description="ms; for CAP it is the exercise deadline (may be omitted), required otherwise",
    )

    @model_validator(mode="after")
    def _expiry_known(self) -> ListInstrumentIn:
        if self.expiry is None and not isinstance(self.terms, CapacityOptionTermsIn):
            raise ValueError("expiry is required for MAT and SWP")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "terms": {
                        "kind": "CAP",
                        "process": "notebook-a5-print",
                        "window_start": _EXAMPLE_WINDOW,
                        "window_end": _EXAMPLE_WINDOW + 7 * DAY,
                        "strike": 1200,
                        "units_per_contract": 100,
                        "exercise_deadline": _EXAMPLE_WINDOW - DAY,
                    },
                    "tick": 10,
                    "lot": 1,
                    "min_price": 10,
                    "max_price": 100_000,
                    "trading_start": 0,
                },
                {
                    "terms": {
                        "kind": "MAT",
                        "material": "special-black-ink",
                        "index": "INK-BLACK-SPECIAL",
                        "strike": 8000,
                        "cap": 9600,
                        "units_per_contract": 10,
                        "settlement_window_start": _EXAMPLE_WINDOW - 8 * DAY,
                    },
                    "tick": 10,
                    "lot": 1,
                    "min_price": 0,
                    "max_price": 16_000,
                    "expiry": _EXAMPLE_WINDOW - DAY,
                },
            ]
        }
    }


class CapacityOptionTermsOut(BaseModel):
    kind: Literal["CAP"]
    process: str
    window_start: int = Field(description="ms, inclusive")
    window_end: int = Field(description="ms, exclusive")
    strike: int = Field(description="fen per production unit")
    units_per_contract: int = Field(description="production units per contract")
    exercise_deadline: int = Field(description="ms")


class MaterialCallTermsOut(BaseModel):
    kind: Literal["MAT"]
    material: str
    index: str
    strike: int = Field(description="fen per unit of material")
    cap: int = Field(description="fen per unit of material")
    units_per_contract: int = Field(description="units of material per contract")
    settlement_window_start: int = Field(description="ms")


class CapacitySwapTermsOut(BaseModel):
    kind: Literal["SWP"]
    give_symbol: str
    receive_symbol: str


TermsOut = Annotated[
    CapacityOptionTermsOut | MaterialCallTermsOut | CapacitySwapTermsOut, Field(discriminator="kind")
]


class InstrumentOut(BaseModel):
    symbol: str
    kind: Kind
    status: InstrumentStatus
    terms: TermsOut
    contract_size: int = Field(description="units per contract (CAP: production units, MAT: material); SWP 1")
    tick: int = Field(description="fen")
    lot: int = Field(description="contracts")
    min_price: int = Field(description="fen per contract")
    max_price: int = Field(description="fen per contract")
    trading_start: int = Field(description="ms")
    expiry: int = Field(description="ms")
    listed_at: int = Field(description="ms")
    last_trade_time: int | None = Field(default=None, description="ms")
    last_trade_price: int | None = Field(default=None, description="fen per contract")
    settlement_price: int | None = Field(
        default=None, description="MAT: the frozen settlement price, fen/unit"
    )


# -- MARKET DATA ---------------------------------------------------------------------------------


class LevelOut(BaseModel):
    price: int = Field(description="fen per contract")
    quantity: int = Field(description="contracts")
    order_count: int


class BookOut(BaseModel):
    symbol: str
    last_seq: int = Field(description="the book's sequence number: WebSocket deltas continue from it")
    journal_seq: int = Field(description="the last journaled command applied when the book was read")
    bids: list[LevelOut] = Field(description="best (highest) first")
    asks: list[LevelOut] = Field(description="best (lowest) first")


class PublicTradeOut(BaseModel):
    trade_id: int
    symbol: str
    price: int = Field(description="fen per contract")
    quantity: int = Field(description="contracts")
    taker_side: Side
    executed_at: int = Field(description="ms")


class IndexPricePoint(BaseModel):
    price: int = Field(description="fen per unit")
    published_at: int = Field(description="ms")
    seq: int = Field(description="journal seq of the publication")


class IndexHistoryOut(BaseModel):
    index: str
    prices: list[IndexPricePoint] = Field(description="oldest first")


class IndexSummaryOut(BaseModel):
    index: str
    price: int = Field(description="the latest price, fen per unit")
    published_at: int = Field(description="ms")
    band_percent: int = Field(
        default=0, description="the index price band: ± this percent of the last price (0: no band)"
    )
    band_low: int | None = Field(
        default=None,
        description="fen per unit: the lowest next price publishable without confirm_large_move "
        "(null: no band)",
    )
    band_high: int | None = Field(
        default=None,
        description="fen per unit: the highest next price publishable without confirm_large_move "
        "(null: no band)",
    )


class SettlementOut(BaseModel):
    symbol: str
    index: str
    settlement_window_start: int = Field(description="ms")
    expiry: int = Field(description="ms")
    price: int | None = Field(
        description="fen per unit: the TWAP so far (estimated) or the frozen settlement price; "
        "null before any index price"
    )
    final: bool = Field(description="true once frozen at expiry")
    status: InstrumentStatus


# -- ORDERS --------------------------------------------------------------------------------------


class PlaceOrderIn(RequestModel):
    """An order, over REST (`POST /orders`) and over the WebSocket (op `place`) alike."""

    symbol: Symbol
    client_order_id: str | None = Field(
        default=None,
        pattern=CLIENT_ORDER_ID_PATTERN,
        description="unique per account; a retry with the same id and the same order returns the first "
        "result. Send one whenever you may need to retry (an UNAVAILABLE answer: outcome unknown); "
        "when absent the server makes one and answers it",
    )
    side: Side
    order_type: OrderType = Field(default="limit", description="market: `price` is the protection price")
    price: Fen = Field(description="fen per contract (swaps may be negative)")
    quantity: Contracts
    stp: StpMode = Field(default="cancel_newest", description="self-trade prevention")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "symbol": "CAP-NOTEBOOK-A5-PRINT-2026W45-K1200",
                    "client_order_id": "web-7f3a9c",
                    "side": "buy",
                    "order_type": "limit",
                    "price": 500,
                    "quantity": 2,
                    "stp": "cancel_newest",
                }
            ]
        }
    }


class AmendOrderIn(RequestModel):
    price: Fen = Field(description="new price, fen per contract")
    quantity: Contracts = Field(description="new open quantity; a reduction at the same price keeps priority")

    model_config = {"json_schema_extra": {"examples": [{"price": 510, "quantity": 1}]}}


class AmendOrderByIdIn(AmendOrderIn):
    """The WebSocket's op `amend` (REST names the order in the path)."""

    order_id: Id


class CancelOrderIn(RequestModel):
    """The WebSocket's op `cancel` (REST names the order in the path)."""

    order_id: Id


class CancelAllIn(RequestModel):
    symbol: Symbol | None = Field(default=None, description="only this instrument's orders")
    account_id: Id | None = Field(default=None, description="operators: another account's orders")

    model_config = {"json_schema_extra": {"examples": [{"symbol": "CAP-NOTEBOOK-A5-PRINT-2026W45-K1200"}]}}


class OrderOut(BaseModel):
    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    price: int = Field(description="fen per contract")
    quantity: int = Field(description="contracts: filled + open + cancelled")
    open_quantity: int = Field(description="contracts resting in the book")
    filled_quantity: int = Field(description="contracts")
    status: Literal["open", "partially_filled", "filled", "cancelled"]
    cancel_reason: str | None
    created_at: int = Field(description="ms")
    updated_at: int = Field(description="ms")


class OrderAckOut(OrderOut):
    seq: int = Field(description="journal seq of the command (a retry returns the first one's)")


class CancelAllOut(BaseModel):
    account_id: int
    cancelled: int = Field(description="orders cancelled")
    seq: int


# -- PORTFOLIO -----------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    account_id: int
    available: int = Field(description="fen, free to use")
    locked: int = Field(description="fen, backing resting orders and written material calls")
    total: int = Field(description="fen, available + locked")


class BalanceAckOut(BalanceOut):
    seq: int


class PositionOut(BaseModel):
    symbol: str
    position: int = Field(description="contracts, long > 0, short < 0")
    locked: int = Field(description="contracts of the long reserved by resting sells and swap orders")


class AccountTradeOut(BaseModel):
    trade_id: int
    symbol: str
    side: Side = Field(description="this account's side")
    liquidity: Literal["maker", "taker", "both"]
    price: int = Field(description="fen per contract")
    quantity: int = Field(description="contracts")
    fee: int = Field(description="fen paid by this account (negative: a rebate)")
    order_id: int = Field(description="this account's order (the taker's when both)")
    executed_at: int = Field(description="ms")


class LedgerPostingOut(BaseModel):
    posting_id: int
    seq: int = Field(description="journal seq of the command that made it")
    debit_account: str = Field(description="the ledger account the amount leaves")
    credit_account: str = Field(description="the ledger account the amount enters")
    amount: int = Field(description="fen, > 0")
    memo: str


class BookingOut(BaseModel):
    booking_id: int
    symbol: str
    creator_id: int
    supplier_id: int
    process: str
    window_start: int = Field(description="ms")
    window_end: int = Field(description="ms")
    units: int = Field(description="production units")
    strike: int = Field(description="fen per unit")
    escrow_total: int = Field(description="fen")
    released_to_supplier: int = Field(description="fen")
    refunded_to_creator: int = Field(description="fen")
    status: Literal["confirmed_pending", "confirmed", "delivered", "defaulted"]
    created_at: int = Field(description="ms")
    updated_at: int = Field(description="ms")


class CapacityOut(BaseModel):
    supplier_id: int
    process: str
    window_start: int = Field(description="ms")
    window_end: int = Field(description="ms")
    registered: int = Field(description="production units")
    locked: int = Field(description="units backing written options")
    booked: int = Field(description="units assigned by exercise")
    free: int = Field(description="registered - locked - booked")


class TransferOut(BaseModel):
    transfer_id: int
    seq: int
    from_account_id: int
    to_account_id: int
    asset: Literal["cash", "position"]
    symbol: str | None = Field(description="null for cash")
    quantity: int = Field(description="fen for cash, contracts for a position")
    transferred_at: int = Field(description="ms")


# -- LIFECYCLE -----------------------------------------------------------------------------------


class ExerciseIn(RequestModel):
    symbol: Symbol
    quantity: Contracts

    model_config = {
        "json_schema_extra": {"examples": [{"symbol": "CAP-NOTEBOOK-A5-PRINT-2026W45-K1200", "quantity": 1}]}
    }


class ExerciseOut(BaseModel):
    seq: int
    symbol: str
    quantity: int = Field(description="contracts exercised")
    bookings: list[BookingOut] = Field(description="one per assigned supplier")


class DeclineIn(RequestModel):
    symbol: Symbol

    model_config = {
        "json_schema_extra": {"examples": [{"symbol": "MAT-INK-BLACK-SPECIAL-20261101-K8000-C9600"}]}
    }


class DeclineOut(BaseModel):
    seq: int
    account_id: int
    symbol: str


class _Recipient(RequestModel):
    to_account_id: Id | None = Field(default=None, description="the receiving account (or to_username)")
    to_username: str | None = Field(default=None, max_length=64, description="the receiving login")

    @model_validator(mode="after")
    def _one_recipient(self) -> _Recipient:
        if (self.to_account_id is None) == (self.to_username is None):
            raise ValueError("give exactly one of to_account_id and to_username")
        return self


class CashTransferIn(_Recipient):
    asset: Literal["cash"]
    amount: PositiveFen


class PositionTransferIn(_Recipient):
    asset: Literal["position"]
    symbol: Symbol
    quantity: Contracts


TransferIn = Annotated[CashTransferIn | PositionTransferIn, Field(discriminator="asset")]
TRANSFER_EXAMPLES = [
    {
        "asset": "position",
        "to_username": "paper-crane",
        "symbol": "CAP-NOTEBOOK-A5-PRINT-2026W45-K1200",
        "quantity": 1,
    },
    {"asset": "cash", "to_account_id": 7, "amount": 50_000},
]


class CapacityIn(RequestModel):
    process: Name
    window_start: Millis = Field(description="inclusive, ms")
    window_end: Millis = Field(description="exclusive, ms")
    units: Units

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "process": "notebook-a5-print",
                    "window_start": _EXAMPLE_WINDOW,
                    "window_end": _EXAMPLE_WINDOW + 7 * DAY,
                    "units": 500,
                }
            ]
        }
    }


class MilestoneIn(RequestModel):
    milestone: Literal["confirmed", "delivered"] = Field(
        description="confirmed: by the supplier (30% of escrow released); delivered: by the creator (the rest)"
    )

    model_config = {"json_schema_extra": {"examples": [{"milestone": "confirmed"}]}}


class KillSwitchIn(RequestModel):
    engaged: bool = Field(
        default=True, description="true: cancel all orders and refuse new ones; false: reset"
    )
    account_id: Id | None = Field(default=None, description="default: your own; operators: any account")

    model_config = {"json_schema_extra": {"examples": [{"engaged": True}]}}


class KillSwitchOut(BaseModel):
    account_id: int
    engaged: bool
    cancelled: int = Field(description="orders cancelled by engaging")
    seq: int


# -- OPERATOR ------------------------------------------------------------------------------------


class ExpiryOut(BaseModel):
    seq: int
    ran_at: int = Field(description="ms: instruments with expiry <= this were settled")
    expired: list[str] = Field(description="symbols settled by this run")
    auto_confirmed_booking_ids: list[int]


class IndexPriceIn(RequestModel):
    index: Name
    price: NonNegativeFen = Field(description="fen per unit of material")
    confirm_large_move: bool = Field(
        default=False,
        description="the move is intended: publish even beyond the band around the index's last "
        "price (`band_low`..`band_high` of GET /index-prices); otherwise 409 INDEX_PRICE_BAND",
    )

    model_config = {"json_schema_extra": {"examples": [{"index": "INK-BLACK-SPECIAL", "price": 8450}]}}


class IndexPriceOut(BaseModel):
    index: str
    price: int = Field(description="fen per unit")
    published_at: int = Field(description="ms (the exchange's time)")
    seq: int


class CashMovementIn(RequestModel):
    account_id: Id
    amount: PositiveFen

    model_config = {"json_schema_extra": {"examples": [{"account_id": 7, "amount": 1_000_000}]}}


AccountRole = Literal["creator", "supplier", "market_maker", "operator", "index_feed"]


class AccountCreateIn(RequestModel):
    """An account with a login, of any role, created by an operator (`POST /operator/accounts`)."""

    username: str = Field(
        min_length=1, max_length=64, description="3-32 of a-z 0-9 _ . - starting with a letter or digit"
    )
    password: str = Field(min_length=1, max_length=1024, description="8 to 128 characters")
    role: AccountRole = Field(description="any role, operator and index_feed included")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"username": "ink-index-feed", "password": "correct horse battery", "role": "index_feed"}
            ]
        }
    }


class AuditOut(BaseModel):
    ok: bool
    journal_seq: int
    sequencer_breaches: list[str] = Field(description="in-memory invariants of the sequencer")
    projection_breaches: list[str] = Field(description="invariants checked in SQL over the projections")
    system_balances: dict[str, int] = Field(description="fen per exchange ledger account")


# -- SYSTEM --------------------------------------------------------------------------------------


class HealthOut(BaseModel):
    ok: bool
    database: str = Field(description="ok, or the error")
    redis: str | None = Field(description="ok, the error, or null when Redis is not configured")
    details: dict[str, Any] = Field(description="the gateway's own report")
