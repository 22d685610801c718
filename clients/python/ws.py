"""The WebSocket session: market data, private streams and order entry over `/ws`.

The protocol is docs/market-data.md. What this class adds on top of it:

- **Correlated requests.** Every request gets an integer `id`; its response resolves the future
  waiting for that id, so many requests can be in flight at once and answers may come in any order.
  A refusal raises `CapexError(None, code, message)`.
- **Local books.** `subscribe_book(symbol)` keeps a `LocalBook` in sync from snapshot + deltas:
  a broken `prev_seq` chain, a checksum mismatch or a heartbeat that names a later book sequence
  than the one applied sends the `resync` op for that symbol only.
- **Reconnection.** When the connection drops (server closed it, network error, no heartbeat for
  `heartbeat_timeout` seconds), the session reconnects with exponential backoff and jitter, then
  authenticates again (a fresh signature over the new challenge), turns cancel-on-disconnect back
  on, re-subscribes every channel (books start again from a fresh snapshot) and re-arms the
  dead-man's switch. Requests in flight when the connection dropped fail with `ConnectionLost`.
- **Keep-alive.** The server drops a client that sends nothing for its idle timeout, so the
  session sends `ping` when it has sent nothing for a while.

Listeners (`add_listener`) get every message that is not a response (book messages after the local
book applied them), on the reader task: they must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from clients.python.book import BookUpdate, LocalBook
from clients.python.errors import CapexError, ConnectionLost
from clients.python.models import (
    CancelAllResult,
    DeadManSwitch,
    MassQuoteResult,
    MmpState,
    OrderRef,
    PlaceResult,
    Quote,
    Welcome,
    WsAuth,
    convert,
)
from clients.python.retry import with_retries
from clients.python.signing import ApiKeyCredentials, signer_for
from wire import signing as wire_signing
from wire import ws as codes

log = logging.getLogger("capex.sdk.ws")

Listener = Callable[[dict[str, Any]], None]
# Channels that carry no symbol (docs/market-data.md, "Channels").
_UNSYMBOLED = frozenset({"instruments", "index", "orders", "fills", "positions", "balances", "bookings"})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def ws_url(base_url: str) -> str:
    """`ws://host:port/ws` from a REST base URL (`http://host:port`); a ws URL is kept."""
    url = base_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    return url if url.endswith("/ws") else url + "/ws"


class WsSession:
    """One logical session over `/ws` that survives reconnections.

    Credentials: `token` (a session token from `POST /api/v1/auth/login`) or `api_key` =
    (key_id, Ed25519PrivateKey) or (key_id, secret) (signing.py); neither for public market data
    only. Timeouts in seconds."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        api_key: ApiKeyCredentials | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        ping_interval: float = 10.0,
        heartbeat_timeout: float | None = None,
    ) -> None:
        if token is not None and api_key is not None:
            raise ValueError("give a session token or an API key, not both")
        self.url = ws_url(url)
        self.token = token
        self.api_key = api_key
        self._signer = signer_for(api_key) if api_key is not None else None
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.heartbeat_timeout = heartbeat_timeout

        self.books: dict[str, LocalBook] = {}
        self.welcome: Welcome | None = None
        self.auth: WsAuth | None = None
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self.failure: BaseException | None = None  # why the session gave up, if it did
        self.reconnects = 0  # successful reconnections
        self.gap_messages = 0  # `gap` messages: journal seqs the server missed upstream
        self.server_time_offset = 0  # server clock minus local clock, ms

        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Listener] = []
        self._subscriptions: dict[tuple[str, str | None], None] = {}  # ordered set
        self._awaiting_snapshot: dict[str, float] = {}  # symbol -> when its snapshot was asked for
        self._cancel_on_disconnect = False
        self._dead_man_ms = 0
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._last_sent = 0.0
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # -- LIFECYCLE -------------------------------------------------------------------------------

    async def connect(self) -> WsSession:
        """Open the first connection (raises if that fails), authenticate, and keep it alive."""
        if self._supervisor is not None:
            return self
        self._closing = False
        self.closed.clear()
        await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name="capex-ws-supervisor")
        return self

    async def close(self) -> None:
        """Close for good (code 1000). With cancel-on-disconnect on, the server cancels the
        account's orders."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._supervisor is not None:
            if ws is None:  # between connections: stop waiting to reconnect
                self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._supervisor, 10)
            self._supervisor = None
        for task in list(self._tasks):
            task.cancel()
        self._fail_pending("the session was closed")
        self.connected.clear()
        self.closed.set()

    async def __aenter__(self) -> WsSession:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def drop_connection(self) -> None:
        """Close the current connection without closing the session: it reconnects (as after a
        network failure would). For tests, or to move to a fresh connection."""
        if self._ws is not None:
            await self._ws.close()

    def server_now(self) -> int:
        """The server's clock, ms since epoch, estimated from its welcome and heartbeats."""
        return _now_ms() + self.server_time_offset

    # -- LISTENERS -------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- REQUESTS --------------------------------------------------------------------------------

    async def request(self, op: str, **fields: Any) -> Any:
        """Send one request and return its `result`; a refusal raises CapexError. While the session
        is reconnecting, waits for it (up to `request_timeout`)."""
        if not self.connected.is_set():
            if self._closing or self._supervisor is None:
                raise ConnectionLost("the session is not connected")
            try:
                await asyncio.wait_for(self.connected.wait(), self.request_timeout)
            except TimeoutError:
                raise ConnectionLost("the session did not reconnect in time") from None
        return await self._request(op, fields)

    async def _request(self, op: str, fields: Mapping[str, Any]) -> Any:
        ws = self._ws
        if ws is None:
            raise ConnectionLost("the session is not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send(ws, {"op": op, "id": request_id, **fields})
            response = await asyncio.wait_for(future, self.request_timeout)
        except websockets.ConnectionClosed as exc:
            raise ConnectionLost(f"the connection closed: {exc}") from exc
        except TimeoutError:
            raise CapexError(None, "TIMEOUT", f"no response to {op!r} in {self.request_timeout} s") from None
        finally:
            self._pending.pop(request_id, None)
        if response.get("ok"):
            return response.get("result")
        error = response.get("error") or {}
        raise CapexError(
            None,
            str(error.get("code", "UNKNOWN")),
            str(error.get("message", "")),
            retry_after=response.get("retry_after", error.get("retry_after")),
        )

    async def _send(self, ws: ClientConnection, message: Mapping[str, Any]) -> None:
        data = msgspec.json.encode(message).decode()
        async with self._send_lock:
            await ws.send(data)
            self._last_sent = time.monotonic()

    async def ping(self) -> int:
        """The server's time (ms)."""
        return int((await self.request("ping"))["server_time"])

    # -- SUBSCRIPTIONS ---------------------------------------------------------------------------

    async def subscribe(self, channel: str, symbol: str | None = None) -> dict[str, Any]:
        """Subscribe to a channel (docs/market-data.md); kept across reconnections."""
        key = (channel, None if channel in _UNSYMBOLED else symbol)
        new_book = False
        if channel == "book":
            if symbol is None:
                raise ValueError("the book channel needs a symbol")
            new_book = symbol not in self.books
            self.books.setdefault(symbol, LocalBook(symbol)).synced = False
            self._awaiting_snapshot[symbol] = time.monotonic()
        fields: dict[str, Any] = {"channel": channel}
        if key[1] is not None:
            fields["symbol"] = key[1]
        try:
            result = await self.request("subscribe", **fields)
        except BaseException:
            if new_book:
                self.books.pop(symbol, None)  # type: ignore[arg-type]
                self._awaiting_snapshot.pop(symbol, None)  # type: ignore[arg-type]
            raise
        self._subscriptions[key] = None
        return result

    async def unsubscribe(self, channel: str, symbol: str | None = None) -> dict[str, Any]:
        key = (channel, None if channel in _UNSYMBOLED else symbol)
        self._subscriptions.pop(key, None)
        fields: dict[str, Any] = {"channel": channel}
        if key[1] is not None:
            fields["symbol"] = key[1]
        if channel == "book" and symbol is not None:
            self.books.pop(symbol, None)
        return await self.request("unsubscribe", **fields)

    async def subscribe_book(self, symbol: str, *, wait: bool = True) -> LocalBook:
        """Subscribe to a book and return its LocalBook; with `wait`, once its snapshot is in."""
        await self.subscribe("book", symbol)
        book = self.books[symbol]
        if wait:
            await self.wait_synced(symbol)
        return book

    async def wait_synced(self, symbol: str, timeout: float | None = None) -> LocalBook:
        """Wait until the symbol's book has applied a snapshot and is not waiting for a resync."""
        deadline = time.monotonic() + (self.request_timeout if timeout is None else timeout)
        book = self.books[symbol]
        while not book.synced:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the book of {symbol} did not sync in time")
            await asyncio.sleep(0.01)
        return book

    async def resync(self, symbol: str) -> dict[str, Any]:
        """Ask for a fresh snapshot of one subscribed book; its deltas are ignored until it comes."""
        book = self.books.get(symbol)
        if book is not None:
            book.request_resync()
            self._awaiting_snapshot[symbol] = time.monotonic()
        return await self.request("resync", symbol=symbol)

    # -- ORDER ENTRY -----------------------------------------------------------------------------

    async def place(
        self,
        symbol: str,
        side: str,
        price: int,
        quantity: int,
        *,
        order_type: str = "limit",
        stp: str | None = None,
        client_order_id: str | None = None,
    ) -> PlaceResult:
        """Place an order: price in fen per contract (market: the protection price), quantity in
        contracts. `client_order_id` is the idempotency key (one is made when absent, `sdk-` + 16
        hex). An answer whose outcome is unknown (`OUTCOME_UNKNOWN`, `UNAVAILABLE`, no answer in
        time) is retried with the same id a few times (clients/python/retry.py): the order is
        placed at most once."""
        fields: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "price": price,
            "quantity": quantity,
            "order_type": order_type,
            "client_order_id": client_order_id or "sdk-" + secrets.token_hex(8),
        }
        if stp is not None:
            fields["stp"] = stp
        return convert(await with_retries(lambda: self.request("place", **fields)), PlaceResult)

    async def cancel(self, order_id: int) -> OrderRef:
        return convert(await self.request("cancel", order_id=order_id), OrderRef)

    async def amend(self, order_id: int, price: int, quantity: int) -> OrderRef:
        """New price and new open quantity; a reduction at the same price keeps priority."""
        return convert(
            await self.request("amend", order_id=order_id, price=price, quantity=quantity), OrderRef
        )

    async def cancel_all(self, symbol: str | None = None) -> CancelAllResult:
        fields = {} if symbol is None else {"symbol": symbol}
        return convert(await self.request("cancel_all", **fields), CancelAllResult)

    async def mass_quote(
        self, quotes: Iterable[Quote | Mapping[str, Any]], order_type: str = "post_only"
    ) -> MassQuoteResult:
        """Replace this connection's quote on each symbol (its previous bid and ask are cancelled,
        the new ones placed), all in one message. One result entry per symbol."""
        entries = [q if isinstance(q, Mapping) else q.to_dict() for q in quotes]
        result = await self.request("mass_quote", quotes=entries, order_type=order_type)
        return convert(result, MassQuoteResult)

    # -- SAFEGUARDS ------------------------------------------------------------------------------

    async def set_cancel_on_disconnect(self, enabled: bool = True) -> bool:
        """Cancel every order of the account when this connection closes; turned back on after a
        reconnection."""
        result = await self.request("cancel_on_disconnect", enabled=enabled)
        self._cancel_on_disconnect = enabled
        return bool(result["enabled"])

    async def cancel_all_after(self, timeout_ms: int) -> DeadManSwitch:
        """Arm (or re-arm) the dead-man's switch: unless called again within `timeout_ms`, the
        server cancels every order of the account. 0 disarms."""
        result = await self.request("cancel_all_after", timeout_ms=timeout_ms)
        self._dead_man_ms = timeout_ms
        return convert(result, DeadManSwitch)

    async def mmp_config(self, underlying: str, quantity: int, interval_ms: int, frozen_ms: int) -> MmpState:
        """Market-maker protection on one underlying: when `quantity` contracts traded as maker
        within `interval_ms`, quotes are pulled and refused for `frozen_ms` (0: until reset)."""
        result = await self.request(
            "mmp_config",
            underlying=underlying,
            quantity=quantity,
            interval_ms=interval_ms,
            frozen_ms=frozen_ms,
        )
        return convert(result, MmpState)

    async def mmp_reset(self, underlying: str) -> MmpState:
        return convert(await self.request("mmp_reset", underlying=underlying), MmpState)

    # -- INCOMING MESSAGES -----------------------------------------------------------------------

    def handle_message(self, message: dict[str, Any]) -> None:
        """Process one message from the server: resolve a response, keep the books, tell the
        listeners. The reader calls it for every frame; tests call it to inject a message."""
        kind = message.get("type")
        if kind == "response":
            future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(message)
            elif message.get("id") is None and not message.get("ok"):
                log.warning("the server could not read a request: %s", message.get("error"))
            return
        if message.get("channel") == "book":
            self._on_book(message)
        elif kind == "heartbeat":
            self._on_heartbeat(message)
        elif kind == "gap":
            self.gap_messages += 1
            log.warning(
                "the server missed journal seqs %s..%s upstream",
                message.get("from_seq"),
                message.get("to_seq"),
            )
        elif kind == "error":
            log.warning("server error %s: %s", message.get("code"), message.get("message"))
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:  # one broken listener must not stop the reader
                log.exception("a WebSocket listener failed")

    def _on_book(self, message: dict[str, Any]) -> None:
        book = self.books.get(message.get("symbol", ""))
        if book is None:
            return
        if book.apply(message) is BookUpdate.RESYNC:
            log.info(
                "book %s out of sync (gaps %d, checksum mismatches %d): resync",
                book.symbol,
                book.gaps,
                book.checksum_mismatches,
            )
            self._ask_snapshot(book)

    def _on_heartbeat(self, message: dict[str, Any]) -> None:
        if "server_time" in message:
            self.server_time_offset = int(message["server_time"]) - _now_ms()
        for symbol, seq in (message.get("books") or {}).items():
            book = self.books.get(symbol)
            if book is not None and seq is not None and book.verify_heartbeat(int(seq)) is BookUpdate.RESYNC:
                log.info("book %s behind the heartbeat (%s < %s): resync", symbol, book.last_seq, seq)
                self._ask_snapshot(book)
        # A snapshot asked for long ago and still missing (the resync request was lost with its
        # connection, or refused): ask again.
        now = time.monotonic()
        for symbol, since in list(self._awaiting_snapshot.items()):
            book = self.books.get(symbol)
            if book is None or book.synced:
                del self._awaiting_snapshot[symbol]
            elif ("book", symbol) in self._subscriptions and now - since > self._silence_limit():
                log.info("no snapshot of %s for %.1f s: asking again", symbol, now - since)
                self._ask_snapshot(book)

    def _ask_snapshot(self, book: LocalBook) -> None:
        book.request_resync()
        self._awaiting_snapshot[book.symbol] = time.monotonic()
        self._spawn(self._send_resync(book.symbol))

    def _silence_limit(self) -> float:
        """Seconds without a message (or without an awaited snapshot) that mean something is lost."""
        if self.heartbeat_timeout is not None:
            return self.heartbeat_timeout
        heartbeat_ms = self.welcome.heartbeat_ms if self.welcome is not None else 1000
        return max(5 * heartbeat_ms / 1000, 3.0)

    async def _send_resync(self, symbol: str) -> None:
        try:
            await self.request("resync", symbol=symbol)
        except CapexError as exc:
            # After a reconnection the re-subscription brings a fresh snapshot anyway.
            log.info("resync of %s not sent: %s", symbol, exc)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- CONNECTIONS -----------------------------------------------------------------------------

    async def _open(self) -> None:
        """One connection: welcome, authentication, then the session's state restored."""
        ws = await websockets.connect(self.url, open_timeout=self.open_timeout, max_size=1 << 20)
        try:
            raw = await asyncio.wait_for(ws.recv(), self.open_timeout)
            message = msgspec.json.decode(raw)
            if message.get("type") != "welcome":
                raise CapexError(None, "PROTOCOL", f"expected the welcome, got {message.get('type')!r}")
            self.welcome = convert(message, Welcome)
            self.server_time_offset = self.welcome.server_time - _now_ms()
            self._ws = ws
            self._reader = asyncio.create_task(self._read(ws), name="capex-ws-reader")
            await self._restore()
        except BaseException:
            self._ws = None
            await ws.close()
            raise
        self.connected.set()

    async def _restore(self) -> None:
        if self.token is not None:
            self.auth = convert(await self._request("auth", {"token": self.token}), WsAuth)
        elif self._signer is not None:
            timestamp = str(_now_ms())
            assert self.welcome is not None
            message = wire_signing.ws_challenge_message(self.welcome.challenge, timestamp)
            signature = self._signer.sign(message)
            credentials = {"key": self._signer.key_id, "timestamp": timestamp, "signature": signature}
            self.auth = convert(await self._request("auth", credentials), WsAuth)
        if self._cancel_on_disconnect:
            await self._request("cancel_on_disconnect", {"enabled": True})
        resubscriptions = []
        for channel, symbol in self._subscriptions:
            if channel == "book" and symbol in self.books:
                self.books[symbol].synced = False
                self._awaiting_snapshot[symbol] = time.monotonic()
            fields: dict[str, Any] = {"channel": channel}
            if symbol is not None:
                fields["symbol"] = symbol
            resubscriptions.append(self._request("subscribe", fields))
        await asyncio.gather(*resubscriptions)
        if self._dead_man_ms:
            await self._request("cancel_all_after", {"timeout_ms": self._dead_man_ms})

    async def _read(self, ws: ClientConnection) -> None:
        keepalive = asyncio.create_task(self._keep_alive(ws))
        silence = self._silence_limit()
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), silence)
                except TimeoutError:
                    log.warning("no message from the server for %.1f s: reconnecting", silence)
                    await ws.close(codes.CLOSE_GOING_AWAY, "no heartbeat")
                    return
                try:
                    message = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    log.warning("a frame that is not JSON: %r", raw[:100])
                    continue
                if not isinstance(message, dict):
                    continue
                try:
                    self.handle_message(message)
                except Exception:  # a malformed message must not end the session
                    log.exception("could not process %r", raw[:200])
        except websockets.ConnectionClosed as exc:
            log.info("connection closed: %s", exc)
        finally:
            keepalive.cancel()
            if self._ws is ws:
                self._ws = None
            self.connected.clear()
            self._fail_pending("the connection closed before the response came")

    async def _keep_alive(self, ws: ClientConnection) -> None:
        assert self.welcome is not None
        interval = min(self.ping_interval, self.welcome.idle_timeout_ms / 3000)
        while True:
            await asyncio.sleep(max(interval / 4, 0.05))
            if time.monotonic() - self._last_sent >= interval:
                try:
                    await self._send(ws, {"op": "ping"})
                except websockets.ConnectionClosed:
                    return

    async def _supervise(self) -> None:
        while True:
            if self._reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
            if self._closing or not self.reconnect:
                break
            delay = self.backoff_initial
            while not self._closing:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                if self._closing:
                    break
                try:
                    await self._open()
                except CapexError as exc:
                    if exc.code in (codes.UNAUTHENTICATED, codes.SCOPE_REQUIRED):
                        log.error("reconnected, but the credentials were refused: %s", exc)
                        self.failure = exc
                        self._closing = True
                        break
                    log.warning("reconnection failed: %s; next try in %.1f s", exc, delay)
                except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                    log.warning("reconnection failed: %s; next try in %.1f s", exc, delay)
                else:
                    self.reconnects += 1
                    log.info("reconnected to %s (reconnection %d)", self.url, self.reconnects)
                    break
                delay = min(delay * 2, self.backoff_max)
            if self._closing:
                break
        self.connected.clear()
        self.closed.set()

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
        self._pending.clear()
