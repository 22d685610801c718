"""A WebSocket client for locust users that reports every request/response pair to locust.

Locust measures what is fired on `environment.events.request`; HTTP users get that from their
client, a WebSocket user from this one: `request(op, ...)` sends one request of the protocol
(docs/market-data.md), waits for the response with the same `id`, and fires a request event of
type "WS" named after the op with the round-trip time. A refusal (`ok: false`) is a failure unless
its code is one the caller expects (e.g. a post-only quote that would cross). Messages that arrive
meanwhile (market data, heartbeats) go to `on_message`, so nothing is lost while waiting.

It runs under locust's gevent (the `websockets` sync client blocks only its greenlet).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from websockets.sync.client import connect

REQUEST_TIMEOUT_SECONDS = 10.0


class WsRefused(Exception):
    """The server answered `ok: false` with a code the caller did not expect."""

    def __init__(self, op: str, error: dict[str, Any]) -> None:
        super().__init__(f"{op}: {error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class WsUnanswered(Exception):
    """No response within the timeout."""


class LocustWebSocket:
    def __init__(
        self, url: str, request_event: Any, on_message: Callable[[dict[str, Any]], None] | None = None
    ):
        self.url = url
        self.request_event = request_event
        self.on_message = on_message or (lambda message: None)
        self.ws: Any = None
        self.next_id = 1
        self.welcome: dict[str, Any] = {}

    def fire(
        self, name: str, started: float, length: int = 0, exception: BaseException | None = None
    ) -> None:
        self.request_event.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def connect(self) -> dict[str, Any]:
        """Open the connection (reported as "connect"): the handshake and the welcome."""
        started = time.perf_counter()
        try:
            # no permessage-deflate (as the benchmark), no library pings (the protocol has heartbeats)
            self.ws = connect(
                self.url, compression=None, ping_interval=None, open_timeout=REQUEST_TIMEOUT_SECONDS
            )
            raw = self.ws.recv(timeout=REQUEST_TIMEOUT_SECONDS)
            self.welcome = json.loads(raw)
        except Exception as exc:
            self.fire("connect", started, exception=exc)
            raise
        self.fire("connect", started, len(raw))
        return self.welcome

    def request(
        self, op: str, name: str | None = None, expected_codes: Iterable[str] = (), **fields: Any
    ) -> dict[str, Any] | None:
        """Send one request and wait for its response; the response (None if none came)."""
        request_id = self.next_id
        self.next_id += 1
        started = time.perf_counter()
        try:
            self.ws.send(json.dumps({"op": op, "id": request_id, **fields}))
            deadline = started + REQUEST_TIMEOUT_SECONDS
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise WsUnanswered(f"{op}: no response within {REQUEST_TIMEOUT_SECONDS:g} s")
                raw = self.ws.recv(timeout=remaining)
                message: dict[str, Any] = json.loads(raw)
                if message.get("type") == "response" and message.get("id") == request_id:
                    break
                self.on_message(message)
        except Exception as exc:
            self.fire(name or op, started, exception=exc)
            return None
        error = None
        if not message.get("ok") and message.get("error", {}).get("code") not in set(expected_codes):
            error = WsRefused(op, message.get("error", {}))
        self.fire(name or op, started, len(raw), error)
        return message

    def receive_for(self, seconds: float) -> int:
        """Hand every message that arrives within `seconds` to `on_message`; how many came."""
        deadline = time.perf_counter() + seconds
        count = 0
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return count
            try:
                raw = self.ws.recv(timeout=remaining)
            except TimeoutError:
                return count
            count += 1
            self.on_message(json.loads(raw))

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            finally:
                self.ws = None
