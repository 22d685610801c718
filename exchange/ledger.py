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
from exchange.events import LedgerPosting

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


class LedgerMixin:
    """Posting primitives of the sequencer. They only append postings and mark accounts dirty; the
    sequencer emits one BalanceChanged per dirty account at the end of the command."""

    def _post(self, debit: str, credit: str, amount: int, memo: str) -> None:
        state = self.state
        pid = state.next_posting_id
        state.next_posting_id = pid + 1
        self._events.append(
            LedgerPosting(
                posting_id=pid, debit_account=debit, credit_account=credit, amount=amount, memo=memo
            )
        )

    def _lock(self, account: Account, amount: int, memo: str) -> None:
        """available -> locked"""
        if amount:
            account.available -= amount
            account.locked += amount
            self._dirty_accounts[account.account_id] = account
            names = _names(account.account_id)
            self._post(names[0], names[1], amount, memo)

    def _release(self, account: Account, amount: int, memo: str) -> None:
        """locked -> available"""
        if amount:
            account.locked -= amount
            account.available += amount
            self._dirty_accounts[account.account_id] = account
            names = _names(account.account_id)
            self._post(names[1], names[0], amount, memo)

    def _user_to_user(self, src: Account, src_part: int, dst: Account, amount: int, memo: str) -> None:
        """src (available or locked) -> dst available"""
        if amount:
            if src_part:
                src.locked -= amount
            else:
                src.available -= amount
            dst.available += amount
            self._dirty_accounts[src.account_id] = src
            self._dirty_accounts[dst.account_id] = dst
            self._post(_names(src.account_id)[src_part], _names(dst.account_id)[AVAILABLE], amount, memo)

    def _user_to_system(self, src: Account, src_part: int, system: str, amount: int, memo: str) -> None:
        if amount:
            if src_part:
                src.locked -= amount
            else:
                src.available -= amount
            balances = self.state.system_balances
            balances[system] = balances.get(system, 0) + amount
            self._dirty_accounts[src.account_id] = src
            self._post(_names(src.account_id)[src_part], system, amount, memo)

    def _system_to_user(self, system: str, dst: Account, amount: int, memo: str) -> None:
        if amount:
            balances = self.state.system_balances
            balances[system] = balances.get(system, 0) - amount
            dst.available += amount
            self._dirty_accounts[dst.account_id] = dst
            self._post(system, _names(dst.account_id)[AVAILABLE], amount, memo)
