"""The Redis transport (`redis://host:port/db`): the runtime as the scale-out sequencer process
(`capex sequencer`), serving the API workers (api.redis_gateway.RedisGateway) over Redis.

    worker --XADD {prefix}:commands (r: request id, w: reply key, d: deadline ms, k: kind, b: body)
    worker <--RPUSH {prefix}:replies:<worker id> (Reply: request id, status, body)
    worker <--XADD {prefix}:events (b: list[EventBatch] of one group)

It owns the shard's SequencerRuntime (exchange.runtime.core: the single writer, the same stamping,
group commit and answers as the other transports); this module is the Redis side of it:

    loop:
        XREADGROUP {prefix}:commands after the last entry taken (block 200 ms, up to batch size
            entries); the group keeps that position in Redis, for the next host too
        for the entries, in stream order:
            a request id taken before (a worker's retried XADD) -> ignored
                (SequencerRuntime.first_time)
            consecutive command requests -> one group (SequencerRuntime.serve): drop the expired
                ones (deadline passed: never applied), SequencerRuntime.commit the rest (stamped,
                group commit) -> XADD the group's EventBatches to {prefix}:events, then RPUSH
                each request's results to its worker's reply list (one pipeline)
            a query / book views / event replay request -> answered between groups, so what it
                reads is consistent with a journal seq
        every second: refresh the heartbeat (journal seq, availability) and the ownership lock

- **One host per shard.** `{prefix}:sequencer:owner` is a lock with a TTL; a second host waits for
  it, then gives up. (The journal would refuse a second writer anyway: seqs are its primary key.)
- **Events are never dropped here.** A group whose events could not be written to Redis is kept
  and written first once Redis is back; the last `replay_batches` batches stay in memory for
  workers that missed some (RequestKind.EVENTS).
- **Each request once.** Reading is through a consumer group, so Redis moves the position past
  each entry as it hands it out: a restarted host goes on after the last entry its predecessor
  took, and never applies again a request taken before (even one still before its deadline). A
  worker's write retried on a broken connection may reach the stream twice; a request id already
  taken (and not yet past its deadline) is ignored.
- **Redis down.** The loop reconnects with backoff. A request read before the failure is applied
  if its deadline allows; its reply may be lost (its worker answers 503: not acknowledged; a retry
  with the same client order id returns the first result). After a Redis restart that lost the
  commands stream (and with it the group), reading starts again at its beginning.
- **SIGTERM / SIGINT**: finish the current group, then close the store and release the lock.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import msgspec
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from exchange.commands import AnyCommand, Command, encode_command
from exchange.results import CommandResult
from exchange.runtime import DEFAULT_REDIS_URL
from exchange.runtime.core import NOT_COMMANDS, SequencerRuntime
from exchange.runtime.views import BookView, EventBatch, now_ms

log = logging.getLogger("exchange.sequencer")

# Streams are capped (approximately) so that a stopped reader cannot fill Redis' memory. A request
# beyond the cap is long past its deadline anyway; an event entry beyond it is replayed from the
# host or shows as a gap.
COMMANDS_STREAM_MAXLEN = 100_000
EVENTS_STREAM_MAXLEN = 100_000
REPLY_TTL_SECONDS = 60  # replies to a worker that went away expire


class RequestKind:
    COMMANDS = "commands"  # body: JSON array of commands -> list[CommandResult]
    QUERY = "query"  # body: msgpack [name, args] -> builtins
    BOOKS = "books"  # body: msgpack [symbols | None, levels] -> list[BookView]
    EVENTS = "events"  # body: msgpack after_seq -> list[EventBatch] the host still holds


class ReplyStatus:
    OK = "ok"
    EXPIRED = "expired"  # taken after its deadline: not applied
    ERROR = "error"  # malformed request or a failed query: message says why


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    status: str
    message: str = ""
    body: bytes = b""


class RedisKeys:
    """Key names of one shard. Everything of a deployment lives under its prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.commands = f"{prefix}:commands"
        self.events = f"{prefix}:events"
        self.heartbeat = f"{prefix}:sequencer:heartbeat"
        self.owner = f"{prefix}:sequencer:owner"

    def replies(self, worker_id: str) -> str:
        return f"{self.prefix}:replies:{worker_id}"


