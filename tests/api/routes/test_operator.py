"""Operator routes: expiry, index prices, deposits, withdrawals, supplier default, audit."""

from __future__ import annotations

import time

from api.gateway import now_ms
from tests.api.conftest import DAY
from tests.api.routes.support import API, World, assert_error

OPERATOR_ROUTES = [
    ("POST", "/operator/expiry", None),
    ("POST", "/operator/index-prices", {"index": "INK", "price": 1}),
    ("POST", "/operator/deposits", {"account_id": 1, "amount": 1}),
    ("POST", "/operator/withdrawals", {"account_id": 1, "amount": 1}),
    ("POST", "/operator/bookings/1/default", None),
    ("GET", "/operator/audit", None),
]


def op(world: World, path: str, body=None):
    return world.client.post(f"{API}{path}", json=body, headers=world.operator.headers)


def total(world: World, user) -> int:
    return world.client.get(f"{API}/portfolio/balances", headers=user.headers).json()["total"]


def test_operator_routes_refuse_everyone_else(world: World):
    seq = world.client.portal.call(world.client.app.state.gateway.query, "last_seq")
    for user in (world.alice, world.supplier):
        for method, path, body in OPERATOR_ROUTES:
            response = world.client.request(method, f"{API}{path}", json=body, headers=user.headers)
            assert_error(response, 403, "NOT_PERMITTED")
    for method, path, body in OPERATOR_ROUTES:
        assert_error(world.client.request(method, f"{API}{path}", json=body), 401, "UNAUTHENTICATED")
    assert world.client.portal.call(world.client.app.state.gateway.query, "last_seq") == seq


def test_expiry_settles_a_material_call_once(world: World):
    expiry = now_ms() + 1_500
    body = {
        "terms": {
            "kind": "MAT",
            "material": "special-paper",
            "index": "PAPER-X",
            "strike": 8000,
            "cap": 9600,
            "units_per_contract": 10,
            "settlement_window_start": now_ms() - DAY,
        },
        "tick": 10,
        "lot": 1,
        "min_price": 0,
        "max_price": 16_000,
        "expiry": expiry,
    }
    # an index is known once it has a price: publish before listing a call on it
    assert op(world, "/operator/index-prices", {"index": "PAPER-X", "price": 8000}).status_code == 201
    listed = op(world, "/instruments", body)
    assert listed.status_code == 201, listed.text
    mat = listed.json()["symbol"]
    assert op(world, "/operator/index-prices", {"index": "PAPER-X", "price": 9000}).status_code == 201
    world.rest(world.bob, "sell", 10_000, 2, symbol=mat)
    assert world.place(world.alice, "buy", 10_000, 2, symbol=mat).json()["status"] == "filled"
    # and a capacity option whose exercise deadline is the same moment
    window = expiry + DAY
    cap_body = {
        "terms": {
            "kind": "CAP",
            "process": "pen-line",
            "window_start": window,
            "window_end": window + DAY,
            "strike": 100,
            "units_per_contract": 10,
            "exercise_deadline": expiry,
        },
        "tick": 1,
        "lot": 1,
        "min_price": 1,
        "max_price": 10_000,
    }
    cap = op(world, "/instruments", cap_body).json()["symbol"]
    capacity = {"process": "pen-line", "window_start": window, "window_end": window + DAY, "units": 100}
    assert (
        world.client.post(f"{API}/capacity", json=capacity, headers=world.supplier.headers).status_code == 200
    )
    world.rest(world.supplier, "sell", 300, 1, symbol=cap)
    assert world.place(world.alice, "buy", 300, 1, symbol=cap).json()["status"] == "filled"
    alice_before, bob_before = total(world, world.alice), total(world, world.bob)

    time.sleep(max(0.0, (expiry - now_ms()) / 1000) + 0.05)
    exercise = {"symbol": cap, "quantity": 1}
    late = world.client.post(f"{API}/exercise", json=exercise, headers=world.alice.headers)
    assert_error(late, 409, "PAST_DEADLINE")
    assert_error(world.place(world.alice, "buy", 10_000, 1, symbol=mat), 409, "INSTRUMENT_NOT_TRADING")
    ran = op(world, "/operator/expiry")
    assert ran.status_code == 200, ran.text
    assert sorted(ran.json()["expired"]) == sorted([mat, cap]) and ran.json()["ran_at"] >= expiry
    assert world.client.get(f"{API}/instruments/{cap}").json()["status"] == "settled"
    settled = world.client.get(f"{API}/instruments/{mat}").json()
    assert settled["status"] == "settled"
    settlement = world.client.get(f"{API}/instruments/{mat}/settlement").json()
    assert settlement["final"] is True and settlement["price"] == settled["settlement_price"]
    price = settlement["price"]
    assert 8000 <= price <= 9000
    payoff = min(price - 8000, 9600 - 8000) * 10 * 2 if price - 8000 >= 10 else 0
    assert total(world, world.alice) - alice_before == payoff
    assert bob_before - total(world, world.bob) == payoff

    again = op(world, "/operator/expiry")
    assert again.json()["expired"] == [] and total(world, world.alice) - alice_before == payoff
    assert world.client.get(f"{API}/operator/audit", headers=world.operator.headers).json()["ok"] is True


