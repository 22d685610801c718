"""Browsing and live market data in the browser: the instrument list and its filters against the
REST answers, the instrument page's ladder, chart and trades, live book updates over the
WebSocket, resync after a lost book message, and reconnection after the connection drops."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.helpers import cny, log_in, next_monday_ms, open_instrument


def test_browse_and_filter_instruments_then_open_one(open_page, exchange):
    page = open_page()
    log_in(page, "demo-creator")
    rows = page.get_by_test_id("instruments-table").locator("tbody tr")
    expect(rows).to_have_count(len(exchange.get("/instruments")))

    page.get_by_test_id("filters").locator("select[name=kind]").select_option("MAT")
    calls = exchange.get("/instruments", kind="MAT")
    assert calls, "the demo lists material calls"
    expect(rows).to_have_count(len(calls))
    assert set(page.locator("td[data-label=Kind]").all_inner_texts()) == {"MAT"}

    page.get_by_test_id("filters").locator("select[name=underlying]").select_option(
        "material:special-art-paper"
    )
    paper = exchange.get("/instruments", kind="MAT", material="special-art-paper")
    assert 0 < len(paper) < len(calls)
    expect(rows).to_have_count(len(paper))
    assert page.url.endswith("#/instruments?kind=MAT&underlying=material%3Aspecial-art-paper")

    symbol = paper[0]["symbol"]
    page.get_by_role("link", name=symbol, exact=True).click()
    expect(page.get_by_test_id("book-state")).to_have_attribute("data-state", "live")
    book = exchange.get(f"/instruments/{symbol}/book", levels=10)
    asks = page.get_by_test_id("asks").locator(".level-price")
    bids = page.get_by_test_id("bids").locator(".level-price")
    # the ladder shows asks high to low above the spread, bids high to low below it
    expect(asks).to_have_text([cny(level["price"]) for level in reversed(book["asks"])])
    expect(bids).to_have_text([cny(level["price"]) for level in book["bids"]])
    trades = exchange.get(f"/instruments/{symbol}/trades")
    assert trades, "the demo traded every material call"
    expect(page.get_by_test_id("trades-table").locator("tbody tr")).to_have_count(len(trades))
    expect(page.get_by_test_id("chart").locator("canvas").first).to_be_visible()
    expect(page.locator(".material")).to_contain_text("Settlement price")


def test_ladder_follows_live_orders_resyncs_after_a_lost_message_and_reconnects(open_page, exchange, unique):
    symbol = exchange.list_capacity_option("browser-live", next_monday_ms(8), strike=1_000)
    maker = unique("live-maker")
    exchange.open_account(maker, "market_maker", cash=5_000_000)
    token = exchange.token(maker)

    def bid(price: int, quantity: int) -> None:
        order = {
            "symbol": symbol,
            "client_order_id": unique("bid"),
            "side": "buy",
            "price": price,
            "quantity": quantity,
        }
        response = exchange.post("/orders", order, token)
        assert response.status_code == 201, response.text

    page = open_page()
    open_instrument(page, symbol)
    bids = page.get_by_test_id("bids").locator(".level")
    expect(bids).to_have_count(0)

    bid(500, 3)  # another account's order reaches this page as a book delta
    expect(bids).to_have_count(1)
    expect(bids.first).to_contain_text(cny(500))
    expect(bids.first.locator(".level-quantity")).to_have_text("3")

    # Lose the next book message, as a network would: the page notices (the next delta's prev_seq,
    # or the heartbeat) and asks for a fresh snapshot of this book.
    state = page.get_by_test_id("book-state")
    assert state.get_attribute("data-resyncs") == "0"
    page.evaluate("window.__capex.connection.dropBookMessages = 1")
    bid(400, 2)
    bid(300, 1)
    expect(state).not_to_have_attribute("data-resyncs", "0")
    expect(state).to_have_attribute("data-state", "live")
    expect(bids.locator(".level-price")).to_have_text([cny(500), cny(400), cny(300)])
    book = exchange.get(f"/instruments/{symbol}/book")
    expect(state).to_have_attribute("data-seq", str(book["last_seq"]))

    # The connection drops: the page reconnects by itself, resubscribes, and is live again.
    page.evaluate("window.__capex.connection.history.length = 0; window.__capex.connection.socket.close()")
    page.wait_for_function("window.__capex.connection.history.includes('reconnecting')")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    bid(200, 4)
    expect(bids.locator(".level-price")).to_have_text([cny(500), cny(400), cny(300), cny(200)])
