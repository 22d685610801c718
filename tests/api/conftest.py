"""Fixtures of the API tests: a real app on a fresh SQLite file (TestClient, in process), a real
uvicorn server on a free port (for WebSocket clients), and helpers that open accounts, list
instruments and fund accounts through the gateway (the same path the routes take).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.accounts import log_in, register_account
from api.config import ApiSettings
from api.main import UVICORN_OPTIONS, create_app
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID

REPO = Path(__file__).resolve().parents[2]
DAY = 86_400_000
# Instruments are listed relative to now: the gateway stamps commands with the wall clock.
NOW = int(time.time() * 1000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}",
        allowed_origins=["http://127.0.0.1", "http://testserver"],
    )


def capacity_option_listing(process: str, strike: int = 1200, week: int = 20) -> cmd.ListInstrument:
    """A one-week capacity option `week` weeks from now (10 units per contract, tick 1, lot 1),
    exercisable until the day before its window (the same window as Market.register_capacity)."""
    start = NOW + week * DAY
    terms = cmd.CapacityOptionTerms(
        process=process,
        window_start=start,
        window_end=start + 7 * DAY,
        strike=strike,
        units_per_contract=10,
        exercise_deadline=start - DAY,
    )
    return cmd.ListInstrument(
        timestamp=0,
        actor_id=SYSTEM_ACCOUNT_ID,
        terms=terms,
        tick=1,
        lot=1,
        min_price=1,
        max_price=1_000_000,
        trading_start=0,
        expiry=start - DAY,
    )


@dataclass
class User:
    account_id: int
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Market:
    """Opens accounts and sets up instruments through the app's gateway (no HTTP involved)."""

    def __init__(self, app: FastAPI, call) -> None:
        self.app = app
        self.call = call  # runs a coroutine function on the app's event loop

    @property
    def gateway(self):
        return self.app.state.gateway

    def submit(self, command: cmd.Command):
        return self.call(self.gateway.submit, command)

    def user(
        self, username: str, role: str = "creator", cash: int = 0, password: str = "password-123"
    ) -> User:
        engine = self.app.state.db_engine
        account_id = self.call(register_account, self.gateway, engine, username, password, role)
        if cash:
            result = self.submit(
                cmd.Deposit(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, account_id=account_id, amount=cash)
            )
            assert result.ok, result
        token, _, _ = self.call(log_in, engine, username, password, 3600)
        return User(account_id, username, password, token)

    def list_capacity_option(
        self, process: str = "notebook-a5-print", strike: int = 1200, week: int = 20
    ) -> str:
        result = self.submit(capacity_option_listing(process, strike, week))
        assert result.ok, result
        return result.data["symbol"]

    def register_capacity(
        self, supplier: User, process: str = "notebook-a5-print", week: int = 20, units: int = 10_000
    ):
        start = NOW + week * DAY
        result = self.submit(
            cmd.RegisterCapacity(
                timestamp=0,
                actor_id=supplier.account_id,
                process=process,
                window_start=start,
                window_end=start + 7 * DAY,
                units=units,
            )
        )
        assert result.ok, result


@pytest.fixture
def app(api_settings: ApiSettings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def market(app: FastAPI, client: TestClient) -> Market:
    return Market(app, client.portal.call)


class LiveServer:
    def __init__(self, app: FastAPI, port: int, options: dict | None = None) -> None:
        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        options = UVICORN_OPTIONS if options is None else options
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def call(self, function, *args):
        """Run a coroutine function on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(function(*args), self.loop).result(30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def live_server(api_settings: ApiSettings) -> Iterator[LiveServer]:
    """A real uvicorn server on a free 127.0.0.1 port, running the app in its own thread."""
    server = LiveServer(create_app(api_settings), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_market(live_server: LiveServer) -> Market:
    return Market(live_server.app, live_server.call)


@contextlib.contextmanager
def capex_serve(tmp_path: Path, env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """`capex serve --port PORT` as a user starts it, in its own process, until /health
    answers 200; stopped (SIGTERM, then SIGKILL) afterwards. Its output goes to server.log."""
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "capex", "serve", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
