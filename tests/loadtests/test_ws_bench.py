"""The WebSocket benchmark runs end to end on a tiny workload against its own real server (a
subprocess on a fresh SQLite file, real WebSocket connections from client processes) and its
report adds up.

No timing is asserted: the targets are checked by running the benchmark itself
(`python -m loadtests.ws_bench`), never by unit tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import pytest

from loadtests.ws_bench import BookReplica, delta_key, latency_summary, percentile, share_out

ORDERS = 500
SUBSCRIBERS = 20


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.999) == 100
    assert percentile([7], 0.99) == 7
    assert percentile([], 0.5) is None
    summary = latency_summary([3_000_000, 1_000_000, 2_000_000])
    assert summary == {"samples": 3, "p50_ms": 2.0, "p99_ms": 3.0, "p999_ms": 3.0, "max_ms": 3.0}


def test_share_out_and_delta_keys():
    assert share_out(10, 4) == [3, 3, 2, 2]
    assert sum(share_out(500, 8)) == 500
    assert len({delta_key(p, placed) for p in (1000, 1001) for placed in (True, False)}) == 4


def test_book_replica_checksum_matches_the_documented_example():
    # docs/market-data.md: asks 1010x5, 1020x3 and bids 1000x2, 990x7 -> 1109400464
    book = BookReplica()
    book.load({"bids": [[1000, 2, 1], [990, 7, 1]], "asks": [[1010, 5, 1], [1020, 3, 1]]})
    assert book.checksum() == 1109400464 == zlib.crc32(b"1010:5|1020:3;1000:2|990:7")
    book.apply({"bids": [[1000, 0, 0]], "asks": []})
    assert book.checksum() == zlib.crc32(b"1010:5|1020:3;990:7")


@pytest.mark.parametrize("sequencer", ["process", "thread"])
def test_ws_bench_tiny_run_adds_up(sequencer: str):
    command = [
        sys.executable,
        "-m",
        "loadtests.ws_bench",
        "--json",
        "--sequencer",
        sequencer,
        "--orders",
        str(ORDERS),
        "--subscribers",
        str(SUBSCRIBERS),
        "--duration",
        "2",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)  # stdout holds exactly the JSON document

    assert report["server"]["sequencer_process"] is (sequencer == "process")
    assert set(report["phases"]) == {"max", "rate", "fanout"}
    for name in ("max", "rate"):
        phase = report["phases"][name]
        assert 0 < phase["sent"] <= ORDERS
        # every request was answered: accepted or refused, nothing lost
        assert phase["unanswered"] == 0
        assert phase["acknowledged"] == phase["ok"] + phase["refused"] == phase["sent"]
        assert sum(phase["refused_by_code"].values()) == phase["refused"]
        assert phase["place_latency"]["samples"] + phase["cancel_latency"]["samples"] == phase["acknowledged"]
        assert phase["latency"]["samples"] == phase["acknowledged"]
        assert phase["connections_lost"] == 0
        assert phase["ok"] > 0 and phase["acknowledged_per_s"] > 0
        for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
            assert phase["latency"][key] is not None

    fanout = report["phases"]["fanout"]
    assert fanout["subscribers"] == SUBSCRIBERS and fanout["failed_connections"] == 0
    expected = fanout["expected_deltas_per_subscriber"]
    assert expected > 0 and expected == fanout["producer_acknowledged"]
    assert fanout["deltas_received"] == SUBSCRIBERS * expected
    assert fanout["gaps"] == fanout["heartbeat_mismatches"] == fanout["missing_deltas"] == 0
    assert fanout["gaps_total"] == 0 and fanout["disconnected"] == 0
    assert fanout["checksums_verified"] > 0 and fanout["checksum_mismatches"] == 0
    # every delta was matched to the producer command that caused it
    assert fanout["unmatched_deltas"] == 0
    assert fanout["delivery_latency"]["samples"] == fanout["deltas_received"]

    checks = report["checks"]
    # every acknowledged command is in the journal, and nothing else (embedded: no ambiguous answer)
    assert checks["journal_ok"]
    assert checks["journal_rows"] == checks["journal_rows_at_least"] == checks["journal_rows_at_most"]
    assert checks["audit_ok"], checks["audit"]
    targets = {t["target"]: t for t in report["targets"]}
    assert len(targets) == 5 and all(isinstance(t["pass"], bool) for t in targets.values())
    assert report["machine"]["cpus"] >= 1
