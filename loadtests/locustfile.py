"""locust scenarios against a running exchange (docs/loadtesting.md):

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 [--headless -u 30 -r 10 -t 60s]

or, for operators, the one headless command that also starts the server and audits it afterwards:
`python -m loadtests.run_load`.

Three kinds of users, mixed by weight (2 : 1 : 1):

- `CreatorUser` (REST, the web client's calls): browses instruments, books and trades, buys
  capacity options and material calls (IOC at the best ask, or a bid), resells what it holds,
  cancels its open orders, reads its portfolio.
- `MarketMakerUser` (WebSocket order entry, a custom locust User): mass quotes both sides of
  material calls around their fair value (the last trade price when the run started), places and
  cancels bids, pings; every request/response
  round trip is reported to locust as request type "WS" with the op as its name.
- `MarketDataUser` (WebSocket market data): subscribes to books (kept with the SDK's `LocalBook`,
  which checks every `prev_seq` and checksum), trades and tickers. Gaps and checksum mismatches
  are failures ("WS book"). The delay of server-stamped messages (heartbeat and ticker
  `server_time` to arrival, same machine clock) is reported as type "WS-recv".

Every user opens its own account (`POST /api/v1/auth/register`) and is funded by an operator
(`POST /api/v1/operator/deposits`; the operator login is `--operator-username/--operator-password`,
by default the demo's). Instruments come from the server (the demo market: `capex serve
--demo`). Answers that are a correct outcome of a race, not an error (cancelling an order that was
filled meanwhile: 404 UNKNOWN_ORDER; a post-only quote side that would cross), count as successes.
All users come from one address: raise `API_RATE_LIMIT_PER_IP` on the server (run_load does).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from gevent.lock import Semaphore
from locust import HttpUser, User, between, constant, events, task
from locust.clients import HttpSession
from locust.exception import StopUser

from clients.python.book import BookUpdate, LocalBook
from loadtests.locust_ws import LocustWebSocket

API = "/api/v1"
PASSWORD = "load-test-password"


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator, unused-ignore]  # locust's add_listener is unannotated
def _options(parser: Any) -> None:
    parser.add_argument(
        "--operator-username",
        default="demo-operator",
        help="an operator login (funds the load-test accounts)",
    )
    parser.add_argument("--operator-password", default="capex-demo", is_secret=True)
    parser.add_argument("--deposit", type=int, default=10**10, help="fen deposited to each load-test account")
    parser.add_argument(
        "--accounts-file",
        default="",
        help="JSON {role: [{account_id, token}]} of accounts opened and funded before the run (run_load "
        "writes it, so that password hashing is not part of the measured window); users register "
        "their own when it is absent or used up",
    )


class GapDetected(Exception):
    """A book message did not continue the previous one (prev_seq), or its checksum differs."""


class ServerNotice(Exception):
    """An unsolicited error from the server (SLOW_CONSUMER, IDLE_TIMEOUT): the connection closes."""


# -- WHAT ALL USERS SHARE -------------------------------------------------------------------------


class Market:
    """The operator's session, the instruments and the prepared accounts, once per locust process."""

    def __init__(self) -> None:
        self.lock = Semaphore()
        self.operator_token: str | None = None
        self.instruments: list[dict[str, Any]] = []
        self.prepared: dict[str, list[dict[str, Any]]] = {}

    def ensure(self, client: HttpSession, options: Any) -> None:
        with self.lock:
            if self.operator_token is not None:
                return
            answer = client.post(
                f"{API}/auth/login",
                json={"username": options.operator_username, "password": options.operator_password},
                name=f"{API}/auth/login (operator)",
            )
            if answer.status_code != 200:
                raise StopUser(f"the operator login failed: {answer.status_code} {answer.text[:200]}")
            instruments = client.get(
                f"{API}/instruments", params={"status": "trading"}, name=f"{API}/instruments"
            )
            self.instruments = [i for i in instruments.json() if i["kind"] in ("CAP", "MAT")]
            if not self.instruments:
                raise StopUser("no trading capacity option or material call: start the server with --demo")
            if options.accounts_file:
                with open(options.accounts_file) as handle:
                    self.prepared = json.load(handle)
            self.operator_token = answer.json()["token"]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.instruments if i["kind"] == kind]