def test_index_prices(world: World):
    published = op(world, "/operator/index-prices", {"index": "INK-CYAN", "price": 4200})
    assert published.status_code == 201
    assert published.json()["index"] == "INK-CYAN" and published.json()["price"] == 4200
    assert abs(published.json()["published_at"] - now_ms()) < 60_000
    for body in (
        {"index": "INK-CYAN", "price": -1},
        {"index": "bad name", "price": 1},
        {"index": "", "price": 1},
        {"price": 1},
    ):
        assert_error(op(world, "/operator/index-prices", body), 422, "VALIDATION_ERROR")
    assert len(world.client.get(f"{API}/index-prices/INK-CYAN").json()["prices"]) == 1


def test_an_index_price_beyond_the_band_needs_confirm_large_move(world: World):
    # the first price of an index has no band
    assert op(world, "/operator/index-prices", {"index": "INK-BAND", "price": 9_000}).status_code == 201
    (summary,) = [i for i in world.client.get(f"{API}/index-prices").json() if i["index"] == "INK-BAND"]
    assert (summary["band_percent"], summary["band_low"], summary["band_high"]) == (20, 7_200, 10_800)
    seq = world.client.portal.call(world.client.app.state.gateway.query, "last_seq")
    refused = op(world, "/operator/index-prices", {"index": "INK-BAND", "price": 900_000})
    error = assert_error(refused, 409, "INDEX_PRICE_BAND")
    assert error["message"] == (
        "index price ¥9,000.00 of INK-BAND moves 9,900% from the last ¥90.00 (band ±20%: ¥72.00 – ¥108.00); "
        "send confirm_large_move=true if intended"
    )
    # refused: journaled (a seq), nothing published
    assert world.client.portal.call(world.client.app.state.gateway.query, "last_seq") == seq + 1
    assert [p["price"] for p in world.client.get(f"{API}/index-prices/INK-BAND").json()["prices"]] == [9_000]
    confirmed = op(
        world, "/operator/index-prices", {"index": "INK-BAND", "price": 900_000, "confirm_large_move": True}
    )
    assert confirmed.status_code == 201 and confirmed.json()["price"] == 900_000
    (summary,) = [i for i in world.client.get(f"{API}/index-prices").json() if i["index"] == "INK-BAND"]
    assert (summary["price"], summary["band_low"], summary["band_high"]) == (900_000, 720_000, 1_080_000)
    body = {"index": "INK-BAND", "price": 1, "confirm_large_move": "perhaps"}
    assert_error(op(world, "/operator/index-prices", body), 422, "VALIDATION_ERROR")
    assert world.client.get(f"{API}/operator/audit", headers=world.operator.headers).json()["ok"] is True


