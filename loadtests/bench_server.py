"""The server of the WebSocket benchmark: `capex serve` (embedded mode, the same app from
`api.main.create_app`, the same uvicorn defaults) plus a setup run through the gateway at startup,
before the first connection is accepted:

- `--market-makers N` market-maker accounts `bench-mm-<i>` with 10^13 fen each and a login
  (a session token for the WebSocket `auth` op), opened with `api.accounts.register_account`
  and `log_in`, the functions behind `POST /api/v1/auth/register` and `/auth/login`;
- `--instruments K` material calls for order entry and one more for the fan-out stream (a call
  is the instrument a market maker can sell without owning anything: it locks cash).

What was set up is written as JSON to `--out` (written once complete, then renamed, so a reader
never sees half of it). The orchestrator (loadtests/ws_bench.py) runs this as a subprocess:

    python -m loadtests.bench_server --port 8123 --out setup.json --market-makers 8 --instruments 4

DATABASE_URL and the API_* variables configure it as they configure `capex serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.accounts import log_in, register_account
from api.config import ApiSettings
from api.gateway import now_ms
from api.main import UVICORN_OPTIONS, create_app
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID, Role

DAY_MS = 86_400_000
CASH_PER_ACCOUNT = 10**13  # fen: far more than the collateral any benchmark run can lock
PASSWORD = "bench-password"  # benchmark accounts on a throw-away database only

# The material calls of the benchmark: strike 8,000 and cap 9,600 fen per kg, 10 kg per contract,
# so a sold contract locks (9,600 - 8,000) x 10 = 16,000 fen. Prices in fen per contract.
STRIKE = 8_000
CAP = 9_600
UNITS = 10
MIN_PRICE = 1
MAX_PRICE = 10_000_000


def material_call(name: str, now: int) -> cmd.ListInstrument:
    terms = cmd.MaterialCallTerms(
        material=f"bench-{name}",
        index=f"BENCH-{name.upper()}",
        strike=STRIKE,
        cap=CAP,
        units_per_contract=UNITS,
        settlement_window_start=now + 300 * DAY_MS,
    )
    return cmd.ListInstrument(
        timestamp=0,
        actor_id=SYSTEM_ACCOUNT_ID,
        terms=terms,
        tick=1,
        lot=1,
        min_price=MIN_PRICE,
        max_price=MAX_PRICE,
        trading_start=0,
        expiry=now + 365 * DAY_MS,
    )


async def set_up(app: FastAPI, market_makers: int, instruments: int, ttl_seconds: int) -> dict[str, Any]:
    """Accounts and instruments through the gateway; what the clients need to know."""
    gateway = app.state.gateway
    engine = app.state.db_engine
    now = now_ms()
    symbols = []
    for name in [f"order{i}" for i in range(instruments)] + ["fanout"]:
        listing = material_call(name, now)
        assert isinstance(listing.terms, cmd.MaterialCallTerms)
        # An index must have a published price before a call is listed on it. At the strike the
        # calls are worth nothing: the fat-finger band then spans the listing's (up to the cap).
        index = await gateway.submit(
            cmd.PublishIndexPrice(
                timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, index=listing.terms.index, price=STRIKE
            )
        )
        if not index.ok:
            raise RuntimeError(f"index price for {name} was refused: {index.code_name} {index.message}")
        result = await gateway.submit(listing)
        if not result.ok:
            raise RuntimeError(f"listing {name} was refused: {result.code_name} {result.message}")
        symbols.append(result.data["symbol"])

    async def open_account(index: int) -> dict[str, Any]:
        username = f"bench-mm-{index}"
        account_id = await register_account(gateway, engine, username, PASSWORD, Role.MARKET_MAKER)
        deposit = await gateway.submit(
            cmd.Deposit(
                timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, account_id=account_id, amount=CASH_PER_ACCOUNT
            )
        )
        if not deposit.ok:
            raise RuntimeError(f"deposit for {username} was refused: {deposit.code_name}")
        token, _, _ = await log_in(engine, username, PASSWORD, ttl_seconds)
        return {"account_id": account_id, "username": username, "token": token}

    # Password hashing runs in the thread pool: open the accounts concurrently.
    accounts = await asyncio.gather(*(open_account(i) for i in range(market_makers)))
    return {
        "order_symbols": symbols[:-1],
        "fanout_symbol": symbols[-1],
        "accounts": list(accounts),
        "server_pid": os.getpid(),
    }


def create_bench_app(settings: ApiSettings, market_makers: int, instruments: int, out: Path) -> FastAPI:
    app = create_app(settings)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def bench_lifespan(app: FastAPI) -> AsyncIterator[Any]:  # the state of the app's lifespan
        async with app_lifespan(app) as state:
            setup = await set_up(app, market_makers, instruments, settings.session_ttl_seconds)
            partial = out.with_name(out.name + ".part")
            partial.write_text(json.dumps(setup))
            partial.replace(out)
            yield state

    app.router.lifespan_context = bench_lifespan
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.bench_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the setup (JSON)")
    parser.add_argument("--market-makers", type=int, default=8)
    parser.add_argument("--instruments", type=int, default=4)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    settings = ApiSettings()
    app = create_bench_app(settings, args.market_makers, args.instruments, args.out)
    # The same server options as `capex serve` (capex/cli.py).
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
