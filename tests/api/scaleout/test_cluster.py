"""The scale-out mode end to end: a sequencer process and two API worker processes on PostgreSQL,
connected through the machine's Redis (127.0.0.1:6379) under a key prefix of their own."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.gateway import GatewayUnavailable
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID
from tests.api.scaleout.clients import BookWatcher, place, register, rest_book
from tests.api.scaleout.conftest import (
    REDIS_URL,
    Admin,
    Cluster,
    Process,
    admin_gateway,
    journal_seq,
    postgres_schema,
    require_redis,
)

IP_RATE = 20  # per second, per client address; shared by the workers through Redis
IP_BURST = 40


@pytest.fixture(scope="module")
def cluster(log_dir: Path) -> Iterator[Cluster]:
    require_redis()
    with postgres_schema() as database_url:
        env = {"API_RATE_LIMIT_PER_IP": str(IP_RATE), "API_RATE_LIMIT_PER_IP_BURST": str(IP_BURST)}
        cluster = Cluster(log_dir, database_url, REDIS_URL, workers=2, timeout_seconds=2.0, env=env)
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


@pytest.fixture(scope="module")
def intruder(cluster: Cluster, log_dir: Path) -> Iterator[Process]:
    """A second sequencer for the cluster's shard, started early (the last test checks it)."""
    process = Process(
        "sequencer-intruder", [sys.executable, "-m", "capex", "sequencer"], cluster.env, log_dir
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def symbol(admin: Admin) -> str:
    return admin.list_capacity_option(f"scaleout-{uuid.uuid4().hex[:6]}")


def test_every_worker_is_healthy_and_sees_the_sequencer(cluster: Cluster, intruder: Process) -> None:
    reports = [cluster.health(index) for index in range(2)]
    ids = set()
    for response in reports:
        assert response is not None and response.status_code == 200
        body = response.json()
        assert body["ok"] is True and body["redis"] == "ok" and body["database"] == "ok"
        assert body["details"]["mode"] == "worker"
        assert body["details"]["sequencer"] == "ok"
        ids.add(body["details"]["worker_id"])
    assert len(ids) == 2, "two distinct worker processes"


def test_an_order_placed_on_one_worker_streams_to_a_subscriber_on_the_other(
    cluster: Cluster, admin: Admin, symbol: str
) -> None:
    alice = register(cluster.urls[0], "alice")
    admin.deposit(alice.account_id, 1_000_000)
    watcher = BookWatcher(cluster.ws_urls[1], symbol)
    try:
        before = watcher.last
        response = place(cluster.urls[0], alice, symbol, price=150, quantity=3)
        assert response.status_code == 201, response.text
        watcher.wait(lambda w: w.bids.get(150) == 3, 10, "the bid on worker 2's WebSocket")
        assert watcher.deltas >= 1 and watcher.breaks == []
        delta = next(m for m in watcher.messages if m.get("type") == "delta")
        assert delta["prev_seq"] == before and delta["bids"] == [[150, 3, 1]]
        # Both workers read the same book from the sequencer.
        assert rest_book(cluster.urls[1], symbol)[0].get(150) == 3
        assert rest_book(cluster.urls[0], symbol) == watcher.book()
    finally:
        watcher.close()


def test_the_sequencer_answers_one_worker_with_what_another_wrote(
    cluster: Cluster, admin: Admin, symbol: str
) -> None:
    bob = register(cluster.urls[1], "bob")
    admin.deposit(bob.account_id, 500_000)
    first = place(cluster.urls[0], bob, symbol, price=120, quantity=2, client_order_id="bob-1")
    assert first.status_code == 201, first.text
    # A retry of the same order through the other worker: the first result, nothing done twice.
    again = place(cluster.urls[1], bob, symbol, price=120, quantity=2, client_order_id="bob-1")
    assert again.status_code == 201, again.text
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.json()["seq"] == first.json()["seq"]
    orders = httpx.get(f"{cluster.urls[1]}/api/v1/orders", headers=bob.headers, timeout=10)
    assert orders.status_code == 200, orders.text
    assert [o["client_order_id"] for o in orders.json()].count("bob-1") == 1
    balances = admin.call(admin.gateway.query, "balances", bob.account_id)
    assert balances["locked"] > 0 and balances["available"] + balances["locked"] == 500_000


def test_the_rate_limit_per_address_is_shared_by_the_workers(cluster: Cluster) -> None:
    """Requests from one address alternate between the two workers; together they get one
    bucket (burst + rate x elapsed), not one each."""
    # Another loopback address than the other tests' 127.0.0.1: a bucket of this test's own.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    refused_by = set()
    allowed = 0
    with httpx.Client(transport=transport, timeout=10) as client:
        started = time.monotonic()
        for index in range(3 * IP_BURST):
            worker = index % 2
            response = client.get(f"{cluster.urls[worker]}/api/v1/instruments/NO-SUCH-SYMBOL/book")
            if response.status_code == 429:
                refused_by.add(worker)
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["error"]["code"] == "RATE_LIMITED"
            else:
                assert response.status_code == 404, response.text
                allowed += 1
        elapsed = time.monotonic() - started
    assert refused_by == {0, 1}
    # Separate buckets would allow 2 x (burst + rate x elapsed): every request of this test.
    assert IP_BURST <= allowed <= IP_BURST + IP_RATE * elapsed + 1, (allowed, elapsed)


def test_a_request_the_sequencer_takes_after_its_deadline_is_never_applied(
    cluster: Cluster, admin: Admin, symbol: str
) -> None:
    carol = register(cluster.urls[0], "carol")
    admin.deposit(carol.account_id, 100_000)
    seq_before = journal_seq(cluster.database_url)
    late = cmd.PlaceOrder(
        timestamp=0,
        actor_id=carol.account_id,
        symbol=symbol,
        client_order_id="late-1",
        side="buy",
        price=110,
        quantity=1,
    )
    assert cluster.sequencer is not None
    cluster.sequencer.signal(signal.SIGSTOP)  # alive, holding the stream, answering nothing
    try:
        started = time.monotonic()
        response = place(cluster.urls[0], carol, symbol, price=110, quantity=1, client_order_id="late-1")
        elapsed = time.monotonic() - started
        # The same order straight through a gateway: the command itself waits in the stream.
        with pytest.raises(GatewayUnavailable):
            admin.submit(late)
    finally:
        cluster.sequencer.signal(signal.SIGCONT)
    assert response.status_code == 503, response.text
    # The route's first read (the account's role) found no answer: nothing was submitted.
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert elapsed < cluster.timeout_seconds + 2.5, elapsed  # bounded: the timeout, plus a loaded machine
    # The sequencer now reads the stale requests first (stream order) and drops them: a query sent
    # after them is answered only once they were dealt with.
    assert admin.call(admin.gateway.query, "last_seq") == seq_before
    assert journal_seq(cluster.database_url) == seq_before
    orders = httpx.get(f"{cluster.urls[1]}/api/v1/orders", headers=carol.headers, timeout=10).json()
    assert orders == []
    # A retry after the 503 is applied, once, as a new order.
    retry = place(cluster.urls[1], carol, symbol, price=110, quantity=1, client_order_id="late-1")
    assert retry.status_code == 201, retry.text
    assert retry.json()["seq"] == seq_before + 1
    assert admin.submit(late).seq == seq_before + 1, "a repeat: the first result, not applied again"
    assert journal_seq(cluster.database_url) == seq_before + 1


def test_a_second_sequencer_for_the_same_shard_refuses_to_run(cluster: Cluster, intruder: Process) -> None:
    """Started with the module (it waits one lock TTL before it gives up), checked last."""
    try:
        intruder.popen.wait(30)
    finally:
        intruder.stop()
    assert intruder.popen.returncode == 1, intruder.log_tail()
    assert "another sequencer owns" in intruder.log_path.read_text()
    assert cluster.sequencer is not None and cluster.sequencer.alive
    assert cluster.health(1) is not None and cluster.health(1).status_code == 200


def test_replies_go_to_the_worker_that_asked_when_workers_write_at_once(
    cluster: Cluster, admin: Admin
) -> None:
    """Two gateways (as in two workers) number their requests independently; the sequencer must
    answer each with the result of its own command even when their requests share a group."""

    def open_accounts(gateway_admin: Admin, tag: str) -> list[tuple[str, int]]:
        names = [f"{tag}-{n}" for n in range(150)]
        commands = [
            cmd.CreateAccount(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, name=name, role="creator")
            for name in names
        ]
        results = gateway_admin.call(_one_request_each, gateway_admin.gateway, commands)
        assert all(result.ok for result in results), [r for r in results if not r.ok][:2]
        return [(name, result.data["account_id"]) for name, result in zip(names, results, strict=True)]

    tag = uuid.uuid4().hex[:6]
    with admin_gateway(cluster.settings()) as second, ThreadPoolExecutor(2) as pool:
        opened = [
            pool.submit(open_accounts, gateway_admin, f"{tag}{side}")
            for side, gateway_admin in (("a", admin), ("b", second))
        ]
        answers = [pair for future in opened for pair in future.result(timeout=60)]
    for name, account_id in answers:
        assert admin.call(admin.gateway.query, "account", account_id)["name"] == name


async def _one_request_each(gateway, commands) -> list:
    """Every command its own request, all in flight at once."""
    return list(await asyncio.gather(*(gateway.submit(command) for command in commands)))


@contextlib.contextmanager
def _ws_auth(url: str, auth: dict) -> Iterator[Any]:
    """A WebSocket on `url`, authenticated with `auth` (a token, or a key signed over the
    challenge when `auth` has a `secret`)."""
    from websockets.sync.client import connect

    with connect(url, open_timeout=10, close_timeout=2) as ws:
        yield _authenticated(ws, auth)


def _authenticated(ws: Any, auth: dict) -> Any:
    welcome = json.loads(ws.recv(5))
    fields = dict(auth)
    secret = fields.pop("secret", None)
    if secret is not None:
        stamp = str(int(time.time() * 1000))
        message = "\n".join((stamp, welcome["challenge"], "GET", "/ws", "", hashlib.sha256(b"").hexdigest()))
        key = hashlib.sha256(secret.encode()).digest()
        fields |= {
            "timestamp": stamp,
            "signature": hmac.new(key, message.encode(), hashlib.sha256).hexdigest(),
        }
    ws.send(json.dumps({"op": "auth", "id": 1, **fields}))
    answer = json.loads(ws.recv(5))
    assert answer["ok"], answer
    return ws


def _ended_within(ws: Any, seconds: float) -> tuple[dict, int]:
    """(the UNAUTHENTICATED notice, the close code) the worker sent, within `seconds`."""
    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + seconds
    notice: dict = {}
    try:
        while True:
            message = json.loads(ws.recv(max(0.01, deadline - time.monotonic())))
            if message.get("type") == "error":
                notice = message
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return notice, closed.rcvd.code


def test_credentials_ended_on_one_worker_end_the_sockets_held_by_the_other(cluster: Cluster):
    """Revoking an API key and logging out on worker 0 end, within a second, the WebSockets that
    authenticated with them on worker 1 (Redis pub/sub, api/credentials.py)."""
    user = register(cluster.urls[0], "revoke", role="market_maker")
    created = httpx.post(
        f"{cluster.urls[0]}/api/v1/api-keys",
        json={"scopes": ["read", "trade"]},
        headers=user.headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()
    with (
        _ws_auth(cluster.ws_urls[1], {"key": key["key_id"], "secret": key["secret"]}) as by_key,
        _ws_auth(cluster.ws_urls[1], {"token": user.token}) as by_session,
    ):
        _end_both(cluster, user, key, by_key, by_session)


def _end_both(cluster: Cluster, user: Any, key: dict, by_key: Any, by_session: Any) -> None:
    started = time.monotonic()
    revoked = httpx.delete(
        f"{cluster.urls[0]}/api/v1/api-keys/{key['key_id']}", headers=user.headers, timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    notice, code = _ended_within(by_key, 5.0)
    assert notice.get("code") == "UNAUTHENTICATED" and "revoked" in notice["message"] and code == 1008
    assert time.monotonic() - started < 2.0

    out = httpx.post(f"{cluster.urls[0]}/api/v1/auth/logout", headers=user.headers, timeout=10)
    assert out.status_code == 204
    notice, code = _ended_within(by_session, 5.0)
    assert notice.get("code") == "UNAUTHENTICATED" and "logged out" in notice["message"] and code == 1008


def test_the_sdk_retries_an_order_whose_outcome_is_unknown_and_places_it_once(
    cluster: Cluster, admin: Admin, symbol: str
) -> None:
    """The sequencer pauses while an order is in flight over the WebSocket: the worker answers
    OUTCOME_UNKNOWN after its timeout, the SDK retries with the same client order id, the
    sequencer comes back, and exactly one order exists."""
    from clients.python import CapexClient
    from clients.python.errors import CapexError

    dave = register(cluster.urls[1], "dave")
    admin.deposit(dave.account_id, 100_000)
    assert cluster.sequencer is not None
    codes: list[str] = []

    async def scenario():
        async with CapexClient(cluster.urls[1], token=dave.token) as client, client.ws() as session:
            original = session.request

            async def watched(op, **fields):
                try:
                    return await original(op, **fields)
                except CapexError as exc:
                    codes.append(exc.code)
                    raise

            session.request = watched  # type: ignore[method-assign]  # only to see the retries
            cluster.sequencer.signal(signal.SIGSTOP)
            loop = asyncio.get_running_loop()
            loop.call_later(cluster.timeout_seconds + 0.3, cluster.sequencer.signal, signal.SIGCONT)
            return await session.place(symbol, "buy", price=105, quantity=1, client_order_id="unknown-1")

    try:
        ack = asyncio.run(scenario())
    finally:
        cluster.sequencer.signal(signal.SIGCONT)
    assert codes and codes[0] == "OUTCOME_UNKNOWN", codes
    assert ack.client_order_id == "unknown-1"
    orders = httpx.get(
        f"{cluster.urls[0]}/api/v1/orders",
        params={"status": "all", "client_order_id": "unknown-1"},
        headers=dave.headers,
        timeout=10,
    ).json()
    assert len(orders) == 1 and orders[0]["order_id"] == ack.order_id