def test_a_material_call_on_an_unknown_index_is_refused(world: World):
    body = {
        "terms": {
            "kind": "MAT",
            "material": "special-black-ink",
            "index": "NO-SUCH-INDEX",
            "strike": 8000,
            "cap": 9600,
            "units_per_contract": 10,
            "settlement_window_start": now_ms() + DAY,
        },
        "tick": 10,
        "lot": 1,
        "min_price": 0,
        "max_price": 16_000,
        "expiry": now_ms() + 30 * DAY,
    }
    error = assert_error(op(world, "/instruments", body), 422, "UNKNOWN_INDEX")
    assert error["message"].startswith("index 'NO-SUCH-INDEX' is unknown: no price has been published")
    assert world.client.get(f"{API}/instruments", params={"index": "NO-SUCH-INDEX"}).json() == []
    assert op(world, "/operator/index-prices", {"index": "NO-SUCH-INDEX", "price": 8_000}).status_code == 201
    assert op(world, "/instruments", body).status_code == 201


def test_capacity_for_a_window_that_has_ended_is_refused(world: World):
    day = now_ms() // DAY * DAY  # 00:00 UTC today: a window that ended at midnight
    body = {"process": "sticker-die-cut", "window_start": day - 7 * DAY, "window_end": day, "units": 300}
    response = world.client.post(f"{API}/capacity", json=body, headers=world.supplier.headers)
    error = assert_error(response, 422, "INVALID_FIELD")
    date = time.strftime("%Y-%m-%d 00:00 UTC", time.gmtime(day / 1000))
    assert error["message"].startswith(f"window_end {date} is not after the exchange's time ")
    assert error["message"].endswith("the window has ended")
    capacity = world.client.get(f"{API}/portfolio/capacity", headers=world.supplier.headers).json()
    assert [c for c in capacity if c["process"] == "sticker-die-cut"] == []


def test_deposits_and_withdrawals(world: World):
    deposit = op(world, "/operator/deposits", {"account_id": world.alice.account_id, "amount": 5_000})
    assert deposit.status_code == 200
    assert (
        deposit.json()["available"] == 10_005_000 and deposit.json()["account_id"] == world.alice.account_id
    )
    withdrawal = op(world, "/operator/withdrawals", {"account_id": world.alice.account_id, "amount": 5})
    assert withdrawal.json()["available"] == 10_004_995 and withdrawal.json()["seq"] > deposit.json()["seq"]
    assert_error(
        op(world, "/operator/withdrawals", {"account_id": world.alice.account_id, "amount": 10**12}),
        409,
        "INSUFFICIENT_FUNDS",
    )
    assert_error(
        op(world, "/operator/deposits", {"account_id": 999_999, "amount": 1}), 404, "UNKNOWN_ACCOUNT"
    )
    for body in (
        {"account_id": world.alice.account_id, "amount": 0},
        {"account_id": 0, "amount": 1},
        {"account_id": world.alice.account_id, "amount": 10**16},
    ):
        assert_error(op(world, "/operator/deposits", body), 422, "VALIDATION_ERROR")
    assert total(world, world.alice) == 10_004_995


def test_supplier_default_refunds_the_escrow(world: World):
    world.holding(world.alice, 1)
    booking = world.client.post(
        f"{API}/exercise", json={"symbol": world.cap, "quantity": 1}, headers=world.alice.headers
    ).json()["bookings"][0]
    before = total(world, world.alice)
    response = op(world, f"/operator/bookings/{booking['booking_id']}/default")
    assert response.status_code == 200
    assert (
        response.json()["status"] == "defaulted"
        and response.json()["refunded_to_creator"] == booking["escrow_total"]
    )
    assert total(world, world.alice) - before == booking["escrow_total"]
    assert_error(op(world, f"/operator/bookings/{booking['booking_id']}/default"), 409, "BOOKING_STATE")
    assert_error(op(world, "/operator/bookings/424242/default"), 404, "UNKNOWN_BOOKING")


def test_audit_reports_no_breach(world: World):
    world.holding(world.alice, 2)
    audit = world.client.get(f"{API}/operator/audit", headers=world.operator.headers)
    assert audit.status_code == 200
    body = audit.json()
    assert body["ok"] is True and body["sequencer_breaches"] == [] and body["projection_breaches"] == []
    assert body["journal_seq"] == world.client.portal.call(world.client.app.state.gateway.query, "last_seq")
    assert sum(body["system_balances"].values()) < 0  # external holds minus what users and fees hold
