"""Exchange-core benchmark: commands/s through the sequencer, in memory and durable, and replay.

    python -m loadtests.core_bench [--json] [--commands N] [--replay-commands N] [--group N]
                                   [--postgres-url URL] [--no-postgres]

Measures, in one run, on one seeded stream (`core_stream`):

- `memory`: `Sequencer.apply` alone (no I/O), commands/s;
- `sqlite`: `DurableExchange.submit_batch` on a SQLite file (WAL, synchronous=FULL), groups of
  `--group` commands per transaction, each acknowledged after its commit;
- `postgresql`: the same on PostgreSQL (synchronous_commit=on), in a scratch schema;
- `replay`: recovery of a fresh `DurableExchange` (no snapshot) from a SQLite journal of
  `--replay-commands` commands: read, decode, apply, verify codes.

The stream (`core_stream`): traders (market makers, with ample cash) quote material calls: 60%
passive limit orders around a mid, 25% cancels of recent orders, 10% crossing limit orders, 5%
crossing IOC orders; after a setup of accounts, deposits and listings. It depends only on the seed
(no feedback from results), so a crash test can regenerate it and compare it with the journal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from exchange import commands as c

T0 = 1_790_000_000_000  # 2026-09-21 (ms since epoch); the stream's clock starts here
DAY = 86_400_000
SYSTEM = 0
MID = 500
CASH = 10**13  # fen per trader: far more than any collateral the stream can lock


def material_listing(n: int) -> c.ListInstrument:
    terms = c.MaterialCallTerms(
        material=f"ink-{n}",
        index=f"INK-{n}",
        strike=8_000,
        cap=9_600,
        units_per_contract=10,
        settlement_window_start=T0 + 300 * DAY,
    )
    return c.ListInstrument(
        timestamp=T0,
        actor_id=SYSTEM,
        terms=terms,
        tick=1,
        lot=1,
        min_price=1,
        max_price=10_000,
        trading_start=T0,
        expiry=T0 + 365 * DAY,
    )


def setup_commands(accounts: int, instruments: int) -> list[c.Command]:
    """Accounts 1..accounts (market makers) with cash, and `instruments` material calls (each
    after its index's first price)."""
    out: list[c.Command] = []
    for i in range(1, accounts + 1):
        out.append(c.CreateAccount(timestamp=T0, actor_id=SYSTEM, name=f"mm{i}", role="market_maker"))
        out.append(c.Deposit(timestamp=T0, actor_id=SYSTEM, account_id=i, amount=CASH))
    for n in range(instruments):
        # an index must have a published price before a call is listed on it; at the strike the
        # calls are worth nothing, so the fat-finger band leaves the stream's prices alone
        out.append(c.PublishIndexPrice(timestamp=T0, actor_id=SYSTEM, index=f"INK-{n}", price=8_000))
        out.append(material_listing(n))
    return out


def core_stream(seed: int, n: int, *, accounts: int = 20, instruments: int = 2) -> Iterator[c.Command]:
    """The setup, then orders until `n` commands in all. Deterministic in (seed, n, accounts,
    instruments); a prefix of a longer stream with the same seed."""
    rng = random.Random(seed)
    setup = setup_commands(accounts, instruments)
    yield from setup[:n]
    symbols = [f"MAT-INK-{k}-20270921-K8000-C9600" for k in range(instruments)]
    placed = 0  # order ids are assigned 1, 2, ... to the orders the sequencer accepts (all of them)
    recent: list[tuple[int, int]] = []  # (order id, owner) of recent limit orders, to cancel
    t = T0 + 1
    for i in range(max(0, n - len(setup))):
        t += 1
        account = rng.randint(1, accounts)
        roll = rng.random()
        if roll < 0.25 and recent:
            order_id, owner = recent.pop(rng.randrange(len(recent)))
            yield c.CancelOrder(timestamp=t, actor_id=owner, order_id=order_id)
            continue
        symbol = symbols[rng.randrange(instruments)]
        side = "buy" if rng.random() < 0.5 else "sell"
        crossing = roll >= 0.85
        offset = rng.randint(1, 20)
        if crossing:
            price = MID + offset if side == "buy" else MID - offset
        else:
            price = MID - offset if side == "buy" else MID + offset
        order_type = "ioc" if roll >= 0.95 else "limit"
        placed += 1
        if order_type == "limit":
            recent.append((placed, account))
            if len(recent) > 400:
                del recent[: len(recent) - 400]
        yield c.PlaceOrder(
            timestamp=t,
            actor_id=account,
            symbol=symbol,
            client_order_id=f"s{seed}-{i}",
            side=side,
            order_type=order_type,
            price=price,
            quantity=rng.randint(1, 10),
        )


# -- MEASUREMENTS -------------------------------------------------------------------------------


def bench_memory(commands: list[c.Command]) -> dict[str, Any]:
    from exchange.sequencer import Sequencer

    sequencer = Sequencer()
    apply = sequencer.apply
    start = time.perf_counter()
    for command in commands:
        apply(command)
    elapsed = time.perf_counter() - start
    return {"commands": len(commands), "seconds": elapsed, "commands_per_s": len(commands) / elapsed}


def bench_durable(url: str, commands: list[c.Command], group: int) -> dict[str, Any]:
    from exchange.service import DurableExchange

    exchange = DurableExchange(url, group_commit_size=group, snapshot_interval=0)
    start = time.perf_counter()
    for i in range(0, len(commands), group):
        results = exchange.submit_batch(commands[i : i + group])
        if results and results[-1].code == 5001:
            raise RuntimeError(results[-1].message)
    elapsed = time.perf_counter() - start
    exchange.close()
    return {
        "commands": len(commands),
        "group": group,
        "seconds": elapsed,
        "commands_per_s": len(commands) / elapsed,
    }


def bench_replay(url: str) -> dict[str, Any]:
    from exchange.service import DurableExchange

    start = time.perf_counter()
    exchange = DurableExchange(url, snapshot_interval=0)
    elapsed = time.perf_counter() - start
    replayed = exchange.replayed
    exchange.close()
    return {
        "commands": replayed,
        "seconds": elapsed,
        "commands_per_s": replayed / elapsed if elapsed else 0.0,
    }


def _postgres_schema(url: str) -> tuple[str, Any] | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError:
        engine.dispose()
        return None
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def run(args: argparse.Namespace) -> dict[str, Any]:
    commands = list(core_stream(args.seed, args.commands))
    report: dict[str, Any] = {"seed": args.seed, "cpu_count": os.cpu_count()}
    report["memory"] = bench_memory(commands)
    workdir = tempfile.mkdtemp(prefix="core_bench_")
    try:
        report["sqlite"] = bench_durable(f"sqlite:///{workdir}/durable.db", commands, args.group)
        if not args.no_postgres:
            scratch = _postgres_schema(args.postgres_url)
            if scratch is None:
                report["postgresql"] = {"skipped": f"unreachable: {args.postgres_url}"}
            else:
                url, drop = scratch
                try:
                    report["postgresql"] = bench_durable(url, commands, args.group)
                finally:
                    drop()
        replay_url = f"sqlite:///{workdir}/replay.db"
        replay_commands = list(core_stream(args.seed + 1, args.replay_commands))
        bench_durable(replay_url, replay_commands, max(args.group, 5000))
        del replay_commands
        report["replay"] = bench_replay(replay_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.core_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--replay-commands", type=int, default=200_000)
    parser.add_argument("--group", type=int, default=1_000, help="commands per durable transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    report["targets"] = {
        "memory_commands_per_s": 50_000,
        "sqlite_commands_per_s": 20_000,
        "replay_1m_seconds": 30,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'measure':<12} {'commands':>10} {'seconds':>9} {'commands/s':>12}  target")
    targets = {
        "memory": ">= 50,000/s",
        "sqlite": ">= 20,000/s",
        "postgresql": "",
        "replay": "1M in <= 30 s (>= 33,334/s)",
    }
    for name in ("memory", "sqlite", "postgresql", "replay"):
        row = report.get(name)
        if row is None:
            continue
        if "skipped" in row:
            print(f"{name:<12} skipped: {row['skipped']}")
            continue
        print(
            f"{name:<12} {row['commands']:>10,} {row['seconds']:>9.2f} {row['commands_per_s']:>12,.0f}  "
            f"{targets[name]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
