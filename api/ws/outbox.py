"""One connection's outbox: everything the server sends it, in order, bounded, and written to the
socket once per turn of the event loop.

    hub fan-out, notices --push--> outbox (API_WS_QUEUE_SIZE)  <--respond-- answers to requests
        --> at the end of the loop's turn, one write of all of it (api/ws/transport.py) --> socket

Nothing that queues a message ever waits. When the socket does not take more (the client does not
read, its transport's buffer is full) the outbox waits for it. Market data may fill the outbox up
to API_WS_QUEUE_SIZE; answers may go beyond that by as many as the requests a connection can have
unanswered (API_WS_MAX_PENDING_REQUESTS; at that many the reader stops reading the socket until
answers go out, which pushes back on a pipelining client through TCP), so a market maker's answers
are never what overflows its outbox. An outbox over its bound means the client does not read: the
owner is told (`on_overflow`), and nothing else waits for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from fastapi import WebSocket
from uvicorn.protocols.utils import ClientDisconnected

from api import metrics
from api.ws.transport import FRAMES, FrameWriter


class Outbox:
    """The bounded queue of one connection and its writer. `closed`: it takes nothing more (the
    connection is closing); what is in it goes out only through `flush`."""

    def __init__(
        self,
        websocket: WebSocket,
        loop: asyncio.AbstractEventLoop,
        market_data_limit: int,
        pending_limit: int,
        on_overflow: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.ws = websocket
        self.loop = loop
        self.messages: deque[str] = deque()  # encoded frames, bounded by push/respond
        self.writer: FrameWriter | None = websocket.scope.get("extensions", {}).get(FRAMES, {}).get("writer")
        self.market_data_limit = market_data_limit  # messages
        self.pending_limit = pending_limit  # requests read and not answered, at most
        self.pending = 0  # requests read and not answered yet
        self.below_pending_limit = asyncio.Event()
        self.below_pending_limit.set()
        self.closed = False
        self._on_overflow = on_overflow  # the client does not read: drop it
        self._on_lost = on_lost  # the socket is gone
        self._write_scheduled = False
        self._draining: asyncio.Task[None] | None = None  # waits for the socket to take the outbox

    # -- QUEUEING ---------------------------------------------------------------------------------

    def push(self, text: str) -> None:
        """Queue one market-data message or notice; never waits. Past the market-data bound the
        connection is dropped as a slow consumer."""
        self._enqueue(text, self.market_data_limit)

    def respond(self, text: str) -> None:
        """Queue the answer to a request; never waits. Answers have room beyond the market-data
        bound for every request the connection may have pending."""
        self._enqueue(text, self.market_data_limit + self.pending_limit)

    def _enqueue(self, text: str, limit: int) -> None:
        if self.closed:
            return
        if len(self.messages) >= limit:
            metrics.WS_QUEUE_DROPS.inc()
            self._on_overflow()
            return
        self.messages.append(text)
        if not self._write_scheduled and self._draining is None:
            self._write_scheduled = True
            self.loop.call_soon(self._write_out)

    def close(self, last: str | None = None) -> None:
        """Take nothing more; `last` (a closing notice) goes after what is queued, past the bound."""
        if last is not None:
            self.messages.append(last)
        self.closed = True

    # -- PENDING REQUESTS -------------------------------------------------------------------------

    def request_pending(self) -> None:
        self.pending += 1
        if self.pending >= self.pending_limit:
            self.below_pending_limit.clear()

    def request_answered(self) -> None:
        self.pending -= 1
        if self.pending < self.pending_limit:
            self.below_pending_limit.set()

    # -- WRITING ----------------------------------------------------------------------------------

    def _write_out(self) -> None:
        """Hand the outbox to the socket, once per turn of the loop (scheduled by the first
        message of the turn), so everything the turn produced goes out in one write."""
        self._write_scheduled = False
        if not self.messages or self.closed or self._draining is not None:
            return
        if self.writer is not None:
            try:
                if self.writer.write(self.messages):
                    self.messages.clear()
                    return
            except ClientDisconnected:
                self._on_lost()
                return
        self._draining = self.loop.create_task(self._drain_in_background())

    async def _drain(self) -> None:
        """Write the outbox whenever the socket takes it: after the transport paused writing, or
        frame by frame through Starlette on a server without the FRAMES extension."""
        writer = self.writer
        try:
            while self.messages:
                if writer is None:
                    await self.ws.send_text(self.messages.popleft())
                    continue
                await writer.writable()
                if writer.write(self.messages):
                    self.messages.clear()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone
            self._on_lost()

    async def _drain_in_background(self) -> None:
        try:
            await self._drain()
        finally:
            self._draining = None

    async def flush(self) -> None:
        """Write everything queued (a closing connection's last messages)."""
        if self._draining is not None:
            await asyncio.wait([self._draining])
        await self._drain()

    def discard(self) -> asyncio.Task[None] | None:
        """Drop what is queued and stop writing; returns the cancelled drain to await, if any."""
        self.messages.clear()
        draining = self._draining
        if draining is not None:
            draining.cancel()
        return draining
