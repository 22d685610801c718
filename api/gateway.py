"""The gateway: how the API reaches the sequencer, and how the sequencer's events reach the API.

    route / WS session --(command)--> Gateway.submit --> sequencer host (single writer)
                                                       --> durable result (acknowledged)
    Gateway.subscribe() <--(EventBatch per journaled command, in seq order)-- sequencer host

The API holds no business rule: it stamps nothing but the actor, and waits for the durable
result. The sequencer host (not the Sequencer, which reads no clock) gives each command its
timestamp, never earlier than the previous one's, so time only moves forward in the journal
(`StampingWriter`, shared by every host).

Two implementations with one interface:
- `EmbeddedGateway`: the sequencer and its store in this process, behind one writer thread that
  takes queued commands in groups (group commit) and answers queries between groups, so reads of
  the hot state are consistent with a journal seq.
- `api.redis_gateway.RedisGateway` (scale-out): commands and queries go to the sequencer process
  over Redis; event batches come back over Redis with their journal seq, so a lost message shows up
  as a gap (`EventBatch.seq` not contiguous) and consumers resync from a fresh `book_views()`.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from prometheus_client import Counter

from api import metrics
from exchange.commands import Command
from exchange.events import AnyEvent
from exchange.results import CommandResult, ResultCode

log = logging.getLogger(__name__)

T = TypeVar("T")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EventBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The events of one journaled command. `seq` is its journal seq: gapless across batches."""

    seq: int
    events: tuple[AnyEvent, ...]


class BookView(msgspec.Struct, frozen=True, kw_only=True):
    """One book's aggregated levels at a point of the journal. Levels are (price, quantity,
    order_count), best first. `book_seq` is the book's engine sequence (the last event it emitted);
    `journal_seq` the last journaled command applied when the view was taken."""

    symbol: str
    book_seq: int
    journal_seq: int
    bids: list[tuple[int, int, int]]
    asks: list[tuple[int, int, int]]


# Read-only sequencer queries the API may ask for (Sequencer method names). Results come back as
# plain builtins (msgspec.to_builtins), the same in both gateway modes.
QUERIES = frozenset(
    {
        "account",
        "balances",
        "positions",
        "order",
        "open_orders",
        "instrument",
        "instruments",
        "bookings",
        "capacity",
        "index_prices",
        "index_price_bands",
        "estimated_settlement_price",
        "system_balances",
        "audit",
        "last_seq",
    }
)


class GatewayUnavailable(RuntimeError):
    """The sequencer cannot be reached, and nothing was applied: a read failed, or a command was
    not handed over (the gateway is not running) or was dropped unapplied (its deadline passed
    before the sequencer took it). Answered UNAVAILABLE (503)."""


class OutcomeUnknown(GatewayUnavailable):
    """Command(s) were handed to the sequencer and no result came back (no answer in time, the
    sequencer process or the link to it died): each may or may not have been applied. Answered
    OUTCOME_UNKNOWN (503); an order's retry with the same client order id returns the first result
    if it was applied and is never applied twice."""


class Gateway(abc.ABC):
    """One interface for both modes. All methods are called from the event loop."""

    def __init__(self) -> None:
        self._subscribers: list[asyncio.Queue[EventBatch]] = []

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def submit_many(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Results in order, each returned once durable (or refused). Raises GatewayUnavailable
        when nothing was applied (the sequencer was not reached), OutcomeUnknown when the
        commands were handed over and no result came back."""

    async def submit(self, command: Command) -> CommandResult:
        return (await self.submit_many([command]))[0]

    @abc.abstractmethod
    async def query(self, name: str, *args: Any) -> Any:
        """A read of the sequencer's hot state (one of QUERIES), as builtins."""

    @abc.abstractmethod
    async def book_views(self, symbols: Sequence[str] | None = None, levels: int = 10) -> list[BookView]:
        """Views of the named books (all books when None), all taken at the same journal seq."""

    async def book_view(self, symbol: str, levels: int = 10) -> BookView | None:
        views = await self.book_views([symbol], levels)
        return views[0] if views else None

    @abc.abstractmethod
    async def health(self) -> dict[str, Any]:
        """{"ok": bool, ...details}; never raises."""

    # -- EVENTS ----------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[EventBatch]:
        """A queue that receives every EventBatch from now on, in seq order. Consumers keep up
        (they only update in-memory state and fan out to bounded per-connection queues)."""
        subscriber: asyncio.Queue[EventBatch] = asyncio.Queue()
        self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: asyncio.Queue[EventBatch]) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def _publish(self, batches: Sequence[EventBatch]) -> None:
        for subscriber in self._subscribers:
            for batch in batches:
                subscriber.put_nowait(batch)


