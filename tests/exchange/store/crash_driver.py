"""Crash-test driver: submits a seeded command stream through DurableExchange in groups and, after
each group's commit, prints one line per acknowledged command and flushes:

    ACK <index in the stream> <seq> <code> <data as JSON>

The parent (test_crash_recovery.py) kills this process with SIGKILL at a random moment.

    python tests/exchange/store/crash_driver.py URL SEED COMMANDS GROUP SNAPSHOT_INTERVAL
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    url, seed, n, group, snapshot_interval = sys.argv[1], *map(int, sys.argv[2:6])
    from exchange.service import DurableExchange
    from loadtests.core_bench import core_stream

    commands = list(core_stream(seed, n))
    exchange = DurableExchange(url, group_commit_size=group, snapshot_interval=snapshot_interval)
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    for start in range(0, len(commands), group):
        results = exchange.submit_batch(commands[start : start + group])
        lines = [
            f"ACK {start + k} {r.seq} {r.code} {json.dumps(r.data, sort_keys=True)}\n"
            for k, r in enumerate(results)
            if r.code != 5001
        ]
        out.write("".join(lines))
        out.flush()
    out.write("DONE\n")
    out.flush()


if __name__ == "__main__":
    main()
