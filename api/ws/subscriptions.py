"""A connection's subscriptions, from its side: it subscribes through the hub (which keeps every
channel's registry) and remembers its books, which its heartbeat reports and `resync` refreshes."""

from __future__ import annotations

from api.ws import channels as ch
from api.ws.interfaces import Subscriber
from api.ws.market_data import MarketDataHub
from api.ws.protocol import NOT_SUBSCRIBED, WsError


class Subscriptions:
    def __init__(self, subscriber: Subscriber, hub: MarketDataHub) -> None:
        self.subscriber = subscriber
        self.hub = hub
        self.books: set[str] = set()  # symbols of the subscribed books

    def add(self, channel: str, symbol: str | None) -> None:
        """Subscribe; the channel's first messages are queued at once (a book's snapshot)."""
        self.hub.subscribe(self.subscriber, channel, symbol)
        if channel == ch.BOOK:
            assert symbol is not None
            self.books.add(symbol)

    def remove(self, channel: str, symbol: str | None) -> None:
        """Unsubscribe; NOT_SUBSCRIBED if it was not."""
        if not self.hub.is_subscribed(self.subscriber, channel, symbol):
            raise WsError(NOT_SUBSCRIBED, f"not subscribed to {channel} {symbol or ''}".strip())
        self.hub.unsubscribe(self.subscriber, channel, symbol)
        if channel == ch.BOOK:
            self.books.discard(symbol or "")

    def book_seq(self, symbol: str) -> int:
        """The book seq a `resync` of `symbol` restarts from; NOT_SUBSCRIBED if not subscribed."""
        if symbol not in self.books:
            raise WsError(NOT_SUBSCRIBED, f"subscribe to the book of {symbol!r} first")
        return self.hub.book_seq(symbol)

    def send_snapshot(self, symbol: str) -> None:
        self.hub.send_snapshot(self.subscriber, symbol)
