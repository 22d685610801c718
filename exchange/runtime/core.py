"""SequencerRuntime: the one loop logic that runs a shard's sequencer, whatever carries requests.

    requests, in arrival order (from a transport: a writer thread's queue, a socket pair's frames,
    a Redis stream's entries)
        -> `serve`: consecutive command requests form a group of at most `group_size` commands;
           anything else (a query, book views, a ping, an event replay) is answered between groups
        -> `commit(group)`: stamp each command with the wall clock, never earlier than the previous
           command's (time only moves forward in the journal) -> DurableExchange.submit_batch
           (applied, journaled, committed: durable before it is answered) -> one EventBatch per
           newly journaled command, kept in the replay ring
        -> the transport answers each request and publishes the batches

The runtime owns the `DurableExchange` (recovery happens when it is opened) and knows no transport:
transports (exchange.runtime.inproc, .process, .redis_streams) only move bytes and futures. It is
not thread-safe: one transport thread calls it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from exchange.commands import Command
from exchange.results import CommandResult, ResultCode
from exchange.runtime.views import BookView, EventBatch, journaled_batches, now_ms, run_query, take_book_views

log = logging.getLogger(__name__)

R = TypeVar("R")

NOT_COMMANDS = -1  # what `size_of` answers for a request that is not a group of commands


def open_exchange(database_url: str, exchange_factory: Callable[[str], Any] | None = None) -> Any:
    """The shard's DurableExchange, recovered from its journal (or what a test's factory makes)."""
    if exchange_factory is not None:
        return exchange_factory(database_url)
    from exchange.service import DurableExchange

    return DurableExchange(database_url)


class SequencerRuntime:
    """A recovered exchange and what every host of it does: stamp, group, commit, answer, dedupe,
    keep recent event batches. `exchange` is a DurableExchange (or a stand-in with its surface:
    submit_batch, sequencer, store, last_seq, available, close)."""

    def __init__(
        self,
        exchange: Any,
        *,
        clock: Callable[[], int] = now_ms,
        group_size: int | None = None,
        replay_batches: int = 0,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.group_size: int = group_size or int(getattr(exchange, "group_commit_size", 1_000))
        self.last_timestamp = 0
        self.published_seq: int = exchange.last_seq
        # The last `replay_batches` event batches, for clients that missed some (0: none kept).
        self.recent: deque[EventBatch] | None = deque(maxlen=replay_batches) if replay_batches else None
        self._taken: dict[str, int] = {}  # request key -> deadline (ms), in arrival order
        self.commands_applied = 0

    @classmethod
    def open(
        cls,
        database_url: str,
        *,
        exchange_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], int] = now_ms,
        group_size: int | None = None,
        replay_batches: int = 0,
    ) -> SequencerRuntime:
        """Open (recover) the shard's exchange and wrap it."""
        exchange = open_exchange(database_url, exchange_factory)
        return cls(exchange, clock=clock, group_size=group_size, replay_batches=replay_batches)

    def close(self) -> None:
        self.exchange.close()

    # -- STATE -----------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The last durable (acknowledged) journal seq."""
        return int(self.exchange.last_seq)

    @property
    def available(self) -> bool:
        return bool(self.exchange.available)

    def health(self) -> dict[str, Any]:
        """The runtime's part of the one health shape: journal seq and store state."""
        return {
            "journal_seq": self.last_seq,
            "store": "ok" if self.available else "unavailable",
        }

    # -- THE LOOP --------------------------------------------------------------------------------

    def serve(
        self,
        requests: Sequence[R],
        size_of: Callable[[R], int],
        run_group: Callable[[list[R]], None],
        answer: Callable[[R], bool],
    ) -> bool:
        """Walk `requests` in order. Consecutive command requests (`size_of` >= 0: how many
        commands) are gathered in groups of at most `group_size` commands (a single larger request
        is one group; the exchange commits it in chunks) and handed to `run_group`, which commits
        them with `commit`; any other request (`size_of` == NOT_COMMANDS) goes to `answer`
        between groups, so what it reads is consistent with a journal seq. `answer` returning True
        stops the walk (what is left is not served); returns whether it stopped."""
        limit = self.group_size
        group: list[R] = []
        size = 0
        for request in requests:
            count = size_of(request)
            if count >= 0:
                if group and size + count > limit:
                    run_group(group)
                    group, size = [], 0
                group.append(request)
                size += count
                continue
            if group:
                run_group(group)
                group, size = [], 0
            if answer(request):
                return True
        if group:
            run_group(group)
        return False

    def commit(self, commands: Sequence[Command]) -> tuple[list[CommandResult], list[EventBatch]]:
        """Stamp the commands (wall clock, never before the previous command's), apply and commit
        them durably; their results in order and the event batches of what was newly journaled.
        If the exchange fails, the whole group is refused (STORE_UNAVAILABLE), as DurableExchange
        refuses everything after it until a restart."""
        if not commands:
            return [], []
        clock = self.clock
        last = self.last_timestamp
        replace = msgspec.structs.replace
        stamped = []
        for command in commands:
            now = clock()
            if now < last:
                now = last
            stamped.append(replace(command, timestamp=now))
            last = now
        self.last_timestamp = last
        try:
            results: list[CommandResult] = self.exchange.submit_batch(stamped)
        except Exception as exc:
            log.exception("the sequencer failed")
            refused = CommandResult(
                seq=0, code=ResultCode.STORE_UNAVAILABLE, message=f"sequencer failure: {exc}"
            )
            return [refused] * len(stamped), []
        batches, self.published_seq = journaled_batches(results, self.published_seq)
        self.commands_applied += len(stamped)
        if self.recent is not None and batches:
            self.recent.extend(batches)
        return results, batches

    # -- READS (between groups) ------------------------------------------------------------------

    def query(self, name: str, args: Sequence[Any]) -> Any:
        """One of QUERIES, as builtins."""
        return run_query(self.exchange.sequencer, name, args)

    def book_views(self, symbols: Sequence[str] | None, levels: int) -> list[BookView]:
        return take_book_views(self.exchange.sequencer, symbols, levels)

    def ping(self) -> None:
        """Check the database (raises if it cannot be reached)."""
        self.exchange.store.ping()

    def replay(self, after_seq: int, limit: int) -> list[EventBatch]:
        """The kept event batches after `after_seq`, in order, at most `limit`."""
        if self.recent is None:
            return []
        held = [batch for batch in self.recent if batch.seq > after_seq]
        return held[:limit]

    # -- RETRIED REQUESTS ------------------------------------------------------------------------

    def first_time(self, key: str, deadline: int) -> bool:
        """False for a request key taken before (a client's write retried on a broken connection
        may have arrived twice). A key is remembered until its deadline (ms since epoch, on the
        runtime's clock): after it, a copy would be dropped as expired anyway."""
        now = self.clock()
        taken = self._taken
        while taken:
            oldest = next(iter(taken))
            if taken[oldest] > now:
                break
            del taken[oldest]
        if key in taken:
            log.warning("sequencer: request %s arrived twice; the copy is ignored", key)
            return False
        if deadline > now:
            taken[key] = deadline
        return True
