"""WebSocket benchmark: durable order entry and market-data fan-out against a local server.

    python -m loadtests.ws_bench [--json] [--orders N] [--rate R] [--subscribers N] [--duration S]
                                 [--sequencer process|thread | --workers N] [--phases max,rate,fanout] [...]

It starts its own server (loadtests/bench_deployment.py): by default the embedded mode with
`API_SEQUENCER_PROCESS=true`, one API process (loadtests/bench_server.py: the `capex
serve` app) and its sequencer in a child process, on a fresh SQLite file, group commit with an
fsync per transaction; with `--sequencer thread` the one-process default of `capex serve` (the
sequencer in a thread of the API process); with `--workers N` the scale-out mode, a sequencer process
and N API workers over Redis on a PostgreSQL scratch schema. The setup (market-maker accounts with
cash, material calls) goes through the gateway before the first connection. Then three phases,
each for `--duration` seconds:

1. **max**: `--order-processes` client processes, `--order-connections` WebSocket connections
   each (one account per connection), every connection keeping `--window` requests in flight.
   Requests: 55% passive limit orders, 35% cancels of the connection's own oldest resting order,
   10% IOC orders crossing the spread (so some cancels find their order filled: UNKNOWN_ORDER,
   a refusal the sequencer journals and answers like any command).
2. **rate**: the same clients, open loop at a fixed total rate (`--rate`, default 5,000/s), sends
   spread evenly over the connections; latency is measured from each request's send. If the max
   phase acknowledged fewer than `--rate` per second, the phase runs at 80% of what it did and says
   so in the report.
3. **fanout**: `--subscribers` connections (spread over `--subscriber-processes` processes)
   subscribe to one book; one producer connection places a buy at a new price (one price per
   order, so every delta names the command that caused it) and cancels the order placed 10
   before, at `--fanout-rate` commands/s. Every subscriber checks `prev_seq` continuity (a gap),
   the heartbeat's book sequence, and that it got every delta; one connection per process keeps
   the whole book and verifies every checksum. Delivery latency = receive time at the subscriber
   - send time of the producer's command (wall clock, one machine).

Acknowledgement latency is from a request's send to its response, in the client process
(`time.perf_counter_ns`). Throughput is acknowledged requests over the time from the phase's start
to the last response. Each response is an acknowledgement: the server answers only once the
command is committed to the journal (or refused); after the run the benchmark counts the journal
rows and checks that every acknowledged command is there, and runs the exchange's audit.

Both the server and the clients run on this machine and share its cores (2 on the reference box);
the report gives the CPU seconds each used per phase and how busy the machine was. Progress goes
to stderr; with `--json` stdout holds exactly one JSON object. Exit status 1 if a check (journal,
audit, gaps, unanswered or misrouted answers) fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from loadtests.bench_deployment import (
    EmbeddedDeployment,
    ScaleOutDeployment,
    machine_busy_seconds,
)
from loadtests.ws_link import WsLink, open_link

# -- TARGETS (DESIGN.md section 4) ----------------------------------------------------------------

TARGET_ORDERS_PER_S = 20_000
TARGET_RATE = 5_000
TARGET_RATE_P99_MS = 10.0
TARGET_SUBSCRIBERS = 1_000
TARGET_FANOUT_P99_MS = 50.0

# -- WORKLOAD -------------------------------------------------------------------------------------

MID = 5_000  # fen per contract: order prices sit around it (the calls' band is 1..10,000,000)
PASSIVE_SPREAD = 20  # a passive order rests 1..20 fen behind the mid
CROSS_THROUGH = 25  # a crossing IOC reaches 25 fen through the mid: it takes the opposite best
MAX_RESTING = 200  # per connection: beyond it the connection cancels before it places
PACING_TICK_S = 0.001  # the open-loop sender wakes at most this often
FANOUT_BASE_PRICE = 1_000  # the producer's k-th order is a buy at FANOUT_BASE_PRICE + k
FANOUT_RESTING = 10  # the producer cancels the order it placed this many orders before
# Refusals of the WebSocket layer: the request never reached the sequencer, so nothing was
# journaled; so is UNAVAILABLE (nothing was applied). OUTCOME_UNKNOWN and INTERNAL_ERROR may answer a
# command that was applied after all (docs/scale-out.md, "Deadlines, timeouts and failure").
WS_LAYER_CODES = frozenset(
    {
        "BAD_REQUEST",
        "UNKNOWN_OP",
        "UNAUTHENTICATED",
        "SCOPE_REQUIRED",
        "RATE_LIMITED",
        "MMP_TRIGGERED",
        "UNAVAILABLE",
    }
)
AMBIGUOUS_CODES = frozenset({"OUTCOME_UNKNOWN", "INTERNAL_ERROR"})


def log(message: str) -> None:
    print(f"[ws_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(ordered: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))  # ceil(fraction * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(samples_ns: array[int] | list[int]) -> dict[str, Any]:
    ordered = sorted(samples_ns)

    def ms(value: int | None) -> float | None:
        return None if value is None else round(value / 1e6, 3)

    return {
        "samples": len(ordered),
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "p999_ms": ms(percentile(ordered, 0.999)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }


# =================================================================================================
# CLIENT PROCESSES
# =================================================================================================
#
# A client process runs one asyncio loop (uvloop when installed) with many connections. With the
# orchestrator it speaks over a multiprocessing pipe:
#   client -> {"ready": ...} once connected (and subscribed);
#   orchestrator -> {"go": wall-clock start};
#   client -> {"result": ...} when its phase is over (subscribers: after {"stop": ...}).

_decode = msgspec.json.Decoder().decode


async def open_connection(url: str, token: str | None) -> WsLink:
    """A connection past the welcome, authenticated with a session token when given."""
    link = await open_link(url)
    welcome = _decode(await link.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected the welcome, got {welcome}")
    if token is not None:
        link.send(json.dumps({"op": "auth", "id": "auth", "token": token}))
        while True:
            message = _decode(await link.recv())
            if message.get("type") == "response" and message.get("id") == "auth":
                if not message.get("ok"):
                    raise RuntimeError(f"auth refused: {message.get('error')}")
                break
    return link


class OrderStats:
    """Counts and latencies of one client process (all its connections)."""

    def __init__(self) -> None:
        self.sent = 0
        self.ok = 0
        self.places_ok = 0
        self.refused: dict[str, int] = {}
        self.place_latency = array("q")
        self.cancel_latency = array("q")
        self.send_lag = array("q")  # rate phase: how late each send was against its schedule
        self.closed = 0  # connections lost during the phase
        self.notices: dict[str, int] = {}  # unsolicited errors from the server (SLOW_CONSUMER, ...)
        self.last_response_ns = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "ok": self.ok,
            "places_ok": self.places_ok,
            "refused": self.refused,
            "place_latency": self.place_latency.tobytes(),
            "cancel_latency": self.cancel_latency.tobytes(),
            "send_lag": self.send_lag.tobytes(),
            "closed": self.closed,
            "notices": self.notices,
        }


class OrderConnection:
    """One market maker's connection: builds requests, correlates responses, keeps its resting
    orders (acknowledged and not yet cancelled by itself) for cancels."""

    def __init__(
        self, link: WsLink, symbol: str, stats: OrderStats, seed: int, window: int, fanout: bool = False
    ):
        self.link = link
        self.symbol = symbol
        self.stats = stats
        self.rng = random.Random(seed)
        self.window = window
        self.fanout = fanout
        self.pending: dict[int, tuple[int, bool]] = {}  # request id -> (send ns, is place)
        self.resting: deque[int] = deque()
        self.next_id = 1
        self.space = asyncio.Event()
        self.drained = asyncio.Event()
        # fan-out producer: wall-clock send time per delta key (see `delta_key`)
        self.fanout_sends: dict[int, int] = {}
        self.fanout_request_price: dict[int, int] = {}  # place request id -> its price
        self.fanout_order_price: dict[int, int] = {}  # acknowledged order id -> its price
        self.fanout_k = 0
        link.handler = self.on_message
        link.closed.add_done_callback(self._on_closed)

    @property
    def closed(self) -> bool:
        return self.link.is_closed

    def request(self) -> str:
        request_id = self.next_id
        self.next_id += 1
        if self.fanout:
            return self._fanout_request(request_id)
        rng = self.rng
        draw = rng.random()
        if self.resting and (draw < 0.35 or len(self.resting) >= MAX_RESTING):
            order_id = self.resting.popleft()
            self.pending[request_id] = (time.perf_counter_ns(), False)
            return f'{{"op":"cancel","id":{request_id},"order_id":{order_id}}}'
        side = "buy" if rng.random() < 0.5 else "sell"
        if draw > 0.90:
            price = MID + CROSS_THROUGH if side == "buy" else MID - CROSS_THROUGH
            order_type = "ioc"
            quantity = rng.randint(1, 5)
        else:
            behind = rng.randint(1, PASSIVE_SPREAD)
            price = MID - behind if side == "buy" else MID + behind
            order_type = "limit"
            quantity = rng.randint(1, 10)
        self.pending[request_id] = (time.perf_counter_ns(), True)
        return (
            f'{{"op":"place","id":{request_id},"symbol":"{self.symbol}","side":"{side}",'
            f'"order_type":"{order_type}","price":{price},"quantity":{quantity}}}'
        )

    def _fanout_request(self, request_id: int) -> str:
        """A buy at a new price, or (once FANOUT_RESTING rest) the cancel of the oldest: every
        command changes exactly one level of the book, so its delta names it."""
        wall = time.time_ns()
        if len(self.resting) >= FANOUT_RESTING:
            order_id = self.resting.popleft()
            price = self.fanout_order_price.pop(order_id)
            self.fanout_sends[delta_key(price, False)] = wall
            self.pending[request_id] = (time.perf_counter_ns(), False)
            return f'{{"op":"cancel","id":{request_id},"order_id":{order_id}}}'
        price = FANOUT_BASE_PRICE + self.fanout_k
        self.fanout_k += 1
        self.fanout_request_price[request_id] = price
        self.fanout_sends[delta_key(price, True)] = wall
        self.pending[request_id] = (time.perf_counter_ns(), True)
        return (
            f'{{"op":"place","id":{request_id},"symbol":"{self.symbol}","side":"buy",'
            f'"order_type":"limit","price":{price},"quantity":1}}'
        )

    def send(self, count: int) -> None:
        """`count` requests in one write."""
        self.stats.sent += count
        self.link.send_many([self.request() for _ in range(count)])

    def on_message(self, text: str, _received_wall_ns: int) -> None:
        now = time.perf_counter_ns()
        if '"response"' not in text:
            if '"error"' in text:  # told before the server closes the connection
                code = _decode(text).get("code", "?")
                self.stats.notices[code] = self.stats.notices.get(code, 0) + 1
            return  # heartbeats
        message = _decode(text)
        request_id = message.get("id")
        entry = self.pending.pop(request_id, None) if isinstance(request_id, int) else None
        if entry is None:
            return
        stats = self.stats
        sent_at, is_place = entry
        stats.last_response_ns = now
        (stats.place_latency if is_place else stats.cancel_latency).append(now - sent_at)
        if message.get("ok"):
            stats.ok += 1
            if is_place:
                stats.places_ok += 1
                result = message["result"]
                if result.get("open_quantity"):
                    self.resting.append(result["order_id"])
                    if self.fanout:
                        self.fanout_order_price[result["order_id"]] = self.fanout_request_price.pop(
                            request_id
                        )
        else:
            code = message.get("error", {}).get("code", "?")
            stats.refused[code] = stats.refused.get(code, 0) + 1
        if len(self.pending) < self.window:
            self.space.set()
        if not self.pending:
            self.drained.set()

    def _on_closed(self, _future: asyncio.Future[None]) -> None:
        self.space.set()
        self.drained.set()

    async def run_max(self, deadline_ns: int, cap: int) -> None:
        """Keep `window` requests in flight: top the window up after every response."""
        sent = 0
        while sent < cap and not self.closed and time.perf_counter_ns() < deadline_ns:
            free = min(self.window - len(self.pending), cap - sent)
            if free <= 0:
                self.space.clear()
                await self.space.wait()
                continue
            self.send(free)
            sent += free
            await asyncio.sleep(0)  # let responses in between writes

    async def drain(self, timeout: float) -> None:
        if self.pending and not self.closed:
            self.drained.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), timeout)


def delta_key(price: int, placed: bool) -> int:
    """The key of a fan-out delta: its one level's price, and whether it was added (a place) or
    removed (a cancel)."""
    return price * 2 + (1 if placed else 0)


async def run_paced(
    connections: list[OrderConnection], rate: float, deadline_ns: int, cap: int, stats: OrderStats
) -> None:
    """Open loop: request k of this process is due at start + k / rate, whatever the responses;
    request k goes to connection k mod n."""
    start = time.perf_counter_ns()
    interval_ns = 1e9 / rate
    k = 0
    n = len(connections)
    due_per_connection = [0] * n
    while k < cap:
        now = time.perf_counter_ns()
        if now >= deadline_ns:
            break
        due = min(cap, int((now - start) / interval_ns) + 1)
        while k < due:
            stats.send_lag.append(max(0, now - int(start + k * interval_ns)))
            due_per_connection[k % n] += 1
            k += 1
        for index, count in enumerate(due_per_connection):
            if count:
                due_per_connection[index] = 0
                if not connections[index].closed:
                    connections[index].send(count)
        # Sleep at least a tick of the loop's timer (1 ms): shorter sleeps return at once and the
        # loop would spin, taking a core from the server it measures. What falls due meanwhile goes
        # out together on the next turn (one write per connection).
        next_due = start + k * interval_ns
        await asyncio.sleep(max(PACING_TICK_S, (next_due - time.perf_counter_ns()) / 1e9))


async def wait_pipe(pipe: Connection) -> Any:
    """The next message from the orchestrator, without blocking the loop."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    loop.add_reader(pipe.fileno(), ready.set)
    try:
        while not pipe.poll():
            ready.clear()
            await ready.wait()
        return pipe.recv()
    finally:
        loop.remove_reader(pipe.fileno())
        # uvloop leaves a watched descriptor non-blocking; a large result must be sent blocking
        os.set_blocking(pipe.fileno(), True)


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def order_client(pipe: Connection, spec: dict[str, Any]) -> None:
    stats = OrderStats()
    fanout = spec.get("fanout", False)
    connections = []
    for index, conn in enumerate(spec["connections"]):
        link = await open_connection(conn["url"], conn["token"])
        seed = spec["seed"] * 1000 + index
        connections.append(OrderConnection(link, conn["symbol"], stats, seed, spec["window"], fanout=fanout))
    pipe.send({"ready": len(connections)})
    go = await wait_pipe(pipe)
    await asyncio.sleep(max(0.0, go["go"] - time.time()))
    cpu_start = _cpu_now()
    started = time.perf_counter_ns()
    deadline = started + int(spec["duration"] * 1e9)
    cap = spec["cap"]
    if spec["mode"] == "max":
        shares = share_out(cap, len(connections))
        await asyncio.gather(
            *(c.run_max(deadline, share) for c, share in zip(connections, shares, strict=True))
        )
    else:
        await run_paced(connections, spec["rate"], deadline, cap, stats)
    sending_seconds = (time.perf_counter_ns() - started) / 1e9
    await asyncio.gather(*(c.drain(spec.get("drain_seconds", 15.0)) for c in connections))
    cpu_used = _cpu_now() - cpu_start
    answering_seconds = max(0, stats.last_response_ns - started) / 1e9
    stats.closed = sum(c.closed for c in connections)
    unanswered = sum(len(c.pending) for c in connections)
    await asyncio.gather(*(c.link.close() for c in connections), return_exceptions=True)
    result = stats.as_dict()
    result.update(
        unanswered=unanswered,
        sending_seconds=sending_seconds,
        answering_seconds=answering_seconds,
        cpu_seconds=cpu_used,
        connections=len(connections),
    )
    if fanout:
        result["fanout_sends"] = {k: v for c in connections for k, v in c.fanout_sends.items()}
        result["fanout_ok_commands"] = stats.ok
    pipe.send({"result": result})


