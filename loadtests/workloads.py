"""Seeded, valid command streams for order-book benchmarks.

The generator keeps a *shadow book* while it generates: a simple price-time simulation of the
commands it emitted (limit and IOC orders, stp NONE, no self-trade prevention, so every resting
order can trade with every taker). That is what makes the stream valid for the real books:

- every PLACE is on tick, on lot, inside the book's band, with a fresh id (ids rise from 1);
- a passive add never crosses: a buy is priced below the shadow book's best ask, a sell above its
  best bid (the random-walk mid is clamped that way);
- a crossing order is priced at or through the opposite best, so it trades, and the shadow book
  matches it exactly as the engine does (best price first, oldest first);
- a CANCEL always names an order that is still resting at that point of the stream (drawn uniformly
  among the resting orders of the shadow book, with the owner's account), so no cancel is ever
  rejected as UNKNOWN_ORDER. The benchmark counts REJECTED events and expects zero.

Mixed workload, per command: 60% passive limit adds around a random-walk mid, 30% cancels of
resting orders, 10% orders crossing the spread (half LIMIT, whose rest then rests, half IOC). When
the book has nothing to cancel or nothing to cross, the generator emits a passive add instead, so
the very first commands of a stream from an empty book are adds; the realised mix is counted in
`WorkloadGenerator.counts`.

Deep book: `preload(n)` emits n passive adds around a fixed mid (both sides, alternating, a wider
spread of prices), none crossing; the same generator then goes on with `mixed(n)`, whose cancels
also target the preloaded orders.

Usage::

    gen = WorkloadGenerator(seed=1)
    commands = gen.mixed(1_000_000)          # list[BookCommand]
    buffer = encode(commands)                # array('q'), for process_batch
"""

from __future__ import annotations

import heapq
import random
from array import array
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeAlias

from matching_engine.codes import CommandKind, OrderType, Side
from matching_engine.events import BookCommand

if TYPE_CHECKING:
    from matching_engine.book import OrderBook
    from matching_engine.reference import ReferenceOrderBook

    Book: TypeAlias = OrderBook | ReferenceOrderBook

__all__ = ["BookSpec", "DEFAULT_SPEC", "WorkloadGenerator", "encode", "mixed_workload"]

_PLACE = int(CommandKind.PLACE)
_CANCEL = int(CommandKind.CANCEL)
_BUY = int(Side.BUY)
_SELL = int(Side.SELL)
_LIMIT = int(OrderType.LIMIT)
_IOC = int(OrderType.IOC)


@dataclass(frozen=True)
class BookSpec:
    """The configuration of the benchmarked book; the generated stream is valid for it."""

    instrument_id: int = 1
    tick: int = 5
    lot: int = 10
    min_price: int = 5
    max_price: int = 2_000_000
    start_mid: int = 1_000_000

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.lot <= 0:
            raise ValueError("tick and lot must be > 0")
        if self.min_price % self.tick or self.max_price % self.tick or self.start_mid % self.tick:
            raise ValueError("min_price, max_price and start_mid must be multiples of tick")
        if not self.min_price < self.start_mid < self.max_price:
            raise ValueError("start_mid must lie strictly inside the band")

    def new_book(self, book_class: type[Book]) -> Book:
        """A fresh, empty book of `book_class` (OrderBook or ReferenceOrderBook) with this configuration."""
        return book_class(self.instrument_id, self.tick, self.lot, self.min_price, self.max_price)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


DEFAULT_SPEC = BookSpec()

_new_command = tuple.__new__  # BookCommand(...) goes through a Python-level __new__; this does not


