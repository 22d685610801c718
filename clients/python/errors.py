"""The one error the SDK raises for a refusal by the exchange, over REST or WebSocket."""

from __future__ import annotations


class CapexError(Exception):
    """The exchange refused a request.

    `status`: the HTTP status for REST (the API's `{"error": {"status", "code", "message"}}`); None
    for a WebSocket response, which has no status. `code`: the machine code (a result-code name such
    as `INSUFFICIENT_FUNDS`, or an API code such as `RATE_LIMITED`). `retry_after`: seconds, for
    `RATE_LIMITED`."""

    def __init__(self, status: int | None, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ConnectionLost(CapexError):
    """The WebSocket closed before the response to a request came. Whether the request was applied
    is unknown: read the state back (REST) or retry with the same client order id, which the
    exchange answers with the first result."""

    def __init__(self, message: str = "the connection closed before the response came") -> None:
        super().__init__(None, "CONNECTION_LOST", message)
