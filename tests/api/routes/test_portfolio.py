"""Portfolio reads: only the authenticated account's cash, positions, fills, postings, bookings,
capacity and transfers."""

from __future__ import annotations

from exchange.config import ExchangeConfig
from tests.api.routes.support import API, World, assert_error

CONFIG = ExchangeConfig()


def get(world: World, user, path: str, query: str = "") -> list | dict:
    response = world.client.get(f"{API}/portfolio/{path}{'?' + query if query else ''}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_balances(world: World):
    assert get(world, world.alice, "balances") == {
        "account_id": world.alice.account_id,
        "available": 10_000_000,
        "locked": 0,
        "total": 10_000_000,
    }
    world.rest(world.alice, "buy", 400, 2)
    cash = get(world, world.alice, "balances")
    assert cash["locked"] == 2 * (400 + CONFIG.fee_lock) and cash["total"] == 10_000_000


def test_positions_and_trades(world: World):
    world.holding(world.alice, 2, price=500)
    assert get(world, world.alice, "positions") == [{"symbol": world.cap, "position": 2, "locked": 0}]
    assert get(world, world.supplier, "positions") == [{"symbol": world.cap, "position": -2, "locked": 0}]
    assert get(world, world.bob, "positions") == []

    [taker] = get(world, world.alice, "trades")
    assert (taker["side"], taker["liquidity"], taker["price"], taker["quantity"]) == ("buy", "taker", 500, 2)
    assert taker["fee"] == CONFIG.taker_fee * 2
    [maker] = get(world, world.supplier, "trades")
    assert (maker["side"], maker["liquidity"], maker["fee"]) == ("sell", "maker", CONFIG.maker_fee * 2)
    assert maker["trade_id"] == taker["trade_id"] and maker["order_id"] != taker["order_id"]
    assert get(world, world.bob, "trades") == []
    assert get(world, world.alice, "trades", "symbol=CAP-OTHER") == []


def test_ledger_shows_only_postings_of_your_cash(world: World):
    world.holding(world.alice, 1, price=500)
    postings = get(world, world.alice, "ledger")
    mine = {f"user:{world.alice.account_id}:available", f"user:{world.alice.account_id}:locked"}
    assert postings and all({p["debit_account"], p["credit_account"]} & mine for p in postings)
    assert [p["posting_id"] for p in postings] == sorted((p["posting_id"] for p in postings), reverse=True)
    deposit = postings[-1]
    assert (deposit["debit_account"], deposit["credit_account"], deposit["amount"]) == (
        "external",
        f"user:{world.alice.account_id}:available",
        10_000_000,
    )
    premium = [p for p in postings if p["credit_account"] == f"user:{world.supplier.account_id}:available"]
    assert [p["amount"] for p in premium] == [500]
    # the net of the postings is the account's cash
    net = sum(p["amount"] * ((p["credit_account"] in mine) - (p["debit_account"] in mine)) for p in postings)
    assert net == get(world, world.alice, "balances")["total"]
    assert get(world, world.alice, "ledger", "limit=2") == postings[:2]
    assert get(world, world.alice, "ledger", f"before={postings[1]['posting_id']}") == postings[2:]


def test_bookings_capacity_and_transfers(world: World):
    world.holding(world.alice, 2)
    assert (
        world.client.post(
            f"{API}/exercise", json={"symbol": world.cap, "quantity": 1}, headers=world.alice.headers
        ).status_code
        == 200
    )
    [booking] = get(world, world.alice, "bookings")
    assert get(world, world.supplier, "bookings") == [booking]
    assert get(world, world.bob, "bookings") == []
    assert (
        booking["creator_id"] == world.alice.account_id
        and booking["supplier_id"] == world.supplier.account_id
    )

    [capacity] = get(world, world.supplier, "capacity")
    assert capacity["registered"] == 10_000 and capacity["booked"] == booking["units"]
    assert capacity["free"] == capacity["registered"] - capacity["locked"] - capacity["booked"]
    assert get(world, world.alice, "capacity") == []

    sent = world.client.post(
        f"{API}/transfers",
        json={"asset": "cash", "to_account_id": world.bob.account_id, "amount": 700},
        headers=world.alice.headers,
    )
    assert sent.status_code == 201
    assert get(world, world.alice, "transfers") == [sent.json()] == get(world, world.bob, "transfers")
    assert get(world, world.supplier, "transfers") == []


def test_portfolio_needs_credentials_and_valid_paging(world: World):
    for path in ("balances", "positions", "trades", "ledger", "bookings", "capacity", "transfers"):
        assert_error(world.client.get(f"{API}/portfolio/{path}"), 401, "UNAUTHENTICATED")
    assert_error(
        world.client.get(f"{API}/portfolio/ledger?limit=0", headers=world.alice.headers),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        world.client.get(f"{API}/portfolio/trades?before=0", headers=world.alice.headers),
        422,
        "VALIDATION_ERROR",
    )
