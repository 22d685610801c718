"""Result codes, a numeric range per pipeline stage, and the result of one command.

0 is success. Every other code names why a command was refused; a refused command changes nothing.
The API maps codes to HTTP statuses by range and sends the name as the machine-readable code.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from exchange.events import AnyEvent


class ResultCode(IntEnum):
    OK = 0

    # 1000-1999 validation: the command is malformed or not allowed to its actor
    UNKNOWN_ACCOUNT = 1001
    UNKNOWN_INSTRUMENT = 1002
    INVALID_FIELD = 1003  # a field out of its domain (negative amount, unknown side, bad window...)
    NOT_PERMITTED = 1004  # the actor's role or ownership does not allow this command
    DUPLICATE_SYMBOL = 1005
    UNKNOWN_ORDER = 1006
    NOT_YOUR_ORDER = 1007
    UNKNOWN_BOOKING = 1008
    SAME_ACCOUNT = 1009
    UNKNOWN_INDEX = 1010  # a material call on an index that has no published price yet

    # 2000-2999 risk: collateral and holdings
    INSUFFICIENT_FUNDS = 2001
    INSUFFICIENT_CAPACITY = 2002
    INSUFFICIENT_POSITION = 2003
    KILL_SWITCH_ENGAGED = 2004
    FAT_FINGER = 2005  # price outside the band around the reference price (OrderHandlers.fat_finger_band)
    INDEX_PRICE_BAND = 2006  # index price outside the band around the last one, not confirmed

    # 3000-3999 matching: 3000 + matching_engine.codes.RejectReason
    MATCHING_INVALID_COMMAND = 3001
    MATCHING_INVALID_QUANTITY = 3002
    MATCHING_QUANTITY_OFF_LOT = 3003
    MATCHING_PRICE_OFF_TICK = 3004
    MATCHING_PRICE_OUT_OF_BAND = 3005
    MATCHING_NOTIONAL_OVERFLOW = 3006
    MATCHING_DUPLICATE_ORDER_ID = 3007
    MATCHING_UNKNOWN_ORDER = 3008
    MATCHING_NOT_ORDER_OWNER = 3009
    MATCHING_WOULD_CROSS = 3010

    # 4000-4999 lifecycle: the instrument's or booking's state does not allow it now
    INSTRUMENT_NOT_TRADING = 4001
    PAST_DEADLINE = 4002
    NOT_EXERCISABLE = 4003  # wrong kind, or nothing to exercise
    BOOKING_STATE = 4004  # milestone out of order, booking already closed
    DUPLICATE_CLIENT_ORDER_ID = 4005  # same id, different command: refused (same command: first result)

    # 5000-5999 system
    STORE_UNAVAILABLE = 5001  # the journal could not be written; nothing was acknowledged


class CommandResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the sequencer answers to one command, once it is durable.

    `seq` is the journal sequence number of the command (rejected commands are journaled too, so
    that replay reproduces sequence numbers and idempotency answers); `data` holds what the command
    created (order_id, account_id, booking_ids, ...).

    `gc=False`: the sequencer keeps one result per client order id for idempotent retries, so
    results pile up by the hundred thousand; tracked by the cycle collector, each full collection
    walked them all (50-150 ms pauses under load). A result never refers back to itself, so it
    cannot be part of a reference cycle."""

    seq: int
    code: int
    message: str = ""
    data: dict[str, Any] = {}
    events: tuple[AnyEvent, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.OK

    @property
    def code_name(self) -> str:
        return ResultCode(self.code).name


class Reject(Exception):
    """A command is refused with `code`; raised before anything is mutated."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
