"""A connection's heartbeat and idle timeout (docs/market-data.md, "Heartbeats").

Every API_WS_HEARTBEAT_SECONDS each connection is sent

    {"type": "heartbeat", "server_time", "journal_seq", "books": {symbol: last_seq}}

with the last journal seq the hub processed and the book seq of each book the connection
subscribed to; a connection that sent nothing for API_WS_IDLE_TIMEOUT_SECONDS is timed out instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Set

from api.gateway import now_ms
from api.ws.interfaces import BookSequences
from api.ws.protocol import encode


def heartbeat_message(source: BookSequences, books: Set[str]) -> str:
    return encode(
        {
            "type": "heartbeat",
            "server_time": now_ms(),
            "journal_seq": source.journal_seq,
            "books": {symbol: source.book_seq(symbol) for symbol in sorted(books)},
        }
    )


class Heartbeat:
    """One connection's timer. `last_received` (loop time, seconds) is set by the connection's
    reader for every message."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        idle_limit: float,
        source: BookSequences,
        books: Set[str],
        push: Callable[[str], None],
        on_idle: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.interval = interval  # seconds between heartbeats
        self.idle_limit = idle_limit  # seconds without a message before the idle timeout
        self.source = source
        self.books = books  # the connection's subscribed books (read at each beat)
        self.last_received = loop.time()
        self._push = push
        self._on_idle = on_idle
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = self.loop.call_later(self.interval, self._beat)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _beat(self) -> None:
        if self.loop.time() - self.last_received > self.idle_limit:
            self._timer = None
            self._on_idle()
            return
        self._push(heartbeat_message(self.source, self.books))
        self._timer = self.loop.call_later(self.interval, self._beat)
