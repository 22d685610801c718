"""The API's own tables: logins, web sessions and API keys. Not exchange state (the journal does
not know them); they share the exchange's database and its Alembic history (migration 0002).

Secrets are never stored: passwords as Argon2 hashes, session tokens as SHA-256 digests; API keys
as an Ed25519 public key, or an encrypted HMAC key (security.py, key_crypto.py, migration 0004).
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class Credential(SQLModel, table=True):
    __tablename__ = "api_credentials"

    account_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    created_at: int = Field(sa_type=BigInteger)


class SessionToken(SQLModel, table=True):
    __tablename__ = "api_sessions"

    token_hash: str = Field(max_length=64, primary_key=True)
    account_id: int = Field(sa_type=BigInteger, index=True)
    created_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    key_id: str = Field(max_length=40, primary_key=True)
    account_id: int = Field(sa_type=BigInteger, index=True)
    # api/key_crypto.py: what each algorithm keeps, and nothing in a row signs a request.
    algorithm: str = Field(default="hmac-sha256", max_length=16)  # "hmac-sha256" | "ed25519"
    public_key: str | None = Field(default=None, max_length=64)  # ed25519: hex of the 32 raw bytes
    # hmac-sha256: the HMAC key SHA-256(secret), AES-256-GCM encrypted with server key `kid`
    secret_ciphertext: str | None = Field(default=None, max_length=128)
    encryption_key_id: str | None = Field(default=None, max_length=32)
    # Migration 0002's plain hex SHA-256 of the secret (the HMAC key itself): encrypted and erased
    # at the API's start (key_crypto.reseal_rows); never written any more.
    signing_key_hash: str | None = Field(default=None, max_length=64)
    scopes: str = Field(max_length=64)  # comma-separated, of read,trade,transfer
    label: str = Field(default="", max_length=100)
    created_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
