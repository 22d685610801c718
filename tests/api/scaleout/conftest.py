"""Fixtures of the scale-out tests: real processes over a real Redis.

- `Cluster`: a sequencer process (`capex sequencer`) and API worker processes
  (`API_MODE=worker capex serve --port N`) on one database, talking through Redis under a
  key prefix of their own (deleted afterwards).
- `OwnRedis`: a redis-server of the tests' own on a free port (no persistence), for the tests that
  kill and restart Redis; the machine-wide Redis at 127.0.0.1:6379 is shared and never stopped.
- `TcpCut`: a TCP relay in front of Redis that a test can cut and restore, to take one gateway off
  Redis while the rest goes on.
- `Admin`: a RedisGateway in the test process, acting as the system account (account 0) to list
  instruments and fund accounts, the way an operator tool would.

Redis or PostgreSQL unreachable: the tests are skipped, or fail when CI is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from api.config import ApiSettings
from api.key_crypto import new_encryption_key
from api.redis_gateway import RedisGateway
from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID
from tests.api.conftest import capacity_option_listing

REPO = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START_TIMEOUT = 40.0


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_redis(url: str = REDIS_URL) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis unreachable at {url}: {exc}")
    finally:
        client.close()


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    except (redis.RedisError, OSError):
        pass
    finally:
        client.close()


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    engine = create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        engine.dispose()
        unavailable(f"PostgreSQL unreachable at {POSTGRES_URL}: {str(exc).splitlines()[0]}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def journal_seq(database_url: str) -> int:
    """The last journaled seq, read from the database itself."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COALESCE(MAX(seq), 0) FROM journal")).scalar_one())
    finally:
        engine.dispose()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# -- PROCESSES -----------------------------------------------------------------------------------


class Process:
    """A child process with its output in a log file; stopped by its own pid only."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(args, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, signum: int) -> None:
        if self.alive:
            self.popen.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive:
            self.popen.send_signal(signal.SIGCONT)  # in case a test left it stopped
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


class OwnRedis:
    """A redis-server of this test module on a free port, without persistence, that tests may kill
    and start again on the same port."""

    def __init__(self, log_dir: Path) -> None:
        if shutil.which("redis-server") is None:
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = Process(f"redis-{self.starts}", args, dict(os.environ), self.log_dir)
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except (redis.RedisError, OSError):
                return False

        try:
            wait_until(answers, 10, "redis-server to answer")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: Redis vanishes with whatever it held."""
        assert self.process is not None
        self.process.popen.kill()
        self.process.popen.wait(5)
        self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Cluster:
    """One sequencer process and `workers` API worker processes over Redis."""

    def __init__(
        self,
        log_dir: Path,
        database_url: str,
        redis_url: str,
        *,
        workers: int = 2,
        timeout_seconds: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.database_url = database_url
        self.redis_url = redis_url
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.timeout_seconds = timeout_seconds
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "API_MODE": "worker",
                "API_REDIS_URL": redis_url,
                "API_REDIS_PREFIX": self.prefix,
                "API_REDIS_TIMEOUT_SECONDS": str(timeout_seconds),
                # one server key for every worker, as a deployment sets it (docs/api.md)
                "API_KEY_ENCRYPTION_KEYS": f"cluster:{new_encryption_key()}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(env or {})
        self.worker_count = workers
        self.ports = [free_port() for _ in range(workers)]
        self.sequencer: Process | None = None
        self.workers: list[Process] = []
        self.sequencer_starts = 0

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}/ws" for port in self.ports]

    def settings(self, redis_url: str | None = None) -> ApiSettings:
        return ApiSettings(
            mode="worker",
            database_url=self.database_url,
            redis_url=redis_url or self.redis_url,
            redis_prefix=self.prefix,
            redis_timeout_seconds=self.timeout_seconds,
        )

    def start(self) -> None:
        self.start_sequencer()
        self.workers = [
            Process(
                f"worker-{index + 1}",
                [sys.executable, "-m", "capex", "serve", "--host", "127.0.0.1", "--port", str(port)],
                self.env,
                self.log_dir,
            )
            for index, port in enumerate(self.ports)
        ]
        for index in range(self.worker_count):
            self.wait_healthy(index)

    def start_sequencer(self) -> None:
        self.sequencer_starts += 1
        self.sequencer = Process(
            f"sequencer-{self.sequencer_starts}",
            [sys.executable, "-m", "capex", "sequencer"],
            self.env,
            self.log_dir,
        )
        self.wait_sequencer()

    def heartbeat(self) -> bytes | None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return client.get(f"{self.prefix}:sequencer:heartbeat")
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()

    def wait_sequencer(self, timeout: float = START_TIMEOUT) -> None:
        assert self.sequencer is not None

        def ready() -> bool:
            if not self.sequencer.alive:
                raise AssertionError(f"the sequencer exited:\n{self.sequencer.log_tail()}")
            return self.heartbeat() is not None

        wait_until(ready, timeout, "the sequencer's heartbeat")

    def health(self, index: int) -> httpx.Response | None:
        try:
            return httpx.get(f"{self.urls[index]}/health", timeout=5)
        except httpx.HTTPError:
            return None

    def wait_healthy(self, index: int, timeout: float = START_TIMEOUT) -> dict:
        worker = self.workers[index]

        def healthy() -> dict | None:
            if not worker.alive:
                raise AssertionError(f"{worker.name} exited:\n{worker.log_tail()}")
            response = self.health(index)
            return response.json() if response is not None and response.status_code == 200 else None

        return wait_until(healthy, timeout, f"{worker.name} to be healthy", interval=0.1)

    def stop(self) -> None:
        for process in [*self.workers, self.sequencer]:
            if process is not None:
                process.stop()
        delete_prefix(self.redis_url, self.prefix)

    def logs(self) -> str:
        parts = []
        for process in [self.sequencer, *self.workers]:
            if process is not None:
                parts.append(f"--- {process.name}\n{process.log_tail()}")
        return "\n".join(parts)


