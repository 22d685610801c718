"""Opening an account with a login: one exchange account (CreateAccount through the sequencer) and
one credential row. Used by the registration route, the operators' account route, the operator
bootstrap (`capex admin create-operator`, api/admin.py) and the demo seed."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from api import security
from api.errors import ApiError, raise_for
from api.gateway import Gateway, now_ms
from api.tables import Credential, SessionToken
from exchange.accounts import SYSTEM_ACCOUNT_ID
from exchange.commands import CreateAccount

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")


def _username_taken(engine: Engine, username: str) -> bool:
    with Session(engine) as session:
        return (
            session.exec(select(Credential.account_id).where(Credential.username == username)).first()
            is not None
        )


def _insert_credential(engine: Engine, credential: Credential) -> None:
    with Session(engine) as session:
        session.add(credential)
        session.commit()


async def register_account(
    gateway: Gateway,
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    actor_id: int = SYSTEM_ACCOUNT_ID,
) -> int:
    """The new account's id. 409 USERNAME_TAKEN, 422 for a bad username or password. `actor_id`:
    who creates it (the sequencer requires an operator; the system account by default)."""
    if not USERNAME.match(username):
        raise ApiError(
            422, "INVALID_USERNAME", "a username is 3-32 of a-z 0-9 _ . - starting with a letter or digit"
        )
    if not 8 <= len(password) <= 128:
        raise ApiError(422, "INVALID_PASSWORD", "a password has 8 to 128 characters")
    if await run_in_threadpool(_username_taken, engine, username):
        raise ApiError(409, "USERNAME_TAKEN", f"the username {username!r} is taken")
    password_hash = await run_in_threadpool(security.hash_password, password)
    result = raise_for(await gateway.submit(CreateAccount(actor_id=actor_id, name=username, role=role)))
    account_id = int(result.data["account_id"])
    credential = Credential(
        account_id=account_id, username=username, password_hash=password_hash, created_at=now_ms()
    )
    try:
        await run_in_threadpool(_insert_credential, engine, credential)
    except IntegrityError as exc:
        # Two registrations raced for the name: the later exchange account stays without a login.
        raise ApiError(409, "USERNAME_TAKEN", f"the username {username!r} is taken") from exc
    return account_id


def _check_login(engine: Engine, username: str) -> Credential | None:
    with Session(engine) as session:
        row = session.exec(select(Credential).where(Credential.username == username)).first()
        if row is not None:
            session.expunge(row)
        return row


def _insert_session(engine: Engine, row: SessionToken) -> None:
    with Session(engine) as session:
        session.add(row)
        session.commit()


async def log_in(engine: Engine, username: str, password: str, ttl_seconds: int) -> tuple[str, int, int]:
    """(session token, account_id, expires_at ms). 401 INVALID_CREDENTIALS otherwise."""
    credential = await run_in_threadpool(_check_login, engine, username)
    valid = credential is not None and await run_in_threadpool(
        security.verify_password, credential.password_hash, password
    )
    if not valid or credential is None:
        raise ApiError(401, "INVALID_CREDENTIALS", "unknown username or wrong password")
    token = security.new_token()
    now = now_ms()
    expires_at = now + ttl_seconds * 1000
    row = SessionToken(
        token_hash=security.digest(token),
        account_id=credential.account_id,
        created_at=now,
        expires_at=expires_at,
    )
    await run_in_threadpool(_insert_session, engine, row)
    return token, credential.account_id, expires_at
