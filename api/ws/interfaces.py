"""The small interfaces between the modules of `api/ws` (LiquiBook's listener interfaces).

Each side knows the other only through these, so the dependencies run one way: the hub never
imports a session nor protection, protection never imports the hub, and `api.ws.start` wires the
concrete objects together.

    Session ----------- is a Subscriber -------------> MarketDataHub (fan-out)
    MarketMakerProtection -- is a TradeListener -----> MarketDataHub (every trade, in journal order)
    MarketDataHub ------ is an AccountNotifier ------> MarketMakerProtection (mmp_triggered)
    Instruments -------- is Underlyings -------------> protection, order entry
    MarketDataHub ------ is BookSequences -----------> Heartbeat (one per session)
    MarketMakerProtection -- is a QuoteGuard --------> OrderEntry
"""

from __future__ import annotations

from typing import Protocol

from exchange.events import TradeExecuted


class Subscriber(Protocol):
    """What the hub needs of a connection."""

    @property
    def account_id(self) -> int | None:
        """The authenticated account (None before `auth`): the key of its private channels."""
        ...

    def push(self, text: str) -> None:
        """Queue one encoded message; never waits (a connection that falls behind is dropped)."""
        ...


class TradeListener(Protocol):
    def on_trade(self, trade: TradeExecuted, underlying: str | None) -> None:
        """Called by the hub for every trade, in journal order, synchronously (before the trade
        is fanned out); `underlying` is None for an instrument the hub does not know."""
        ...


class AccountNotifier(Protocol):
    def push_to_account(self, account_id: int, text: str) -> None:
        """Queue `text` on every authenticated connection of the account in this process."""
        ...


class Underlyings(Protocol):
    """What market-maker protection groups instruments by (api/ws/instruments.py)."""

    def underlying(self, symbol: str) -> str | None: ...

    def symbols_of(self, underlying: str) -> list[str]: ...


class QuoteGuard(Protocol):
    """Market-maker protection as order entry sees it."""

    def check(self, account_id: int, underlying: str | None) -> None:
        """Raises WsError(MMP_TRIGGERED) while the account is frozen on the underlying."""
        ...

    def any_frozen(self, account_id: int) -> bool: ...


class BookSequences(Protocol):
    """What a heartbeat reports: the last journal seq processed, each subscribed book's seq."""

    @property
    def journal_seq(self) -> int: ...

    def book_seq(self, symbol: str) -> int: ...
