"""Who a connection is: the `auth` op's checks (a session token, or an API key signing the
connection's challenge), the principal it grants, and the end of it when the credential ends
(docs/market-data.md, "Authentication").

A connection holds its credential in the process's CredentialWatch (api/credentials.py), which
ends it at once when the key is revoked or the session logged out, here or on another worker; a
session token also ends at its expiry (a timer here).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from api import queries, security
from api.config import ApiSettings
from api.credentials import CredentialWatch, api_key_credential, session_credential
from api.deps import Principal, lookup_api_key, lookup_session
from api.gateway import Gateway, now_ms
from api.key_crypto import ApiKeyVerifier
from api.ws.protocol import ALREADY_AUTHENTICATED, BAD_REQUEST, SCOPE_REQUIRED, UNAUTHENTICATED, Auth, WsError

MAX_FAILED_AUTHS = 3


@dataclass(frozen=True)
class Verified:
    """Credentials that checked out, not yet taken by the connection."""

    principal: Principal
    credential_id: str  # api/credentials.py: what ends this principal
    expires_at: int | None  # ms; a session token's end


class Authentication:
    """The principal of one connection (None until `auth`, and again once its credential ended)."""

    def __init__(
        self,
        settings: ApiSettings,
        gateway: Gateway,
        db_engine: Any,
        api_keys: ApiKeyVerifier,
        credential_watch: CredentialWatch,
        loop: asyncio.AbstractEventLoop,
        on_ended: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.db_engine = db_engine
        self.api_keys = api_keys
        self.credential_watch = credential_watch
        self.loop = loop
        self._on_ended = on_ended  # the connection closes (with the reason)
        self.principal: Principal | None = None
        self.credential_id: str | None = None
        self.expiry: asyncio.TimerHandle | None = None  # a session token's end
        self.challenge: str | None = secrets.token_hex(16)  # good for one successful auth
        self.failed_auths = 0

    @property
    def refusals_exhausted(self) -> bool:
        """Too many refused attempts: the connection is to close after the answer."""
        return self.failed_auths >= MAX_FAILED_AUTHS

    def require_scope(self, scope: str) -> Principal:
        principal = self.principal
        if principal is None:
            raise WsError(UNAUTHENTICATED, "authenticate first (op auth)")
        if scope not in principal.scopes:
            raise WsError(SCOPE_REQUIRED, f"this API key lacks the {scope!r} scope")
        return principal

    def require_unauthenticated(self) -> None:
        if self.principal is not None:
            raise WsError(ALREADY_AUTHENTICATED, "this connection is already authenticated")

    # -- THE AUTH OP ------------------------------------------------------------------------------

    async def verify(self, request: Auth) -> Verified:
        """Check the credentials of an `auth`; UNAUTHENTICATED (counted) or BAD_REQUEST if they do
        not hold. Changes nothing but the count of refused attempts."""
        engine = self.db_engine
        key_id: str | None = None
        if request.token is not None:
            live = await run_in_threadpool(lookup_session, engine, request.token, now_ms())
            if live is None:
                raise self._refuse("the session token is unknown or expired; log in again")
            account_id, expires_at = live
            scopes = frozenset(security.SCOPES)
            via = "session"
            credential_id = session_credential(security.digest(request.token))
        elif request.key is not None and request.timestamp is not None and request.signature is not None:
            timestamp = str(request.timestamp)
            millis = security.parse_timestamp(timestamp)  # bounded: at most 16 ASCII digits
            if millis is None:
                raise WsError(BAD_REQUEST, "timestamp is milliseconds since the epoch, at most 16 digits")
            if not security.valid_key_id(request.key) or not security.valid_signature(request.signature):
                raise WsError(BAD_REQUEST, "key is at most 40 characters, signature at most 128 hex")
            window = self.settings.signature_window_ms
            if abs(millis - now_ms()) > window:
                raise self._refuse(f"the timestamp is more than {window} ms from the server's clock")
            key = await run_in_threadpool(lookup_api_key, engine, request.key)
            if key is None:
                raise self._refuse("unknown or revoked API key")
            assert self.challenge is not None
            message = security.ws_challenge_message(self.challenge, timestamp)
            if not self.api_keys.matches(key, message, request.signature):
                raise self._refuse("the signature does not match this connection's challenge")
            account_id = key.account_id
            scopes = frozenset(s for s in key.scopes.split(",") if s)
            key_id = key.key_id
            via = "api_key"
            credential_id = api_key_credential(key.key_id)
            expires_at = None
        else:
            raise WsError(BAD_REQUEST, "auth needs a token, or key, timestamp and signature")
        account = await queries.account(self.gateway, account_id)
        if account is None:
            raise self._refuse("the account of these credentials no longer exists")
        principal = Principal(account_id, account.role, scopes, via, key_id)
        return Verified(principal, credential_id, expires_at)

    def accept(self, verified: Verified) -> Principal:
        """The connection is `verified.principal` from now on, until its credential ends (which
        may be at once: `on_ended` is then called before this returns)."""
        self.principal = verified.principal
        self.challenge = None  # one successful authentication per challenge
        self._hold_credential(verified.credential_id, verified.expires_at)
        return verified.principal

    def _refuse(self, message: str) -> WsError:
        self.failed_auths += 1
        if self.refusals_exhausted:
            message += "; too many refused attempts: closing"
        return WsError(UNAUTHENTICATED, message)

    # -- THE CREDENTIAL ---------------------------------------------------------------------------

    def _hold_credential(self, credential_id: str, expires_at: int | None) -> None:
        """Register with the process's CredentialWatch (ended at once when the credential is
        revoked or logged out, here or on another worker) and, for a session token, end at its
        expiry."""
        self.credential_id = credential_id
        self.credential_watch.hold(credential_id, self)
        if expires_at is not None and self.principal is not None:
            delay = max(0.0, (expires_at - now_ms()) / 1000)
            self.expiry = self.loop.call_later(delay, self.credential_ended, "the session expired")

    def release_credential(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if self.credential_id is not None:
            self.credential_watch.release(self.credential_id, self)
            self.credential_id = None

    def credential_ended(self, reason: str) -> None:
        """CredentialWatch's Holder: the credential this connection authenticated with was revoked,
        logged out or expired. Nothing more is done on it (a request read from now on is refused
        UNAUTHENTICATED) and the connection is told to end (`on_ended`). Orders already submitted
        are answered by the sequencer as usual; cancel-on-disconnect, if enabled, still runs."""
        if self.principal is None:
            return
        self.principal = None
        self.release_credential()
        self._on_ended(reason)
