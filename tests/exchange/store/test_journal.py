"""The store on its own: journal append/read, projections, snapshots, atomic failure, audit.

Results and events are built by hand here; test_service.py runs the real sequencer."""

from __future__ import annotations

import zlib

import msgspec
import pytest
from sqlalchemy import select, text

from exchange import commands as c
from exchange import events as e
from exchange.audit import audit_database
from exchange.results import CommandResult, ResultCode
from exchange.store import SnapshotCorruptError, Store, StoredSnapshot, StoreUnavailableError
from exchange.store import tables as t

T0 = 1_790_000_000_000


def _deposit(seq: int, account_id: int, amount: int, available: int) -> tuple[c.Command, CommandResult]:
    command = c.Deposit(timestamp=T0 + seq, actor_id=1, account_id=account_id, amount=amount)
    events = (
        e.LedgerPosting(
            posting_id=seq,
            debit_account="external",
            credit_account=f"user:{account_id}:available",
            amount=amount,
            memo="deposit",
        ),
        e.BalanceChanged(account_id=account_id, available=available, locked=0),
    )
    return command, CommandResult(seq=seq, code=ResultCode.OK, data={"n": [seq]}, events=events)


def _rows(store: Store, table: str) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(t.metadata.tables[table])).mappings()]


def test_journal_append_and_read(database_url: str) -> None:
    store = Store(database_url)
    assert store.last_seq() == 0
    created = c.CreateAccount(timestamp=T0, actor_id=0, name="ana", role="creator")
    rejected = c.Withdraw(timestamp=T0 + 1, actor_id=1, account_id=2, amount=5)
    store.append(
        [
            (
                created,
                CommandResult(
                    seq=1,
                    code=0,
                    data={"account_id": 2},
                    events=(e.AccountCreated(account_id=2, name="ana", role="creator"),),
                ),
            ),
            (rejected, CommandResult(seq=2, code=ResultCode.INSUFFICIENT_FUNDS, message="no cash")),
        ]
    )
    store.append([_deposit(3, 2, 500, 500)])
    assert store.last_seq() == 3
    records = list(store.read_journal())
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].command == created and records[0].command_type == "CreateAccount"
    assert records[0].data == {"account_id": 2} and records[0].timestamp == T0
    assert records[1].command == rejected and records[1].code == ResultCode.INSUFFICIENT_FUNDS
    assert records[1].message == "no cash"
    assert records[1].result() == CommandResult(seq=2, code=ResultCode.INSUFFICIENT_FUNDS, message="no cash")
    assert [r.seq for r in store.read_journal(after_seq=1)] == [2, 3]
    assert store.get(3).command == c.Deposit(timestamp=T0 + 3, actor_id=1, account_id=2, amount=500)
    assert store.get(4) is None
    store.close()
    # The schema upgrade is idempotent: reopening keeps everything.
    reopened = Store(database_url)
    assert reopened.last_seq() == 3
    reopened.close()