class WorkloadGenerator:
    """A seeded command stream with a shadow book; see the module docstring for the guarantees.

    Parameters (all in ticks and lots of `spec`):
    - accounts: account ids are drawn uniformly in [1, accounts];
    - add_depth_ticks: mean distance of a passive add from the mid in the mixed workload
      (1 + an exponential draw, so most adds land near the top of the book);
    - preload_depth_ticks: the same for `preload` (a deeper book);
    - max_add_lots / max_cross_lots: quantities are uniform in [1, max] lots;
    - mid_step_probability: chance per command that the mid moves one tick up or down (half each).
    """

    def __init__(
        self,
        seed: int = 1,
        spec: BookSpec = DEFAULT_SPEC,
        *,
        accounts: int = 1000,
        add_depth_ticks: float = 8.0,
        preload_depth_ticks: float = 100.0,
        max_add_lots: int = 10,
        max_cross_lots: int = 20,
        mid_step_probability: float = 0.1,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self._rng = random.Random(seed)
        self.accounts = accounts
        self.add_depth_ticks = add_depth_ticks
        self.preload_depth_ticks = preload_depth_ticks
        self.max_add_lots = max_add_lots
        self.max_cross_lots = max_cross_lots
        self.mid_step_probability = mid_step_probability
        self.mid = spec.start_mid
        self.next_order_id = 1
        # Shadow book. orders: id -> [side, price, open quantity, account, index in `live`].
        self._orders: dict[int, list[int]] = {}
        self._live: list[int] = []  # resting ids, for uniform cancels (swap-remove)
        # Per side: price -> [live count, FIFO of ids]; dead ids (cancelled) stay in the FIFO until
        # they reach its front. Best prices come from heaps with lazy deletion.
        self._levels: tuple[dict[int, list[Any]], dict[int, list[Any]]] = ({}, {})
        self._bid_heap: list[int] = []  # -price
        self._ask_heap: list[int] = []  # price
        # What was emitted, by the generator's own classification (a crossing order and a passive
        # add look alike in the stream).
        self.counts = {"preload_add": 0, "add": 0, "cancel": 0, "cross": 0}

    # -- shadow book -------------------------------------------------------------------------

    @property
    def resting_count(self) -> int:
        return len(self._live)

    def best_bid(self) -> int | None:
        heap, levels = self._bid_heap, self._levels[_BUY]
        while heap and -heap[0] not in levels:
            heapq.heappop(heap)
        return -heap[0] if heap else None

    def best_ask(self) -> int | None:
        heap, levels = self._ask_heap, self._levels[_SELL]
        while heap and heap[0] not in levels:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _rest(self, order_id: int, side: int, price: int, quantity: int, account: int) -> None:
        live = self._live
        self._orders[order_id] = [side, price, quantity, account, len(live)]
        live.append(order_id)
        levels = self._levels[side]
        level = levels.get(price)
        if level is None:
            levels[price] = [1, deque((order_id,))]
            if side == _BUY:
                heapq.heappush(self._bid_heap, -price)
            else:
                heapq.heappush(self._ask_heap, price)
        else:
            level[0] += 1
            level[1].append(order_id)

    def _forget(self, order_id: int) -> list[int]:
        """Drop an order from the id index and the live list (not from its level's FIFO)."""
        order = self._orders.pop(order_id)
        live = self._live
        index = order[4]
        last = live.pop()
        if last != order_id:
            live[index] = last
            self._orders[last][4] = index
        return order

    def _cancel(self, order_id: int) -> None:
        side, price = self._forget(order_id)[:2]
        levels = self._levels[side]
        level = levels[price]
        level[0] -= 1
        if level[0] == 0:
            del levels[price]

    def _match(self, side: int, limit: int, quantity: int) -> int:
        """Match a taker against the opposite side; returns its unfilled quantity."""
        orders = self._orders
        if side == _BUY:
            levels, best = self._levels[_SELL], self.best_ask
            acceptable = limit.__ge__
        else:
            levels, best = self._levels[_BUY], self.best_bid
            acceptable = limit.__le__
        while quantity > 0:
            price = best()
            if price is None or not acceptable(price):
                break
            level = levels[price]
            fifo = level[1]
            while quantity > 0 and level[0] > 0:
                maker = orders.get(fifo[0])
                if maker is None:  # cancelled earlier
                    fifo.popleft()
                    continue
                traded = min(quantity, maker[2])
                quantity -= traded
                maker[2] -= traded
                if maker[2] == 0:
                    self._forget(fifo.popleft())
                    level[0] -= 1
            if level[0] == 0:
                del levels[price]
        return quantity

    # -- generation --------------------------------------------------------------------------

    def _passive_price(self, side: int, depth_ticks: float) -> int:
        """A price `offset` behind the mid, or behind the opposite best when the mid has walked past it.

        A buy is min(mid, best ask) - offset, a sell max(mid, best bid) + offset, offset >= 1 tick:
        an add never crosses, and when the mid runs ahead of the book the adds spread over the
        levels behind the touch instead of piling on one price.
        """
        spec = self.spec
        offset = (1 + int(self._rng.expovariate(1.0 / depth_ticks))) * spec.tick
        if side == _BUY:
            ask = self.best_ask()
            anchor = self.mid if ask is None or self.mid < ask else ask
            return max(anchor - offset, spec.min_price)
        bid = self.best_bid()
        anchor = self.mid if bid is None or self.mid > bid else bid
        return min(anchor + offset, spec.max_price)

    def _add(self, depth_ticks: float) -> BookCommand:
        rng = self._rng
        side = _BUY if rng.random() < 0.5 else _SELL
        price = self._passive_price(side, depth_ticks)
        # Guard the band edges: a passive price clamped to the band could still touch the other side.
        if side == _BUY and (ask := self.best_ask()) is not None and price >= ask:
            side, price = _SELL, max(ask, (self.best_bid() or self.spec.min_price) + self.spec.tick)
        elif side == _SELL and (bid := self.best_bid()) is not None and price <= bid:
            side, price = _BUY, min(bid, (self.best_ask() or self.spec.max_price) - self.spec.tick)
        quantity = (1 + int(rng.random() * self.max_add_lots)) * self.spec.lot
        account = 1 + int(rng.random() * self.accounts)
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        self._rest(order_id, side, price, quantity, account)
        return _new_command(BookCommand, (_PLACE, order_id, account, side, _LIMIT, 0, price, quantity))

    def _cancel_command(self) -> BookCommand:
        order_id = self._live[int(self._rng.random() * len(self._live))]
        account = self._orders[order_id][3]
        self._cancel(order_id)
        return _new_command(BookCommand, (_CANCEL, order_id, account, 0, 0, 0, 0, 0))

    def _cross(self) -> BookCommand | None:
        rng = self._rng
        spec = self.spec
        side = _BUY if rng.random() < 0.5 else _SELL
        opposite = self.best_ask() if side == _BUY else self.best_bid()
        if opposite is None:
            return None
        through = int(rng.random() * 3) * spec.tick  # at the best, or one or two ticks through it
        if side == _BUY:
            price = min(opposite + through, spec.max_price)
        else:
            price = max(opposite - through, spec.min_price)
        order_type = _LIMIT if rng.random() < 0.5 else _IOC
        quantity = (1 + int(rng.random() * self.max_cross_lots)) * spec.lot
        account = 1 + int(rng.random() * self.accounts)
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        rest = self._match(side, price, quantity)
        if rest and order_type == _LIMIT:
            self._rest(order_id, side, price, rest, account)
        return _new_command(BookCommand, (_PLACE, order_id, account, side, order_type, 0, price, quantity))

    def _walk_mid(self) -> None:
        """One step of the mid's random walk (free: the book follows it through the adds)."""
        draw = self._rng.random()
        p = self.mid_step_probability
        if draw < p:
            spec = self.spec
            step = spec.tick if draw < p / 2 else -spec.tick
            self.mid = min(max(self.mid + step, spec.min_price + spec.tick), spec.max_price - spec.tick)

    def preload(self, count: int) -> list[BookCommand]:
        """`count` passive limit adds around a fixed mid, alternating buy and sell; none crosses."""
        out: list[BookCommand] = []
        append = out.append
        rng = self._rng
        spec = self.spec
        tick, lot = spec.tick, spec.lot
        rate = 1.0 / self.preload_depth_ticks
        bid, ask = self.best_bid(), self.best_ask()
        top_buy = (ask - tick) if ask is not None else self.mid - tick
        top_buy = min(top_buy, self.mid - tick)
        bottom_sell = (bid + tick) if bid is not None else self.mid + tick
        bottom_sell = max(bottom_sell, self.mid + tick)
        for n in range(count):
            offset = int(rng.expovariate(rate)) * tick
            if n & 1:
                side, price = _SELL, min(bottom_sell + offset, spec.max_price)
            else:
                side, price = _BUY, max(top_buy - offset, spec.min_price)
            quantity = (1 + int(rng.random() * self.max_add_lots)) * lot
            account = 1 + int(rng.random() * self.accounts)
            order_id = self.next_order_id
            self.next_order_id = order_id + 1
            self._rest(order_id, side, price, quantity, account)
            append(_new_command(BookCommand, (_PLACE, order_id, account, side, _LIMIT, 0, price, quantity)))
        self.counts["preload_add"] += count
        return out

    def mixed(self, count: int) -> list[BookCommand]:
        """`count` commands: 60% passive adds, 30% cancels of resting orders, 10% crossing orders."""
        out: list[BookCommand] = []
        append = out.append
        random_ = self._rng.random
        depth = self.add_depth_ticks
        counts = self.counts
        for _ in range(count):
            self._walk_mid()
            draw = random_()
            command = None
            if draw < 0.30:
                if self._live:
                    command = self._cancel_command()
            elif draw < 0.40:
                command = self._cross()
            if command is None:
                command = self._add(depth)
                counts["add"] += 1
            else:
                counts["cancel" if command[0] == _CANCEL else "cross"] += 1
            append(command)
        return out


def mixed_workload(count: int, seed: int = 1, spec: BookSpec = DEFAULT_SPEC) -> list[BookCommand]:
    """The mixed workload from an empty book."""
    return WorkloadGenerator(seed, spec).mixed(count)


def encode(commands: Iterable[Sequence[int]]) -> array[int]:
    """The batch encoding of `commands` (same result as `events.encode_commands`, without its checks)."""
    return array("q", chain.from_iterable(commands))
