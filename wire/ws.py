"""Codes of the WebSocket protocol (`/ws`, docs/market-data.md) that a client acts on.

Error codes come in a refused request's `{"ok": false, "error": {"code", "message"}}` and in
unsolicited `{"type": "error"}` notices; close codes in the close frame. Refusals of the exchange
itself (`INSUFFICIENT_FUNDS`, `MATCHING_WOULD_CROSS`, ...) are exchange/results.py's names and
reach the client unchanged.
"""

from __future__ import annotations

# -- ERROR CODES OF THE WEBSOCKET LAYER ---------------------------------------------------------

BAD_REQUEST = "BAD_REQUEST"
UNKNOWN_OP = "UNKNOWN_OP"
UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ALREADY_AUTHENTICATED = "ALREADY_AUTHENTICATED"
SCOPE_REQUIRED = "SCOPE_REQUIRED"
RATE_LIMITED = "RATE_LIMITED"  # `retry_after` in seconds
MMP_TRIGGERED = "MMP_TRIGGERED"
UNAVAILABLE = "UNAVAILABLE"  # the sequencer is unreachable; nothing was applied
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"  # handed over, no result came back: it may have been applied
SLOW_CONSUMER = "SLOW_CONSUMER"
IDLE_TIMEOUT = "IDLE_TIMEOUT"
INTERNAL_ERROR = "INTERNAL_ERROR"  # a defect of the server, logged; the request's outcome is unknown

# -- CLOSE CODES --------------------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # origin refused, idle timeout, too many refused auth attempts
CLOSE_TRY_AGAIN_LATER = 1013  # slow consumer