# -- FAN-OUT SUBSCRIBERS --------------------------------------------------------------------------


class BookReplica:
    """The whole book from a snapshot and deltas, with the protocol's checksum."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def load(self, message: dict[str, Any]) -> None:
        self.bids = {level[0]: level[1] for level in message["bids"]}
        self.asks = {level[0]: level[1] for level in message["asks"]}

    def apply(self, message: dict[str, Any]) -> None:
        for levels, side in ((message["bids"], self.bids), (message["asks"], self.asks)):
            for price, quantity, _count in levels:
                if quantity == 0:
                    side.pop(price, None)
                else:
                    side[price] = quantity

    def checksum(self) -> int:
        from wire.book import CHECKSUM_LEVELS, book_checksum

        asks = sorted(self.asks.items())[:CHECKSUM_LEVELS]
        bids = sorted(self.bids.items(), reverse=True)[:CHECKSUM_LEVELS]
        return book_checksum(asks, bids)


class Subscriber:
    """One market-data connection on the fan-out book."""

    def __init__(self, link: WsLink, symbol: str, verify: bool) -> None:
        self.link = link
        self.symbol = symbol
        self.replica = BookReplica() if verify else None
        self.last_seq: int | None = None
        self.deltas = 0
        self.gaps = 0  # prev_seq != the last applied sequence
        self.heartbeat_mismatches = 0  # the heartbeat's book sequence != the last applied one
        self.checksum_mismatches = 0
        self.checksums_verified = 0
        self.errors: list[str] = []
        self.keys = array("q")
        self.received_at = array("q")
        self.subscribed = asyncio.Event()
        self.progress = asyncio.Event()
        link.handler = self.on_message
        link.closed.add_done_callback(lambda _future: self.progress.set())

    @property
    def closed(self) -> bool:
        return self.link.is_closed

    def subscribe(self) -> None:
        self.link.send(json.dumps({"op": "subscribe", "id": 1, "channel": "book", "symbol": self.symbol}))

    def on_message(self, text: str, received: int) -> None:
        message = _decode(text)
        kind = message.get("type")
        if message.get("channel") == "book":
            self._book(message, kind, received)
        elif kind == "heartbeat":
            seen = message.get("books", {}).get(self.symbol)
            if seen is not None and self.last_seq is not None and seen != self.last_seq:
                self.heartbeat_mismatches += 1
        elif kind == "error":
            self.errors.append(message.get("code", "?"))
        elif kind == "response" and not message.get("ok"):
            self.errors.append(message.get("error", {}).get("code", "?"))

    def _book(self, message: dict[str, Any], kind: str, received: int) -> None:
        if kind == "snapshot":
            self.last_seq = message["last_seq"]
            if self.replica is not None:
                self.replica.load(message)
                self._verify(message)
            self.subscribed.set()
            return
        if self.last_seq is None:
            return  # the server queues the snapshot before any delta: cannot happen
        if message["prev_seq"] != self.last_seq:
            self.gaps += 1
        self.last_seq = message["last_seq"]
        self.deltas += 1
        levels = message["bids"] or message["asks"]
        if len(levels) == 1:
            price, quantity, _count = levels[0]
            self.keys.append(delta_key(price, quantity > 0))
            self.received_at.append(received)
        if self.replica is not None:
            self.replica.apply(message)
            self._verify(message)
        self.progress.set()

    def _verify(self, message: dict[str, Any]) -> None:
        assert self.replica is not None
        self.checksums_verified += 1
        if self.replica.checksum() != message["checksum"]:
            self.checksum_mismatches += 1


async def subscriber_client(pipe: Connection, spec: dict[str, Any]) -> None:
    semaphore = asyncio.Semaphore(64)  # handshakes in flight at once
    connect_errors: list[str] = []

    async def connect(index: int) -> Subscriber | None:
        async with semaphore:
            try:
                link = await open_connection(spec["urls"][index % len(spec["urls"])], None)
                subscriber = Subscriber(link, spec["symbol"], verify=index == 0)
                subscriber.subscribe()
                await asyncio.wait_for(subscriber.subscribed.wait(), 30)
            except Exception as exc:
                connect_errors.append(f"{type(exc).__name__}: {exc}")
                return None
            return subscriber

    connected = await asyncio.gather(*(connect(i) for i in range(spec["count"])))
    subscribers = [s for s in connected if s is not None]
    pipe.send(
        {"ready": len(subscribers), "connect_errors": connect_errors[:5], "failed": len(connect_errors)}
    )

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(10)
            for s in subscribers:
                if not s.closed:
                    s.link.send('{"op":"ping"}')

    pinger = asyncio.create_task(keepalive())
    cpu_start = _cpu_now()
    stop = await wait_pipe(pipe)  # sent once the producer is done
    expected = stop["expected_deltas"]
    deadline = time.monotonic() + stop.get("grace_seconds", 5.0)
    for s in subscribers:  # let the last deltas arrive
        while s.deltas < expected and not s.closed and time.monotonic() < deadline:
            s.progress.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(s.progress.wait(), max(0.01, deadline - time.monotonic()))
    cpu_used = _cpu_now() - cpu_start
    pinger.cancel()
    sends: dict[int, int] = stop["sends"]
    latencies = array("q")
    unmatched = 0
    for s in subscribers:
        for key, received in zip(s.keys, s.received_at, strict=True):
            sent = sends.get(key)
            if sent is None:
                unmatched += 1
            else:
                latencies.append(received - sent)
    result = {
        "connections": len(subscribers),
        "failed_connections": len(connect_errors),
        "connect_errors": connect_errors[:5],
        "deltas": sum(s.deltas for s in subscribers),
        "min_deltas": min((s.deltas for s in subscribers), default=0),
        "missing_deltas": sum(max(0, expected - s.deltas) for s in subscribers),
        "connections_short": sum(1 for s in subscribers if s.deltas < expected),
        "gaps": sum(s.gaps for s in subscribers),
        "heartbeat_mismatches": sum(s.heartbeat_mismatches for s in subscribers),
        "checksums_verified": sum(s.checksums_verified for s in subscribers),
        "checksum_mismatches": sum(s.checksum_mismatches for s in subscribers),
        "closed": sum(1 for s in subscribers if s.closed),
        "errors": sorted({e for s in subscribers for e in s.errors}),
        "unmatched_deltas": unmatched,
        "latency": latencies.tobytes(),
        "cpu_seconds": cpu_used,
    }
    await asyncio.gather(*(s.link.close() for s in subscribers), return_exceptions=True)
    pipe.send({"result": result})


def client_main(pipe: Connection, kind: str, spec: dict[str, Any]) -> None:
    """Entry point of a client process."""
    with suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    resource.setrlimit(resource.RLIMIT_NOFILE, _nofile_limit())
    coroutine = order_client(pipe, spec) if kind == "orders" else subscriber_client(pipe, spec)
    try:
        asyncio.run(coroutine)
    except Exception as exc:  # told to the orchestrator, which reports it
        with suppress(Exception):
            pipe.send({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _nofile_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
    return (max(soft, wanted), hard)


# =================================================================================================
# ORCHESTRATION
# =================================================================================================


class ClientGroup:
    """Client processes of one phase, driven in lock step: all ready, then go, then results."""

    def __init__(self, kind: str, specs: list[dict[str, Any]]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for spec in specs:
            parent, child = context.Pipe()
            process = context.Process(target=client_main, args=(child, kind, spec), daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    def _receive(self, pipe: Connection, timeout: float) -> dict[str, Any]:
        if not pipe.poll(timeout):
            raise RuntimeError(f"a client process did not answer within {timeout:.0f} s")
        try:
            message: dict[str, Any] = pipe.recv()
        except EOFError:
            raise RuntimeError(
                "a client process exited without an answer (see its traceback above)"
            ) from None
        if "error" in message:
            raise RuntimeError(f"a client process failed: {message['error']}")
        return message

    def ready(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        return [self._receive(pipe, timeout) for pipe in self.pipes]

    def send(self, message: dict[str, Any]) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def results(self, timeout: float) -> list[dict[str, Any]]:
        return [self._receive(pipe, timeout)["result"] for pipe in self.pipes]

    def close(self) -> None:
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Round robin: part i holds items i, i + parts, ..."""
    return [list(items[i::parts]) for i in range(parts) if items[i::parts]]


