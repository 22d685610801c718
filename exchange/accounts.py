"""Accounts: who may do what, and each account's cash (available and locked, in fen).

Account 0 is the system (bootstrap and scheduler); it is not stored and may do what operators do.
"""

from __future__ import annotations

import msgspec

SYSTEM_ACCOUNT_ID = 0


class Role:
    CREATOR = "creator"
    SUPPLIER = "supplier"
    MARKET_MAKER = "market_maker"
    OPERATOR = "operator"
    INDEX_FEED = "index_feed"


ROLES = frozenset({Role.CREATOR, Role.SUPPLIER, Role.MARKET_MAKER, Role.OPERATOR, Role.INDEX_FEED})
TRADING_ROLES = frozenset({Role.CREATOR, Role.SUPPLIER, Role.MARKET_MAKER})


class Account(msgspec.Struct, kw_only=True):
    """A user account. `available` + `locked` (fen) is the cash it owns; locked backs its resting
    orders and its written material calls."""

    account_id: int
    name: str
    role: str
    available: int = 0
    locked: int = 0
    kill_switch: bool = False
    created_at: int = 0


def is_operator(actor_id: int, account: Account | None) -> bool:
    """The system account and operators run the market."""
    return actor_id == SYSTEM_ACCOUNT_ID or (account is not None and account.role == Role.OPERATOR)
