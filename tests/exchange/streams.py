"""Seeded random command streams over a small market, for property, replay and benchmark use."""

from __future__ import annotations

import random

from exchange import commands as c

DAY = 24 * 3600 * 1000
T0 = 1790812800000
W1 = (T0 + 6 * DAY, T0 + 13 * DAY)
W2 = (T0 + 13 * DAY, T0 + 20 * DAY)
PROCESS = "notebook-a5-print"
OPERATOR, SUPPLIER, SUPPLIER2, FEED = 1, 2, 3, 4
TRADERS = (2, 3, 5, 6, 7)  # suppliers trade too
CAP1 = "CAP-NOTEBOOK-A5-PRINT-20261007-20261013-K12"
CAP2 = "CAP-NOTEBOOK-A5-PRINT-20261014-20261020-K12"
MAT = "MAT-INK-20261005-K8000-C9600"
SWP = "SWP-NOTEBOOK-A5-PRINT-20261007-20261013-K12~NOTEBOOK-A5-PRINT-20261014-20261020-K12"
SYMBOLS = (CAP1, CAP2, MAT, SWP)


def setup_commands() -> list[c.Command]:
    ts = T0
    out: list[c.Command] = []
    for name, role in (
        ("op", "operator"),
        ("s1", "supplier"),
        ("s2", "supplier"),
        ("feed", "index_feed"),
        ("a", "creator"),
        ("b", "creator"),
        ("mm", "market_maker"),
    ):
        out.append(c.CreateAccount(timestamp=ts, actor_id=0, name=name, role=role))
    for aid in TRADERS:
        out.append(c.Deposit(timestamp=ts, actor_id=OPERATOR, account_id=aid, amount=5_000_000))
    for sid in (SUPPLIER, SUPPLIER2):
        for w in (W1, W2):
            out.append(
                c.RegisterCapacity(
                    timestamp=ts,
                    actor_id=sid,
                    process=PROCESS,
                    window_start=w[0],
                    window_end=w[1],
                    units=2000,
                )
            )
    for w in (W1, W2):
        terms = c.CapacityOptionTerms(
            process=PROCESS,
            window_start=w[0],
            window_end=w[1],
            strike=12,
            units_per_contract=100,
            exercise_deadline=w[0] - DAY,
        )
        out.append(
            c.ListInstrument(
                timestamp=ts,
                actor_id=OPERATOR,
                terms=terms,
                tick=10,
                lot=1,
                min_price=0,
                max_price=2000,
                trading_start=T0,
                expiry=w[0] - DAY,
            )
        )
    # a material call's index must have a published price before the call is listed
    out.append(c.PublishIndexPrice(timestamp=ts, actor_id=FEED, index="INK", price=8800))
    out.append(
        c.ListInstrument(
            timestamp=ts,
            actor_id=OPERATOR,
            terms=c.MaterialCallTerms(
                material="ink",
                index="INK",
                strike=8000,
                cap=9600,
                units_per_contract=10,
                settlement_window_start=T0 + 2 * DAY,
            ),
            tick=10,
            lot=1,
            min_price=0,
            max_price=2000,
            trading_start=T0,
            expiry=T0 + 4 * DAY,
        )
    )
    out.append(
        c.ListInstrument(
            timestamp=ts,
            actor_id=OPERATOR,
            terms=c.CapacitySwapTerms(give_symbol=CAP1, receive_symbol=CAP2),
            tick=10,
            lot=1,
            min_price=-500,
            max_price=500,
            trading_start=T0,
            expiry=W1[0] - DAY,
        )
    )
    return out


