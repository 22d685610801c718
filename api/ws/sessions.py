"""One WebSocket connection: its bounded outbox, its subscriptions, its authentication, and the
safeguards that act on its account (cancel-on-disconnect, dead-man's switch).

    hub fan-out / responses --push, respond (never await)--> outbox (API_WS_QUEUE_SIZE)
        --> at the end of the loop's turn, one write of all of it (api/ws/transport.py) --> socket
    socket --> reader task --> handle(request) --> response (pushed)

Everything the server sends goes through the one outbox, so a connection's messages keep their
order; what one turn of the event loop produced for a client reaches its socket in one write.
When the socket does not take more (the client does not read, its transport's buffer is full),
the outbox waits for it. Market data may fill the outbox up to API_WS_QUEUE_SIZE; responses may go
beyond that by as many as the requests a connection can have unanswered
(API_WS_MAX_PENDING_REQUESTS; at that many the reader stops reading the socket until answers go
out, which pushes back on a pipelining client through TCP), so a market maker's answers are never
what overflows its outbox. An outbox over its bound means the client does not read: it is told
SLOW_CONSUMER and closed (1013), and nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.utils import ClientDisconnected

from api import metrics, security
from api.credentials import api_key_credential, session_credential
from api.deps import Principal, lookup_api_key, lookup_session
from api.errors import unavailable_answer
from api.gateway import GatewayUnavailable, now_ms
from api.ws import channels as ch
from api.ws import order_entry
from api.ws.protocol import (
    ALREADY_AUTHENTICATED,
    BAD_REQUEST,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN_LATER,
    IDLE_TIMEOUT,
    NOT_SUBSCRIBED,
    SCOPE_REQUIRED,
    SLOW_CONSUMER,
    UNAUTHENTICATED,
    UNKNOWN_OP,
    Auth,
    CancelAllAfter,
    CancelOnDisconnect,
    MmpConfigure,
    MmpReset,
    RequestId,
    Resync,
    Subscription,
    WsError,
    encode,
    error_response,
    fields,
    internal_error,
    notice,
    parse_request,
    response,
)
from api.ws.transport import FRAMES, FrameWriter
from exchange.commands import CancelAll, Command
from exchange.results import CommandResult

if TYPE_CHECKING:
    from api.ws.market_data import MarketDataHub
    from api.ws.protection import MarketMakerProtection

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_SECONDS = 5.0  # how long a closing connection may take to flush and close
MAX_FAILED_AUTHS = 3
DISCONNECT_WAIT_SECONDS = 5.0  # in-flight order entry finishes before cancel-on-disconnect

Handler = Callable[[dict[str, Any], RequestId], Awaitable[Any]]
Answer = Callable[[CommandResult], Any]  # the result of a successful command
ANSWERED = object()
_DETACHED: set[asyncio.Task] = (
    set()
)  # dead-man's switch firings (they outlive their connection)  # a handler's return value when it answers by itself (now or later)


class Session:
    def __init__(self, websocket: WebSocket, app: FastAPI) -> None:
        state = app.state
        self.ws = websocket
        self.app = app
        self.settings = state.settings
        self.gateway = state.gateway
        self.hub: MarketDataHub = state.market_data
        self.protection: MarketMakerProtection = state.market_maker_protection
        self.outbox: deque[str] = deque()  # bounded by push/respond, see above
        self._writer: FrameWriter | None = websocket.scope.get("extensions", {}).get(FRAMES, {}).get("writer")
        self._write_scheduled = False
        self._draining: asyncio.Task | None = None  # waits for the socket to take the outbox
        self.market_data_limit = self.settings.ws_queue_size
        self.pending_limit = self.settings.ws_max_pending_requests
        self.pending = 0  # requests read and not answered yet
        self.below_pending_limit = asyncio.Event()
        self.below_pending_limit.set()
        self.loop = asyncio.get_running_loop()
        self.last_received = self.loop.time()
        # -- subscriptions (the hub keeps the reverse index) --
        self.books: set[str] = set()
        self.private: set[str] = set()
        # -- authentication --
        self.principal: Principal | None = None
        self.credential_id: str | None = None  # api/credentials.py: what ends this principal
        self.expiry: asyncio.TimerHandle | None = None  # a session token's end
        self.challenge: str | None = secrets.token_hex(16)
        self.failed_auths = 0
        # -- order entry and safeguards --
        self.cancel_on_disconnect = False
        self.cancel_on_disconnect_account: int | None = None
        self.dead_man: asyncio.TimerHandle | None = None
        self.quotes: dict[str, list[int]] = {}  # symbol -> order ids of this connection's quote
        self.quote_lock = asyncio.Lock()  # mass quotes replace each other in arrival order
        self.in_flight: set[asyncio.Task] = set()
        self._batch: list[tuple[RequestId, str, Command, Answer]] = []  # submitted together
        # -- lifecycle --
        self.closing = False
        self.done = asyncio.Event()  # the connection is over: clean up
        self.finished = asyncio.Event()  # cleaned up (cancel-on-disconnect submitted)
        self._close_after_response: int | None = None
        self._ops: dict[str, Handler] = {
            "ping": self._ping,
            "auth": self._auth,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "resync": self._resync,
            "place": lambda raw, rid: order_entry.place(self, raw, rid),
            "cancel": lambda raw, rid: order_entry.cancel(self, raw, rid),
            "amend": lambda raw, rid: order_entry.amend(self, raw, rid),
            "cancel_all": lambda raw, rid: order_entry.cancel_all(self, raw, rid),
            "mass_quote": lambda raw, rid: order_entry.mass_quote(self, raw, rid),
            "cancel_on_disconnect": self._cancel_on_disconnect,
            "cancel_all_after": self._cancel_all_after,
            "mmp_config": self._mmp_config,
            "mmp_reset": self._mmp_reset,
        }

    @property
    def account_id(self) -> int | None:
        return self.principal.account_id if self.principal is not None else None

    # -- OUTGOING ---------------------------------------------------------------------------------

    def push(self, text: str) -> None:
        """Queue one market-data message or notice; never waits. Past the market-data bound the
        connection is dropped as a slow consumer."""
        self._enqueue(text, self.market_data_limit)

    def respond(self, text: str) -> None:
        """Queue the answer to a request; never waits. Answers have room beyond the market-data
        bound for every request the connection may have pending."""
        self._enqueue(text, self.market_data_limit + self.pending_limit)

    def _enqueue(self, text: str, limit: int) -> None:
        if self.closing:
            return
        if len(self.outbox) >= limit:
            metrics.WS_QUEUE_DROPS.inc()
            self._close(
                CLOSE_TRY_AGAIN_LATER,
                notice(SLOW_CONSUMER, "the connection fell behind its messages; reconnect and resubscribe"),
            )
            return
        self.outbox.append(text)
        if not self._write_scheduled and self._draining is None:
            self._write_scheduled = True
            self.loop.call_soon(self._write_out)

    def _request_pending(self) -> None:
        self.pending += 1
        if self.pending >= self.pending_limit:
            self.below_pending_limit.clear()

    def _request_answered(self) -> None:
        self.pending -= 1
        if self.pending < self.pending_limit:
            self.below_pending_limit.set()

    def _write_out(self) -> None:
        """Hand the outbox to the socket, once per turn of the loop (scheduled by the first
        message of the turn), so everything the turn produced goes out in one write."""
        self._write_scheduled = False
        if not self.outbox or self.closing or self._draining is not None:
            return
        if self._writer is not None:
            try:
                if self._writer.write(self.outbox):
                    self.outbox.clear()
                    return
            except ClientDisconnected:
                self.done.set()
                return
        self._draining = self.loop.create_task(self._drain_in_background())

    async def _drain(self) -> None:
        """Write the outbox whenever the socket takes it: after the transport paused writing, or
        frame by frame through Starlette on a server without the FRAMES extension."""
        writer = self._writer
        try:
            while self.outbox:
                if writer is None:
                    await self.ws.send_text(self.outbox.popleft())
                    continue
                await writer.writable()
                if writer.write(self.outbox):
                    self.outbox.clear()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone
            self.done.set()

    async def _drain_in_background(self) -> None:
        try:
            await self._drain()
        finally:
            self._draining = None

    def idle_timeout(self) -> None:
        limit = self.settings.ws_idle_timeout_seconds
        self._close(CLOSE_POLICY, notice(IDLE_TIMEOUT, f"nothing received for {limit:g} s"), flush=True)

    def _close(self, code: int, text: str | None = None, flush: bool = False) -> None:
        """Stop taking messages and close the socket in the background. `flush`: what is in the
        outbox (and `text`) goes out first; otherwise the outbox is dropped (a slow consumer's)."""
        if self.closing:
            return
        if text is not None and flush:
            self.outbox.append(text)
            text = None
        self.closing = True
        self.hub.detach(self)
        self.spawn_task(self._close_now(code, text, flush))

    async def _close_now(self, code: int, text: str | None, flush: bool) -> None:
        try:
            if flush:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush_outbox(), CLOSE_TIMEOUT_SECONDS)
            self.outbox.clear()
            if self._draining is not None:
                self._draining.cancel()
            # A client that reads nothing never lets these through: give up after the timeout.
            with contextlib.suppress(Exception):
                if text is not None:
                    await asyncio.wait_for(self.ws.send_text(text), CLOSE_TIMEOUT_SECONDS)
                await asyncio.wait_for(self.ws.close(code), CLOSE_TIMEOUT_SECONDS)
        finally:
            self.done.set()

    async def _flush_outbox(self) -> None:
        if self._draining is not None:
            await asyncio.wait([self._draining])
        await self._drain()

    def shutdown(self) -> None:
        """The server stops."""
        self._close(1001, flush=True)

    # -- THE CONNECTION ---------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self.ws.accept()
        except Exception:  # the client left during the handshake
            return
        metrics.WEBSOCKETS.inc()
        self.app.state.collector.connection_opened()
        self.hub.attach(self)
        settings = self.settings
        self.push(
            encode(
                {
                    "type": "welcome",
                    "challenge": self.challenge,
                    "server_time": now_ms(),
                    "heartbeat_ms": int(settings.ws_heartbeat_seconds * 1000),
                    "idle_timeout_ms": int(settings.ws_idle_timeout_seconds * 1000),
                    "journal_seq": self.hub.journal_seq,
                }
            )
        )
        reader = self.loop.create_task(self._read_loop())
        try:
            await self.done.wait()
        finally:
            self.closing = True
            self.hub.detach(self)
            reader.cancel()
            if self._draining is not None:
                self._draining.cancel()
            tasks = [reader] if self._draining is None else [reader, self._draining]
            await asyncio.gather(*tasks, return_exceptions=True)
            self._release_credential()
            try:
                await self._on_disconnect()
            finally:
                metrics.WEBSOCKETS.dec()
                self.app.state.collector.connection_closed()
                self.finished.set()

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                self.last_received = self.loop.time()
                if not self.below_pending_limit.is_set():
                    await self.below_pending_limit.wait()
                text = message.get("text")
                if text is None:
                    error = WsError(BAD_REQUEST, "binary frames are not accepted: send JSON text frames")
                    self.respond(error_response(None, None, error))
                    continue
                await self.handle(text)
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone (or closed by us)
            return
        finally:
            self.done.set()

    async def handle(self, text: str) -> None:
        request_id: RequestId = None
        op: str | None = None
        try:
            raw = parse_request(text)
            request_id, op = _envelope(raw)
            handler = self._ops.get(op)
            if handler is None:
                raise WsError(UNKNOWN_OP, f"no op {op!r}; ops: {', '.join(self._ops)}")
            result = await handler(raw, request_id)
            if result is not ANSWERED:
                self.respond(response(request_id, op, result))
        except _Unanswerable as error:
            self.respond(error_response(error.request_id, None, error))
        except WsError as error:
            self.respond(error_response(request_id, op, error))
        except GatewayUnavailable as exc:
            self.respond(error_response(request_id, op, _unavailable(exc)))
        except Exception:
            # Every request gets its one answer, whatever happened.
            log.exception("op %r failed", op)
            self.respond(error_response(request_id, op, internal_error()))
        if self._close_after_response is not None:
            self._close(self._close_after_response, flush=True)

    async def _on_disconnect(self) -> None:
        """Let submitted order entry finish, then cancel the account's orders if opted in. The
        dead-man's switch keeps running: it exists for a client that cannot reach us any more."""
        self._flush()
        if self.in_flight:
            await asyncio.wait(list(self.in_flight), timeout=DISCONNECT_WAIT_SECONDS)
        account_id = self.cancel_on_disconnect_account
        if self.cancel_on_disconnect and account_id is not None:
            try:
                await self.gateway.submit(CancelAll(timestamp=0, actor_id=account_id, account_id=account_id))
            except GatewayUnavailable:
                log.error("cancel-on-disconnect of account %s failed: sequencer unreachable", account_id)

    # -- TASKS ------------------------------------------------------------------------------------

    def spawn_task(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = self.loop.create_task(coroutine)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        return task

    def answer_later(self, request_id: RequestId, op: str, work: Coroutine[Any, Any, Any]) -> Any:
        """Run `work` concurrently (order entry is pipelined) and push its result or error."""

        async def run() -> None:
            try:
                result = await work
            except WsError as error:
                self.respond(error_response(request_id, op, error))
            except GatewayUnavailable as exc:
                self.respond(error_response(request_id, op, _unavailable(exc)))
            except Exception:
                log.exception("op %r failed", op)
                self.respond(error_response(request_id, op, internal_error()))
            else:
                self.respond(response(request_id, op, result))
            finally:
                self._request_answered()

        self._request_pending()
        self.spawn_task(run())
        return ANSWERED

    def submit(self, request_id: RequestId, op: str, command: Command, answer: Answer) -> Any:
        """Submit one command and respond with `answer(result)` or the refusal. The commands of
        the requests read in one turn of the event loop go to the sequencer together (one
        `submit_many`, in arrival order), so a pipelining client costs one task per turn."""
        self._batch.append((request_id, op, command, answer))
        self._request_pending()
        if len(self._batch) == 1:
            self.loop.call_soon(self._flush)
        return ANSWERED

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self.spawn_task(self._submit_batch(batch))

    async def _submit_batch(self, batch: list[tuple[RequestId, str, Command, Answer]]) -> None:
        try:
            results = await self.gateway.submit_many([command for _, _, command, _ in batch])
        except Exception as exc:
            if isinstance(exc, GatewayUnavailable):
                error = _unavailable(exc)
            else:
                log.exception("a batch of %d commands failed", len(batch))
                error = internal_error()
            for request_id, op, _, _ in batch:
                self.respond(error_response(request_id, op, error))
                self._request_answered()
            return
        for (request_id, op, _, answer), result in zip(batch, results, strict=True):
            if result.ok:
                self.respond(response(request_id, op, answer(result)))
            else:
                self.respond(error_response(request_id, op, order_entry.refusal(result)))
            self._request_answered()

    # -- AUTHORIZATION ----------------------------------------------------------------------------

    def require_scope(self, scope: str) -> Principal:
        if self.principal is None:
            raise WsError(UNAUTHENTICATED, "authenticate first (op auth)")
        if scope not in self.principal.scopes:
            raise WsError(SCOPE_REQUIRED, f"this API key lacks the {scope!r} scope")
        return self.principal

    def _refuse_auth(self, message: str) -> WsError:
        self.failed_auths += 1
        if self.failed_auths >= MAX_FAILED_AUTHS:
            self._close_after_response = CLOSE_POLICY
            message += "; too many refused attempts: closing"
        return WsError(UNAUTHENTICATED, message)

    async def _auth(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        if self.principal is not None:
            raise WsError(ALREADY_AUTHENTICATED, "this connection is already authenticated")
        request = fields(raw, Auth)
        engine = self.app.state.db_engine
        key_id: str | None = None
        if request.token is not None:
            live = await run_in_threadpool(lookup_session, engine, request.token, now_ms())
            if live is None:
                raise self._refuse_auth("the session token is unknown or expired; log in again")
            account_id, expires_at = live
            scopes = frozenset(security.SCOPES)
            via = "session"
            credential_id = session_credential(security.digest(request.token))
        elif request.key is not None and request.timestamp is not None and request.signature is not None:
            timestamp = str(request.timestamp)
            millis = security.parse_timestamp(timestamp)  # bounded: at most 16 ASCII digits
            if millis is None:
                raise WsError(BAD_REQUEST, "timestamp is milliseconds since the epoch, at most 16 digits")
            if not security.valid_key_id(request.key) or not security.valid_signature(request.signature):
                raise WsError(BAD_REQUEST, "key is at most 40 characters, signature at most 128 hex")
            window = self.settings.signature_window_ms
            if abs(millis - now_ms()) > window:
                raise self._refuse_auth(f"the timestamp is more than {window} ms from the server's clock")
            key = await run_in_threadpool(lookup_api_key, engine, request.key)
            if key is None:
                raise self._refuse_auth("unknown or revoked API key")
            assert self.challenge is not None
            message = security.ws_challenge_message(self.challenge, timestamp)
            if not self.app.state.api_keys.matches(key, message, request.signature):
                raise self._refuse_auth("the signature does not match this connection's challenge")
            account_id = key.account_id
            scopes = frozenset(s for s in key.scopes.split(",") if s)
            key_id = key.key_id
            via = "api_key"
            credential_id = api_key_credential(key.key_id)
            expires_at = None
        else:
            raise WsError(BAD_REQUEST, "auth needs a token, or key, timestamp and signature")
        account = await self.gateway.query("account", account_id)
        if account is None:
            raise self._refuse_auth("the account of these credentials no longer exists")
        if self.closing:
            return ANSWERED
        self.principal = Principal(account_id, account["role"], scopes, via, key_id)
        self._hold_credential(credential_id, expires_at)
        self.challenge = None  # one successful authentication per challenge
        self.hub.authenticated(self, account_id)
        if "trade" in scopes:
            self.protection.protect(account_id)
        return {"account_id": account_id, "role": account["role"], "scopes": sorted(scopes), "via": via}

    def _hold_credential(self, credential_id: str, expires_at: int | None) -> None:
        """Register with the process's CredentialWatch (ended at once when the credential is
        revoked or logged out, here or on another worker) and, for a session token, end at its
        expiry."""
        self.credential_id = credential_id
        self.app.state.credential_watch.hold(credential_id, self)
        if expires_at is not None:
            delay = max(0.0, (expires_at - now_ms()) / 1000)
            self.expiry = self.loop.call_later(delay, self.credential_ended, "the session expired")

    def _release_credential(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if self.credential_id is not None:
            self.app.state.credential_watch.release(self.credential_id, self)
            self.credential_id = None

    def credential_ended(self, reason: str) -> None:
        """The credential this connection authenticated with was revoked, logged out or expired:
        nothing more is done on it (a request read from now on is refused UNAUTHENTICATED), the
        client is told, and the connection closes (1008). Orders already submitted are answered
        by the sequencer as usual; cancel-on-disconnect, if enabled, still runs."""
        if self.principal is None:
            return
        self.principal = None
        self._release_credential()
        self._close(
            CLOSE_POLICY, notice(UNAUTHENTICATED, f"{reason}: log in or authenticate again"), flush=True
        )

    # -- SUBSCRIPTIONS ----------------------------------------------------------------------------

    async def _ping(self, _raw: dict[str, Any], _request_id: RequestId) -> Any:
        return {"server_time": now_ms()}

    async def _subscribe(self, raw: dict[str, Any], request_id: RequestId) -> Any:
        request = fields(raw, Subscription)
        channel = ch.channel_for(request.channel, request.symbol)
        if channel.private:
            self.require_scope("read")
        if request.symbol is not None:
            await self.hub.known_symbol(request.symbol)
        if self.closing:
            return ANSWERED
        # The response, then the channel's first messages, in one step (no await in between).
        self.respond(response(request_id, "subscribe", {"channel": channel.name, "symbol": request.symbol}))
        self.hub.subscribe(self, channel.name, request.symbol)
        return ANSWERED

    async def _unsubscribe(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        request = fields(raw, Subscription)
        channel = ch.channel_for(request.channel, request.symbol)
        if not self.hub.is_subscribed(self, channel.name, request.symbol):
            raise WsError(NOT_SUBSCRIBED, f"not subscribed to {channel.name} {request.symbol or ''}".strip())
        self.hub.unsubscribe(self, channel.name, request.symbol)
        return {"channel": channel.name, "symbol": request.symbol}

    async def _resync(self, raw: dict[str, Any], request_id: RequestId) -> Any:
        request = fields(raw, Resync)
        if request.symbol not in self.books:
            raise WsError(NOT_SUBSCRIBED, f"subscribe to the book of {request.symbol!r} first")
        last_seq = self.hub.books[request.symbol].last_seq
        self.respond(response(request_id, "resync", {"symbol": request.symbol, "last_seq": last_seq}))
        self.hub.send_snapshot(self, request.symbol)
        return ANSWERED

    # -- SAFEGUARDS -------------------------------------------------------------------------------

    async def _cancel_on_disconnect(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        principal = self.require_scope("trade")
        self.cancel_on_disconnect = fields(raw, CancelOnDisconnect).enabled
        # Kept apart from the principal: it still runs when the connection ends because its
        # credential did.
        self.cancel_on_disconnect_account = principal.account_id
        return {"enabled": self.cancel_on_disconnect}

    async def _cancel_all_after(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        principal = self.require_scope("trade")
        timeout_ms = fields(raw, CancelAllAfter).timeout_ms
        if self.dead_man is not None:
            self.dead_man.cancel()
            self.dead_man = None
        if timeout_ms == 0:
            return {"armed": False, "deadline": None}
        self.dead_man = self.loop.call_later(timeout_ms / 1000, self._dead_man_fired, principal.account_id)
        return {"armed": True, "deadline": now_ms() + timeout_ms}

    def _dead_man_fired(self, account_id: int) -> None:
        self.dead_man = None

        async def cancel_all() -> None:
            command = CancelAll(timestamp=0, actor_id=account_id, account_id=account_id)
            try:
                result = await self.gateway.submit(command)
            except GatewayUnavailable:
                log.error("dead-man's switch of account %s failed: sequencer unreachable", account_id)
                return
            message = {
                "type": "cancel_all_after",
                "cancelled": int(result.data.get("cancelled", 0)),
                "seq": result.seq,
            }
            self.push(encode(message))

        # Not in in_flight: the switch outlives the connection.
        task = self.loop.create_task(cancel_all())
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)

    async def _mmp_config(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        principal = self.require_scope("trade")
        request = fields(raw, MmpConfigure)
        return self.protection.configure(
            principal.account_id, request.underlying, request.quantity, request.interval_ms, request.frozen_ms
        )

    async def _mmp_reset(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        principal = self.require_scope("trade")
        return self.protection.reset(principal.account_id, fields(raw, MmpReset).underlying)


def _unavailable(exc: GatewayUnavailable) -> WsError:
    """UNAVAILABLE (nothing was applied) or OUTCOME_UNKNOWN (it may have been), as over REST."""
    code, message = unavailable_answer(exc)
    return WsError(code, message)


def _envelope(raw: dict[str, Any]) -> tuple[RequestId, str]:
    """(id, op) of a request; the id is None when it is not usable (the error then carries null)."""
    raw_id = raw.get("id")
    usable = isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
    request_id = raw_id if usable else None
    if raw_id is not None and not usable:
        raise WsError(BAD_REQUEST, "id is a string or an integer")
    op = raw.get("op")
    if not isinstance(op, str):
        raise _Unanswerable(request_id, "op is missing or not a string")
    return request_id, op


class _Unanswerable(WsError):
    """A request without a usable op: answered with its id when it had one."""

    def __init__(self, request_id: RequestId, message: str) -> None:
        super().__init__(BAD_REQUEST, message)
        self.request_id = request_id
