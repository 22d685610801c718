"""The wire contract (wire/): the exact bytes a signature covers, and that the server and the SDK
use this one implementation rather than copies of it."""

from __future__ import annotations

import hashlib

import api.security
import api.ws.protocol
import clients.python
import clients.python.book
import clients.python.signing
from wire import book, signing, ws


def test_the_canonical_request_is_six_lines():
    body = b'{"price":500}'
    message = signing.canonical_request("1793577600000", "n0nce-123", "post", "/api/v1/orders", "a=1", body)
    expected = f"1793577600000\nn0nce-123\nPOST\n/api/v1/orders\na=1\n{hashlib.sha256(body).hexdigest()}"
    assert message == expected.encode()


def test_the_websocket_challenge_is_the_request_form_of_get_ws():
    assert signing.ws_challenge_message("challenge-1", "1700000000000") == signing.canonical_request(
        "1700000000000", "challenge-1", "GET", "/ws", "", b""
    )


def test_hmac_signatures_are_lower_case_hex_of_sha256_keyed_by_the_secret_digest():
    key = signing.signing_key("secret")
    assert key == hashlib.sha256(b"secret").digest()
    signature = signing.sign(key, b"message")
    assert len(signature) == 64 and signature == signature.lower()
    assert clients.python.signing.HmacSigner("ak_1", "secret").sign(b"message") == signature


def test_the_server_and_the_sdk_share_one_implementation():
    for name in (
        "canonical_request",
        "ws_challenge_message",
        "signing_key",
        "sign",
        "ED25519",
        "HMAC_SHA256",
    ):
        assert getattr(api.security, name) is getattr(signing, name), name
    for name in ("KEY_HEADER", "TIMESTAMP_HEADER", "NONCE_HEADER", "SIGNATURE_HEADER", "ALGORITHMS"):
        assert getattr(api.security, name) == getattr(signing, name), name
    for module in (api.ws.protocol, clients.python.book):
        assert module.book_checksum is book.book_checksum
        assert module.checksum_text is book.checksum_text
        assert module.CHECKSUM_LEVELS == book.CHECKSUM_LEVELS == 10
    assert clients.python.book_checksum is book.book_checksum


def test_the_server_sends_the_websocket_codes_of_the_contract():
    names = [name for name in vars(ws) if name.isupper()]
    assert len(names) >= 19
    for name in names:
        assert getattr(api.ws.protocol, name) == getattr(ws, name), name
