"""The WebSocket protocol uvicorn runs for the app (`UVICORN_OPTIONS["ws"]`): uvicorn's own
sans-I/O implementation with two changes for tens of thousands of messages a second.

- **Frames written directly, many per write.** An ASGI extension, `FRAMES` in the connection
  scope's `extensions`, offers a `FrameWriter`: a session hands it every message it has for the
  client in one call, each becomes its own text frame (the protocol on the wire is unchanged), and
  they reach the socket in one write, without a sender task or an ASGI message per frame. On
  loopback every write also runs the receiver's side of TCP: one write per message was about half
  of what the event loop spent per answered request, and a fan-out to 1,000 subscribers was 1,000
  task wake-ups per message. The writer refuses (returns False) while the transport's buffer is
  over its high-water mark, so what a client does not read piles up in the session's bounded
  outbox (outbox.py), not here.
- **Read ahead.** uvicorn stops reading the socket after every message until the application
  takes it: two more system calls per request, and a pipelining client's requests are read one
  turn of the loop at a time. Here reading stops only when `READ_AHEAD` messages wait for the
  application, which still pushes back on a client that sends faster than the session reads (the
  session itself also stops reading at its pending-request limit).

Without the extension (another ASGI server) a session sends through Starlette, frame by frame.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

FRAMES = "capex.websocket.frames"
READ_AHEAD = 256  # messages received and not yet taken by the application


def text_frame(text: str) -> bytes:
    """One final, unmasked text frame: what a server sends (RFC 6455, section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class FrameWriter:
    """The `FRAMES` extension: text frames straight to one connection's transport."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketProtocol) -> None:
        self._protocol = protocol

    def write(self, texts: Sequence[str]) -> bool:
        """Send each text as a frame, all in one write. False, with nothing written, while the
        transport's buffer is full; ClientDisconnected once the connection is closing or gone."""
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
            raise ClientDisconnected()
        if not protocol.writable.is_set():
            return False
        protocol.transport.write(b"".join([text_frame(text) for text in texts]))
        return True

    async def writable(self) -> None:
        """Return once the transport takes writes again (or the connection is gone)."""
        await self._protocol.writable.wait()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The application task is created but has not run yet: it sees the extension.
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FRAMES] = {"writer": FrameWriter(self)}

    def send_receive_event_to_app(self) -> None:
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past websocket.close: reads stay active until the peer's close reply
        if self.curr_msg_data_type == "text":
            try:
                self.queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
            except UnicodeDecodeError:
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused and self.queue.qsize() >= READ_AHEAD:
            self.read_paused = True
            self.transport.pause_reading()
