"""What a real client does, written from the docs alone: REST registration and orders, and a
WebSocket book subscriber that keeps the book with docs/market-data.md's client algorithm
(snapshot, deltas chained by `prev_seq`, CRC-32 checksum of the top 10 levels, resync on a break)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.sync.client import connect

PASSWORD = "password-123"


@dataclass
class User:
    account_id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(base_url: str, prefix: str = "u", role: str = "creator") -> User:
    """Register and log in over REST."""
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "role": role}
    response = httpx.post(f"{base_url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text
    response = httpx.post(
        f"{base_url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    data = response.json()
    return User(data["account_id"], username, data["token"])


def place(base_url: str, user: User, symbol: str, price: int, quantity: int, **extra: Any) -> httpx.Response:
    body = {
        "symbol": symbol,
        "client_order_id": extra.pop("client_order_id", f"so-{uuid.uuid4().hex[:12]}"),
        "side": extra.pop("side", "buy"),
        "price": price,
        "quantity": quantity,
        **extra,
    }
    return httpx.post(f"{base_url}/api/v1/orders", json=body, headers=user.headers, timeout=10)


def rest_book(base_url: str, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
    response = httpx.get(f"{base_url}/api/v1/instruments/{symbol}/book", params={"levels": 100}, timeout=10)
    assert response.status_code == 200, response.text
    data = response.json()
    bids = {level["price"]: level["quantity"] for level in data["bids"]}
    asks = {level["price"]: level["quantity"] for level in data["asks"]}
    return bids, asks


def checksum(bids: dict[int, int], asks: dict[int, int]) -> int:
    ask_text = "|".join(f"{p}:{asks[p]}" for p in sorted(asks)[:10])
    bid_text = "|".join(f"{p}:{bids[p]}" for p in sorted(bids, reverse=True)[:10])
    return zlib.crc32(f"{ask_text};{bid_text}".encode("ascii"))


@dataclass
class BookWatcher:
    """Subscribes to one book over WebSocket and keeps it, in a thread of its own."""

    url: str
    symbol: str
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    last: int | None = None
    snapshots: int = 0
    deltas: int = 0
    breaks: list[str] = field(default_factory=list)  # prev_seq chain breaks and checksum mismatches
    gap_notices: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._waiting_resync = False
        self._closed = False
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(self.url, open_timeout=10, close_timeout=2))
        welcome = json.loads(self.ws.recv(timeout=10))
        assert welcome["type"] == "welcome", welcome
        self._send({"op": "subscribe", "id": 1, "channel": "book", "symbol": self.symbol})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.wait(lambda w: w.snapshots >= 1, 10, "the first snapshot")

    def _send(self, message: dict) -> None:
        with self._send_lock:
            self.ws.send(json.dumps(message))

    def _read(self) -> None:
        next_ping = time.monotonic() + 5
        try:
            while not self._closed:
                if time.monotonic() > next_ping:  # stay clear of the idle timeout
                    self._send({"op": "ping"})
                    next_ping = time.monotonic() + 5
                try:
                    raw = self.ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                with self._lock:
                    self.messages.append(message)
                    self._take(message)
        except BaseException as exc:  # the test reads it
            if not self._closed:
                self.error = exc

    def _take(self, message: dict) -> None:
        if message.get("type") == "gap":
            self.gap_notices.append(message)
            return
        if message.get("channel") != "book" or message.get("symbol") != self.symbol:
            if message.get("type") == "response" and not message.get("ok"):
                self.breaks.append(f"refused: {message}")
            return
        if message["type"] == "snapshot":
            self.bids = {p: q for p, q, _n in message["bids"]}
            self.asks = {p: q for p, q, _n in message["asks"]}
            self.last = message["last_seq"]
            self.snapshots += 1
            self._waiting_resync = False
            self._verify(message)
            return
        if self._waiting_resync:
            return
        if message["prev_seq"] != self.last:
            self.breaks.append(f"prev_seq {message['prev_seq']} after {self.last}")
            self._resync()
            return
        for side, levels in (("bids", message["bids"]), ("asks", message["asks"])):
            book = self.bids if side == "bids" else self.asks
            for price, quantity, _count in levels:
                if quantity == 0:
                    book.pop(price, None)
                else:
                    book[price] = quantity
        self.last = message["last_seq"]
        self.deltas += 1
        self._verify(message)

    def _verify(self, message: dict) -> None:
        if checksum(self.bids, self.asks) != message["checksum"]:
            self.breaks.append(f"checksum mismatch at {message['last_seq']}")
            self._resync()

    def _resync(self) -> None:
        self._waiting_resync = True
        self._send({"op": "resync", "id": f"resync-{len(self.breaks)}", "symbol": self.symbol})

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if predicate(self):
                    return
            if self.error is not None:
                raise AssertionError(f"the WebSocket failed while waiting for {what}: {self.error!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last messages: {self.messages[-5:]}")
            time.sleep(0.02)

    def book(self) -> tuple[dict[int, int], dict[int, int]]:
        with self._lock:
            return dict(self.bids), dict(self.asks)

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self._stack.close()
