"""SQL tables of the store: the command journal, snapshots, and the read-side projections.

The journal is the source of truth: one row per journaled command (rejected ones too), in `seq`
order, with the command as JSON (`commands.encode_command`) and its result (code, message, data;
not the events, which replay regenerates). Snapshots are the sequencer's `snapshot()` bytes at a
journal seq, so recovery replays only the tail.

Projections are what events say, as absolute state (events.py): they are written in the same
transaction as the journal rows of the commands that produced them, so at every commit they
agree with the journal. Queries (history, positions, ledger) read them; the hot state lives in the
sequencer's memory.

Units: money in fen, prices in fen per contract, quantities in contracts, capacity in production
units, times in ms since the Unix epoch (UTC). All integers are BIGINT. Where "locks" live:
`balances.locked` (cash, fen), `positions.locked` (contracts of a long reserved), `capacity.locked`
(production units collateralising written options).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, MetaData, Text
from sqlmodel import Field, SQLModel

# A single-column integer key: BIGINT, but on SQLite the rowid alias INTEGER PRIMARY KEY (faster).
ID = BigInteger().with_variant(Integer(), "sqlite")

# One metadata for the store (the alembic migrations describe the same tables).
metadata: MetaData = SQLModel.metadata


# -- JOURNAL AND SNAPSHOTS ----------------------------------------------------------------------


class JournalEntry(SQLModel, table=True):
    """One journaled command. `seq` is the sequencer's sequence number, gapless from 1."""

    __tablename__ = "journal"

    seq: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    command_type: str = Field(max_length=64)
    command: str = Field(sa_type=Text)  # JSON, commands.encode_command
    code: int  # results.ResultCode, duplicated out of `result` for queries
    result: str = Field(sa_type=Text)  # JSON {"code", "message", "data"}
    timestamp: int = Field(sa_type=BigInteger)  # the command's timestamp, ms since epoch


class Snapshot(SQLModel, table=True):
    """The sequencer's whole state after journal entry `seq`: Sequencer.snapshot(), compressed
    (zlib), with the hex SHA-256 of the stored bytes."""

    __tablename__ = "snapshots"

    seq: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    digest: str = Field(max_length=64)
    data: bytes = Field(sa_type=LargeBinary)
    created_at: int = Field(sa_type=BigInteger)  # timestamp of the command at `seq`


# -- ACCOUNTS AND CASH --------------------------------------------------------------------------


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    account_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(default="", max_length=200)
    role: str = Field(default="", max_length=32)
    kill_switch: bool = False


class Balance(SQLModel, table=True):
    """A user's cash in fen: available + locked is what the user owns."""

    __tablename__ = "balances"

    account_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    available: int = Field(sa_type=BigInteger)
    locked: int = Field(sa_type=BigInteger)


class LedgerPostingRow(SQLModel, table=True):
    """One balanced movement of `amount` fen from `debit_account` to `credit_account`.

    The balance of a ledger account is what it was credited minus what it was debited. No index
    on the account names: each would double the cost of the table's inserts, the hottest write of
    the store (current cash is in `balances`; a per-account history query would add one)."""

    __tablename__ = "ledger_postings"

    posting_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    debit_account: str = Field(max_length=64)
    credit_account: str = Field(max_length=64)
    amount: int = Field(sa_type=BigInteger)
    memo: str = Field(default="", max_length=200)


class Transfer(SQLModel, table=True):
    __tablename__ = "transfers"

    transfer_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    from_account_id: int = Field(sa_type=BigInteger)
    to_account_id: int = Field(sa_type=BigInteger)
    symbol: str | None = Field(default=None, max_length=200)  # None for cash
    quantity: int = Field(sa_type=BigInteger)  # contracts, or fen for cash
    transferred_at: int = Field(sa_type=BigInteger)


# -- INSTRUMENTS, ORDERS, TRADES, POSITIONS -----------------------------------------------------