def test_journal_reads_in_chunks(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.store import journal

    monkeypatch.setattr(journal, "READ_CHUNK", 7)
    store = Store(database_url)
    store.append([_deposit(seq, 2, 1, seq) for seq in range(1, 31)])
    assert [r.seq for r in store.read_journal(after_seq=4)] == list(range(5, 31))
    store.close()


def test_projections_coalesce_per_key_and_patch(database_url: str) -> None:
    store = Store(database_url)
    listed = e.InstrumentListed(
        symbol="MAT-INK",
        kind="MAT",
        terms_json="{}",
        tick=1,
        lot=1,
        min_price=1,
        max_price=1000,
        trading_start=T0,
        expiry=T0 + 10,
        status="pending",
    )

    def order(status: str, open_qty: int, filled: int, updated: int) -> e.OrderChanged:
        return e.OrderChanged(
            order_id=7,
            client_order_id="a",
            account_id=2,
            symbol="MAT-INK",
            side="buy",
            order_type="limit",
            price=10,
            quantity=5,
            open_quantity=open_qty,
            filled_quantity=filled,
            status=status,
            created_at=T0,
            updated_at=updated,
        )

    cmd = c.RunExpiry(timestamp=T0, actor_id=1)
    store.append(
        [
            (
                cmd,
                CommandResult(
                    seq=1,
                    code=0,
                    events=(
                        listed,
                        e.AccountCreated(account_id=2, name="ana", role="creator"),
                        e.KillSwitchChanged(account_id=2, engaged=True),
                        order("open", 5, 0, T0),
                    ),
                ),
            ),
            (
                cmd,
                CommandResult(
                    seq=2,
                    code=0,
                    events=(
                        order("partially_filled", 3, 2, T0 + 1),
                        e.InstrumentStatusChanged(symbol="MAT-INK", status="trading"),
                        e.PositionChanged(account_id=2, symbol="MAT-INK", position=2, locked=0),
                        e.PositionChanged(account_id=3, symbol="MAT-INK", position=-2, locked=0),
                        e.IndexPricePublished(index="INK", price=900, published_at=T0 + 2),
                        e.BookLevelChanged(
                            symbol="MAT-INK", side="buy", price=10, quantity=3, order_count=1, book_seq=4
                        ),
                    ),
                ),
            ),
        ]
    )
    (instrument,) = _rows(store, "instruments")
    assert instrument["status"] == "trading" and instrument["settlement_price"] is None
    (account,) = _rows(store, "accounts")
    assert account == {"account_id": 2, "name": "ana", "role": "creator", "kill_switch": True}
    (row,) = _rows(store, "orders")
    assert (row["status"], row["open_quantity"], row["filled_quantity"], row["updated_at"]) == (
        "partially_filled",
        3,
        2,
        T0 + 1,
    )
    # A later batch: upserts replace, partial events alone become UPDATEs.
    store.append(
        [
            (
                cmd,
                CommandResult(
                    seq=3,
                    code=0,
                    events=(
                        order("cancelled", 0, 2, T0 + 3),
                        e.SettlementPriceSet(symbol="MAT-INK", price=950),
                        e.InstrumentStatusChanged(symbol="MAT-INK", status="settled"),
                        e.KillSwitchChanged(account_id=2, engaged=False),
                        e.PositionChanged(account_id=2, symbol="MAT-INK", position=0, locked=0),
                        e.PositionChanged(account_id=3, symbol="MAT-INK", position=0, locked=0),
                        e.TransferDone(
                            transfer_id=1,
                            from_account_id=2,
                            to_account_id=3,
                            symbol=None,
                            quantity=5,
                            transferred_at=T0 + 3,
                        ),
                    ),
                ),
            ),
        ]
    )
    (instrument,) = _rows(store, "instruments")
    assert (instrument["status"], instrument["settlement_price"], instrument["kind"]) == (
        "settled",
        950,
        "MAT",
    )
    assert _rows(store, "accounts")[0]["kill_switch"] is False
    assert _rows(store, "orders")[0]["status"] == "cancelled"
    assert {(r["account_id"], r["position"]) for r in _rows(store, "positions")} == {(2, 0), (3, 0)}
    assert _rows(store, "index_prices") == [
        {"index_name": "INK", "seq": 2, "price": 900, "published_at": T0 + 2}
    ]
    assert _rows(store, "transfers")[0]["seq"] == 3
    store.close()


def test_failed_batch_stores_nothing(database_url: str) -> None:
    store = Store(database_url)
    store.append([_deposit(1, 2, 100, 100)])
    # seq 1 again (a conflict), after a valid new row: the whole batch is rolled back.
    with pytest.raises(StoreUnavailableError, match="journal could not be written"):
        store.append([_deposit(2, 2, 100, 200), _deposit(1, 2, 100, 300)])
    assert store.last_seq() == 1
    assert _rows(store, "balances") == [{"account_id": 2, "available": 100, "locked": 0}]
    assert len(_rows(store, "ledger_postings")) == 1
    store.close()


def test_snapshots_save_and_load_latest(database_url: str) -> None:
    store = Store(database_url)
    assert store.latest_snapshot() is None
    store.save_snapshot(StoredSnapshot.pack(10, [b"\x00state-10"], T0))
    store.save_snapshot(StoredSnapshot.pack(20, [b"\x00state-20", b"\xff" * 1000], T0 + 1))
    latest = store.latest_snapshot()
    assert latest.seq == 20 and latest.created_at == T0 + 1
    assert latest.state() == b"\x00state-20" + b"\xff" * 1000
    assert len(latest.data) < 1000  # stored compressed
    store.close()


def test_a_snapshot_that_does_not_match_its_digest_is_refused(database_url: str) -> None:
    store = Store(database_url)
    packed = StoredSnapshot.pack(10, [b"\x00state-10" * 100], T0)
    store.save_snapshot(msgspec.structs.replace(packed, data=zlib.compress(b"\x00state-11" * 100)))
    with pytest.raises(SnapshotCorruptError, match="seq 10 does not match its digest"):
        store.latest_snapshot().state()
    store.close()


def test_durability_settings(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        else:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    store.close()


# -- AUDIT ---------------------------------------------------------------------------------------


def _sound_history() -> list[tuple[c.Command, CommandResult]]:
    """Two users, cash locked and moved to escrow for a booking, a balanced position."""
    cmd = c.RunExpiry(timestamp=T0, actor_id=1)
    return [
        _deposit(1, 2, 10_000, 10_000),
        (
            cmd,
            CommandResult(
                seq=2,
                code=0,
                events=(
                    e.LedgerPosting(
                        posting_id=2,
                        debit_account="user:2:available",
                        credit_account="user:2:locked",
                        amount=3_000,
                        memo="lock",
                    ),
                    e.BalanceChanged(account_id=2, available=7_000, locked=3_000),
                    e.LedgerPosting(
                        posting_id=3,
                        debit_account="user:2:locked",
                        credit_account="exchange:escrow",
                        amount=3_000,
                        memo="exercise",
                    ),
                    e.BalanceChanged(account_id=2, available=7_000, locked=0),
                    e.LedgerPosting(
                        posting_id=4,
                        debit_account="exchange:escrow",
                        credit_account="user:3:available",
                        amount=900,
                        memo="booking confirmed",
                    ),
                    e.BalanceChanged(account_id=3, available=900, locked=0),
                    e.BookingChanged(
                        booking_id=1,
                        symbol="CAP-X",
                        creator_id=2,
                        supplier_id=3,
                        process="p",
                        window_start=T0,
                        window_end=T0 + 1,
                        units=100,
                        strike=30,
                        escrow_total=3_000,
                        released_to_supplier=900,
                        refunded_to_creator=0,
                        status="confirmed",
                        created_at=T0,
                        updated_at=T0,
                    ),
                    e.PositionChanged(account_id=2, symbol="CAP-X", position=4, locked=1),
                    e.PositionChanged(account_id=3, symbol="CAP-X", position=-4, locked=0),
                    e.CapacityChanged(
                        supplier_id=3,
                        process="p",
                        window_start=T0,
                        window_end=T0 + 1,
                        registered=1000,
                        locked=400,
                        booked=100,
                    ),
                ),
            ),
        ),
    ]


def test_audit_passes_on_a_sound_database(database_url: str) -> None:
    store = Store(database_url)
    store.append(_sound_history())
    store.close()
    assert audit_database(database_url) == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE ledger_postings SET amount = 2000 WHERE posting_id = 3", "ledger says"),
        (
            "UPDATE positions SET position = 5 WHERE account_id = 2",
            "open interest: CAP-X has 5 long but 4 short",
        ),
        ("UPDATE balances SET available = -1 WHERE account_id = 3", "negative"),
        ("UPDATE positions SET locked = 9 WHERE account_id = 2", "reserves 9 of a position of 4"),
        ("UPDATE capacity SET booked = 700", "capacity: supplier 3"),
        ("UPDATE bookings SET released_to_supplier = 0", "escrow: the ledger holds 2100"),
        ("DELETE FROM journal WHERE seq = 1", "journal"),
    ],
)
def test_audit_detects_a_planted_breach(database_url: str, tamper: str, expected: str) -> None:
    store = Store(database_url)
    store.append(_sound_history())
    with store.engine.begin() as connection:
        connection.execute(text(tamper))
    store.close()
    breaches = audit_database(database_url)
    assert any(expected in b for b in breaches), breaches


def test_audit_command_line(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from exchange.audit import run_audit

    store = Store(database_url)
    store.append(_sound_history())
    assert run_audit(database_url) == 0
    assert "audit: ok" in capsys.readouterr().out
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE ledger_postings SET amount = 1 WHERE posting_id = 1"))
    store.close()
    assert run_audit(database_url) == 1
    assert "BREACH balances: account 2" in capsys.readouterr().out