def share_out(total: int, parts: int) -> list[int]:
    """`total` in `parts` integers differing by at most one, larger first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class Meter:
    """CPU used by the deployment's processes and by the whole machine over a span of time."""

    def __init__(self, deployment: Any) -> None:
        self.deployment = deployment
        self.server_cpu = deployment.cpu_seconds()
        self.busy, self.total = machine_busy_seconds()
        self.wall = time.monotonic()

    def read(self) -> dict[str, float]:
        busy, total = machine_busy_seconds()
        return {
            "server_s": round(self.deployment.cpu_seconds() - self.server_cpu, 2),
            "machine_busy": round((busy - self.busy) / max(1e-9, total - self.total), 3),
            "wall_s": round(time.monotonic() - self.wall, 2),
        }


def order_phase(
    server: Any,
    mode: str,
    args: argparse.Namespace,
    rate: float | None = None,
) -> dict[str, Any]:
    """Phase max or rate: order entry from several client processes."""
    setup = server.setup
    symbols = setup["order_symbols"]
    accounts = setup["accounts"][: args.order_processes * args.order_connections]
    urls = server.ws_urls
    connections = [
        {"token": account["token"], "symbol": symbols[i % len(symbols)], "url": urls[i % len(urls)]}
        for i, account in enumerate(accounts)
    ]
    groups = split(connections, args.order_processes)
    # --orders caps the phase: each connection gets its share, exactly
    per_connection = share_out(args.orders or (1 << 62), len(connections))
    specs = []
    for index, group in enumerate(groups):
        share = len(group) / len(connections)
        specs.append(
            {
                "connections": group,
                "mode": mode,
                "window": args.window if mode == "max" else 1 << 30,
                "rate": (rate or 0) * share,
                "duration": args.duration,
                "cap": sum(per_connection[index :: len(groups)]),
                "seed": args.seed * 100 + index + (50 if mode == "rate" else 0),
            }
        )
    clients = ClientGroup("orders", specs)
    try:
        clients.ready()
        clients.send({"go": time.time() + 0.3})
        time.sleep(0.3)
        meter = Meter(server)
        results = clients.results(timeout=args.duration + 120)
        cpu = meter.read()
    finally:
        clients.close()
    return summarize_orders(mode, results, args.duration, rate, cpu)


