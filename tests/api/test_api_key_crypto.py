"""API keys that a database leak can not use.

- Ed25519 keys: the public key registered (strictly validated), REST requests and the WebSocket
  challenge signed with the private key, wrong signatures refused, the row holds the public key.
- HMAC keys: the HMAC key is stored encrypted with a server key; nothing read from the database
  signs a request; rows under an older server key keep verifying and move to the new one
  (rotation); a lost server key is a 401, never a 500.
- Migration 0004 on SQLite and PostgreSQL: plain digests of 0002 keep verifying, are encrypted at
  the API's start and erased.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command as alembic_command
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import inspect, text
from sqlmodel import Session

from api import security
from api.config import ApiSettings
from api.gateway import now_ms
from api.key_crypto import (
    KEY_FILE_NAME,
    ApiKeyVerifier,
    KeyDecryptionError,
    KeyEncryption,
    load_key_encryption,
    new_encryption_key,
    reseal_rows,
)
from api.main import create_app
from api.tables import ApiKey
from exchange.store.database import make_engine
from exchange.store.journal import alembic_config
from tests.api.conftest import Market
from tests.api.routes.support import (
    API,
    World,
    assert_error,
    build_world,
    create_key,
    fast_passwords,
    signed_headers,
)
from tests.api.ws.conftest import WsClient, run
from tests.exchange.store.conftest import database_url, postgres_schema_url

__all__ = ["database_url", "fast_passwords", "postgres_schema_url"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def world(client: TestClient, market: Market, fast_passwords: None) -> World:
    return build_world(client, market)


def raw(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def ed25519_headers(
    key_id: str,
    private_key: Ed25519PrivateKey,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The four signing headers, signed with Ed25519 (hex of the 64-byte signature)."""
    stamp = str(now_ms() if timestamp is None else timestamp)
    nonce = secrets.token_hex(12)
    message = security.canonical_request(stamp, nonce, method, path, query, body)
    return {
        "X-Capex-Key": key_id,
        "X-Capex-Timestamp": stamp,
        "X-Capex-Nonce": nonce,
        "X-Capex-Signature": private_key.sign(message).hex(),
    }


def register(client: Any, headers: dict[str, str], private_key: Ed25519PrivateKey, scopes=("read", "trade")):
    response = client.post(
        f"{API}/api-keys",
        json={"scopes": list(scopes), "label": "ed", "public_key": raw(private_key)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def refused(response, words: str = "") -> None:
    error = assert_error(response, 401, "UNAUTHENTICATED")
    assert words in error["message"], error


def dump(engine) -> list[dict[str, Any]]:
    """Every api_keys row as read with plain SQL: what a database leak gives."""
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text("SELECT * FROM api_keys"))]


# -- ED25519 ------------------------------------------------------------------------------------


def test_an_ed25519_key_signs_rest_requests(world: World):
    private_key = Ed25519PrivateKey.generate()
    created = register(world.client, world.alice.headers, private_key)
    assert created["algorithm"] == "ed25519" and created["public_key"] == raw(private_key)
    assert created["secret"] is None
    key_id = created["key_id"]

    me = world.client.get(f"{API}/me", headers=ed25519_headers(key_id, private_key, "GET", f"{API}/me"))
    assert me.status_code == 200 and (me.json()["via"], me.json()["key_id"]) == ("api_key", key_id)
    body = (
        f'{{"symbol":"{world.cap}","client_order_id":"ed-1","side":"buy","price":400,"quantity":1}}'
    ).encode()
    placed = world.client.post(
        f"{API}/orders",
        content=body,
        headers={
            **ed25519_headers(key_id, private_key, "POST", f"{API}/orders", "", body),
            "Content-Type": "application/json",
        },
    )
    assert placed.status_code == 201, placed.text
    query = "status=open&limit=5"
    listed = world.client.get(
        f"{API}/orders?{query}", headers=ed25519_headers(key_id, private_key, "GET", f"{API}/orders", query)
    )
    assert [o["client_order_id"] for o in listed.json()] == ["ed-1"]

    keys = world.client.get(f"{API}/api-keys", headers=world.alice.headers).json()
    assert [(k["key_id"], k["algorithm"], k["public_key"]) for k in keys] == [
        (key_id, "ed25519", raw(private_key))
    ]
    (row,) = dump(world.client.app.state.db_engine)
    assert row["algorithm"] == "ed25519" and row["public_key"] == raw(private_key)
    assert row["secret_ciphertext"] is None and row["signing_key_hash"] is None


