"""Instruments: list with filters, detail, listing by operators, halt and resume."""

from __future__ import annotations

from tests.api.conftest import DAY, NOW
from tests.api.routes.support import API, PROCESS, World, assert_error


def cap_body(process: str = "pen-line", week: int = 30, strike: int = 150, **overrides):
    start = NOW + week * DAY
    body = {
        "terms": {
            "kind": "CAP",
            "process": process,
            "window_start": start,
            "window_end": start + 7 * DAY,
            "strike": strike,
            "units_per_contract": 50,
            "exercise_deadline": start - DAY,
        },
        "tick": 5,
        "lot": 1,
        "min_price": 5,
        "max_price": 50_000,
    }
    body.update(overrides)
    return body


def test_operator_lists_a_capacity_option(world: World):
    response = world.client.post(f"{API}/instruments", json=cap_body(), headers=world.operator.headers)
    assert response.status_code == 201, response.text
    listed = response.json()
    terms = cap_body()["terms"]
    assert listed["symbol"].startswith("CAP-PEN-LINE-") and listed["symbol"].endswith("-K150")
    assert listed["kind"] == "CAP" and listed["status"] == "trading" and listed["terms"] == terms
    assert listed["expiry"] == terms["exercise_deadline"] and listed["contract_size"] == 50
    assert (listed["tick"], listed["lot"], listed["min_price"], listed["max_price"]) == (5, 1, 5, 50_000)
    detail = world.client.get(f"{API}/instruments/{listed['symbol']}")
    assert detail.status_code == 200 and detail.json() == listed


def test_operator_lists_material_calls_and_swaps(world: World):
    mat = world.list_material_call()
    detail = world.client.get(f"{API}/instruments/{mat}").json()
    assert (
        detail["kind"] == "MAT"
        and detail["terms"]["index"] == "INK-BLACK-SPECIAL"
        and detail["contract_size"] == 10
    )

    later = world.client.post(
        f"{API}/instruments", json=cap_body(PROCESS, week=21, strike=1200), headers=world.operator.headers
    )
    assert later.status_code == 201
    swap_body = {
        "terms": {"kind": "SWP", "give_symbol": world.cap, "receive_symbol": later.json()["symbol"]},
        "tick": 1,
        "lot": 1,
        "min_price": -10_000,
        "max_price": 10_000,
        "expiry": min(detail["expiry"], world.client.get(f"{API}/instruments/{world.cap}").json()["expiry"]),
    }
    swap = world.client.post(f"{API}/instruments", json=swap_body, headers=world.operator.headers)
    assert swap.status_code == 201, swap.text
    assert (
        swap.json()["kind"] == "SWP"
        and swap.json()["contract_size"] == 1
        and swap.json()["min_price"] == -10_000
    )


def test_listing_refusals(world: World):
    client, op = world.client, world.operator
    assert_error(
        client.post(f"{API}/instruments", json=cap_body(), headers=world.alice.headers), 403, "NOT_PERMITTED"
    )
    assert client.post(f"{API}/instruments", json=cap_body(), headers=op.headers).status_code == 201
    assert_error(
        client.post(f"{API}/instruments", json=cap_body(), headers=op.headers), 409, "DUPLICATE_SYMBOL"
    )
    assert_error(
        client.post(f"{API}/instruments", json=cap_body(min_price=7), headers=op.headers),
        422,
        "INVALID_FIELD",
    )
    bad_window = cap_body(week=31)
    bad_window["terms"]["window_end"] = bad_window["terms"]["window_start"]
    assert_error(client.post(f"{API}/instruments", json=bad_window, headers=op.headers), 422, "INVALID_FIELD")
    swap = {
        "terms": {"kind": "SWP", "give_symbol": world.cap, "receive_symbol": "CAP-NOPE"},
        "tick": 1,
        "lot": 1,
        "min_price": 0,
        "max_price": 1,
        "expiry": NOW + DAY,
    }
    assert_error(client.post(f"{API}/instruments", json=swap, headers=op.headers), 404, "UNKNOWN_INSTRUMENT")
    # shape: unknown kind, missing expiry for a MAT, a name that would not fit the symbol columns
    for body in (
        {**cap_body(), "terms": {"kind": "XYZ"}},
        {**cap_body(), "terms": {**cap_body()["terms"], "process": "x" * 49}},
        {**cap_body(), "terms": {**cap_body()["terms"], "process": "bad name"}},
        {
            "terms": {
                "kind": "MAT",
                "material": "m",
                "index": "i",
                "strike": 1,
                "cap": 2,
                "units_per_contract": 1,
                "settlement_window_start": 0,
            },
            "tick": 1,
            "lot": 1,
            "min_price": 0,
            "max_price": 10,
        },
        cap_body(tick=0),
        cap_body(max_price=10**16),
    ):
        assert_error(
            client.post(f"{API}/instruments", json=body, headers=op.headers), 422, "VALIDATION_ERROR"
        )
    assert len(client.get(f"{API}/instruments").json()) == 2


