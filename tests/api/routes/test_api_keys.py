"""API keys: created with a session only, the secret shown once, listed without it, revoked."""

from __future__ import annotations

from api import security
from tests.api.routes.support import API, World, assert_error, create_key


def test_create_list_and_revoke(world: World):
    client, alice = world.client, world.alice
    response = client.post(
        f"{API}/api-keys", json={"scopes": ["trade", "read", "read"], "label": "bot"}, headers=alice.headers
    )
    assert response.status_code == 201
    created = response.json()
    assert created["key_id"].startswith("ak_") and created["secret"]
    assert created["algorithm"] == "hmac-sha256" and created["public_key"] is None
    assert (
        created["scopes"] == ["read", "trade"] and created["label"] == "bot" and created["revoked_at"] is None
    )

    listed = client.get(f"{API}/api-keys", headers=alice.headers).json()
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    assert created["secret"] not in client.get(f"{API}/api-keys", headers=alice.headers).text

    revoked = client.delete(f"{API}/api-keys/{created['key_id']}", headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    again = client.delete(f"{API}/api-keys/{created['key_id']}", headers=alice.headers)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (
        client.get(f"{API}/api-keys", headers=alice.headers).json()[0]["revoked_at"]
        == revoked.json()["revoked_at"]
    )


def test_the_server_keeps_the_hmac_key_encrypted(world: World):
    from sqlmodel import Session

    from api.tables import ApiKey

    key = create_key(world.client, world.alice, ["read"])
    with Session(world.client.app.state.db_engine) as session:
        row = session.get(ApiKey, key.key_id)
    assert row is not None and row.account_id == world.alice.account_id
    assert row.algorithm == "hmac-sha256" and row.signing_key_hash is None and row.public_key is None
    hmac_key = security.signing_key(key.secret)
    assert row.secret_ciphertext and row.encryption_key_id
    for stored in (row.secret_ciphertext, row.encryption_key_id):
        assert key.secret not in stored and hmac_key.hex() not in stored
    assert world.client.app.state.api_keys.hmac_key(row) == hmac_key  # the server key opens it


def test_a_key_authenticates_until_revoked(world: World):
    key = create_key(world.client, world.alice, ["read"])
    caller = world.as_(world.alice, key)
    assert caller.get(f"{API}/portfolio/balances").status_code == 200
    assert world.client.delete(f"{API}/api-keys/{key.key_id}", headers=world.alice.headers).status_code == 200
    assert_error(caller.get(f"{API}/portfolio/balances"), 401, "UNAUTHENTICATED")


def test_keys_can_not_mint_or_revoke_keys(world: World):
    key = create_key(world.client, world.alice, ["read", "trade", "transfer"])
    caller = world.as_(world.alice, key)
    assert_error(caller.post(f"{API}/api-keys", {"scopes": ["read"]}), 403, "SESSION_REQUIRED")
    assert_error(caller.delete(f"{API}/api-keys/{key.key_id}"), 403, "SESSION_REQUIRED")
    assert len(world.client.get(f"{API}/api-keys", headers=world.alice.headers).json()) == 1


def test_listing_keys_with_a_key_needs_the_read_scope(world: World):
    trade_only = create_key(world.client, world.alice, ["trade"])
    reader = create_key(world.client, world.alice, ["read"])
    assert_error(world.as_(world.alice, trade_only).get(f"{API}/api-keys"), 403, "SCOPE_REQUIRED")
    assert len(world.as_(world.alice, reader).get(f"{API}/api-keys").json()) == 2


def test_foreign_and_unknown_keys_are_not_found(world: World):
    bobs = create_key(world.client, world.bob, ["read"])
    assert_error(
        world.client.delete(f"{API}/api-keys/{bobs.key_id}", headers=world.alice.headers),
        404,
        "UNKNOWN_API_KEY",
    )
    assert_error(
        world.client.delete(f"{API}/api-keys/ak_ffffffffffffffff", headers=world.alice.headers),
        404,
        "UNKNOWN_API_KEY",
    )
    assert world.as_(world.bob, bobs).get(f"{API}/portfolio/balances").status_code == 200
    assert world.client.get(f"{API}/api-keys", headers=world.alice.headers).json() == []


def test_bad_scopes_are_refused(world: World):
    for body in ({"scopes": []}, {"scopes": ["admin"]}, {}, {"scopes": ["read"], "label": "x" * 101}):
        assert_error(
            world.client.post(f"{API}/api-keys", json=body, headers=world.alice.headers),
            422,
            "VALIDATION_ERROR",
        )
    assert world.client.get(f"{API}/api-keys", headers=world.alice.headers).json() == []
