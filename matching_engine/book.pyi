"""Type stub of the compiled Cython order book (book.pyx); keep it in step with book.pyx/book.pxd.

Only the Python-visible API: the `cdef` methods and C structures are not reachable from Python.
"""

from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import final

from _typeshed import ReadableBuffer

from matching_engine.events import BookEvent

@final
class OrderBook:
    """One instrument's book. See docs/engine.md; `ReferenceOrderBook` is its pure-Python twin."""

    # the constructor is `__cinit__`, i.e. `__new__`: ValueError on a bad tick, lot or price band
    def __new__(
        cls, instrument_id: int, tick: int, lot: int, min_price: int, max_price: int
    ) -> OrderBook: ...
    def __reduce__(self) -> tuple[Callable[[ReadableBuffer], OrderBook], tuple[bytes]]: ...

    # read-only attributes (`cdef readonly int64_t`)
    @property
    def instrument_id(self) -> int: ...
    @property
    def tick(self) -> int: ...
    @property
    def lot(self) -> int: ...
    @property
    def min_price(self) -> int: ...
    @property
    def max_price(self) -> int: ...

    # -- QUERIES --
    @property
    def order_count(self) -> int:
        """Number of resting orders."""

    @property
    def level_count(self) -> int:
        """Number of price levels, bids plus asks."""

    @property
    def sequence(self) -> int:
        """Seq of the last event emitted (0 before the first)."""

    def best_bid(self) -> tuple[int, int] | None:
        """(price, total quantity) of the best bid, or None."""

    def best_ask(self) -> tuple[int, int] | None:
        """(price, total quantity) of the best ask, or None."""

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """([(price, total quantity, order count)] of the bids, same of the asks), best first."""

    def order(self, order_id: int) -> tuple[int, int, int, int, int, int, int] | None:
        """(order_id, account_id, side, price, open quantity, order_type, stp) or None."""

    def memory_bytes(self) -> int:
        """Bytes currently allocated by the book's C structures."""

    def snapshot(self) -> bytes:
        """The whole book in the little-endian format of docs/engine.md."""

    @classmethod
    def restore(cls, data: ReadableBuffer) -> OrderBook:
        """A book identical to the one that made `data` (see snapshot); ValueError on bad data."""

    def state_hash(self) -> int:
        """CRC32 of snapshot(): equal books have equal hashes."""

    def check_integrity(self) -> None:
        """Raise AssertionError naming the first broken invariant."""

    # -- COMMANDS --
    def place(
        self,
        order_id: int,
        account_id: int,
        side: int,
        price: int,
        quantity: int,
        order_type: int = 0,
        stp: int = 0,
    ) -> list[BookEvent]: ...
    def cancel(self, order_id: int, account_id: int) -> list[BookEvent]: ...
    def amend(self, order_id: int, account_id: int, price: int, quantity: int) -> list[BookEvent]: ...
    def mass_cancel(self, account_id: int) -> list[BookEvent]: ...
    def process(self, command: Sequence[int]) -> list[BookEvent]:
        """One command (a BookCommand or any sequence of 8 ints) -> list[BookEvent]."""

    def process_batch(self, commands: Iterable[int]) -> array[int]:
        """Flat int64 command records (8 per command) -> array('q') of 13 int64 per event."""
