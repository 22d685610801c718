"""Project a batch of command results' events into the SQL read side.

Events carry absolute state (events.py), so within a batch only the last state of each key
matters: rows are coalesced per key (an order that is placed, partly filled and cancelled in one
batch is written once), then written with one executemany per statement (plain SQL on the store's
DBAPI connection), never through ORM objects. Append-only facts (ledger
postings, trades, transfers, index prices) are inserted; state (accounts, balances, instruments,
orders, positions, capacity, bookings) is upserted (INSERT ... ON CONFLICT DO UPDATE, SQLite and
PostgreSQL alike). Events that change only some columns of a row (InstrumentStatusChanged,
SettlementPriceSet, KillSwitchChanged) merge into that row if the batch has it whole, and are
otherwise written as UPDATEs.

`BookLevelChanged` is market data, not a projection: the book lives in the sequencer's memory.
`AutoExerciseDeclined` is kept by the sequencer's state only (no table yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import Table

from exchange import events as ev
from exchange.store import tables

Row = dict[str, Any]
Key = Any

_T = {name: tables.metadata.tables[name] for name in tables.PROJECTION_TABLES}
# Tables written by upsert (absolute state) and by plain insert (facts), in write order.
UPSERT_TABLES = ("accounts", "balances", "instruments", "orders", "positions", "capacity", "bookings")
INSERT_TABLES = ("ledger_postings", "trades", "transfers", "index_prices")


def _pk(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


class ProjectionBatch:
    """The projection rows of a batch of results, coalesced per key until `write`."""

    def __init__(self) -> None:
        self.full: dict[str, dict[Key, Row]] = {name: {} for name in UPSERT_TABLES}
        self.partial: dict[str, dict[Key, Row]] = {name: {} for name in UPSERT_TABLES}
        # Facts are never coalesced: tuples in the table's column order (FACT_COLUMNS).
        self.facts: dict[str, list[tuple[Any, ...]]] = {name: [] for name in INSERT_TABLES}

    # -- COLLECT ---------------------------------------------------------------------------------

    def add(self, seq: int, events: Iterable[ev.Event]) -> None:
        """Add the events of the command journaled at `seq`, in the order they happened."""
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, seq, event)

    def _set(self, table: str, key: Key, row: Row) -> None:
        self.full[table][key] = row
        self.partial[table].pop(key, None)

    def _patch(self, table: str, key: Key, **values: Any) -> None:
        row = self.full[table].get(key)
        if row is not None:
            row.update(values)
        else:
            self.partial[table].setdefault(key, {}).update(values)

    def __len__(self) -> int:
        return sum(len(d) for group in (self.full, self.partial, self.facts) for d in group.values())

    # -- WRITE -----------------------------------------------------------------------------------

    def write(self, cursor: Any, dialect: str) -> None:
        """Execute the batch on a DBAPI `cursor` (inside the caller's transaction)."""
        statements = _statements(dialect)
        run = cursor.executemany
        for name in UPSERT_TABLES:
            rows = self.full[name]
            if rows:
                sql, row_tuple = statements.upsert[name]
                run(sql, [row_tuple(r) for r in rows.values()])
        for name in UPSERT_TABLES:
            patches = self.partial[name]
            if not patches:
                continue
            by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
            for key, values in patches.items():
                columns = tuple(sorted(values))
                keys = key if isinstance(key, tuple) else (key,)
                by_columns.setdefault(columns, []).append(tuple(values[c] for c in columns) + keys)
            for columns, params in by_columns.items():
                run(statements.patch(name, columns), params)
        for name in INSERT_TABLES:
            facts = self.facts[name]
            if facts:
                run(statements.insert[name][0], facts)


# -- EVENT HANDLERS -----------------------------------------------------------------------------


def _account_created(b: ProjectionBatch, seq: int, e: ev.AccountCreated) -> None:
    patch = b.partial["accounts"].pop(e.account_id, {})
    b._set(
        "accounts",
        e.account_id,
        {"account_id": e.account_id, "name": e.name, "role": e.role, "kill_switch": False, **patch},
    )


def _kill_switch(b: ProjectionBatch, seq: int, e: ev.KillSwitchChanged) -> None:
    b._patch("accounts", e.account_id, kill_switch=e.engaged)


def _balance(b: ProjectionBatch, seq: int, e: ev.BalanceChanged) -> None:
    b._set(
        "balances", e.account_id, {"account_id": e.account_id, "available": e.available, "locked": e.locked}
    )


def _posting(b: ProjectionBatch, seq: int, e: ev.LedgerPosting) -> None:
    b.facts["ledger_postings"].append(
        (e.posting_id, seq, e.debit_account, e.credit_account, e.amount, e.memo)
    )


def _listed(b: ProjectionBatch, seq: int, e: ev.InstrumentListed) -> None:
    b._set(
        "instruments",
        e.symbol,
        {
            "symbol": e.symbol,
            "kind": e.kind,
            "terms_json": e.terms_json,
            "tick": e.tick,
            "lot": e.lot,
            "min_price": e.min_price,
            "max_price": e.max_price,
            "trading_start": e.trading_start,
            "expiry": e.expiry,
            "status": e.status,
            "settlement_price": None,
        },
    )


def _status(b: ProjectionBatch, seq: int, e: ev.InstrumentStatusChanged) -> None:
    b._patch("instruments", e.symbol, status=e.status)


def _settlement_price(b: ProjectionBatch, seq: int, e: ev.SettlementPriceSet) -> None:
    b._patch("instruments", e.symbol, settlement_price=e.price)


def _order(b: ProjectionBatch, seq: int, e: ev.OrderChanged) -> None:
    b._set(
        "orders",
        e.order_id,
        {
            "order_id": e.order_id,
            "client_order_id": e.client_order_id,
            "account_id": e.account_id,
            "symbol": e.symbol,
            "side": e.side,
            "order_type": e.order_type,
            "price": e.price,
            "quantity": e.quantity,
            "open_quantity": e.open_quantity,
            "filled_quantity": e.filled_quantity,
            "status": e.status,
            "cancel_reason": e.cancel_reason,
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        },
    )


def _trade(b: ProjectionBatch, seq: int, e: ev.TradeExecuted) -> None:
    b.facts["trades"].append(
        (
            e.trade_id,
            seq,
            e.symbol,
            e.price,
            e.quantity,
            e.taker_side,
            e.maker_order_id,
            e.taker_order_id,
            e.maker_account_id,
            e.taker_account_id,
            e.maker_fee,
            e.taker_fee,
            e.executed_at,
        )
    )


def _position(b: ProjectionBatch, seq: int, e: ev.PositionChanged) -> None:
    b._set(
        "positions",
        (e.account_id, e.symbol),
        {"account_id": e.account_id, "symbol": e.symbol, "position": e.position, "locked": e.locked},
    )


def _capacity(b: ProjectionBatch, seq: int, e: ev.CapacityChanged) -> None:
    b._set(
        "capacity",
        (e.supplier_id, e.process, e.window_start, e.window_end),
        {
            "supplier_id": e.supplier_id,
            "process": e.process,
            "window_start": e.window_start,
            "window_end": e.window_end,
            "registered": e.registered,
            "locked": e.locked,
            "booked": e.booked,
        },
    )


def _booking(b: ProjectionBatch, seq: int, e: ev.BookingChanged) -> None:
    b._set(
        "bookings",
        e.booking_id,
        {
            "booking_id": e.booking_id,
            "symbol": e.symbol,
            "creator_id": e.creator_id,
            "supplier_id": e.supplier_id,
            "process": e.process,
            "window_start": e.window_start,
            "window_end": e.window_end,
            "units": e.units,
            "strike": e.strike,
            "escrow_total": e.escrow_total,
            "released_to_supplier": e.released_to_supplier,
            "refunded_to_creator": e.refunded_to_creator,
            "status": e.status,
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        },
    )


def _index_price(b: ProjectionBatch, seq: int, e: ev.IndexPricePublished) -> None:
    b.facts["index_prices"].append((e.index, seq, e.price, e.published_at))


def _transfer(b: ProjectionBatch, seq: int, e: ev.TransferDone) -> None:
    b.facts["transfers"].append(
        (e.transfer_id, seq, e.from_account_id, e.to_account_id, e.symbol, e.quantity, e.transferred_at)
    )


# The column order the fact handlers above build their tuples in; checked against the tables.
FACT_COLUMNS = {
    "ledger_postings": ("posting_id", "seq", "debit_account", "credit_account", "amount", "memo"),
    "trades": (
        "trade_id",
        "seq",
        "symbol",
        "price",
        "quantity",
        "taker_side",
        "maker_order_id",
        "taker_order_id",
        "maker_account_id",
        "taker_account_id",
        "maker_fee",
        "taker_fee",
        "executed_at",
    ),
    "index_prices": ("index_name", "seq", "price", "published_at"),
    "transfers": (
        "transfer_id",
        "seq",
        "from_account_id",
        "to_account_id",
        "symbol",
        "quantity",
        "transferred_at",
    ),
}
for _name, _columns in FACT_COLUMNS.items():
    assert tuple(c.name for c in _T[_name].columns) == _columns, _name

_HANDLERS: dict[type, Any] = {
    ev.AccountCreated: _account_created,
    ev.KillSwitchChanged: _kill_switch,
    ev.BalanceChanged: _balance,
    ev.LedgerPosting: _posting,
    ev.InstrumentListed: _listed,
    ev.InstrumentStatusChanged: _status,
    ev.SettlementPriceSet: _settlement_price,
    ev.OrderChanged: _order,
    ev.TradeExecuted: _trade,
    ev.PositionChanged: _position,
    ev.CapacityChanged: _capacity,
    ev.BookingChanged: _booking,
    ev.IndexPricePublished: _index_price,
    ev.TransferDone: _transfer,
}


# -- STATEMENTS (built once per dialect) --------------------------------------------------------


class _Statements:
    """Plain SQL, executed with the DBAPI's executemany: SQLAlchemy's
    per-row parameter processing costs more than the insert itself at these rates. The upsert
    syntax (`ON CONFLICT (...) DO UPDATE SET c = excluded.c`) is the same on SQLite and PostgreSQL;
    only the placeholder differs."""

    def __init__(self, dialect: str) -> None:
        if dialect == "sqlite":
            self.mark = "?"
        elif dialect == "postgresql":
            self.mark = "%s"
        else:
            raise ValueError(f"unsupported dialect {dialect!r}")
        self.upsert: dict[str, tuple[str, Any]] = {}
        for name in UPSERT_TABLES:
            table = _T[name]
            pk = _pk(table)
            sets = ", ".join(f"{c.name} = excluded.{c.name}" for c in table.columns if c.name not in pk)
            sql, row_tuple = self.insert_sql(table)
            self.upsert[name] = (f"{sql} ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}", row_tuple)
        self.insert = {name: self.insert_sql(_T[name]) for name in INSERT_TABLES}
        self._patches: dict[tuple[str, tuple[str, ...]], str] = {}

    def insert_sql(self, table: Table) -> tuple[str, Any]:
        """INSERT of every column of `table`, and a function turning a row dict into its params."""
        columns = [c.name for c in table.columns]
        marks = ", ".join([self.mark] * len(columns))
        return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", itemgetter(*columns)

    def patch(self, name: str, columns: tuple[str, ...]) -> str:
        sql = self._patches.get((name, columns))
        if sql is None:
            table = _T[name]
            sets = ", ".join(f"{c} = {self.mark}" for c in columns)
            where = " AND ".join(f"{k} = {self.mark}" for k in _pk(table))
            sql = self._patches[(name, columns)] = f"UPDATE {table.name} SET {sets} WHERE {where}"
        return sql


_STATEMENTS: dict[str, _Statements] = {}


def _statements(dialect: str) -> _Statements:
    statements = _STATEMENTS.get(dialect)
    if statements is None:
        statements = _STATEMENTS[dialect] = _Statements(dialect)
    return statements
