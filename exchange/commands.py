"""Immutable commands: the only way anything changes in the exchange.

Every command is a frozen msgspec struct tagged with its class name, so the journal stores it as
JSON and replays it into an identical struct (`encode_command` / `decode_command`). Time is an
input: `timestamp` (milliseconds since the Unix epoch, UTC) is the only clock the sequencer knows.
Commands submitted through the runtime (the API, the demo) leave it out: it defaults to `UNSTAMPED`
and SequencerRuntime.commit stamps every command with its wall clock before it is applied. Whoever
applies commands to a Sequencer directly (replay, tests, tools) sets it. `actor_id` is the account that issues the command (the
authenticated user, an operator, or the exchange's scheduler account).

Units: money in fen (integer minor units); prices in fen per contract (a multiple of the
instrument's tick); quantities in contracts (a multiple of the lot); capacity in production units.
"""

from __future__ import annotations

import msgspec

UNSTAMPED = 0
"""The `timestamp` of a command not stamped yet: the runtime stamps it (SequencerRuntime.commit)."""


class Command(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    # Stamped by the runtime. The default is always encoded (the encoder does not omit defaults),
    # so journal rows are byte-identical to those written when the field had no default.
    timestamp: int = UNSTAMPED
    actor_id: int


# -- ACCOUNTS AND CASH --------------------------------------------------------------------------


class CreateAccount(Command, frozen=True, kw_only=True, tag=True):
    """Open an account. `role` is one of accounts.Role; the result's data holds `account_id`."""

    name: str
    role: str


class Deposit(Command, frozen=True, kw_only=True, tag=True):
    """Operator-recorded cash deposit into `account_id`, in fen."""

    account_id: int
    amount: int


class Withdraw(Command, frozen=True, kw_only=True, tag=True):
    """Operator-recorded cash withdrawal from `account_id`'s available cash, in fen."""

    account_id: int
    amount: int


class TransferCash(Command, frozen=True, kw_only=True, tag=True):
    """Move available cash from the actor to `to_account_id`."""

    to_account_id: int
    amount: int


class TransferPosition(Command, frozen=True, kw_only=True, tag=True):
    """Give `quantity` contracts of the actor's free long position in `symbol` to `to_account_id`."""

    to_account_id: int
    symbol: str
    quantity: int


class SetKillSwitch(Command, frozen=True, kw_only=True, tag=True):
    """Engage (cancel all orders, reject new ones) or reset the kill switch of `account_id`.

    Allowed to the account itself and to operators."""

    account_id: int
    engaged: bool


# -- INSTRUMENTS --------------------------------------------------------------------------------


class CapacityOptionTerms(msgspec.Struct, frozen=True, kw_only=True, tag="CAP"):
    process: str  # certified production process, e.g. "notebook-a5-print"
    window_start: int  # delivery window, ms since epoch, inclusive
    window_end: int  # ms since epoch, exclusive
    strike: int  # fen per production unit
    units_per_contract: int
    exercise_deadline: int  # ms since epoch; American exercise until then


class MaterialCallTerms(msgspec.Struct, frozen=True, kw_only=True, tag="MAT"):
    material: str  # e.g. "special-black-ink"
    index: str  # index name whose prices settle the call, e.g. "INK-BLACK-SPECIAL"
    strike: int  # fen per unit of material
    cap: int  # fen per unit of material; payoff is capped at cap - strike
    units_per_contract: int
    settlement_window_start: int  # ms since epoch; the settlement price is the TWAP from here to expiry


class CapacitySwapTerms(msgspec.Struct, frozen=True, kw_only=True, tag="SWP"):
    give_symbol: str  # the buyer gives this capacity-option leg (and the seller receives it)
    receive_symbol: str  # the buyer receives this leg (and the seller gives it)


InstrumentTerms = CapacityOptionTerms | MaterialCallTerms | CapacitySwapTerms


class ListInstrument(Command, frozen=True, kw_only=True, tag=True):
    """List a new instrument (operators only). The symbol is derived from the terms (instruments.py)."""

    terms: InstrumentTerms
    tick: int
    lot: int
    min_price: int
    max_price: int
    trading_start: int  # ms since epoch; status is `pending` before, `trading` from then on
    expiry: int  # ms since epoch; for CAP this is the exercise deadline


class HaltInstrument(Command, frozen=True, kw_only=True, tag=True):
    symbol: str


class ResumeInstrument(Command, frozen=True, kw_only=True, tag=True):
    symbol: str


# -- ORDERS -------------------------------------------------------------------------------------


class PlaceOrder(Command, frozen=True, kw_only=True, tag=True):
    """Place an order for the actor. `client_order_id` is unique per account (idempotency key).

    side: "buy" | "sell"; order_type: "limit" | "ioc" | "fok" | "post_only" | "market" (price is then
    the protection price); stp: "none" | "cancel_newest" | "cancel_oldest" | "cancel_both"."""

    symbol: str
    client_order_id: str
    side: str
    order_type: str = "limit"
    price: int
    quantity: int
    stp: str = "cancel_newest"


class CancelOrder(Command, frozen=True, kw_only=True, tag=True):
    order_id: int


class AmendOrder(Command, frozen=True, kw_only=True, tag=True):
    """New price and new open quantity of a resting order."""

    order_id: int
    price: int
    quantity: int


class CancelAll(Command, frozen=True, kw_only=True, tag=True):
    """Cancel all of `account_id`'s resting orders (on `symbol` only, if given).

    Allowed to the account itself and to operators."""

    account_id: int
    symbol: str | None = None


# -- CAPACITY, EXERCISE, BOOKINGS ---------------------------------------------------------------


class RegisterCapacity(Command, frozen=True, kw_only=True, tag=True):
    """A supplier (the actor) registers free capacity for a process and delivery window."""

    process: str
    window_start: int
    window_end: int
    units: int


class Exercise(Command, frozen=True, kw_only=True, tag=True):
    """Exercise `quantity` contracts of the actor's long capacity option (until the deadline)."""

    symbol: str
    quantity: int


class DeclineAutoExercise(Command, frozen=True, kw_only=True, tag=True):
    """A material-call holder's contrary instruction: do not auto-exercise at expiry."""

    symbol: str


class ConfirmBooking(Command, frozen=True, kw_only=True, tag=True):
    """milestone "confirmed" (by the supplier: 30% of escrow released) or "delivered" (by the
    creator: the rest released)."""

    booking_id: int
    milestone: str


class MarkSupplierDefault(Command, frozen=True, kw_only=True, tag=True):
    """Operator: the supplier of `booking_id` defaulted; the escrow still held is refunded."""

    booking_id: int


# -- MARKET OPERATIONS --------------------------------------------------------------------------


class PublishIndexPrice(Command, frozen=True, kw_only=True, tag=True):
    """An operator or index-feed account publishes `price` (fen per unit) of `index` at `timestamp`.

    A price further from the index's last one than the band (ExchangeConfig.index_price_band_percent)
    is refused (INDEX_PRICE_BAND) unless `confirm_large_move` says the move is intended. The field
    has a default, so journal rows written before it existed still decode (as False)."""

    index: str
    price: int
    confirm_large_move: bool = False


class RunExpiry(Command, frozen=True, kw_only=True, tag=True):
    """Expire every instrument whose expiry is <= timestamp and auto-confirm due bookings.

    Idempotent: what is already settled is left alone."""


AnyCommand = (
    CreateAccount
    | Deposit
    | Withdraw
    | TransferCash
    | TransferPosition
    | SetKillSwitch
    | ListInstrument
    | HaltInstrument
    | ResumeInstrument
    | PlaceOrder
    | CancelOrder
    | AmendOrder
    | CancelAll
    | RegisterCapacity
    | Exercise
    | DeclineAutoExercise
    | ConfirmBooking
    | MarkSupplierDefault
    | PublishIndexPrice
    | RunExpiry
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyCommand)


def encode_command(command: Command) -> bytes:
    """JSON with a `type` tag; the journal's storage form."""
    return _encoder.encode(command)


def decode_command(data: bytes | str) -> Command:
    return _decoder.decode(data)
