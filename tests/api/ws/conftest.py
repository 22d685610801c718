"""Fixtures of the WebSocket tests: a real uvicorn server (`live_server`), real `websockets`
clients, and an independent client-side book that checks every book message as a client would
(its own checksum code, written from docs/market-data.md, not the server's)."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session as DbSession
from websockets.asyncio.client import ClientConnection, connect

from api import security
from api.config import ApiSettings
from api.tables import ApiKey
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID
from tests.api.conftest import DAY, NOW, LiveServer, Market, User

TEST_TIMEOUT = 20.0  # no scenario may hang a test run


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Overridden per test with @pytest.mark.parametrize("settings_overrides", [{...}])."""
    return {}


@pytest.fixture
def api_settings(tmp_path: Path, settings_overrides: dict[str, Any]) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'exchange.db'}",
        "allowed_origins": ["http://127.0.0.1", "http://testserver"],
        "ws_heartbeat_seconds": 0.2,
    }
    values.update(settings_overrides)
    return ApiSettings(**values)


def run(scenario: Awaitable[Any], timeout: float = TEST_TIMEOUT) -> Any:
    """Run one client scenario on a fresh event loop (the server runs on its own)."""

    async def bounded() -> Any:
        return await asyncio.wait_for(scenario, timeout)

    return asyncio.run(bounded())


# -- MARKET SET-UP ------------------------------------------------------------------------------


def list_material_call(
    market: Market,
    index: str = "INK-BLACK-SPECIAL",
    strike: int = 8_000,
    cap: int = 9_600,
    expiry: int | None = None,
    settlement_window_start: int | None = None,
    material: str = "special-black-ink",
    index_price: int = 8_000,
) -> str:
    """An index is known once it has a price: the system publishes `index_price` first when
    `index` has none yet (at the strike, the fat-finger band is as wide as the listing's)."""
    if not market.call(market.gateway.query, "index_prices", index):
        published = market.submit(
            cmd.PublishIndexPrice(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, index=index, price=index_price)
        )
        assert published.ok, published
    expiry = expiry if expiry is not None else NOW + 30 * DAY
    terms = cmd.MaterialCallTerms(
        material=material,
        index=index,
        strike=strike,
        cap=cap,
        units_per_contract=1,
        settlement_window_start=(
            settlement_window_start if settlement_window_start is not None else expiry - 7 * DAY
        ),
    )
    result = market.submit(
        cmd.ListInstrument(
            timestamp=0,
            actor_id=SYSTEM_ACCOUNT_ID,
            terms=terms,
            tick=1,
            lot=1,
            min_price=1,
            max_price=1_600,
            trading_start=0,
            expiry=expiry,
        )
    )
    assert result.ok, result
    return result.data["symbol"]


def system(market: Market, command_type: type[cmd.Command], **fields: Any):
    result = market.submit(command_type(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, **fields))
    assert result.ok, result
    return result


def place(market: Market, user: User, symbol: str, side: str, price: int, quantity: int, **extra: Any):
    """An order entered around the WebSocket (through the gateway, as the REST route does)."""
    result = market.submit(
        cmd.PlaceOrder(
            timestamp=0,
            actor_id=user.account_id,
            symbol=symbol,
            client_order_id=f"t-{time.monotonic_ns()}",
            side=side,
            price=price,
            quantity=quantity,
            **extra,
        )
    )
    assert result.ok, result
    return result


def api_key(market: Market, user: User, scopes: str = "read,trade") -> tuple[str, str]:
    """(key_id, secret) of a new API key of `user`, stored as the keys route stores it (the HMAC
    key encrypted with the app's server key)."""
    key_id, secret = security.new_api_key()
    kid, ciphertext = market.app.state.api_keys.seal(key_id, security.signing_key(secret))
    row = ApiKey(
        key_id=key_id,
        account_id=user.account_id,
        algorithm=security.HMAC_SHA256,
        secret_ciphertext=ciphertext,
        encryption_key_id=kid,
        scopes=scopes,
        created_at=int(time.time() * 1000),
    )
    with DbSession(market.app.state.db_engine) as db:
        db.add(row)
        db.commit()
    return key_id, secret