def take_book_views(sequencer: Any, symbols: Sequence[str] | None, levels: int) -> list[BookView]:
    """Book views straight from a sequencer (called on its writer thread)."""
    books = sequencer._books
    names = sorted(books) if symbols is None else [s for s in symbols if s in books]
    views = []
    for symbol in names:
        book = books[symbol]
        bids, asks = book.depth(levels)
        views.append(
            BookView(
                symbol=symbol,
                book_seq=int(book.sequence),
                journal_seq=int(sequencer.last_seq),
                bids=[tuple(level) for level in bids],
                asks=[tuple(level) for level in asks],
            )
        )
    return views


def run_query(sequencer: Any, name: str, args: Sequence[Any]) -> Any:
    if name not in QUERIES:
        raise ValueError(f"unknown query {name!r}")
    attribute = getattr(sequencer, name)
    value = attribute(*args) if callable(attribute) else attribute
    return msgspec.to_builtins(value)


def journaled_batches(results: Sequence[CommandResult], published_seq: int) -> tuple[list[EventBatch], int]:
    """One EventBatch per newly journaled command (refused ones too, with no events), so that
    batch seqs are gapless; repeats (an idempotent retry answered with an old seq) publish nothing."""
    batches = []
    for result in results:
        if result.seq > published_seq:
            batches.append(EventBatch(seq=result.seq, events=result.events))
            published_seq = result.seq
    return batches, published_seq


class StampingWriter:
    """What every host of the sequencer does with a group of commands (the writer thread here,
    the sequencer process, the scale-out sequencer host): give each its time, never before the
    previous command's, and apply them durably. If the exchange fails, the whole group is refused
    (STORE_UNAVAILABLE), as DurableExchange refuses everything after it until a restart."""

    def __init__(self, exchange: Any, clock: Callable[[], int]) -> None:
        self.exchange = exchange
        self.clock = clock
        self.last_timestamp = 0

    def submit(self, commands: Sequence[Command]) -> list[CommandResult]:
        stamped = []
        for command in commands:
            command = msgspec.structs.replace(command, timestamp=max(self.clock(), self.last_timestamp))
            self.last_timestamp = command.timestamp
            stamped.append(command)
        try:
            results: list[CommandResult] = self.exchange.submit_batch(stamped)
        except Exception as exc:
            log.exception("the sequencer failed")
            refused = CommandResult(
                seq=0, code=ResultCode.STORE_UNAVAILABLE, message=f"sequencer failure: {exc}"
            )
            return [refused] * len(stamped)
        return results


@functools.cache
def command_counter(command_type: str, code: int) -> Counter:
    """The metrics child of a (command type, result code): looked up once, not per command."""
    return metrics.COMMANDS.labels(command_type, ResultCode(code).name)


def record_commands(commands: Sequence[Command], results: Sequence[CommandResult], started: float) -> None:
    """Metrics of one answered submit_many: its latency since `started` and a count per result."""
    metrics.COMMAND_LATENCY.observe(time.perf_counter() - started)
    for command, result in zip(commands, results, strict=True):
        command_counter(type(command).__name__, result.code).inc()


class _Job:
    """Either commands (with one future each) or a call on the exchange (with one future)."""

    __slots__ = ("futures", "commands", "call")

    def __init__(
        self,
        futures: list[asyncio.Future[Any]],
        commands: Sequence[Command] = (),
        call: Callable[[Any], Any] | None = None,
    ) -> None:
        self.futures = futures
        self.commands = commands
        self.call = call


