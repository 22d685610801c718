"""DurableExchange with the real sequencer, on SQLite and PostgreSQL: acknowledgement after commit,
idempotency, recovery (snapshot + replay, same state hash), refusal when the store fails."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from exchange import commands as c
from exchange.audit import audit_database
from exchange.results import ResultCode
from exchange.service import DurableExchange, RecoveryError
from exchange.store import Store, StoreUnavailableError
from loadtests.core_bench import core_stream

DENY_SQLITE = (
    "CREATE TRIGGER deny_journal BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'disk is read-only'); END"
)
DENY_POSTGRES = [
    "CREATE FUNCTION deny_journal() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk is read-only'; END $$"
    " LANGUAGE plpgsql",
    "CREATE TRIGGER deny_journal BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION deny_journal()",
]


def _deny_writes(exchange: DurableExchange) -> None:
    """Make every journal insert fail, as a full or read-only disk would."""
    with exchange.store.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text(DENY_SQLITE))
        else:
            for statement in DENY_POSTGRES:
                connection.execute(text(statement))


def _journal_count(url: str) -> int:
    store = Store(url, upgrade=False)
    try:
        return store.last_seq()
    finally:
        store.close()


def test_submit_acknowledges_after_commit_and_repeats_idempotently(database_url: str) -> None:
    stream = list(core_stream(5, 400))
    exchange = DurableExchange(database_url, group_commit_size=64, snapshot_interval=0)
    results = exchange.submit_batch(stream[:300])
    assert [r.seq for r in results] == list(range(1, 301))
    assert exchange.last_seq == exchange.store.last_seq() == 300
    single = exchange.submit_batch([stream[300]])[0]
    assert single.seq == 301 and exchange.store.get(301).command == stream[300]
    # A retried order (new timestamp) returns the first result, with no new journal row.
    order_index = next(i for i in range(299, 0, -1) if isinstance(stream[i], c.PlaceOrder))
    retry = c.PlaceOrder(
        **{
            **{f: getattr(stream[order_index], f) for f in stream[order_index].__struct_fields__},
            "timestamp": stream[order_index].timestamp + 999,
        }
    )
    again = exchange.submit_batch([retry])[0]
    assert (again.seq, again.code, again.data) == (
        results[order_index].seq,
        results[order_index].code,
        results[order_index].data,
    )
    assert again.events == () and exchange.store.last_seq() == 301
    # The same client order id for another command is refused, and journaled.
    other = c.PlaceOrder(
        **{**{f: getattr(retry, f) for f in retry.__struct_fields__}, "quantity": retry.quantity + 1}
    )
    refused = exchange.submit_batch([other])[0]
    assert refused.code == ResultCode.DUPLICATE_CLIENT_ORDER_ID and refused.seq == 302
    assert exchange.store.get(302).code == ResultCode.DUPLICATE_CLIENT_ORDER_ID
    exchange.close()
    assert audit_database(database_url) == []


@pytest.mark.parametrize("snapshot_interval", [0, 150])
def test_recovery_reproduces_the_state_hash(database_url: str, snapshot_interval: int) -> None:
    stream = list(core_stream(6, 1_000))
    exchange = DurableExchange(database_url, group_commit_size=100, snapshot_interval=snapshot_interval)
    exchange.submit_batch(stream[:700])
    before = exchange.state_hash()
    exchange.close()  # no clean shutdown step: what is committed is all there is

    recovered = DurableExchange(database_url, group_commit_size=100, snapshot_interval=snapshot_interval)
    assert recovered.state_hash() == before
    assert recovered.last_seq == 700
    snapshot = recovered.store.latest_snapshot()
    if snapshot_interval:
        assert snapshot is not None and snapshot.seq == 600 and recovered.replayed == 100
    else:
        assert snapshot is None and recovered.replayed == 700
    assert recovered.sequencer.audit() == []
    # It goes on exactly as an uninterrupted exchange would.
    recovered.submit_batch(stream[700:])
    from exchange.sequencer import Sequencer

    reference = Sequencer()
    for command in stream:
        reference.apply(command)
    assert recovered.state_hash() == reference.state_hash()
    recovered.close()
    assert audit_database(database_url) == []


def test_refuses_commands_after_a_failed_commit(database_url: str) -> None:
    stream = list(core_stream(7, 600))
    exchange = DurableExchange(database_url, group_commit_size=50, snapshot_interval=0)
    exchange.submit_batch(stream[:200])
    acknowledged_hash = exchange.state_hash()
    _deny_writes(exchange)

    results = exchange.submit_batch(stream[200:300])
    assert {r.code for r in results} == {ResultCode.STORE_UNAVAILABLE}
    assert all(r.seq == 0 for r in results)
    assert "store is unavailable" in results[0].message and "disk is read-only" in results[0].message
    assert not exchange.available
    assert _journal_count(database_url) == 200
    # Even once the disk is back, this process refuses: its memory is ahead of the journal.
    with exchange.store.engine.begin() as connection:
        connection.execute(
            text("DROP TRIGGER deny_journal" + (" ON journal" if connection.dialect.name != "sqlite" else ""))
        )
    assert exchange.submit_batch([stream[300]])[0].code == ResultCode.STORE_UNAVAILABLE
    assert _journal_count(database_url) == 200
    exchange.close()

    restarted = DurableExchange(database_url, group_commit_size=50, snapshot_interval=0)
    assert restarted.state_hash() == acknowledged_hash and restarted.last_seq == 200
    assert [r.seq for r in restarted.submit_batch(stream[200:300])] == list(range(201, 301))
    restarted.close()
    assert audit_database(database_url) == []


def test_a_batch_is_acknowledged_up_to_the_failing_group(database_url: str) -> None:
    stream = list(core_stream(8, 300))
    exchange = DurableExchange(database_url, group_commit_size=100, snapshot_interval=0)
    exchange.submit_batch(stream[:100])
    _deny_writes(exchange)
    results = exchange.submit_batch(stream[100:300])
    assert {r.code for r in results} == {ResultCode.STORE_UNAVAILABLE}
    exchange.close()


def test_recovery_refuses_a_journal_the_code_disagrees_with(database_url: str) -> None:
    stream = list(core_stream(9, 200))
    exchange = DurableExchange(database_url, group_commit_size=100, snapshot_interval=0)
    exchange.submit_batch(stream)
    with exchange.store.engine.begin() as connection:
        connection.execute(
            text(
                'UPDATE journal SET code = 2001, result = \'{"code": 2001, "message": "x", "data": {}}\''
                " WHERE seq = 150"
            )
        )
    exchange.close()
    with pytest.raises(RecoveryError, match="replay of seq 150"):
        DurableExchange(database_url)


def test_unreachable_database_fails_clearly() -> None:
    with pytest.raises(StoreUnavailableError, match="cannot open the store"):
        Store("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