def test_a_wrong_ed25519_signature_is_refused(world: World):
    private_key = Ed25519PrivateKey.generate()
    key_id = register(world.client, world.alice.headers, private_key)["key_id"]
    path = f"{API}/me"
    other = ed25519_headers(key_id, Ed25519PrivateKey.generate(), "GET", path)
    refused(world.client.get(path, headers=other), "does not match")
    good = ed25519_headers(key_id, private_key, "GET", path)
    flipped = bytearray(bytes.fromhex(good["X-Capex-Signature"]))
    flipped[5] ^= 1
    refused(world.client.get(path, headers={**good, "X-Capex-Signature": flipped.hex()}), "does not match")
    # an HMAC-shaped signature (64 hex) and a signature over another path
    refused(world.client.get(path, headers={**good, "X-Capex-Signature": "00" * 32}), "does not match")
    refused(world.client.get(f"{API}/orders", headers=good), "does not match")
    # the key's public key used as an HMAC key, and a stale signature
    message = security.canonical_request(good["X-Capex-Timestamp"], "n" * 16, "GET", path, "", b"")
    as_hmac = security.sign(private_key.public_key().public_bytes_raw(), message)
    refused(
        world.client.get(path, headers={**good, "X-Capex-Nonce": "n" * 16, "X-Capex-Signature": as_hmac}),
        "does not match",
    )
    stale = ed25519_headers(key_id, private_key, "GET", path, timestamp=now_ms() - 120_000)
    refused(world.client.get(path, headers=stale), "stale")
    # the good one passes once, then is a replay
    assert world.client.get(path, headers=good).status_code == 200
    refused(world.client.get(path, headers=good), "replayed")


def small_order_key() -> str:
    return "01" + "00" * 31  # the neutral element: signatures would verify without a private key


@pytest.mark.parametrize(
    "public_key",
    [
        "",
        "ab" * 31,
        "ab" * 33,
        "zz" * 32,
        " " + "ab" * 31 + "a",
        base64.b64encode(bytes(32)).decode(),  # base64 is not the encoding
        small_order_key(),
        "ec" + "ff" * 30 + "7f",  # order 2
        "ee" + "ff" * 30 + "7f",  # not canonical / not on the curve
        "ff" * 32,
        1234,
        ["ab" * 32],
    ],
    ids=lambda v: repr(v)[:16],
)
def test_a_bad_public_key_is_a_validation_error_naming_the_field(world: World, public_key: Any):
    response = world.client.post(
        f"{API}/api-keys", json={"scopes": ["read"], "public_key": public_key}, headers=world.alice.headers
    )
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "public_key" in error["message"], error
    assert world.client.get(f"{API}/api-keys", headers=world.alice.headers).json() == []


def test_an_upper_case_public_key_is_stored_lower_case(world: World):
    private_key = Ed25519PrivateKey.generate()
    response = world.client.post(
        f"{API}/api-keys",
        json={"scopes": ["read"], "public_key": raw(private_key).upper()},
        headers=world.alice.headers,
    )
    assert response.status_code == 201 and response.json()["public_key"] == raw(private_key)


