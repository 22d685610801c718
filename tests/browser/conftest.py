"""Fixtures of the browser tests: one real demo exchange for the session (tests/browser/server.py:
the API, the web client and the seeded demo market on a free port, SQLite in a temporary folder),
one headless Debian Chromium driven by Playwright, and a fresh browser context per page.

Chromium comes from the Debian package at /usr/bin/chromium (Playwright's own browser download is
not used). Without it the tests are skipped on a developer machine and FAIL when CI is set.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.server import DemoServer

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Playwright's auto-waiting gives up after this (ms): generous for a shared 2-core CI box.
TIMEOUT_MS = 15_000


try:
    import playwright  # noqa: F401
except ImportError:
    # Without the package the test modules cannot even be imported: on a developer machine they
    # are left out; with CI set they are collected and fail on the import.
    if not os.environ.get("CI"):
        collect_ignore_glob = ["test_*.py"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def playwright_api():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the Python package playwright")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_api):
    if not CHROMIUM.exists():
        _unavailable(f"Chromium at {CHROMIUM} (Debian package `chromium`)")
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("browser-exchange")).start()
    try:
        yield server
    finally:
        server.stop()


_names = itertools.count(1)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A username nobody else in this session has (tests share the exchange)."""
    return lambda prefix: f"{prefix}-{next(_names)}"


class PageErrors(list):
    """Uncaught JavaScript errors of the pages of one test: each test ends with none."""


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def open_page(browser, exchange: DemoServer, page_errors: PageErrors):
    """open_page(viewport=DESKTOP) -> a page of a new browser context (own storage, own login) at
    the web client's start page."""
    contexts = []

    def open_(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=exchange.base_url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.goto("/")
        return page

    yield open_
    for context in contexts:
        context.close()
