"""API-key signing of the SDK (docs/api.md, "Signing"): one `Signer` per key, of either algorithm.

- **Ed25519** (preferred): you make the key pair, register the public key
  (`CapexClient.create_api_key(..., public_key=...)` or `create_ed25519_api_key`), keep the
  private key; the server stores only the public key. Credentials: `(key_id, Ed25519PrivateKey)`.
- **HMAC-SHA256**: the server makes a secret and answers it once. Credentials: `(key_id, secret)`;
  the HMAC key is `SHA-256(secret)`.

Both sign the same canonical request (`wire.signing.canonical_request`, the server's own), and the
WebSocket challenge (`wire.signing.ws_challenge_message`); the signature is lower-case hex (64 characters
for HMAC, 128 for Ed25519).

    key = generate_ed25519_key()
    save_somewhere_safe(private_key_hex(key))          # 64 hex: the 32-byte seed
    key = load_ed25519_key(read_it_back())
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire import signing as wire_signing

__all__ = [
    "ApiKeyCredentials",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "Ed25519Signer",
    "HmacSigner",
    "Signer",
    "generate_ed25519_key",
    "load_ed25519_key",
    "private_key_hex",
    "public_key_hex",
    "signer_for",
]


@runtime_checkable
class Signer(Protocol):
    key_id: str
    algorithm: str

    def sign(self, message: bytes) -> str:
        """The hex signature of `message`."""
        ...


class HmacSigner:
    """An `hmac-sha256` key: signs with SHA-256(secret) as the HMAC key."""

    algorithm = wire_signing.HMAC_SHA256

    def __init__(self, key_id: str, secret: str) -> None:
        self.key_id = key_id
        self._key = wire_signing.signing_key(secret)

    def sign(self, message: bytes) -> str:
        return wire_signing.sign(self._key, message)


class Ed25519Signer:
    """An `ed25519` key: signs with the private key; the server holds the public key."""

    algorithm = wire_signing.ED25519

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self._key = private_key

    @property
    def public_key(self) -> str:
        return public_key_hex(self._key)

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()


# What `CapexClient(api_key=...)` and `WsSession(api_key=...)` take.
ApiKeyCredentials = tuple[str, str] | tuple[str, Ed25519PrivateKey] | Signer


def signer_for(credentials: ApiKeyCredentials) -> Signer:
    """The signer of (key_id, secret), (key_id, Ed25519PrivateKey), or a signer as it is."""
    if isinstance(credentials, tuple):
        key_id, key = credentials
        if isinstance(key, Ed25519PrivateKey):
            return Ed25519Signer(key_id, key)
        if isinstance(key, str):
            return HmacSigner(key_id, key)
        raise TypeError("api_key is (key_id, secret) or (key_id, Ed25519PrivateKey)")
    if isinstance(credentials, Signer):
        return credentials
    raise TypeError("api_key is (key_id, secret), (key_id, Ed25519PrivateKey) or a Signer")


def generate_ed25519_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key (register `public_key_hex(key)`, keep the key)."""
    return Ed25519PrivateKey.generate()


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The 32 raw bytes of the public key as 64 hex characters: what the server registers."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def private_key_hex(key: Ed25519PrivateKey) -> str:
    """The 32-byte seed of the private key as 64 hex characters (store it like a password)."""
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ).hex()


def load_ed25519_key(seed_hex: str) -> Ed25519PrivateKey:
    """The private key from `private_key_hex`'s 64 hex characters."""
    seed = bytes.fromhex(seed_hex.strip())
    if len(seed) != 32:
        raise ValueError("an Ed25519 private key is 32 bytes (64 hex characters)")
    return Ed25519PrivateKey.from_private_bytes(seed)
