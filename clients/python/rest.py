"""The async REST client of the exchange (`/api/v1`, docs/api.md), on httpx.

Two ways to authenticate, as the API allows:

- a **session token** (`await client.login(username, password)`, or `token=` if you have one):
  sent as `Authorization: Bearer <token>`; every scope;
- an **API key**: `api_key=(key_id, Ed25519PrivateKey)` (an Ed25519 key, signing.py) or
  `api_key=(key_id, secret)` (an HMAC key): every request is signed over the canonical request
  (`wire.signing.canonical_request`; headers `X-Capex-Key`, `-Timestamp`, `-Nonce`,
  `-Signature`); the key's scopes apply. The signature covers the exact body and query bytes
  sent, so the client builds both itself before signing.

Every answer is decoded into a typed model (models.py); a refusal raises
`CapexError(status, code, message)` with the API's error shape. Money and prices are integers
(fen), quantities integers (contracts).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from typing import Any, TypeVar

import httpx
import msgspec

from clients.python import models as m
from clients.python.errors import CapexError
from clients.python.retry import with_retries
from clients.python.signing import (
    ApiKeyCredentials,
    Ed25519PrivateKey,
    Ed25519PublicKey,
    Signer,
    generate_ed25519_key,
    public_key_hex,
    signer_for,
)
from clients.python.ws import WsSession
from wire import signing as wire_signing

T = TypeVar("T")

API_PREFIX = "/api/v1"


class ApiKeyAuth(httpx.Auth):
    """Signs each request with an API key (docs/api.md, "Signing"): a fresh nonce and the current
    time per request, so a retried request is a new signature, never a replay."""

    requires_request_body = True

    def __init__(self, key_id: str | Signer, secret: str | Ed25519PrivateKey | None = None) -> None:
        """`ApiKeyAuth(key_id, secret)` (HMAC), `ApiKeyAuth(key_id, private_key)` (Ed25519) or
        `ApiKeyAuth(signer)`."""
        self._signer = signer_for(key_id if secret is None else (key_id, secret))  # type: ignore[arg-type]
        self.key_id = self._signer.key_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = str(time.time_ns() // 1_000_000)
        nonce = secrets.token_hex(16)
        message = wire_signing.canonical_request(
            timestamp,
            nonce,
            request.method,
            request.url.path,
            request.url.query.decode("ascii"),
            request.content,
        )
        request.headers[wire_signing.KEY_HEADER] = self.key_id
        request.headers[wire_signing.TIMESTAMP_HEADER] = timestamp
        request.headers[wire_signing.NONCE_HEADER] = nonce
        request.headers[wire_signing.SIGNATURE_HEADER] = self._signer.sign(message)
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, client: CapexClient) -> None:
        self._client = client

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._client.token is not None:
            request.headers["Authorization"] = f"Bearer {self._client.token}"
        yield request


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class CapexClient:
    """REST client; `ws()` opens a WebSocket session with the same credentials.

    `base_url` is the server's root (`http://127.0.0.1:8000`). Use as `async with CapexClient(...)`
    or call `aclose()`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: ApiKeyCredentials | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if token is not None and api_key is not None:
            raise ValueError("give a session token or an API key, not both")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.api_key = api_key
        auth: httpx.Auth = ApiKeyAuth(signer_for(api_key)) if api_key is not None else BearerAuth(self)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, auth=auth, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> CapexClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def ws(self, **options: Any) -> WsSession:
        """A WebSocket session (not yet connected: `await session.connect()` or `async with`)
        authenticated like this client."""
        return WsSession(self.base_url, token=self.token, api_key=self.api_key, **options)

    # -- TRANSPORT -------------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """One API call; the decoded JSON answer (None for 204). `path` is under /api/v1 unless it
        starts with `/`."""
        url = path if path.startswith("/") else f"{API_PREFIX}/{path}"
        content = None if json is None else msgspec.json.encode(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        response = await self._http.request(method, url, content=content, params=params, headers=headers)
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        return msgspec.json.decode(response.content)

    async def _get(self, path: str, model: type[T], **params: Any) -> T:
        return m.convert(await self.request("GET", path, params=_params(**params)), model)

    async def _post(self, path: str, model: type[T], body: Any = None) -> T:
        return m.convert(await self.request("POST", path, json=body), model)

    # -- ACCOUNTS --------------------------------------------------------------------------------

    async def register(self, username: str, password: str, role: str = "creator") -> m.Account:
        return await self._post(
            "auth/register", m.Account, {"username": username, "password": password, "role": role}
        )

    async def login(self, username: str, password: str) -> m.Session:
        """Log in; the session token is then used for every request (and for `ws()`)."""
        if self.api_key is not None:
            raise ValueError("this client signs with an API key; make another client to log in")
        session = await self._post("auth/login", m.Session, {"username": username, "password": password})
        self.token = session.token
        return session

    async def logout(self) -> None:
        await self.request("POST", "auth/logout")
        self.token = None

    async def me(self) -> m.Me:
        return await self._get("me", m.Me)

    async def create_api_key(
        self,
        scopes: list[str],
        label: str = "",
        *,
        public_key: str | Ed25519PublicKey | Ed25519PrivateKey | None = None,
    ) -> m.ApiKeyCreated:
        """A new API key (session only). With `public_key` (64 hex, or a cryptography key): an
        Ed25519 key, sign with its private key; without: an HMAC key whose `secret` is shown once."""
        body: dict[str, Any] = {"scopes": scopes, "label": label}
        if public_key is not None:
            body["public_key"] = public_key if isinstance(public_key, str) else public_key_hex(public_key)
        return await self._post("api-keys", m.ApiKeyCreated, body)

    async def create_ed25519_api_key(
        self, scopes: list[str], label: str = ""
    ) -> tuple[m.ApiKeyCreated, Ed25519PrivateKey]:
        """A new key pair, its public key registered (session only): (the key, the private key).
        Use `api_key=(key.key_id, private_key)`; keep the private key (`signing.private_key_hex`)."""
        private_key = generate_ed25519_key()
        return await self.create_api_key(scopes, label, public_key=private_key), private_key

    async def api_keys(self) -> list[m.ApiKey]:
        return await self._get("api-keys", list[m.ApiKey])

    async def revoke_api_key(self, key_id: str) -> m.ApiKey:
        return m.convert(await self.request("DELETE", f"api-keys/{key_id}"), m.ApiKey)

    # -- INSTRUMENTS AND MARKET DATA -------------------------------------------------------------

    async def instruments(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        process: str | None = None,
        material: str | None = None,
        index: str | None = None,
        window_start: int | None = None,
        window_end: int | None = None,
    ) -> list[m.Instrument]:
        return await self._get(
            "instruments",
            list[m.Instrument],
            kind=kind,
            status=status,
            process=process,
            material=material,
            index=index,
            window_start=window_start,
            window_end=window_end,
        )

    async def instrument(self, symbol: str) -> m.Instrument:
        return await self._get(f"instruments/{symbol}", m.Instrument)

    async def book(self, symbol: str, levels: int | None = None) -> m.Book:
        """Depth, best first, with the book sequence (`last_seq`) WebSocket deltas continue from."""
        return await self._get(f"instruments/{symbol}/book", m.Book, levels=levels)

    async def trades(
        self, symbol: str, *, limit: int | None = None, before: int | None = None
    ) -> list[m.PublicTrade]:
        return await self._get(
            f"instruments/{symbol}/trades", list[m.PublicTrade], limit=limit, before=before
        )

    async def index_prices(self) -> list[m.IndexSummary]:
        """Every index with its latest price."""
        return await self._get("index-prices", list[m.IndexSummary])

    async def index_history(
        self, index: str, *, since: int | None = None, until: int | None = None, limit: int | None = None
    ) -> m.IndexHistory:
        return await self._get(f"index-prices/{index}", m.IndexHistory, since=since, until=until, limit=limit)

    async def settlement(self, symbol: str) -> m.Settlement:
        return await self._get(f"instruments/{symbol}/settlement", m.Settlement)

    # -- ORDERS ----------------------------------------------------------------------------------

    async def place_order(
        self,
        symbol: str,
        side: str,
        price: int,
        quantity: int,
        *,
        order_type: str = "limit",
        stp: str = "cancel_newest",
        client_order_id: str | None = None,
    ) -> m.OrderAck:
        """Price in fen per contract (market: the protection price), quantity in contracts. The
        client order id is the idempotency key; one is made when absent (`sdk-` + 16 hex). An
        answer whose outcome is unknown (`OUTCOME_UNKNOWN`, `UNAVAILABLE`, a timeout or a dropped
        connection) is retried with the same id a few times (clients/python/retry.py): the order
        is placed at most once."""
        body = {
            "symbol": symbol,
            "client_order_id": client_order_id or "sdk-" + secrets.token_hex(8),
            "side": side,
            "order_type": order_type,
            "price": price,
            "quantity": quantity,
            "stp": stp,
        }
        return await with_retries(lambda: self._post("orders", m.OrderAck, body))

    async def cancel_order(self, order_id: int) -> m.Order:
        return m.convert(await self.request("DELETE", f"orders/{order_id}"), m.Order)

    async def amend_order(self, order_id: int, price: int, quantity: int) -> m.Order:
        body = {"price": price, "quantity": quantity}
        return m.convert(await self.request("PATCH", f"orders/{order_id}", json=body), m.Order)

    async def cancel_all(self, symbol: str | None = None, account_id: int | None = None) -> m.CancelAllResult:
        return await self._post(
            "orders/cancel-all", m.CancelAllResult, _params(symbol=symbol, account_id=account_id)
        )

    async def orders(
        self,
        *,
        status: str = "open",
        symbol: str | None = None,
        client_order_id: str | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[m.Order]:
        """Your orders, newest first; `status` is open, closed or all."""
        return await self._get(
            "orders",
            list[m.Order],
            status=status,
            symbol=symbol,
            client_order_id=client_order_id,
            limit=limit,
            before=before,
        )

    async def order(self, order_id: int) -> m.Order:
        return await self._get(f"orders/{order_id}", m.Order)

    # -- PORTFOLIO -------------------------------------------------------------------------------

    async def balances(self) -> m.Balance:
        return await self._get("portfolio/balances", m.Balance)

    async def positions(self) -> list[m.Position]:
        return await self._get("portfolio/positions", list[m.Position])

    async def my_trades(
        self, *, symbol: str | None = None, limit: int | None = None, before: int | None = None
    ) -> list[m.AccountTrade]:
        return await self._get(
            "portfolio/trades", list[m.AccountTrade], symbol=symbol, limit=limit, before=before
        )

    async def ledger(self, *, limit: int | None = None, before: int | None = None) -> list[m.LedgerPosting]:
        return await self._get("portfolio/ledger", list[m.LedgerPosting], limit=limit, before=before)

    async def bookings(self) -> list[m.Booking]:
        return await self._get("portfolio/bookings", list[m.Booking])

    async def capacity(self) -> list[m.Capacity]:
        return await self._get("portfolio/capacity", list[m.Capacity])

    async def transfers(self, *, limit: int | None = None, before: int | None = None) -> list[m.Transfer]:
        return await self._get("portfolio/transfers", list[m.Transfer], limit=limit, before=before)

    # -- LIFECYCLE -------------------------------------------------------------------------------

    async def exercise(self, symbol: str, quantity: int) -> m.ExerciseResult:
        return await self._post("exercise", m.ExerciseResult, {"symbol": symbol, "quantity": quantity})

    async def decline_auto_exercise(self, symbol: str) -> dict[str, Any]:
        return await self.request("POST", "decline-auto-exercise", json={"symbol": symbol})

    async def transfer_cash(
        self, amount: int, *, to_account_id: int | None = None, to_username: str | None = None
    ) -> m.Transfer:
        body = _params(asset="cash", amount=amount, to_account_id=to_account_id, to_username=to_username)
        return await self._post("transfers", m.Transfer, body)

    async def transfer_position(
        self, symbol: str, quantity: int, *, to_account_id: int | None = None, to_username: str | None = None
    ) -> m.Transfer:
        body = _params(
            asset="position",
            symbol=symbol,
            quantity=quantity,
            to_account_id=to_account_id,
            to_username=to_username,
        )
        return await self._post("transfers", m.Transfer, body)

    async def register_capacity(
        self, process: str, window_start: int, window_end: int, units: int
    ) -> m.Capacity:
        body = {"process": process, "window_start": window_start, "window_end": window_end, "units": units}
        return await self._post("capacity", m.Capacity, body)

    async def confirm_booking(self, booking_id: int, milestone: str) -> m.Booking:
        """`confirmed` (the supplier) or `delivered` (the creator)."""
        return await self._post(f"bookings/{booking_id}/milestones", m.Booking, {"milestone": milestone})

    async def kill_switch(self, engaged: bool = True, account_id: int | None = None) -> dict[str, Any]:
        return await self.request("POST", "kill-switch", json=_params(engaged=engaged, account_id=account_id))

    # -- OPERATOR --------------------------------------------------------------------------------

    async def list_instrument(self, listing: dict[str, Any]) -> m.Instrument:
        """`listing` as POST /api/v1/instruments takes it: terms (with `kind`), tick, lot,
        min_price, max_price, trading_start, expiry."""
        return await self._post("instruments", m.Instrument, listing)

    async def halt(self, symbol: str) -> m.Instrument:
        return await self._post(f"instruments/{symbol}/halt", m.Instrument)

    async def resume(self, symbol: str) -> m.Instrument:
        return await self._post(f"instruments/{symbol}/resume", m.Instrument)

    async def run_expiry(self) -> m.ExpiryResult:
        return await self._post("operator/expiry", m.ExpiryResult, {})

    async def publish_index_price(
        self, index: str, price: int, *, confirm_large_move: bool = False
    ) -> m.IndexPricePublished:
        """`price` in fen per unit. A price beyond the band around the index's last one
        (IndexSummary.band_low..band_high) is refused (409 INDEX_PRICE_BAND) unless
        `confirm_large_move` says the move is intended."""
        body: dict[str, Any] = {"index": index, "price": price}
        if confirm_large_move:
            body["confirm_large_move"] = True
        return await self._post("operator/index-prices", m.IndexPricePublished, body)

    async def deposit(self, account_id: int, amount: int) -> m.BalanceAck:
        return await self._post(
            "operator/deposits", m.BalanceAck, {"account_id": account_id, "amount": amount}
        )

    async def withdraw(self, account_id: int, amount: int) -> m.BalanceAck:
        return await self._post(
            "operator/withdrawals", m.BalanceAck, {"account_id": account_id, "amount": amount}
        )

    async def audit(self) -> dict[str, Any]:
        return await self.request("GET", "operator/audit")

    async def health(self) -> dict[str, Any]:
        """`/health` answers 503 with the same body when a component is down; that body is returned."""
        response = await self._http.get("/health")
        return msgspec.json.decode(response.content)


def _error(response: httpx.Response) -> CapexError:
    retry_after = response.headers.get("Retry-After")
    try:
        error = msgspec.json.decode(response.content)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (msgspec.DecodeError, KeyError, TypeError):
        code, message = "HTTP_ERROR", response.text[:500] or response.reason_phrase
    return CapexError(
        response.status_code,
        code,
        message,
        retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
    )
