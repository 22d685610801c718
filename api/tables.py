"""The API's own tables: logins, web sessions and API keys. Not exchange state (the journal does
not know them); they share the exchange's database and its Alembic history (migration 0002).

Secrets are never stored: passwords as Argon2 hashes, session tokens and API-key secrets as
SHA-256 digests (security.py explains what the digest of a key's secret is used for).
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
    signing_key_hash: str = Field(max_length=64)  # hex SHA-256 of the secret: the HMAC key
    scopes: str = Field(max_length=64)  # comma-separated, of read,trade,transfer
    label: str = Field(default="", max_length=100)
    created_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
