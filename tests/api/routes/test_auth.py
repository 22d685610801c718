"""Registration, login, logout and /me."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.config import ApiSettings
from tests.api.routes.support import API, World, assert_error, create_key


def register(client: TestClient, username: str, password: str = "password-123", role: str | None = None):
    body = {"username": username, "password": password}
    if role is not None:
        body["role"] = role
    return client.post(f"{API}/auth/register", json=body)


def test_register_then_log_in_and_see_me(client: TestClient):
    response = register(client, "paper-crane", role="supplier")
    assert response.status_code == 201
    account = response.json()
    assert account["username"] == "paper-crane" and account["role"] == "supplier"

    login = client.post(f"{API}/auth/login", json={"username": "paper-crane", "password": "password-123"})
    assert login.status_code == 200
    session = login.json()
    assert session["account_id"] == account["account_id"] and session["role"] == "supplier"

    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "account_id": account["account_id"],
        "username": "paper-crane",
        "role": "supplier",
        "scopes": ["read", "trade", "transfer"],
        "via": "session",
        "key_id": None,
        "kill_switch": False,
    }


def test_register_defaults_to_creator(client: TestClient):
    assert register(client, "inkwell").json()["role"] == "creator"


def test_register_refuses_roles_not_open(client: TestClient, api_settings: ApiSettings):
    for role in ("operator", "index_feed", "wizard"):
        assert_error(register(client, f"user-{role.replace('_', '-')}", role=role), 403, "ROLE_NOT_ALLOWED")
    assert "market_maker" in api_settings.open_registration_roles
    assert register(client, "quoter", role="market_maker").status_code == 201


def test_register_bad_inputs(client: TestClient):
    assert_error(register(client, "No Spaces Allowed"), 422, "INVALID_USERNAME")
    assert_error(register(client, "ab"), 422, "INVALID_USERNAME")
    assert_error(register(client, "shorty", password="short"), 422, "INVALID_PASSWORD")
    assert_error(client.post(f"{API}/auth/register", json={"username": "x"}), 422, "VALIDATION_ERROR")
    assert_error(
        client.post(
            f"{API}/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        422,
        "VALIDATION_ERROR",
    )


def test_register_twice_is_a_conflict_and_creates_nothing(client: TestClient):
    assert register(client, "twin").status_code == 201
    before = client.portal.call(client.app.state.gateway.query, "last_seq")
    assert_error(register(client, "twin"), 409, "USERNAME_TAKEN")
    assert client.portal.call(client.app.state.gateway.query, "last_seq") == before


def test_login_refuses_wrong_password_and_unknown_user_alike(client: TestClient):
    register(client, "guarded")
    wrong = client.post(f"{API}/auth/login", json={"username": "guarded", "password": "not-the-one"})
    unknown = client.post(f"{API}/auth/login", json={"username": "nobody-here", "password": "password-123"})
    assert assert_error(wrong, 401, "INVALID_CREDENTIALS") == assert_error(
        unknown, 401, "INVALID_CREDENTIALS"
    )


def test_logout_ends_the_session(world: World):
    client, alice = world.client, world.alice
    assert client.get(f"{API}/me", headers=alice.headers).status_code == 200
    response = client.post(f"{API}/auth/logout", headers=alice.headers)
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"{API}/me", headers=alice.headers), 401, "UNAUTHENTICATED")
    assert_error(client.post(f"{API}/auth/logout", headers=alice.headers), 401, "UNAUTHENTICATED")


def test_logout_needs_a_session_not_an_api_key(world: World):
    key = create_key(world.client, world.alice, ["read", "trade", "transfer"])
    assert_error(world.as_(world.alice, key).post(f"{API}/auth/logout"), 403, "SESSION_REQUIRED")


def test_me_with_an_api_key_reports_its_scopes(world: World):
    key = create_key(world.client, world.bob, ["trade"])
    me = world.as_(world.bob, key).get(f"{API}/me")
    assert me.status_code == 200
    assert (
        me.json()["scopes"] == ["trade"]
        and me.json()["via"] == "api_key"
        and me.json()["key_id"] == key.key_id
    )


def test_me_without_or_with_bad_credentials(client: TestClient):
    assert_error(client.get(f"{API}/me"), 401, "UNAUTHENTICATED")
    assert_error(client.get(f"{API}/me", headers={"Authorization": "Bearer nope"}), 401, "UNAUTHENTICATED")
    assert_error(
        client.get(f"{API}/me", headers={"X-Capex-Key": "ak_0000000000000000"}), 401, "UNAUTHENTICATED"
    )


def test_me_shows_the_kill_switch(world: World):
    assert (
        world.client.post(
            f"{API}/kill-switch", json={"engaged": True}, headers=world.alice.headers
        ).status_code
        == 200
    )
    assert world.client.get(f"{API}/me", headers=world.alice.headers).json()["kill_switch"] is True
