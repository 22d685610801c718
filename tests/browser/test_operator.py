"""An operator in the browser: live system figures from /metrics, the audit, halting and resuming a
market, listing an instrument through the form, publishing an index price, a deposit, and an
expiry run that settles an instrument whose positions and resting orders it then closes."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import DAY_MS, cny, log_in, next_monday_ms

EXPIRES_IN_MS = 4_000


@pytest.fixture
def expiring(exchange, unique):
    """A capacity option expiring (exercise deadline) a few seconds from now, with a supplier's
    resting sell, and a creator long 1 contract. Returns (symbol, expiry ms, creator)."""
    process = unique("browser-expiry")
    window_start = next_monday_ms(4)
    supplier, creator = unique("expiry-supplier"), unique("expiry-creator")
    exchange.open_account(supplier, "supplier", cash=100_000)
    exchange.open_account(creator, "creator", cash=100_000)
    supplier_token, creator_token = exchange.token(supplier), exchange.token(creator)
    window = {"process": process, "window_start": window_start, "window_end": window_start + 7 * DAY_MS}
    assert exchange.post("/capacity", {**window, "units": 100}, supplier_token).status_code == 200
    # listed last, so that the orders below come well before its expiry
    expiry = int(time.time() * 1000) + EXPIRES_IN_MS
    symbol = exchange.list_capacity_option(process, window_start, strike=1_500, exercise_deadline=expiry)
    for token, side, quantity in ((supplier_token, "sell", 3), (creator_token, "buy", 1)):
        order = {
            "symbol": symbol,
            "client_order_id": unique("o"),
            "side": side,
            "price": 500,
            "quantity": quantity,
        }
        response = exchange.post("/orders", order, token)
        assert response.status_code == 201, response.text
    return symbol, expiry, creator


def local_datetime(page, ms: int) -> str:
    """The value of a datetime-local input for `ms`, in the browser's time zone."""
    return page.evaluate(
        """(ms) => { const d = new Date(ms); const p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; }""",
        ms,
    )


