"""Market data: book depth, recent trades, index prices, settlement prices."""

from __future__ import annotations

from tests.api.routes.support import API, World, assert_error


def test_book_depth(world: World):
    for price, quantity in ((400, 1), (400, 2), (390, 5), (380, 1)):
        world.rest(world.alice, "buy", price, quantity)
    world.rest(world.supplier, "sell", 600, 3)
    book = world.client.get(f"{API}/instruments/{world.cap}/book")
    assert book.status_code == 200
    body = book.json()
    assert body["symbol"] == world.cap
    assert body["bids"] == [
        {"price": 400, "quantity": 3, "order_count": 2},
        {"price": 390, "quantity": 5, "order_count": 1},
        {"price": 380, "quantity": 1, "order_count": 1},
    ]
    assert body["asks"] == [{"price": 600, "quantity": 3, "order_count": 1}]
    assert body["journal_seq"] == world.client.portal.call(world.client.app.state.gateway.query, "last_seq")
    view = world.client.portal.call(world.client.app.state.gateway.book_view, world.cap)
    assert body["last_seq"] == view.book_seq > 0

    top = world.client.get(f"{API}/instruments/{world.cap}/book?levels=1").json()
    assert len(top["bids"]) == 1 and top["last_seq"] == body["last_seq"]
    world.rest(world.bob, "buy", 410, 1)
    assert world.client.get(f"{API}/instruments/{world.cap}/book").json()["last_seq"] > body["last_seq"]


def test_book_errors(world: World):
    assert_error(world.client.get(f"{API}/instruments/CAP-NOTHING/book"), 404, "UNKNOWN_INSTRUMENT")
    for levels in ("0", "101", "x"):
        assert_error(
            world.client.get(f"{API}/instruments/{world.cap}/book?levels={levels}"), 422, "VALIDATION_ERROR"
        )


def test_recent_trades_are_public_and_newest_first(world: World):
    world.holding(world.alice, 2, price=500)
    world.holding(world.bob, 1, price=510)
    trades = world.client.get(f"{API}/instruments/{world.cap}/trades")
    assert trades.status_code == 200
    body = trades.json()
    assert [(t["price"], t["quantity"], t["taker_side"]) for t in body] == [(510, 1, "buy"), (500, 2, "buy")]
    assert set(body[0]) == {"trade_id", "symbol", "price", "quantity", "taker_side", "executed_at"}
    assert len(world.client.get(f"{API}/instruments/{world.cap}/trades?limit=1").json()) == 1
    older = world.client.get(f"{API}/instruments/{world.cap}/trades?before={body[0]['trade_id']}").json()
    assert older == body[1:]
    assert_error(world.client.get(f"{API}/instruments/CAP-NOTHING/trades"), 404, "UNKNOWN_INSTRUMENT")
    assert_error(world.client.get(f"{API}/instruments/{world.cap}/trades?limit=0"), 422, "VALIDATION_ERROR")


def publish(world: World, index: str, price: int):
    response = world.client.post(
        f"{API}/operator/index-prices", json={"index": index, "price": price}, headers=world.operator.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_index_price_history_and_latest(world: World):
    first = publish(world, "INK-BLACK-SPECIAL", 8000)
    second = publish(world, "INK-BLACK-SPECIAL", 8400)
    publish(world, "PAPER-ART-157G", 300)
    history = world.client.get(f"{API}/index-prices/INK-BLACK-SPECIAL").json()
    assert history["index"] == "INK-BLACK-SPECIAL"
    assert [(p["price"], p["published_at"], p["seq"]) for p in history["prices"]] == [
        (8000, first["published_at"], first["seq"]),
        (8400, second["published_at"], second["seq"]),
    ]
    assert [
        p["price"] for p in world.client.get(f"{API}/index-prices/INK-BLACK-SPECIAL?limit=1").json()["prices"]
    ] == [8400]
    since = world.client.get(f"{API}/index-prices/INK-BLACK-SPECIAL?since={second['published_at']}").json()
    assert [p["price"] for p in since["prices"]][-1] == 8400
    assert world.client.get(f"{API}/index-prices/NEVER-PUBLISHED").json() == {
        "index": "NEVER-PUBLISHED",
        "prices": [],
    }
    latest = world.client.get(f"{API}/index-prices").json()
    assert [(i["index"], i["price"]) for i in latest] == [
        ("INK-BLACK-SPECIAL", 8400),
        ("PAPER-ART-157G", 300),
    ]
    assert_error(world.client.get(f"{API}/index-prices/INK?limit=0"), 422, "VALIDATION_ERROR")


def test_settlement_price_is_estimated_while_the_window_runs(world: World):
    mat = world.list_material_call(index_price=8000)  # the index's first price comes before the listing
    estimate = world.client.get(f"{API}/instruments/{mat}/settlement")
    assert estimate.status_code == 200
    # the average runs up to the latest published time: one price has not held for any time yet
    assert estimate.json()["price"] is None and estimate.json()["final"] is False
    publish(world, "INK-BLACK-SPECIAL", 8800)
    body = world.client.get(f"{API}/instruments/{mat}/settlement").json()
    # the TWAP up to the latest publication: 8000 held from the first price until the second
    assert body["price"] == 8000 and body["final"] is False and body["index"] == "INK-BLACK-SPECIAL"
    assert body["status"] == "trading"
    assert body["price"] == world.client.portal.call(
        world.client.app.state.gateway.query, "estimated_settlement_price", mat
    )


def test_settlement_of_other_kinds_and_unknowns(world: World):
    assert_error(world.client.get(f"{API}/instruments/{world.cap}/settlement"), 422, "NOT_A_MATERIAL_CALL")
    assert_error(world.client.get(f"{API}/instruments/MAT-NOTHING/settlement"), 404, "UNKNOWN_INSTRUMENT")
