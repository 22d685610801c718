"""Accounts and cash: CreateAccount, Deposit, Withdraw, SetKillSwitch, and direct transfers
between accounts (TransferCash, TransferPosition).

A position transfer gives contracts of the sender's free long (position - reserved); the receiver's
long grows (closing a short of the receiver releases its cover). Swap positions are always zero and
can not be transferred.
"""

from __future__ import annotations

from collections.abc import Callable

from exchange import commands as cmd
from exchange.accounts import ROLES, Account, is_operator
from exchange.effects import Effects
from exchange.events import AccountCreated, BalanceChanged, KillSwitchChanged, TransferDone
from exchange.handlers.require import (
    require_account,
    require_actor,
    require_instrument,
    require_not_expired,
    require_operator,
)
from exchange.instruments import CAPACITY_SWAP
from exchange.ledger import AVAILABLE, EXTERNAL, Ledger
from exchange.results import Reject, ResultCode
from exchange.risk import Risk
from exchange.state import Order, State
from matching_engine.codes import INT64_MAX


class AccountHandlers:
    """`mass_cancel(account_id, symbol or None) -> cancelled` is the order handlers' (the kill
    switch cancels every resting order of the account); a new account gets its (empty) entry in
    the open-order index."""

    __slots__ = ("_state", "_effects", "_open_orders_by_account", "_ledger", "_risk", "_mass_cancel")

    def __init__(
        self,
        state: State,
        effects: Effects,
        open_orders_by_account: dict[int, dict[int, Order]],
        ledger: Ledger,
        risk: Risk,
        mass_cancel: Callable[[int, str | None], int],
    ) -> None:
        self._state = state
        self._effects = effects
        self._open_orders_by_account = open_orders_by_account
        self._ledger = ledger
        self._risk = risk
        self._mass_cancel = mass_cancel

    def create_account(self, c: cmd.CreateAccount) -> dict[str, int]:
        state = self._state
        require_operator(state, c.actor_id)
        if c.role not in ROLES:
            raise Reject(ResultCode.INVALID_FIELD, f"unknown role {c.role!r}")
        if not c.name:
            raise Reject(ResultCode.INVALID_FIELD, "name must not be empty")
        aid = state.next_account_id
        state.next_account_id = aid + 1
        state.accounts[aid] = Account(account_id=aid, name=c.name, role=c.role, created_at=c.timestamp)
        self._open_orders_by_account[aid] = {}
        events = self._effects.events
        events.append(AccountCreated(account_id=aid, name=c.name, role=c.role))
        events.append(BalanceChanged(account_id=aid, available=0, locked=0))
        return {"account_id": aid}

    def deposit(self, c: cmd.Deposit) -> dict[str, object]:
        state = self._state
        require_operator(state, c.actor_id)
        account = require_account(state, c.account_id)
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        # All cash inside the exchange came in by deposit, so bounding the total bounds every
        # balance, lock and posting below 2^63 (the BIGINT columns of the store).
        cash_inside = -state.system_balances[EXTERNAL]
        if c.amount > INT64_MAX - cash_inside:
            raise Reject(ResultCode.INVALID_FIELD, f"the exchange can hold at most {INT64_MAX} fen in all")
        self._ledger.system_to_user(EXTERNAL, account, c.amount, "deposit")
        return {}

    def withdraw(self, c: cmd.Withdraw) -> dict[str, object]:
        state = self._state
        require_operator(state, c.actor_id)
        account = require_account(state, c.account_id)
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        if account.available < c.amount:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"available {account.available} < {c.amount}")
        self._ledger.user_to_system(account, AVAILABLE, EXTERNAL, c.amount, "withdrawal")
        return {}

    def set_kill_switch(self, c: cmd.SetKillSwitch) -> dict[str, int]:
        state = self._state
        actor = require_actor(state, c.actor_id)
        target = require_account(state, c.account_id)
        if c.actor_id != c.account_id and not is_operator(c.actor_id, actor):
            raise Reject(ResultCode.NOT_PERMITTED, "only the account itself or an operator")
        cancelled = 0
        if c.engaged:
            cancelled = self._mass_cancel(target.account_id, None)
        target.kill_switch = c.engaged
        self._effects.events.append(KillSwitchChanged(account_id=target.account_id, engaged=c.engaged))
        return {"cancelled": cancelled}

    # -- TRANSFERS ----------------------------------------------------------------------------------

    def transfer_cash(self, c: cmd.TransferCash) -> dict[str, int]:
        state = self._state
        src = require_account(state, c.actor_id)
        dst = require_account(state, c.to_account_id)
        if src is dst:
            raise Reject(ResultCode.SAME_ACCOUNT, "transfer to the same account")
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        if src.available < c.amount:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"available {src.available} < {c.amount}")
        tid = self._next_transfer_id()
        self._ledger.user_to_user(src, AVAILABLE, dst, c.amount, f"transfer {tid}")
        self._effects.events.append(
            TransferDone(
                transfer_id=tid,
                from_account_id=src.account_id,
                to_account_id=dst.account_id,
                symbol=None,
                quantity=c.amount,
                transferred_at=c.timestamp,
            )
        )
        return {"transfer_id": tid}

    def transfer_position(self, c: cmd.TransferPosition) -> dict[str, int]:
        state = self._state
        src = require_account(state, c.actor_id)
        dst = require_account(state, c.to_account_id)
        if src is dst:
            raise Reject(ResultCode.SAME_ACCOUNT, "transfer to the same account")
        inst = require_instrument(state, c.symbol)
        if inst.kind == CAPACITY_SWAP:
            raise Reject(ResultCode.INVALID_FIELD, "swap positions can not be transferred")
        require_not_expired(inst)
        if c.quantity <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "quantity must be > 0")
        risk = self._risk
        pos = risk.find_position(src.account_id, inst.symbol)
        free = pos.position - pos.reserved if pos is not None else 0
        if free < c.quantity:
            raise Reject(ResultCode.INSUFFICIENT_POSITION, f"free long {max(free, 0)} < {c.quantity}")
        tid = self._next_transfer_id()
        risk.remove_free_long(src.account_id, inst, c.quantity)
        risk.add_long(dst.account_id, inst, c.quantity)
        self._effects.events.append(
            TransferDone(
                transfer_id=tid,
                from_account_id=src.account_id,
                to_account_id=dst.account_id,
                symbol=inst.symbol,
                quantity=c.quantity,
                transferred_at=c.timestamp,
            )
        )
        return {"transfer_id": tid}

    def _next_transfer_id(self) -> int:
        state = self._state
        tid = state.next_transfer_id
        state.next_transfer_id = tid + 1
        return tid