# -- ENCODING ------------------------------------------------------------------------------------

_msgpack = msgspec.msgpack.Encoder()
_commands_decoder = msgspec.json.Decoder(list[AnyCommand])
_results_decoder = msgspec.msgpack.Decoder(list[CommandResult])
_batches_decoder = msgspec.msgpack.Decoder(list[EventBatch])
_views_decoder = msgspec.msgpack.Decoder(list[BookView])
_reply_decoder = msgspec.msgpack.Decoder(Reply)


def encode_commands(commands: Sequence[Command]) -> bytes:
    return b"[" + b",".join(encode_command(command) for command in commands) + b"]"


def decode_commands(data: bytes) -> list[AnyCommand]:
    return _commands_decoder.decode(data)


def encode(value: Any) -> bytes:
    return _msgpack.encode(value)


# The reply of XREAD / XREADGROUP to these clients (RESP2, no decode_responses): [stream key,
# [(entry id, {field: value}), ...]] pairs. redis-py types the replies of every protocol and
# decoding setting at once (bytes | str, lists or dicts), so the readers cast to this.
StreamsReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


def decode_batches(data: bytes) -> list[EventBatch]:
    return _batches_decoder.decode(data)


def decode_reply(data: bytes) -> Reply:
    return _reply_decoder.decode(data)


def decode_results(data: bytes) -> list[CommandResult]:
    return _results_decoder.decode(data)


def decode_views(data: bytes) -> list[BookView]:
    return _views_decoder.decode(data)


def deadline_margin_ms(timeout_seconds: float) -> int:
    """The part of a worker's timeout kept for the host to commit and reply after it takes a
    request: a quarter of the timeout, at most 500 ms."""
    return min(500, int(timeout_seconds * 250))


def stream_id(value: bytes | str) -> tuple[int, int]:
    """A stream entry id `<ms>-<n>` as a comparable pair."""
    text = value.decode() if isinstance(value, bytes) else value
    milliseconds, _, number = text.partition("-")
    return int(milliseconds), int(number or 0)


# -- THE SEQUENCER HOST -------------------------------------------------------------------------

BLOCK_MS = 200  # longest wait for requests: bounds how late a heartbeat or a stop can be
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_MS = 3_000  # workers call the sequencer dead when no beat came for this long
OWNER_TTL_MS = 5_000
REPLAY_BATCHES = 10_000
REPLAY_ANSWER_MAX = 10_000
PROGRESS_SECONDS = 10.0
# The consumer group that holds the commands stream's read position in Redis. One consumer: only
# the owner of the shard's lock reads.
COMMANDS_GROUP = "sequencer"
COMMANDS_CONSUMER = "sequencer"

