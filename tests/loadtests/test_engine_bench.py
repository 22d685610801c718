"""The engine benchmark runs end to end on a tiny workload and its generator emits valid streams.

No timing is asserted here: speed and memory targets are checked by running the benchmark itself
(`python -m loadtests.engine_bench`), never by unit tests.
"""

from __future__ import annotations

import json

import pytest

from loadtests.workloads import BookSpec, WorkloadGenerator, encode
from matching_engine.codes import CommandKind, EventKind
from matching_engine.events import encode_commands
from matching_engine.reference import ReferenceOrderBook

PATHS = ("cython_batch", "cython_one_call", "reference")
RESULT_FIELDS = {
    "events",
    "fills",
    "traded_quantity",
    "rejected",
    "events_crc32",
    "best_bid",
    "best_ask",
    "order_count",
    "level_count",
    "sequence",
    "state_hash",
}


def test_generator_is_seeded_and_encodes_like_events_module():
    first = WorkloadGenerator(7).mixed(3000)
    assert first == WorkloadGenerator(7).mixed(3000)
    assert first != WorkloadGenerator(8).mixed(3000)
    assert encode(first) == encode_commands(first)


NARROW = BookSpec(tick=1, lot=1, min_price=1, max_price=200, start_mid=100)


@pytest.mark.parametrize("spec", [BookSpec(), NARROW])
def test_generated_stream_is_valid_for_the_reference(spec):
    generator = WorkloadGenerator(3, spec)
    commands = generator.preload(500) + generator.mixed(5000)
    book = spec.new_book(ReferenceOrderBook)
    fills = 0
    for command in commands:
        if command.kind == CommandKind.PLACE:
            assert command.price % spec.tick == 0 and spec.min_price <= command.price <= spec.max_price
            assert command.quantity > 0 and command.quantity % spec.lot == 0
        events = book.process(command)
        assert all(event.kind != EventKind.REJECTED for event in events), (command, events)
        if command.kind == CommandKind.CANCEL:
            assert events[0].kind == EventKind.CANCELLED
        fills += sum(event.kind == EventKind.FILL for event in events)
    assert fills > 0
    # The shadow book of the generator ends where the real book ends.
    assert book.order_count == generator.resting_count
    assert (book.best_bid() or (None,))[0] == generator.best_bid()
    assert (book.best_ask() or (None,))[0] == generator.best_ask()
    assert generator.counts["cancel"] > 0 and generator.counts["cross"] > 0


def test_benchmark_main_tiny_json(capsys):
    from loadtests import engine_bench

    code = engine_bench.main(["--events", "2000", "--deep-orders", "2000", "--seed", "5", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in (
        "benchmark",
        "command",
        "parameters",
        "machine",
        "variants",
        "targets",
        "all_targets_pass",
        "agree",
        "peak_rss_bytes",
        "vs_liquibook",
    ):
        assert key in report, key
    assert {"nproc", "cpu_model", "python"} <= report["machine"].keys()
    assert report["agree"] is True
    assert set(report["variants"]) == {"mixed", "deep"}
    for name, variant in report["variants"].items():
        assert variant["commands"] == 2000
        assert variant["preload_orders"] == (2000 if name == "deep" else 0)
        assert set(variant["implementations"]) == set(PATHS)
        for path in PATHS:
            run = variant["implementations"][path]
            assert run["commands_per_second"] > 0
            assert {"p50", "p99", "p99_9", "max", "method"} <= run["latency_ns"].keys()
            assert 0 < run["latency_ns"]["p50"] <= run["latency_ns"]["p99"] <= run["latency_ns"]["p99_9"]
        speedups = variant["speedup_vs_reference"]
        assert {"cython_batch", "cython_one_call", "one_call_p50_latency"} <= speedups.keys()
        assert {"cython", "reference"} <= variant["memory"].keys()
        assert variant["memory"]["cython"]["memory_bytes_peak"] > 0
        assert variant["memory"]["reference"]["tracemalloc_peak_bytes"] > 0
        check = variant["cross_check"]
        assert check["agree"] is True and check["disagreements"] == []
        assert RESULT_FIELDS <= check["reference"].keys()
        assert check["reference"]["fills"] > 0 and check["reference"]["rejected"] == 0
    deep_memory = report["variants"]["deep"]["memory"]["cython"]
    assert deep_memory["orders_after_preload"] == 2000 and deep_memory["bytes_per_resting_order"] > 0
    assert all({"name", "target", "measured", "pass"} <= target.keys() for target in report["targets"])


def test_benchmark_table_output(capsys):
    from loadtests import engine_bench

    assert engine_bench.main(["--events", "1000", "--deep-orders", "500"]) == 0
    out = capsys.readouterr().out
    assert "cython_batch" in out and "cross-check: AGREE" in out and "targets:" in out
