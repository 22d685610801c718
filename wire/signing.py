"""Request signing with an API key (docs/api.md, "Signing"): what the client signs and the server
verifies, so both build the very same bytes.

A signed request carries `X-Capex-Key` (the key id), `X-Capex-Timestamp` (ms since the epoch),
`X-Capex-Nonce` (fresh per request) and `X-Capex-Signature` (lower-case hex) over
`canonical_request`. An `ed25519` key signs with its private key (128 hex), an `hmac-sha256` key
with HMAC-SHA256 keyed by `signing_key(secret)` (64 hex). A WebSocket client signs
`ws_challenge_message` instead, with the server's challenge as the nonce.
"""

from __future__ import annotations

import hashlib
import hmac

# HTTP header names are case-insensitive; the lower-case form is how both sides look them up.
KEY_HEADER = "x-capex-key"
TIMESTAMP_HEADER = "x-capex-timestamp"
NONCE_HEADER = "x-capex-nonce"
SIGNATURE_HEADER = "x-capex-signature"

HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"
ALGORITHMS = (HMAC_SHA256, ED25519)


def canonical_request(timestamp: str, nonce: str, method: str, path: str, query: str, body: bytes) -> bytes:
    """The signed text: timestamp (ms since the epoch, as sent), nonce, upper-case method, path,
    raw query string (as sent, without `?`), hex SHA-256 of the raw body; joined by newlines."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((timestamp, nonce, method.upper(), path, query, body_hash)).encode()


def ws_challenge_message(challenge: str, timestamp: str) -> bytes:
    """What a WebSocket client signs to authenticate with an API key: the request form of
    `GET /ws` with the server's challenge as the nonce and an empty body."""
    return canonical_request(timestamp, challenge, "GET", "/ws", "", b"")


def signing_key(secret: str) -> bytes:
    """The HMAC key of an `hmac-sha256` API key: SHA-256 of the secret (32 bytes)."""
    return hashlib.sha256(secret.encode()).digest()


def sign(key: bytes, message: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of `message` (64 characters)."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()