def test_operator_figures_audit_halt_list_publish_deposit_and_expiry(open_page, exchange, unique, expiring):
    symbol, expiry, creator = expiring
    creator_token = exchange.token(creator)
    page = open_page()
    log_in(page, "demo-operator")
    expect(page).to_have_url(re.compile("#/operator$"))

    # Live figures, parsed from /metrics: this page's own WebSocket is one connection.
    expect(page.get_by_test_id("websockets")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.get_by_test_id("commands-total")).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(page.get_by_test_id("commands-per-second")).to_have_text(re.compile(r"^\d+\.\d$"))
    expect(page.get_by_test_id("latency-p99")).to_have_text(re.compile(r"^(≤ [\d.]+ ms|> 2.5 s)$"))
    expect(page.get_by_test_id("audit-status")).to_have_attribute("data-ok", "true")

    # List a capacity option through the form (money typed in CNY, sent in fen).
    process = unique("browser-listed")
    window_start = next_monday_ms(30)
    form = page.get_by_test_id("listing-form")
    form.locator("select[name=kind]").select_option("CAP")
    form.locator("input[name=process]").fill(process)
    form.locator("input[name=window_from]").fill(time.strftime("%Y-%m-%d", time.gmtime(window_start / 1000)))
    form.locator("input[name=window_to]").fill(
        time.strftime("%Y-%m-%d", time.gmtime((window_start + 6 * DAY_MS) / 1000))
    )
    form.locator("input[name=strike]").fill("12.00")
    form.locator("input[name=units_per_contract]").fill("50")
    form.locator("input[name=exercise_deadline]").fill(local_datetime(page, window_start - 2 * DAY_MS))
    form.locator("input[name=tick]").fill("0.50")
    page.get_by_test_id("list-instrument").click()
    expect(form.locator(".form-message")).to_contain_text("Listed CAP-")
    (listed,) = exchange.get("/instruments", process=process)
    assert listed["terms"]["strike"] == 1_200 and listed["terms"]["units_per_contract"] == 50
    assert (listed["terms"]["window_start"], listed["terms"]["window_end"]) == (
        window_start,
        window_start + 7 * DAY_MS,
    )
    assert (listed["tick"], listed["expiry"]) == (50, window_start - 2 * DAY_MS)
    expect(page.get_by_test_id("markets-table").locator(f"tr[data-key='{listed['symbol']}']")).to_have_count(
        1
    )
    # a refused listing shows the API's reason (the same terms again)
    page.get_by_test_id("list-instrument").click()
    expect(form.locator(".error-code")).to_have_text("409 DUPLICATE_SYMBOL")

    # Halt it: new orders are refused while halted; resume: they are accepted again.
    market = page.get_by_test_id("markets-table").locator(f"tr[data-key='{listed['symbol']}']")
    market.get_by_test_id("halt").click()
    expect(market.locator(".badge")).to_have_text("halted")
    order = {
        "symbol": listed["symbol"],
        "client_order_id": unique("o"),
        "side": "buy",
        "price": 100,
        "quantity": 1,
    }
    refused = exchange.post("/orders", order, creator_token)
    assert refused.json()["error"]["code"] == "INSTRUMENT_NOT_TRADING"
    market.get_by_test_id("resume").click()
    expect(market.locator(".badge")).to_have_text("trading")
    order["client_order_id"] = unique("o")
    assert exchange.post("/orders", order, creator_token).status_code == 201

    # Publish an index price.
    index_form = page.get_by_test_id("index-form")
    index_form.locator("input[name=index]").fill("INK-BLACK-SPECIAL")
    index_form.locator("input[name=index_price]").fill("81.20")
    page.get_by_test_id("publish-index").click()
    row = page.get_by_test_id("index-table").locator("tr[data-key='INK-BLACK-SPECIAL']")
    expect(row.locator("td.num")).to_have_text(cny(8_120))
    assert exchange.get("/index-prices/INK-BLACK-SPECIAL", limit=1)["prices"][-1]["price"] == 8_120

    # The index price band: the form shows what is allowed without confirmation (the first price
    # of an index has no band); beyond it the exchange refuses unless the move is confirmed.
    index = unique("BAND-INDEX")
    band = page.get_by_test_id("index-band")
    index_form.locator("input[name=index]").fill(index)
    expect(band).to_contain_text("first price has no band")
    index_form.locator("input[name=index_price]").fill("90")
    page.get_by_test_id("publish-index").click()
    band_row = page.get_by_test_id("index-table").locator(f"tr[data-key='{index}']")
    expect(band_row.locator("td.num")).to_have_text(cny(9_000))
    expect(band_row.locator("td.band")).to_have_text(f"{cny(7_200)} – {cny(10_800)}")
    expect(band).to_contain_text(f"allowed without confirmation: {cny(7_200)} – {cny(10_800)}")
    index_form.locator("input[name=index_price]").fill("9000")
    page.get_by_test_id("publish-index").click()
    index_messages = page.locator(".card", has=index_form).locator(".form-message")
    expect(index_messages.locator(".error-code")).to_have_text("409 INDEX_PRICE_BAND")
    expect(index_messages).to_contain_text("¥9,000.00")
    expect(index_messages).to_contain_text("moves 9,900% from the last ¥90.00")
    expect(index_messages).to_contain_text("confirm_large_move")
    assert exchange.get(f"/index-prices/{index}")["prices"][-1]["price"] == 9_000
    index_form.locator("input[name=confirm_large_move]").check()
    page.get_by_test_id("publish-index").click()
    expect(band_row.locator("td.num")).to_have_text(cny(900_000))
    expect(index_form.locator("input[name=confirm_large_move]")).not_to_be_checked()
    assert [p["price"] for p in exchange.get(f"/index-prices/{index}")["prices"]] == [9_000, 900_000]

    # Deposit cash into the creator's account.
    available = exchange.get("/portfolio/balances", creator_token)["available"]
    deposit = page.get_by_test_id("deposit-form")
    deposit.locator("input[name=account_id]").fill(str(exchange.get("/me", creator_token)["account_id"]))
    deposit.locator("input[name=deposit_amount]").fill("100")
    page.get_by_test_id("deposit").click()
    expect(page.locator(".card", has=deposit).locator(".form-message")).to_contain_text(
        cny(available + 10_000)
    )

    # Expiry: once the option's expiry has come, the run settles it.
    market = page.get_by_test_id("markets-table").locator(f"tr[data-key='{symbol}']")
    expect(market.locator(".badge")).to_have_text("trading")
    page.wait_for_function("(expiry) => Date.now() > expiry", arg=expiry + 100)
    page.get_by_test_id("run-expiry").click()
    expect(page.get_by_test_id("expired-symbols")).to_contain_text(symbol)
    expect(market.locator(".badge")).to_have_text("settled")
    positions = {p["symbol"]: p["position"] for p in exchange.get("/portfolio/positions", creator_token)}
    assert positions[symbol] == 0
    # the page audits again after the run: every invariant still holds
    expiry_seq = int(page.get_by_test_id("expiry-result").locator(".alert").get_attribute("data-seq"))
    page.wait_for_function(
        "(seq) => Number(document.querySelector('[data-testid=audit-status]')?.dataset.journalSeq) >= seq",
        arg=expiry_seq,
    )
    expect(page.get_by_test_id("audit-status")).to_have_attribute("data-ok", "true")
    # running it again finds nothing to do
    page.get_by_test_id("run-expiry").click()
    expect(page.get_by_test_id("expiry-result")).to_contain_text("nothing was due")
