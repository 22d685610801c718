"""The sequencer runtime directly: stamping, grouping, answers between groups, dedupe of retried
requests, the replay ring, and the in-process transport grouping concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from exchange import commands as c
from exchange.audit import audit_database
from exchange.results import CommandResult, ResultCode
from exchange.runtime import NOT_COMMANDS, EventBatch, SequencerRuntime
from exchange.runtime.inproc import InprocTransport, Job, Outcome
from loadtests.core_bench import core_stream


class FakeExchange:
    """The DurableExchange surface the runtime uses: each command journaled at the next seq."""

    def __init__(self, fail: bool = False) -> None:
        self.last_seq = 0
        self.available = True
        self.group_commit_size = 4
        self.batches: list[list[c.Command]] = []
        self.fail = fail
        self.closed = False

    def submit_batch(self, commands: Sequence[c.Command]) -> list[CommandResult]:
        if self.fail:
            raise RuntimeError("boom")
        self.batches.append(list(commands))
        results = []
        for _command in commands:
            self.last_seq += 1
            results.append(CommandResult(seq=self.last_seq, code=ResultCode.OK))
        return results

    def close(self) -> None:
        self.closed = True


def deposit(amount: int, timestamp: int = 0) -> c.Command:
    return c.Deposit(timestamp=timestamp, actor_id=0, account_id=1, amount=amount)


def clock_of(times: list[int]) -> Any:
    ticks: Iterator[int] = iter(times)
    return lambda: next(ticks)


def test_commands_are_stamped_with_the_clock_never_earlier_than_the_previous() -> None:
    exchange = FakeExchange()
    runtime = SequencerRuntime(exchange, clock=clock_of([100, 90, 95, 120, 50]))
    runtime.commit([deposit(1, timestamp=7), deposit(2), deposit(3)])
    runtime.commit([deposit(4), deposit(5, timestamp=999)])
    stamped = [command.timestamp for batch in exchange.batches for command in batch]
    assert stamped == [100, 100, 100, 120, 120]  # the client's own timestamps are ignored


def test_commit_returns_results_and_one_event_batch_per_journaled_command() -> None:
    runtime = SequencerRuntime(FakeExchange(), clock=lambda: 1, replay_batches=3)
    results, batches = runtime.commit([deposit(1), deposit(2)])
    assert [r.seq for r in results] == [1, 2]
    assert [b.seq for b in batches] == [1, 2] and all(isinstance(b, EventBatch) for b in batches)
    runtime.commit([deposit(3), deposit(4)])
    assert [b.seq for b in runtime.replay(0, 10)] == [2, 3, 4]  # the ring keeps the last 3
    assert [b.seq for b in runtime.replay(2, 1)] == [3]
    assert runtime.commit([]) == ([], [])


def test_a_failing_exchange_refuses_the_whole_group() -> None:
    runtime = SequencerRuntime(FakeExchange(fail=True), clock=lambda: 1)
    results, batches = runtime.commit([deposit(1), deposit(2)])
    assert [r.code for r in results] == [ResultCode.STORE_UNAVAILABLE] * 2 and batches == []


def test_serve_groups_commands_up_to_the_group_size_and_answers_in_between() -> None:
    runtime = SequencerRuntime(FakeExchange(), clock=lambda: 1, group_size=4)
    # ints are command requests of that many commands; strings are reads
    requests: list[int | str] = [1, 2, 1, 3, "q1", 2, "q2", "stop", 5]
    log: list[object] = []

    def size_of(request: int | str) -> int:
        return request if isinstance(request, int) else NOT_COMMANDS

    def answer(request: int | str) -> bool:
        log.append(request)
        return request == "stop"

    stopped = runtime.serve(requests, size_of, lambda group: log.append(list(group)), answer)
    assert stopped
    assert log == [[1, 2, 1], [3], "q1", [2], "q2", "stop"]
    log.clear()
    assert not runtime.serve([7], size_of, lambda group: log.append(list(group)), answer)
    assert log == [[7]]  # one request larger than a group is one group (committed in chunks)


def test_a_retried_request_is_taken_once_until_its_deadline() -> None:
    now = [1_000]
    runtime = SequencerRuntime(FakeExchange(), clock=lambda: now[0])
    assert runtime.first_time("w1/1", deadline=2_000)
    assert not runtime.first_time("w1/1", deadline=2_000)  # the copy of a retried write
    assert runtime.first_time("w2/1", deadline=2_000)  # another worker's request 1
    assert runtime.first_time("w1/2", deadline=500)  # already expired: not remembered
    assert runtime.first_time("w1/2", deadline=500)
    now[0] = 2_000  # past the deadline a copy would be dropped as expired: forgotten
    assert runtime.first_time("w1/1", deadline=3_000)
    assert list(runtime._taken) == ["w1/1"]


def test_health_and_close() -> None:
    exchange = FakeExchange()
    runtime = SequencerRuntime(exchange)
    assert runtime.health() == {"journal_seq": 0, "store": "ok"}
    exchange.available = False
    assert runtime.health()["store"] == "unavailable"
    runtime.close()
    assert exchange.closed


def test_the_inproc_transport_groups_concurrent_callers(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    stream = list(core_stream(10, 400))
    runtime = SequencerRuntime.open(database_url, group_size=1_000)
    assert runtime.exchange.submit_batch(stream[:42])  # the setup: accounts, cash, listings
    runtime.published_seq = runtime.last_seq
    orders = stream[42:]
    outcomes: dict[int, Any] = {}
    done = threading.Condition()
    published: list[EventBatch] = []

    def deliver(resolved: list[Outcome]) -> None:
        with done:
            for token, value, error in resolved:
                assert error is None
                outcomes[token] = value
            done.notify_all()

    transport = InprocTransport(runtime, deliver, published.extend)
    transport.start()

    def worker(k: int) -> None:
        for index in range(k, len(orders), 4):
            transport.put(Job([index], commands=[orders[index]]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with done:
        assert done.wait_for(lambda: len(outcomes) == len(orders), timeout=30)
    results = list(outcomes.values())
    transport.put(Job([-1], call=lambda runtime: runtime.query("last_seq", ())))
    transport.stop()
    assert outcomes[-1] == 400  # a read answered between groups
    assert sorted(result.seq for result in results) == list(range(43, 401))
    assert all(result.code != ResultCode.STORE_UNAVAILABLE for result in results)
    assert [batch.seq for batch in published] == list(range(43, 401))
    assert runtime.exchange.store.last_seq() == 400
    runtime.close()
    assert audit_database(database_url) == []


@pytest.mark.parametrize("size", [1, 3])
def test_the_inproc_transport_answers_calls_between_groups(size: int) -> None:
    runtime = SequencerRuntime(FakeExchange(), clock=lambda: 1, group_size=size)
    seen: list[tuple[Any, Any]] = []
    transport = InprocTransport(
        runtime, lambda outs: seen.extend((t, v) for t, v, _e in outs), lambda b: None
    )
    transport.put(Job(["a", "b"], commands=[deposit(1), deposit(2)]))
    transport.put(Job(["seq"], call=lambda runtime: runtime.last_seq))
    transport.put(Job(["boom"], call=lambda runtime: 1 // 0))
    transport.start()
    transport.stop()
    assert [token for token, _value in seen] == ["a", "b", "seq", "boom"]
    assert dict(seen)["seq"] == 2