MARKET = Market()


def open_account(client: HttpSession, options: Any, role: str) -> tuple[int, str]:
    """A prepared account of this role if one is left, else register, log in and get funded;
    (account_id, session token)."""
    prepared = MARKET.prepared.get(role)
    if prepared:
        account = prepared.pop()
        return account["account_id"], account["token"]
    username = f"lt-{role.replace('_', '')}-{uuid.uuid4().hex[:12]}"
    registered = client.post(
        f"{API}/auth/register", json={"username": username, "password": PASSWORD, "role": role}
    )
    if registered.status_code != 201:
        raise StopUser(f"registration failed: {registered.status_code}")
    account_id = registered.json()["account_id"]
    login = client.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    if login.status_code != 200:
        raise StopUser(f"login failed: {login.status_code}")
    deposit = client.post(
        f"{API}/operator/deposits",
        json={"account_id": account_id, "amount": options.deposit},
        headers={"Authorization": f"Bearer {MARKET.operator_token}"},
    )
    if deposit.status_code != 200:
        raise StopUser(f"the deposit failed: {deposit.status_code}")
    return account_id, login.json()["token"]


def reference_price(instrument: dict[str, Any], book: dict[str, Any] | None = None) -> int:
    """Where to quote: the book's mid, else the last trade, else the middle of the band; on tick."""
    tick = instrument["tick"]
    price = None
    if book and book.get("bids") and book.get("asks"):
        price = (book["bids"][0]["price"] + book["asks"][0]["price"]) // 2
    if price is None:
        price = (
            instrument.get("last_trade_price") or (instrument["min_price"] + highest_price(instrument)) // 2
        )
    return clamp(instrument, price - price % tick)


def highest_price(instrument: dict[str, Any]) -> int:
    """The listing's max price, and for a material call its capped payoff per contract (above it a
    buy is a certain loss, and the fat-finger band refuses it)."""
    terms = instrument["terms"]
    top: int = instrument["max_price"]
    if instrument["kind"] == "MAT":
        top = min(top, (terms["cap"] - terms["strike"]) * terms["units_per_contract"])
    return top


def clamp(instrument: dict[str, Any], price: int) -> int:
    lowest: int = instrument["min_price"]
    return max(lowest, min(highest_price(instrument), price))


# -- CREATORS (REST) ------------------------------------------------------------------------------


