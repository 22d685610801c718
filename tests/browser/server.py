"""A real exchange for the browser tests and the screenshots: the demo app (demo/serve.py: the API,
the web client, a seeded market) served by uvicorn on a free 127.0.0.1 port, in a thread of this
process, on a fresh SQLite file. Helpers open accounts and list instruments through its gateway
(the path the routes take), and call its REST API like any client."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.accounts import register_account
from api.config import ApiSettings
from api.main import UVICORN_OPTIONS
from demo.seed import DEMO_PASSWORD
from demo.serve import create_demo_app, demo_settings
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID

DAY_MS = 86_400_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer:
    """The demo exchange on http://127.0.0.1:<port>/ (start() returns once it accepts connections
    and the demo market is seeded)."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        settings = ApiSettings(database_url=f"sqlite:///{data_dir / 'exchange.db'}")
        self.app = create_demo_app(demo_settings(settings, "127.0.0.1", self.port))
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", **UVICORN_OPTIONS)
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="demo-server", daemon=True)
        self.http = httpx.Client(base_url=self.base_url + "/api/v1", timeout=20)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> DemoServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(20)

    # -- THROUGH THE GATEWAY --------------------------------------------------------------------

    def call(self, function, *args) -> Any:
        """Run a coroutine function on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(function(*args), self.loop).result(30)

    def submit(self, command: cmd.Command):
        result = self.call(self.app.state.gateway.submit, command)
        assert result.ok, result
        return result

    def open_account(self, username: str, role: str = "creator", cash: int = 0) -> int:
        """A new login (password DEMO_PASSWORD) with `cash` fen deposited; its account id."""
        account_id = self.call(
            register_account, self.app.state.gateway, self.app.state.db_engine, username, DEMO_PASSWORD, role
        )
        if cash:
            self.submit(
                cmd.Deposit(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, account_id=account_id, amount=cash)
            )
        return account_id

    def list_capacity_option(
        self,
        process: str,
        window_start: int,
        strike: int,
        units_per_contract: int = 10,
        tick: int = 100,
        exercise_deadline: int | None = None,
    ) -> str:
        """A capacity option on the week from `window_start` (ms); its symbol. The exercise
        deadline (also its expiry) defaults to a day before the window."""
        deadline = window_start - DAY_MS if exercise_deadline is None else exercise_deadline
        terms = cmd.CapacityOptionTerms(
            process=process,
            window_start=window_start,
            window_end=window_start + 7 * DAY_MS,
            strike=strike,
            units_per_contract=units_per_contract,
            exercise_deadline=deadline,
        )
        result = self.submit(
            cmd.ListInstrument(
                timestamp=0,
                actor_id=SYSTEM_ACCOUNT_ID,
                terms=terms,
                tick=tick,
                lot=1,
                min_price=tick,
                max_price=1_000_000,
                trading_start=0,
                expiry=deadline,
            )
        )
        return result.data["symbol"]

    # -- OVER HTTP --------------------------------------------------------------------------------

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = self.http.post("/auth/login", json={"username": username, "password": password})
        response.raise_for_status()
        return response.json()["token"]

    def get(self, path: str, token: str | None = None, **params) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.get(path, params=params, headers=headers)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict, token: str) -> httpx.Response:
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
