"""The store: one transaction per batch of commands (journal rows + projections), journal reads,
snapshots, and the schema (alembic `upgrade head`, run when the store opens).

A batch is durable when `append` returns: the transaction is committed and, with the engine's
settings (database.py), flushed to disk. If anything fails, the transaction is rolled back and
`StoreUnavailableError` is raised: none of the batch is stored, and none of it may be acknowledged.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Dialect, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from exchange.commands import Command, decode_command, encode_command
from exchange.results import CommandResult
from exchange.store import tables
from exchange.store.database import make_engine
from exchange.store.projections import ProjectionBatch, _statements

MIGRATIONS = Path(__file__).parent / "migrations"
READ_CHUNK = 10_000

_journal = tables.metadata.tables["journal"]
_snapshots = tables.metadata.tables["snapshots"]
_json = msgspec.json.Encoder()


def _dbapi_error(dialect: Dialect) -> type[Exception]:
    """The driver's base error class (every SQLAlchemy dialect has a DBAPI module once connected)."""
    assert dialect.dbapi is not None
    error: type[Exception] = dialect.dbapi.Error
    return error


class StoreUnavailableError(RuntimeError):
    """The database could not be written (or read); nothing of the failed batch is stored."""


class _StoredResult(msgspec.Struct, frozen=True):
    code: int
    message: str = ""
    data: dict[str, Any] = {}


_result_decoder = msgspec.json.Decoder(_StoredResult)


class JournalRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One journal row, decoded: the command and its result (without the events)."""

    seq: int
    command_type: str
    command: Command
    code: int
    message: str
    data: dict[str, Any]
    timestamp: int

    def result(self) -> CommandResult:
        return CommandResult(seq=self.seq, code=self.code, message=self.message, data=self.data)


class SnapshotCorruptError(RuntimeError):
    """A stored snapshot's bytes do not match their digest."""


class StoredSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot row: `data` is Sequencer.snapshot() compressed with zlib, `digest` the hex
    SHA-256 of `data` (checked before the state is used)."""

    seq: int
    digest: str
    data: bytes
    created_at: int

    @classmethod
    def pack(cls, seq: int, parts: Sequence[bytes], created_at: int) -> StoredSnapshot:
        """Compress and digest Sequencer.snapshot() bytes, given in pieces (joined, they are the
        snapshot). zlib and hashlib release the GIL on each piece, so a background thread can do
        this while the sequencer goes on (DurableExchange)."""
        compressor = zlib.compressobj(1)
        data = b"".join([compressor.compress(part) for part in parts] + [compressor.flush()])
        return cls(seq=seq, digest=hashlib.sha256(data).hexdigest(), data=data, created_at=created_at)

    def state(self) -> bytes:
        """The Sequencer.snapshot() bytes."""
        if hashlib.sha256(self.data).hexdigest() != self.digest:
            raise SnapshotCorruptError(f"the snapshot at seq {self.seq} does not match its digest")
        return zlib.decompress(self.data)


def alembic_config() -> AlembicConfig:
    config = AlembicConfig(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration, on `engine`'s database."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.upgrade(config, "head")


def journal_row(command: Command, result: CommandResult) -> dict[str, Any]:
    return {
        "seq": result.seq,
        "command_type": type(command).__name__,
        "command": encode_command(command).decode(),
        "code": int(result.code),
        "result": _json.encode(
            {"code": int(result.code), "message": result.message, "data": result.data}
        ).decode(),
        "timestamp": command.timestamp,
    }


class Store:
    """The journal, snapshots and projections of one database (one shard's writer)."""

    def __init__(self, url: str, *, upgrade: bool = True, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url)
        self._writer: Any = None  # see _write_connection
        if upgrade:
            try:
                upgrade_schema(self.engine)
            except SQLAlchemyError as exc:
                raise StoreUnavailableError(f"cannot open the store: {exc}") from exc

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()

    def _write_connection(self) -> Any:
        """The DBAPI connection `append` writes through, kept for the store's life: SQLAlchemy's
        pool checkout, transaction and event machinery cost more per group commit than a small
        group's inserts (at 5,000 commands/s most groups are small)."""
        if self._writer is None:
            self._writer = self.engine.raw_connection()
        return self._writer

    # -- WRITE -----------------------------------------------------------------------------------

    def append(
        self, entries: Sequence[tuple[Command, CommandResult]], snapshot: StoredSnapshot | None = None
    ) -> None:
        """Journal the batch and write its projections in ONE transaction, committed on return;
        with `snapshot`, that snapshot row too.

        Entries are in seq order; their seqs are new (repeated idempotent commands are not
        journaled again: the caller leaves them out)."""
        if not entries and snapshot is None:
            return
        rows = []
        batch = ProjectionBatch()
        for command, result in entries:
            rows.append(journal_row(command, result))
            if result.events:
                batch.add(result.seq, result.events)
        dialect = self.engine.dialect
        try:
            connection = self._write_connection()
            cursor = connection.cursor()
            try:
                if rows:
                    sql, row_tuple = _journal_insert(dialect.name)
                    cursor.executemany(sql, [row_tuple(r) for r in rows])
                    batch.write(cursor, dialect.name)
                if snapshot is not None:
                    sql, row_tuple = _snapshot_insert(dialect.name)
                    cursor.execute(sql, row_tuple(msgspec.structs.asdict(snapshot)))
            finally:
                cursor.close()
            connection.commit()
        except (_dbapi_error(dialect), SQLAlchemyError) as exc:
            self._discard_write_connection()
            raise StoreUnavailableError(f"the journal could not be written: {_short(exc)}") from exc

    def _discard_write_connection(self) -> None:
        """After a failed write: nothing of it may stay (rolled back), nor the connection."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.rollback()
            except Exception:  # the connection may be gone already
                pass
            writer.invalidate()

    def save_snapshot(self, snapshot: StoredSnapshot) -> None:
        self.append((), snapshot)

    # -- READ ------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raises when the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    def last_seq(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.coalesce(func.max(_journal.c.seq), 0))).scalar_one())

    def latest_snapshot(self) -> StoredSnapshot | None:
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(_snapshots).order_by(_snapshots.c.seq.desc()).limit(1))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return StoredSnapshot(
            seq=row["seq"],
            digest=row["digest"],
            data=bytes(row["data"]),
            created_at=row["created_at"],
        )

    def read_journal(self, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[JournalRecord]:
        """The journal rows with after_seq < seq (<= upto_seq), in seq order, read in chunks."""
        cursor = after_seq
        while True:
            query = select(
                _journal.c.seq,
                _journal.c.command_type,
                _journal.c.command,
                _journal.c.result,
                _journal.c.timestamp,
            ).where(_journal.c.seq > cursor)
            if upto_seq is not None:
                query = query.where(_journal.c.seq <= upto_seq)
            query = query.order_by(_journal.c.seq).limit(READ_CHUNK)
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            for seq, command_type, command_json, result_json, timestamp in rows:
                stored = _result_decoder.decode(result_json)
                yield JournalRecord(
                    seq=seq,
                    command_type=command_type,
                    command=decode_command(command_json),
                    code=stored.code,
                    message=stored.message,
                    data=stored.data,
                    timestamp=timestamp,
                )
            cursor = rows[-1][0]
            if len(rows) < READ_CHUNK:
                return

    def read_commands(self, after_seq: int = 0) -> Iterator[tuple[int, Command, int]]:
        """(seq, command, code) of the journal rows after `after_seq`, in seq order: what replay
        needs, without decoding the stored results."""
        cursor = after_seq
        decode = decode_command
        while True:
            query = (
                select(_journal.c.seq, _journal.c.command, _journal.c.code)
                .where(_journal.c.seq > cursor)
                .order_by(_journal.c.seq)
                .limit(READ_CHUNK)
            )
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            for seq, command_json, code in rows:
                yield seq, decode(command_json), code
            if len(rows) < READ_CHUNK:
                return
            cursor = rows[-1][0]

    def get(self, seq: int) -> JournalRecord | None:
        for record in self.read_journal(seq - 1, seq):
            return record
        return None


def _journal_insert(dialect: str) -> tuple[str, Any]:
    return _statements(dialect).insert_sql(_journal)


def _snapshot_insert(dialect: str) -> tuple[str, Any]:
    return _statements(dialect).insert_sql(_snapshots)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