def merge_counts(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, n in count.items():
            total[key] = total.get(key, 0) + n
    return total


def journal_bounds(ok: int, refused: dict[str, int], unanswered: int) -> tuple[int, int]:
    """(at least, at most) journal rows for these answers: accepted and sequencer-refused commands
    are journaled (that is what their answer acknowledges); an OUTCOME_UNKNOWN or missing answer may
    or may not be."""
    journaled = ok + sum(n for code, n in refused.items() if code not in WS_LAYER_CODES | AMBIGUOUS_CODES)
    maybe = unanswered + sum(n for code, n in refused.items() if code in AMBIGUOUS_CODES)
    return journaled, journaled + maybe


def summarize_orders(
    mode: str,
    results: list[dict[str, Any]],
    duration: float,
    rate: float | None,
    cpu: dict[str, float],
) -> dict[str, Any]:
    place = array("q")
    cancel = array("q")
    lag = array("q")
    refused: dict[str, int] = {}
    for r in results:
        place.frombytes(r["place_latency"])
        cancel.frombytes(r["cancel_latency"])
        lag.frombytes(r["send_lag"])
        for code, n in r["refused"].items():
            refused[code] = refused.get(code, 0) + n
    sent = sum(r["sent"] for r in results)
    ok = sum(r["ok"] for r in results)
    refused_total = sum(refused.values())
    unanswered = sum(r["unanswered"] for r in results)
    # From the go to the last response (the drain included): every acknowledgement counts once,
    # over the time it took, whether the phase ended by its duration or by --orders.
    answering = max(1e-9, max(r["answering_seconds"] for r in results))
    places_ok = sum(r["places_ok"] for r in results)
    both = array("q", place)
    both.extend(cancel)
    summary: dict[str, Any] = {
        "mode": mode,
        "duration_s": duration,
        "client_processes": len(results),
        "connections": sum(r["connections"] for r in results),
        "requested_rate_per_s": rate,
        "sent": sent,
        "acknowledged": ok + refused_total,
        "ok": ok,
        "refused": refused_total,
        "refused_by_code": refused,
        "unanswered": unanswered,
        "connections_lost": sum(r["closed"] for r in results),
        "server_notices": merge_counts(r["notices"] for r in results),
        "answering_s": round(answering, 3),
        "acknowledged_per_s": round((ok + refused_total) / answering, 1),
        "places_ok_per_s": round(places_ok / answering, 1),
        "sent_per_s": round(sent / max(1e-9, max(r["sending_seconds"] for r in results)), 1),
        "latency": latency_summary(both),
        "place_latency": latency_summary(place),
        "cancel_latency": latency_summary(cancel),
        "cpu": {
            **cpu,
            "clients_s": round(sum(r["cpu_seconds"] for r in results), 2),
            # what one request costs the server (all its processes)
            "server_us_per_request": round(cpu["server_s"] * 1e6 / max(1, ok + refused_total), 1),
        },
        "journaled": journal_bounds(ok, refused, unanswered),
    }
    if mode == "rate":
        summary["send_lag"] = latency_summary(lag)
    return summary


def fanout_phase(server: Any, args: argparse.Namespace) -> dict[str, Any]:
    setup = server.setup
    symbol = setup["fanout_symbol"]
    producer_account = setup["accounts"][-1]
    processes = max(1, min(args.subscriber_processes, args.subscribers))
    counts = [len(part) for part in split(list(range(args.subscribers)), processes)]
    subscriber_specs = [{"urls": server.ws_urls, "symbol": symbol, "count": n} for n in counts]
    log(f"fanout: connecting {args.subscribers} subscribers in {len(counts)} processes")
    connect_started = time.monotonic()
    subscribers = ClientGroup("subscribers", subscriber_specs)
    producer = None
    try:
        ready = subscribers.ready(timeout=180)
        connected = sum(r["ready"] for r in ready)
        connect_seconds = time.monotonic() - connect_started
        log(f"fanout: {connected} subscribed in {connect_seconds:.1f} s; streaming at {args.fanout_rate}/s")
        producer_spec = {
            "connections": [{"token": producer_account["token"], "symbol": symbol, "url": server.ws_urls[0]}],
            "mode": "rate",
            "window": 1 << 30,
            "rate": args.fanout_rate,
            "duration": args.duration,
            "cap": args.orders or (1 << 62),
            "seed": args.seed,
            "fanout": True,
        }
        producer = ClientGroup("orders", [producer_spec])
        producer.ready()
        producer.send({"go": time.time() + 0.3})
        time.sleep(0.3)
        meter = Meter(server)
        produced = producer.results(timeout=args.duration + 120)[0]
        cpu = meter.read()
        expected = produced["fanout_ok_commands"]
        subscribers.send({"stop": True, "expected_deltas": expected, "sends": produced["fanout_sends"]})
        results = subscribers.results(timeout=120)
    finally:
        subscribers.close()
        if producer is not None:
            producer.close()
    latency = array("q")
    for r in results:
        latency.frombytes(r["latency"])
    gaps = sum(r["gaps"] for r in results)
    heartbeat = sum(r["heartbeat_mismatches"] for r in results)
    missing = sum(r["missing_deltas"] for r in results)
    return {
        "subscribers_requested": args.subscribers,
        "subscribers": sum(r["connections"] for r in results),
        "failed_connections": sum(r["failed_connections"] for r in results),
        "connect_errors": [e for r in results for e in r["connect_errors"]][:5],
        "subscriber_processes": len(results),
        "connect_seconds": round(connect_seconds, 2),
        "rate_per_s": args.fanout_rate,
        "duration_s": args.duration,
        "producer_commands": produced["sent"],
        "producer_acknowledged": produced["ok"] + sum(produced["refused"].values()),
        "producer_refused": produced["refused"],
        "expected_deltas_per_subscriber": expected,
        "deltas_received": sum(r["deltas"] for r in results),
        "deliveries_per_s": round(sum(r["deltas"] for r in results) / args.duration, 1),
        "gaps": gaps,
        "heartbeat_mismatches": heartbeat,
        "missing_deltas": missing,
        "connections_short": sum(r["connections_short"] for r in results),
        "gaps_total": gaps + heartbeat + missing,
        "checksums_verified": sum(r["checksums_verified"] for r in results),
        "checksum_mismatches": sum(r["checksum_mismatches"] for r in results),
        "disconnected": sum(r["closed"] for r in results),
        "errors": sorted({e for r in results for e in r["errors"]}),
        "unmatched_deltas": sum(r["unmatched_deltas"] for r in results),
        "delivery_latency": latency_summary(latency),
        "cpu": {**cpu, "subscribers_s": round(sum(r["cpu_seconds"] for r in results), 2)},
        "journaled": journal_bounds(produced["ok"], produced["refused"], produced["unanswered"]),
    }


# =================================================================================================
# REPORT
# =================================================================================================


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    top = report["phases"].get("max")
    if top:
        measured = top["acknowledged_per_s"]
        out.append(
            {
                "target": f"order entry >= {TARGET_ORDERS_PER_S:,} acknowledged requests/s",
                "measured": measured,
                "ratio": round(measured / TARGET_ORDERS_PER_S, 3),
                "pass": measured >= TARGET_ORDERS_PER_S,
            }
        )
    paced = report["phases"].get("rate")
    if paced:
        p99 = paced["latency"]["p99_ms"]
        at_rate = (
            paced["requested_rate_per_s"] >= TARGET_RATE and paced["acknowledged_per_s"] >= 0.98 * TARGET_RATE
        )
        out.append(
            {
                "target": f"p99 acknowledgement <= {TARGET_RATE_P99_MS:g} ms at {TARGET_RATE:,}/s",
                "measured": p99,
                "at_rate_per_s": paced["acknowledged_per_s"],
                "ratio": None if p99 is None else round(p99 / TARGET_RATE_P99_MS, 3),
                "pass": bool(at_rate and p99 is not None and p99 <= TARGET_RATE_P99_MS),
                "note": None if at_rate else "the phase did not run at the target rate",
            }
        )
    fan = report["phases"].get("fanout")
    if fan:
        p99 = fan["delivery_latency"]["p99_ms"]
        out.append(
            {
                "target": f"{TARGET_SUBSCRIBERS:,} subscribers connected",
                "measured": fan["subscribers"],
                "ratio": round(fan["subscribers"] / TARGET_SUBSCRIBERS, 3),
                "pass": fan["subscribers"] >= TARGET_SUBSCRIBERS,
            }
        )
        out.append(
            {
                "target": "fan-out without a gap",
                "measured": fan["gaps_total"],
                "ratio": None,
                "pass": fan["gaps_total"] == 0 and fan["disconnected"] == 0,
            }
        )
        out.append(
            {
                "target": f"fan-out p99 delivery <= {TARGET_FANOUT_P99_MS:g} ms",
                "measured": p99,
                "ratio": None if p99 is None else round(p99 / TARGET_FANOUT_P99_MS, 3),
                "pass": p99 is not None and p99 <= TARGET_FANOUT_P99_MS,
            }
        )
    return out


def render(report: dict[str, Any]) -> str:
    lines = []
    m = report["machine"]
    lines.append(
        f"machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}, load {m['load_average']}"
    )
    server = report["server"]
    lines.append(f"server: {server['mode']}: {server['processes']}; {server['database']}")
    lines.append(f"        {server['accounts']} market-maker accounts, {server['instruments']} instruments")
    lines.append("")
    header = f"{'phase':<6} {'conns':>5} {'ack/s':>10} {'places/s':>10} {'ok':>9} {'refused':>8} {'unans':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8} {'cpu srv/cli s':>14} {'box':>5}"
    lines.append(header)
    lines.append("-" * len(header))
    for name in ("max", "rate"):
        p = report["phases"].get(name)
        if not p:
            continue
        lat = p["latency"]
        cpu = f"{p['cpu']['server_s']:.1f}/{p['cpu']['clients_s']:.1f}"
        box = f"{p['cpu']['machine_busy']:.0%}"
        lines.append(
            f"{name:<6} {p['connections']:>5} {p['acknowledged_per_s']:>10,.0f} {p['places_ok_per_s']:>10,.0f} "
            f"{p['ok']:>9,} {p['refused']:>8,} {p['unanswered']:>6} {_ms(lat['p50_ms']):>8} {_ms(lat['p99_ms']):>8} "
            f"{_ms(lat['p999_ms']):>9} {_ms(lat['max_ms']):>8} {cpu:>14} {box:>5}"
        )
    for name in ("max", "rate"):
        p = report["phases"].get(name)
        if p and p["refused_by_code"]:
            codes = ", ".join(f"{code} {n:,}" for code, n in sorted(p["refused_by_code"].items()))
            lines.append(f"{name} refused: {codes}")
        if p and p["connections_lost"]:
            notices = (
                ", ".join(f"{code} {n}" for code, n in sorted(p["server_notices"].items())) or "no notice"
            )
            lines.append(f"{name}: {p['connections_lost']} connections lost ({notices})")
    top = report["phases"].get("max")
    if top:
        lines.append(
            f"server CPU per request (max phase, all its processes): "
            f"{top['cpu']['server_us_per_request']:.0f} us"
        )
    rate = report["phases"].get("rate")
    if rate:
        lines.append(
            f"rate phase: requested {rate['requested_rate_per_s']:,.0f}/s"
            + (f" ({report['rate_note']})" if report.get("rate_note") else "")
            + f"; send lag p99 {_ms(rate['send_lag']['p99_ms'])} ms"
        )
    fan = report["phases"].get("fanout")
    if fan:
        lat = fan["delivery_latency"]
        lines.append("")
        lines.append(
            f"fanout: {fan['subscribers']:,} subscribers ({fan['subscriber_processes']} processes, "
            f"connected in {fan['connect_seconds']} s), {fan['producer_acknowledged']:,} commands at "
            f"{fan['rate_per_s']}/s -> {fan['deltas_received']:,} deltas ({fan['deliveries_per_s']:,.0f}/s)"
        )
        lines.append(
            f"        gaps {fan['gaps']}, heartbeat mismatches {fan['heartbeat_mismatches']}, missing {fan['missing_deltas']}, "
            f"disconnected {fan['disconnected']}, checksums {fan['checksums_verified']:,} verified / "
            f"{fan['checksum_mismatches']} wrong"
        )
        lines.append(
            f"        delivery p50 {_ms(lat['p50_ms'])} ms, p99 {_ms(lat['p99_ms'])} ms, p99.9 {_ms(lat['p999_ms'])} ms, "
            f"max {_ms(lat['max_ms'])} ms; cpu server {fan['cpu']['server_s']} s, subscribers {fan['cpu']['subscribers_s']} s, "
            f"box {fan['cpu']['machine_busy']:.0%} busy"
        )
    checks = report["checks"]
    lines.append("")
    lines.append(
        f"durability: journal rows {checks['journal_rows']:,}, expected {checks['journal_rows_expected']} "
        f"({'ok' if checks['journal_ok'] else 'MISMATCH'}); audit: {checks['audit']}"
    )
    lines.append("")
    lines.append("targets:")
    for t in report["targets"]:
        ratio = f" ({t['ratio']:.2f}x)" if t.get("ratio") is not None else ""
        note = f" - {t['note']}" if t.get("note") else ""
        lines.append(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['measured']}{ratio}{note}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# =================================================================================================
# MAIN
# =================================================================================================


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.ws_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--orders", type=int, default=0, help="at most this many requests per phase (0: no cap)"
    )
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests/s of the fixed-rate phase")
    parser.add_argument("--subscribers", type=int, default=TARGET_SUBSCRIBERS)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--order-processes", type=int, default=2)
    parser.add_argument("--order-connections", type=int, default=4, help="per order-entry process")
    parser.add_argument(
        "--window", type=int, default=32, help="requests in flight per connection (max phase)"
    )
    parser.add_argument("--subscriber-processes", type=int, default=2)
    parser.add_argument(
        "--fanout-rate", type=float, default=20.0, help="producer commands/s in the fan-out phase"
    )
    parser.add_argument("--instruments", type=int, default=4, help="material calls for order entry")
    parser.add_argument(
        "--phases", default="max,rate,fanout", help="comma-separated subset of max,rate,fanout"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: the embedded default (one process, SQLite); N: the scale-out mode, a sequencer "
        "process and N API workers over Redis, on PostgreSQL (clients spread over the workers)",
    )
    parser.add_argument(
        "--sequencer",
        choices=["process", "thread"],
        default="process",
        help="embedded mode: the sequencer in a child process of the API process "
        "(API_SEQUENCER_PROCESS=true, the default here: one API process and a second core for the "
        "sequencer) or in a thread of the API process (the one-process default of `capex serve`)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="scale-out: the database (a scratch schema is created in it and dropped afterwards)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="scale-out: the Redis of the bus (keys under a prefix of their own, deleted afterwards)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, server log)"
    )
    return parser.parse_args(argv)


