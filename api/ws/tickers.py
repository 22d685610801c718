"""Per-instrument ticker state: last trade and 24-hour volume, and the ticker message
(docs/market-data.md, "Trades, ticker, instruments, index")."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.ws import channels as ch
from api.ws.book_state import BookState

VOLUME_WINDOW_MS = 24 * 3600 * 1000

TICKER_FIELDS = (
    "best_bid",
    "best_bid_quantity",
    "best_ask",
    "best_ask_quantity",
    "last_price",
    "last_quantity",
    "volume_24h",
)


@dataclass
class TickerState:
    last_price: int | None = None  # fen
    last_quantity: int = 0  # contracts
    volume: deque[tuple[int, int]] = field(default_factory=deque)  # (executed_at, quantity) of the last 24 h
    volume_total: int = 0  # contracts in `volume`
    sent: tuple[Any, ...] | None = None  # ticker_state of the last ticker sent

    def add_trade(self, executed_at: int, price: int, quantity: int) -> None:
        self.last_price = price
        self.last_quantity = quantity
        self.volume.append((executed_at, quantity))
        self.volume_total += quantity

    def volume_since(self, cutoff: int) -> int:
        volume = self.volume
        while volume and volume[0][0] < cutoff:
            self.volume_total -= volume.popleft()[1]
        return self.volume_total


def ticker_message(symbol: str, book: BookState | None, ticker: TickerState, now: int) -> dict[str, Any]:
    """The ticker at `now` (ms); a missing side is null with quantity 0."""
    bid = book.best_bid() if book is not None else None
    ask = book.best_ask() if book is not None else None
    return {
        "channel": ch.TICKER,
        "type": "ticker",
        "symbol": symbol,
        "best_bid": bid[0] if bid else None,
        "best_bid_quantity": bid[1] if bid else 0,
        "best_ask": ask[0] if ask else None,
        "best_ask_quantity": ask[1] if ask else 0,
        "last_price": ticker.last_price,
        "last_quantity": ticker.last_quantity,
        "volume_24h": ticker.volume_since(now - VOLUME_WINDOW_MS),
        "server_time": now,
    }


def ticker_state(message: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a ticker worth sending again (not its server_time)."""
    return tuple(message[k] for k in TICKER_FIELDS)