class Instrument(SQLModel, table=True):
    __tablename__ = "instruments"

    symbol: str = Field(primary_key=True, max_length=200)
    kind: str = Field(default="", max_length=8)  # CAP | MAT | SWP
    terms_json: str = Field(default="{}", sa_type=Text)
    tick: int = Field(default=0, sa_type=BigInteger)
    lot: int = Field(default=0, sa_type=BigInteger)
    min_price: int = Field(default=0, sa_type=BigInteger)
    max_price: int = Field(default=0, sa_type=BigInteger)
    trading_start: int = Field(default=0, sa_type=BigInteger)
    expiry: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default="pending", max_length=16)
    settlement_price: int | None = Field(default=None, sa_type=BigInteger)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_account_client", "account_id", "client_order_id"),
        Index("ix_orders_symbol_status", "symbol", "status"),
    )

    order_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    client_order_id: str = Field(max_length=64)
    account_id: int = Field(sa_type=BigInteger)
    symbol: str = Field(max_length=200)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=16)
    price: int = Field(sa_type=BigInteger)
    quantity: int = Field(sa_type=BigInteger)
    open_quantity: int = Field(sa_type=BigInteger)
    filled_quantity: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=20)
    cancel_reason: str | None = Field(default=None, max_length=40)
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class Trade(SQLModel, table=True):
    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_symbol", "symbol", "trade_id"),)

    trade_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    symbol: str = Field(max_length=200)
    price: int = Field(sa_type=BigInteger)
    quantity: int = Field(sa_type=BigInteger)
    taker_side: str = Field(max_length=4)
    maker_order_id: int = Field(sa_type=BigInteger)
    taker_order_id: int = Field(sa_type=BigInteger)
    maker_account_id: int = Field(sa_type=BigInteger)
    taker_account_id: int = Field(sa_type=BigInteger)
    maker_fee: int = Field(sa_type=BigInteger)
    taker_fee: int = Field(sa_type=BigInteger)
    executed_at: int = Field(sa_type=BigInteger)


class Position(SQLModel, table=True):
    """Net contracts (long > 0, short < 0) and the contracts of a long reserved (`locked`)."""

    __tablename__ = "positions"

    account_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    symbol: str = Field(primary_key=True, max_length=200)
    position: int = Field(sa_type=BigInteger)
    locked: int = Field(sa_type=BigInteger)


# -- CAPACITY, BOOKINGS, INDEX PRICES -----------------------------------------------------------


class Capacity(SQLModel, table=True):
    __tablename__ = "capacity"

    supplier_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    process: str = Field(primary_key=True, max_length=200)
    window_start: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    window_end: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    registered: int = Field(sa_type=BigInteger)
    locked: int = Field(sa_type=BigInteger)
    booked: int = Field(sa_type=BigInteger)


class Booking(SQLModel, table=True):
    __tablename__ = "bookings"

    booking_id: int = Field(sa_type=ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    symbol: str = Field(max_length=200)
    creator_id: int = Field(sa_type=BigInteger)
    supplier_id: int = Field(sa_type=BigInteger)
    process: str = Field(max_length=200)
    window_start: int = Field(sa_type=BigInteger)
    window_end: int = Field(sa_type=BigInteger)
    units: int = Field(sa_type=BigInteger)
    strike: int = Field(sa_type=BigInteger)
    escrow_total: int = Field(sa_type=BigInteger)
    released_to_supplier: int = Field(sa_type=BigInteger)
    refunded_to_creator: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=20)
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class IndexPrice(SQLModel, table=True):
    """One published index price (fen per unit), keyed by index and the journal seq of its command."""

    __tablename__ = "index_prices"
    __table_args__ = (Index("ix_index_prices_index_time", "index_name", "published_at"),)

    index_name: str = Field(primary_key=True, max_length=200)
    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    price: int = Field(sa_type=BigInteger)
    published_at: int = Field(sa_type=BigInteger)


PROJECTION_TABLES = (
    "accounts",
    "balances",
    "ledger_postings",
    "transfers",
    "instruments",
    "orders",
    "trades",
    "positions",
    "capacity",
    "bookings",
    "index_prices",
)
