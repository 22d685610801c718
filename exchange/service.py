"""DurableExchange: the sequencer behind a durable journal, with group commit and recovery.

    commands -> Sequencer.apply (in memory) -> Store.append (journal rows + projections,
    ONE transaction, committed and flushed to disk) -> results returned (acknowledged)

- **Durability before acknowledgement.** `submit_batch` applies a group of commands, writes them
  in one transaction, and returns their results only after the commit. Grouping the commands of
  many clients, and stamping their time, is the sequencer runtime's (exchange/runtime).
- **Idempotency.** A command the sequencer answers with an already-journaled seq (a repeated
  client order id of the same account) gets the first result back (seq, code, message, data;
  no events: they were published with the first) and no new journal row.
- **Failure.** If a commit fails, the in-memory state is ahead of the database, so nothing more
  can be trusted: the batch is not acknowledged (its results are STORE_UNAVAILABLE) and every
  later command is refused with STORE_UNAVAILABLE until the process restarts and recovers.
- **Recovery.** On open: the latest snapshot (if any) is restored, then the journal after it is
  replayed through the sequencer; every replayed result must have the journaled seq and code,
  otherwise `RecoveryError` (the code and the journal disagree: do not serve).
- **Snapshots.** After a commit, when at least `snapshot_interval` commands were journaled since the
  last snapshot, one is taken at the current seq (`Sequencer.snapshot_in_steps`: a few ms per
  100,000 commands). Its bulk is encoded one step (about 1 ms) after each following commit; then
  a background thread compresses and digests it (zlib and hashlib release the GIL), and the next
  commit after that saves it in a transaction of its own. A failed snapshot is only logged: the
  journal alone is enough to recover.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import msgspec

from exchange.commands import Command
from exchange.results import CommandResult, ResultCode
from exchange.settings import ExchangeSettings
from exchange.store import SnapshotCorruptError, Store, StoredSnapshot, StoreUnavailableError

if TYPE_CHECKING:
    from exchange.snapshot import SnapshotInSteps

log = logging.getLogger(__name__)


class RecoveryError(RuntimeError):
    """Replaying the journal did not reproduce the journaled results."""


def _sequencer_class() -> Any:
    from exchange.sequencer import Sequencer

    return Sequencer


class DurableExchange:
    """One shard's sequencer with its durable store. Open it once per process (single writer)."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        settings: ExchangeSettings | None = None,
        config: Any = None,
        book_factory: Callable[..., Any] | None = None,
        group_commit_size: int | None = None,
        snapshot_interval: int | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or ExchangeSettings()
        self.group_commit_size = group_commit_size or self.settings.group_commit_size
        self.snapshot_interval = (
            self.settings.snapshot_interval if snapshot_interval is None else snapshot_interval
        )
        self._config = config
        self._book_factory = book_factory
        self.store = store or Store(database_url or self.settings.database_url)
        self._write_lock = threading.Lock()
        self._unavailable: str | None = None
        self.replayed = 0  # commands replayed from the journal on open
        self.sequencer = self._recover()
        self._durable_seq: int = self.sequencer.last_seq
        self._snapshot_seq = self._snapshot_seq_on_open  # of the last snapshot taken
        self._saved_snapshot_seq = self._snapshot_seq_on_open
        self._encoding: SnapshotInSteps | None = None  # taken, not encoded yet
        self._encoding_timestamp = 0
        self._packer: ThreadPoolExecutor | None = None  # started with the first snapshot
        self._packing: Future[StoredSnapshot] | None = None

    # -- RECOVERY --------------------------------------------------------------------------------

    def _new_sequencer(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self._config is not None:
            kwargs["config"] = self._config
        if self._book_factory is not None:
            kwargs["book_factory"] = self._book_factory
        return _sequencer_class()(**kwargs)

    def _restore(self, data: bytes) -> Any:
        cls = _sequencer_class()
        if self._book_factory is not None:
            try:
                return cls.restore(data, book_factory=self._book_factory)
            except TypeError:
                pass
        return cls.restore(data)

    def _recover(self) -> Any:
        snapshot = self.store.latest_snapshot()
        if snapshot is not None:
            try:
                sequencer = self._restore(snapshot.state())
            except SnapshotCorruptError as exc:
                raise RecoveryError(str(exc)) from exc
            if sequencer.last_seq != snapshot.seq:
                raise RecoveryError(f"snapshot at seq {snapshot.seq} restores to seq {sequencer.last_seq}")
            self._snapshot_seq_on_open = snapshot.seq
        else:
            sequencer = self._new_sequencer()
            self._snapshot_seq_on_open = 0
        replayed = 0
        apply = sequencer.apply
        for seq, command, code in self.store.read_commands(sequencer.last_seq):
            result = apply(command)
            if result.seq != seq or result.code != code:
                raise RecoveryError(
                    f"replay of seq {seq} ({type(command).__name__}) gave seq {result.seq} code "
                    f"{result.code}, the journal says code {code}"
                )
            replayed += 1
        self.replayed = replayed
        return sequencer

    # -- COMMANDS --------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The last durable (acknowledged) seq."""
        return self._durable_seq

    @property
    def available(self) -> bool:
        return self._unavailable is None

    def state_hash(self) -> str:
        return str(self.sequencer.state_hash())

    def submit_batch(self, commands: Iterable[Command]) -> list[CommandResult]:
        """Apply the commands in order, committing every `group_commit_size` of them in one
        transaction; return their results, each acknowledged (durable) or STORE_UNAVAILABLE."""
        with self._write_lock:
            return self._submit_locked(list(commands))

    def _submit_locked(self, commands: Sequence[Command]) -> list[CommandResult]:
        results: list[CommandResult] = []
        size = self.group_commit_size
        for start in range(0, len(commands), size):
            chunk = commands[start : start + size]
            if self._unavailable is not None:
                results.extend(self._refusal(c) for c in chunk)
                continue
            results.extend(self._commit_group(chunk))
        return results

    def _commit_group(self, commands: Sequence[Command]) -> list[CommandResult]:
        sequencer = self.sequencer
        results: list[CommandResult] = []
        entries: list[tuple[Command, CommandResult]] = []
        last = self._durable_seq
        try:
            for command in commands:
                result = sequencer.apply(command)
                if result.seq > last:
                    if result.seq != last + 1:
                        raise RuntimeError(f"the sequencer skipped from seq {last} to {result.seq}")
                    entries.append((command, result))
                    last = result.seq
                elif result.events:
                    # A repeat: the first result, without its events (they were published once).
                    result = msgspec.structs.replace(result, events=())
                results.append(result)
        except BaseException:
            # A sequencer bug: its state may be half-changed. Keep what was applied before it
            # (durable if it can be), then refuse everything until a restart replays the journal.
            self._unavailable = "the sequencer failed while applying a command"
            self._append(entries)
            raise
        if not self._append(entries):
            return [self._refusal(c) for c in commands]
        self._save_packed_snapshot()
        self._encode_snapshot_step()
        self._maybe_snapshot(commands[-1].timestamp)
        return results

    def _append(self, entries: list[tuple[Command, CommandResult]]) -> bool:
        try:
            self.store.append(entries)
        except StoreUnavailableError as exc:
            self._unavailable = str(exc)
            log.error("store unavailable, refusing commands until restart: %s", exc)
            return False
        if entries:
            self._durable_seq = entries[-1][1].seq
        return True

    def _refusal(self, command: Command) -> CommandResult:
        return CommandResult(
            seq=0,
            code=ResultCode.STORE_UNAVAILABLE,
            message=(
                f"not accepted: the store is unavailable ({self._unavailable}); nothing was acknowledged "
                "after the last durable command; restart the exchange to recover from the journal"
            ),
        )

    # -- SNAPSHOTS -------------------------------------------------------------------------------

    def _maybe_snapshot(self, timestamp: int) -> None:
        interval = self.snapshot_interval
        if interval and self._durable_seq - self._snapshot_seq >= interval:
            # One still unsaved after `interval` more commands is finished first (in practice it
            # never is), so snapshots fall on the same seqs whatever the packer's timing.
            self._encode_snapshot_step(to_the_end=True)
            self._save_packed_snapshot(wait=True)
            self._encoding = self.sequencer.snapshot_in_steps()
            self._encoding_timestamp = timestamp
            self._snapshot_seq = self._durable_seq

    def _encode_snapshot_step(self, to_the_end: bool = False) -> None:
        encoding = self._encoding
        if encoding is None:
            return
        done = encoding.step()
        while to_the_end and not done:
            done = encoding.step()
        if not done:
            return
        self._encoding = None
        if self._packer is None:
            self._packer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-packer")
        seq, timestamp = self._snapshot_seq, self._encoding_timestamp
        self._packing = self._packer.submit(StoredSnapshot.pack, seq, encoding.parts(), timestamp)

    def _save_packed_snapshot(self, wait: bool = False) -> None:
        """Save the snapshot being packed, if it is ready (or, with `wait`, once it is)."""
        packing = self._packing
        if packing is None or not (wait or packing.done()):
            return
        self._packing = None
        try:
            packed = packing.result()
            self.store.save_snapshot(packed)
        except Exception as exc:  # the journal alone is enough to recover
            log.warning("snapshot not saved: %s", exc)
            return
        self._saved_snapshot_seq = packed.seq

    def snapshot(self, timestamp: int = 0) -> int:
        """Save a snapshot of the sequencer at the current durable seq now; returns the seq of
        the latest saved snapshot."""
        self._encode_snapshot_step(to_the_end=True)
        self._save_packed_snapshot(wait=True)
        seq = self._durable_seq
        if seq != self._saved_snapshot_seq:
            self._snapshot_seq = seq
            self._packing = Future()
            self._packing.set_result(StoredSnapshot.pack(seq, [self.sequencer.snapshot()], timestamp))
            self._save_packed_snapshot()
        return self._saved_snapshot_seq

    def close(self) -> None:
        self._encode_snapshot_step(to_the_end=True)
        self._save_packed_snapshot(wait=True)
        if self._packer is not None:
            self._packer.shutdown()
            self._packer = None
        self.store.close()

    def __enter__(self) -> DurableExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
