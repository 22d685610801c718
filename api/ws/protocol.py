"""The wire protocol of `/ws` (docs/market-data.md is its specification): request shapes, error
codes, message encoding and the book checksum.

Requests are JSON objects with `op` and an optional client `id`; every request gets exactly one
`{"type": "response", "id", "op", "ok", "result" | "error"}`. Requests are validated with the REST
API's strict request models (api/schemas.py `RequestModel`: a price is an integer, never "12",
true or 12.0; unknown fields are refused); order entry uses the very models of the REST routes, so
nothing malformed reaches the sequencer and both doors take the same orders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from pydantic import Field, ValidationError

from api.errors import validation_message
from api.schemas import MAX_QUANTITY, Contracts, Fen, RequestModel, Symbol

# The book checksum and the error and close codes are the wire contract shared with the SDK
# (wire/): re-exported for the server and tests.
from wire.book import CHECKSUM_LEVELS as CHECKSUM_LEVELS
from wire.book import book_checksum as book_checksum
from wire.book import checksum_text as checksum_text
from wire.ws import ALREADY_AUTHENTICATED as ALREADY_AUTHENTICATED
from wire.ws import BAD_REQUEST as BAD_REQUEST
from wire.ws import CLOSE_GOING_AWAY as CLOSE_GOING_AWAY
from wire.ws import CLOSE_NORMAL as CLOSE_NORMAL
from wire.ws import CLOSE_POLICY as CLOSE_POLICY
from wire.ws import CLOSE_TRY_AGAIN_LATER as CLOSE_TRY_AGAIN_LATER
from wire.ws import IDLE_TIMEOUT as IDLE_TIMEOUT
from wire.ws import INTERNAL_ERROR as INTERNAL_ERROR
from wire.ws import MMP_TRIGGERED as MMP_TRIGGERED
from wire.ws import NOT_SUBSCRIBED as NOT_SUBSCRIBED
from wire.ws import OUTCOME_UNKNOWN as OUTCOME_UNKNOWN
from wire.ws import RATE_LIMITED as RATE_LIMITED
from wire.ws import SCOPE_REQUIRED as SCOPE_REQUIRED
from wire.ws import SLOW_CONSUMER as SLOW_CONSUMER
from wire.ws import UNAUTHENTICATED as UNAUTHENTICATED
from wire.ws import UNAVAILABLE as UNAVAILABLE
from wire.ws import UNKNOWN_CHANNEL as UNKNOWN_CHANNEL
from wire.ws import UNKNOWN_INSTRUMENT as UNKNOWN_INSTRUMENT
from wire.ws import UNKNOWN_OP as UNKNOWN_OP

RequestId = str | int | None
M = TypeVar("M", bound=RequestModel)

MAX_DEAD_MAN_MS = 600_000
MAX_QUOTES = 200  # entries in one mass quote


class WsError(Exception):
    """A refused request: answered as `{"ok": false, "error": {code, message, ...}}`."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def internal_error() -> WsError:
    """The answer to a request that met a defect of ours (logged with its traceback)."""
    return WsError(
        INTERNAL_ERROR,
        "an internal error of the server (it was logged); whether the request was applied is unknown: "
        "look it up, or retry an order with the same client order id",
    )


# -- REQUESTS -----------------------------------------------------------------------------------


class Subscription(RequestModel):
    channel: Annotated[str, Field(min_length=1, max_length=32)]
    symbol: Symbol | None = None


class Resync(RequestModel):
    symbol: Symbol


class Auth(RequestModel):
    token: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    key: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    # ms since the epoch, as a JSON integer or a string of at most 16 digits (bounded before
    # anything converts it)
    timestamp: (
        Annotated[str, Field(pattern=r"^[0-9]{1,16}$")] | Annotated[int, Field(ge=0, le=10**16)] | None
    ) = None
    signature: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class QuoteEntry(RequestModel):
    """One instrument's two-sided quote; a side needs both its price and its quantity."""

    symbol: Symbol
    bid_price: Fen | None = None
    bid_quantity: Contracts | None = None
    ask_price: Fen | None = None
    ask_quantity: Contracts | None = None


class MassQuote(RequestModel):
    quotes: Annotated[list[QuoteEntry], Field(min_length=1, max_length=MAX_QUOTES)]
    order_type: Literal["post_only", "limit"] = "post_only"


class CancelOnDisconnect(RequestModel):
    enabled: bool


class CancelAllAfter(RequestModel):
    timeout_ms: Annotated[int, Field(ge=0, le=MAX_DEAD_MAN_MS)]


class MmpConfigure(RequestModel):
    underlying: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
    interval_ms: Annotated[int, Field(gt=0, le=86_400_000)]
    frozen_ms: Annotated[int, Field(ge=0, le=86_400_000)]


class MmpReset(RequestModel):
    underlying: Annotated[str, Field(min_length=1, max_length=200)]


_request_decoder = msgspec.json.Decoder(dict[str, Any])


def parse_request(text: str) -> dict[str, Any]:
    """The request object. Raises WsError(BAD_REQUEST) for anything but one JSON object."""
    try:
        return _request_decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise WsError(BAD_REQUEST, f"a request is one JSON object: {exc}") from None
    except RecursionError:
        raise WsError(BAD_REQUEST, "a request is one JSON object: it is nested too deeply") from None


ENVELOPE = frozenset(("op", "id"))


def fields(raw: dict[str, Any], shape: type[M]) -> M:
    """The request's fields (all but `op` and `id`) as `shape`, with the REST API's strict
    validation; a missing, mistyped, out-of-bounds or unknown field is BAD_REQUEST naming it."""
    try:
        return shape.model_validate({k: v for k, v in raw.items() if k not in ENVELOPE})
    except ValidationError as exc:
        raise WsError(BAD_REQUEST, validation_message(exc.errors())) from None


# -- MESSAGES -----------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()


def encode(message: dict[str, Any]) -> str:
    """A message as the text of one frame (encoded once, then shared by every recipient)."""
    return _encoder.encode(message).decode()


def response(request_id: RequestId, op: str, result: Any) -> str:
    return encode({"type": "response", "id": request_id, "op": op, "ok": True, "result": result})


def error_response(request_id: RequestId, op: str | None, error: WsError) -> str:
    return encode({"type": "response", "id": request_id, "op": op, "ok": False, "error": error.body()})


def notice(code: str, message: str) -> str:
    """An unsolicited error (no request): SLOW_CONSUMER, IDLE_TIMEOUT."""
    return encode({"type": "error", "code": code, "message": message})