# Extends the owner lock only if this host still holds it; takes it again if Redis lost it.
_KEEP_OWNERSHIP = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or holder == false then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
# Releases the lock and the heartbeat, only if this host holds the lock (never another's).
_RELEASE_OWNERSHIP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
"""


class OwnershipLost(RuntimeError):
    """Another sequencer host holds this shard."""


class _Request(msgspec.Struct):
    request_id: str
    reply_key: str
    deadline: int  # ms since epoch
    kind: str
    body: bytes


def _parse(fields: dict[bytes, bytes]) -> _Request:
    return _Request(
        request_id=fields[b"r"].decode(),
        reply_key=fields[b"w"].decode(),
        deadline=int(fields[b"d"]),
        kind=fields[b"k"].decode(),
        body=fields.get(b"b", b""),
    )


class SequencerHost:
    """Runs one shard's SequencerRuntime for the API workers. `run()` blocks until `stop()`."""

    def __init__(
        self,
        database_url: str,
        *,
        redis_url: str | None = None,
        prefix: str = "capex",
        timeout_seconds: float = 2.0,
        group_size: int = 1_000,
        exchange_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], int] = now_ms,
        replay_batches: int = REPLAY_BATCHES,
    ) -> None:
        self.database_url = database_url
        self.url = redis_url or DEFAULT_REDIS_URL
        self.keys = RedisKeys(prefix)
        self.timeout_seconds = timeout_seconds
        self.batch_size = group_size
        self.clock = clock
        self.replay_batches = replay_batches
        self.host_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._exchange_factory = exchange_factory
        self.runtime: SequencerRuntime | None = None
        self.redis: Redis | None = None
        self._stopping = False
        self._last_id = b"0-0"  # the last entry taken from the current stream (to trim behind)
        self._unpublished: deque[list[EventBatch]] = deque()
        self._next_beat = 0.0
        self._started_ms = 0
        # progress counters
        self.requests_expired = 0
        self._next_progress = 0.0
        self._logged_seq = -1

    # -- LIFECYCLE -------------------------------------------------------------------------------

    def stop(self, *_args: object) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        self._stopping = True

    def open(self) -> None:
        started = time.monotonic()
        self.runtime = SequencerRuntime.open(
            self.database_url,
            exchange_factory=self._exchange_factory,
            clock=self.clock,
            group_size=self.batch_size,
            replay_batches=self.replay_batches,
        )
        self._started_ms = now_ms()
        gc.freeze()  # the recovered state lives as long as the process (see api/collector.py)
        log.info(
            "sequencer: journal recovered at seq %d (%d commands replayed in %.2f s)",
            self.runtime.last_seq,
            getattr(self.runtime.exchange, "replayed", 0),
            time.monotonic() - started,
        )
        timeout = self.timeout_seconds
        self.redis = Redis.from_url(
            self.url,
            socket_timeout=timeout + BLOCK_MS / 1000,
            socket_connect_timeout=timeout,
            # A retried write may land twice: workers ignore a repeated reply or event batch.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )

    @property
    def commands_applied(self) -> int:
        return 0 if self.runtime is None else self.runtime.commands_applied

    def _runtime(self) -> SequencerRuntime:
        assert self.runtime is not None, "open() first"
        return self.runtime

    def close(self) -> None:
        if self.redis is not None:
            try:
                self.redis.eval(_RELEASE_OWNERSHIP, 2, self.keys.owner, self.keys.heartbeat, self.host_id)
            except (RedisError, OSError):
                pass
            self.redis.close()
            self.redis = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    def run(self) -> None:
        """Serve until stopped. Waits for Redis (and for a previous owner's lock to lapse)."""
        if self.runtime is None:
            self.open()
        log.info("sequencer %s: serving %s on %s", self.host_id, self.keys.commands, self.url)
        backoff = 0.1
        resync = True
        while not self._stopping:
            try:
                if resync:
                    self._take_ownership()
                    if self._stopping:
                        break
                    self._join_commands_group()
                    resync = False
                self._beat()
                self._flush_unpublished()
                self._serve_once()
                backoff = 0.1
            except OwnershipLost:
                log.error("sequencer %s: another sequencer owns %s; stopping", self.host_id, self.keys.prefix)
                raise
            except (RedisError, OSError) as exc:
                log.warning("sequencer: Redis unreachable (%s); retrying in %.1f s", exc, backoff)
                resync = True
                self._sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            self._progress()
        log.info("sequencer %s: stopped at journal seq %d", self.host_id, self._runtime().last_seq)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            time.sleep(min(0.05, end - time.monotonic()))

    def _take_ownership(self) -> None:
        """Hold the shard's owner lock; wait up to one lock TTL for a previous holder's to lapse."""
        assert self.redis is not None
        give_up = time.monotonic() + OWNER_TTL_MS / 1000 + 1
        while not self._stopping:
            if self.redis.eval(_KEEP_OWNERSHIP, 1, self.keys.owner, self.host_id, OWNER_TTL_MS):
                return
            if time.monotonic() > give_up:
                raise OwnershipLost(self.redis.get(self.keys.owner))
            time.sleep(0.2)

    def _join_commands_group(self) -> None:
        """Read the commands stream where the group stands: after the last entry any host took.
        The position must live in Redis, not in this process: a host that started from the
        stream's start took again the requests its predecessor had applied, and applied those
        still before their deadline twice. Redis moves it as it hands entries out, so a host that
        dies before applying what it read leaves those unapplied (their workers answered 503).
        A new group (first start, or the stream was lost with its group) reads from the start:
        everything there is new."""
        assert self.redis is not None
        try:
            self.redis.xgroup_create(self.keys.commands, COMMANDS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return
        log.info("sequencer: reading %s from its start", self.keys.commands)
        self._last_id = b"0-0"

    def _beat(self) -> None:
        now = time.monotonic()
        if now < self._next_beat:
            return
        assert self.redis is not None
        if not self.redis.eval(_KEEP_OWNERSHIP, 1, self.keys.owner, self.host_id, OWNER_TTL_MS):
            raise OwnershipLost(self.redis.get(self.keys.owner))
        beat = {
            "host": self.host_id,
            "pid": os.getpid(),
            "last_seq": self._runtime().last_seq,
            "available": self._runtime().available,
            "time": now_ms(),
            "started": self._started_ms,
        }
        self.redis.set(self.keys.heartbeat, json.dumps(beat), px=HEARTBEAT_TTL_MS)
        self._next_beat = now + HEARTBEAT_SECONDS

    def _progress(self) -> None:
        now = time.monotonic()
        if now >= self._next_progress:
            last_seq = self._runtime().last_seq
            if self._next_progress and self._logged_seq != last_seq:
                self._logged_seq = last_seq
                log.info(
                    "sequencer: journal seq %d, %d commands applied, %d expired requests dropped",
                    last_seq,
                    self.commands_applied,
                    self.requests_expired,
                )
            self._next_progress = now + PROGRESS_SECONDS

    # -- SERVING ---------------------------------------------------------------------------------

    def _serve_once(self) -> None:
        assert self.redis is not None
        try:
            response = cast(
                "StreamsReply | None",
                self.redis.xreadgroup(
                    COMMANDS_GROUP,
                    COMMANDS_CONSUMER,
                    {self.keys.commands: ">"},
                    count=self.batch_size,
                    block=BLOCK_MS,
                    noack=True,  # taken is done with: nothing to acknowledge or claim again
                ),
            )
        except ResponseError as exc:
            # NOGROUP / UNBLOCKED: the stream, and its group with it, is gone (deleted, or a Redis
            # restart; workers may have created it again since).
            log.warning("sequencer: the commands stream was lost (%s); reading it from its start", exc)
            self._join_commands_group()
            return
        if not response:
            return
        entries = response[0][1]
        runtime = self._runtime()
        requests: list[_Request] = []
        for entry_id, fields in entries:
            self._last_id = entry_id
            try:
                request = _parse(fields)
            except (KeyError, ValueError, UnicodeDecodeError) as exc:
                log.error("sequencer: malformed request %s skipped: %s", entry_id, exc)
                continue
            if runtime.first_time(f"{request.reply_key}/{request.request_id}", request.deadline):
                requests.append(request)
        runtime.serve(requests, _size_of, self._run_group, self._answer)
        try:
            # What was taken is done with: keep the stream short (approximate: whole nodes only).
            self.redis.xtrim(self.keys.commands, minid=self._last_id, approximate=True)
        except (RedisError, OSError):
            pass

    def _run_group(self, requests: list[_Request]) -> None:
        """One group commit for the command requests taken together, then events and replies."""
        replies: list[Reply] = []
        live: list[tuple[_Request, list[AnyCommand]]] = []
        runtime = self._runtime()
        now = runtime.clock()
        for request in requests:
            if request.deadline <= now:
                # The worker has given up (or is about to): this request must never be applied.
                self.requests_expired += 1
                replies.append(Reply(request_id=request.request_id, status=ReplyStatus.EXPIRED))
                continue
            try:
                commands = decode_commands(request.body)
            except msgspec.DecodeError as exc:
                replies.append(_error(request, f"malformed commands: {exc}"))
                continue
            live.append((request, commands))
        reply_keys = {request.request_id: request.reply_key for request in requests}
        commands = [command for _request, own in live for command in own]
        results, batches = runtime.commit(commands)
        offset = 0
        for request, own in live:
            mine = results[offset : offset + len(own)]
            offset += len(own)
            replies.append(Reply(request_id=request.request_id, status=ReplyStatus.OK, body=encode(mine)))
        self._publish(batches, replies, reply_keys)

    def _publish(self, batches: list[EventBatch], replies: list[Reply], reply_keys: dict[str, str]) -> None:
        """Events first (a worker sees the events of its command no later than it could have),
        then the replies; one round trip. Events that Redis did not take are kept for later."""
        assert self.redis is not None
        if self._unpublished and batches:
            self._unpublished.append(batches)  # keep the order: the older groups go first
            batches = []
        pipe = self.redis.pipeline(transaction=False)
        if batches:
            pipe.xadd(self.keys.events, {"b": encode(batches)}, maxlen=EVENTS_STREAM_MAXLEN, approximate=True)
        for reply in replies:
            key = reply_keys[reply.request_id]
            pipe.rpush(key, encode(reply))
            pipe.expire(key, REPLY_TTL_SECONDS)
        try:
            pipe.execute()
        except (RedisError, OSError) as exc:
            if batches:
                self._unpublished.append(batches)
            log.warning("sequencer: could not publish (%s); %d replies lost", exc, len(replies))

    def _flush_unpublished(self) -> None:
        assert self.redis is not None
        while self._unpublished:
            batches = self._unpublished[0]
            self.redis.xadd(
                self.keys.events, {"b": encode(batches)}, maxlen=EVENTS_STREAM_MAXLEN, approximate=True
            )
            self._unpublished.popleft()
            log.info("sequencer: published held event batches %d..%d", batches[0].seq, batches[-1].seq)

    def _answer(self, request: _Request) -> bool:
        """A read between groups: consistent with the journal seq of the last group."""
        if request.deadline <= self.clock():
            self.requests_expired += 1
            reply = Reply(request_id=request.request_id, status=ReplyStatus.EXPIRED)
        else:
            try:
                reply = Reply(request_id=request.request_id, status=ReplyStatus.OK, body=self._read(request))
            except Exception as exc:  # a bad query is the asker's problem, not the sequencer's
                reply = _error(request, f"{type(exc).__name__}: {exc}")
        self._publish([], [reply], {request.request_id: request.reply_key})
        return False

    def _read(self, request: _Request) -> bytes:
        runtime = self._runtime()
        if request.kind == RequestKind.QUERY:
            name, args = msgspec.msgpack.decode(request.body)
            return encode(runtime.query(name, args))
        if request.kind == RequestKind.BOOKS:
            symbols, levels = msgspec.msgpack.decode(request.body)
            return encode(runtime.book_views(symbols, int(levels)))
        if request.kind == RequestKind.EVENTS:
            after = int(msgspec.msgpack.decode(request.body))
            return encode(runtime.replay(after, REPLAY_ANSWER_MAX))
        raise ValueError(f"unknown request kind {request.kind!r}")


def _size_of(request: _Request) -> int:
    """Command requests group (their commands are counted once decoded: one request is one
    stream entry, and a worker's request is at most one call's commands)."""
    return 1 if request.kind == RequestKind.COMMANDS else NOT_COMMANDS


def _error(request: _Request, message: str) -> Reply:
    return Reply(request_id=request.request_id, status=ReplyStatus.ERROR, message=message)


def main(
    database_url: str,
    *,
    redis_url: str | None,
    prefix: str,
    timeout_seconds: float,
    group_size: int,
) -> int:
    """`capex sequencer`: run until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = SequencerHost(
        database_url,
        redis_url=redis_url,
        prefix=prefix,
        timeout_seconds=timeout_seconds,
        group_size=group_size,
    )
    signal.signal(signal.SIGTERM, host.stop)
    signal.signal(signal.SIGINT, host.stop)
    try:
        host.open()
        host.run()
    except OwnershipLost:
        return 1
    finally:
        host.close()
    return 0
