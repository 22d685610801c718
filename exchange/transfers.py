"""Direct transfers between accounts: cash (available) and free longs of CAP / MAT positions.

A position transfer gives contracts of the sender's free long (position - reserved); the receiver's
long grows (closing a short of the receiver releases its cover). Swap positions are always zero and
can not be transferred.
"""

from __future__ import annotations

from exchange.commands import TransferCash, TransferPosition
from exchange.events import TransferDone
from exchange.instruments import Status
from exchange.results import ResultCode
from exchange.risk import Reject


class TransfersMixin:
    def _transfer_cash(self, c: TransferCash) -> dict:
        src = self._require_account(c.actor_id)
        dst = self._require_account(c.to_account_id)
        if src is dst:
            raise Reject(ResultCode.SAME_ACCOUNT, "transfer to the same account")
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        if src.available < c.amount:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"available {src.available} < {c.amount}")
        tid = self._next_transfer_id()
        self._user_to_user(src, 0, dst, c.amount, f"transfer {tid}")
        self._events.append(
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

    def _transfer_position(self, c: TransferPosition) -> dict:
        src = self._require_account(c.actor_id)
        dst = self._require_account(c.to_account_id)
        if src is dst:
            raise Reject(ResultCode.SAME_ACCOUNT, "transfer to the same account")
        inst = self._require_instrument(c.symbol)
        if inst.kind == "SWP":
            raise Reject(ResultCode.INVALID_FIELD, "swap positions can not be transferred")
        if inst.status in (Status.EXPIRED, Status.SETTLED):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        if c.quantity <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "quantity must be > 0")
        pos = self._find_position(src.account_id, inst.symbol)
        free = pos.position - pos.reserved if pos is not None else 0
        if free < c.quantity:
            raise Reject(ResultCode.INSUFFICIENT_POSITION, f"free long {max(free, 0)} < {c.quantity}")
        tid = self._next_transfer_id()
        self._remove_free_long(src.account_id, inst, c.quantity)
        self._add_long(dst.account_id, inst, c.quantity)
        self._events.append(
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
        tid = self.state.next_transfer_id
        self.state.next_transfer_id = tid + 1
        return tid
