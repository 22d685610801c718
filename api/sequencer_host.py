"""The sequencer process of the scale-out mode (`capex sequencer`).

It owns the shard's DurableExchange (the single writer, as EmbeddedGateway does in one process)
and serves the API workers over Redis (api.redis_gateway describes the keys and encodings):

    loop:
        XREADGROUP {prefix}:commands after the last entry taken (block 200 ms, up to batch size
            entries); the group keeps that position in Redis, for the next host too
        for the entries, in stream order:
            consecutive command requests -> one group: drop the expired ones (deadline passed:
                never applied), stamp the rest with monotonic time, DurableExchange.submit_batch
                (group commit) -> XADD the group's EventBatches to {prefix}:events, then RPUSH
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
from collections.abc import Callable
from typing import Any, cast

import msgspec
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from api.config import ApiSettings
from api.gateway import EventBatch, StampingWriter, journaled_batches, now_ms, run_query, take_book_views
from api.redis_gateway import (
    DEFAULT_REDIS_URL,
    EVENTS_STREAM_MAXLEN,
    REPLY_TTL_SECONDS,
    RedisKeys,
    Reply,
    ReplyStatus,
    RequestKind,
    StreamsReply,
    decode_commands,
    encode,
)
from exchange.commands import AnyCommand

log = logging.getLogger("api.sequencer")

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
    """Runs one shard's sequencer for the API workers. `run()` blocks until `stop()`."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        exchange_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], int] = now_ms,
        replay_batches: int = REPLAY_BATCHES,
    ) -> None:
        self.settings = settings
        self.url = settings.redis_url or DEFAULT_REDIS_URL
        self.keys = RedisKeys(settings.redis_prefix)
        self.batch_size = settings.exchange.group_commit_size
        self.clock = clock
        self.host_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._exchange_factory = exchange_factory
        self.exchange: Any = None
        self.redis: Redis | None = None
        self._stopping = False
        self._last_id = b"0-0"  # the last entry taken from the current stream (to trim behind)
        self._writer: StampingWriter | None = None
        self._published_seq = 0
        self._unpublished: deque[list[EventBatch]] = deque()
        self._recent: deque[EventBatch] = deque(maxlen=replay_batches)
        self._taken: dict[str, int] = {}  # request key -> deadline, in arrival order
        self._next_beat = 0.0
        self._started_ms = 0
        # progress counters
        self.commands_applied = 0
        self.requests_expired = 0
        self._next_progress = 0.0
        self._logged_seq = -1

    # -- LIFECYCLE -------------------------------------------------------------------------------

    def stop(self, *_args: object) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        self._stopping = True

    def open(self) -> None:
        from exchange.service import DurableExchange

        factory = self._exchange_factory or (lambda url: DurableExchange(url))
        started = time.monotonic()
        self.exchange = factory(self.settings.database_url)
        self._writer = StampingWriter(self.exchange, self.clock)
        self._published_seq = self.exchange.last_seq
        self._started_ms = now_ms()
        gc.freeze()  # the recovered state lives as long as the process (see api/collector.py)
        log.info(
            "sequencer: journal recovered at seq %d (%d commands replayed in %.2f s)",
            self.exchange.last_seq,
            getattr(self.exchange, "replayed", 0),
            time.monotonic() - started,
        )
        timeout = self.settings.redis_timeout_seconds
        self.redis = Redis.from_url(
            self.url,
            socket_timeout=timeout + BLOCK_MS / 1000,
            socket_connect_timeout=timeout,
            # A retried write may land twice: workers ignore a repeated reply or event batch.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )

    def close(self) -> None:
        if self.redis is not None:
            try:
                self.redis.eval(_RELEASE_OWNERSHIP, 2, self.keys.owner, self.keys.heartbeat, self.host_id)
            except (RedisError, OSError):
                pass
            self.redis.close()
            self.redis = None
        if self.exchange is not None:
            self.exchange.close()
            self.exchange = None

    def run(self) -> None:
        """Serve until stopped. Waits for Redis (and for a previous owner's lock to lapse)."""
        if self.exchange is None:
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
        log.info("sequencer %s: stopped at journal seq %d", self.host_id, self.exchange.last_seq)

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
            "last_seq": self.exchange.last_seq,
            "available": bool(self.exchange.available),
            "time": now_ms(),
            "started": self._started_ms,
        }
        self.redis.set(self.keys.heartbeat, json.dumps(beat), px=HEARTBEAT_TTL_MS)
        self._next_beat = now + HEARTBEAT_SECONDS

    def _progress(self) -> None:
        now = time.monotonic()
        if now >= self._next_progress:
            if self._next_progress and self._logged_seq != self.exchange.last_seq:
                self._logged_seq = self.exchange.last_seq
                log.info(
                    "sequencer: journal seq %d, %d commands applied, %d expired requests dropped",
                    self.exchange.last_seq,
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
        group: list[_Request] = []
        for entry_id, fields in entries:
            self._last_id = entry_id
            try:
                request = _parse(fields)
            except (KeyError, ValueError, UnicodeDecodeError) as exc:
                log.error("sequencer: malformed request %s skipped: %s", entry_id, exc)
                continue
            if not self._first_time(request):
                continue
            if request.kind == RequestKind.COMMANDS:
                group.append(request)
                continue
            self._run_group(group)
            group = []
            self._answer(request)
        self._run_group(group)
        try:
            # What was taken is done with: keep the stream short (approximate: whole nodes only).
            self.redis.xtrim(self.keys.commands, minid=self._last_id, approximate=True)
        except (RedisError, OSError):
            pass

    def _first_time(self, request: _Request) -> bool:
        """False for a request id taken before (a worker's XADD retried on a broken connection may
        have reached Redis twice). An id is remembered until its deadline: after it, a copy would
        be dropped as expired anyway."""
        now = self.clock()
        taken = self._taken
        while taken:
            oldest = next(iter(taken))
            if taken[oldest] > now:
                break
            del taken[oldest]
        key = f"{request.reply_key}/{request.request_id}"
        if key in taken:
            log.warning("sequencer: request %s arrived twice; the copy is ignored", key)
            return False
        if request.deadline > now:
            taken[key] = request.deadline
        return True

    def _run_group(self, requests: list[_Request]) -> None:
        """One group commit for the command requests taken together, then events and replies."""
        if not requests:
            return
        replies: list[Reply] = []
        live: list[tuple[_Request, list[AnyCommand]]] = []
        now = self.clock()
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
        assert self._writer is not None
        results = self._writer.submit(commands) if commands else []
        batches, self._published_seq = journaled_batches(results, self._published_seq)
        self.commands_applied += len(commands)
        offset = 0
        for request, own in live:
            mine = results[offset : offset + len(own)]
            offset += len(own)
            replies.append(Reply(request_id=request.request_id, status=ReplyStatus.OK, body=encode(mine)))
        self._recent.extend(batches)
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

    def _answer(self, request: _Request) -> None:
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

    def _read(self, request: _Request) -> bytes:
        sequencer = self.exchange.sequencer
        if request.kind == RequestKind.QUERY:
            name, args = msgspec.msgpack.decode(request.body)
            return encode(run_query(sequencer, name, args))
        if request.kind == RequestKind.BOOKS:
            symbols, levels = msgspec.msgpack.decode(request.body)
            return encode(take_book_views(sequencer, symbols, int(levels)))
        if request.kind == RequestKind.EVENTS:
            after = int(msgspec.msgpack.decode(request.body))
            held = [batch for batch in self._recent if batch.seq > after]
            return encode(held[:REPLAY_ANSWER_MAX])
        raise ValueError(f"unknown request kind {request.kind!r}")


def _error(request: _Request, message: str) -> Reply:
    return Reply(request_id=request.request_id, status=ReplyStatus.ERROR, message=message)


def main(settings: ApiSettings | None = None) -> int:
    """`capex sequencer`: run until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = SequencerHost(settings or ApiSettings())
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
