"""The wire contract of the exchange: what the server and every client must agree on byte for byte.

- `wire.signing`: the canonical request an API key signs, the WebSocket challenge, the HMAC
  signature, the header and algorithm names (docs/api.md, "Signing");
- `wire.book`: the book checksum every book message carries (docs/market-data.md, "Book");
- `wire.ws`: the error and close codes of `/ws` a client acts on (docs/market-data.md).

The bottom of the import graph: the standard library only, nothing from `api/`, `exchange/` or
`clients/`, so the SDK can import it without the server (tests/wire/test_wire.py checks both).
Ed25519 needs `cryptography` and stays beside its users: the SDK's `clients/python/signing.py`
signs, the server's `api/security.py` verifies.
"""