class CreatorUser(HttpUser):
    """A creator in the web client: browse, buy, resell, cancel, look at the portfolio."""

    weight = 2
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        MARKET.ensure(self.client, options)
        self.account_id, token = open_account(self.client, options, "creator")
        self.client.headers["Authorization"] = f"Bearer {token}"

    def instrument(self) -> dict[str, Any]:
        return random.choice(MARKET.instruments)

    def book(self, symbol: str) -> dict[str, Any] | None:
        answer = self.client.get(
            f"{API}/instruments/{symbol}/book", name=f"{API}/instruments/{{symbol}}/book"
        )
        return answer.json() if answer.status_code == 200 else None

    def place(self, symbol: str, side: str, order_type: str, price: int, quantity: int) -> None:
        body = {
            "symbol": symbol,
            "client_order_id": f"lt-{uuid.uuid4().hex[:20]}",
            "side": side,
            "order_type": order_type,
            "price": price,
            "quantity": quantity,
        }
        self.client.post(f"{API}/orders", json=body, name=f"{API}/orders [{side} {order_type}]")

    @task(3)
    def browse(self) -> None:
        kind = random.choice(("CAP", "MAT", None))
        params = {"status": "trading", **({"kind": kind} if kind else {})}
        self.client.get(f"{API}/instruments", params=params, name=f"{API}/instruments")

    @task(4)
    def look(self) -> None:
        symbol = self.instrument()["symbol"]
        self.client.get(f"{API}/instruments/{symbol}", name=f"{API}/instruments/{{symbol}}")
        self.book(symbol)
        self.client.get(
            f"{API}/instruments/{symbol}/trades",
            params={"limit": 20},
            name=f"{API}/instruments/{{symbol}}/trades",
        )

    @task(3)
    def buy(self) -> None:
        instrument = self.instrument()
        book = self.book(instrument["symbol"])
        if book is None:
            return
        if book["asks"]:
            self.place(instrument["symbol"], "buy", "ioc", book["asks"][0]["price"], 1)
        else:
            bid = (
                book["bids"][0]["price"] if book["bids"] else reference_price(instrument) - instrument["tick"]
            )
            self.place(instrument["symbol"], "buy", "limit", clamp(instrument, bid), 1)

    @task(2)
    def resell(self) -> None:
        answer = self.client.get(f"{API}/portfolio/positions", name=f"{API}/portfolio/positions")
        if answer.status_code != 200:
            return
        tradable = {i["symbol"]: i for i in MARKET.instruments}
        held = [p for p in answer.json() if p["symbol"] in tradable and p["position"] - p["locked"] >= 1]
        if not held:
            return
        instrument = tradable[random.choice(held)["symbol"]]
        book = self.book(instrument["symbol"])
        if book is None:
            return
        if book["bids"]:
            self.place(instrument["symbol"], "sell", "ioc", book["bids"][0]["price"], 1)
        else:
            ask = reference_price(instrument) + instrument["tick"]
            self.place(instrument["symbol"], "sell", "limit", clamp(instrument, ask), 1)

    @task(2)
    def cancel_one(self) -> None:
        answer = self.client.get(
            f"{API}/orders", params={"status": "open", "limit": 20}, name=f"{API}/orders"
        )
        if answer.status_code != 200 or not answer.json():
            return
        order_id = random.choice(answer.json())["order_id"]
        with self.client.delete(
            f"{API}/orders/{order_id}", name=f"{API}/orders/{{order_id}} [cancel]", catch_response=True
        ) as response:
            if response.status_code == 404 and "UNKNOWN_ORDER" in response.text:
                response.success()  # filled between the list and the cancel: a correct answer

    @task(2)
    def portfolio(self) -> None:
        self.client.get(f"{API}/portfolio/balances", name=f"{API}/portfolio/balances")
        self.client.get(f"{API}/portfolio/trades", params={"limit": 20}, name=f"{API}/portfolio/trades")


# -- MARKET MAKERS (WebSocket order entry) --------------------------------------------------------


def ws_url(host: str) -> str:
    base = host.rstrip("/")
    return (
        "wss://" + base[8:] if base.startswith("https://") else "ws://" + base.removeprefix("http://")
    ) + "/ws"


class MarketMakerUser(User):
    """A market maker's bot: authenticated WebSocket, cancel-on-disconnect, mass quotes on material
    calls, bids placed and pulled."""

    weight = 1
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.http = HttpSession(base_url=self.host, request_event=self.environment.events.request, user=self)
        MARKET.ensure(self.http, options)
        self.account_id, token = open_account(self.http, options, "market_maker")
        assert self.host is not None, "run with --host"
        self.ws = LocustWebSocket(ws_url(self.host), self.environment.events.request)
        self.ws.connect()
        if self.ws.request("auth", token=token) is None:
            raise StopUser("WebSocket auth failed")
        self.ws.request("cancel_on_disconnect", enabled=True)
        calls = MARKET.of_kind("MAT")
        self.quoted = random.sample(calls, min(4, len(calls)))
        self.resting: list[int] = []

    def on_stop(self) -> None:
        self.ws.close()

    @task(3)
    def quote(self) -> None:
        entries = []
        for instrument in self.quoted:
            tick = instrument["tick"]
            fair = reference_price(instrument)
            bid = clamp(instrument, fair - random.randint(1, 3) * tick)
            ask = clamp(instrument, fair + random.randint(1, 3) * tick)
            if bid >= ask:
                continue
            entries.append(
                {
                    "symbol": instrument["symbol"],
                    "bid_price": bid,
                    "bid_quantity": random.randint(1, 5),
                    "ask_price": ask,
                    "ask_quantity": random.randint(1, 5),
                }
            )
        if entries:
            # Each side answers for itself inside the result (a post-only side that would cross is
            # refused there); the request as a whole is a success when answered.
            self.ws.request("mass_quote", quotes=entries, order_type="post_only")

    @task(2)
    def place_and_cancel(self) -> None:
        if self.resting and (len(self.resting) > 5 or random.random() < 0.5):
            order_id = self.resting.pop(0)
            self.ws.request("cancel", expected_codes=("UNKNOWN_ORDER",), order_id=order_id)
            return
        instrument = random.choice(MARKET.instruments)
        price = clamp(instrument, reference_price(instrument) - random.randint(2, 6) * instrument["tick"])
        answer = self.ws.request(
            "place", symbol=instrument["symbol"], side="buy", order_type="limit", price=price, quantity=1
        )
        if answer and answer.get("ok") and answer["result"].get("open_quantity"):
            self.resting.append(answer["result"]["order_id"])

    @task(1)
    def ping(self) -> None:
        self.ws.request("ping")


