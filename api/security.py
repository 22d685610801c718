"""Passwords, web session tokens, API keys and request signing.

- Passwords: Argon2id (argon2-cffi), never stored in clear.
- Session tokens (web client): 32 random bytes, URL-safe; only their SHA-256 is stored.
- API keys: `key_id` (public, `ak_` + 16 hex) and a secret shown once at creation. The database
  keeps `SHA-256(secret)` only; that digest is the HMAC key both sides sign with, so the secret
  itself never leaves the client after creation and never rests on the server. (A stolen
  database would let one sign requests until the key is revoked, as with any HMAC scheme; it does
  not reveal the secret.)
- Request signing: HMAC-SHA256 over `canonical_request` with headers
  `X-Capex-Key`, `X-Capex-Timestamp` (ms since epoch), `X-Capex-Nonce`, `X-Capex-Signature` (hex).
  Refused with 401: a timestamp further than the window from now (stale or future-dated), a nonce
  seen before within the window (replay), a signature that does not match (tampered), compared in
  constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SCOPES = ("read", "trade", "transfer")
KEY_HEADER = "x-capex-key"
TIMESTAMP_HEADER = "x-capex-timestamp"
NONCE_HEADER = "x-capex-nonce"
SIGNATURE_HEADER = "x-capex-signature"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """Hex SHA-256: how tokens and key secrets are stored and looked up."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(key_id, secret)."""
    return "ak_" + secrets.token_hex(8), secrets.token_urlsafe(32)


def signing_key(secret: str) -> bytes:
    """The HMAC key of an API key: what the client derives from its secret, and what the server
    stores (as hex)."""
    return hashlib.sha256(secret.encode()).digest()


def canonical_request(timestamp: str, nonce: str, method: str, path: str, query: str, body: bytes) -> bytes:
    """The signed text: timestamp, nonce, upper-case method, path, raw query string (as sent, without
    `?`), hex SHA-256 of the raw body; joined by newlines."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((timestamp, nonce, method.upper(), path, query, body_hash)).encode()


def sign(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_matches(signing_key_hex: str, message: bytes, signature: str) -> bool:
    try:
        key = bytes.fromhex(signing_key_hex)
    except ValueError:
        return False
    return hmac.compare_digest(sign(key, message), signature.lower())


def ws_challenge_message(challenge: str, timestamp: str) -> bytes:
    """What a WebSocket client signs to authenticate with an API key: the request form of
    `GET /ws` with the server's challenge as the nonce and an empty body."""
    return canonical_request(timestamp, challenge, "GET", "/ws", "", b"")
