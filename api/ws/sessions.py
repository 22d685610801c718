"""One WebSocket connection: its reader, its requests, and the collaborators it wires.

    socket --> reader --> handle(request) --> op --> answer --respond--> Outbox --> socket
                                               \\--> order entry: Submit / Deferred --> Submitter
    hub fan-out --Subscriber.push--> Outbox

- `Outbox` (outbox.py): everything sent, in order, bounded, one write per turn of the loop;
- `Authentication` (auth.py): the principal, its credential and its end;
- `Subscriptions` (subscriptions.py): the connection's side of its subscriptions;
- `Heartbeat` (heartbeat.py): its heartbeat and idle timeout;
- `Submitter` (submitter.py): order entry to the sequencer, batched per turn, and the answers;
- `QuoteBook` (order_entry.py): its mass quotes' orders;
- `Safeguards` (safeguards.py): cancel-on-disconnect, dead-man's switch, the MMP ops.

What every connection of the process shares (the hub, protection, order entry, ...) comes in one
`Services`, wired by `api.ws.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import WebSocket

from api import metrics
from api.config import ApiSettings
from api.credentials import CredentialWatch
from api.deps import Principal
from api.gateway import Gateway, GatewayUnavailable, now_ms
from api.key_crypto import ApiKeyVerifier
from api.schemas import AmendOrderByIdIn, CancelAllIn, CancelOrderIn, PlaceOrderIn, RequestModel
from api.ws import channels as ch
from api.ws.auth import Authentication
from api.ws.heartbeat import Heartbeat
from api.ws.market_data import MarketDataHub
from api.ws.order_entry import Deferred, OrderEntry, QuoteBook, Submit
from api.ws.outbox import Outbox
from api.ws.protection import MarketMakerProtection
from api.ws.protocol import (
    BAD_REQUEST,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN_LATER,
    IDLE_TIMEOUT,
    SLOW_CONSUMER,
    UNAUTHENTICATED,
    UNKNOWN_OP,
    Auth,
    CancelAllAfter,
    CancelOnDisconnect,
    MassQuote,
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
from api.ws.safeguards import Safeguards
from api.ws.submitter import Submitter, unavailable
from api.ws.subscriptions import Subscriptions

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_SECONDS = 5.0  # how long a closing connection may take to flush and close
DISCONNECT_WAIT_SECONDS = 5.0  # in-flight order entry finishes before cancel-on-disconnect

M = TypeVar("M", bound=RequestModel)
Handler = Callable[[dict[str, Any], RequestId], Awaitable[Any]]
ANSWERED = object()  # a handler's return value when it answers by itself (now or later)


@dataclass(frozen=True)
class Services:
    """What every connection of this process shares, wired by `api.ws.start`."""

    settings: ApiSettings
    gateway: Gateway
    hub: MarketDataHub
    protection: MarketMakerProtection
    order_entry: OrderEntry
    credential_watch: CredentialWatch
    db_engine: Any
    api_keys: ApiKeyVerifier
    connection_opened: Callable[[], None]  # the collector's bookkeeping (api/collector.py)
    connection_closed: Callable[[], None]
    sessions: set[Session]  # the open connections (the server closes them when it stops)


class Session:
    """One connection; a `Subscriber` of the hub (account_id, push)."""

    push: Callable[[str], None]  # the outbox's own push: the hub's fan-out calls it directly
    respond: Callable[[str], None]

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        settings = services.settings
        self.ws = websocket
        self.services = services
        self.hub = services.hub
        self.loop = asyncio.get_running_loop()
        self.outbox = Outbox(
            websocket,
            self.loop,
            settings.ws_queue_size,
            settings.ws_max_pending_requests,
            on_overflow=self._slow_consumer,
            on_lost=self._lost,
        )
        self.push = self.outbox.push
        self.respond = self.outbox.respond
        self.auth = Authentication(
            settings,
            services.gateway,
            services.db_engine,
            services.api_keys,
            services.credential_watch,
            self.loop,
            on_ended=self._credential_ended,
        )
        self.subscriptions = Subscriptions(self, self.hub)
        self.heartbeat = Heartbeat(
            self.loop,
            settings.ws_heartbeat_seconds,
            settings.ws_idle_timeout_seconds,
            self.hub,
            self.subscriptions.books,
            self.push,
            on_idle=self._idle_timeout,
        )
        self.submitter = Submitter(services.gateway, self.outbox, self.loop)
        self.quotes = QuoteBook()
        self.safeguards = Safeguards(services.gateway, services.protection, self.loop, self.push)
        # -- lifecycle --
        self.done = asyncio.Event()  # the connection is over: clean up
        self.finished = asyncio.Event()  # cleaned up (cancel-on-disconnect submitted)
        self._close_after_response: int | None = None
        entry = services.order_entry
        safeguards = self.safeguards

        def mass_quote(request: MassQuote, principal: Principal) -> Awaitable[Deferred]:
            return entry.mass_quote(request, principal, self.quotes)

        self._ops: dict[str, Handler] = {
            "ping": self._ping,
            "auth": self._auth,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "resync": self._resync,
            "place": self._order_entry(PlaceOrderIn, entry.place),
            "cancel": self._order_entry(CancelOrderIn, entry.cancel),
            "amend": self._order_entry(AmendOrderByIdIn, entry.amend),
            "cancel_all": self._order_entry(CancelAllIn, entry.cancel_all),
            "mass_quote": self._order_entry(MassQuote, mass_quote),
            "cancel_on_disconnect": self._safeguard(CancelOnDisconnect, safeguards.set_cancel_on_disconnect),
            "cancel_all_after": self._safeguard(CancelAllAfter, safeguards.cancel_all_after),
            "mmp_config": self._safeguard(MmpConfigure, safeguards.mmp_config),
            "mmp_reset": self._safeguard(MmpReset, safeguards.mmp_reset),
        }

    @property
    def account_id(self) -> int | None:
        principal = self.auth.principal
        return principal.account_id if principal is not None else None

    @property
    def closing(self) -> bool:
        return self.outbox.closed

    # -- THE CONNECTION ---------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self.ws.accept()
        except Exception:  # the client left during the handshake
            return
        metrics.WEBSOCKETS.inc()
        self.services.connection_opened()
        self.services.sessions.add(self)
        self.hub.attach(self)
        settings = self.services.settings
        self.push(
            encode(
                {
                    "type": "welcome",
                    "challenge": self.auth.challenge,
                    "server_time": now_ms(),
                    "heartbeat_ms": int(settings.ws_heartbeat_seconds * 1000),
                    "idle_timeout_ms": int(settings.ws_idle_timeout_seconds * 1000),
                    "journal_seq": self.hub.journal_seq,
                }
            )
        )
        self.heartbeat.start()
        reader = self.loop.create_task(self._read_loop())
        try:
            await self.done.wait()
        finally:
            self.outbox.close()
            self._detach()
            reader.cancel()
            draining = self.outbox.discard()
            await asyncio.gather(*(t for t in (reader, draining) if t is not None), return_exceptions=True)
            self.auth.release_credential()
            try:
                await self._on_disconnect()
            finally:
                metrics.WEBSOCKETS.dec()
                self.services.connection_closed()
                self.finished.set()

    def _detach(self) -> None:
        """Nothing more is sent to this connection."""
        self.heartbeat.stop()
        self.hub.detach(self)
        self.services.sessions.discard(self)

    async def _read_loop(self) -> None:
        receive = self.ws.receive
        heartbeat = self.heartbeat
        below_pending_limit = self.outbox.below_pending_limit
        loop = self.loop
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                heartbeat.last_received = loop.time()
                if not below_pending_limit.is_set():
                    await below_pending_limit.wait()
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
            if type(result) is Submit:
                self.submitter.submit(request_id, op, result)
            elif type(result) is Deferred:
                self.submitter.later(request_id, op, result.work)
            elif result is not ANSWERED:
                self.respond(response(request_id, op, result))
        except _Unanswerable as error:
            self.respond(error_response(error.request_id, None, error))
        except WsError as error:
            self.respond(error_response(request_id, op, error))
        except GatewayUnavailable as exc:
            self.respond(error_response(request_id, op, unavailable(exc)))
        except Exception:
            # Every request gets its one answer, whatever happened.
            log.exception("op %r failed", op)
            self.respond(error_response(request_id, op, internal_error()))
        if self._close_after_response is not None:
            self._close(self._close_after_response, flush=True)

    async def _on_disconnect(self) -> None:
        """Let submitted order entry finish, then cancel the account's orders if opted in. The
        dead-man's switch keeps running: it exists for a client that cannot reach us any more."""
        await self.submitter.settle(DISCONNECT_WAIT_SECONDS)
        await self.safeguards.on_disconnect()

    # -- CLOSING ----------------------------------------------------------------------------------

    def _close(self, code: int, text: str | None = None, flush: bool = False) -> None:
        """Stop taking messages and close the socket in the background. `flush`: what is in the
        outbox (and `text`) goes out first; otherwise the outbox is dropped (a slow consumer's)."""
        if self.closing:
            return
        if flush:
            self.outbox.close(last=text)
            text = None
        else:
            self.outbox.close()
        self._detach()
        self.submitter.spawn(self._close_now(code, text, flush))

    async def _close_now(self, code: int, text: str | None, flush: bool) -> None:
        try:
            if flush:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.flush(), CLOSE_TIMEOUT_SECONDS)
            self.outbox.discard()
            # A client that reads nothing never lets these through: give up after the timeout.
            with contextlib.suppress(Exception):
                if text is not None:
                    await asyncio.wait_for(self.ws.send_text(text), CLOSE_TIMEOUT_SECONDS)
                await asyncio.wait_for(self.ws.close(code), CLOSE_TIMEOUT_SECONDS)
        finally:
            self.done.set()

    def _slow_consumer(self) -> None:
        message = "the connection fell behind its messages; reconnect and resubscribe"
        self._close(CLOSE_TRY_AGAIN_LATER, notice(SLOW_CONSUMER, message))

    def _lost(self) -> None:
        self.done.set()

    def _idle_timeout(self) -> None:
        limit = self.services.settings.ws_idle_timeout_seconds
        self._close(CLOSE_POLICY, notice(IDLE_TIMEOUT, f"nothing received for {limit:g} s"), flush=True)

    def _credential_ended(self, reason: str) -> None:
        self._close(
            CLOSE_POLICY, notice(UNAUTHENTICATED, f"{reason}: log in or authenticate again"), flush=True
        )

    def shutdown(self) -> None:
        """The server stops."""
        self._close(1001, flush=True)

    # -- OPS --------------------------------------------------------------------------------------

    async def _ping(self, _raw: dict[str, Any], _request_id: RequestId) -> Any:
        return {"server_time": now_ms()}

    async def _auth(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        auth = self.auth
        auth.require_unauthenticated()
        request = fields(raw, Auth)
        try:
            verified = await auth.verify(request)
        except WsError:
            if auth.refusals_exhausted:
                self._close_after_response = CLOSE_POLICY
            raise
        if self.closing:
            return ANSWERED
        principal = auth.accept(verified)
        if self.closing:  # the credential ended while this auth was under way
            return ANSWERED
        self.hub.authenticated(self, principal.account_id)
        if "trade" in principal.scopes:
            self.services.protection.protect(principal.account_id)
        return {
            "account_id": principal.account_id,
            "role": principal.role,
            "scopes": sorted(principal.scopes),
            "via": principal.via,
        }

    async def _subscribe(self, raw: dict[str, Any], request_id: RequestId) -> Any:
        request = fields(raw, Subscription)
        channel = ch.channel_for(request.channel, request.symbol)
        if channel.private:
            self.auth.require_scope("read")
        if request.symbol is not None:
            await self.hub.known_symbol(request.symbol)
        if self.closing:
            return ANSWERED
        # The response, then the channel's first messages, in one step (no await in between).
        self.respond(response(request_id, "subscribe", {"channel": channel.name, "symbol": request.symbol}))
        self.subscriptions.add(channel.name, request.symbol)
        return ANSWERED

    async def _unsubscribe(self, raw: dict[str, Any], _request_id: RequestId) -> Any:
        request = fields(raw, Subscription)
        channel = ch.channel_for(request.channel, request.symbol)
        self.subscriptions.remove(channel.name, request.symbol)
        return {"channel": channel.name, "symbol": request.symbol}

    async def _resync(self, raw: dict[str, Any], request_id: RequestId) -> Any:
        symbol = fields(raw, Resync).symbol
        last_seq = self.subscriptions.book_seq(symbol)
        self.respond(response(request_id, "resync", {"symbol": symbol, "last_seq": last_seq}))
        self.subscriptions.send_snapshot(symbol)
        return ANSWERED

    def _order_entry(self, shape: type[M], op: Callable[[M, Principal], Awaitable[Any]]) -> Handler:
        """An order-entry op behind the `trade` scope and the request's shape, checked in that
        order. No coroutine of its own: `handle` awaits the op's directly."""
        require_scope = self.auth.require_scope

        def start(raw: dict[str, Any], _request_id: RequestId) -> Awaitable[Any]:
            principal = require_scope("trade")
            return op(fields(raw, shape), principal)

        return start

    def _safeguard(self, shape: type[M], op: Callable[[Principal, M], Any]) -> Handler:
        async def run(raw: dict[str, Any], _request_id: RequestId) -> Any:
            principal = self.auth.require_scope("trade")
            return op(principal, fields(raw, shape))

        return run


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