# -- MARKET DATA (WebSocket subscribers) ----------------------------------------------------------


class MarketDataUser(User):
    """A screen following a few books, the trades and the tickers."""

    weight = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        self.http = HttpSession(base_url=self.host, request_event=self.environment.events.request, user=self)
        MARKET.ensure(self.http, self.environment.parsed_options)
        self.books: dict[str, LocalBook] = {}
        assert self.host is not None, "run with --host"
        self.ws = LocustWebSocket(
            ws_url(self.host), self.environment.events.request, on_message=self.on_message
        )
        self.ws.connect()
        for instrument in random.sample(MARKET.instruments, min(3, len(MARKET.instruments))):
            symbol = instrument["symbol"]
            self.books[symbol] = LocalBook(symbol)
            self.ws.request("subscribe", name="subscribe book", channel="book", symbol=symbol)
            self.ws.request("subscribe", name="subscribe ticker", channel="ticker", symbol=symbol)
        self.ws.request("subscribe", name="subscribe trades", channel="trades")

    def on_stop(self) -> None:
        self.ws.close()

    @task
    def watch(self) -> None:
        self.ws.receive_for(2.0)
        self.ws.request("ping")  # also keeps the idle timeout away

    def received(self, name: str, server_time: int | None) -> None:
        if server_time is None:
            return
        delay_ms = max(0.0, time.time() * 1000 - server_time)
        self.environment.events.request.fire(
            request_type="WS-recv",
            name=name,
            response_time=delay_ms,
            response_length=0,
            exception=None,
            context={},
        )

    def on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        kind = message.get("type")
        if channel == "book":
            book = self.books.get(message.get("symbol", ""))
            if book is not None and book.apply(message) is BookUpdate.RESYNC:
                self.book_failed(book, message)
        elif kind == "heartbeat":
            self.received("heartbeat delay", message.get("server_time"))
            for symbol, seq in (message.get("books") or {}).items():
                book = self.books.get(symbol)
                if book is not None and book.verify_heartbeat(seq) is BookUpdate.RESYNC:
                    self.book_failed(book, message)
        elif channel == "ticker":
            self.received("ticker delay", message.get("server_time"))
        elif kind == "error":
            self.environment.events.request.fire(
                request_type="WS-recv",
                name="server error",
                response_time=0,
                response_length=0,
                exception=ServerNotice(f"{message.get('code')}: {message.get('message')}"),
                context={},
            )

    def book_failed(self, book: LocalBook, message: dict[str, Any]) -> None:
        """A gap or a checksum mismatch: a failure in the report, then a resync of that book."""
        self.environment.events.request.fire(
            request_type="WS-recv",
            name="book",
            response_time=0,
            response_length=0,
            exception=GapDetected(
                f"{book.symbol}: gaps {book.gaps}, checksum mismatches {book.checksum_mismatches} "
                f"(message {message.get('type')} prev_seq {message.get('prev_seq')})"
            ),
            context={},
        )
        book.request_resync()
        self.ws.ws.send(f'{{"op":"resync","symbol":"{book.symbol}"}}')