def test_ed25519_websocket_auth(live_server, live_market):
    user = live_market.user("edmaker", "market_maker")
    private_key = Ed25519PrivateKey.generate()
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        key_id = register(http, user.headers, private_key, scopes=("read",))["key_id"]

    def fields(key: Ed25519PrivateKey, challenge: str) -> dict[str, str]:
        stamp = str(now_ms())
        return {
            "key": key_id,
            "timestamp": stamp,
            "signature": key.sign(security.ws_challenge_message(challenge, stamp)).hex(),
        }

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        challenge = client.welcome["challenge"]
        wrong = await client.error("auth", **fields(Ed25519PrivateKey.generate(), challenge))
        assert wrong["code"] == "UNAUTHENTICATED" and "does not match" in wrong["message"]
        other_challenge = await client.error("auth", **fields(private_key, "0" * 32))
        assert other_challenge["code"] == "UNAUTHENTICATED"
        result = await client.ok("auth", **fields(private_key, challenge))
        assert result == {
            "account_id": user.account_id,
            "role": "market_maker",
            "scopes": ["read"],
            "via": "api_key",
        }
        assert await client.ok("subscribe", channel="balances") == {"channel": "balances", "symbol": None}
        await client.close()

    run(scenario())


# -- HMAC KEYS AT REST ----------------------------------------------------------------------------


def interpretations(value: str) -> list[bytes]:
    """Every way a stored string could be taken as key material."""
    found = [value.encode()]
    try:
        found.append(bytes.fromhex(value))
    except ValueError:
        pass
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            found.append(decode(value + "=" * (-len(value) % 4)))
        except ValueError:
            pass
    return found


def test_a_database_dump_signs_nothing(world: World):
    hmac_key = create_key(world.client, world.alice, ["read", "trade"])
    ed_private = Ed25519PrivateKey.generate()
    ed_key_id = register(world.client, world.alice.headers, ed_private)["key_id"]
    rows = {row["key_id"]: row for row in dump(world.client.app.state.db_engine)}
    assert set(rows) == {hmac_key.key_id, ed_key_id}
    hmac_row = rows[hmac_key.key_id]
    assert hmac_row["algorithm"] == "hmac-sha256" and hmac_row["signing_key_hash"] is None
    the_key = security.signing_key(hmac_key.secret)

    stored = [str(v) for row in rows.values() for v in row.values() if v is not None]
    for value in stored:
        assert hmac_key.secret not in value and the_key.hex() not in value.lower()
        assert the_key not in interpretations(value)
        for padded in (base64.b64encode(the_key).decode(), base64.urlsafe_b64encode(the_key).decode()):
            assert padded.rstrip("=") not in value

    # A forger with the rows: every stored value as the HMAC key, or as the secret, signs nothing.
    path = f"{API}/me"
    for key_id in (hmac_key.key_id, ed_key_id):
        for value in stored:
            for candidate in [*interpretations(value), security.signing_key(value)]:
                stamp, nonce = str(now_ms()), secrets.token_hex(12)
                signature = security.sign(
                    candidate, security.canonical_request(stamp, nonce, "GET", path, "", b"")
                )
                headers = {
                    "X-Capex-Key": key_id,
                    "X-Capex-Timestamp": stamp,
                    "X-Capex-Nonce": nonce,
                    "X-Capex-Signature": signature,
                }
                refused(world.client.get(path, headers=headers), "does not match")
    # ... while the real secret still does
    ok = world.client.get(path, headers=signed_headers(hmac_key.key_id, hmac_key.secret, "GET", path))
    assert ok.status_code == 200

    # Without the server key, the ciphertext does not open: not with another key, not with a
    # random key of the same name.
    with Session(world.client.app.state.db_engine) as session:
        row = session.get(ApiKey, hmac_key.key_id)
    assert row is not None
    for setting in (f"attacker:{new_encryption_key()}", f"{row.encryption_key_id}:{new_encryption_key()}"):
        outsider = ApiKeyVerifier(KeyEncryption.parse(setting))
        with pytest.raises(KeyDecryptionError):
            outsider.hmac_key(row)
        message = security.canonical_request("1", "n" * 8, "GET", path, "", b"")
        assert not outsider.matches(row, message, security.sign(the_key, message))
    # the ciphertext is bound to its row: moved to another key id, it does not open
    moved = ApiKey(**{**row.model_dump(), "key_id": "ak_ffffffffffffffff"})
    with pytest.raises(KeyDecryptionError):
        world.client.app.state.api_keys.hmac_key(moved)


