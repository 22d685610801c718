"""The Python SDK of the exchange: an async REST client (`CapexClient`), a WebSocket session
(`WsSession`) with correlated order entry and reconnection, a local order book kept in sync from
snapshot + deltas (`LocalBook`), and the market-maker bot built on them (`mm_bot`). docs/sdk.md."""

from clients.python.book import BookUpdate, LocalBook, book_checksum
from clients.python.errors import CapexError, ConnectionLost
from clients.python.models import Quote
from clients.python.rest import CapexClient
from clients.python.ws import WsSession

__all__ = [
    "BookUpdate",
    "CapexClient",
    "CapexError",
    "ConnectionLost",
    "LocalBook",
    "Quote",
    "WsSession",
    "book_checksum",
]
