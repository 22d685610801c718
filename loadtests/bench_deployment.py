"""The exchange a benchmark runs against, started and stopped by the benchmark itself.

- `EmbeddedDeployment`: one process, `python -m loadtests.bench_server` (the `capex serve`
  app in embedded mode plus the benchmark's setup) on a fresh SQLite file; with
  `sequencer_process`, `API_SEQUENCER_PROCESS=true`: the same API process, its sequencer in a
  child process (api/process_gateway.py).
- `ScaleOutDeployment`: the scale-out mode of docs/scale-out.md: `capex sequencer` and
  N API worker processes (`API_MODE=worker`; the first is the bench server, which does the setup
  through its RedisGateway, the others `capex serve`), over Redis under a key prefix of
  their own, on PostgreSQL in a scratch schema. The prefix and the schema are removed afterwards.

Both give the WebSocket URLs to spread clients over, the setup (accounts with session tokens,
symbols), the CPU time their processes used, and, once stopped, the journal's row count.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

START_TIMEOUT_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (all its threads'), from /proc."""
    children: list[int] = []
    with suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with suppress(OSError):
                children.extend(int(c) for c in (task / "children").read_text().split())
    return children


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat): the busy
    share over a phase says whether the box was saturated, whoever used it."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / ticks, total / ticks


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A child process with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT (uvicorn's and the sequencer's graceful shutdown), then SIGKILL."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


def _bench_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            # One account per connection already spreads the load; the per-account order bucket
            # (5,000/s by default) is raised so the benchmark measures the exchange, not the
            # limiter (which still runs on every request).
            "API_WS_ORDER_RATE": "1000000",
            "API_WS_ORDER_BURST": "2000000",
            "API_WS_IDLE_TIMEOUT_SECONDS": "120",
        }
    )
    return env


def _bench_server_command(port: int, setup_path: Path, market_makers: int, instruments: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "loadtests.bench_server",
        "--port",
        str(port),
        "--out",
        str(setup_path),
        "--market-makers",
        str(market_makers),
        "--instruments",
        str(instruments),
    ]


def _wait(
    condition: Callable[[], bool], processes: list[Process], what: str, timeout: float = START_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in processes)
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s\n{tails}")
        time.sleep(0.05)


def count_journal(database_url: str) -> int:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from exchange.store.database import normalize_url

    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM journal")).scalar_one())
    finally:
        engine.dispose()


class EmbeddedDeployment:
    """The embedded default: one API process with the sequencer inside, SQLite."""

    mode = "embedded"

    def __init__(
        self, workdir: Path, market_makers: int, instruments: int, sequencer_process: bool = False
    ) -> None:
        self.sequencer_process = sequencer_process
        self.workdir = workdir
        self.database_url = f"sqlite:///{workdir / 'exchange.db'}"
        self.market_makers = market_makers
        self.instruments = instruments
        self.port = free_port()
        self.processes: list[Process] = []
        self.setup: dict[str, Any] = {}

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{self.port}/ws"]

    def describe(self) -> dict[str, Any]:
        processes = (
            "one API process (uvicorn) and its sequencer process (API_SEQUENCER_PROCESS)"
            if self.sequencer_process
            else "one API process (uvicorn, embedded sequencer)"
        )
        return {
            "mode": self.mode,
            "sequencer_process": self.sequencer_process,
            "processes": processes,
            "database": "SQLite, WAL, synchronous=FULL (an fsync per group commit)",
        }

    def start(self) -> None:
        setup_path = self.workdir / "setup.json"
        env = _bench_env(self.database_url)
        env["API_SEQUENCER_PROCESS"] = "true" if self.sequencer_process else "false"
        server = Process(
            "server",
            _bench_server_command(self.port, setup_path, self.market_makers, self.instruments),
            env,
            self.workdir / "server.log",
        )
        self.processes.append(server)
        _wait(lambda: setup_path.exists() and accepts(self.port), self.processes, "the server start")
        self.setup = json.loads(setup_path.read_text())

    def cpu_seconds(self) -> float:
        """The API process and its children (the sequencer process, if any)."""
        return sum(process_cpu_seconds(pid) for p in self.processes for pid in [p.pid, *child_pids(p.pid)])

    def stop(self) -> dict[str, int | None]:
        return {p.name: p.stop() for p in reversed(self.processes)}

    def journal_rows(self) -> int:
        return count_journal(self.database_url)

    def cleanup(self) -> None:
        pass