def settings_with(tmp_path: Path, keys: str | None) -> ApiSettings:
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}",
        allowed_origins=["http://testserver"],
        key_encryption_keys=keys,
    )


def me_status(client: TestClient, key_id: str, secret: str) -> int:
    response = client.get(f"{API}/me", headers=signed_headers(key_id, secret, "GET", f"{API}/me"))
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.status_code


def kid_of(client: TestClient, key_id: str) -> str | None:
    with Session(client.app.state.db_engine) as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        return row.encryption_key_id


def test_rotation_of_the_server_key(tmp_path: Path, fast_passwords: None, caplog: pytest.LogCaptureFixture):
    k1, k2, k3 = new_encryption_key(), new_encryption_key(), new_encryption_key()
    with TestClient(create_app(settings_with(tmp_path, f"k1:{k1}"))) as client:
        user = Market(client.app, client.portal.call).user("rotor", cash=1_000)
        old = create_key(client, user, ["read"])
        assert kid_of(client, old.key_id) == "k1" and me_status(client, old.key_id, old.secret) == 200
        with Session(client.app.state.db_engine) as session:
            row_under_k1 = session.get(ApiKey, old.key_id)
        assert row_under_k1 is not None

    # A k1 row verifies with a list that has k1, primary or not, before any re-encryption.
    message = security.canonical_request("1", "n" * 8, "GET", "/", "", b"")
    signature = security.sign(security.signing_key(old.secret), message)
    assert ApiKeyVerifier(KeyEncryption.parse(f"k2:{k2},k1:{k1}")).matches(row_under_k1, message, signature)
    assert not ApiKeyVerifier(KeyEncryption.parse(f"k2:{k2}")).matches(row_under_k1, message, signature)

    # Step 2: k2 first. The start re-encrypts the k1 row under k2; new keys are under k2.
    with TestClient(create_app(settings_with(tmp_path, f"k2:{k2},k1:{k1}"))) as client:
        assert kid_of(client, old.key_id) == "k2" and me_status(client, old.key_id, old.secret) == 200
        new = create_key(client, user, ["read"])
        assert kid_of(client, new.key_id) == "k2"

    # Step 3: k1 dropped.
    with TestClient(create_app(settings_with(tmp_path, f"k2:{k2}"))) as client:
        assert me_status(client, old.key_id, old.secret) == 200
        assert me_status(client, new.key_id, new.secret) == 200

    # A server key lost by mistake: 401 in the one error shape (never a 500), the rows untouched,
    # and the log says why; with the key back, they verify again.
    caplog.clear()
    with TestClient(create_app(settings_with(tmp_path, f"k3:{k3}"))) as client:
        assert me_status(client, old.key_id, old.secret) == 401
        assert kid_of(client, old.key_id) == "k2"
    assert any("under a server key missing" in r.getMessage() for r in caplog.records)
    with TestClient(create_app(settings_with(tmp_path, f"k2:{k2}"))) as client:
        assert me_status(client, old.key_id, old.secret) == 200


