"""Read-only views of the sequencer's state. Each answer is a copy (or builtins): the caller may
keep it while the sequencer moves on. Called on the sequencer's own thread, between commands
(api/gateway.py QUERIES names the ones the API calls through `Sequencer`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from exchange.accounts import Account
from exchange.bookings import Booking
from exchange.books import OrderBook
from exchange.capacity import Capacity
from exchange.commands import MaterialCallTerms
from exchange.config import ExchangeConfig
from exchange.index_prices import publishable_band, twap
from exchange.instruments import MATERIAL_CALL, Instrument
from exchange.state import Order, Position, State

_copy = msgspec.structs.replace


class Queries:
    """Over the state, the books and the two indexes (account id -> order id -> open Order, account
    id -> symbol -> Position) of the sequencer."""

    __slots__ = ("_state", "_config", "_books", "_open_orders_by_account", "_positions_by_account")

    def __init__(
        self,
        state: State,
        config: ExchangeConfig,
        books: dict[str, OrderBook],
        open_orders_by_account: dict[int, dict[int, Order]],
        positions_by_account: dict[int, dict[str, Position]],
    ) -> None:
        self._state = state
        self._config = config
        self._books = books
        self._open_orders_by_account = open_orders_by_account
        self._positions_by_account = positions_by_account

    def account(self, account_id: int) -> Account | None:
        a = self._state.accounts.get(account_id)
        return _copy(a) if a is not None else None

    def balances(self, account_id: int) -> dict[str, int] | None:
        """{"available", "locked"} in fen."""
        a = self._state.accounts.get(account_id)
        return None if a is None else {"available": a.available, "locked": a.locked}

    def positions(self, account_id: int) -> list[Position]:
        by_symbol = self._positions_by_account.get(account_id, {})
        return [_copy(by_symbol[s]) for s in sorted(by_symbol)]

    def order(self, order_id: int) -> Order | None:
        """An open order (closed ones live in the store's projections)."""
        o = self._state.orders.get(order_id)
        return _copy(o) if o is not None else None

    def open_orders(self, account_id: int) -> list[Order]:
        orders = self._open_orders_by_account.get(account_id, {})
        return [_copy(orders[i]) for i in sorted(orders)]

    def instrument(self, symbol: str) -> Instrument | None:
        inst = self._state.instruments.get(symbol)
        return _copy(inst) if inst is not None else None

    def instruments(self) -> list[Instrument]:
        instruments = self._state.instruments
        return [_copy(instruments[s]) for s in sorted(instruments)]

    def depth(self, symbol: str, levels: int = 10) -> tuple[list[Any], list[Any]] | None:
        """(bids, asks), best first, each level (price, quantity, order_count)."""
        book = self._books.get(symbol)
        return None if book is None else book.depth(levels)

    def bookings(self, account_id: int) -> list[Booking]:
        """Bookings where the account is the creator or the supplier, by id."""
        b = self._state.bookings
        return [_copy(b[i]) for i in sorted(b) if account_id in (b[i].creator_id, b[i].supplier_id)]

    def capacity(self, supplier_id: int) -> list[Capacity]:
        caps = [c for c in self._state.capacity.values() if c.supplier_id == supplier_id]
        caps.sort(key=lambda c: (c.process, c.window_start, c.window_end))
        return [_copy(c) for c in caps]

    def index_prices(self, index: str) -> list[tuple[int, int]]:
        """(published_at ms, price fen per unit), oldest first."""
        return list(self._state.index_prices.get(index, []))

    def index_price_band(self, index: str) -> tuple[int, int] | None:
        """(lowest, highest) price of `index` publishable without confirm_large_move: within
        index_price_band_percent of its last price. None when any price is: no price yet (the
        first publication has no band) or the band is off (0 percent)."""
        return publishable_band(self._state.index_prices.get(index), self._config.index_price_band_percent)

    def index_price_bands(self) -> dict[str, Any]:
        """{"percent": the band, "bands": {index: (lowest, highest)}} for every published index
        (empty when the band is off); see index_price_band."""
        bands = {}
        for index in sorted(self._state.index_prices):
            band = self.index_price_band(index)
            if band is not None:
                bands[index] = band
        return {"percent": self._config.index_price_band_percent, "bands": bands}

    def estimated_settlement_price(self, symbol: str) -> int | None:
        """MAT: the TWAP from the settlement window start to the latest published time (the frozen
        settlement price once settled); None before any price."""
        inst = self._state.instruments.get(symbol)
        if inst is None or inst.kind != MATERIAL_CALL:
            return None
        if inst.settlement_price is not None:
            return inst.settlement_price
        terms = inst.terms
        assert isinstance(terms, MaterialCallTerms)
        points = self._state.index_prices.get(terms.index, [])
        if not points:
            return None
        end = min(points[-1][0], inst.expiry)
        start = terms.settlement_window_start
        return twap(points, start, max(end, start))

    def system_balances(self) -> dict[str, int]:
        """The exchange's own ledger accounts (ledger.SYSTEM_LEDGER_ACCOUNTS), in fen."""
        return dict(sorted(self._state.system_balances.items()))