def sign_challenge(secret: str, challenge: str, timestamp: int | None = None) -> dict[str, Any]:
    """The fields of an API-key `auth`, signed as docs/market-data.md says."""
    import hashlib
    import hmac

    stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    empty_body = hashlib.sha256(b"").hexdigest()
    message = "\n".join((stamp, challenge, "GET", "/ws", "", empty_body)).encode()
    key = hashlib.sha256(secret.encode()).digest()
    return {"timestamp": stamp, "signature": hmac.new(key, message, hashlib.sha256).hexdigest()}


# -- THE CLIENT ---------------------------------------------------------------------------------


class WsClient:
    """A `websockets` connection that keeps what it read but did not need yet."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.pending: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self._ids = 0

    @classmethod
    async def open(cls, server: LiveServer, **options: Any) -> WsClient:
        client = cls(await connect(server.ws_url, open_timeout=5, close_timeout=2, **options))
        client.welcome = await client.recv()
        assert client.welcome["type"] == "welcome"
        return client

    async def close(self) -> None:
        await self.connection.close()

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def request(self, op: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        request_id = self.next_id()
        await self.send({"op": op, "id": request_id, **fields})
        return await self.response(request_id, timeout)

    async def response(self, request_id: Any, timeout: float = 5.0) -> dict[str, Any]:
        return await self.expect(lambda m: m.get("type") == "response" and m.get("id") == request_id, timeout)

    async def ok(self, op: str, **fields: Any) -> Any:
        answer = await self.request(op, **fields)
        assert answer["ok"], answer
        assert answer["op"] == op
        return answer["result"]

    async def error(self, op: str, **fields: Any) -> dict[str, Any]:
        answer = await self.request(op, **fields)
        assert not answer["ok"], answer
        return answer["error"]

    async def expect(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        for i, message in enumerate(self.pending):
            if predicate(message):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(message):
                return message
            if message.get("type") != "heartbeat":
                self.pending.append(message)

    def taken(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The pending messages that match, removed from pending."""
        matching = [m for m in self.pending if predicate(m)]
        self.pending = [m for m in self.pending if not predicate(m)]
        return matching

    async def authenticate(self, user: User) -> dict[str, Any]:
        return await self.ok("auth", token=user.token)


def of(channel: str, kind: str | None = None, symbol: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def predicate(message: dict[str, Any]) -> bool:
        return (
            message.get("channel") == channel
            and (kind is None or message.get("type") == kind)
            and (symbol is None or message.get("symbol") == symbol)
        )

    return predicate


# -- AN INDEPENDENT CLIENT BOOK -----------------------------------------------------------------


class ClientBook:
    """Applies book messages exactly as docs/market-data.md tells a client to, and checks them."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_seq: int | None = None
        self.applied = 0

    def checksum(self) -> int:
        asks = [f"{p}:{self.asks[p]}" for p in sorted(self.asks)[:10]]
        bids = [f"{p}:{self.bids[p]}" for p in sorted(self.bids, reverse=True)[:10]]
        return zlib.crc32(("|".join(asks) + ";" + "|".join(bids)).encode("ascii"))

    def apply(self, message: dict[str, Any]) -> None:
        if message["type"] == "snapshot":
            assert message["prev_seq"] is None
            assert message["first_seq"] == message["last_seq"]
            self.bids = {p: q for p, q, _n in message["bids"]}
            self.asks = {p: q for p, q, _n in message["asks"]}
            assert list(self.bids) == sorted(self.bids, reverse=True), "snapshot bids best first"
            assert list(self.asks) == sorted(self.asks), "snapshot asks best first"
        else:
            assert message["type"] == "delta"
            assert message["prev_seq"] == self.last_seq, (message, self.last_seq)
            assert message["first_seq"] <= message["last_seq"]
            assert message["first_seq"] > self.last_seq
            for side, levels in ((self.bids, message["bids"]), (self.asks, message["asks"])):
                for price, quantity, count in levels:
                    if quantity == 0:
                        assert count == 0
                        side.pop(price, None)
                    else:
                        side[price] = quantity
        self.last_seq = message["last_seq"]
        self.applied += 1
        assert self.checksum() == message["checksum"], message

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) as (price, quantity), best first."""
        return (
            [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)],
            [(p, self.asks[p]) for p in sorted(self.asks)],
        )


def exchange_levels(server: LiveServer, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The sequencer's own book, (bids, asks) as (price, quantity), best first."""
    view = server.call(server.app.state.gateway.book_view, symbol, 1_000)
    return [(p, q) for p, q, _ in view.bids], [(p, q) for p, q, _ in view.asks]
