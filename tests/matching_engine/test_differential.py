"""Differential, stateful property test: the Cython book against the reference book.

Hypothesis drives both books with the same random commands (every order type and STP mode, cancels
and amends of live and unknown ids, mass cancels over a few accounts, prices on and off tick, in and
out of band and negative, quantities zero, negative, off lot and overflowing) and after every step
asserts that they emit identical events and hold identical state, and that the events obey the
contract on their own: gap-free seqs, no crossed book, no fill beyond an order's open quantity,
price-time priority, and quantity conservation (accepted = filled + cancelled + resting), checked
against an independent model built only from the events. From time to time both books are
snapshotted and swapped for books restored from each other's snapshot.

Example counts: a modest default that keeps the engine tests well under a minute on a small
machine; with CI=true a larger run (250 examples of 60 steps) that stays under a minute. Both apply to this test class only.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from matching_engine.codes import (
    INT64_MAX,
    INT64_MIN,
    CancelReason,
    CommandKind,
    EventKind,
    OrderType,
    Side,
)
from matching_engine.events import BookCommand, decode_events, encode_commands
from matching_engine.reference import ReferenceOrderBook
from tests.matching_engine.conftest import cython_book_class

TICK, LOT, MIN_PRICE, MAX_PRICE = 5, 2, -200, 200
CONFIG = (42, TICK, LOT, MIN_PRICE, MAX_PRICE)
ACCOUNTS = (1, 2, -7)

# Quantities that overflow the notional at every non-zero price on tick (|price| >= 5).
HUGE = ((INT64_MAX // 5 + 2) // LOT * LOT, INT64_MAX - 1, INT64_MAX)

# Every choice below lists the common case first: hypothesis favours the first (simplest) choice.
valid_prices = st.one_of(
    st.integers(-6, 6).map(lambda k: k * TICK),  # a narrow band: many crosses and shared levels
    st.integers(MIN_PRICE // TICK, MAX_PRICE // TICK).map(lambda k: k * TICK),
)
odd_prices = st.one_of(
    st.integers(MIN_PRICE - 20, MAX_PRICE + 20),  # mostly off tick, some out of band
    st.sampled_from([INT64_MIN, INT64_MAX, MIN_PRICE - TICK, MAX_PRICE + TICK, MIN_PRICE, MAX_PRICE]),
)
valid_quantities = st.integers(1, 12).map(lambda k: k * LOT)
# The largest quantity whose notional fits at the band's edges, and the next one (rejected there only).
EDGE = INT64_MAX // MAX_PRICE // LOT * LOT
odd_quantities = st.sampled_from([0, -LOT, 1, 3, INT64_MIN, *HUGE, EDGE, EDGE + LOT])
sides = st.sampled_from([Side.BUY, Side.SELL])
order_types = st.sampled_from([OrderType.LIMIT] * 3 + list(OrderType))
stp_modes = st.sampled_from([0, 0, 1, 2, 3])
accounts = st.sampled_from(ACCOUNTS)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True with probability about 1/n (False is the simple choice)."""
    return st.sampled_from([False] * (n - 1) + [True])


ORDER_RECORD = struct.Struct("<4q3i")
HEADER_SIZE = 64


def resting_orders(snapshot: bytes) -> list[tuple[int, int, int, int, int, int, int]]:
    """(order_id, account_id, price, open, side, order_type, stp) in priority order, bids first."""
    return list(ORDER_RECORD.iter_unpack(snapshot[HEADER_SIZE:]))


@dataclass
class ModelOrder:
    """What the events say about one order: enough to check fills, cancels and conservation."""

    account_id: int
    side: int
    price: int
    open: int


