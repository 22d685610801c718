"""Serving the demo market: `capex serve --demo` (or `capex serve --demo`).

The API app (api.main.create_app) with the demo seeded at startup (demo/seed.py, through the app's
gateway and its login database), served by uvicorn; once it accepts connections it prints the URL
and the demo logins, then starts the market-maker bot (clients/python/mm_bot.py) against itself
over a real WebSocket connection. docs/demo.md.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.accounts import register_account
from api.config import ApiSettings
from api.gateway import Gateway, now_ms
from api.main import UVICORN_OPTIONS, create_app
from api.tables import Credential
from clients.python.mm_bot import run_bot
from demo.seed import DEMO_PASSWORD, MARKET_MAKER, DemoInfo, DemoLogin, seed_demo

log = logging.getLogger(__name__)


class DatabaseLogins:
    """The seed's login store (demo.seed.SeedLogins) on the API's credential table: what
    `capex serve` users log in with."""

    def __init__(self, gateway: Gateway, engine: Engine) -> None:
        self.gateway = gateway
        self.engine = engine

    async def account_ids(self, usernames: Sequence[str]) -> dict[str, int]:
        return await run_in_threadpool(_credentials, self.engine, usernames)

    async def register(self, login: DemoLogin) -> int:
        return await register_account(self.gateway, self.engine, login.username, login.password, login.role)


def _credentials(engine: Engine, usernames: Sequence[str]) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(
            select(Credential.username, Credential.account_id).where(col(Credential.username).in_(usernames))
        ).all()
    return {username: account_id for username, account_id in rows}


def create_demo_app(settings: ApiSettings | None = None, clock: Callable[[], int] = now_ms) -> FastAPI:
    """The API app (api.main.create_app) with the demo seeded at startup, after the gateway has
    started and before the first request. `app.state.demo` is True; `app.state.demo_info` holds
    the DemoInfo once started. The market-maker bot (`start_demo_bot`) is stopped at shutdown,
    before the gateway stops."""
    app = create_app(settings)
    app.state.demo = True
    app.state.demo_info = None
    app.state.demo_bot = None
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def demo_lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with app_lifespan(app) as state:
            logins = DatabaseLogins(app.state.gateway, app.state.db_engine)
            app.state.demo_info = await seed_demo(app.state.gateway, logins, clock())
            app.state.demo_bot_stop = asyncio.Event()
            try:
                yield state
            finally:
                await stop_demo_bot(app)

    app.router.lifespan_context = demo_lifespan
    return app


def public_host(host: str) -> str:
    """The host a browser on this machine uses for a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def demo_settings(settings: ApiSettings, host: str, port: int) -> ApiSettings:
    """The settings in embedded mode, with the demo's own page allowed as a WebSocket origin on
    whatever port it is served (API_ALLOWED_ORIGINS unset already allows the server's own origin:
    api/ws/origins.py; when set, the demo's own addresses are added to it)."""
    if settings.allowed_origins is None:
        return settings.model_copy(update={"mode": "embedded"})
    origins = list(settings.allowed_origins)
    if "*" not in origins:
        for name in dict.fromkeys((public_host(host), "127.0.0.1", "localhost")):
            origin = f"http://{name}:{port}"
            if origin not in origins:
                origins.append(origin)
    # the demo is the embedded default whatever API_MODE says: one process, nothing else to run
    return settings.model_copy(update={"allowed_origins": origins, "mode": "embedded"})


def announcement(base_url: str, info: DemoInfo | None) -> str:
    lines = [
        f"capex demo exchange: {base_url}/",
        f"API documentation:   {base_url}/docs",
    ]
    if info is None or not info.logins:
        lines.append("This database was not seeded by the demo: no demo logins (see docs/demo.md).")
    else:
        state = "seeded now" if info.seeded else "already seeded"
        lines.append(f"Demo market ({state}, {len(info.symbols)} instruments). Demo logins:")
        width = max(len(login.username) for login in info.logins)
        for login in info.logins:
            lines.append(
                f"  {login.username:<{width}}  password {login.password}  {login.role}: {login.description}"
            )
    return "\n".join(lines)


def start_demo_bot(app: FastAPI, base_url: str) -> None:
    """Start the market-maker bot (clients/python/mm_bot.py) as `demo-marketmaker`, quoting every
    instrument over a real WebSocket connection to this server. Only on a demo-seeded database."""
    info = app.state.demo_info
    if info is None or not info.logins:
        return

    async def run() -> None:
        try:
            await run_bot(
                base_url,
                username=MARKET_MAKER,
                password=DEMO_PASSWORD,
                stop_event=app.state.demo_bot_stop,
            )
        except Exception:  # the exchange keeps running without its demo quotes
            log.exception("the demo market-maker bot stopped")

    app.state.demo_bot = asyncio.get_running_loop().create_task(run(), name="demo-market-maker")


async def stop_demo_bot(app: FastAPI) -> None:
    task = app.state.demo_bot
    if task is None:
        return
    app.state.demo_bot_stop.set()
    try:
        await asyncio.wait_for(task, 10)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
    app.state.demo_bot = None


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints the demo's announcement once it accepts connections (after the
    app's startup, so the seed is done), then starts the market-maker bot against itself."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, bot: bool = True) -> None:
        super().__init__(config)
        self._demo_app = app
        self._bot = bot

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        port = self.servers[0].sockets[0].getsockname()[1] if self.servers else self.config.port
        base_url = f"http://{public_host(self.config.host)}:{port}"
        print(announcement(base_url, self._demo_app.state.demo_info), flush=True)
        if self._bot:
            start_demo_bot(self._demo_app, base_url)


def serve_demo(settings: ApiSettings, host: str, port: int, bot: bool = True) -> None:
    """Run the demo until SIGINT/SIGTERM (embedded mode: the sequencer in this process), with the
    market-maker bot quoting unless `bot` is False."""
    app = create_demo_app(demo_settings(settings, host, port))
    config = uvicorn.Config(app, host=host, port=port, log_level="info", **UVICORN_OPTIONS)
    _AnnouncingServer(config, app, bot).run()