# -- IN-PROCESS HELPERS --------------------------------------------------------------------------


class Admin:
    """A RedisGateway in the test process (its own event loop thread), acting as the system."""

    def __init__(self, portal: BlockingPortal, gateway: RedisGateway) -> None:
        self.portal = portal
        self.gateway = gateway

    def call(self, function, *args) -> Any:
        return self.portal.call(function, *args)

    def submit(self, command: cmd.Command):
        return self.call(self.gateway.submit, command)

    def subscribe(self) -> asyncio.Queue:
        return self.call(_subscribe, self.gateway)

    def next_batch(self, queue: asyncio.Queue, timeout: float = 5.0):
        return self.call(_get, queue, timeout)

    def deposit(self, account_id: int, amount: int) -> None:
        result = self.submit(
            cmd.Deposit(timestamp=0, actor_id=SYSTEM_ACCOUNT_ID, account_id=account_id, amount=amount)
        )
        assert result.ok, result

    def list_capacity_option(self, process: str, week: int = 20, strike: int = 1200) -> str:
        result = self.submit(capacity_option_listing(process, strike, week))
        assert result.ok, result
        return result.data["symbol"]


async def _subscribe(gateway: RedisGateway) -> asyncio.Queue:
    return gateway.subscribe()


async def _get(queue: asyncio.Queue, timeout: float):
    return await asyncio.wait_for(queue.get(), timeout)


@contextlib.contextmanager
def admin_gateway(settings: ApiSettings) -> Iterator[Admin]:
    with start_blocking_portal() as portal:
        gateway = RedisGateway(settings)
        portal.call(gateway.start)
        try:
            yield Admin(portal, gateway)
        finally:
            portal.call(gateway.stop)


class TcpCut:
    """A TCP relay 127.0.0.1:port -> upstream that can be cut (every connection closed, new ones
    refused) and restored on the same port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                # A connection accepted just as the relay was cut must not outlive the cut.
                if self._listener is not listener:
                    for s in (client, upstream):
                        s.close()
                    return
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            listener.close()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.cut()


# -- FIXTURES ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scaleout")


@pytest.fixture(scope="module")
def own_redis(log_dir: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(log_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
