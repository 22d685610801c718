"""The web client on a phone-sized screen (390 x 844): the menu, the instrument list as cards, the
instrument page and the portfolio, none wider than the screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in, open_instrument

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_phone_screen(open_page, exchange):
    page = open_page(viewport=PHONE)
    log_in(page, "demo-creator")
    rows = page.get_by_test_id("instruments-table").locator("tbody tr")
    expect(rows).to_have_count(len(exchange.get("/instruments")))
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # rows are cards: a row's cells are stacked, each labelled, not side by side
    first = rows.first
    expect(first.locator("thead")).to_have_count(0)
    symbol_box = first.locator("td[data-label=Symbol]").bounding_box()
    status_box = first.locator("td[data-label=Status]").bounding_box()
    assert status_box["y"] > symbol_box["y"] and symbol_box["width"] > 300

    # the navigation hides behind the menu button
    nav = page.locator("#nav")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Portfolio").click()
    expect(nav).to_be_hidden()
    expect(page.get_by_test_id("positions-table").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("cash-available")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    symbol = exchange.get("/instruments", kind="CAP", process="notebook-a5-print")[0]["symbol"]
    open_instrument(page, symbol)
    expect(page.get_by_test_id("asks").locator(".level").first).to_be_in_viewport()
    page.get_by_test_id("place-order").scroll_into_view_if_needed()
    expect(page.get_by_test_id("place-order")).to_be_in_viewport()
    expect(page.get_by_test_id("chart").locator("canvas").first).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