def deployment_for(args: argparse.Namespace, workdir: Path) -> EmbeddedDeployment | ScaleOutDeployment:
    accounts = args.order_processes * args.order_connections + 1  # + the fan-out producer
    if args.workers:
        return ScaleOutDeployment(
            workdir, accounts, args.instruments, args.workers, args.postgres_url, args.redis_url
        )
    return EmbeddedDeployment(workdir, accounts, args.instruments, args.sequencer == "process")


def run(args: argparse.Namespace) -> dict[str, Any]:
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"max", "rate", "fanout"}
    if unknown:
        raise SystemExit(f"unknown phases: {', '.join(sorted(unknown))}")
    workdir = Path(tempfile.mkdtemp(prefix="ws_bench-"))
    server = deployment_for(args, workdir)
    report: dict[str, Any] = {
        "benchmark": "ws_bench",
        "machine": machine(),
        "server": {
            **server.describe(),
            "accounts": server.market_makers,
            "instruments": args.instruments + 1,
        },
        "options": {k: v for k, v in vars(args).items() if k not in ("json", "keep")},
        "phases": {},
    }
    log(f"starting the {server.mode} deployment ({workdir})")
    started = time.monotonic()
    try:
        server.start()
        pids = ", ".join(f"{p.name} {p.pid}" for p in server.processes)
        log(f"up in {time.monotonic() - started:.1f} s: {', '.join(server.ws_urls)} ({pids})")
        if "max" in phases:
            log(
                f"max: {args.order_processes} x {args.order_connections} connections, "
                f"window {args.window}, {args.duration:g} s"
            )
            top = order_phase(server, "max", args)
            report["phases"]["max"] = top
            log(f"max: {top['acknowledged_per_s']:,.0f} acknowledged/s, p99 {top['latency']['p99_ms']} ms")
        if "rate" in phases:
            rate = args.rate
            top = report["phases"].get("max")
            if top and top["acknowledged_per_s"] < rate:
                sustained = max(1.0, round(0.8 * top["acknowledged_per_s"], -1))
                report["rate_note"] = (
                    f"the max phase acknowledged {top['acknowledged_per_s']:,.0f}/s < {rate:,.0f}/s: "
                    f"ran at 80% of it, {sustained:,.0f}/s"
                )
                log(f"rate: {report['rate_note']}")
                rate = sustained
            log(f"rate: {rate:,.0f}/s for {args.duration:g} s")
            paced = order_phase(server, "rate", args, rate=rate)
            report["phases"]["rate"] = paced
            log(
                f"rate: {paced['acknowledged_per_s']:,.0f} acknowledged/s, p99 {paced['latency']['p99_ms']} ms"
            )
        if "fanout" in phases:
            fan = fanout_phase(server, args)
            report["phases"]["fanout"] = fan
            log(
                f"fanout: {fan['subscribers']} subscribers, gaps {fan['gaps_total']}, "
                f"p99 {fan['delivery_latency']['p99_ms']} ms"
            )
    except BaseException:
        server.stop()
        if not args.keep:
            server.cleanup()
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    status = server.stop()
    log(f"stopped: exit status {status}")
    try:
        # an index price and a listing per instrument, then CreateAccount + Deposit per account;
        # then what the phases had journaled
        setup_commands = 2 * (args.instruments + 1) + 2 * server.market_makers
        at_least = setup_commands + sum(p["journaled"][0] for p in report["phases"].values())
        at_most = setup_commands + sum(p["journaled"][1] for p in report["phases"].values())
        rows = server.journal_rows()
        audit = subprocess.run(
            [sys.executable, "-m", "capex", "audit", "--database-url", server.database_url],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        if not args.keep:
            server.cleanup()
    report["checks"] = {
        "journal_rows": rows,
        # every acknowledged command is in the journal; an OUTCOME_UNKNOWN or unanswered one may be
        "journal_rows_expected": f"{at_least:,}" if at_least == at_most else f"{at_least:,}..{at_most:,}",
        "journal_rows_at_least": at_least,
        "journal_rows_at_most": at_most,
        "journal_ok": at_least <= rows <= at_most,
        "audit": "ok"
        if audit.returncode == 0
        else f"FAILED ({audit.returncode}): {(audit.stdout + audit.stderr).strip()[-500:]}",
        "audit_ok": audit.returncode == 0,
        "exit_status": status,
    }
    report["targets"] = targets(report)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    if args.keep:
        report["workdir"] = str(workdir)
        if args.workers:
            report["database_url"] = server.database_url
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def failed_checks(report: dict[str, Any]) -> list[str]:
    failures = []
    checks = report["checks"]
    if not checks["journal_ok"]:
        failures.append("acknowledged commands missing from the journal")
    if not checks["audit_ok"]:
        failures.append("the audit found a breach")
    fan = report["phases"].get("fanout")
    if fan and (fan["gaps_total"] or fan["checksum_mismatches"] or fan["disconnected"]):
        failures.append("the fan-out lost messages")
    for name in ("max", "rate"):
        phase = report["phases"].get(name)
        if phase and phase["unanswered"]:
            failures.append(f"{name}: {phase['unanswered']} requests never answered")
        # a connection cancels only order ids its own place answers gave it: NOT_YOUR_ORDER means
        # an answer carried another account's order
        foreign = phase["refused_by_code"].get("NOT_YOUR_ORDER", 0) if phase else 0
        if foreign:
            failures.append(
                f"{name}: {foreign} cancels of order ids that answers had given to another account"
            )
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    failures = failed_checks(report)
    for failure in failures:
        log(f"CHECK FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
