"""API keys: create (an Ed25519 public key registered, or an HMAC secret shown once), list,
revoke. Keys are minted and revoked with the web session only, so a leaked key can not make itself
more keys or outlive its revocation. Nothing stored signs: an Ed25519 row holds the public key, an
HMAC row its key encrypted with a server key (api/key_crypto.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api import security
from api.credentials import api_key_credential
from api.deps import CredentialWatchDep, ReadPrincipal
from api.errors import ApiError
from api.gateway import now_ms
from api.key_crypto import ApiKeyVerifier
from api.routes.common import EngineDep, SessionPrincipal, make_router
from api.schemas import ApiKeyCreatedOut, ApiKeyCreateIn, ApiKeyOut, error_responses
from api.tables import ApiKey

router = make_router("api keys", authenticated=True)


def _out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=row.key_id,
        scopes=[s for s in row.scopes.split(",") if s],
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        algorithm=row.algorithm,
        public_key=row.public_key,
    )


def _insert(engine: Engine, row: ApiKey) -> None:
    with Session(engine) as session:
        session.add(row)
        session.commit()


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreatedOut,
    summary="Create an API key (session only): Ed25519 with your public key, or HMAC (secret returned once)",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
async def create_key(
    body: ApiKeyCreateIn, request: Request, principal: SessionPrincipal, engine: EngineDep
) -> ApiKeyCreatedOut:
    """With `public_key` (64 hex, the raw 32-byte Ed25519 public key): an `ed25519` key; the server
    keeps only that public key. Without: an `hmac-sha256` key; the secret is answered once and the
    server keeps SHA-256(secret), the HMAC key, encrypted with its server key (docs/api.md,
    "Signing")."""
    scopes = [s for s in security.SCOPES if s in body.scopes]
    key_id, secret = security.new_api_key()
    row = ApiKey(
        key_id=key_id,
        account_id=principal.account_id,
        scopes=",".join(scopes),
        label=body.label,
        created_at=now_ms(),
    )
    if body.public_key is not None:
        try:
            public_key = security.parse_ed25519_public_key(body.public_key)
        except ValueError as exc:
            raise ApiError(422, "VALIDATION_ERROR", f"public_key: {exc}") from None
        row.algorithm, row.public_key, answered = security.ED25519, public_key.hex(), None
    else:
        verifier: ApiKeyVerifier = request.app.state.api_keys
        row.encryption_key_id, row.secret_ciphertext = verifier.seal(key_id, security.signing_key(secret))
        row.algorithm, answered = security.HMAC_SHA256, secret
    created = ApiKeyCreatedOut(**_out(row).model_dump(), secret=answered)
    await run_in_threadpool(_insert, engine, row)
    return created


def _list(engine: Engine, account_id: int) -> list[ApiKey]:
    with Session(engine) as session:
        rows = session.exec(
            select(ApiKey)
            .where(ApiKey.account_id == account_id)
            .order_by(col(ApiKey.created_at), col(ApiKey.key_id))
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


@router.get(
    "/api-keys",
    response_model=list[ApiKeyOut],
    summary="List your API keys (revoked ones too), without secrets",
    responses=error_responses(401, 403, 429, 503),
)
async def list_keys(principal: ReadPrincipal, engine: EngineDep) -> list[ApiKeyOut]:
    return [_out(row) for row in await run_in_threadpool(_list, engine, principal.account_id)]


def _revoke(engine: Engine, account_id: int, key_id: str, now: int) -> ApiKey | None:
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.account_id != account_id:
            return None
        if row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
            session.commit()
            session.refresh(row)
        session.expunge(row)
        return row


@router.delete(
    "/api-keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key (session only); it authenticates nothing from now on",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def revoke_key(
    key_id: Annotated[str, Path(max_length=40, description="ak_ + 16 hex")],
    principal: SessionPrincipal,
    engine: EngineDep,
    watch: CredentialWatchDep,
) -> ApiKeyOut:
    """Revoking twice answers the first revocation. Another account's key is 404 UNKNOWN_API_KEY,
    like an unknown one. Every WebSocket authenticated with the key, on every worker, is told
    UNAUTHENTICATED and closed (api/credentials.py)."""
    row = await run_in_threadpool(_revoke, engine, principal.account_id, key_id, now_ms())
    if row is None:
        raise ApiError(404, "UNKNOWN_API_KEY", f"no API key {key_id!r} on this account")
    await watch.end(api_key_credential(key_id), "the API key was revoked")
    return _out(row)
