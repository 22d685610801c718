"""Engine benchmark: the Cython order book (batch and one-call APIs) against the pure-Python reference.

    python -m loadtests.engine_bench [--events N] [--seed S] [--deep-orders N] [--repeat R]
                                     [--json] [--strict]

Two variants, each replayed through three paths on a fresh book per run:

- `mixed`: the seeded mixed workload of `loadtests.workloads` (60% passive limit adds around a
  random-walk mid, 30% cancels of resting orders, 10% orders crossing the spread) from an empty book;
- `deep`: `--deep-orders` passive orders pre-loaded (timed separately, always through
  `process_batch`), then the mixed workload continued from that book.

Paths: `cython_batch` (`OrderBook.process_batch` over chunks of 4,096 commands),
`cython_one_call` (`OrderBook.process(command)` once per command), `reference`
(`ReferenceOrderBook.process(command)` once per command: its one-call path, the fastest it has;
its `process_batch` is a loop over `process`).

Per path and variant:
- throughput: commands / seconds spent inside the engine calls of a pass without per-command timers
  (the decoding of the returned events for the cross-check happens between calls, untimed); best
  of `--repeat` runs, interleaved across paths; plus a sweep of the batch size (mixed variant);
- latency, in a separate pass: one-call paths time every `process` call with `perf_counter_ns`
  (nothing subtracted, so the ~50 ns of the timer itself is included); the batch path times
  batches of 64 commands and reports batch time / 64 per command (an average over the batch, so
  its tail is flatter than a true per-command tail);
- memory, in a separate pass per engine with `tracemalloc` on: the traced (Python-allocator) peak,
  the traced size of the book after the pre-load, and for the Cython book `memory_bytes()` (bytes of
  its C structures; it allocates them with PyMem_*, so tracemalloc sees them too) sampled after
  every chunk, plus the growth of the process RSS. The deep variant gives bytes per resting order,
  checked against the bound documented in docs/engine.md "Memory (Cython book)".

Cross-check: per pass, the number of events, FILL events, traded quantity, REJECTED events (the
workload is valid: expected 0), a CRC-32 of every event record emitted, and the final best bid/ask,
order_count, level_count, sequence and state_hash(). All passes of a variant must agree; the JSON has
"agree" and the process exits 1 when they do not. `--strict` also exits 1 when a target fails.

Progress goes to stderr; with --json stdout holds exactly one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import time
import tracemalloc
import zlib
from array import array
from collections.abc import Callable, Sequence
from itertools import chain, compress
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from loadtests.workloads import DEFAULT_SPEC, BookSpec, WorkloadGenerator, encode
from matching_engine.codes import COMMAND_WIDTH, EVENT_WIDTH, EventKind
from matching_engine.events import BookCommand, BookEvent
from matching_engine.reference import ReferenceOrderBook

if TYPE_CHECKING:
    from loadtests.workloads import Book

try:
    from matching_engine.book import OrderBook as CythonOrderBook
except ImportError:  # not compiled yet: main() says how to build it
    OrderBook: type[CythonOrderBook] | None = None
else:
    OrderBook = CythonOrderBook

# Commands per process_batch call in the throughput pass. 4,096 keeps the returned event buffer
# (~1 MB) in cache; 65,536-command calls return ~15 MB buffers that are fresh pages each time and
# ran at about half the rate on the development machine. `batch_chunk_sweep` in the JSON shows it.
BATCH_CHUNK = 4_096
CHUNK_SWEEP = (64, 1_024, 4_096, 16_384, 65_536)
LATENCY_BATCH = 64  # commands per timed process_batch call in the batch latency pass
# Commands between two (untimed) decodings of the returned events in one-call passes. Small on
# purpose: a caller of the one-call API handles each command's events and drops them; holding
# thousands of results alive would push them into older GC generations and charge the engine with
# collections caused by the harness (measured: 4,096 halves the Cython one-call rate, 64 does not).
ONE_CALL_CHUNK = 64

# Targets of the issue (mixed workload) and of docs/engine.md (memory).
TARGET_BATCH_CPS = 2_000_000
TARGET_BATCH_SPEEDUP = 10.0
TARGET_ONE_CALL_CPS = 1_000_000
# A native C++ engine (LiquiBook) replaying a comparable stream: the issue's figure, not measured here.
LIQUIBOOK_CPS = 1_300_000
# docs/engine.md, "Memory (Cython book)": upper ends of the documented bytes per resting order —
# order pool 48-72 B, order id index 11-23 B, price levels 44-66 B per level shared by its orders,
# and a fixed part of about 29 KB. The target for the deep book is the documented upper bound
# for its shape: 72 + 23 + 66 * levels / orders + 29 KB / orders.
DOC_ORDER_POOL_MAX = 72
DOC_ORDER_INDEX_MAX = 23
DOC_LEVEL_MAX = 66
DOC_FIXED_BYTES = 29 * 1024
DOC_MEASURED_1M_ORDERS = 68.6  # documented measurement: 1,000,000 orders on 2,000 levels


def documented_bytes_per_order(orders: int, levels: int) -> float | None:
    """The documented upper bound of memory_bytes() / order_count for a book of this shape."""
    if not orders:
        return None
    return DOC_ORDER_POOL_MAX + DOC_ORDER_INDEX_MAX + (DOC_LEVEL_MAX * levels + DOC_FIXED_BYTES) / orders


MEMORY_CHUNK = 4_096  # commands per process_batch call in the memory pass (small event buffers)

_FILL = int(EventKind.FILL)
_REJECTED = int(EventKind.REJECTED)
_is_fill = _FILL.__eq__

PATHS = ("cython_batch", "cython_one_call", "reference")


def log(message: str) -> None:
    print(f"[engine_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measurements --------------------------------------------------------------------------------


class Tally:
    """What a pass emitted: counts, traded quantity and a CRC-32 of every event record, in order."""

    __slots__ = ("events", "fills", "traded_quantity", "rejected", "crc")

    def __init__(self) -> None:
        self.events = 0
        self.fills = 0
        self.traded_quantity = 0
        self.rejected = 0
        self.crc = 0

    def add_buffer(self, buffer: array[int]) -> None:
        kinds = buffer[1::EVENT_WIDTH]
        fills = kinds.count(_FILL)
        self.events += len(kinds)
        self.fills += fills
        self.rejected += kinds.count(_REJECTED)
        if fills:
            self.traded_quantity += sum(compress(buffer[6::EVENT_WIDTH], map(_is_fill, kinds)))
        self.crc = zlib.crc32(buffer, self.crc)

    def add_lists(self, results: Sequence[Sequence[Sequence[int]]]) -> None:
        self.add_buffer(array("q", chain.from_iterable(chain.from_iterable(results))))


def _final_state(book: Book, tally: Tally) -> dict[str, Any]:
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "events": tally.events,
        "fills": tally.fills,
        "traded_quantity": tally.traded_quantity,
        "rejected": tally.rejected,
        "events_crc32": tally.crc,
        "best_bid": list(bid) if bid is not None else None,
        "best_ask": list(ask) if ask is not None else None,
        "order_count": book.order_count,
        "level_count": book.level_count,
        "sequence": book.sequence,
        "state_hash": book.state_hash(),
    }


def percentiles(samples: Sequence[float]) -> dict[str, Any]:
    """Nearest-rank p50/p99/p99.9, max and mean of `samples` (ns), rounded to 0.1 ns."""
    ordered = sorted(samples)
    n = len(ordered)
    if not n:
        return {"p50": None, "p99": None, "p99_9": None, "max": None, "mean": None, "samples": 0}

    def rank(p: float) -> float:
        return round(float(ordered[max(0, math.ceil(p / 100 * n) - 1)]), 1)

    return {
        "p50": rank(50),
        "p99": rank(99),
        "p99_9": rank(99.9),
        "max": round(float(ordered[-1]), 1),
        "mean": round(sum(ordered) / n, 1),
        "samples": n,
    }


def _preload(book: Book, buffer: array[int]) -> dict[str, Any]:
    """Load the deep book through process_batch in chunks; timed, returned apart from the run."""
    tally = Tally()
    elapsed = 0
    process_batch = book.process_batch
    view = memoryview(buffer)
    width = BATCH_CHUNK * COMMAND_WIDTH
    for start in range(0, len(view), width):
        part = view[start : start + width]
        t0 = perf_counter_ns()
        out = process_batch(part)
        elapsed += perf_counter_ns() - t0
        tally.add_buffer(out)
    commands = len(buffer) // COMMAND_WIDTH
    return {
        "commands": commands,
        "seconds": elapsed / 1e9,
        "commands_per_second": commands / (elapsed / 1e9) if elapsed else None,
        "events_crc32": tally.crc,
        "rejected": tally.rejected,
        "order_count": book.order_count,
    }


def _fresh(
    book_class: type[Book], spec: BookSpec, preload: array[int] | None
) -> tuple[Book, dict[str, Any] | None]:
    book = spec.new_book(book_class)
    loaded = _preload(book, preload) if preload is not None and len(preload) else None
    gc.collect()
    return book, loaded


def pass_batch_throughput(
    book_class: type[Book],
    spec: BookSpec,
    preload: array[int] | None,
    buffer: array[int],
    chunk: int = BATCH_CHUNK,
) -> dict[str, Any]:
    book, loaded = _fresh(book_class, spec, preload)
    tally = Tally()
    elapsed = 0
    process_batch = book.process_batch
    view = memoryview(buffer)
    width = chunk * COMMAND_WIDTH
    for start in range(0, len(view), width):
        part = view[start : start + width]
        t0 = perf_counter_ns()
        out = process_batch(part)
        elapsed += perf_counter_ns() - t0
        tally.add_buffer(out)
    commands = len(buffer) // COMMAND_WIDTH
    return {
        "commands": commands,
        "seconds": elapsed / 1e9,
        "commands_per_second": commands / (elapsed / 1e9),
        "preload": loaded,
        "result": _final_state(book, tally),
    }


def pass_one_call_throughput(
    book_class: type[Book], spec: BookSpec, preload: array[int] | None, commands: list[BookCommand]
) -> dict[str, Any]:
    book, loaded = _fresh(book_class, spec, preload)
    tally = Tally()
    elapsed = 0
    process = book.process
    for start in range(0, len(commands), ONE_CALL_CHUNK):
        part = commands[start : start + ONE_CALL_CHUNK]
        t0 = perf_counter_ns()
        results = [process(command) for command in part]
        elapsed += perf_counter_ns() - t0
        tally.add_lists(results)
    return {
        "commands": len(commands),
        "seconds": elapsed / 1e9,
        "commands_per_second": len(commands) / (elapsed / 1e9),
        "preload": loaded,
        "result": _final_state(book, tally),
    }


def pass_one_call_latency(
    book_class: type[Book], spec: BookSpec, preload: array[int] | None, commands: list[BookCommand]
) -> dict[str, Any]:
    book, _ = _fresh(book_class, spec, preload)
    tally = Tally()
    process = book.process
    latencies = array("q", bytes(8 * len(commands)))
    index = 0
    for start in range(0, len(commands), ONE_CALL_CHUNK):
        results: list[list[BookEvent]] = []
        append = results.append
        for command in commands[start : start + ONE_CALL_CHUNK]:
            t0 = perf_counter_ns()
            events = process(command)
            latencies[index] = perf_counter_ns() - t0
            index += 1
            append(events)
        tally.add_lists(results)
    return {
        "latency_ns": {
            "method": "perf_counter_ns around each process(command) call, timer cost included",
            **percentiles(latencies),
        },
        "result": _final_state(book, tally),
    }


def pass_batch_latency(
    book_class: type[Book], spec: BookSpec, preload: array[int] | None, buffer: array[int]
) -> dict[str, Any]:
    book, _ = _fresh(book_class, spec, preload)
    tally = Tally()
    process_batch = book.process_batch
    view = memoryview(buffer)
    width = LATENCY_BATCH * COMMAND_WIDTH
    per_command: list[float] = []
    append = per_command.append
    for start in range(0, len(view), width):
        part = view[start : start + width]
        t0 = perf_counter_ns()
        out = process_batch(part)
        elapsed = perf_counter_ns() - t0
        append(elapsed / (len(part) // COMMAND_WIDTH))
        tally.add_buffer(out)
    return {
        "latency_ns": {
            "method": f"perf_counter_ns around process_batch of {LATENCY_BATCH} commands, divided by "
            f"{LATENCY_BATCH} (one sample per batch)",
            **percentiles(per_command),
        },
        "result": _final_state(book, tally),
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def pass_memory(
    book_class: type[Book],
    spec: BookSpec,
    preload: array[int] | None,
    commands: list[BookCommand],
    buffer: array[int],
    *,
    one_call: bool,
) -> dict[str, Any]:
    """Memory of one engine: tracemalloc traced size/peak, memory_bytes() (Cython) and RSS growth.

    Pre-load and run go through chunks of MEMORY_CHUNK commands, so the event buffers alive at any
    time are small next to the book.
    """
    gc.collect()
    # the Cython book's own count (the reference has none); unbound: called as memory_bytes(book)
    memory_bytes: Callable[[Book], int] | None = getattr(book_class, "memory_bytes", None)
    rss_before = _rss_bytes()
    tracemalloc.start()
    traced_base = tracemalloc.get_traced_memory()[0]
    book = spec.new_book(book_class)
    memory_bytes_peak = memory_bytes(book) if memory_bytes else None

    def sample() -> None:
        nonlocal memory_bytes_peak
        if memory_bytes and memory_bytes_peak is not None:
            memory_bytes_peak = max(memory_bytes_peak, memory_bytes(book))

    tally = Tally()
    width = MEMORY_CHUNK * COMMAND_WIDTH
    if preload is not None and len(preload):
        view = memoryview(preload)
        for start in range(0, len(view), width):
            book.process_batch(view[start : start + width])
            sample()
    gc.collect()
    loaded_orders = book.order_count
    loaded_levels = book.level_count
    traced_loaded = tracemalloc.get_traced_memory()[0] - traced_base
    memory_bytes_loaded = memory_bytes(book) if memory_bytes else None
    rss_loaded = _rss_bytes() - rss_before
    if one_call:
        process = book.process
        for start in range(0, len(commands), ONE_CALL_CHUNK):
            tally.add_lists([process(command) for command in commands[start : start + ONE_CALL_CHUNK]])
            if start % MEMORY_CHUNK == 0:
                sample()
    else:
        view = memoryview(buffer)
        for start in range(0, len(view), width):
            tally.add_buffer(book.process_batch(view[start : start + width]))
            sample()
    sample()
    traced_now, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    memory: dict[str, Any] = {
        "path": "process(command) per command" if one_call else f"process_batch, chunks of {MEMORY_CHUNK}",
        "note": "tracemalloc sees Python allocators (the Cython book allocates with PyMem_*, so its C "
        "structures are included), and also the event buffers the harness holds between calls",
        "tracemalloc_peak_bytes": traced_peak - traced_base,
        "tracemalloc_end_bytes": traced_now - traced_base,
        "tracemalloc_after_preload_bytes": traced_loaded,
        "orders_after_preload": loaded_orders,
        "levels_after_preload": loaded_levels,
        "rss_growth_after_preload_bytes": rss_loaded,
        "final_order_count": book.order_count,
    }
    if memory_bytes:
        memory["memory_bytes_peak"] = memory_bytes_peak
        memory["memory_bytes_after_preload"] = memory_bytes_loaded
        memory["memory_bytes_end"] = memory_bytes(book)
    if loaded_orders:
        # The book's own structures per resting order, right after the pre-load (no events alive).
        own = memory_bytes_loaded if memory_bytes_loaded is not None else traced_loaded
        memory["bytes_per_resting_order"] = round(own / loaded_orders, 1)
        memory["bytes_per_resting_order_source"] = (
            "memory_bytes() / order_count after the pre-load"
            if memory_bytes
            else "tracemalloc traced size / order_count after the pre-load"
        )
        memory["traced_bytes_per_resting_order"] = round(traced_loaded / loaded_orders, 1)
    memory["result"] = _final_state(book, tally)
    return memory


# -- the benchmark -------------------------------------------------------------------------------

_CROSS_CHECK_FIELDS = (
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
)


def run_variant(
    name: str,
    fast_class: type[Book],
    reference_class: type[Book],
    spec: BookSpec,
    preload: list[BookCommand],
    commands: list[BookCommand],
    *,
    repeat: int = 3,
    sweep_chunks: bool = False,
) -> dict[str, Any]:
    preload_buffer = encode(preload) if preload else None
    buffer = encode(commands)
    runs: dict[str, dict[str, Any]] = {}
    memory: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}

    def timed(label: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        log(f"{name}: {label} ...")
        t0 = time.perf_counter()
        out = function()
        log(f"{name}: {label} done in {time.perf_counter() - t0:.1f} s")
        return out

    # Throughput passes, interleaved so that a noisy spell of the machine hits every path.
    throughput: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    for attempt in range(1, repeat + 1):
        throughput["cython_batch"].append(
            timed(
                f"cython batch throughput {attempt}/{repeat}",
                lambda: pass_batch_throughput(fast_class, spec, preload_buffer, buffer),
            )
        )
        throughput["cython_one_call"].append(
            timed(
                f"cython one-call throughput {attempt}/{repeat}",
                lambda: pass_one_call_throughput(fast_class, spec, preload_buffer, commands),
            )
        )
        throughput["reference"].append(
            timed(
                f"reference one-call throughput {attempt}/{repeat}",
                lambda: pass_one_call_throughput(reference_class, spec, preload_buffer, commands),
            )
        )
    sweep = {}
    for chunk in CHUNK_SWEEP if sweep_chunks else ():
        swept = pass_batch_throughput(fast_class, spec, preload_buffer, buffer, chunk)
        sweep[str(chunk)] = round(swept["commands_per_second"])
        results[f"cython_batch/chunk {chunk}"] = swept["result"]
    if sweep:
        log(f"{name}: cython batch chunk sweep (commands per call: cmd/s) {sweep}")
    # Latency passes.
    batch_latency = timed(
        "cython batch latency", lambda: pass_batch_latency(fast_class, spec, preload_buffer, buffer)
    )
    one_call_latency = timed(
        "cython one-call latency",
        lambda: pass_one_call_latency(fast_class, spec, preload_buffer, commands),
    )
    reference_latency = timed(
        "reference latency",
        lambda: pass_one_call_latency(reference_class, spec, preload_buffer, commands),
    )
    # Memory passes.
    memory["cython"] = timed(
        "cython memory",
        lambda: pass_memory(fast_class, spec, preload_buffer, commands, buffer, one_call=False),
    )
    memory["reference"] = timed(
        "reference memory",
        lambda: pass_memory(reference_class, spec, preload_buffer, commands, buffer, one_call=True),
    )

    apis = {
        "cython_batch": f"OrderBook.process_batch, chunks of {BATCH_CHUNK} commands",
        "cython_one_call": "OrderBook.process(command), one call per command",
        "reference": "ReferenceOrderBook.process(command), one call per command",
    }
    latencies = {
        "cython_batch": batch_latency,
        "cython_one_call": one_call_latency,
        "reference": reference_latency,
    }
    for path in PATHS:
        attempts = throughput[path]
        best = max(attempts, key=lambda attempt: attempt["commands_per_second"])
        runs[path] = {
            "api": apis[path],
            "commands": best["commands"],
            "seconds": round(best["seconds"], 4),
            "commands_per_second": round(best["commands_per_second"]),
            "commands_per_second_runs": [round(attempt["commands_per_second"]) for attempt in attempts],
            "latency_ns": latencies[path]["latency_ns"],
            "preload": best["preload"],
        }
        for number, throughput_run in enumerate(attempts, 1):
            results[f"{path}/throughput {number}"] = throughput_run["result"]
        results[f"{path}/latency"] = latencies[path]["result"]
    results["cython/memory"] = memory["cython"].pop("result")
    results["reference/memory"] = memory["reference"].pop("result")

    first = results["reference/throughput 1"]
    disagreements = [
        {"pass": label, "field": field, "value": result[field], "reference": first[field]}
        for label, result in results.items()
        for field in _CROSS_CHECK_FIELDS
        if result[field] != first[field]
    ]
    preloads = [attempt["preload"] for path in PATHS for attempt in throughput[path] if attempt["preload"]]
    for loaded in preloads:
        if loaded["events_crc32"] != preloads[0]["events_crc32"] or loaded["rejected"]:
            disagreements.append({"pass": "preload", "field": "events_crc32/rejected", "value": loaded})
    if first["rejected"]:
        disagreements.append({"pass": "all", "field": "rejected", "value": first["rejected"], "expected": 0})
    reference_cps = runs["reference"]["commands_per_second"]
    return {
        "commands": len(commands),
        "preload_orders": len(preload),
        "implementations": runs,
        "throughput_method": f"best of {repeat} interleaved runs, each on a fresh book; "
        "time inside the engine calls only",
        "batch_chunk_sweep": sweep or None,
        "speedup_vs_reference": {
            "cython_batch": round(runs["cython_batch"]["commands_per_second"] / reference_cps, 2),
            "cython_one_call": round(runs["cython_one_call"]["commands_per_second"] / reference_cps, 2),
            "one_call_p50_latency": _ratio(
                runs["reference"]["latency_ns"]["p50"], runs["cython_one_call"]["latency_ns"]["p50"]
            ),
        },
        "memory": memory,
        "cross_check": {
            "agree": not disagreements,
            "fields": list(_CROSS_CHECK_FIELDS),
            "reference": first,
            "disagreements": disagreements,
        },
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def machine_info() -> dict[str, Any]:
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def evaluate_targets(variants: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    mixed = variants["mixed"]
    deep = variants["deep"]
    batch_cps = mixed["implementations"]["cython_batch"]["commands_per_second"]
    one_call_cps = mixed["implementations"]["cython_one_call"]["commands_per_second"]
    speedup = mixed["speedup_vs_reference"]["cython_batch"]
    deep_memory = deep["memory"]["cython"]
    per_order = deep_memory.get("bytes_per_resting_order")
    bound = documented_bytes_per_order(
        deep_memory["orders_after_preload"], deep_memory["levels_after_preload"]
    )
    targets = [
        {
            "name": "mixed: cython batch commands/s",
            "target": f">= {TARGET_BATCH_CPS:,}",
            "measured": batch_cps,
            "pass": batch_cps >= TARGET_BATCH_CPS,
        },
        {
            "name": "mixed: cython batch speed-up vs reference (same run)",
            "target": f">= {TARGET_BATCH_SPEEDUP:g}x",
            "measured": speedup,
            "pass": speedup >= TARGET_BATCH_SPEEDUP,
        },
        {
            "name": "mixed: cython one-call commands/s",
            "target": f">= {TARGET_ONE_CALL_CPS:,}",
            "measured": one_call_cps,
            "pass": one_call_cps >= TARGET_ONE_CALL_CPS,
        },
        {
            "name": "deep: cython bytes per resting order (memory_bytes / order_count)",
            "target": f"<= {bound:.1f} (docs/engine.md bound for {deep_memory['orders_after_preload']:,} "
            f"orders on {deep_memory['levels_after_preload']:,} levels; documented measurement "
            f"{DOC_MEASURED_1M_ORDERS} B for 1M orders on 2,000 levels)"
            if bound
            else "no deep book (--deep-orders 0)",
            "measured": per_order,
            "pass": (per_order is not None and per_order <= bound) if bound else None,
        },
        {
            "name": "cross-check: every pass of every variant agrees",
            "target": "agree",
            "measured": all(v["cross_check"]["agree"] for v in variants.values()),
            "pass": all(v["cross_check"]["agree"] for v in variants.values()),
        },
    ]
    return targets


def run(
    events: int,
    seed: int,
    deep_orders: int,
    spec: BookSpec = DEFAULT_SPEC,
    fast_class: type[Book] | None = None,
    repeat: int = 3,
) -> dict[str, Any]:
    fast_class = fast_class or OrderBook
    if fast_class is None:
        raise RuntimeError(
            "matching_engine.book is not compiled: cd to the checkout and run "
            "`pip install -e . --no-build-isolation`"
        )
    started = time.perf_counter()
    machine = machine_info()
    log(f"generating workloads: {events:,} mixed commands, {deep_orders:,} deep orders, seed {seed}")
    t0 = time.perf_counter()
    generator = WorkloadGenerator(seed, spec)
    mixed_commands = generator.mixed(events)
    mixed_mix = dict(generator.counts)
    generator = WorkloadGenerator(seed, spec)
    deep_preload = generator.preload(deep_orders)
    deep_commands = generator.mixed(events)
    deep_mix = dict(generator.counts)
    # Drop the generator's shadow book and move the command lists out of the collector's reach:
    # otherwise every full collection during a run would traverse the benchmark's own objects
    # and charge the pause to whichever engine happened to trigger it.
    del generator
    gc.collect()
    gc.freeze()
    generate_seconds = time.perf_counter() - t0
    log(f"generated in {generate_seconds:.1f} s")

    try:
        variants = {
            "mixed": run_variant(
                "mixed",
                fast_class,
                ReferenceOrderBook,
                spec,
                [],
                mixed_commands,
                repeat=repeat,
                sweep_chunks=True,
            ),
            "deep": run_variant(
                "deep", fast_class, ReferenceOrderBook, spec, deep_preload, deep_commands, repeat=repeat
            ),
        }
    finally:
        gc.unfreeze()
    variants["mixed"]["workload_mix"] = mixed_mix
    variants["deep"]["workload_mix"] = deep_mix
    targets = evaluate_targets(variants)
    agree = all(v["cross_check"]["agree"] for v in variants.values())
    mixed_batch = variants["mixed"]["implementations"]["cython_batch"]["commands_per_second"]
    return {
        "benchmark": "engine",
        "command": "python -m loadtests.engine_bench " + " ".join(sys.argv[1:]),
        "parameters": {
            "events": events,
            "seed": seed,
            "deep_orders": deep_orders,
            "repeat": repeat,
            "batch_chunk": BATCH_CHUNK,
            "latency_batch": LATENCY_BATCH,
            "book": spec.as_dict(),
            "gc": "enabled (Python default); the generated commands are gc.freeze()d, "
            "gc.collect() before each pass",
        },
        "machine": machine,
        "generate_seconds": round(generate_seconds, 2),
        "variants": variants,
        "vs_liquibook": {
            "liquibook_commands_per_second": LIQUIBOOK_CPS,
            "note": "issue figure for a native C++ engine on a comparable stream; not measured here",
            "mixed_cython_batch_ratio": round(mixed_batch / LIQUIBOOK_CPS, 2),
        },
        "targets": targets,
        "all_targets_pass": all(t["pass"] is not False for t in targets),
        "agree": agree,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


# -- output --------------------------------------------------------------------------------------


def _fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def format_table(report: dict[str, Any]) -> str:
    lines = []
    m = report["machine"]
    p = report["parameters"]
    lines.append(
        f"engine benchmark: events={p['events']:,} seed={p['seed']} deep_orders={p['deep_orders']:,} "
        f"| {m['nproc']} cpu, {m['cpu_model']}, Python {m['python']}"
    )
    for name, variant in report["variants"].items():
        lines.append("")
        title = f"== {name}: {variant['commands']:,} commands"
        if variant["preload_orders"]:
            title += f" after pre-loading {variant['preload_orders']:,} resting orders"
        lines.append(title + f"  (mix: {variant['workload_mix']})")
        header = (
            f"{'path':<18}{'cmd/s':>13}{'x ref':>8}{'p50 ns':>10}{'p99 ns':>10}{'p99.9 ns':>10}"
            f"{'max ns':>15}{'mean ns':>10}"
        )
        lines.append(header)
        reference_cps = variant["implementations"]["reference"]["commands_per_second"]
        for path, run_ in variant["implementations"].items():
            lat = run_["latency_ns"]
            lines.append(
                f"{path:<18}{_fmt_int(run_['commands_per_second']):>13}"
                f"{run_['commands_per_second'] / reference_cps:>7.1f}x"
                f"{_fmt_int(lat['p50']):>10}{_fmt_int(lat['p99']):>10}{_fmt_int(lat['p99_9']):>10}"
                f"{_fmt_int(lat['max']):>15}{_fmt_int(lat['mean']):>10}"
            )
        lines.append(
            f"  throughput: {variant['throughput_method']}; runs: "
            + "; ".join(
                f"{path} {', '.join(f'{cps:,}' for cps in run_['commands_per_second_runs'])}"
                for path, run_ in variant["implementations"].items()
            )
        )
        if variant["batch_chunk_sweep"]:
            lines.append(
                "  cython_batch by commands per process_batch call: "
                + ", ".join(f"{chunk}: {cps:,}" for chunk, cps in variant["batch_chunk_sweep"].items())
            )
        lines.append(
            "  latency: one-call paths time each process() call; "
            f"cython_batch = time of a {LATENCY_BATCH}-command batch / {LATENCY_BATCH}"
        )
        for path, run_ in variant["implementations"].items():
            if run_["preload"]:
                loaded = run_["preload"]
                lines.append(
                    f"  pre-load ({path}): {loaded['commands']:,} orders in {loaded['seconds']:.2f} s "
                    f"({_fmt_int(loaded['commands_per_second'])} cmd/s, process_batch)"
                )
        cy, ref = variant["memory"]["cython"], variant["memory"]["reference"]
        lines.append(
            f"  memory cython:    memory_bytes peak {_fmt_int(cy.get('memory_bytes_peak'))} B, "
            f"tracemalloc peak {_fmt_int(cy['tracemalloc_peak_bytes'])} B"
            + (
                f", {cy['bytes_per_resting_order']} B/resting order by memory_bytes, "
                f"{cy['traced_bytes_per_resting_order']} traced ({cy['orders_after_preload']:,} orders)"
                if "bytes_per_resting_order" in cy
                else ""
            )
        )
        lines.append(
            f"  memory reference: tracemalloc peak {_fmt_int(ref['tracemalloc_peak_bytes'])} B"
            + (
                f", {ref['bytes_per_resting_order']} B/resting order (traced)"
                if "bytes_per_resting_order" in ref
                else ""
            )
        )
        check = variant["cross_check"]
        r = check["reference"]
        lines.append(
            f"  cross-check: {'AGREE' if check['agree'] else 'DISAGREE'} — fills {r['fills']:,}, traded "
            f"{r['traded_quantity']:,}, best bid {r['best_bid']}, best ask {r['best_ask']}, "
            f"orders {r['order_count']:,}, events {r['events']:,}, rejected {r['rejected']}"
        )
        for disagreement in check["disagreements"][:10]:
            lines.append(f"    ! {disagreement}")
    lines.append("")
    lines.append("targets:")
    for target in report["targets"]:
        lines.append(
            f"  [{ {True: 'PASS', False: 'FAIL', None: 'n/a'}[target['pass']] }] "
            f"{target['name']}: {target['measured']} "
            f"(target {target['target']})"
        )
    lines.append(
        f"vs LiquiBook ~{LIQUIBOOK_CPS:,} cmd/s (issue figure): "
        f"{report['vs_liquibook']['mixed_cython_batch_ratio']}x; "
        f"peak RSS {report['peak_rss_bytes'] / 2**20:.0f} MiB; total {report['total_seconds']} s"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.engine_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="mixed commands per variant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deep-orders", type=int, default=1_000_000, help="resting orders of the deep book")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per path (best is kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.events <= 0 or args.deep_orders < 0 or args.repeat <= 0:
        parser.error("--events and --repeat must be > 0, --deep-orders >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args.events, args.seed, args.deep_orders, repeat=args.repeat)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    if not report["agree"]:
        log(f"CROSS-CHECK FAILED (seed {args.seed}, events {args.events}, deep orders {args.deep_orders})")
        return 1
    if args.strict and not report["all_targets_pass"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