class BookPair(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ref = ReferenceOrderBook(*CONFIG)
        self.fast = cython_book_class()(*CONFIG)
        self.model: dict[int, ModelOrder] = {}  # resting orders according to the events
        self.next_id = 1
        self.commands = 0

    # -- drawing ids ---------------------------------------------------------------------------

    def live_ids(self) -> list[int]:
        return sorted(self.model)

    def draw_price(self, data: st.DataObject) -> int:
        return data.draw(odd_prices if data.draw(one_in(8), label="odd price?") else valid_prices)

    def draw_quantity(self, data: st.DataObject) -> int:
        return data.draw(odd_quantities if data.draw(one_in(8), label="odd quantity?") else valid_quantities)

    def crossing_price(self, data: st.DataObject, side: int, default: int) -> int:
        """A price at or through the best opposite price (when there is one)."""
        best = self.ref.best_ask() if side == Side.BUY else self.ref.best_bid()
        if best is None:
            return default
        through = data.draw(st.integers(0, 3), label="ticks through") * TICK
        return max(MIN_PRICE, min(MAX_PRICE, best[0] + through if side == Side.BUY else best[0] - through))

    def draw_new_id(self, data: st.DataObject) -> int:
        how = data.draw(st.sampled_from(["fresh"] * 14 + ["live", "big"]), label="id kind")
        if how == "live" and self.model:
            return data.draw(st.sampled_from(self.live_ids()), label="duplicate id")
        if how == "big":
            return data.draw(st.integers(INT64_MAX - 3, INT64_MAX), label="big id")
        self.next_id += 1
        return self.next_id

    def draw_place(self, data: st.DataObject) -> BookCommand:
        """A PLACE command, valid but for its price and quantity, or (1 in 12) with a broken field."""
        price, quantity = self.draw_price(data), self.draw_quantity(data)
        fields = {
            "order_id": self.draw_new_id(data),
            "account_id": data.draw(accounts),
            "side": data.draw(sides),
            "price": price,
            "quantity": quantity,
            "order_type": data.draw(order_types),
            "stp": data.draw(stp_modes),
        }
        if data.draw(one_in(4), label="cross?"):
            fields["price"] = self.crossing_price(data, fields["side"], price)
        fields["price"], fields["quantity"] = self.avoid_level_overflow(fields["price"], quantity)
        if data.draw(one_in(12), label="break a field?"):
            broken = data.draw(st.sampled_from(["order_id", "side", "order_type", "stp"]))
            fields[broken] = data.draw(
                {
                    "order_id": st.sampled_from([0, -1, INT64_MIN]),
                    "side": st.sampled_from([2, -1, INT64_MAX]),
                    "order_type": st.sampled_from([5, -1, INT64_MIN]),
                    "stp": st.sampled_from([4, -1, INT64_MAX]),
                }[broken]
            )
        return BookCommand.place(**fields)

    def draw_existing_id(self, data: st.DataObject) -> tuple[int, int]:
        """An order id (mostly live) and an account (mostly the owner's)."""
        if self.model and not data.draw(one_in(6), label="unknown id?"):
            order_id = data.draw(st.sampled_from(self.live_ids()), label="live id")
            owner = self.model[order_id].account_id
            account_id = data.draw(accounts) if data.draw(one_in(6), label="other account?") else owner
        else:
            order_id = data.draw(st.integers(-1, self.next_id + 2), label="unknown id")
            account_id = data.draw(accounts)
        return order_id, account_id

    @staticmethod
    def avoid_level_overflow(price: int, quantity: int) -> tuple[int, int]:
        """At price 0 a huge quantity would rest: the caller keeps level totals within int64."""
        if price == 0 and quantity in HUGE:
            return TICK, quantity
        return price, quantity

    # -- rules ---------------------------------------------------------------------------------

    @rule(data=st.data(), count=st.integers(1, 3))
    def place(self, data, count):
        for _ in range(count):
            self.apply([self.draw_place(data)])

    @rule(data=st.data())
    def cancel(self, data):
        self.apply([BookCommand.cancel(*self.draw_existing_id(data))])

    @rule(data=st.data())
    def amend(self, data):
        order_id, account_id = self.draw_existing_id(data)
        price, quantity = self.draw_price(data), self.draw_quantity(data)
        if order_id in self.model:
            how = data.draw(
                st.sampled_from(["any", "cross", "same price", "reduce", "increase"]), label="amend"
            )
            order = self.model[order_id]
            if how == "cross":
                price = self.crossing_price(data, order.side, price)
            elif how != "any":
                price = order.price
            if how == "reduce":
                quantity = max(LOT, order.open - LOT)
            elif how == "increase":
                quantity = order.open + LOT
        price, quantity = self.avoid_level_overflow(price, quantity)
        self.apply([BookCommand.amend(order_id, account_id, price, quantity)])

    @rule(data=st.data(), account_id=accounts)
    def rare(self, data, account_id):
        """A mass cancel, sometimes a command of an unknown kind."""
        if data.draw(one_in(4), label="unknown kind?"):
            kind = data.draw(st.sampled_from([0, 5, -1, INT64_MAX]))
            order_id = data.draw(st.integers(-2, 5))
            self.apply([BookCommand(kind, order_id, account_id, 0, 0, 0, self.draw_price(data), LOT)])
        else:
            self.apply([BookCommand.mass_cancel(account_id)])

    @rule(data=st.data(), count=st.integers(1, 6))
    def batch(self, data, count):
        """A few commands in one process_batch call on the Cython side, one by one on the reference."""
        commands = [self.draw_place(data) for _ in range(count)]
        if self.model:
            commands.append(BookCommand.cancel(*self.draw_existing_id(data)))
        self.apply(commands, batch=True)

    @rule(swap=st.booleans())
    def snapshot_round_trip(self, swap):
        data = self.ref.snapshot()
        assert self.fast.snapshot() == data
        assert self.ref.state_hash() == self.fast.state_hash() == zlib.crc32(data)
        fast_class = type(self.fast)
        if swap:  # each implementation restores the other's snapshot
            self.ref, self.fast = ReferenceOrderBook.restore(data), fast_class.restore(self.fast.snapshot())
        else:
            self.ref, self.fast = ReferenceOrderBook.restore(self.ref.snapshot()), fast_class.restore(data)
        self.ref.check_integrity()
        self.fast.check_integrity()
        assert self.ref.snapshot() == self.fast.snapshot() == data
        assert self.ref.state_hash() == self.fast.state_hash()

    # -- checks --------------------------------------------------------------------------------

    def apply(self, commands: list[BookCommand], batch: bool = False) -> None:
        first_seq = self.ref.sequence + 1
        assert self.fast.sequence == self.ref.sequence
        ref_events = []
        for command in commands:
            before = resting_orders(self.ref.snapshot())
            events = self.ref.process(command)
            self.check_events(command, events, before)
            ref_events += events
            self.commands += 1
        if batch:
            fast_events = decode_events(self.fast.process_batch(encode_commands(commands)))
        else:
            fast_events = [event for command in commands for event in self.fast.process(command)]
        assert fast_events == ref_events
        assert [event.seq for event in ref_events] == list(range(first_seq, first_seq + len(ref_events)))

    def check_events(self, command: BookCommand, events, before) -> None:
        """Check one command's events against the model of the resting orders, then the model."""
        model = self.model
        taker_id = None
        takers: dict[int, ModelOrder] = {}
        touched_makers: list[int] = []
        for event in events:
            kind = event.kind
            if kind == EventKind.ACCEPTED:
                assert event.order_id not in model, "accepted a duplicate of a resting id"
                assert event.quantity == event.remaining > 0
                taker_id = event.order_id
                takers[taker_id] = ModelOrder(event.account_id, event.side, event.price, event.quantity)
            elif kind == EventKind.AMENDED:
                order = model.pop(event.order_id)
                order.price, order.open = event.price, event.quantity
                assert event.quantity == event.remaining > 0
                if event.reason == 2:  # LOST: it matches as a taker
                    taker_id = event.order_id
                    takers[taker_id] = order
                else:
                    model[event.order_id] = order
            elif kind == EventKind.FILL:
                assert event.order_id == taker_id
                taker = takers[taker_id]
                maker = model[event.maker_order_id]
                assert maker.side != taker.side and event.side == taker.side
                assert 0 < event.quantity <= min(taker.open, maker.open), "fill beyond an open quantity"
                assert event.price == maker.price, "fills at the maker's price"
                assert event.price <= taker.price if taker.side == Side.BUY else event.price >= taker.price
                taker.open -= event.quantity
                maker.open -= event.quantity
                assert (event.remaining, event.maker_remaining) == (taker.open, maker.open)
                assert event.maker_account_id == maker.account_id and event.account_id == taker.account_id
                if event.maker_order_id not in touched_makers:
                    touched_makers.append(event.maker_order_id)
                if maker.open == 0:
                    del model[event.maker_order_id]
            elif kind == EventKind.CANCELLED:
                if event.order_id == taker_id and event.order_id in takers:
                    order = takers.pop(event.order_id)
                else:
                    order = model.pop(event.order_id)
                    if event.reason == CancelReason.SELF_TRADE:
                        touched_makers.append(event.order_id)
                        assert order.account_id == takers[taker_id].account_id
                assert event.quantity == order.open > 0, "cancels exactly the open quantity"
                assert (event.side, event.price, event.account_id) == (
                    order.side,
                    order.price,
                    order.account_id,
                )
            elif kind == EventKind.LEVEL:
                assert event.order_count == 0 if event.quantity == 0 else event.order_count > 0
            else:
                assert kind == EventKind.REJECTED and len(events) == 1
        # The taker's open rest, if any, now rests.
        for order_id, order in takers.items():
            if order.open:
                model[order_id] = order

        after = resting_orders(self.ref.snapshot())
        assert {o[0]: (o[1], o[4], o[2], o[3]) for o in after} == {
            order_id: (o.account_id, o.side, o.price, o.open) for order_id, o in model.items()
        }, "conservation: accepted = filled + cancelled + resting"
        assert all(o[5] in (OrderType.LIMIT, OrderType.POST_ONLY) for o in after)

        # Price-time priority: the makers touched are exactly the first orders of the opposite side.
        if touched_makers:
            opposite = 1 - events[0].side  # the side of the ACCEPTED or AMENDED taker
            queue = [o[0] for o in before if o[4] == opposite]
            assert touched_makers == queue[: len(touched_makers)], "price-time priority"

        # LEVEL events report the levels as they now are.
        bids, asks = self.ref.depth(10_000)
        levels = {(Side.BUY, p): (q, n) for p, q, n in bids} | {(Side.SELL, p): (q, n) for p, q, n in asks}
        for event in events:
            if event.kind == EventKind.LEVEL:
                assert levels.get((event.side, event.price), (0, 0)) == (event.quantity, event.order_count)

    @invariant()
    def books_agree(self):
        for book in (self.ref, self.fast):
            book.check_integrity()
        assert self.ref.sequence == self.fast.sequence
        assert self.ref.order_count == self.fast.order_count == len(self.model)
        assert self.ref.level_count == self.fast.level_count
        assert self.ref.depth(1000) == self.fast.depth(1000)
        bid, ask = self.ref.best_bid(), self.ref.best_ask()
        assert (bid, ask) == (self.fast.best_bid(), self.fast.best_ask())
        assert bid is None or ask is None or bid[0] < ask[0], "crossed book"
        for order_id in self.model:
            assert self.ref.order(order_id) == self.fast.order(order_id) is not None


TestBooksAgree = BookPair.TestCase
TestBooksAgree.settings = settings(
    max_examples=250 if os.environ.get("CI") == "true" else 100,
    stateful_step_count=60 if os.environ.get("CI") == "true" else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_mass_cancel_and_restore_scenario_without_hypothesis():
    """A fixed walk through the machine, so a broken machine fails even with few examples."""
    machine = BookPair()
    for i in range(1, 30):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        side = i % 2
        price = (i % 7 - 3) * TICK
        machine.apply(
            [BookCommand.place(i, account, side, price, LOT * (i % 4 + 1), i % 4 == 3 and 3 or 0, i % 4)]
        )
    machine.snapshot_round_trip(True)
    machine.apply(
        [BookCommand.mass_cancel(ACCOUNTS[0]), BookCommand(CommandKind.MASS_CANCEL, account_id=2)], True
    )
    machine.books_agree()
    machine.teardown()


WIDE = (43, TICK, LOT, -100_000, 100_000)


def random_stream(seed: int, count: int) -> list[BookCommand]:
    """A seeded stream that grows a large book: thousands of orders and levels, scattered ids."""
    rnd = random.Random(seed)
    live: list[tuple[int, int, int]] = []  # order id, account, side
    commands = []

    def passive_price(side: int) -> int:
        distance = rnd.randrange(1, 2_000) * TICK
        return -distance if side == Side.BUY else distance

    for _ in range(count):
        r = rnd.random()
        side = rnd.randrange(2)
        account = rnd.randrange(1, 60)
        quantity = LOT * rnd.randrange(1, 20)
        if r < 0.55 or not live:
            order_id = rnd.randrange(1, 2**62)  # scattered ids: hash collisions, table growth
            price = passive_price(side) if rnd.random() < 0.9 else -passive_price(side) // 100 * 100
            order_type = rnd.choice([0, 0, 0, 0, 1, 2, 3, 4])
            commands.append(
                BookCommand.place(order_id, account, side, price, quantity, order_type, rnd.randrange(4))
            )
            if order_type in (OrderType.LIMIT, OrderType.POST_ONLY):
                live.append((order_id, account, side))
        elif r < 0.8:
            order_id, account, _ = live.pop(rnd.randrange(len(live)))
            commands.append(BookCommand.cancel(order_id, account))
        elif r < 0.97:
            order_id, account, side = live[rnd.randrange(len(live))]
            commands.append(BookCommand.amend(order_id, account, passive_price(side), quantity))
        elif r < 0.999:
            price = 100_000 if side == Side.BUY else -100_000
            commands.append(
                BookCommand.place(rnd.randrange(1, 2**62), account, side, price, quantity, OrderType.IOC)
            )
        else:
            commands.append(BookCommand.mass_cancel(account))
    return commands


def test_large_random_stream_agrees():
    """Books far larger than the hypothesis ones: pools, tables and level arrays must grow."""
    ref = ReferenceOrderBook(*WIDE)
    fast = cython_book_class()(*WIDE)
    commands = random_stream(seed=20261124, count=100_000)
    biggest = 0
    for start in range(0, len(commands), 10_000):
        chunk = encode_commands(commands[start : start + 10_000])
        assert fast.process_batch(chunk) == ref.process_batch(chunk)
        ref.check_integrity()
        fast.check_integrity()
        assert fast.state_hash() == ref.state_hash()
        biggest = max(biggest, ref.order_count)
    assert biggest > 2_000 and ref.level_count > 1_000
    assert (
        ReferenceOrderBook.restore(fast.snapshot()).state_hash()
        == type(fast).restore(ref.snapshot()).state_hash()
    )
