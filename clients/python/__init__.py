"""The Python SDK of the exchange: an async REST client (`CapexClient`), a WebSocket session
(`WsSession`) with correlated order entry and reconnection, a local order book kept in sync from
snapshot + deltas (`LocalBook`), and the market-maker bot built on them (`mm_bot`). API keys sign
with Ed25519 (`generate_ed25519_key`, `api_key=(key_id, private_key)`) or HMAC
(`api_key=(key_id, secret)`), signing.py. docs/sdk.md."""

from clients.python.book import BookUpdate, LocalBook, book_checksum
from clients.python.errors import CapexError, ConnectionLost
from clients.python.models import Quote
from clients.python.rest import CapexClient
from clients.python.signing import (
    Ed25519PrivateKey,
    Ed25519Signer,
    HmacSigner,
    Signer,
    generate_ed25519_key,
    load_ed25519_key,
    private_key_hex,
    public_key_hex,
)
from clients.python.ws import WsSession

__all__ = [
    "BookUpdate",
    "CapexClient",
    "CapexError",
    "ConnectionLost",
    "Ed25519PrivateKey",
    "Ed25519Signer",
    "HmacSigner",
    "LocalBook",
    "Quote",
    "Signer",
    "WsSession",
    "book_checksum",
    "generate_ed25519_key",
    "load_ed25519_key",
    "private_key_hex",
    "public_key_hex",
]
