"""Checks that every handler makes first: who acts, on which account or instrument. Each returns
what it found or raises results.Reject."""

from __future__ import annotations

from exchange.accounts import SYSTEM_ACCOUNT_ID, Account, is_operator
from exchange.instruments import Instrument, Status
from exchange.results import Reject, ResultCode
from exchange.state import State


def require_account(state: State, account_id: int) -> Account:
    account = state.accounts.get(account_id)
    if account is None:
        raise Reject(ResultCode.UNKNOWN_ACCOUNT, f"unknown account {account_id}")
    return account


def require_actor(state: State, actor_id: int) -> Account | None:
    """The actor must exist (the system account 0 always does); returns None for the system."""
    if actor_id == SYSTEM_ACCOUNT_ID:
        return None
    return require_account(state, actor_id)


def require_operator(state: State, actor_id: int) -> None:
    account = require_actor(state, actor_id)
    if not is_operator(actor_id, account):
        raise Reject(ResultCode.NOT_PERMITTED, "operators only")


def require_instrument(state: State, symbol: str) -> Instrument:
    inst = state.instruments.get(symbol)
    if inst is None:
        raise Reject(ResultCode.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol!r}")
    return inst


def require_tradable(inst: Instrument, ts: int) -> None:
    """Orders are taken while trading (or pending once trading_start has come) and before expiry."""
    status = inst.status
    if status == Status.TRADING or (status == Status.PENDING and ts >= inst.trading_start):
        if ts < inst.expiry:
            return
        raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} has expired")
    raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {status}")


def require_not_expired(inst: Instrument) -> None:
    if inst.status in (Status.EXPIRED, Status.SETTLED):
        raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
