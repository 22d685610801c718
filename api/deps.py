"""Dependencies of the routes, as `Annotated` aliases: settings, gateway, database sessions, and
the authenticated principal with its scopes.

Authentication, in order: `Authorization: Bearer <session token>` (web client; all scopes), or
a signed API-key request (security.py; the key's scopes). Every authenticated request also spends
from its key's (or account's) rate-limit bucket; every request spends from its IP's bucket
(middleware in main.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import queries, security
from api.config import ApiSettings
from api.credentials import CredentialWatch
from api.errors import ApiError
from api.gateway import Gateway, now_ms
from api.key_crypto import ApiKeyVerifier
from api.rate_limit import NonceStore, RateLimiter
from api.tables import ApiKey, SessionToken


@dataclass(frozen=True)
class Principal:
    account_id: int
    role: str
    scopes: frozenset[str]
    via: str  # "session" | "api_key"
    key_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_db(request: Request) -> Iterator[Session]:
    engine: Engine = request.app.state.db_engine
    with Session(engine) as session:
        yield session


def get_credential_watch(request: Request) -> CredentialWatch:
    watch: CredentialWatch = request.app.state.credential_watch
    return watch


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
CredentialWatchDep = Annotated[CredentialWatch, Depends(get_credential_watch)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
DbDep = Annotated[Session, Depends(get_db)]


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": "Bearer"})


def lookup_session(engine: Engine, token: str, now: int) -> tuple[int, int] | None:
    """(account, expires_at in ms) of a live session token, or None."""
    with Session(engine) as session:
        row = session.get(SessionToken, security.digest(token))
        if row is None or row.expires_at <= now:
            return None
        return row.account_id, row.expires_at


def lookup_api_key(engine: Engine, key_id: str) -> ApiKey | None:
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return None
        session.expunge(row)
        return row


async def account_role(request: Request, account_id: int) -> str:
    account = await queries.account(request.app.state.gateway, account_id)
    if account is None:
        raise _unauthenticated("the account of these credentials no longer exists")
    return account.role


async def verify_signed(request: Request, key: ApiKey) -> None:
    """Raises 401 unless the request carries a fresh, unused nonce and a matching signature."""
    settings: ApiSettings = request.app.state.settings
    headers = request.headers
    timestamp = headers.get(security.TIMESTAMP_HEADER, "")
    nonce = headers.get(security.NONCE_HEADER, "")
    signature = headers.get(security.SIGNATURE_HEADER, "")
    if not (timestamp and nonce and signature):
        raise _unauthenticated(
            "a signed request needs X-Capex-Timestamp, X-Capex-Nonce and X-Capex-Signature"
        )
    # Bounded before anything converts them (security.py): no 5,000-digit int(), no "²".
    millis = security.parse_timestamp(timestamp)
    if millis is None or not security.valid_nonce(nonce):
        raise _unauthenticated(
            "X-Capex-Timestamp must be ms since epoch (at most 16 ASCII digits); "
            "X-Capex-Nonce 8 to 64 visible ASCII characters"
        )
    if not security.valid_signature(signature):
        raise _unauthenticated("X-Capex-Signature must be hex, at most 128 characters")
    skew = millis - now_ms()
    if skew < -settings.signature_window_ms:
        raise _unauthenticated("the request is stale: its timestamp is outside the signature window")
    if skew > settings.signature_window_ms:
        raise _unauthenticated("the request is future-dated: its timestamp is outside the signature window")
    body = await request.body()
    message = security.canonical_request(
        timestamp, nonce, request.method, request.url.path, request.url.query, body
    )
    verifier: ApiKeyVerifier = request.app.state.api_keys
    if not verifier.matches(key, message, signature):
        raise _unauthenticated("the signature does not match the request")
    nonces: NonceStore = request.app.state.nonces
    if not await nonces.claim(f"{key.key_id}:{nonce}", 2 * settings.signature_window_ms):
        raise _unauthenticated("the nonce was used before: replayed request refused")


async def current_principal(request: Request) -> Principal:
    engine: Engine = request.app.state.db_engine
    authorization = request.headers.get("authorization", "")
    key_id = request.headers.get(security.KEY_HEADER)
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if len(token) > security.MAX_TOKEN_LENGTH:
            raise _unauthenticated("the session token is unknown or expired; log in again")
        live = await run_in_threadpool(lookup_session, engine, token, now_ms())
        if live is None:
            raise _unauthenticated("the session token is unknown or expired; log in again")
        account_id = live[0]
        principal = Principal(
            account_id, await account_role(request, account_id), frozenset(security.SCOPES), "session"
        )
    elif key_id:
        if not security.valid_key_id(key_id):
            raise _unauthenticated("unknown or revoked API key")
        key = await run_in_threadpool(lookup_api_key, engine, key_id)
        if key is None:
            raise _unauthenticated("unknown or revoked API key")
        await verify_signed(request, key)
        principal = Principal(
            key.account_id,
            await account_role(request, key.account_id),
            frozenset(s for s in key.scopes.split(",") if s),
            "api_key",
            key.key_id,
        )
    else:
        raise _unauthenticated(
            "authenticate with a session token (Authorization: Bearer) or a signed API key"
        )
    settings: ApiSettings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    bucket = f"key:{principal.key_id}" if principal.key_id else f"account:{principal.account_id}"
    retry_after = await limiter.allow(bucket, settings.rate_limit_per_key, settings.rate_limit_per_key_burst)
    if retry_after is not None:
        raise rate_limited(retry_after)
    request.state.principal = principal
    return principal


def rate_limited(retry_after: float) -> ApiError:
    seconds = max(1, int(retry_after + 0.999))
    return ApiError(
        429, "RATE_LIMITED", f"too many requests; retry after {seconds} s", {"Retry-After": str(seconds)}
    )


def require_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise ApiError(403, "SCOPE_REQUIRED", f"this API key lacks the {scope!r} scope")
        return principal

    return dependency


async def operator_principal(principal: Annotated[Principal, Depends(require_scope("trade"))]) -> Principal:
    if not principal.is_operator:
        raise ApiError(403, "NOT_PERMITTED", "only operators may do this")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
ReadPrincipal = Annotated[Principal, Depends(require_scope("read"))]
TradePrincipal = Annotated[Principal, Depends(require_scope("trade"))]
TransferPrincipal = Annotated[Principal, Depends(require_scope("transfer"))]
OperatorPrincipal = Annotated[Principal, Depends(operator_principal)]