def test_a_plain_digest_row_is_encrypted_at_start_and_keeps_working(tmp_path: Path, fast_passwords: None):
    """The rows of migration 0002 hold the HMAC key itself; the start encrypts and erases it."""
    key = new_encryption_key()
    secret = "legacy-secret-of-an-old-sdk-user"
    with TestClient(create_app(settings_with(tmp_path, f"k1:{key}"))) as client:
        user = Market(client.app, client.portal.call).user("legacy", cash=1_000)
        with client.app.state.db_engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO api_keys (key_id, account_id, signing_key_hash, scopes, label, created_at)"
                    " VALUES ('ak_00000000000000aa', :account, :digest, 'read', '', 1)"
                ),
                {"account": user.account_id, "digest": security.signing_key(secret).hex()},
            )
        (row,) = dump(client.app.state.db_engine)
        assert row["algorithm"] == "hmac-sha256" and row["secret_ciphertext"] is None
        # not yet re-encrypted (written by an older worker, say): it still verifies
        assert me_status(client, "ak_00000000000000aa", secret) == 200

    with TestClient(create_app(settings_with(tmp_path, f"k1:{key}"))) as client:
        (row,) = dump(client.app.state.db_engine)
        assert row["signing_key_hash"] is None and row["encryption_key_id"] == "k1"
        assert security.signing_key(secret).hex() not in str(row)
        assert me_status(client, "ak_00000000000000aa", secret) == 200
        assert me_status(client, "ak_00000000000000aa", secret + "x") == 401


# -- THE SETTING AND ITS DEFAULT -----------------------------------------------------------------


def test_the_setting_is_checked_without_repeating_the_key():
    good = new_encryption_key()
    assert ApiSettings(key_encryption_keys=f"a:{good}, b.2:{new_encryption_key()}").key_encryption_keys
    assert KeyEncryption.parse(f'["a:{good}", "b:{new_encryption_key()}"]').primary == "a"
    for bad, words in (
        (f"{good}", "not kid:key"),
        (f"a:{good[:-4]}", "not base64url of 32 bytes"),
        (f"a b:{good}", "not kid:key"),
        (f"a:{good},a:{new_encryption_key()}", "given twice"),
        (f"a:{base64.urlsafe_b64encode(bytes(16)).decode()}", "32 bytes"),
    ):
        with pytest.raises(ValidationError) as error:
            ApiSettings(key_encryption_keys=bad)
        message = error.value.errors()[0]["msg"]
        assert words in message and "API_KEY_ENCRYPTION_KEYS" in message, message
        assert good not in message and good[:-4] not in message


def test_unset_a_key_file_is_generated_once_next_to_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    url = f"sqlite:///{tmp_path / 'data' / 'exchange.db'}"
    first = load_key_encryption(None, url)
    path = tmp_path / "data" / KEY_FILE_NAME
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.primary.startswith("local-") and first.source == str(path)
    assert any("generated" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    again = load_key_encryption(None, url)
    assert again.keys == first.keys
    # the setting wins over the file
    assert load_key_encryption(f"prod:{new_encryption_key()}", url).primary == "prod"


# -- MIGRATION 0004, SQLITE AND POSTGRESQL --------------------------------------------------------


def migrate(engine, revision: str, downgrade: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (alembic_command.downgrade if downgrade else alembic_command.upgrade)(config, revision)


def test_migration_0004_keeps_old_keys_working(database_url: str):
    engine = make_engine(database_url)
    try:
        migrate(engine, "0003")
        secret = "an-0002-secret"
        digest = security.signing_key(secret).hex()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO api_keys (key_id, account_id, signing_key_hash, scopes, label, created_at)"
                    " VALUES ('ak_0000000000000001', 7, :digest, 'read,trade', 'old', 1)"
                ),
                {"digest": digest},
            )
        migrate(engine, "head")
        columns = {c["name"]: c for c in inspect(engine).get_columns("api_keys")}
        assert {"algorithm", "public_key", "secret_ciphertext", "encryption_key_id"} <= set(columns)
        assert columns["signing_key_hash"]["nullable"]
        assert {i["name"] for i in inspect(engine).get_indexes("api_keys")} == {"ix_api_keys_account_id"}
        (row,) = dump(engine)
        assert (row["algorithm"], row["signing_key_hash"], row["label"]) == ("hmac-sha256", digest, "old")

        verifier = ApiKeyVerifier(KeyEncryption.parse(f"k1:{new_encryption_key()}"))
        message = security.canonical_request(str(now_ms()), "n" * 8, "GET", "/api/v1/me", "", b"")
        signature = security.sign(security.signing_key(secret), message)

        def stored() -> ApiKey:
            with Session(engine) as session:
                found = session.get(ApiKey, "ak_0000000000000001")
                assert found is not None
                session.expunge(found)
                return found

        assert verifier.matches(stored(), message, signature)  # before the start re-encrypts it
        assert reseal_rows(engine, verifier) == {"sealed": 1, "rotated": 0, "unreadable": 0}
        assert reseal_rows(engine, verifier) == {"sealed": 0, "rotated": 0, "unreadable": 0}
        (row,) = dump(engine)
        assert row["signing_key_hash"] is None and row["encryption_key_id"] == "k1"
        assert digest not in str(row)
        assert verifier.matches(stored(), message, signature)
        assert not verifier.matches(stored(), message, security.sign(b"x" * 32, message))

        # new rows of both kinds fit the columns
        ed_key = raw(Ed25519PrivateKey.generate())
        with Session(engine) as session:
            session.add(
                ApiKey(
                    key_id="ak_0000000000000002",
                    account_id=7,
                    algorithm="ed25519",
                    public_key=ed_key,
                    scopes="read",
                    created_at=2,
                )
            )
            session.commit()
        # downgrade: only rows with a plain digest could work under 0003's code
        migrate(engine, "0003", downgrade=True)
        assert "algorithm" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
        assert dump(engine) == []
        migrate(engine, "head")
        assert dump(engine) == []
    finally:
        engine.dispose()