def test_list_filters(world: World):
    client, op = world.client, world.operator
    pen = client.post(f"{API}/instruments", json=cap_body("pen-line", week=40), headers=op.headers).json()[
        "symbol"
    ]
    mat = world.list_material_call()
    everything = {i["symbol"] for i in client.get(f"{API}/instruments").json()}
    assert everything == {world.cap, pen, mat}

    def symbols(query: str) -> set[str]:
        response = client.get(f"{API}/instruments?{query}")
        assert response.status_code == 200, response.text
        return {i["symbol"] for i in response.json()}

    assert symbols("kind=CAP") == {world.cap, pen}
    assert symbols("kind=MAT") == {mat}
    assert symbols(f"process={PROCESS}") == {world.cap}
    assert symbols("material=special-black-ink") == {mat}
    assert symbols("index=INK-BLACK-SPECIAL") == {mat}
    assert symbols("status=trading") == everything
    assert symbols("status=halted") == set()
    start40 = NOW + 40 * DAY
    assert symbols(f"window_start={start40}") == {pen}
    assert symbols(f"window_end={start40}") == {world.cap}
    assert symbols(f"window_start={start40 + 7 * DAY}") == set()
    assert symbols(f"window_start={NOW}&window_end={NOW + 100 * DAY}&process=pen-line") == {pen}
    assert_error(client.get(f"{API}/instruments?kind=BOND"), 422, "VALIDATION_ERROR")
    assert_error(client.get(f"{API}/instruments?window_start=-1"), 422, "VALIDATION_ERROR")


def test_unknown_instrument(world: World):
    assert_error(world.client.get(f"{API}/instruments/CAP-NOTHING"), 404, "UNKNOWN_INSTRUMENT")


def test_halt_and_resume(world: World):
    client, op = world.client, world.operator
    world.rest(world.alice, "buy", 400, 1)
    halted = client.post(f"{API}/instruments/{world.cap}/halt", headers=op.headers)
    assert halted.status_code == 200 and halted.json()["status"] == "halted"
    assert_error(world.place(world.alice, "buy", 400, 1), 409, "INSTRUMENT_NOT_TRADING")
    assert {i["symbol"] for i in client.get(f"{API}/instruments?status=halted").json()} == {world.cap}
    resumed = client.post(f"{API}/instruments/{world.cap}/resume", headers=op.headers)
    assert resumed.status_code == 200 and resumed.json()["status"] == "trading"
    assert world.place(world.alice, "buy", 400, 1).status_code == 201


def test_halt_refusals(world: World):
    client = world.client
    assert_error(
        client.post(f"{API}/instruments/{world.cap}/halt", headers=world.alice.headers), 403, "NOT_PERMITTED"
    )
    assert_error(
        client.post(f"{API}/instruments/{world.cap}/resume", headers=world.bob.headers), 403, "NOT_PERMITTED"
    )
    assert_error(client.post(f"{API}/instruments/{world.cap}/halt"), 401, "UNAUTHENTICATED")
    assert_error(
        client.post(f"{API}/instruments/CAP-NOTHING/halt", headers=world.operator.headers),
        404,
        "UNKNOWN_INSTRUMENT",
    )
    assert client.get(f"{API}/instruments/{world.cap}").json()["status"] == "trading"
