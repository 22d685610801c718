"""Fixtures of the engine tests: every book test runs on both implementations.

`book_class` is parametrized over the pure-Python reference ("reference") and the Cython engine
("cython"). When `matching_engine.book` cannot be imported the cython cases FAIL: a missing or
broken build must never pass silently. While the engine is being written, run `-k reference`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from matching_engine.reference import ReferenceOrderBook
from tests.matching_engine.helpers import CheckedBook

try:
    from matching_engine.book import OrderBook
except ImportError as error:  # reported by every cython case, see book_class
    OrderBook = None
    BOOK_IMPORT_ERROR: ImportError | None = error
else:
    BOOK_IMPORT_ERROR = None


def cython_book_class() -> type:
    """The Cython OrderBook, or a test failure naming why it cannot be imported."""
    if OrderBook is None:
        pytest.fail(
            f"matching_engine.book cannot be imported (build it with pip install -e .): {BOOK_IMPORT_ERROR}"
        )
    return OrderBook


@pytest.fixture(params=["reference", "cython"])
def book_class(request: pytest.FixtureRequest) -> type:
    if request.param == "reference":
        return ReferenceOrderBook
    return cython_book_class()


@pytest.fixture
def make_book(book_class: type) -> Callable[..., CheckedBook]:
    """A factory of checked books; defaults: instrument 7, tick 5, lot 1, prices [-1000, 1000]."""

    def make(
        instrument_id: int = 7, tick: int = 5, lot: int = 1, min_price: int = -1000, max_price: int = 1000
    ) -> CheckedBook:
        return CheckedBook(book_class(instrument_id, tick, lot, min_price, max_price))

    return make


@pytest.fixture
def book(make_book: Callable[..., Any]) -> CheckedBook:
    return make_book()
