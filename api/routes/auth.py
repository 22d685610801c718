"""Accounts and web sessions: register, log in, log out, who am I."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api import queries, security
from api.accounts import log_in, register_account
from api.credentials import session_credential
from api.deps import CredentialWatchDep, CurrentPrincipal, GatewayDep, SettingsDep
from api.errors import ApiError
from api.routes.common import AUTHENTICATED, EngineDep, SessionPrincipal, make_router
from api.schemas import (
    AccountOut,
    LoginIn,
    MeOut,
    RegisterIn,
    SessionOut,
    error_responses,
)
from api.tables import Credential, SessionToken

router = make_router("accounts")


@router.post(
    "/auth/register",
    status_code=201,
    response_model=AccountOut,
    summary="Open an account with a login",
    responses=error_responses(400, 403, 409, 422, 429, 503),
)
async def register(
    body: RegisterIn, gateway: GatewayDep, engine: EngineDep, settings: SettingsDep
) -> AccountOut:
    """Creates an exchange account and its login. Only the roles in `API_OPEN_REGISTRATION_ROLES`
    may be chosen (403 ROLE_NOT_ALLOWED otherwise); operators are created by operators."""
    if body.role not in settings.open_registration_roles:
        allowed = ", ".join(settings.open_registration_roles)
        raise ApiError(403, "ROLE_NOT_ALLOWED", f"registration is open to the roles: {allowed}")
    account_id = await register_account(gateway, engine, body.username, body.password, body.role)
    return AccountOut(account_id=account_id, username=body.username, role=body.role)


@router.post(
    "/auth/login",
    response_model=SessionOut,
    summary="Log in: a session token for the web client",
    responses=error_responses(400, 401, 422, 429, 503),
)
async def login(body: LoginIn, gateway: GatewayDep, engine: EngineDep, settings: SettingsDep) -> SessionOut:
    """A session token with every scope, valid for `API_SESSION_TTL_SECONDS`. 401
    INVALID_CREDENTIALS for an unknown username or a wrong password (the same answer for both)."""
    token, account_id, expires_at = await log_in(
        engine, body.username, body.password, settings.session_ttl_seconds
    )
    account = await queries.account(gateway, account_id)
    if account is None:
        raise ApiError(401, "INVALID_CREDENTIALS", "unknown username or wrong password")
    return SessionOut(token=token, account_id=account_id, role=account.role, expires_at=expires_at)


def _delete_session(engine: Engine, token: str) -> None:
    with Session(engine) as session:
        session.exec(delete(SessionToken).where(col(SessionToken.token_hash) == security.digest(token)))
        session.commit()


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    summary="Log out: end this session token",
    dependencies=AUTHENTICATED,
    responses=error_responses(401, 403, 429),
)
async def logout(
    request: Request, principal: SessionPrincipal, engine: EngineDep, watch: CredentialWatchDep
) -> Response:
    """Every WebSocket authenticated with this session token, on every worker, is told
    UNAUTHENTICATED and closed (api/credentials.py)."""
    token = request.headers["authorization"][7:].strip()
    await run_in_threadpool(_delete_session, engine, token)
    await watch.end(session_credential(security.digest(token)), "the session was logged out")
    return Response(status_code=204)


def _username(engine: Engine, account_id: int) -> str | None:
    with Session(engine) as session:
        return session.exec(select(Credential.username).where(Credential.account_id == account_id)).first()


@router.get(
    "/me",
    response_model=MeOut,
    summary="Who these credentials are",
    dependencies=AUTHENTICATED,
    responses=error_responses(401, 429, 503),
)
async def me(principal: CurrentPrincipal, gateway: GatewayDep, engine: EngineDep) -> MeOut:
    """Any valid credentials may ask (no scope needed): the account, its role, and the scopes of
    the session or API key used."""
    account = await queries.account(gateway, principal.account_id)
    username = await run_in_threadpool(_username, engine, principal.account_id)
    return MeOut(
        account_id=principal.account_id,
        username=username,
        role=principal.role,
        scopes=sorted(principal.scopes),
        via=principal.via,
        key_id=principal.key_id,
        kill_switch=account is not None and account.kill_switch,
    )
