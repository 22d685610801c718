"""`POST /operator/accounts`: operators create accounts of any role, operators and index feeds
included (registration stays closed to them)."""

from __future__ import annotations

import pytest

from tests.api.routes.support import API, World, assert_error, create_key

PATH = f"{API}/operator/accounts"


def login(world: World, username: str, password: str = "password-123") -> dict:
    response = world.client.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("role", ["operator", "index_feed", "creator", "supplier", "market_maker"])
def test_an_operator_creates_an_account_of_any_role(world: World, role: str):
    username = f"made-{role.replace('_', '-')}"
    response = world.client.post(
        PATH,
        json={"username": username, "password": "password-123", "role": role},
        headers=world.operator.headers,
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["username"] == username and account["role"] == role
    session = login(world, username)
    assert session["account_id"] == account["account_id"] and session["role"] == role


def test_the_new_index_feed_publishes_and_the_new_operator_creates_accounts(world: World):
    for username, role in (("feed-1", "index_feed"), ("operator-2", "operator")):
        body = {"username": username, "password": "password-123", "role": role}
        assert world.client.post(PATH, json=body, headers=world.operator.headers).status_code == 201
    feed = {"Authorization": f"Bearer {login(world, 'feed-1')['token']}"}
    published = world.client.post(
        f"{API}/operator/index-prices", json={"index": "INK-BLACK-SPECIAL", "price": 8450}, headers=feed
    )
    assert published.status_code == 201, published.text
    second = {"Authorization": f"Bearer {login(world, 'operator-2')['token']}"}
    body = {"username": "feed-2", "password": "password-123", "role": "index_feed"}
    assert world.client.post(PATH, json=body, headers=second).status_code == 201
    # an index feed is no operator
    body = {"username": "feed-3", "password": "password-123", "role": "index_feed"}
    assert_error(world.client.post(PATH, json=body, headers=feed), 403, "NOT_PERMITTED")


def test_only_operators_with_the_trade_scope(world: World):
    body = {"username": "sneaky-op", "password": "password-123", "role": "operator"}
    assert_error(world.client.post(PATH, json=body, headers=world.alice.headers), 403, "NOT_PERMITTED")
    assert_error(world.client.post(PATH, json=body), 401, "UNAUTHENTICATED")
    read_key = create_key(world.client, world.operator, ["read"])
    assert_error(world.as_(world.operator, read_key).post(PATH, body), 403, "SCOPE_REQUIRED")
    trade_key = create_key(world.client, world.operator, ["trade"])
    assert world.as_(world.operator, trade_key).post(PATH, body).status_code == 201
    assert_error(world.client.post(PATH, json=body, headers=world.operator.headers), 409, "USERNAME_TAKEN")


@pytest.mark.parametrize(
    "body, code",
    [
        ({"username": "ok-name", "password": "password-123"}, "VALIDATION_ERROR"),  # role is required
        ({"username": "ok-name", "password": "password-123", "role": "admin"}, "VALIDATION_ERROR"),
        ({"username": 12345, "password": "password-123", "role": "creator"}, "VALIDATION_ERROR"),
        ({"username": "ok-name", "password": 12345678, "role": "creator"}, "VALIDATION_ERROR"),
        ({"username": "ok-name", "password": "password-123", "role": ["operator"]}, "VALIDATION_ERROR"),
        ({"username": "ok-name", "password": "password-123", "role": "creator", "x": 1}, "VALIDATION_ERROR"),
        ({"username": "a" * 65, "password": "password-123", "role": "creator"}, "VALIDATION_ERROR"),
        ({"username": "ok-name", "password": "p" * 1025, "role": "creator"}, "VALIDATION_ERROR"),
        ({"username": "No Spaces", "password": "password-123", "role": "creator"}, "INVALID_USERNAME"),
        ({"username": "ok-name", "password": "short", "role": "creator"}, "INVALID_PASSWORD"),
    ],
)
def test_strict_and_bounded_input(world: World, body: dict, code: str):
    assert_error(world.client.post(PATH, json=body, headers=world.operator.headers), 422, code)
