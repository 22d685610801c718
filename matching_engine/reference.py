"""The pure-Python reference order book: the executable specification of docs/engine.md.

`ReferenceOrderBook` follows the same contract as the Cython `matching_engine.book.OrderBook` and
emits the same events; the differential tests drive both with the same commands, and the engine
benchmark uses this book as its baseline. It is plain but not naive:

- each side is a `SortedDict` of price levels keyed so that the best level is first (asks by price,
  bids by minus the price);
- each level keeps its orders in an `OrderedDict` by order id: FIFO with O(1) head access and O(1)
  removal of any order (cancel never scans);
- an order id -> order index, and an account -> order ids index for mass cancel.

Prices are signed int64 in minor units (multiples of `tick`), quantities int64 contracts
(multiples of `lot`). All numeric codes come from `matching_engine.codes`.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from itertools import chain, islice
from typing import TYPE_CHECKING, cast

from sortedcontainers import SortedDict

from matching_engine.codes import (
    COMMAND_WIDTH,
    INT64_MAX,
    INT64_MIN,
    AmendPriority,
    CancelReason,
    CommandKind,
    EventKind,
    OrderType,
    RejectReason,
    Side,
    StpMode,
)
from matching_engine.events import BookEvent

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# Plain ints for the hot path (IntEnum attribute lookups and comparisons are slow).
BUY = int(Side.BUY)
SELL = int(Side.SELL)

LIMIT = int(OrderType.LIMIT)
IOC = int(OrderType.IOC)
FOK = int(OrderType.FOK)
POST_ONLY = int(OrderType.POST_ONLY)
MARKET = int(OrderType.MARKET)

STP_NONE = int(StpMode.NONE)
CANCEL_NEWEST = int(StpMode.CANCEL_NEWEST)
CANCEL_OLDEST = int(StpMode.CANCEL_OLDEST)
CANCEL_BOTH = int(StpMode.CANCEL_BOTH)

PLACE = int(CommandKind.PLACE)
CANCEL = int(CommandKind.CANCEL)
AMEND = int(CommandKind.AMEND)
MASS_CANCEL = int(CommandKind.MASS_CANCEL)

ACCEPTED = int(EventKind.ACCEPTED)
REJECTED = int(EventKind.REJECTED)
FILL = int(EventKind.FILL)
CANCELLED = int(EventKind.CANCELLED)
AMENDED = int(EventKind.AMENDED)
LEVEL = int(EventKind.LEVEL)

KEPT = int(AmendPriority.KEPT)
LOST = int(AmendPriority.LOST)

USER = int(CancelReason.USER)
BY_MASS_CANCEL = int(CancelReason.MASS_CANCEL)
IOC_REMAINDER = int(CancelReason.IOC_REMAINDER)
FOK_NOT_FILLABLE = int(CancelReason.FOK_NOT_FILLABLE)
SELF_TRADE = int(CancelReason.SELF_TRADE)
MARKET_PROTECTION = int(CancelReason.MARKET_PROTECTION)

INVALID_COMMAND = int(RejectReason.INVALID_COMMAND)
INVALID_QUANTITY = int(RejectReason.INVALID_QUANTITY)
QUANTITY_OFF_LOT = int(RejectReason.QUANTITY_OFF_LOT)
PRICE_OFF_TICK = int(RejectReason.PRICE_OFF_TICK)
PRICE_OUT_OF_BAND = int(RejectReason.PRICE_OUT_OF_BAND)
NOTIONAL_OVERFLOW = int(RejectReason.NOTIONAL_OVERFLOW)
DUPLICATE_ORDER_ID = int(RejectReason.DUPLICATE_ORDER_ID)
UNKNOWN_ORDER = int(RejectReason.UNKNOWN_ORDER)
NOT_ORDER_OWNER = int(RejectReason.NOT_ORDER_OWNER)
WOULD_CROSS = int(RejectReason.WOULD_CROSS)

_SIDES = frozenset(int(v) for v in Side)
_ORDER_TYPES = frozenset(int(v) for v in OrderType)
_STP_MODES = frozenset(int(v) for v in StpMode)
_RESTING_TYPES = frozenset((LIMIT, POST_ONLY))

# Snapshot layout (little endian), see docs/engine.md "Queries".
SNAPSHOT_MAGIC = b"MEBK"
SNAPSHOT_VERSION = 1
_HEADER = struct.Struct("<4si7q")  # magic, version, instrument_id, tick, lot, min, max, sequence, count
_ORDER = struct.Struct("<4q3i")  # order_id, account_id, price, open quantity, side, order_type, stp


def _check_int64(*values: int) -> None:
    """OverflowError when an argument does not fit in int64 (the Cython book's typed arguments)."""
    for value in values:
        if not INT64_MIN <= value <= INT64_MAX:
            raise OverflowError(f"{value} does not fit in int64")


class _Order:
    """A resting order (or the taker while it matches). `quantity` is the open quantity."""

    __slots__ = ("order_id", "account_id", "side", "price", "quantity", "order_type", "stp")

    def __init__(
        self, order_id: int, account_id: int, side: int, price: int, quantity: int, order_type: int, stp: int
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.side = side
        self.price = price
        self.quantity = quantity
        self.order_type = order_type
        self.stp = stp


class _Level:
    """All resting orders of one side at one price, oldest first; `quantity` is their open total."""

    __slots__ = ("side", "price", "quantity", "orders")

    def __init__(self, side: int, price: int) -> None:
        self.side = side
        self.price = price
        self.quantity = 0
        self.orders: OrderedDict[int, _Order] = OrderedDict()


class ReferenceOrderBook:
    """A price-time priority book of one instrument; see docs/engine.md for the contract."""

    __slots__ = (
        "instrument_id",
        "tick",
        "lot",
        "min_price",
        "max_price",
        "_sequence",
        "_bids",
        "_asks",
        "_orders",
        "_accounts",
    )

    def __init__(self, instrument_id: int, tick: int, lot: int, min_price: int, max_price: int) -> None:
        if tick <= 0:
            raise ValueError(f"tick must be > 0, got {tick}")
        if lot <= 0:
            raise ValueError(f"lot must be > 0, got {lot}")
        if min_price > max_price:
            raise ValueError(f"min_price {min_price} > max_price {max_price}")
        if min_price % tick or max_price % tick:
            raise ValueError(
                f"min_price {min_price} and max_price {max_price} must be multiples of tick {tick}"
            )
        self.instrument_id = instrument_id
        self.tick = tick
        self.lot = lot
        self.min_price = min_price
        self.max_price = max_price
        self._sequence = 0
        self._bids: SortedDict = SortedDict()  # -price -> _Level: best (highest) bid first
        self._asks: SortedDict = SortedDict()  # price -> _Level: best (lowest) ask first
        self._orders: dict[int, _Order] = {}  # order id -> resting order
        self._accounts: dict[int, set[int]] = {}  # account id -> ids of its resting orders

    # -- COMMANDS --------------------------------------------------------------------------------
    # The public commands check that their arguments are int64, like the Cython signatures do,
    # then run the implementation; process_batch reads int64 buffers and skips that check.

    def place(
        self,
        order_id: int,
        account_id: int,
        side: int,
        price: int,
        quantity: int,
        order_type: int = LIMIT,
        stp: int = STP_NONE,
    ) -> list[BookEvent]:
        """Validate, accept, match and rest (or cancel the rest of) a new order."""
        _check_int64(order_id, account_id, side, price, quantity, order_type, stp)
        return self._place(order_id, account_id, side, price, quantity, order_type, stp)

    def cancel(self, order_id: int, account_id: int) -> list[BookEvent]:
        """Cancel one resting order of `account_id`."""
        _check_int64(order_id, account_id)
        return self._cancel(order_id, account_id)

    def amend(self, order_id: int, account_id: int, price: int, quantity: int) -> list[BookEvent]:
        """Change a resting order's price and/or open quantity (see docs/engine.md "AMEND")."""
        _check_int64(order_id, account_id, price, quantity)
        return self._amend(order_id, account_id, price, quantity)

    def mass_cancel(self, account_id: int) -> list[BookEvent]:
        """Cancel every resting order of `account_id`, in ascending order id."""
        _check_int64(account_id)
        return self._mass_cancel(account_id)

    def process(self, command: Sequence[int]) -> list[BookEvent]:
        """Apply one command record (a `BookCommand` or any 8-sequence in `COMMAND_FIELDS` order)."""
        if len(command) != COMMAND_WIDTH:
            raise ValueError(f"a command has {COMMAND_WIDTH} fields, got {len(command)}")
        _check_int64(*command)
        return self._process(command)

    # -- COMMAND IMPLEMENTATIONS ---------------------------------------------------------------

    def _place(
        self,
        order_id: int,
        account_id: int,
        side: int,
        price: int,
        quantity: int,
        order_type: int = LIMIT,
        stp: int = STP_NONE,
    ) -> list[BookEvent]:
        """Validate, accept, match and rest (or cancel the rest of) a new order."""
        reason = self._place_reject_reason(order_id, side, price, quantity, order_type, stp)
        if reason:
            return [self._event(REJECTED, order_id, account_id, side, price, quantity, 0, reason)]
        events = [self._event(ACCEPTED, order_id, account_id, side, price, quantity, quantity, order_type)]
        taker = _Order(order_id, account_id, side, price, quantity, order_type, stp)
        if order_type == FOK and not self._fok_fillable(taker):
            events.append(
                self._event(CANCELLED, order_id, account_id, side, price, quantity, 0, FOK_NOT_FILLABLE)
            )
            return events
        touched: dict[tuple[int, int], None] = {}
        if self._match(taker, events, touched) and taker.quantity:
            if order_type == LIMIT or order_type == POST_ONLY:
                self._rest(taker)
                touched[(side, price)] = None
            else:
                reason = MARKET_PROTECTION if order_type == MARKET else IOC_REMAINDER
                events.append(
                    self._event(CANCELLED, order_id, account_id, side, price, taker.quantity, 0, reason)
                )
        self._level_events(touched, events)
        return events

    def _cancel(self, order_id: int, account_id: int) -> list[BookEvent]:
        """Cancel one resting order of `account_id`."""
        order = self._orders.get(order_id)
        if order is None:
            return [self._event(REJECTED, order_id, account_id, 0, 0, 0, 0, UNKNOWN_ORDER)]
        if order.account_id != account_id:
            return [self._event(REJECTED, order_id, account_id, order.side, 0, 0, 0, NOT_ORDER_OWNER)]
        self._remove(order)
        return [
            self._event(CANCELLED, order_id, account_id, order.side, order.price, order.quantity, 0, USER),
            self._level_event(order.side, order.price),
        ]

    def _amend(self, order_id: int, account_id: int, price: int, quantity: int) -> list[BookEvent]:
        """Change a resting order's price and/or open quantity (see docs/engine.md "AMEND")."""
        order = self._orders.get(order_id)
        if order is None:
            return [self._event(REJECTED, order_id, account_id, 0, price, quantity, 0, UNKNOWN_ORDER)]
        side = order.side
        reason = 0
        if order.account_id != account_id:
            reason = NOT_ORDER_OWNER
        else:
            reason = self._price_quantity_reject_reason(price, quantity)
            if not reason and order.order_type == POST_ONLY and self._would_cross(side, price):
                reason = WOULD_CROSS
        if reason:
            return [self._event(REJECTED, order_id, account_id, side, price, quantity, 0, reason)]

        if price == order.price and quantity <= order.quantity:
            # Same price, no increase: the order keeps its place in the queue.
            level = self._side_levels(side)[-price if side == BUY else price]
            level.quantity -= order.quantity - quantity
            order.quantity = quantity
            return [
                self._event(AMENDED, order_id, account_id, side, price, quantity, quantity, KEPT),
                self._level_event(side, price),
            ]

        # Price change or increase: leave the level, re-enter at the back (matching first).
        touched: dict[tuple[int, int], None] = {(side, order.price): None}
        self._remove(order)
        order.price = price
        order.quantity = quantity
        events = [self._event(AMENDED, order_id, account_id, side, price, quantity, quantity, LOST)]
        if self._match(order, events, touched) and order.quantity:
            self._rest(order)
            touched[(side, price)] = None
        self._level_events(touched, events)
        return events

    def _mass_cancel(self, account_id: int) -> list[BookEvent]:
        """Cancel every resting order of `account_id`, in ascending order id."""
        ids = self._accounts.get(account_id)
        if not ids:
            return []
        events: list[BookEvent] = []
        touched: dict[tuple[int, int], None] = {}
        for order_id in sorted(ids):
            order = self._orders[order_id]
            self._remove(order)
            events.append(
                self._event(
                    CANCELLED,
                    order_id,
                    account_id,
                    order.side,
                    order.price,
                    order.quantity,
                    0,
                    BY_MASS_CANCEL,
                )
            )
            touched[(order.side, order.price)] = None
        self._level_events(touched, events)
        return events

    def _process(self, command: Sequence[int]) -> list[BookEvent]:
        """Apply one command record whose fields are known to be int64."""
        kind, order_id, account_id, side, order_type, stp, price, quantity = command
        if kind == PLACE:
            return self._place(order_id, account_id, side, price, quantity, order_type, stp)
        if kind == CANCEL:
            return self._cancel(order_id, account_id)
        if kind == AMEND:
            return self._amend(order_id, account_id, price, quantity)
        if kind == MASS_CANCEL:
            return self._mass_cancel(account_id)
        return [self._event(REJECTED, order_id, account_id, side, price, quantity, 0, INVALID_COMMAND)]

    def process_batch(self, commands: Iterable[int]) -> array[int]:
        """Apply a flat int64 buffer of command records; return the flat int64 event records."""
        try:
            view = memoryview(cast("ReadableBuffer", commands))  # not every iterable is a buffer
        except TypeError:
            view = None
        if view is not None and view.ndim == 1 and view.format in ("q", "l") and view.itemsize == 8:
            values = view.tolist()
        else:  # any other iterable of ints, as the Cython book does
            values = array("q", commands).tolist()
        if len(values) % COMMAND_WIDTH:
            raise ValueError(
                f"a command buffer holds a multiple of {COMMAND_WIDTH} values, got {len(values)}"
            )
        process = self._process
        events: list[BookEvent] = []
        for start in range(0, len(values), COMMAND_WIDTH):
            events += process(values[start : start + COMMAND_WIDTH])
        return array("q", chain.from_iterable(events))

    # -- QUERIES ---------------------------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        """(price, total open quantity) of the highest bid, or None."""
        if not self._bids:
            return None
        level = self._bids.peekitem(0)[1]
        return (level.price, level.quantity)

    def best_ask(self) -> tuple[int, int] | None:
        """(price, total open quantity) of the lowest ask, or None."""
        if not self._asks:
            return None
        level = self._asks.peekitem(0)[1]
        return (level.price, level.quantity)

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """The best `levels` levels of each side, best first, as (price, total quantity, order count)."""
        levels = max(levels, 0)
        return (
            [(lv.price, lv.quantity, len(lv.orders)) for lv in islice(self._bids.values(), levels)],
            [(lv.price, lv.quantity, len(lv.orders)) for lv in islice(self._asks.values(), levels)],
        )

    def order(self, order_id: int) -> tuple[int, int, int, int, int, int, int] | None:
        """(order_id, account_id, side, price, open quantity, order_type, stp) of a resting order."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        return (o.order_id, o.account_id, o.side, o.price, o.quantity, o.order_type, o.stp)

    @property
    def order_count(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    @property
    def level_count(self) -> int:
        """Number of price levels, bids plus asks."""
        return len(self._bids) + len(self._asks)

    @property
    def sequence(self) -> int:
        """The seq of the last event emitted (0 for a new book)."""
        return self._sequence

    # -- SNAPSHOTS -------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole book as bytes (format in docs/engine.md), orders in priority order."""
        parts = [
            _HEADER.pack(
                SNAPSHOT_MAGIC,
                SNAPSHOT_VERSION,
                self.instrument_id,
                self.tick,
                self.lot,
                self.min_price,
                self.max_price,
                self._sequence,
                len(self._orders),
            )
        ]
        pack = _ORDER.pack
        for levels in (self._bids, self._asks):
            for level in levels.values():
                for o in level.orders.values():
                    parts.append(
                        pack(o.order_id, o.account_id, o.price, o.quantity, o.side, o.order_type, o.stp)
                    )
        return b"".join(parts)

    @classmethod
    def restore(cls, data: bytes) -> ReferenceOrderBook:
        """Rebuild a book from `snapshot()` bytes (of either implementation)."""
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise ValueError("snapshot too short")
        magic, version, instrument_id, tick, lot, min_price, max_price, sequence, count = _HEADER.unpack_from(
            data
        )
        if magic != SNAPSHOT_MAGIC:
            raise ValueError(f"not a book snapshot (magic {magic!r})")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {version}")
        if count < 0 or len(data) != _HEADER.size + count * _ORDER.size:
            raise ValueError(f"snapshot length {len(data)} does not match its {count} orders")
        book = cls(instrument_id, tick, lot, min_price, max_price)
        book._sequence = sequence
        last = (BUY, None)  # (side, level key) of the previous order: bids then asks, best to worst
        for order_id, account_id, price, quantity, side, order_type, stp in _ORDER.iter_unpack(
            data[_HEADER.size :]
        ):
            if order_type not in _RESTING_TYPES or book._place_reject_reason(
                order_id, side, price, quantity, order_type, stp
            ):
                raise ValueError(f"snapshot holds an invalid order {order_id}")
            position = (side, -price if side == BUY else price)
            if last[1] is not None and position < last:
                raise ValueError("snapshot orders are not bids then asks, best to worst")
            last = position
            book._rest(_Order(order_id, account_id, side, price, quantity, order_type, stp))
        try:
            book.check_integrity()
        except AssertionError as error:
            raise ValueError(f"snapshot holds an inconsistent book: {error}") from None
        return book

    def state_hash(self) -> int:
        """CRC32 of `snapshot()`: equal books have equal hashes."""
        return zlib.crc32(self.snapshot())

    def check_integrity(self) -> None:
        """Raise AssertionError naming the first broken invariant of the book."""
        seen: dict[int, _Order] = {}
        for side, levels in ((BUY, self._bids), (SELL, self._asks)):
            keys = list(levels.keys())
            assert keys == sorted(keys), "levels sorted"
            for key, level in levels.items():
                assert level.side == side, f"level {level.price} on the wrong side"
                assert key == (-level.price if side == BUY else level.price), (
                    f"level {level.price} keyed wrongly"
                )
                assert level.orders, f"level {level.price} is empty but present"
                total = 0
                for order_id, o in level.orders.items():
                    assert o.quantity > 0, f"order {order_id} has open quantity {o.quantity} <= 0"
                    assert o.order_id == order_id, f"order {order_id} filed under another id"
                    assert o.side == side and o.price == level.price, f"order {order_id} in the wrong level"
                    assert o.order_type in _RESTING_TYPES, f"order {order_id} of type {o.order_type} rests"
                    assert order_id not in seen, f"order {order_id} rests twice"
                    seen[order_id] = o
                    total += o.quantity
                assert level.quantity == total, f"level {level.price} total {level.quantity} != {total}"
        if self._bids and self._asks:
            bid = self._bids.peekitem(0)[1].price
            ask = self._asks.peekitem(0)[1].price
            assert bid < ask, f"crossed book at rest: bid {bid} >= ask {ask}"
        assert seen.keys() == self._orders.keys(), "id index holds exactly the resting orders"
        assert all(self._orders[i] is o for i, o in seen.items()), "id index points at the resting orders"
        by_account: dict[int, set[int]] = {}
        for o in seen.values():
            by_account.setdefault(o.account_id, set()).add(o.order_id)
        assert by_account == self._accounts, "account index holds exactly the resting orders"

    # -- INTERNALS -------------------------------------------------------------------------------

    def _event(
        self,
        kind: int,
        order_id: int,
        account_id: int,
        side: int,
        price: int,
        quantity: int,
        remaining: int,
        reason: int,
    ) -> BookEvent:
        """Number and build one non-FILL, non-LEVEL event."""
        self._sequence += 1
        return BookEvent(self._sequence, kind, order_id, account_id, side, price, quantity, remaining, reason)

    def _level_event(self, side: int, price: int) -> BookEvent:
        """The LEVEL event of (side, price) as it stands now (0, 0 when the level is gone)."""
        level = self._side_levels(side).get(-price if side == BUY else price)
        self._sequence += 1
        if level is None:
            return BookEvent(self._sequence, LEVEL, 0, 0, side, price)
        return BookEvent(
            self._sequence, LEVEL, 0, 0, side, price, level.quantity, 0, 0, 0, 0, 0, len(level.orders)
        )

    def _level_events(self, touched: dict[tuple[int, int], None], events: list[BookEvent]) -> None:
        for side, price in touched:
            events.append(self._level_event(side, price))

    def _side_levels(self, side: int) -> SortedDict:
        return self._bids if side == BUY else self._asks

    def _price_quantity_reject_reason(self, price: int, quantity: int) -> int:
        """Checks 2-6 of PLACE validation, shared with AMEND; 0 when all pass."""
        if quantity <= 0:
            return INVALID_QUANTITY
        if quantity % self.lot:
            return QUANTITY_OFF_LOT
        if price % self.tick:  # Python's % is the mathematical remainder for a positive tick
            return PRICE_OFF_TICK
        if price < self.min_price or price > self.max_price:
            return PRICE_OUT_OF_BAND
        if abs(price) * quantity > INT64_MAX:
            return NOTIONAL_OVERFLOW
        return 0

    def _place_reject_reason(
        self, order_id: int, side: int, price: int, quantity: int, order_type: int, stp: int
    ) -> int:
        """The first failing PLACE check of docs/engine.md "Validation", or 0."""
        if side not in _SIDES or order_type not in _ORDER_TYPES or stp not in _STP_MODES or order_id <= 0:
            return INVALID_COMMAND
        reason = self._price_quantity_reject_reason(price, quantity)
        if reason:
            return reason
        if order_id in self._orders:
            return DUPLICATE_ORDER_ID
        if order_type == POST_ONLY and self._would_cross(side, price):
            return WOULD_CROSS
        return 0

    def _would_cross(self, side: int, price: int) -> bool:
        """Whether an order at `price` on `side` would trade on arrival."""
        if side == BUY:
            return bool(self._asks) and price >= self._asks.peekitem(0)[1].price
        return bool(self._bids) and price <= self._bids.peekitem(0)[1].price

    def _fok_fillable(self, taker: _Order) -> bool:
        """The FOK fillability walk of docs/engine.md (own orders skipped or stopping per STP)."""
        buy = taker.side == BUY
        limit = taker.price
        need = taker.quantity
        account = taker.account_id
        stp = taker.stp
        # With STP off, or no own orders in the book, a whole level counts at once.
        per_order = stp != STP_NONE and account in self._accounts
        for level in (self._asks if buy else self._bids).values():
            if (level.price > limit) if buy else (level.price < limit):
                return False
            if not per_order:
                need -= level.quantity
                if need <= 0:
                    return True
                continue
            for maker in level.orders.values():
                if maker.account_id == account:
                    if stp == CANCEL_OLDEST:
                        continue  # would be cancelled, not traded
                    return False  # CANCEL_NEWEST / CANCEL_BOTH: the taker would be cancelled here
                need -= maker.quantity
                if need <= 0:
                    return True
        return False

    def _match(self, taker: _Order, events: list[BookEvent], touched: dict[tuple[int, int], None]) -> bool:
        """Match `taker` (not in the book) against the opposite side, price then time priority.

        Appends FILL / self-trade CANCELLED events and the touched levels; `taker.quantity` becomes
        its open rest. Returns False when self-trade prevention cancelled the taker.
        """
        buy = taker.side == BUY
        opposite = self._asks if buy else self._bids
        opposite_side = SELL if buy else BUY
        limit = taker.price
        stp = taker.stp
        account = taker.account_id
        taker_id = taker.order_id
        side = taker.side
        while taker.quantity and opposite:
            key, level = opposite.peekitem(0)
            price = level.price
            if (price > limit) if buy else (price < limit):
                break
            orders = level.orders
            while orders and taker.quantity:
                maker = next(iter(orders.values()))
                if maker.account_id == account and stp != STP_NONE:
                    if stp == CANCEL_NEWEST:
                        events.append(self._cancel_taker(taker))
                        return False
                    # CANCEL_OLDEST and CANCEL_BOTH cancel the resting order first.
                    self._unlink_head(level)
                    touched[(opposite_side, price)] = None
                    events.append(
                        self._event(
                            CANCELLED,
                            maker.order_id,
                            maker.account_id,
                            opposite_side,
                            price,
                            maker.quantity,
                            0,
                            SELF_TRADE,
                        )
                    )
                    if stp == CANCEL_BOTH:
                        if not orders:
                            del opposite[key]
                        events.append(self._cancel_taker(taker))
                        return False
                    continue
                traded = taker.quantity if taker.quantity < maker.quantity else maker.quantity
                taker.quantity -= traded
                maker.quantity -= traded
                level.quantity -= traded
                if not maker.quantity:
                    self._unlink_head(level)
                touched[(opposite_side, price)] = None
                self._sequence += 1
                events.append(
                    BookEvent(
                        self._sequence,
                        FILL,
                        taker_id,
                        account,
                        side,
                        price,
                        traded,
                        taker.quantity,
                        0,
                        maker.order_id,
                        maker.account_id,
                        maker.quantity,
                        0,
                    )
                )
            if not orders:
                del opposite[key]
        return True

    def _cancel_taker(self, taker: _Order) -> BookEvent:
        """The self-trade CANCELLED event of the taker's open quantity (the taker then stops)."""
        event = self._event(
            CANCELLED,
            taker.order_id,
            taker.account_id,
            taker.side,
            taker.price,
            taker.quantity,
            0,
            SELF_TRADE,
        )
        taker.quantity = 0
        return event

    def _unlink_head(self, level: _Level) -> None:
        """Take the oldest order of `level` out of the book (the caller drops an emptied level)."""
        order = level.orders.popitem(last=False)[1]
        level.quantity -= order.quantity
        del self._orders[order.order_id]
        ids = self._accounts[order.account_id]
        ids.discard(order.order_id)
        if not ids:
            del self._accounts[order.account_id]

    def _rest(self, order: _Order) -> None:
        """Put `order` at the back of its price level, creating the level if needed."""
        levels = self._bids if order.side == BUY else self._asks
        key = -order.price if order.side == BUY else order.price
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level(order.side, order.price)
        level.orders[order.order_id] = order
        level.quantity += order.quantity
        self._orders[order.order_id] = order
        ids = self._accounts.get(order.account_id)
        if ids is None:
            self._accounts[order.account_id] = {order.order_id}
        else:
            ids.add(order.order_id)

    def _remove(self, order: _Order) -> None:
        """Take a resting order out of the book (its open quantity is kept on the object)."""
        levels = self._bids if order.side == BUY else self._asks
        key = -order.price if order.side == BUY else order.price
        level = levels[key]
        del level.orders[order.order_id]
        level.quantity -= order.quantity
        if not level.orders:
            del levels[key]
        del self._orders[order.order_id]
        ids = self._accounts[order.account_id]
        ids.discard(order.order_id)
        if not ids:
            del self._accounts[order.account_id]
