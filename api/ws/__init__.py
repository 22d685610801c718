"""WebSocket endpoint `/ws`: market data channels, private channels and order entry.

The protocol is docs/market-data.md. Modules, by what they hold:

- the wire: `protocol` (requests, errors, encoding; the book checksum), `channels` (what may be
  subscribed), `transport` (the WebSocket protocol uvicorn runs: a turn's frames in one write,
  read ahead), `origins` (which browser pages may connect);
- the small interfaces between the rest: `interfaces` (`Subscriber`, `TradeListener`,
  `AccountNotifier`, `Underlyings`, `QuoteGuard`, `BookSequences`);
- market data: `market_data` (the per-process hub: takes the gateway's event batches, updates the
  state, fans out), `registry` (one subscriber registry per channel, the fan-out), `book_state`,
  `instruments`, `tickers` (the state), `trade_history` (tickers seeded from the trades table),
  `index_prices` (the index channel's worker);
- one connection: `sessions` (the reader and the wiring), `outbox` (bounded, one write per
  turn), `auth` (principal and credential), `subscriptions`, `heartbeat` (heartbeat and idle
  timeout), `submitter` (order entry to the sequencer, batched, answered), `safeguards`
  (cancel-on-disconnect, dead-man's switch, MMP ops);
- order entry: `order_entry` (place, cancel, amend, cancel all, mass quote: each returns what to
  submit and how to answer), `protection` (market-maker protection, a trade listener of the hub).

`start` wires them: the hub, protection registered as its trade listener, order entry, and the
`Services` every session shares.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.responses import JSONResponse

from api.errors import error_body
from api.ws.market_data import MarketDataHub
from api.ws.order_entry import OrderEntry
from api.ws.origins import browser_allowed
from api.ws.protection import MarketMakerProtection
from api.ws.protocol import CLOSE_POLICY
from api.ws.sessions import Services, Session

router = APIRouter()

STOP_TIMEOUT_SECONDS = 5.0


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    app = websocket.app
    # A browser always sends its page's Origin: only the configured ones (by default the server's
    # own, api/ws/origins.py) may connect: a page on another site must not ride on the user's
    # session. No Origin: not a browser.
    origin = websocket.headers.get("origin")
    allowed = app.state.settings.allowed_origins
    server, host = websocket.scope.get("server"), websocket.headers.get("host")
    if origin is not None and not browser_allowed(origin, allowed, server, host):
        message = f"WebSocket connections from the page {origin!r} are not allowed (API_ALLOWED_ORIGINS)"
        await _refuse(websocket, 403, "ORIGIN_NOT_ALLOWED", message, CLOSE_POLICY)
        return
    if getattr(app.state, "market_data", None) is None:
        await _refuse(websocket, 503, "UNAVAILABLE", "the server is starting or stopping; retry", 1013)
        return
    await Session(websocket, app.state.ws_services).run()


async def _refuse(websocket: WebSocket, status: int, code: str, message: str, close_code: int) -> None:
    """Refuse the handshake with an HTTP answer in the API's error shape where the server can send
    one (the ASGI denial-response extension, which uvicorn has); elsewhere a close before accept,
    which the server answers with a bare 403."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error_body(status, code, message), status))
    else:
        await websocket.close(code=close_code)


async def start(app: FastAPI) -> None:
    """Start market data for this process (subscribe to the gateway's events) and wire what the
    connections share."""
    state = app.state
    hub = MarketDataHub(state.gateway, getattr(state, "db_engine", None))
    protection = MarketMakerProtection(state.gateway, hub.instruments, hub, state.settings)
    hub.add_trade_listener(protection)
    await hub.start()
    order_entry = OrderEntry(state.gateway, state.rate_limiter, state.settings, protection, hub.instruments)
    state.ws_services = Services(
        settings=state.settings,
        gateway=state.gateway,
        hub=hub,
        protection=protection,
        order_entry=order_entry,
        credential_watch=state.credential_watch,
        db_engine=state.db_engine,
        api_keys=state.api_keys,
        # the collector starts after market data: looked up when a connection opens
        connection_opened=lambda: app.state.collector.connection_opened(),
        connection_closed=lambda: app.state.collector.connection_closed(),
        sessions=set(),
    )
    state.market_maker_protection = protection
    state.market_data = hub


async def stop(app: FastAPI) -> None:
    """Stop market data and close every session."""
    hub: MarketDataHub | None = getattr(app.state, "market_data", None)
    if hub is None:
        return
    app.state.market_data = None
    services: Services = app.state.ws_services
    sessions = list(services.sessions)
    for session in sessions:
        session.shutdown()
    if sessions:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.finished.wait() for s in sessions), return_exceptions=True),
                STOP_TIMEOUT_SECONDS,
            )
    await services.protection.stop()
    await hub.stop()
