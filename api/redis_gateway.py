"""`redis://host:port/db` (or `API_MODE=worker`): this API worker's client of the sequencer runtime's
Redis transport (exchange/runtime/redis_streams.py, the `capex sequencer` process).

    worker --XADD {prefix}:commands (request id, reply key, deadline, kind, body)--> sequencer host
    worker <--RPUSH {prefix}:replies:<worker id> (request id, status, body)--------- sequencer host
    worker <--XADD {prefix}:events (list[EventBatch] of one group)------------------ sequencer host

- **Requests** (commands, queries, book views, event replays) share one Redis stream per shard,
  read by the single sequencer host in order. Each carries a deadline (ms since epoch, wall clock):
  the host drops a request it takes after its deadline, so a request this worker gave up on is
  never applied later. The worker waits `redis_timeout_seconds` in all; the deadline leaves the
  host `deadline_margin_ms` of that to commit and reply.
- **Replies** go to a list per worker, read by one task here (BLPOP), matched by request id.
- **Events**: one stream entry per group of journaled commands, read by one task here and handed
  to `Gateway.subscribe()` queues in journal-seq order. The stream (unlike pub/sub) lets a worker
  that lost its connection resume where it stopped. When batches are missing anyway (Redis
  restarted and lost unread entries, or trimmed them), this worker asks the host for them (it
  keeps the recent ones in memory); what the host no longer has shows as a jump of
  `EventBatch.seq`, and consumers resync from `book_views()`. Redis is never the source of truth.
- **Failure**: Redis unreachable or no answer in time -> `GatewayUnavailable` (the routes answer
  503 UNAVAILABLE). Reconnection is automatic, with backoff.

The wire format: commands as `exchange.commands.encode_command` JSON; everything else msgpack
(msgspec). docs/scale-out.md describes the whole protocol and its failure behaviour.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from api import metrics
from api.config import ApiSettings
from api.gateway import (
    QUERIES,
    BookView,
    EventBatch,
    Gateway,
    GatewayUnavailable,
    OutcomeUnknown,
    health_report,
    now_ms,
)
from exchange.commands import Command
from exchange.results import CommandResult
from exchange.runtime import DEFAULT_REDIS_URL
from exchange.runtime.redis_streams import (
    COMMANDS_STREAM_MAXLEN,
    RedisKeys,
    Reply,
    ReplyStatus,
    RequestKind,
    StreamsReply,
    deadline_margin_ms,
    decode_batches,
    decode_reply,
    decode_results,
    decode_views,
    encode,
    encode_commands,
    stream_id,
)

__all__ = ["DEFAULT_REDIS_URL", "RedisGateway", "redis_client", "stream_end"]

log = logging.getLogger(__name__)

EVENTS_BLOCK_MS = 1_000
REPLIES_BLOCK_SECONDS = 1
RECONNECT_BACKOFF_MAX = 2.0


def _refused(exc: BaseException) -> bool:
    """The connection to Redis was refused: nothing was sent (the cause is in the chain that
    redis-py leaves on its ConnectionError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def redis_client(url: str, timeout: float) -> Redis:
    """One immediate retry on a broken connection (after a Redis restart every pooled connection
    is dead, and only the next use finds out). A retried request may reach Redis twice: the
    sequencer takes each request id once (`SequencerRuntime.first_time`)."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


async def stream_end(client: Redis, key: str) -> bytes:
    """The id of the last entry ever added to a stream (`0-0` if it does not exist)."""
    try:
        info = await client.xinfo_stream(key)
    except ResponseError:  # no such key
        return b"0-0"
    last = info["last-generated-id"]
    return last if isinstance(last, bytes) else str(last).encode()


class RedisGateway(Gateway):
    """One API worker's way to the sequencer process. Needs `settings.redis_url` (default
    redis://127.0.0.1:6379/0) and the database URL of the shard (for the health check)."""

    def __init__(self, settings: ApiSettings, *, worker_id: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.url = settings.sequencer_redis_url
        self.keys = RedisKeys(settings.redis_prefix)
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        self.reply_key = self.keys.replies(self.worker_id)
        self.timeout = settings.redis_timeout_seconds
        self.margin_ms = deadline_margin_ms(self.timeout)
        self.gaps = 0  # jumps of EventBatch.seq handed to subscribers (batches nobody had any more)
        self._request_ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        # Requests wait here for the writer task: one pipeline of XADDs per round trip, over one
        # connection, however many requests are in flight.
        self._outbox: asyncio.Queue[tuple[dict[FieldT, EncodableT], asyncio.Future[None]]] = asyncio.Queue()
        self._delivered_seq: int | None = None
        self._redis: Redis | None = None
        self._blocking: Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._replies_reconnecting = False  # the replies reader is waiting to retry Redis
        self._db_engine: Any = None

    async def start(self) -> None:
        from exchange.store.database import make_reader_engine

        self._redis = redis_client(self.url, self.timeout)
        # Blocking reads wait up to their block time; the socket timeout must be longer.
        self._blocking = redis_client(
            self.url, self.timeout + max(EVENTS_BLOCK_MS / 1000, REPLIES_BLOCK_SECONDS)
        )
        self._db_engine = make_reader_engine(self.settings.database_url)
        self._running = True
        # Subscribers get every batch added after start() returns: take the stream's end now. A
        # worker still starts while Redis is down (it answers 503 until Redis is back).
        start_id: bytes | None = None
        try:
            async with asyncio.timeout(self.timeout):
                start_id = await stream_end(self._redis, self.keys.events)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("worker %s: Redis unreachable at start (%s)", self.worker_id, exc)
        self._tasks = [
            asyncio.create_task(self._write_requests(), name="redis-requests"),
            asyncio.create_task(self._read_replies(), name="redis-replies"),
            asyncio.create_task(self._read_events(start_id), name="redis-events"),
        ]
        log.info(
            "worker %s: sequencer over Redis at %s, prefix %r", self.worker_id, self.url, self.keys.prefix
        )

    async def stop(self) -> None:
        # The readers also watch `_running`: a cancellation that lands as a blocking read times out
        # can be swallowed by the read's own timeout (Python 3.11), and the read is then repeated.
        self._running = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _done, running = await asyncio.wait(self._tasks, timeout=0.1)
            if running and self._blocking is not None:
                await self._blocking.connection_pool.disconnect()  # ends the blocking reads
                await asyncio.wait(running, timeout=EVENTS_BLOCK_MS / 1000 + REPLIES_BLOCK_SECONDS)
        self._tasks = []
        for future in self._pending.values():
            if not future.done():
                future.set_exception(GatewayUnavailable("the gateway stopped"))
        self._pending.clear()
        while not self._outbox.empty():
            _fields, sent = self._outbox.get_nowait()
            if not sent.done():
                sent.set_exception(GatewayUnavailable("the gateway stopped"))
        for client in (self._redis, self._blocking):
            if client is not None:
                await client.aclose()
        self._redis = self._blocking = None
        if self._db_engine is not None:
            self._db_engine.dispose()
            self._db_engine = None

    # -- REQUESTS --------------------------------------------------------------------------------

    async def _request(self, kind: str, body: bytes) -> Reply:
        """Send one request and wait for its reply: `redis_timeout_seconds` at most in all."""
        if self._redis is None:
            raise GatewayUnavailable("the gateway is not running")
        loop = asyncio.get_running_loop()
        # Unique across workers: the sequencer routes replies and spots repeats by request id.
        request_id = f"{self.worker_id}.{next(self._request_ids)}"
        deadline = now_ms() + int(self.timeout * 1000) - self.margin_ms
        future: asyncio.Future[Reply] = loop.create_future()
        self._pending[request_id] = future
        metrics.COMMAND_QUEUE.set(len(self._pending))
        fields: dict[FieldT, EncodableT] = {
            "r": request_id,
            "w": self.reply_key,
            "d": deadline,
            "k": kind,
            "b": body,
        }
        sent: asyncio.Future[None] = loop.create_future()
        self._outbox.put_nowait((fields, sent))
        # A command that may have reached the stream may have been applied: its failure is
        # OutcomeUnknown; a read's is plain GatewayUnavailable.
        lost = OutcomeUnknown if kind == RequestKind.COMMANDS else GatewayUnavailable
        try:
            async with asyncio.timeout(self.timeout):
                await sent
                reply = await future
        except TimeoutError as exc:
            # Not acknowledged. Had the sequencer not taken it by its deadline, it never will
            # (docs/scale-out.md); an order's retry with its client_order_id tells the outcome.
            raise lost(f"no answer from the sequencer within {self.timeout:g} s") from exc
        except OutcomeUnknown as exc:  # the XADD failed after it may have reached Redis
            raise lost(str(exc)) from exc
        except (RedisError, OSError) as exc:
            raise lost(f"Redis is unreachable ({exc})") from exc
        finally:
            self._pending.pop(request_id, None)
        if reply.status == ReplyStatus.EXPIRED:
            raise GatewayUnavailable("the sequencer took the request after its deadline and dropped it")
        if reply.status != ReplyStatus.OK:
            raise ValueError(reply.message or "the sequencer refused the request")
        return reply

    async def submit_many(self, commands: Sequence[Command]) -> list[CommandResult]:
        if not commands:
            return []
        started = time.perf_counter()
        reply = await self._request(RequestKind.COMMANDS, encode_commands(commands))
        results = decode_results(reply.body)
        if len(results) != len(commands):
            raise OutcomeUnknown("the sequencer answered a different number of results")
        elapsed = time.perf_counter() - started
        for command, result in zip(commands, results, strict=True):
            metrics.COMMANDS.labels(type(command).__name__, result.code_name).inc()
            metrics.COMMAND_LATENCY.observe(elapsed)
        return results

    async def query(self, name: str, *args: Any) -> Any:
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}")
        reply = await self._request(RequestKind.QUERY, encode([name, list(args)]))
        return msgspec.msgpack.decode(reply.body)

    async def book_views(self, symbols: Sequence[str] | None = None, levels: int = 10) -> list[BookView]:
        names = None if symbols is None else list(symbols)
        reply = await self._request(RequestKind.BOOKS, encode([names, levels]))
        return decode_views(reply.body)

    async def replay_events(self, after_seq: int) -> list[EventBatch]:
        """The event batches after `after_seq` that the sequencer host still holds, in order."""
        reply = await self._request(RequestKind.EVENTS, encode(after_seq))
        return decode_batches(reply.body)

    async def _write_requests(self) -> None:
        """XADD the queued requests, many per round trip. A request whose caller gave up before it
        was written is left out; one written late anyway is past its deadline (never applied)."""
        outbox = self._outbox
        while self._running:
            batch = [await outbox.get()]
            while not outbox.empty() and len(batch) < 1_000:
                batch.append(outbox.get_nowait())
            batch = [(fields, sent) for fields, sent in batch if not sent.done()]
            if not batch:
                continue
            assert self._redis is not None
            pipe = self._redis.pipeline(transaction=False)
            for fields, _sent in batch:
                pipe.xadd(self.keys.commands, fields, maxlen=COMMANDS_STREAM_MAXLEN, approximate=True)
            try:
                await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down (or a bug): these requests fail, the next go on
                if not isinstance(exc, (RedisError, OSError)):
                    log.exception("worker %s: writing requests failed", self.worker_id)
                # Refused at connect: nothing reached Redis. Failed later: some XADDs may have.
                failure = GatewayUnavailable if _refused(exc) else OutcomeUnknown
                for _fields, sent in batch:
                    if not sent.done():
                        sent.set_exception(failure(f"Redis is unreachable ({exc})"))
                continue
            for _fields, sent in batch:
                if not sent.done():
                    sent.set_result(None)

    async def _read_replies(self) -> None:
        backoff = 0.1
        while self._running:
            try:
                assert self._blocking is not None
                item = await self._blocking.blpop([self.reply_key], timeout=REPLIES_BLOCK_SECONDS)
                if item is None:
                    continue
                # bytes, and a list when popping with a count (redis-py types str and scalars too)
                values = [cast(bytes, item[1])]
                more = cast("list[bytes] | None", await self._blocking.lpop(self.reply_key, 1_000))
                if more:
                    values.extend(more)
                for value in values:
                    reply = decode_reply(value)
                    future = self._pending.get(reply.request_id)
                    # No future: its request timed out here already (the 503 was answered).
                    if future is not None and not future.done():
                        future.set_result(reply)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, msgspec.DecodeError) as exc:
                if not self._running:
                    return
                log.warning(
                    "worker %s: reading replies failed (%s); retrying in %.1f s", self.worker_id, exc, backoff
                )
                # Until the reader is back, answers would wait unread: health says so.
                self._replies_reconnecting = True
                try:
                    await asyncio.sleep(backoff)
                finally:
                    self._replies_reconnecting = False
                backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)

    # -- EVENTS ----------------------------------------------------------------------------------

    async def _read_events(self, last_id: bytes | None) -> None:
        """Read the events stream from where this worker started, in order, forever. After a
        connection failure: reconnect with backoff, read from the start of the stream if Redis lost
        it (restart), and ask the host for any batch missed meanwhile."""
        reconnected = False
        backoff = 0.1
        key = self.keys.events
        while self._running:
            try:
                client = self._blocking
                assert client is not None
                if last_id is None:
                    last_id = await stream_end(client, key)
                if reconnected:
                    if stream_id(await stream_end(client, key)) < stream_id(last_id):
                        log.warning("worker %s: the events stream was lost (Redis restart?)", self.worker_id)
                        last_id = b"0-0"
                    await self._catch_up()
                    reconnected = False
                response = await client.xread({key: last_id}, count=100, block=EVENTS_BLOCK_MS)
                for _key, entries in cast("StreamsReply | None", response) or ():
                    for entry_id, fields in entries:
                        last_id = entry_id
                        await self._deliver(decode_batches(fields[b"b"]))
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, GatewayUnavailable) as exc:
                if not self._running:
                    return
                log.warning(
                    "worker %s: events stream: %s; reconnecting in %.1f s", self.worker_id, exc, backoff
                )
                reconnected = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)
            except msgspec.DecodeError as exc:  # a foreign entry: skip it, keep the order of the rest
                log.error("worker %s: undecodable events entry skipped: %s", self.worker_id, exc)

    async def _catch_up(self) -> None:
        """After a reconnection: the batches the host journaled while this worker was cut off."""
        if self._delivered_seq is None:
            return
        try:
            missed = await self.replay_events(self._delivered_seq)
        except (GatewayUnavailable, ValueError) as exc:
            log.warning("worker %s: no replay from the sequencer (%s)", self.worker_id, exc)
            return
        await self._deliver(missed)

    async def _deliver(self, batches: Sequence[EventBatch]) -> None:
        """Hand batches to subscribers in seq order, each once. A jump is first filled from the
        host's replay; what remains missing is handed on as the jump itself (consumers resync)."""
        ready: list[EventBatch] = []
        for batch in batches:
            last = self._delivered_seq
            if last is not None and batch.seq <= last:
                continue  # already delivered (a replay overlapping the stream)
            if last is not None and batch.seq > last + 1:
                try:
                    missed = await self.replay_events(last)
                except (GatewayUnavailable, ValueError) as exc:
                    log.warning("worker %s: no replay from the sequencer (%s)", self.worker_id, exc)
                    missed = []
                for earlier in missed:
                    if last < earlier.seq < batch.seq:
                        ready.append(earlier)
                        last = earlier.seq
                if batch.seq > last + 1:
                    self.gaps += 1
                    log.warning(
                        "worker %s: event batches %d..%d are lost; subscribers see the gap and resync",
                        self.worker_id,
                        last + 1,
                        batch.seq - 1,
                    )
            ready.append(batch)
            self._delivered_seq = batch.seq
        if ready:
            self._publish(ready)

    # -- HEALTH ----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        database = await self._database_health()
        details: dict[str, Any] = {
            "worker_id": self.worker_id,
            "events_seq": self._delivered_seq,
            "event_gaps": self.gaps,
        }

        def report(sequencer: str, journal_seq: int | None = None, **more: Any) -> dict[str, Any]:
            return health_report(
                "redis",
                "worker",
                sequencer=sequencer,
                journal_seq=journal_seq,
                database=database,
                **details,
                **more,
            )

        if self._redis is None:
            return report("unknown", redis="not started")
        try:
            async with asyncio.timeout(self.timeout):
                await self._redis.ping()
                heartbeat = await self._redis.get(self.keys.heartbeat)
        except (TimeoutError, RedisError, OSError) as exc:
            return report("unknown", redis=f"error: {exc or type(exc).__name__}")
        if heartbeat is None:
            return report("no heartbeat: the sequencer process is not running", redis="ok")
        beat = json.loads(heartbeat)
        return report(
            "ok" if beat.get("available") else "store unavailable",
            beat.get("last_seq"),
            redis="ok",
            replies="reconnecting" if self._replies_reconnecting else "ok",
        )

    async def _database_health(self) -> str:
        if self._db_engine is None:
            return "not started"

        def ping() -> None:
            from sqlalchemy import text

            with self._db_engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(asyncio.to_thread(ping), self.timeout)
        except Exception as exc:  # a health check reports, it does not fail
            return f"error: {exc or type(exc).__name__}"
        return "ok"