# -- THE ED25519 EXAMPLE OF docs/api.md ------------------------------------------------------------


def docs_ed25519_example() -> dict:
    block = re.search(r"<!-- signing-example-ed25519 -->\s*```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert block, "docs/api.md has no Ed25519 signing example"
    namespace: dict = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)
    return namespace


def test_the_documented_ed25519_functions_sign_requests_the_server_accepts(world: World):
    example = docs_ed25519_example()
    private_key, public_key = example["new_key_pair"]()
    key_id = world.client.post(
        f"{API}/api-keys",
        json={"scopes": ["read", "trade"], "public_key": public_key},
        headers=world.alice.headers,
    ).json()["key_id"]
    signed = example["ed25519_signed_headers"]
    body = json.dumps(
        {"symbol": world.cap, "client_order_id": "docs-ed", "side": "buy", "price": 400, "quantity": 1},
        separators=(",", ":"),
    ).encode()
    placed = world.client.post(
        f"{API}/orders",
        content=body,
        headers={
            **signed(key_id, private_key, "POST", f"{API}/orders", "", body),
            "Content-Type": "application/json",
        },
    )
    assert placed.status_code == 201, placed.text
    query = "status=open&limit=50"
    listed = world.client.get(
        f"{API}/orders?{query}", headers=signed(key_id, private_key, "GET", f"{API}/orders", query)
    )
    assert [o["client_order_id"] for o in listed.json()] == ["docs-ed"]


def test_the_documented_ed25519_values_are_right():
    text_ = DOCS.read_text()
    seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    timestamp, nonce = "1793577600000", "8f14e45fceea167a5a36dedd4bea2543"
    body = (
        b'{"symbol":"CAP-NOTEBOOK-A5-PRINT-2026W45-K1200","client_order_id":"bot-000001",'
        b'"side":"buy","price":500,"quantity":2}'
    )
    post = private_key.sign(security.canonical_request(timestamp, nonce, "POST", "/api/v1/orders", "", body))
    get = private_key.sign(
        security.canonical_request(timestamp, nonce, "GET", "/api/v1/orders", "status=open&limit=50", b"")
    )
    for value in (seed, raw(private_key), post.hex(), get.hex()):
        assert f"`{value}`" in text_
    assert security.parse_ed25519_public_key(raw(private_key))