class ScaleOutDeployment:
    """A sequencer process and `workers` API worker processes over Redis, on PostgreSQL."""

    mode = "scale-out"

    def __init__(
        self,
        workdir: Path,
        market_makers: int,
        instruments: int,
        workers: int,
        postgres_url: str,
        redis_url: str,
    ) -> None:
        self.workdir = workdir
        self.market_makers = market_makers
        self.instruments = instruments
        self.workers = workers
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self.prefix = f"wsbench-{uuid.uuid4().hex[:10]}"
        self.schema = self.prefix.replace("-", "_")
        separator = "&" if "?" in postgres_url else "?"
        self.database_url = f"{postgres_url}{separator}options=-csearch_path%3D{self.schema}"
        self.ports = [free_port() for _ in range(workers)]
        self.processes: list[Process] = []
        self.setup: dict[str, Any] = {}
        self._schema_created = False

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}/ws" for port in self.ports]

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "processes": f"a sequencer process and {self.workers} API worker process(es) over Redis",
            "database": "PostgreSQL (synchronous_commit=on), scratch schema",
            "redis": self.redis_url,
        }

    def _admin_engine(self) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from exchange.store.database import normalize_url

        return create_engine(
            normalize_url(self.postgres_url), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )

    def start(self) -> None:
        import redis
        from sqlalchemy import text

        engine = self._admin_engine()
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        finally:
            engine.dispose()
        self._schema_created = True
        env = _bench_env(self.database_url)
        env.update({"API_REDIS_URL": self.redis_url, "API_REDIS_PREFIX": self.prefix})
        sequencer = Process(
            "sequencer", [sys.executable, "-m", "capex", "sequencer"], env, self.workdir / "sequencer.log"
        )
        self.processes.append(sequencer)
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            _wait(
                lambda: bool(client.exists(f"{self.prefix}:sequencer:heartbeat")),
                self.processes,
                "the sequencer start",
            )
        finally:
            client.close()
        worker_env = dict(env, API_MODE="worker")
        setup_path = self.workdir / "setup.json"
        first = Process(
            "worker-0",
            _bench_server_command(self.ports[0], setup_path, self.market_makers, self.instruments),
            worker_env,
            self.workdir / "worker-0.log",
        )
        self.processes.append(first)
        _wait(
            lambda: setup_path.exists() and accepts(self.ports[0]), self.processes, "worker 0 and the setup"
        )
        for index, port in enumerate(self.ports[1:], start=1):
            command = [sys.executable, "-m", "capex", "serve", "--host", "127.0.0.1", "--port", str(port)]
            self.processes.append(
                Process(f"worker-{index}", command, worker_env, self.workdir / f"worker-{index}.log")
            )
        for port in self.ports[1:]:
            _wait(partial(accepts, port), self.processes, f"the worker on port {port}")
        self.setup = json.loads(setup_path.read_text())

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(p.pid) for p in self.processes)

    def stop(self) -> dict[str, int | None]:
        # workers first (their sessions close), then the sequencer (finishes its group, closes the store)
        return {p.name: p.stop() for p in reversed(self.processes)}

    def journal_rows(self) -> int:
        return count_journal(self.database_url)

    def cleanup(self) -> None:
        import redis
        from sqlalchemy import text

        with suppress(Exception):
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        if self._schema_created:
            engine = self._admin_engine()
            try:
                with engine.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            finally:
                engine.dispose()