class StreamGen:
    """Draws commands from `rng`; `next_order_id` / `next_booking_id` let it aim at real ids."""

    def __init__(self, rng: random.Random, ts: int = T0 + 1) -> None:
        self.rng = rng
        self.ts = ts
        self.n = 0

    def next(self, seq) -> c.Command:
        """The next command; it looks at `seq`'s open orders and bookings to aim at real ids."""
        r = self.rng
        max_booking_id = seq.state.next_booking_id - 1
        open_ids = list(seq.state.orders)
        max_order_id = seq.state.next_order_id
        self.n += 1
        jump = r.random()
        self.ts += DAY if jump < 0.001 else 3 * 3_600_000 if jump < 0.006 else r.choice((1, 7, 500, 60_000))
        ts = self.ts
        actor = r.choice(TRADERS)
        kind = r.random()
        if kind < 0.45:
            symbol = r.choice(SYMBOLS)
            side = r.choice(("buy", "sell"))
            lo, hi = (-20, 20) if symbol == SWP else (20, 80)
            return c.PlaceOrder(
                timestamp=ts,
                actor_id=actor,
                symbol=symbol,
                client_order_id=f"c{r.randrange(10**6)}",
                side=side,
                order_type=r.choice(("limit", "limit", "limit", "ioc", "fok", "post_only", "market")),
                price=r.randint(lo, hi) * 10 + (5 if r.random() < 0.02 else 0),
                quantity=r.randint(0 if r.random() < 0.02 else 1, 5),
                stp=r.choice(("none", "cancel_newest", "cancel_oldest", "cancel_both")),
            )
        if kind < 0.62:
            oid = r.choice(open_ids) if open_ids and r.random() < 0.8 else r.randint(1, max_order_id)
            owner = seq.state.orders[oid].account_id if oid in seq.state.orders else actor
            return c.CancelOrder(timestamp=ts, actor_id=owner if r.random() < 0.9 else actor, order_id=oid)
        if kind < 0.70:
            oid = r.choice(open_ids) if open_ids and r.random() < 0.8 else r.randint(1, max_order_id)
            owner = seq.state.orders[oid].account_id if oid in seq.state.orders else actor
            return c.AmendOrder(
                timestamp=ts,
                actor_id=owner if r.random() < 0.9 else actor,
                order_id=oid,
                price=r.randint(-10, 80) * 10,
                quantity=r.randint(1, 6),
            )
        if kind < 0.73:
            return c.CancelAll(
                timestamp=ts, actor_id=actor, account_id=actor, symbol=r.choice((None, *SYMBOLS))
            )
        if kind < 0.77:
            return c.TransferPosition(
                timestamp=ts,
                actor_id=actor,
                to_account_id=r.choice(TRADERS),
                symbol=r.choice(SYMBOLS),
                quantity=r.randint(1, 3),
            )
        if kind < 0.79:
            return c.TransferCash(
                timestamp=ts, actor_id=actor, to_account_id=r.choice(TRADERS), amount=r.randint(1, 100_000)
            )
        if kind < 0.83:
            return c.Exercise(
                timestamp=ts, actor_id=actor, symbol=r.choice((CAP1, CAP2)), quantity=r.randint(1, 3)
            )
        if kind < 0.84:
            return c.DeclineAutoExercise(timestamp=ts, actor_id=actor, symbol=MAT)
        if kind < 0.87:
            who = r.choice((SUPPLIER, SUPPLIER2, actor, OPERATOR))
            return c.ConfirmBooking(
                timestamp=ts,
                actor_id=who,
                booking_id=r.randint(1, max(1, max_booking_id)),
                milestone=r.choice(("confirmed", "delivered")),
            )
        if kind < 0.88:
            return c.MarkSupplierDefault(
                timestamp=ts, actor_id=OPERATOR, booking_id=r.randint(1, max(1, max_booking_id))
            )
        if kind < 0.92:
            # moves beyond the index price band (20% by default) are refused unless confirmed
            return c.PublishIndexPrice(
                timestamp=ts,
                actor_id=FEED,
                index="INK",
                price=r.randint(6000, 12000),
                confirm_large_move=r.random() < 0.5,
            )
        if kind < 0.935:
            return c.SetKillSwitch(timestamp=ts, actor_id=actor, account_id=actor, engaged=r.random() < 0.1)
        if kind < 0.96:
            cls = c.HaltInstrument if r.random() < 0.15 else c.ResumeInstrument
            return cls(timestamp=ts, actor_id=OPERATOR, symbol=r.choice(SYMBOLS))
        if kind < 0.98:
            return c.RunExpiry(timestamp=ts, actor_id=0)
        if kind < 0.99:
            return c.Deposit(
                timestamp=ts, actor_id=OPERATOR, account_id=actor, amount=r.randint(1, 1_000_000)
            )
        return c.Withdraw(timestamp=ts, actor_id=OPERATOR, account_id=actor, amount=r.randint(1, 1_000_000))


def run_stream(seq, seed: int, n: int, check=None) -> list[c.Command]:
    """Apply setup + n random commands to `seq`; return the commands applied."""
    applied = []
    for command in setup_commands():
        assert seq.apply(command).ok, command
        applied.append(command)
    gen = StreamGen(random.Random(seed))
    for _ in range(n):
        command = gen.next(seq)
        seq.apply(command)
        applied.append(command)
        if check is not None:
            check(command)
    return applied
