"""Redis faults in the scale-out mode, on a redis-server of this module's own (killed and started
again; the machine's Redis is shared and never touched) and a SQLite journal:

- Redis killed with WebSocket subscribers connected: order entry answers 503 at once, nothing is
  applied (the journal is unchanged after Redis is back), and afterwards the subscribers either
  see a contiguous sequence or are told of the gap and resync.
- Event batches lost in Redis while a worker was cut off are replayed by the sequencer; when the
  sequencer no longer has them either, the worker hands on the jump of seq (the gap), and a
  consumer resyncs from the sequencer's state.
- A restarted sequencer goes on after the last request its predecessor took: a request still
  before its deadline is not applied a second time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
import redis

from api.gateway import now_ms
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID
from exchange.results import CommandResult, ResultCode
from exchange.runtime.redis_streams import RedisKeys, ReplyStatus, RequestKind, decode_reply, encode_commands
from tests.api.scaleout.clients import BookWatcher, place, register, rest_book
from tests.api.scaleout.conftest import (
    Admin,
    Cluster,
    OwnRedis,
    TcpCut,
    admin_gateway,
    journal_seq,
    require_redis,
)


@pytest.fixture(scope="module")
def cluster(log_dir: Path, own_redis: OwnRedis) -> Iterator[Cluster]:
    require_redis(own_redis.url)
    database_url = f"sqlite:///{log_dir / 'exchange.db'}"
    cluster = Cluster(log_dir, database_url, own_redis.url, workers=2, timeout_seconds=2.0)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def admin(cluster: Cluster) -> Iterator[Admin]:
    with admin_gateway(cluster.settings()) as admin:
        yield admin


def test_redis_restart_with_subscribers_connected(
    cluster: Cluster, own_redis: OwnRedis, admin: Admin
) -> None:
    symbol = admin.list_capacity_option(f"restart-{uuid.uuid4().hex[:6]}")
    alice = register(cluster.urls[0], "alice")
    admin.deposit(alice.account_id, 1_000_000)
    batches = admin.subscribe()  # a gateway's own subscriber, across the restart too
    watcher = BookWatcher(cluster.ws_urls[1], symbol)
    try:
        assert place(cluster.urls[0], alice, symbol, price=100, quantity=1).status_code == 201
        watcher.wait(lambda w: w.bids.get(100) == 1, 10, "the first bid")
        seen = [admin.next_batch(batches).seq]

        own_redis.kill()
        seq_before = journal_seq(cluster.database_url)
        started = time.monotonic()
        refused = place(
            cluster.urls[0], alice, symbol, price=101, quantity=1, client_order_id="during-outage"
        )
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "UNAVAILABLE"
        assert elapsed < cluster.timeout_seconds + 2.5, elapsed  # at once, in fact: connection refused
        health = cluster.health(1)
        assert health is not None and health.status_code == 503 and health.json()["ok"] is False

        own_redis.start()
        for index in range(2):
            cluster.wait_healthy(index, timeout=20)
        # Nothing of the refused order was applied, not even later.
        assert journal_seq(cluster.database_url) == seq_before
        orders = httpx.get(f"{cluster.urls[1]}/api/v1/orders", headers=alice.headers, timeout=10).json()
        assert [o["client_order_id"] for o in orders].count("during-outage") == 0

        assert place(cluster.urls[0], alice, symbol, price=102, quantity=2).status_code == 201
        watcher.wait(lambda w: w.bids.get(102) == 2, 15, "the bid placed after the restart")
        seen.append(admin.next_batch(batches).seq)
        assert seen[1] == seen[0] + 1, "the journal seq goes on without a hole: nothing else was applied"
        # The subscriber's book is the sequencer's: contiguous deltas, or a told gap and a resync.
        assert watcher.error is None
        if watcher.breaks or watcher.gap_notices:
            assert watcher.snapshots >= 2, "a gap is answered by a fresh snapshot"
        assert watcher.book() == rest_book(cluster.urls[1], symbol)
    finally:
        watcher.close()


def deposit(account_id: int, amount: int) -> cmd.Deposit:
    return cmd.Deposit(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, account_id=account_id, amount=amount)


def test_batches_lost_in_redis_are_replayed_or_shown_as_a_gap(
    cluster: Cluster, own_redis: OwnRedis, admin: Admin
) -> None:
    account = admin.submit(
        cmd.CreateAccount(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, name="gap", role="creator")
    )
    account_id = account.data["account_id"]
    cut = TcpCut(own_redis.port)
    cut.open()
    # A second gateway (as in another worker) that reaches Redis through the relay.
    from api.redis_gateway import RedisGateway

    cut_off = RedisGateway(cluster.settings(redis_url=cut.url))
    admin.call(cut_off.start)
    raw = redis.Redis.from_url(own_redis.url)
    try:
        queue = admin.call(_subscribe, cut_off)
        first = admin.submit(deposit(account_id, 1))
        assert admin.next_batch(queue).seq == first.seq

        # Cut off: three batches go to Redis, and Redis loses them before this gateway reads them.
        cut.cut()
        missed = [admin.submit(deposit(account_id, 10 + n)) for n in range(3)]
        raw.delete(f"{cluster.prefix}:events")
        cut.open()
        replayed = [admin.next_batch(queue, timeout=15) for _ in missed]
        assert [b.seq for b in replayed] == [r.seq for r in missed]
        assert [b.events for b in replayed] == [r.events for r in missed]
        assert cut_off.gaps == 0

        # Cut off again, and the sequencer restarts meanwhile: nobody holds these batches any more.
        cut.cut()
        lost = [admin.submit(deposit(account_id, 100 + n)) for n in range(2)]
        raw.delete(f"{cluster.prefix}:events")
        assert cluster.sequencer is not None
        assert cluster.sequencer.stop() == 0, "the sequencer stops cleanly on SIGTERM"
        cluster.start_sequencer()
        cut.open()
        after = admin.submit(deposit(account_id, 1_000))
        assert after.code == ResultCode.OK
        batch = admin.next_batch(queue, timeout=15)
        assert batch.seq == after.seq == lost[-1].seq + 1
        assert cut_off.gaps == 1, "the jump from the last replayed batch is the gap consumers see"
        # The consumer's resync: the sequencer's state has every deposit, the lost ones too.
        balances = admin.call(cut_off.query, "balances", account_id)
        assert balances["available"] == 1 + 10 + 11 + 12 + 100 + 101 + 1_000
    finally:
        admin.call(cut_off.stop)
        cut.close()
        raw.close()
    # The workers went through the same loss: their market data resynced and they stay healthy.
    for index in range(2):
        cluster.wait_healthy(index, timeout=20)


def test_a_restarted_sequencer_never_takes_again_what_its_predecessor_took(
    cluster: Cluster, own_redis: OwnRedis, admin: Admin
) -> None:
    account = admin.submit(
        cmd.CreateAccount(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, name="once", role="creator")
    )
    account_id = account.data["account_id"]
    keys = RedisKeys(cluster.prefix)
    reply_key = keys.replies(f"test-{uuid.uuid4().hex[:8]}")
    raw = redis.Redis.from_url(own_redis.url, socket_timeout=15)
    try:
        # A request as a worker writes it, with a deadline far ahead: only where the sequencer reads
        # the stream from, not the deadline, can keep a restarted sequencer from taking it again.
        # (With the usual 1.5 s, a restart that quick is what a CI run once hit by chance.)
        request = {
            "r": "1",
            "w": reply_key,
            "d": now_ms() + 60_000,
            "k": RequestKind.COMMANDS,
            "b": encode_commands([deposit(account_id, 7)]),
        }
        raw.xadd(keys.commands, request)
        taken = raw.blpop([reply_key], timeout=10)
        assert taken is not None, "the sequencer answers the request"
        reply = decode_reply(taken[1])
        assert reply.status == ReplyStatus.OK, reply
        [applied] = msgspec.msgpack.decode(reply.body, type=list[CommandResult])
        assert applied.code == ResultCode.OK

        assert cluster.sequencer is not None
        assert cluster.sequencer.stop() == 0
        cluster.start_sequencer()
        after = admin.submit(deposit(account_id, 1))
        assert after.seq == applied.seq + 1, "the new sequencer applied nothing before this deposit"
        assert journal_seq(cluster.database_url) == after.seq
        assert admin.call(admin.gateway.query, "balances", account_id)["available"] == 7 + 1
        assert raw.llen(reply_key) == 0, "no second reply: the request was not taken again"
    finally:
        raw.close()
    for index in range(2):
        cluster.wait_healthy(index, timeout=20)


async def _subscribe(gateway):
    return gateway.subscribe()
