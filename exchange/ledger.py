"""Double-entry ledger of cash, in fen.

Every movement of cash is one posting of a positive amount from a debit ledger account to a credit
ledger account; the sum of all balances, `external` included, is always zero. User cash is two
ledger accounts, `user:<id>:available` and `user:<id>:locked`, whose balances live on the
`Account` (available, locked); the exchange's own accounts live in `State.system_balances`.

Sign convention: a posting moves `amount` out of the debit account into the credit account, so
`external` goes negative by what was deposited.
"""

from __future__ import annotations

from exchange.accounts import Account
from exchange.effects import Effects
from exchange.events import LedgerPosting
from exchange.state import State

FEES = "exchange:fees"
ESCROW = "exchange:escrow"
SETTLEMENT = "exchange:settlement"
EXTERNAL = "external"
SYSTEM_LEDGER_ACCOUNTS = (ESCROW, EXTERNAL, FEES, SETTLEMENT)

AVAILABLE = 0
LOCKED = 1


def user_ledger_account(account_id: int, part: int) -> str:
    return f"user:{account_id}:{'locked' if part else 'available'}"


_NAMES: dict[int, tuple[str, str]] = {}


def _names(account_id: int) -> tuple[str, str]:
    """(available, locked) ledger account names of a user, cached (they never change)."""
    names = _NAMES.get(account_id)
    if names is None:
        names = _NAMES[account_id] = (f"user:{account_id}:available", f"user:{account_id}:locked")
    return names


class Ledger:
    """The posting primitives. Each moves cash on the accounts (or `State.system_balances`),
    appends one LedgerPosting to the command's events and marks the user accounts it touched, for
    which the sequencer emits one BalanceChanged each at the end of the command. Amounts in fen;
    a zero amount posts nothing. The callers check that nothing goes negative."""

    __slots__ = ("_state", "_effects", "_dirty_accounts")

    def __init__(self, state: State, effects: Effects) -> None:
        self._state = state
        self._effects = effects
        self._dirty_accounts = effects.dirty_accounts

    def post(self, debit: str, credit: str, amount: int, memo: str) -> None:
        """Record a movement of `amount` from `debit` to `credit` (the balances are the caller's)."""
        state = self._state
        pid = state.next_posting_id
        state.next_posting_id = pid + 1
        self._effects.events.append(
            LedgerPosting(
                posting_id=pid, debit_account=debit, credit_account=credit, amount=amount, memo=memo
            )
        )

    def lock(self, account: Account, amount: int, memo: str) -> None:
        """available -> locked"""
        if amount:
            account.available -= amount
            account.locked += amount
            self._dirty_accounts[account.account_id] = account
            names = _names(account.account_id)
            self.post(names[0], names[1], amount, memo)

    def release(self, account: Account, amount: int, memo: str) -> None:
        """locked -> available"""
        if amount:
            account.locked -= amount
            account.available += amount
            self._dirty_accounts[account.account_id] = account
            names = _names(account.account_id)
            self.post(names[1], names[0], amount, memo)

    def user_to_user(self, src: Account, src_part: int, dst: Account, amount: int, memo: str) -> None:
        """src (AVAILABLE or LOCKED) -> dst available"""
        if amount:
            if src_part:
                src.locked -= amount
            else:
                src.available -= amount
            dst.available += amount
            self._dirty_accounts[src.account_id] = src
            self._dirty_accounts[dst.account_id] = dst
            self.post(_names(src.account_id)[src_part], _names(dst.account_id)[AVAILABLE], amount, memo)

    def user_to_system(self, src: Account, src_part: int, system: str, amount: int, memo: str) -> None:
        """src (AVAILABLE or LOCKED) -> one of SYSTEM_LEDGER_ACCOUNTS"""
        if amount:
            if src_part:
                src.locked -= amount
            else:
                src.available -= amount
            balances = self._state.system_balances
            balances[system] = balances.get(system, 0) + amount
            self._dirty_accounts[src.account_id] = src
            self.post(_names(src.account_id)[src_part], system, amount, memo)

    def system_to_user(self, system: str, dst: Account, amount: int, memo: str) -> None:
        """one of SYSTEM_LEDGER_ACCOUNTS -> dst available"""
        if amount:
            balances = self._state.system_balances
            balances[system] = balances.get(system, 0) - amount
            dst.available += amount
            self._dirty_accounts[dst.account_id] = dst
            self.post(system, _names(dst.account_id)[AVAILABLE], amount, memo)
