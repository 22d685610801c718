"""What the browser tests share: logging in through the form, and money as the page shows it."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from demo.seed import DEMO_PASSWORD

DAY_MS = 86_400_000


def cny(fen: int) -> str:
    """Fen as the web client shows them: 123456 -> "¥1,234.56", -500 -> "-¥5.00"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def log_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form; returns once the header shows who is logged in and the live
    connection is authenticated."""
    page.goto("/#/login")
    form = page.get_by_test_id("login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_contain_text(username)
    expect(page.get_by_test_id("connection")).to_have_text("live")


def open_instrument(page: Page, symbol: str) -> None:
    """The instrument page, once its book is live."""
    page.goto(f"/#/instrument/{symbol}")
    expect(page.get_by_test_id("book-state")).to_have_attribute("data-state", "live")


def next_monday_ms(weeks_ahead: int) -> int:
    """00:00 UTC of a Monday `weeks_ahead` weeks from now (a delivery window start)."""
    now = int(time.time() * 1000)
    days = now // DAY_MS
    monday = days - (days + 3) % 7  # 1970-01-01 was a Thursday
    return (monday + 7 * weeks_ahead) * DAY_MS
