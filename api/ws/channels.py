"""The channels a connection may subscribe to, and what each needs (docs/market-data.md).

Public channels carry market data for everyone; private channels carry only the authenticated
account's own events and need the `read` scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.ws.protocol import BAD_REQUEST, UNKNOWN_CHANNEL, WsError


@dataclass(frozen=True)
class Channel:
    name: str
    symbol: str  # "required" | "optional" | "none"
    private: bool = False


BOOK = "book"
TRADES = "trades"
TICKER = "ticker"
INSTRUMENTS = "instruments"
INDEX = "index"
ORDERS = "orders"
FILLS = "fills"
POSITIONS = "positions"
BALANCES = "balances"
BOOKINGS = "bookings"

CHANNELS = {
    channel.name: channel
    for channel in (
        Channel(BOOK, "required"),
        Channel(TRADES, "optional"),
        Channel(TICKER, "optional"),
        Channel(INSTRUMENTS, "none"),
        Channel(INDEX, "none"),
        Channel(ORDERS, "none", private=True),
        Channel(FILLS, "none", private=True),
        Channel(POSITIONS, "none", private=True),
        Channel(BALANCES, "none", private=True),
        Channel(BOOKINGS, "none", private=True),
    )
}
PRIVATE = frozenset(name for name, channel in CHANNELS.items() if channel.private)


def channel_for(name: str, symbol: str | None) -> Channel:
    """The channel, once the symbol fits it; WsError otherwise."""
    channel = CHANNELS.get(name)
    if channel is None:
        raise WsError(UNKNOWN_CHANNEL, f"no channel {name!r}; channels: {', '.join(CHANNELS)}")
    if channel.symbol == "required" and symbol is None:
        raise WsError(BAD_REQUEST, f"the {name} channel needs a symbol")
    if channel.symbol == "none" and symbol is not None:
        raise WsError(BAD_REQUEST, f"the {name} channel takes no symbol")
    return channel
