"""SIGKILL at random moments of a stream of durable commands, then recovery.

Each run: a fresh database; `crash_driver.py` submits a seeded stream in groups and prints every
acknowledged command after its commit; the parent kills it with SIGKILL at a random moment,
recovers in-process (snapshot + journal replay) and checks:

- every acknowledged command is in the journal at its seq with the same result;
- the journal is exactly a prefix of the stream: nothing applied twice, nothing reordered;
- the state recovered from snapshot + replay has the hash of a clean replay of the whole journal;
- the SQL audit and the sequencer's own audit pass;
- resubmitting journaled orders (a client retrying after the crash) returns their first results
  without a new journal row, and the stream then continues from where the journal stops.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange import commands as c
from exchange.audit import audit_database
from exchange.service import DurableExchange
from loadtests.core_bench import core_stream

DRIVER = Path(__file__).with_name("crash_driver.py")
ROOT = Path(__file__).resolve().parents[3]
STREAM = 60_000  # longer than any run lasts before its kill
GROUP = 200
SNAPSHOT_INTERVAL = 1_500


def _run_and_kill(url: str, seed: int, kill_after: float) -> list[tuple[int, int, int, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), url, str(seed), str(STREAM), str(GROUP), str(SNAPSHOT_INTERVAL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready == b"READY\n", (ready, proc.stderr.read() if proc.poll() is not None else b"")
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    acks = []
    for line in out.decode().split("\n")[:-1]:  # the last piece may be a line cut by the kill
        if line.startswith("ACK "):
            _, index, seq, code, data = line.split(" ", 4)
            acks.append((int(index), int(seq), int(code), data))
    return acks


def _check_recovery(url: str, seed: int, acks: list[tuple[int, int, int, str]]) -> None:
    from exchange.sequencer import Sequencer

    exchange = DurableExchange(url, snapshot_interval=SNAPSHOT_INTERVAL, group_commit_size=GROUP)
    snapshot = exchange.store.latest_snapshot()
    records = list(exchange.store.read_journal())
    stream = list(core_stream(seed, STREAM))
    n = len(records)
    assert n >= len(acks) > 0, "nothing was acknowledged before the kill: kill later"
    assert [r.seq for r in records] == list(range(1, n + 1))
    assert exchange.replayed == n - (snapshot.seq if snapshot else 0)
    # The journal is the stream's prefix: each command once, in order.
    for record in records:
        assert record.command == stream[record.seq - 1], record.seq
    # Every acknowledged command is there with the same result.
    for index, seq, code, data in acks:
        assert seq == index + 1
        record = records[seq - 1]
        assert record.code == code, (seq, record.code, code)
        assert json.dumps(record.data, sort_keys=True) == data, seq
    # Recovered (snapshot + tail) == clean replay of the whole journal.
    clean = Sequencer()
    for record in records:
        result = clean.apply(record.command)
        assert (result.seq, result.code) == (record.seq, record.code)
    assert clean.state_hash() == exchange.state_hash()
    assert exchange.sequencer.audit() == []
    assert audit_database(url) == []
    # A client retries the last orders it sent: first results, no new journal rows.
    retried = [r for r in records[-50:] if isinstance(r.command, c.PlaceOrder)]
    results = exchange.submit_batch([r.command for r in retried])
    assert [(x.seq, x.code) for x in results] == [(r.seq, r.code) for r in retried]
    assert exchange.store.last_seq() == n
    # The stream goes on where the journal stops.
    results = exchange.submit_batch(stream[n : n + 300])
    assert [x.seq for x in results] == list(range(n + 1, n + 301))
    assert exchange.store.last_seq() == n + 300
    exchange.close()
    assert audit_database(url) == []


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15, 16])
def test_sigkill_sqlite(tmp_path: Path, seed: int) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    kill_after = random.Random(seed).uniform(0.3, 2.0)
    acks = _run_and_kill(url, seed, kill_after)
    _check_recovery(url, seed, acks)


@pytest.mark.parametrize("seed", [21, 22])
def test_sigkill_postgresql(postgres_schema_url: str, seed: int) -> None:
    kill_after = random.Random(seed).uniform(0.3, 2.0)
    acks = _run_and_kill(postgres_schema_url, seed, kill_after)
    _check_recovery(postgres_schema_url, seed, acks)
