"""Exercise, decline of auto-exercise, transfers, capacity registration, booking milestones and the
kill switch."""

from __future__ import annotations

from tests.api.routes.support import API, World, assert_error

STRIKE, UNITS = 1200, 10  # the world's capacity option: fen per unit, units per contract


def post(world: World, user, path: str, body=None):
    return world.client.post(f"{API}{path}", json=body, headers=user.headers)


def cash(world: World, user) -> dict:
    return world.client.get(f"{API}/portfolio/balances", headers=user.headers).json()


def position(world: World, user, symbol: str) -> int:
    rows = world.client.get(f"{API}/portfolio/positions", headers=user.headers).json()
    return next((r["position"] for r in rows if r["symbol"] == symbol), 0)


def test_exercise_creates_a_booking_paid_into_escrow(world: World):
    world.holding(world.alice, 3)
    before = cash(world, world.alice)["available"]
    response = post(world, world.alice, "/exercise", {"symbol": world.cap, "quantity": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == world.cap and body["quantity"] == 2 and body["seq"] > 0
    [booking] = body["bookings"]
    assert (
        booking["supplier_id"] == world.supplier.account_id
        and booking["creator_id"] == world.alice.account_id
    )
    assert booking["units"] == 2 * UNITS and booking["escrow_total"] == 2 * UNITS * STRIKE
    assert booking["status"] == "confirmed_pending"
    assert before - cash(world, world.alice)["available"] == booking["escrow_total"]
    assert position(world, world.alice, world.cap) == 1 and position(world, world.supplier, world.cap) == -1


def test_exercise_refusals(world: World):
    mat = world.list_material_call()
    assert_error(
        post(world, world.alice, "/exercise", {"symbol": world.cap, "quantity": 1}), 409, "NOT_EXERCISABLE"
    )
    world.holding(world.alice, 1)
    assert_error(
        post(world, world.alice, "/exercise", {"symbol": world.cap, "quantity": 2}),
        409,
        "INSUFFICIENT_POSITION",
    )
    assert_error(
        post(world, world.alice, "/exercise", {"symbol": mat, "quantity": 1}), 409, "NOT_EXERCISABLE"
    )
    assert_error(
        post(world, world.alice, "/exercise", {"symbol": "CAP-NOTHING", "quantity": 1}),
        404,
        "UNKNOWN_INSTRUMENT",
    )
    assert_error(
        post(world, world.alice, "/exercise", {"symbol": world.cap, "quantity": 0}), 422, "VALIDATION_ERROR"
    )
    assert position(world, world.alice, world.cap) == 1
    assert world.client.get(f"{API}/portfolio/bookings", headers=world.alice.headers).json() == []


def test_decline_auto_exercise(world: World):
    mat = world.list_material_call()
    world.rest(world.bob, "sell", 1000, 1, symbol=mat)  # bob writes the call, locking (cap - strike) * units
    assert world.place(world.alice, "buy", 1000, 1, symbol=mat).json()["status"] == "filled"
    response = post(world, world.alice, "/decline-auto-exercise", {"symbol": mat})
    assert response.status_code == 200
    assert response.json()["symbol"] == mat and response.json()["account_id"] == world.alice.account_id
    assert_error(post(world, world.bob, "/decline-auto-exercise", {"symbol": mat}), 409, "NOT_EXERCISABLE")
    assert_error(
        post(world, world.alice, "/decline-auto-exercise", {"symbol": world.cap}), 409, "NOT_EXERCISABLE"
    )
    assert_error(
        post(world, world.alice, "/decline-auto-exercise", {"symbol": "MAT-NOTHING"}),
        404,
        "UNKNOWN_INSTRUMENT",
    )


def test_transfer_cash_and_positions(world: World):
    sent = post(
        world,
        world.alice,
        "/transfers",
        {"asset": "cash", "to_account_id": world.bob.account_id, "amount": 12_345},
    )
    assert sent.status_code == 201, sent.text
    assert (
        sent.json()["asset"] == "cash" and sent.json()["symbol"] is None and sent.json()["quantity"] == 12_345
    )
    assert cash(world, world.bob)["available"] == 10_000_000 + 12_345
    world.holding(world.alice, 2)
    gift = post(
        world,
        world.alice,
        "/transfers",
        {"asset": "position", "to_username": "bob", "symbol": world.cap, "quantity": 1},
    )
    assert gift.status_code == 201
    assert (gift.json()["asset"], gift.json()["to_account_id"], gift.json()["quantity"]) == (
        "position",
        world.bob.account_id,
        1,
    )
    assert position(world, world.alice, world.cap) == 1 and position(world, world.bob, world.cap) == 1


def test_transfer_refusals_change_nothing(world: World):
    world.holding(world.alice, 1)
    world.rest(world.alice, "sell", 700, 1)  # the long is now reserved by a resting sell
    before = cash(world, world.alice)
    refusals = [
        (
            {"asset": "position", "to_username": "bob", "symbol": world.cap, "quantity": 1},
            409,
            "INSUFFICIENT_POSITION",
        ),
        (
            {"asset": "cash", "to_account_id": world.bob.account_id, "amount": 10**12},
            409,
            "INSUFFICIENT_FUNDS",
        ),
        ({"asset": "cash", "to_username": "nobody-at-all", "amount": 1}, 404, "UNKNOWN_ACCOUNT"),
        ({"asset": "cash", "to_account_id": 999_999, "amount": 1}, 404, "UNKNOWN_ACCOUNT"),
        ({"asset": "cash", "to_account_id": world.alice.account_id, "amount": 1}, 422, "SAME_ACCOUNT"),
        (
            {"asset": "position", "to_username": "bob", "symbol": "CAP-NOTHING", "quantity": 1},
            404,
            "UNKNOWN_INSTRUMENT",
        ),
        (
            {"asset": "cash", "to_account_id": world.bob.account_id, "to_username": "bob", "amount": 1},
            422,
            "VALIDATION_ERROR",
        ),
        ({"asset": "cash", "amount": 1}, 422, "VALIDATION_ERROR"),
        ({"asset": "cash", "to_account_id": world.bob.account_id, "amount": 0}, 422, "VALIDATION_ERROR"),
        ({"asset": "bonds", "to_account_id": world.bob.account_id, "amount": 1}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in refusals:
        assert_error(post(world, world.alice, "/transfers", body), status, code)
    assert cash(world, world.alice) == before and position(world, world.alice, world.cap) == 1
    assert world.client.get(f"{API}/portfolio/transfers", headers=world.alice.headers).json() == []


def test_register_capacity(world: World):
    start, end = world.window(25)
    body = {"process": "sticker-die-cut", "window_start": start, "window_end": end, "units": 300}
    first = post(world, world.supplier, "/capacity", body)
    assert first.status_code == 200
    assert (first.json()["registered"], first.json()["free"], first.json()["supplier_id"]) == (
        300,
        300,
        world.supplier.account_id,
    )
    assert post(world, world.supplier, "/capacity", body).json()["registered"] == 600
    assert_error(post(world, world.alice, "/capacity", body), 403, "NOT_PERMITTED")
    assert_error(
        post(world, world.supplier, "/capacity", {**body, "window_end": start}), 422, "INVALID_FIELD"
    )
    assert_error(post(world, world.supplier, "/capacity", {**body, "units": 0}), 422, "VALIDATION_ERROR")
    assert_error(
        post(world, world.supplier, "/capacity", {**body, "process": "has|pipe"}), 422, "VALIDATION_ERROR"
    )


def exercised_booking(world: World) -> dict:
    world.holding(world.alice, 1)
    return post(world, world.alice, "/exercise", {"symbol": world.cap, "quantity": 1}).json()["bookings"][0]


def test_booking_milestones(world: World):
    booking = exercised_booking(world)
    path = f"/bookings/{booking['booking_id']}/milestones"
    supplier_before = cash(world, world.supplier)["available"]
    assert_error(post(world, world.alice, path, {"milestone": "delivered"}), 409, "BOOKING_STATE")
    assert_error(post(world, world.alice, path, {"milestone": "confirmed"}), 403, "NOT_PERMITTED")
    confirmed = post(world, world.supplier, path, {"milestone": "confirmed"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    released = confirmed.json()["released_to_supplier"]
    assert 0 < released < booking["escrow_total"]
    assert cash(world, world.supplier)["available"] - supplier_before == released
    delivered = post(world, world.alice, path, {"milestone": "delivered"})
    assert delivered.json()["status"] == "delivered"
    assert delivered.json()["released_to_supplier"] == booking["escrow_total"]
    assert_error(post(world, world.alice, path, {"milestone": "delivered"}), 409, "BOOKING_STATE")


def test_booking_milestones_of_others_are_not_found(world: World):
    booking = exercised_booking(world)
    path = f"/bookings/{booking['booking_id']}/milestones"
    assert_error(post(world, world.bob, path, {"milestone": "confirmed"}), 404, "UNKNOWN_BOOKING")
    assert_error(
        post(world, world.bob, "/bookings/99999/milestones", {"milestone": "confirmed"}),
        404,
        "UNKNOWN_BOOKING",
    )
    assert_error(post(world, world.supplier, path, {"milestone": "shipped"}), 422, "VALIDATION_ERROR")
    [row] = world.client.get(f"{API}/portfolio/bookings", headers=world.alice.headers).json()
    assert row["status"] == "confirmed_pending"
    # operators may confirm on a party's behalf
    assert post(world, world.operator, path, {"milestone": "confirmed"}).json()["status"] == "confirmed"


def test_kill_switch(world: World):
    world.rest(world.alice, "buy", 400, 1)
    engaged = post(world, world.alice, "/kill-switch")
    assert engaged.status_code == 200
    assert engaged.json() == {
        "account_id": world.alice.account_id,
        "engaged": True,
        "cancelled": 1,
        "seq": engaged.json()["seq"],
    }
    assert_error(
        post(world, world.bob, "/kill-switch", {"engaged": True, "account_id": world.alice.account_id}),
        403,
        "NOT_PERMITTED",
    )
    reset = post(
        world, world.operator, "/kill-switch", {"engaged": False, "account_id": world.alice.account_id}
    )
    assert reset.json()["engaged"] is False
    assert world.client.get(f"{API}/me", headers=world.alice.headers).json()["kill_switch"] is False
    assert_error(post(world, world.operator, "/kill-switch", {"account_id": 999_999}), 404, "UNKNOWN_ACCOUNT")
