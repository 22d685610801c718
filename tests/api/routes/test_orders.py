"""Orders: place (every type and self-trade mode), idempotent retries, cancel, amend, cancel all,
list and read your own; every refusal changes nothing."""

from __future__ import annotations

from exchange.config import ExchangeConfig
from tests.api.conftest import DAY
from tests.api.routes.support import API, World, assert_error

FEE_LOCK = ExchangeConfig().fee_lock  # fen per contract a resting order locks for fees


def balances(world: World, user) -> dict:
    return world.client.get(f"{API}/portfolio/balances", headers=user.headers).json()


def order(world: World, user, order_id: int) -> dict:
    response = world.client.get(f"{API}/orders/{order_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_limit_buy_rests_and_locks_its_premium(world: World):
    before = balances(world, world.alice)
    response = world.place(world.alice, "buy", 400, 3, client_order_id="first-buy")
    assert response.status_code == 201
    placed = response.json()
    assert placed["client_order_id"] == "first-buy" and placed["account_id"] == world.alice.account_id
    assert (placed["side"], placed["order_type"], placed["price"], placed["quantity"]) == (
        "buy",
        "limit",
        400,
        3,
    )
    assert (placed["open_quantity"], placed["filled_quantity"], placed["status"]) == (3, 0, "open")
    assert placed["seq"] > 0 and placed["cancel_reason"] is None
    after = balances(world, world.alice)
    assert after["locked"] - before["locked"] == (400 + FEE_LOCK) * 3
    assert after["total"] == before["total"]
    assert {k: v for k, v in placed.items() if k != "seq"} == order(world, world.alice, placed["order_id"])


def test_a_retry_returns_the_first_result_and_does_nothing_twice(world: World):
    first = world.place(world.alice, "buy", 400, 2, client_order_id="retry-me")
    locked = balances(world, world.alice)["locked"]
    again = world.place(world.alice, "buy", 400, 2, client_order_id="retry-me")
    assert again.status_code == 201 and again.json() == first.json()
    assert balances(world, world.alice)["locked"] == locked
    assert len(world.client.get(f"{API}/orders", headers=world.alice.headers).json()) == 1


def test_a_refused_order_stays_refused_on_retry(world: World):
    for _ in range(2):
        assert_error(
            world.place(world.alice, "sell", 400, 1, client_order_id="naked-sell"),
            409,
            "INSUFFICIENT_POSITION",
        )


def test_the_same_client_order_id_for_another_order_is_a_conflict(world: World):
    world.place(world.alice, "buy", 400, 2, client_order_id="taken-id")
    locked = balances(world, world.alice)["locked"]
    assert_error(
        world.place(world.alice, "buy", 401, 2, client_order_id="taken-id"), 409, "DUPLICATE_CLIENT_ORDER_ID"
    )
    assert balances(world, world.alice)["locked"] == locked
    # another account may use the same id
    assert world.place(world.bob, "buy", 401, 2, client_order_id="taken-id").status_code == 201


def test_order_types(world: World):
    world.rest(world.supplier, "sell", 500, 2)
    ioc = world.place(world.alice, "buy", 500, 3, order_type="ioc").json()
    assert (ioc["filled_quantity"], ioc["open_quantity"], ioc["status"]) == (2, 0, "cancelled")
    world.rest(world.supplier, "sell", 500, 2)
    fok = world.place(world.alice, "buy", 500, 3, order_type="fok").json()
    assert (fok["filled_quantity"], fok["status"]) == (0, "cancelled")
    assert_error(world.place(world.alice, "buy", 500, 1, order_type="post_only"), 422, "MATCHING_WOULD_CROSS")
    post = world.place(world.alice, "buy", 499, 1, order_type="post_only").json()
    assert post["status"] == "open" and post["order_type"] == "post_only"
    market = world.place(world.bob, "buy", 520, 1, order_type="market").json()
    assert (market["filled_quantity"], market["status"]) == (1, "filled")
    trades = world.client.get(f"{API}/portfolio/trades", headers=world.bob.headers).json()
    assert [(t["price"], t["quantity"]) for t in trades] == [(500, 1)]


def test_self_trade_prevention_modes(world: World):
    supplier = world.supplier
    world.holding(world.alice, 1)  # a trade, so the supplier holds a short and has a last price
    resting = world.rest(supplier, "buy", 480, 1)
    newest = world.place(supplier, "sell", 480, 1, stp="cancel_newest").json()
    assert newest["status"] == "cancelled" and order(world, supplier, resting["order_id"])["status"] == "open"
    oldest = world.place(supplier, "sell", 480, 1, stp="cancel_oldest").json()
    assert oldest["status"] == "open" and order(world, supplier, resting["order_id"])["status"] == "cancelled"
    buy = world.place(supplier, "buy", 480, 1, stp="cancel_both").json()
    assert (
        buy["status"] == "cancelled" and order(world, supplier, oldest["order_id"])["status"] == "cancelled"
    )
    world.rest(supplier, "buy", 470, 1)
    crossed = world.place(supplier, "sell", 470, 1, stp="none").json()
    assert crossed["status"] == "filled"


def test_refusals_change_nothing(world: World):
    mat = world.list_material_call()
    before = balances(world, world.alice)
    assert_error(world.place(world.alice, "buy", 400, 10**9), 409, "INSUFFICIENT_FUNDS")
    assert_error(world.place(world.alice, "buy", 15, 1, symbol=mat), 422, "MATCHING_PRICE_OFF_TICK")
    assert_error(world.place(world.alice, "buy", 1_000_001, 1), 422, "MATCHING_PRICE_OUT_OF_BAND")
    assert_error(world.place(world.alice, "buy", 400, 1, symbol="CAP-NOTHING"), 404, "UNKNOWN_INSTRUMENT")
    assert_error(world.place(world.operator, "buy", 400, 1), 403, "NOT_PERMITTED")
    for bad in (
        {"quantity": 0},
        {"side": "hold"},
        {"order_type": "stop"},
        {"stp": "maybe"},
        {"client_order_id": "has space"},
        {"client_order_id": ""},
        {"price": 10**16},
    ):
        body = {
            "symbol": world.cap,
            "client_order_id": "shape",
            "side": "buy",
            "price": 400,
            "quantity": 1,
            **bad,
        }
        assert_error(
            world.client.post(f"{API}/orders", json=body, headers=world.alice.headers),
            422,
            "VALIDATION_ERROR",
        )
    assert_error(world.client.post(f"{API}/orders", json={"symbol": world.cap}), 401, "UNAUTHENTICATED")
    assert balances(world, world.alice) == before
    assert world.client.get(f"{API}/orders?status=all", headers=world.alice.headers).json() == []


def test_risk_and_matching_refusals(world: World):
    start, end = world.window()
    body = {
        "terms": {
            "kind": "CAP",
            "process": "pen-line",
            "window_start": start,
            "window_end": end,
            "strike": 90,
            "units_per_contract": 10,
            "exercise_deadline": start - DAY,
        },
        "tick": 1,
        "lot": 5,
        "min_price": 1,
        "max_price": 10**15,
    }
    listed = world.client.post(f"{API}/instruments", json=body, headers=world.operator.headers)
    assert listed.status_code == 201, listed.text
    pens = listed.json()["symbol"]
    assert_error(world.place(world.alice, "buy", 100, 3, symbol=pens), 422, "MATCHING_QUANTITY_OFF_LOT")
    assert_error(
        world.place(world.alice, "buy", 10**15, 10**4, symbol=pens), 422, "MATCHING_NOTIONAL_OVERFLOW"
    )
    # the supplier registered no pen-line capacity for this window: it can not write the option
    assert_error(world.place(world.supplier, "sell", 100, 5, symbol=pens), 409, "INSUFFICIENT_CAPACITY")
    world.holding(world.alice, 1, price=500)  # a last trade price: the fat-finger band's reference
    assert_error(world.place(world.bob, "buy", 100, 1), 409, "FAT_FINGER")
    assert world.client.get(f"{API}/orders?status=all", headers=world.bob.headers).json() == []


def test_kill_switch_refuses_new_orders(world: World):
    resting = world.rest(world.alice, "buy", 400, 1)
    engaged = world.client.post(f"{API}/kill-switch", json={"engaged": True}, headers=world.alice.headers)
    assert engaged.json()["cancelled"] == 1
    assert order(world, world.alice, resting["order_id"])["status"] == "cancelled"
    assert_error(world.place(world.alice, "buy", 400, 1), 409, "KILL_SWITCH_ENGAGED")
    world.client.post(f"{API}/kill-switch", json={"engaged": False}, headers=world.alice.headers)
    assert world.place(world.alice, "buy", 400, 1).status_code == 201


def test_cancel(world: World):
    placed = world.rest(world.alice, "buy", 400, 2)
    before = balances(world, world.alice)
    cancelled = world.client.delete(f"{API}/orders/{placed['order_id']}", headers=world.alice.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["open_quantity"] == 0
    after = balances(world, world.alice)
    assert before["locked"] - after["locked"] == (400 + FEE_LOCK) * 2
    assert_error(
        world.client.delete(f"{API}/orders/{placed['order_id']}", headers=world.alice.headers),
        404,
        "UNKNOWN_ORDER",
    )


def test_cancel_of_foreign_or_unknown_orders_is_not_found(world: World):
    placed = world.rest(world.alice, "buy", 400, 2)
    foreign = world.client.delete(f"{API}/orders/{placed['order_id']}", headers=world.bob.headers)
    unknown = world.client.delete(f"{API}/orders/999999", headers=world.bob.headers)
    assert_error(foreign, 404, "UNKNOWN_ORDER")
    assert_error(unknown, 404, "UNKNOWN_ORDER")
    assert order(world, world.alice, placed["order_id"])["status"] == "open"
    assert_error(world.client.delete(f"{API}/orders/0", headers=world.bob.headers), 422, "VALIDATION_ERROR")
    assert_error(world.client.delete(f"{API}/orders/abc", headers=world.bob.headers), 422, "VALIDATION_ERROR")


def test_operators_cancel_any_order(world: World):
    placed = world.rest(world.alice, "buy", 400, 2)
    response = world.client.delete(f"{API}/orders/{placed['order_id']}", headers=world.operator.headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_amend(world: World):
    placed = world.rest(world.alice, "buy", 400, 3)
    before = balances(world, world.alice)
    amended = world.client.patch(
        f"{API}/orders/{placed['order_id']}", json={"price": 410, "quantity": 2}, headers=world.alice.headers
    )
    assert amended.status_code == 200
    assert (amended.json()["price"], amended.json()["open_quantity"], amended.json()["status"]) == (
        410,
        2,
        "open",
    )
    after = balances(world, world.alice)
    assert before["locked"] - after["locked"] == (400 + FEE_LOCK) * 3 - (410 + FEE_LOCK) * 2
    book = world.client.get(f"{API}/instruments/{world.cap}/book").json()
    assert book["bids"] == [{"price": 410, "quantity": 2, "order_count": 1}]


def test_amend_refusals(world: World):
    placed = world.rest(world.alice, "buy", 400, 3)
    path = f"{API}/orders/{placed['order_id']}"
    assert_error(
        world.client.patch(path, json={"price": 410, "quantity": 2}, headers=world.bob.headers),
        404,
        "UNKNOWN_ORDER",
    )
    assert_error(
        world.client.patch(path, json={"price": 410, "quantity": 2}, headers=world.operator.headers),
        404,
        "UNKNOWN_ORDER",
    )
    assert_error(
        world.client.patch(path, json={"price": 400, "quantity": 10**9}, headers=world.alice.headers),
        409,
        "INSUFFICIENT_FUNDS",
    )
    assert_error(
        world.client.patch(path, json={"price": 400, "quantity": 0}, headers=world.alice.headers),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        world.client.patch(path, json={"price": 400}, headers=world.alice.headers), 422, "VALIDATION_ERROR"
    )
    assert order(world, world.alice, placed["order_id"])["price"] == 400
    assert order(world, world.alice, placed["order_id"])["open_quantity"] == 3


def test_cancel_all(world: World):
    mat = world.list_material_call()
    world.rest(world.alice, "buy", 400, 1)
    world.rest(world.alice, "buy", 390, 1)
    world.rest(world.alice, "buy", 100, 1, symbol=mat)
    bobs = world.rest(world.bob, "buy", 400, 1)
    only_mat = world.client.post(
        f"{API}/orders/cancel-all", json={"symbol": mat}, headers=world.alice.headers
    )
    assert only_mat.status_code == 200 and only_mat.json()["cancelled"] == 1
    everything = world.client.post(f"{API}/orders/cancel-all", headers=world.alice.headers)
    assert everything.json() == {
        "account_id": world.alice.account_id,
        "cancelled": 2,
        "seq": everything.json()["seq"],
    }
    assert world.client.get(f"{API}/orders?status=open", headers=world.alice.headers).json() == []
    assert order(world, world.bob, bobs["order_id"])["status"] == "open"


def test_cancel_all_of_another_account(world: World):
    bobs = world.rest(world.bob, "buy", 400, 1)
    assert_error(
        world.client.post(
            f"{API}/orders/cancel-all", json={"account_id": world.bob.account_id}, headers=world.alice.headers
        ),
        403,
        "NOT_PERMITTED",
    )
    assert order(world, world.bob, bobs["order_id"])["status"] == "open"
    by_operator = world.client.post(
        f"{API}/orders/cancel-all", json={"account_id": world.bob.account_id}, headers=world.operator.headers
    )
    assert by_operator.json()["cancelled"] == 1
    assert_error(
        world.client.post(
            f"{API}/orders/cancel-all", json={"symbol": "CAP-NOTHING"}, headers=world.bob.headers
        ),
        404,
        "UNKNOWN_INSTRUMENT",
    )


def test_list_orders_by_status_symbol_and_client_id(world: World):
    first = world.rest(world.alice, "buy", 400, 1)
    second = world.rest(world.alice, "buy", 401, 1)
    world.client.delete(f"{API}/orders/{first['order_id']}", headers=world.alice.headers)
    world.rest(world.bob, "buy", 402, 1)

    def ids(query: str) -> list[int]:
        response = world.client.get(f"{API}/orders?{query}", headers=world.alice.headers)
        assert response.status_code == 200, response.text
        return [o["order_id"] for o in response.json()]

    assert ids("") == [second["order_id"]]
    assert ids("status=closed") == [first["order_id"]]
    assert ids("status=all") == [second["order_id"], first["order_id"]]
    assert ids("status=all&limit=1") == [second["order_id"]]
    assert ids(f"status=all&before={second['order_id']}") == [first["order_id"]]
    assert ids(f"status=all&symbol={world.cap}") == [second["order_id"], first["order_id"]]
    assert ids("status=all&symbol=CAP-OTHER") == []
    assert ids(f"status=all&client_order_id={first['client_order_id']}") == [first["order_id"]]
    assert_error(
        world.client.get(f"{API}/orders?status=done", headers=world.alice.headers), 422, "VALIDATION_ERROR"
    )


def test_a_foreign_order_looks_exactly_like_an_unknown_one(world: World):
    bobs = world.rest(world.bob, "buy", 400, 1)
    foreign = world.client.get(f"{API}/orders/{bobs['order_id']}", headers=world.alice.headers)
    unknown = world.client.get(f"{API}/orders/{bobs['order_id'] + 1000}", headers=world.alice.headers)
    assert_error(foreign, 404, "UNKNOWN_ORDER")
    assert foreign.json()["error"]["message"].replace(str(bobs["order_id"]), "N") == unknown.json()["error"][
        "message"
    ].replace(str(bobs["order_id"] + 1000), "N")
