"""The FastAPI application: `create_app(settings)` wires the gateway (embedded or Redis), the
read-side database, rate limits, routes, the WebSocket endpoint and the web client.

Lifespan: start the gateway (embedded: recover the sequencer from the journal), open the
read engine, start market data; on shutdown, the reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import RequestResponseEndpoint

from api.collector import CollectorPolicy
from api.config import ApiSettings
from api.credentials import CredentialWatch
from api.errors import error_body, install_error_handlers
from api.gateway import Gateway, now_ms
from api.gateways import build_gateway
from api.http_transport import HttpProtocol
from api.key_crypto import ApiKeyVerifier, load_key_encryption, reseal_rows
from api.rate_limit import MemoryNonceStore, MemoryRateLimiter, NonceStore, RateLimiter
from api.ws.transport import WebSocketProtocol
from exchange.store.database import make_engine

# How uvicorn serves the app everywhere (CLI, demo, tests, benchmarks): frames up to 1 MiB, no
# per-message compression (market-data frames are small; deflate cost ~13 us per message), our
# WebSocket protocol (api/ws/transport.py: many frames per write, read ahead) and our HTTP protocol
# (api/http_transport.py: what the parser refuses is answered in the JSON error shape too).


class UvicornOptions(TypedDict):
    ws_max_size: int
    ws_per_message_deflate: bool
    ws: type[WebSocketProtocol]
    http: type[HttpProtocol]


UVICORN_OPTIONS: UvicornOptions = {
    "ws_max_size": 1 << 20,
    "ws_per_message_deflate": False,
    "ws": WebSocketProtocol,
    "http": HttpProtocol,
}

log = logging.getLogger(__name__)

WEB_CLIENT = Path(__file__).resolve().parent.parent / "clients" / "web"

DESCRIPTION = """
A fully collateralised exchange for capacity options, material calls and capacity swaps.

Money is in fen (1 CNY = 100 fen), prices in fen per contract, quantities in contracts, times in
milliseconds since the Unix epoch (UTC). Authenticate with `Authorization: Bearer <session token>`
(from `POST /api/v1/auth/login`) or with a signed API key (headers `X-Capex-Key`,
`X-Capex-Timestamp`, `X-Capex-Nonce`, `X-Capex-Signature`; see docs/api.md). Every error has the
shape `{"error": {"status", "code", "message"}}`.
"""


def build_limits(settings: ApiSettings) -> tuple[RateLimiter, NonceStore]:
    """(rate limiter, nonce store): in Redis when configured (shared by workers), else in memory."""
    if settings.redis_url:
        from api.redis_rate_limit import RedisNonceStore, RedisRateLimiter

        return RedisRateLimiter(settings), RedisNonceStore(settings)
    return MemoryRateLimiter(), MemoryNonceStore()


def open_api_keys(settings: ApiSettings, engine: Engine) -> ApiKeyVerifier:
    """The API-key verifier with its server keys (API_KEY_ENCRYPTION_KEYS, or the generated key
    file); rows not yet under the first server key are (re-)encrypted now (api/key_crypto.py)."""
    setting = settings.key_encryption_keys
    verifier = ApiKeyVerifier(
        load_key_encryption(setting.get_secret_value() if setting else None, settings.database_url)
    )
    try:
        reseal_rows(engine, verifier)
    except SQLAlchemyError as exc:  # worker mode: the sequencer may not have migrated yet
        log.warning("API keys at rest not checked now (%s); again at the next start", exc)
    return verifier


def create_app(settings: ApiSettings | None = None, gateway: Gateway | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api import ws

        app.state.gateway = gateway or build_gateway(settings)
        await app.state.gateway.start()
        app.state.db_engine = make_engine(settings.database_url)
        app.state.api_keys = await run_in_threadpool(open_api_keys, settings, app.state.db_engine)
        app.state.rate_limiter, app.state.nonces = build_limits(settings)
        app.state.credential_watch = CredentialWatch(settings, app.state.db_engine, now_ms)
        await app.state.credential_watch.start()
        await ws.start(app)
        app.state.collector = CollectorPolicy()
        app.state.collector.start()  # after recovery: the sequencer's state is frozen too
        try:
            yield
        finally:
            app.state.collector.stop()
            await ws.stop(app)
            await app.state.credential_watch.stop()
            await app.state.gateway.stop()
            await app.state.rate_limiter.close()
            close_nonces = getattr(app.state.nonces, "close", None)
            if close_nonces is not None:
                await close_nonces()
            app.state.db_engine.dispose()

    app = FastAPI(
        title="capex exchange API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/docs",
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.middleware("http")
    async def limit_per_ip(request: Request, call_next: RequestResponseEndpoint) -> Response:
        limiter = getattr(request.app.state, "rate_limiter", None)
        if limiter is not None and request.url.path.startswith("/api/"):
            ip = request.client.host if request.client else "unknown"
            retry_after = await limiter.allow(
                f"ip:{ip}", settings.rate_limit_per_ip, settings.rate_limit_per_ip_burst
            )
            if retry_after is not None:
                seconds = max(1, int(retry_after + 0.999))
                body = error_body(
                    429, "RATE_LIMITED", f"too many requests from this address; retry after {seconds} s"
                )
                return JSONResponse(body, 429, headers={"Retry-After": str(seconds)})
        return await call_next(request)

    from api import routes, ws

    for router in routes.ROUTERS:
        app.include_router(router)
    app.include_router(ws.router)
    if WEB_CLIENT.is_dir():
        app.mount("/", StaticFiles(directory=WEB_CLIENT, html=True), name="web")
    return app
