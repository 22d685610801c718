"""`capex admin create-operator`: the first operator of a fresh database, made by the command line
(a real subprocess) with no server running; then that operator logs in to a real app on the same
database and creates an index feed. Against SQLite and PostgreSQL (embedded mode), and through a
real sequencer process over Redis (worker mode)."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from api.config import ApiSettings
from api.main import create_app
from tests.api.scaleout.conftest import REDIS_URL, Cluster, delete_prefix, postgres_schema, require_redis

REPO = Path(__file__).resolve().parents[2]
API = "/api/v1"
PASSWORD = "first-operator-pw"


def admin(env: dict[str, str], *args: str, stdin: str = f"{PASSWORD}\n") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "capex", "admin", "create-operator", *args],
        input=stdin,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "EXCHANGE_"))}
    env.update({"DATABASE_URL": database_url, "API_MODE": "embedded", **extra})
    return env


def assert_refused(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("capex: ") and words in lines[0], result.stderr


def credentials(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT username, account_id FROM api_credentials"))
            return {username: account_id for username, account_id in rows}
    finally:
        engine.dispose()


def operator_creates_an_index_feed(database_url: str) -> None:
    """The operator made by the command logs in to the API and creates an index feed."""
    with TestClient(create_app(ApiSettings(database_url=database_url, mode="embedded"))) as client:
        login = client.post(f"{API}/auth/login", json={"username": "root-op", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert login.json()["role"] == "operator"
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        body = {"username": "ink-feed", "password": "feed-password-1", "role": "index_feed"}
        created = client.post(f"{API}/operator/accounts", json=body, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["role"] == "index_feed"


def test_create_operator_on_a_fresh_sqlite_database(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'exchange.db'}"
    env = environment(url)
    result = admin(env, "root-op", "--password-stdin")
    assert result.returncode == 0, result.stderr
    assert "root-op" in result.stdout and result.stderr == ""
    assert set(credentials(url)) == {"root-op"}
    operator_creates_an_index_feed(url)

    # stdin that is not a terminal is read without the flag too; the name is now taken
    assert_refused(admin(env, "root-op"), "taken")
    assert set(credentials(url)) == {"root-op", "ink-feed"}


@pytest.mark.parametrize(
    "args, stdin, words",
    [
        (("Not A Name", "--password-stdin"), f"{PASSWORD}\n", "bad username"),
        (("ab", "--password-stdin"), f"{PASSWORD}\n", "bad username"),
        (("short-pw", "--password-stdin"), "short\n", "8 to 128 characters"),
        (("empty-pw", "--password-stdin"), "", "8 to 128 characters"),
        (("long-pw", "--password-stdin"), "x" * 129 + "\n", "8 to 128 characters"),
    ],
)
def test_refusals_are_one_line(tmp_path: Path, args: tuple[str, ...], stdin: str, words: str):
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    assert_refused(admin(environment(url), *args, stdin=stdin), words)


def test_bad_settings_and_usage_exit_2(tmp_path: Path):
    env = environment(f"sqlite:///{tmp_path / 'exchange.db'}", API_MODE="cluster")
    result = admin(env, "root-op", "--password-stdin")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "capex: API_MODE: expected one of embedded, worker, got 'cluster'"
    result = subprocess.run(
        [sys.executable, "-m", "capex", "admin", "create-operator"],
        env=environment(f"sqlite:///{tmp_path / 'exchange.db'}"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def _on_a_terminal(env: dict[str, str], username: str, answers: list[str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its controlling terminal and stdin (getpass reads
    /dev/tty with echo off), typing `answers` at its prompts. (status, everything it printed)."""
    master, slave = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "capex", "admin", "create-operator", username],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            while pending and output.count(b": ") > len(answers) - len(pending):
                os.write(master, pending.pop(0).encode() + b"\n")
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return status, output.decode(errors="replace")


def test_password_prompt_asks_twice(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    env = environment(url)
    status, output = _on_a_terminal(env, "typo-op", [PASSWORD, PASSWORD + "x"])
    assert status == 1, output
    assert "the two passwords differ" in output and "Traceback" not in output
    assert PASSWORD not in output  # not echoed
    assert not (tmp_path / "exchange.db").exists()  # refused before the exchange was opened

    status, output = _on_a_terminal(env, "root-op", [PASSWORD, PASSWORD])
    assert status == 0, output
    assert output.count("assword") >= 2 and PASSWORD not in output
    operator_creates_an_index_feed(url)


def test_create_operator_on_postgresql():
    with postgres_schema() as url:
        env = environment(url)
        result = admin(env, "root-op", "--password-stdin")
        assert result.returncode == 0, result.stderr
        assert set(credentials(url)) == {"root-op"}
        operator_creates_an_index_feed(url)
        assert_refused(admin(env, "root-op", "--password-stdin"), "taken")


def test_worker_mode_goes_through_the_sequencer_process(tmp_path: Path):
    require_redis()
    with postgres_schema() as url:
        cluster = Cluster(tmp_path, url, REDIS_URL, workers=0, timeout_seconds=2.0)
        env = environment(url)
        env.update({k: v for k, v in cluster.env.items() if k.startswith(("API_", "DATABASE_URL"))})
        try:
            # no sequencer process: refused before anything is written
            assert_refused(admin(env, "root-op", "--password-stdin"), "capex sequencer")
            cluster.start_sequencer()
            result = admin(env, "root-op", "--password-stdin")
            assert result.returncode == 0, result.stderr
            assert "through the sequencer process" in result.stdout
            assert set(credentials(url)) == {"root-op"}
            assert_refused(admin(env, "root-op", "--password-stdin"), "taken")
        finally:
            if cluster.sequencer is not None:
                cluster.sequencer.stop()
            delete_prefix(REDIS_URL, cluster.prefix)
        # the sequencer journaled the account: an embedded server recovers it
        operator_creates_an_index_feed(url)
