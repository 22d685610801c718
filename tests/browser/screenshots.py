"""Screenshots of the web client's main pages for docs/web-client.md:

    python -m tests.browser.screenshots [--out docs/screenshots]

Starts the demo exchange on a free port (a fresh SQLite file in a temporary folder), trades a
little so the chart and the books move, exercises an option so that bookings exist, then drives
the Debian Chromium (/usr/bin/chromium) through the pages and saves PNGs. Not a test: nothing is
asserted beyond the pages loading.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, DESKTOP, LAUNCH_ARGS, PHONE
from tests.browser.helpers import log_in, open_instrument
from tests.browser.server import DemoServer

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def trade_a_while(exchange: DemoServer, symbol: str, rounds: int = 16, pause: float = 0.6) -> None:
    """The market maker and the second creator trade one contract back and forth inside the spread,
    a little apart in time, so the chart has a line to draw (the maker holds the option from the
    seed; the creator sells back what it bought)."""
    maker, creator = exchange.token("demo-marketmaker"), exchange.token("demo-creator2")
    book = exchange.get(f"/instruments/{symbol}/book")
    tick = exchange.get(f"/instruments/{symbol}")["tick"]
    low, high = book["bids"][0]["price"] + tick, book["asks"][0]["price"] - tick
    price = (low + high) // 2 // tick * tick
    walk = (1, 2, -1, 2, 1, -2, 1, 3, -1, 2, -3, 1, 2, -1, 1, 2)
    for i in range(rounds):
        price = min(high, max(low, price + walk[i % len(walk)] * tick))
        seller, buyer = (maker, creator) if i % 2 == 0 else (creator, maker)
        for token, side in ((seller, "sell"), (buyer, "buy")):
            order = {
                "symbol": symbol,
                "client_order_id": f"shot-{i}-{side}",
                "side": side,
                "price": price,
                "quantity": 1,
            }
            response = exchange.post("/orders", order, token)
            if response.status_code != 201:
                print(f"order refused: {response.json()}")
        time.sleep(pause)


def quote_for(exchange: DemoServer, symbol: str, seconds: float) -> None:
    """The market maker places and cancels a bid over and over for `seconds`: commands/s to show."""
    maker = exchange.token("demo-marketmaker")
    bid = exchange.get(f"/instruments/{symbol}/book")["bids"][0]["price"]
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        order = {
            "symbol": symbol,
            "client_order_id": f"shot-quote-{n}",
            "side": "buy",
            "price": bid,
            "quantity": 1,
        }
        response = exchange.post("/orders", order, maker)
        if response.status_code == 201:
            exchange.http.delete(
                f"/orders/{response.json()['order_id']}", headers={"Authorization": f"Bearer {maker}"}
            )
        time.sleep(0.02)


def prepare(exchange: DemoServer) -> str:
    """The instrument to show: the notebook option of the festival week the demo creator holds;
    one of its contracts exercised (a booking for the supplier page)."""
    creator = exchange.token("demo-creator")
    held = [
        p for p in exchange.get("/portfolio/positions", creator) if p["symbol"].startswith("CAP-NOTEBOOK")
    ]
    symbol = max(held, key=lambda p: p["position"])["symbol"]
    exchange.post("/exercise", {"symbol": symbol, "quantity": 1}, creator)
    trade_a_while(exchange, symbol)
    return symbol


def settle(page: Page) -> None:
    """Let live data and charts draw."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)


def shoot(page: Page, out: Path, name: str, full_page: bool = False) -> None:
    settle(page)
    page.screenshot(path=str(out / name), full_page=full_page)
    print(f"wrote {out / name}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        exchange = DemoServer(Path(data_dir)).start()
        try:
            symbol = prepare(exchange)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
                )

                def new_page(viewport: dict) -> Page:
                    context = browser.new_context(
                        viewport=viewport, base_url=exchange.base_url, device_scale_factor=1
                    )
                    page = context.new_page()
                    page.goto("/")
                    return page

                page = new_page(DESKTOP)
                log_in(page, "demo-creator")
                expect(page.get_by_test_id("instruments-table").locator("tbody tr").first).to_be_visible()
                shoot(page, out, "instruments.png")
                open_instrument(page, symbol)
                expect(page.get_by_test_id("trades-table").locator("tbody tr").first).to_be_visible()
                shoot(page, out, "instrument.png", full_page=True)
                page.goto("/#/portfolio")
                expect(page.get_by_test_id("positions-table").locator("tbody tr").first).to_be_visible()
                shoot(page, out, "portfolio.png")

                page = new_page({"width": 1280, "height": 1200})
                log_in(page, "demo-printer")
                expect(page.get_by_test_id("bookings-table").locator("tbody tr").first).to_be_visible()
                shoot(page, out, "supplier.png")

                page = new_page({"width": 1280, "height": 1100})
                log_in(page, "demo-operator")
                expect(page.get_by_test_id("audit-status")).to_be_visible()
                activity = threading.Thread(target=quote_for, args=(exchange, symbol, 9.0))
                activity.start()
                page.wait_for_timeout(9_500)  # a few /metrics polls for the commands/s line
                activity.join()
                shoot(page, out, "operator.png")

                page = new_page(PHONE)
                log_in(page, "demo-creator")
                open_instrument(page, symbol)
                shoot(page, out, "phone-instrument.png")
                page.goto("/#/instruments")
                expect(page.get_by_test_id("instruments-table").locator("tbody tr").first).to_be_visible()
                shoot(page, out, "phone-instruments.png")
                browser.close()
        finally:
            exchange.stop()


if __name__ == "__main__":
    main()
