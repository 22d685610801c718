"""A creator trading in the browser: register, be refused with the API's own code and message, buy,
see the fill in the portfolio valued at the market, resell, amend and cancel an order, transfer a
position and cash to another account."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import cny, log_in, next_monday_ms, open_instrument


@pytest.fixture
def book(exchange, unique):
    """A capacity option of its own: a supplier asks 5 @ 5.00 CNY and a market maker bids 2 @ 4.00
    CNY (prices in fen per contract)."""
    symbol = exchange.list_capacity_option(unique("browser-trade"), next_monday_ms(10), strike=1_000)
    process = exchange.get(f"/instruments/{symbol}")["terms"]["process"]
    supplier = unique("trade-supplier")
    exchange.open_account(supplier, "supplier", cash=100_000)
    supplier_token = exchange.token(supplier)
    terms = exchange.get(f"/instruments/{symbol}")["terms"]
    window = {"process": process, "window_start": terms["window_start"], "window_end": terms["window_end"]}
    assert exchange.post("/capacity", {**window, "units": 1_000}, supplier_token).status_code == 200
    maker = unique("trade-maker")
    exchange.open_account(maker, "market_maker", cash=1_000_000)
    maker_token = exchange.token(maker)
    for token, side, price, quantity in ((supplier_token, "sell", 500, 5), (maker_token, "buy", 400, 2)):
        order = {
            "symbol": symbol,
            "client_order_id": unique("o"),
            "side": side,
            "price": price,
            "quantity": quantity,
        }
        response = exchange.post("/orders", order, token)
        assert response.status_code == 201, response.text
    return symbol


def test_register_then_refusals_show_the_api_code_and_message(open_page, exchange, unique, book):
    page = open_page()
    username = unique("newcomer")
    page.goto("/#/register")
    form = page.get_by_test_id("register-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill("a-long-password")
    form.locator("select[name=role]").select_option("creator")
    form.get_by_role("button", name="Open account").click()
    expect(page.get_by_test_id("who")).to_contain_text(username)

    open_instrument(page, book)
    ticket = page.get_by_test_id("ticket")
    message = ticket.locator(".form-message")

    ticket.locator("input[name=price]").fill("5.00")
    ticket.locator("input[name=quantity]").fill("1")
    page.get_by_test_id("place-order").click()
    # the account has no cash: the page shows exactly what the API answers
    token = page.evaluate("window.__capex.session.token")
    order = {"symbol": book, "client_order_id": unique("probe"), "side": "buy", "price": 500, "quantity": 1}
    refusal = exchange.post("/orders", order, token).json()["error"]
    assert refusal["code"] == "INSUFFICIENT_FUNDS"
    expect(message).to_have_class("form-message alert alert-error")
    expect(message.locator(".error-code")).to_have_text(f"{refusal['status']} {refusal['code']}")
    expect(message.locator(".error-message")).to_have_text(refusal["message"])

    ticket.locator("input[name=price]").fill("5.55")  # the tick is 1.00 CNY
    page.get_by_test_id("place-order").click()
    expect(message.locator(".error-code")).to_contain_text("MATCHING_PRICE_OFF_TICK")

    ticket.locator("input[name=price]").fill("five")  # refused before anything is sent
    page.get_by_test_id("place-order").click()
    expect(message.locator(".error-code")).to_have_text("INVALID_INPUT")
    assert exchange.get("/orders", token, status="all") == []


def test_buy_see_the_fill_in_the_portfolio_resell_amend_cancel_and_transfer(
    open_page, exchange, unique, book
):
    creator = unique("buyer")
    exchange.open_account(creator, "creator", cash=1_000_000)
    recipient = unique("friend")
    exchange.open_account(recipient, "creator")
    page = open_page()
    log_in(page, creator)
    open_instrument(page, book)

    # Buy 3 at the best ask: a click on the ask level fills the ticket's side and price.
    page.get_by_test_id("asks").locator(".level").last.click()
    ticket = page.get_by_test_id("ticket")
    expect(ticket.locator("input[name=price]")).to_have_value("5.00")
    ticket.locator("input[name=quantity]").fill("3")
    page.get_by_test_id("place-order").click()
    expect(ticket.locator(".form-message")).to_contain_text("filled (filled 3, open 0)")
    expect(page.get_by_test_id("position-quantity")).to_have_text("3")
    expect(page.get_by_test_id("asks").locator(".level-quantity")).to_have_text(["2"])

    # The fill is in the portfolio, valued at the mid of 4.00 and 5.00 CNY.
    page.get_by_role("link", name="Portfolio").click()
    row = page.get_by_test_id("positions-table").locator(f"tr[data-key='{book}']")
    expect(row.locator("td.position")).to_have_text("3")
    expect(row.locator("td[data-label=Mark]")).to_have_text(f"{cny(450)} mid")
    expect(row.locator("td.value")).to_have_text(cny(3 * 450))
    token = page.evaluate("window.__capex.session.token")
    fills = exchange.get("/portfolio/trades", token)
    assert [(t["side"], t["price"], t["quantity"]) for t in fills] == [("buy", 500, 3)]
    balance = exchange.get("/portfolio/balances", token)
    assert (balance["available"], balance["locked"]) == (1_000_000 - 3 * 500 - fills[0]["fee"], 0)
    expect(page.get_by_test_id("cash-available")).to_have_text(cny(balance["available"]))
    expect(page.get_by_test_id("cash-locked")).to_have_text(cny(0))
    page.locator(".tab[data-tab=trades]").click()
    expect(page.get_by_test_id("trades-history").locator("tbody tr")).to_have_count(1)

    # Resell one: the portfolio's Resell opens the ticket on the sell side at the best bid.
    row.get_by_test_id("resell-link").click()
    expect(ticket.locator("input[name=price]")).to_have_value("4.00")
    expect(ticket.locator("input[value=sell]")).to_be_checked()
    ticket.locator("input[name=quantity]").fill("1")
    page.get_by_test_id("place-order").click()
    expect(ticket.locator(".form-message")).to_contain_text("sell 1 @ ¥4.00: filled")
    expect(page.get_by_test_id("position-quantity")).to_have_text("2")

    # A resting sell, amended to another price, then cancelled.
    ticket.locator("input[name=price]").fill("6.00")
    page.get_by_test_id("place-order").click()
    orders = page.get_by_test_id("open-orders").locator("tbody tr")
    expect(orders).to_have_count(1)
    expect(orders.first.locator("td[data-label=Price]")).to_have_text(cny(600))
    orders.first.get_by_test_id("amend").click()
    orders.first.locator("input[name=amend-price]").fill("7.00")
    orders.first.get_by_test_id("amend-submit").click()
    expect(orders.first.locator("td[data-label=Price]")).to_have_text(cny(700))
    expect(page.get_by_test_id("asks").locator(".level-price").first).to_have_text(cny(700))
    orders.first.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("open-orders").locator("tr.empty")).to_have_count(1)
    expect(page.get_by_test_id("asks").locator(".level-price")).to_have_text([cny(500)])

    # Transfer one contract to another account, from the instrument page.
    transfer = page.get_by_test_id("transfer-form")
    transfer.locator("input[name=to_username]").fill(recipient)
    transfer.locator("input[name=transfer_quantity]").fill("1")
    page.get_by_test_id("transfer-position").click()
    expect(page.get_by_test_id("my-position")).to_contain_text("Transferred 1 contract(s)")
    expect(page.get_by_test_id("position-quantity")).to_have_text("1")
    recipient_token = exchange.token(recipient)
    held = {p["symbol"]: p["position"] for p in exchange.get("/portfolio/positions", recipient_token)}
    assert held[book] == 1

    # And cash, from the portfolio.
    page.get_by_role("link", name="Portfolio").click()
    # Scoped to the portfolio page: the instrument page has a transfer form of its own, and a fill
    # that runs before the page changes would land in it.
    form = page.locator(".page-portfolio").get_by_test_id("transfer-form")
    form.locator("input[name=to_username]").fill(recipient)
    form.locator("input[name=amount]").fill("10.50")
    page.get_by_test_id("transfer-submit").click()
    expect(form.locator(".form-message")).to_contain_text(f"Sent {cny(1050)}")
    assert exchange.get("/portfolio/balances", recipient_token)["available"] == 1050
    page.locator(".tab[data-tab=transfers]").click()
    expect(page.get_by_test_id("transfers-table").locator("tbody tr")).to_have_count(2)
    # the refusal of a transfer to nobody is explained too
    form.locator("input[name=to_username]").fill(unique("nobody"))
    page.get_by_test_id("transfer-submit").click()
    expect(form.locator(".error-code")).to_have_text("404 UNKNOWN_ACCOUNT")

    # Cancel all: every resting order of the account, on every instrument.
    resting = {"symbol": book, "client_order_id": unique("rest"), "side": "sell", "price": 900, "quantity": 1}
    assert exchange.post("/orders", resting, token).status_code == 201
    page.get_by_test_id("cancel-all-orders").click()
    expect(page.get_by_test_id("order-messages")).to_contain_text("Cancelled 1 open order(s)")
    assert exchange.get("/orders", token, status="open") == []
