"""Passwords, web session tokens, API keys and request signing.

- Passwords: Argon2id (argon2-cffi), never stored in clear.
- Session tokens (web client): 32 random bytes, URL-safe; only their SHA-256 is stored.
- API keys: `key_id` (public, `ak_` + 16 hex), of one of two algorithms (docs/api.md, "Signing"):
  - `ed25519` (preferred): the client makes the key pair and registers the 32-byte public key
    (64 hex); the server stores only that public key, so nothing in the database can sign.
  - `hmac-sha256`: the server makes a secret, shows it once; both sides sign with
    `SHA-256(secret)` as the HMAC key. The server must hold that HMAC key to verify, so it keeps
    it encrypted with a server key that is not in the database (api/key_crypto.py).
- Request signing over `canonical_request` (wire/signing.py: the contract shared with the SDK),
  headers `X-Capex-Key`, `X-Capex-Timestamp` (ms since epoch), `X-Capex-Nonce`,
  `X-Capex-Signature` (hex: 32 bytes of HMAC or 64 bytes of Ed25519). Every header is bounded
  before it is converted (`parse_timestamp`, `valid_nonce`, ...). Refused with 401: a timestamp
  further than the window from now (stale or future-dated), a nonce seen before within the window
  (replay), a signature that does not match (tampered), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The signing contract is shared with the SDK (wire/signing.py): the server keeps its names,
# re-exported explicitly (`X as X`).
from wire.signing import ALGORITHMS as ALGORITHMS
from wire.signing import ED25519 as ED25519
from wire.signing import HMAC_SHA256 as HMAC_SHA256
from wire.signing import KEY_HEADER as KEY_HEADER
from wire.signing import NONCE_HEADER as NONCE_HEADER
from wire.signing import SIGNATURE_HEADER as SIGNATURE_HEADER
from wire.signing import TIMESTAMP_HEADER as TIMESTAMP_HEADER
from wire.signing import canonical_request as canonical_request
from wire.signing import sign as sign
from wire.signing import signing_key as signing_key
from wire.signing import ws_challenge_message as ws_challenge_message

SCOPES = ("read", "trade", "transfer")

# Bounds of the signing fields, checked before anything converts them (a 5,000-digit timestamp
# must not reach int(); str.isdigit() also accepts digits like "²" that int() refuses).
MAX_KEY_ID_LENGTH = 40
MAX_TIMESTAMP_DIGITS = 16
MAX_SIGNATURE_LENGTH = 128  # hex of a 64-byte Ed25519 signature
MAX_TOKEN_LENGTH = 256
_TIMESTAMP = re.compile(r"[0-9]{1,16}")  # [0-9], not \d: ASCII digits only
_NONCE = re.compile(r"[\x21-\x7e]{8,64}")  # 8 to 64 visible ASCII characters
_HEX = re.compile(r"[0-9a-fA-F]*")

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


def signature_matches(signing_key_hex: str, message: bytes, signature: str) -> bool:
    """HMAC check with the key given as hex (a legacy plain-digest row, see api/key_crypto.py)."""
    try:
        key = bytes.fromhex(signing_key_hex)
    except ValueError:
        return False
    return hmac_matches(key, message, signature)


def hmac_matches(key: bytes, message: bytes, signature: str) -> bool:
    if len(signature) != 64 or not _HEX.fullmatch(signature):
        return False
    return hmac.compare_digest(sign(key, message), signature.lower())


def ed25519_matches(public_key: bytes, message: bytes, signature: str) -> bool:
    """The signature is the hex of the 64-byte Ed25519 signature of `message`."""
    if len(signature) != 128 or not _HEX.fullmatch(signature):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- BOUNDS OF THE SIGNING FIELDS -----------------------------------------------------------------


def parse_timestamp(value: str) -> int | None:
    """Milliseconds since the epoch from 1 to 16 ASCII digits, else None."""
    if len(value) > MAX_TIMESTAMP_DIGITS or not _TIMESTAMP.fullmatch(value):
        return None
    return int(value)


def valid_nonce(value: str) -> bool:
    return len(value) <= 64 and _NONCE.fullmatch(value) is not None


def valid_key_id(value: str) -> bool:
    return 0 < len(value) <= MAX_KEY_ID_LENGTH and value.isascii() and value.isprintable()


def valid_signature(value: str) -> bool:
    return 0 < len(value) <= MAX_SIGNATURE_LENGTH and _HEX.fullmatch(value) is not None


# -- ED25519 PUBLIC KEYS ----------------------------------------------------------------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _ed25519_point(raw: bytes) -> tuple[int, int] | None:
    """The curve point of a compressed Ed25519 key (RFC 8032, 5.1.3), or None if it is not one
    (including non-canonical encodings)."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign_bit = raw[31] >> 7
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign_bit else (0, y)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if x & 1 != sign_bit:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    x, y = point
    t = _D * x * x * y * y % _P
    return (2 * x * y * pow(1 + t, _P - 2, _P) % _P, (y * y + x * x) * pow(1 - t, _P - 2, _P) % _P)


def parse_ed25519_public_key(text: str) -> bytes:
    """The 32 raw bytes of an Ed25519 public key given as 64 hex characters. Raises ValueError
    for anything else: another length, not hex, not a point of the curve, or a point of small
    order (a key for which signatures can be forged without any private key)."""
    if len(text) != 64 or not _HEX.fullmatch(text):
        raise ValueError("an Ed25519 public key is 64 hex characters (the 32 raw bytes)")
    raw = bytes.fromhex(text)
    point = _ed25519_point(raw)
    if point is None:
        raise ValueError("not an Ed25519 public key: not a point of the curve")
    for _ in range(3):
        point = _double(point)
    if point == (0, 1):  # 8 * key is the neutral element
        raise ValueError("not a usable Ed25519 public key: a point of small order")
    return raw
