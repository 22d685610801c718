"""The SQL projections equal the sequencer's in-memory state after a full-lifecycle stream
(orders of every type, amends, transfers, exercise and bookings, index prices, expiry, kill
switches, halts) submitted through DurableExchange in groups, on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from exchange.audit import audit_database
from exchange.service import DurableExchange
from tests.exchange.streams import StreamGen, setup_commands


def _lifecycle_stream(seed: int, n: int) -> list:
    from exchange.sequencer import Sequencer

    scratch = Sequencer()
    commands = setup_commands()
    for command in commands:
        scratch.apply(command)
    gen = StreamGen(random.Random(seed))
    for _ in range(n):
        command = gen.next(scratch)
        scratch.apply(command)
        commands.append(command)
    return commands


@pytest.mark.parametrize("seed", [1, 2])
def test_projections_equal_the_in_memory_state(database_url: str, seed: int) -> None:
    commands = _lifecycle_stream(seed, 1_500)
    exchange = DurableExchange(database_url, group_commit_size=97, snapshot_interval=0)
    exchange.submit_batch(commands)
    state = exchange.sequencer.state
    assert exchange.sequencer.audit() == []
    assert state.bookings, "the stream should exercise into bookings"

    with exchange.store.engine.connect() as connection:

        def rows(sql: str) -> set[tuple]:
            return {tuple(r) for r in connection.execute(text(sql))}

        assert rows("SELECT account_id, available, locked FROM balances") == {
            (a.account_id, a.available, a.locked) for a in state.accounts.values()
        }
        assert rows("SELECT account_id, name, role, kill_switch FROM accounts") == {
            (a.account_id, a.name, a.role, a.kill_switch) for a in state.accounts.values()
        }
        assert rows("SELECT account_id, symbol, position FROM positions WHERE position <> 0") == {
            (p.account_id, p.symbol, p.position)
            for by_account in state.positions.values()
            for p in by_account.values()
            if p.position
        }
        assert rows("SELECT symbol, status, settlement_price FROM instruments") == {
            (i.symbol, i.status, i.settlement_price) for i in state.instruments.values()
        }
        assert rows(
            "SELECT order_id, open_quantity FROM orders WHERE status IN ('open', 'partially_filled')"
        ) == {(o.order_id, o.open_quantity) for o in state.orders.values()}
        assert rows(
            "SELECT booking_id, escrow_total, released_to_supplier, refunded_to_creator, status FROM bookings"
        ) == {
            (b.booking_id, b.escrow_total, b.released_to_supplier, b.refunded_to_creator, b.status)
            for b in state.bookings.values()
        }
        assert rows(
            "SELECT supplier_id, process, window_start, registered, locked, booked FROM capacity"
        ) == {
            (k.supplier_id, k.process, k.window_start, k.registered, k.locked, k.booked)
            for k in state.capacity.values()
        }
        ledger = dict(
            connection.execute(
                text(
                    "SELECT account, SUM(amount) FROM (SELECT credit_account AS account, amount FROM"
                    " ledger_postings UNION ALL SELECT debit_account, -amount FROM ledger_postings) m"
                    " GROUP BY account"
                )
            ).all()
        )
        for name, balance in state.system_balances.items():
            assert ledger.get(name, 0) == balance, name
        assert connection.execute(text("SELECT COUNT(*) FROM ledger_postings")).scalar_one() == (
            state.next_posting_id - 1
        )
        assert connection.execute(text("SELECT COUNT(*) FROM trades")).scalar_one() == state.next_trade_id - 1
        assert connection.execute(text("SELECT COUNT(*) FROM transfers")).scalar_one() == (
            state.next_transfer_id - 1
        )
        assert connection.execute(text("SELECT COUNT(*) FROM index_prices")).scalar_one() == sum(
            len(prices) for prices in state.index_prices.values()
        )
    exchange.close()
    assert audit_database(database_url) == []
