"""The gateway: the API's client of the sequencer runtime (exchange/runtime), one per process.

    route / WS session --(command)--> Gateway.submit --> transport --> SequencerRuntime
                                                       --> durable result (acknowledged)
    Gateway.subscribe() <--(EventBatch per journaled command, in seq order)-- SequencerRuntime

The API holds no business rule: it stamps nothing but the actor, and waits for the durable
result. The runtime (not the Sequencer, which reads no clock) gives each command its timestamp,
never earlier than the previous one's, groups and commits, and answers reads between groups.

One interface, one client per transport, chosen by one setting (`api.gateways.build_gateway`,
API_SEQUENCER_URL; docs/api.md, Settings):
- `inproc://` `EmbeddedGateway`: the runtime in this process, behind its writer thread.
- `process://` `api.process_gateway.ProcessGateway`: the runtime in a child process.
- `redis://host:port/db` `api.redis_gateway.RedisGateway` (scale-out): the runtime is the
  `capex sequencer` process; event batches come back with their journal seq, so a lost message
  shows up as a gap (`EventBatch.seq` not contiguous) and consumers resync from `book_views()`.
Every `health()` has one shape (`health_report`).
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import Counter

from api import metrics
from exchange.commands import Command
from exchange.results import CommandResult, ResultCode
from exchange.runtime import QUERIES, BookView, EventBatch, SequencerRuntime, now_ms
from exchange.runtime.inproc import InprocTransport, Job, Outcome

__all__ = [
    "QUERIES",
    "BookView",
    "EmbeddedGateway",
    "EventBatch",
    "Gateway",
    "GatewayUnavailable",
    "OutcomeUnknown",
    "health_report",
    "now_ms",
    "record_commands",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    """One interface for every transport. All methods are called from the event loop."""

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


@functools.cache
def command_counter(command_type: str, code: int) -> Counter:
    """The metrics child of a (command type, result code): looked up once, not per command."""
    return metrics.COMMANDS.labels(command_type, ResultCode(code).name)


def record_commands(commands: Sequence[Command], results: Sequence[CommandResult], started: float) -> None:
    """Metrics of one answered submit_many: its latency since `started` and a count per result."""
    metrics.COMMAND_LATENCY.observe(time.perf_counter() - started)
    for command, result in zip(commands, results, strict=True):
        command_counter(type(command).__name__, result.code).inc()


def health_report(
    transport: str,
    mode: str,
    *,
    sequencer: str,
    journal_seq: int | None,
    database: str,
    **details: Any,
) -> dict[str, Any]:
    """The one health shape of every gateway: `ok` (everything below is "ok"), the transport
    (`inproc`, `process`, `redis`), the mode as documented (`embedded`, `embedded (sequencer
    process)`, `worker`), `sequencer` ("ok" or why not), the last journal seq known, `database`
    ("ok" or the error), and the transport's own details."""
    ok = (
        sequencer == "ok"
        and database == "ok"
        and all(value == "ok" for key, value in details.items() if key in ("store", "redis", "replies"))
    )
    return {
        "ok": ok,
        "transport": transport,
        "mode": mode,
        "sequencer": sequencer,
        "journal_seq": journal_seq,
        "database": database,
        **details,
    }


class EmbeddedGateway(Gateway):
    """`inproc://`: the sequencer runtime and its durable store in this process, behind its writer
    thread (exchange.runtime.inproc). Futures are the transport's tokens: the writer resolves a
    whole group with one wake-up of the event loop."""

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
        self.runtime: SequencerRuntime | None = None
        self._transport: InprocTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def exchange(self) -> Any:
        """The DurableExchange (None when stopped)."""
        return None if self.runtime is None else self.runtime.exchange

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Recovery replays the journal: off the event loop.
        self.runtime = await asyncio.to_thread(
            functools.partial(
                SequencerRuntime.open,
                self.database_url,
                exchange_factory=self._exchange_factory,
                clock=self.clock,
                group_size=self.batch_size,
            )
        )
        loop = self._loop
        publish = self._publish

        def publish_from_writer(batches: list[EventBatch]) -> None:
            loop.call_soon_threadsafe(publish, batches)

        self._transport = InprocTransport(self.runtime, self._deliver, publish_from_writer)
        self._transport.start()

    async def stop(self) -> None:
        if self._transport is not None:
            await asyncio.to_thread(self._transport.stop)
            self._transport = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    async def submit_many(self, commands: Sequence[Command]) -> list[CommandResult]:
        transport = self._transport
        if transport is None or self._loop is None:
            raise GatewayUnavailable("the sequencer is not running")
        create_future = self._loop.create_future
        futures = [create_future() for _ in commands]
        # One queue entry per call: the writer resolves the whole call with one loop wake-up.
        transport.put(Job(futures, commands=commands))
        metrics.COMMAND_QUEUE.set(transport.backlog())
        started = time.perf_counter()
        if len(futures) == 1:
            results = [await futures[0]]
        else:
            results = list(await asyncio.gather(*futures))
        record_commands(commands, results, started)
        return results

    async def _call(self, function: Callable[[SequencerRuntime], T]) -> T:
        if self._transport is None or self._loop is None:
            raise GatewayUnavailable("the sequencer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._transport.put(Job([future], call=function))
        return await future

    async def query(self, name: str, *args: Any) -> Any:
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}")
        return await self._call(lambda runtime: runtime.query(name, args))

    async def book_views(self, symbols: Sequence[str] | None = None, levels: int = 10) -> list[BookView]:
        return await self._call(lambda runtime: runtime.book_views(symbols, levels))

    async def health(self) -> dict[str, Any]:
        running = self._transport is not None and self._transport.running
        runtime = self.runtime
        if runtime is None or not running:
            return health_report(
                "inproc", "embedded", sequencer="not running", journal_seq=None, database="unknown"
            )
        try:
            await asyncio.wait_for(self._call(lambda runtime: runtime.ping()), 2.0)
        except Exception as exc:  # a health check reports, it does not fail
            database = f"error: {exc}"
        else:
            database = "ok"
        return health_report("inproc", "embedded", sequencer="ok", database=database, **runtime.health())

    def _deliver(self, outcomes: list[Outcome]) -> None:
        """Called on the writer thread: resolve futures on the event loop, all in one wake-up."""

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