class EmbeddedGateway(Gateway):
    """The sequencer and its durable store in this process, behind one writer thread."""

    def __init__(
        self,
        database_url: str,
        *,
        batch_size: int = 1_000,
        clock: Callable[[], int] = now_ms,
        exchange_factory: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.database_url = database_url
        self.batch_size = batch_size
        self.clock = clock
        self._exchange_factory = exchange_factory
        self.exchange: Any = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host: StampingWriter | None = None
        self._published_seq = 0

    async def start(self) -> None:
        from exchange.service import DurableExchange

        self._loop = asyncio.get_running_loop()
        factory = self._exchange_factory or (lambda url: DurableExchange(url))
        # Recovery replays the journal: off the event loop.
        self.exchange = await asyncio.to_thread(factory, self.database_url)
        self._host = StampingWriter(self.exchange, self.clock)
        self._published_seq = self.exchange.last_seq
        self._thread = threading.Thread(target=self._writer, name="sequencer-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self.exchange is not None:
            self.exchange.close()
            self.exchange = None

    async def submit_many(self, commands: Sequence[Command]) -> list[CommandResult]:
        if self._thread is None or self._loop is None:
            raise GatewayUnavailable("the sequencer is not running")
        create_future = self._loop.create_future
        futures = [create_future() for _ in commands]
        # One queue entry per call: the writer resolves the whole call with one loop wake-up.
        self._jobs.put(_Job(futures, commands=commands))
        metrics.COMMAND_QUEUE.set(self._jobs.qsize())
        started = time.perf_counter()
        if len(futures) == 1:
            results = [await futures[0]]
        else:
            results = list(await asyncio.gather(*futures))
        record_commands(commands, results, started)
        return results

    async def _call(self, function: Callable[[Any], T]) -> T:
        if self._thread is None or self._loop is None:
            raise GatewayUnavailable("the sequencer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put(_Job([future], call=function))
        return await future

    async def query(self, name: str, *args: Any) -> Any:
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}")
        return await self._call(lambda exchange: run_query(exchange.sequencer, name, args))

    async def book_views(self, symbols: Sequence[str] | None = None, levels: int = 10) -> list[BookView]:
        return await self._call(lambda exchange: take_book_views(exchange.sequencer, symbols, levels))

    async def health(self) -> dict[str, Any]:
        running = self._thread is not None and self._thread.is_alive()
        available = bool(self.exchange is not None and self.exchange.available)
        details: dict[str, Any] = {"ok": running and available, "mode": "embedded", "sequencer": running}
        if self.exchange is not None:
            details["journal_seq"] = self.exchange.last_seq
            details["store"] = "ok" if available else "unavailable"
            if running:
                try:
                    await asyncio.wait_for(self._call(lambda exchange: exchange.store.ping()), 2.0)
                except Exception as exc:  # a health check reports, it does not fail
                    details["ok"] = False
                    details["database"] = f"error: {exc}"
                else:
                    details["database"] = "ok"
        return details

    # -- THE WRITER THREAD -----------------------------------------------------------------------

    def _writer(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            group = [job]
            size = len(job.commands)
            stop = False
            while size < self.batch_size:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
                size += len(more.commands)
            self._run_group(group)
            if stop:
                return

    def _run_group(self, group: list[_Job]) -> None:
        start = 0
        while start < len(group):
            if group[start].call is not None:
                self._run_call(group[start])
                start += 1
                continue
            end = start
            while end < len(group) and group[end].call is None:
                end += 1
            self._run_commands(group[start:end])
            start = end

    def _run_call(self, job: _Job) -> None:
        try:
            value = job.call(self.exchange)  # type: ignore[misc]
        except BaseException as exc:  # handed to the waiting coroutine
            self._deliver([(job.futures[0], None, exc)])
        else:
            self._deliver([(job.futures[0], value, None)])

    def _run_commands(self, jobs: list[_Job]) -> None:
        commands = [command for job in jobs for command in job.commands]
        futures = [future for job in jobs for future in job.futures]
        assert self._host is not None
        results = self._host.submit(commands)
        batches, self._published_seq = journaled_batches(results, self._published_seq)
        loop = self._loop
        assert loop is not None
        if batches:
            loop.call_soon_threadsafe(self._publish, batches)
        self._deliver([(future, result, None) for future, result in zip(futures, results, strict=True)])

    def _deliver(self, outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
        """Resolve futures on the event loop, all in one wake-up of the loop."""

        def deliver() -> None:
            for future, value, error in outcomes:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(deliver)
