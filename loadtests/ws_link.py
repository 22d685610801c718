"""A lean WebSocket client connection for load generators: websockets' Sans-I/O protocol (the
RFC 6455 handshake, masking, framing, ping/pong and closing handshake, from the same library the
project uses everywhere) driven by asyncio protocol callbacks.

Why not `websockets.asyncio.client`: a load generator holds a thousand connections in one process
on a machine it shares with the server under test. The asyncio client runs a reader task per
connection and a future per message; measured here, that cost about as much client CPU per
market-data message as the server spent producing it, and the latencies measured the client.
A `WsLink` hands each complete text message to a callback from `data_received`, with the time it
arrived, and writes many requests with one syscall (`send_many`).

    link = await open_link("ws://127.0.0.1:8000/ws")
    welcome = await link.recv()                     # messages queue until a handler is set
    link.handler = lambda text, received_ns: ...    # from now on, called for every message
    link.send('{"op":"ping"}')
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from typing import cast

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

Handler = Callable[[str, int], None]  # (text, wall-clock receive time in ns)


class LinkClosed(ConnectionError):
    """The connection closed (or never opened)."""


class WsLink(asyncio.Protocol):
    def __init__(self, url: str, max_size: int = 1 << 24) -> None:
        self.protocol = ClientProtocol(parse_uri(url), max_size=max_size)
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.handler: Handler | None = None
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._fragments: list[bytes] = []
        self.close_code: int | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        received = time.time_ns()
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Response):
                if protocol.handshake_exc is not None:
                    self._fail_open(protocol.handshake_exc)
                elif not self.opened.done():
                    self.opened.set_result(None)
                continue
            assert isinstance(event, Frame)  # a client receives a Response, then only frames
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.CONT:
                if not event.fin:
                    self._fragments.append(bytes(event.data))
                    continue
                if self._fragments:
                    self._fragments.append(bytes(event.data))
                    payload = b"".join(self._fragments)
                    self._fragments = []
                else:
                    payload = cast(bytes, event.data)  # typed BytesLike; the frame parser makes bytes
                text = payload.decode()
                if self.handler is not None:
                    self.handler(text, received)
                else:
                    self._inbox.put_nowait(text)
            elif opcode is Opcode.CLOSE and protocol.close_rcvd is not None:
                self.close_code = protocol.close_rcvd.code
        self._flush()  # pongs and the closing handshake are queued by the protocol
        if protocol.state is State.CLOSED and self.transport is not None:
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_open(exc or LinkClosed("the connection closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- use ----------------------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.closed.done() or self.protocol.state is not State.OPEN

    def send(self, text: str) -> None:
        if self.is_closed:
            raise LinkClosed("the connection is closed")
        self.protocol.send_text(text.encode())
        self._flush()

    def send_many(self, texts: list[str]) -> None:
        """Several messages, one frame each, written with one syscall."""
        if self.is_closed:
            raise LinkClosed("the connection is closed")
        for text in texts:
            self.protocol.send_text(text.encode())
        self._flush()

    async def recv(self, timeout: float = 30.0) -> str:
        """The next message, while no handler is set."""
        if self.closed.done() and self._inbox.empty():
            raise LinkClosed("the connection is closed")
        getter = asyncio.ensure_future(self._inbox.get())
        waiting: set[asyncio.Future[str] | asyncio.Future[None]] = {getter, self.closed}
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.closed.done():
            raise LinkClosed("the connection is closed")
        raise TimeoutError(f"no message within {timeout:g} s")

    async def close(self, timeout: float = 5.0) -> None:
        if self.transport is None:
            return
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        self.transport.close()

    # -- internals ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        chunks = self.protocol.data_to_send()
        if not chunks:
            return
        if chunks[-1] == b"":  # the protocol's "half-close now"
            chunks.pop()
            if chunks:
                transport.write(b"".join(chunks))
            if transport.can_write_eof():
                transport.write_eof()
            return
        transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _fail_open(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)


async def open_link(url: str, timeout: float = 30.0, max_size: int = 1 << 24) -> WsLink:
    """A connected link past the HTTP handshake (the server's first message is in its inbox)."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise ValueError(str(exc)) from None
    loop = asyncio.get_running_loop()
    _transport, link = await asyncio.wait_for(
        loop.create_connection(lambda: WsLink(url, max_size), uri.host, uri.port), timeout
    )
    await asyncio.wait_for(link.opened, timeout)
    return link
