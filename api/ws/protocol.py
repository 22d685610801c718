"""The wire protocol of `/ws` (docs/market-data.md is its specification): request shapes, error
codes, message encoding and the book checksum.

Requests are JSON objects with `op` and an optional client `id`; every request gets exactly one
`{"type": "response", "id", "op", "ok", "result" | "error"}`. Requests are validated here with
msgspec structs (strict: a price is an integer, never "12" or 12.0), so nothing malformed reaches
the sequencer.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

import msgspec

INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
SYMBOL = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
CLIENT_ORDER_ID = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RequestId = str | int | None
T = TypeVar("T")

CHECKSUM_LEVELS = 10  # levels per side covered by the book checksum
MAX_DEAD_MAN_MS = 600_000
MAX_QUOTES = 200  # entries in one mass quote

# -- ERROR CODES OF THE WEBSOCKET LAYER ---------------------------------------------------------

BAD_REQUEST = "BAD_REQUEST"
UNKNOWN_OP = "UNKNOWN_OP"
UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ALREADY_AUTHENTICATED = "ALREADY_AUTHENTICATED"
SCOPE_REQUIRED = "SCOPE_REQUIRED"
RATE_LIMITED = "RATE_LIMITED"
MMP_TRIGGERED = "MMP_TRIGGERED"
UNAVAILABLE = "UNAVAILABLE"
SLOW_CONSUMER = "SLOW_CONSUMER"
IDLE_TIMEOUT = "IDLE_TIMEOUT"

# -- CLOSE CODES --------------------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # origin refused, idle timeout, too many refused auth attempts
CLOSE_TRY_AGAIN_LATER = 1013  # slow consumer


class WsError(Exception):
    """A refused request: answered as `{"ok": false, "error": {code, message, ...}}`."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


# -- REQUESTS -----------------------------------------------------------------------------------


class Subscription(msgspec.Struct):
    channel: str
    symbol: SYMBOL | None = None


class Resync(msgspec.Struct):
    symbol: SYMBOL


class Auth(msgspec.Struct):
    token: str | None = None
    key: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    timestamp: str | int | None = None
    signature: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class Place(msgspec.Struct):
    symbol: SYMBOL
    side: str
    price: INT64
    quantity: INT64
    order_type: str = "limit"
    stp: str = "cancel_newest"
    client_order_id: CLIENT_ORDER_ID | None = None


class Cancel(msgspec.Struct):
    order_id: INT64


class Amend(msgspec.Struct):
    order_id: INT64
    price: INT64
    quantity: INT64


class CancelAll(msgspec.Struct):
    symbol: SYMBOL | None = None


class QuoteEntry(msgspec.Struct):
    symbol: SYMBOL
    bid_price: INT64 | None = None
    bid_quantity: INT64 | None = None
    ask_price: INT64 | None = None
    ask_quantity: INT64 | None = None


class MassQuote(msgspec.Struct):
    quotes: Annotated[list[QuoteEntry], msgspec.Meta(min_length=1, max_length=MAX_QUOTES)]
    order_type: str = "post_only"


class CancelOnDisconnect(msgspec.Struct):
    enabled: bool


class CancelAllAfter(msgspec.Struct):
    timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_DEAD_MAN_MS)]


class MmpConfigure(msgspec.Struct):
    underlying: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    quantity: Annotated[int, msgspec.Meta(ge=0, le=10**12)]
    interval_ms: Annotated[int, msgspec.Meta(gt=0, le=86_400_000)]
    frozen_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)]


class MmpReset(msgspec.Struct):
    underlying: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


_request_decoder = msgspec.json.Decoder(dict[str, Any])


def parse_request(text: str) -> dict[str, Any]:
    """The request object. Raises WsError(BAD_REQUEST) for anything but one JSON object."""
    try:
        return _request_decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise WsError(BAD_REQUEST, f"a request is one JSON object: {exc}") from None


def fields(raw: dict[str, Any], shape: type[T]) -> T:
    """The request's fields as `shape`; a missing or mistyped field is BAD_REQUEST."""
    try:
        return msgspec.convert(raw, shape)
    except msgspec.ValidationError as exc:
        raise WsError(BAD_REQUEST, str(exc)) from None


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


# -- BOOK CHECKSUM ------------------------------------------------------------------------------


def checksum_text(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> str:
    """`<ask1>|...|<ask10>;<bid1>|...|<bid10>`, each level `<price>:<quantity>`, best first; the
    callers pass at most CHECKSUM_LEVELS levels per side."""
    ask_text = "|".join(f"{price}:{quantity}" for price, quantity in asks)
    bid_text = "|".join(f"{price}:{quantity}" for price, quantity in bids)
    return f"{ask_text};{bid_text}"


def book_checksum(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> int:
    """CRC-32 (unsigned) of checksum_text: what every book message carries."""
    return zlib.crc32(checksum_text(asks, bids).encode("ascii"))
