"""Retrying an order whose outcome is unknown, over REST and the WebSocket alike.

An order answered `OUTCOME_UNKNOWN` (the exchange took it and did not confirm), `UNAVAILABLE` (it
was not applied) or lost on the way (REST: a timeout or a dropped connection; WebSocket: no answer
in time) is sent again with the same client order id: the exchange applies an order id once, and a
repeat returns the first result, so a retry can never place the order twice (docs/api.md,
"Idempotency"). Refusals (`INSUFFICIENT_FUNDS`, ...) are final and raised at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from clients.python.errors import CapexError
from wire import ws as codes

T = TypeVar("T")

RETRY_CODES = frozenset({codes.OUTCOME_UNKNOWN, codes.UNAVAILABLE, "TIMEOUT"})  # TIMEOUT: the SDK's own
RETRY_DELAYS = (0.25, 0.5, 1.0)  # seconds before each retry; their count is the number of retries


def worth_retrying(exc: BaseException) -> bool:
    if isinstance(exc, CapexError):
        return exc.code in RETRY_CODES
    return isinstance(exc, httpx.TransportError)


async def with_retries(attempt: Callable[[], Awaitable[T]], delays: tuple[float, ...] = RETRY_DELAYS) -> T:
    """`attempt()` until it answers or fails for good; the last failure is raised. `attempt` must
    send the same client order id every time."""
    for delay in delays:
        try:
            return await attempt()
        except (CapexError, httpx.TransportError) as exc:
            if not worth_retrying(exc):
                raise
            retry_after = getattr(exc, "retry_after", None)
            await asyncio.sleep(max(delay, retry_after or 0.0))
    return await attempt()
