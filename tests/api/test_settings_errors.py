"""Settings: list settings read as a comma list or a JSON list; a bad setting at start-up is one
line on stderr naming the variable and the expected format, status 2, no traceback (the real
command lines, as subprocesses)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.config import ApiSettings
from exchange.settings import ExchangeSettings
from exchange.settings_support import describe_settings_error, env_name
from tests.api.conftest import capex_serve, free_port

REPO = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "EXCHANGE_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'exchange.db'}"
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "variables, line",
    [
        ({"API_PORT": "abc"}, "capex: API_PORT: expected an integer, got 'abc'"),
        ({"API_MODE": "cluster"}, "capex: API_MODE: expected one of embedded, worker, got 'cluster'"),
        ({"API_RATE_LIMIT_PER_IP": "fast"}, "capex: API_RATE_LIMIT_PER_IP: expected a number, got 'fast'"),
        (
            {"API_SEQUENCER_PROCESS": "maybe"},
            "capex: API_SEQUENCER_PROCESS: expected true or false (also 1/0, yes/no, on/off), got 'maybe'",
        ),
        (
            {"API_OPEN_REGISTRATION_ROLES": "creator,wizard"},
            "capex: API_OPEN_REGISTRATION_ROLES: expected a comma-separated list of roles among "
            "creator, index_feed, market_maker, operator, supplier; got 'wizard'",
        ),
        (
            {"API_OPEN_REGISTRATION_ROLES": '["creator",'},
            "capex: API_OPEN_REGISTRATION_ROLES: expected a comma-separated list (or a JSON list of "
            """strings), got '["creator",' (not valid JSON)""",
        ),
        (
            {"API_ALLOWED_ORIGINS": "127.0.0.1:8000"},
            "capex: API_ALLOWED_ORIGINS: expected a comma-separated list of origins "
            "(scheme://host[:port], no path) or *; got '127.0.0.1:8000'",
        ),
        (
            {"EXCHANGE_GROUP_COMMIT_SIZE": "0"},
            "capex: EXCHANGE_GROUP_COMMIT_SIZE: expected an integer >= 1, got '0'",
        ),
    ],
)
def test_capex_serve_tells_a_bad_setting_in_one_line(tmp_path: Path, variables: dict[str, str], line: str):
    result = run(["-m", "capex", "serve", "--port", str(free_port())], environment(tmp_path, **variables))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == line
    assert not (tmp_path / "exchange.db").exists()  # nothing started


def test_every_bad_variable_has_its_line(tmp_path: Path):
    env = environment(tmp_path, API_PORT="x", API_WS_QUEUE_SIZE="y")
    result = run(["-m", "capex", "sequencer"], env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "capex: API_PORT: expected an integer, got 'x'",
        "capex: API_WS_QUEUE_SIZE: expected an integer, got 'y'",
    ]


def test_exchange_audit_tells_a_bad_setting_in_one_line(tmp_path: Path):
    result = run(["-m", "capex", "audit"], environment(tmp_path, EXCHANGE_SNAPSHOT_INTERVAL="-1"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "capex: EXCHANGE_SNAPSHOT_INTERVAL: expected an integer >= 0, got '-1'"


@pytest.mark.parametrize(
    "value, roles",
    [
        ("creator,supplier", ["creator", "supplier"]),
        (" creator , operator ,", ["creator", "operator"]),
        ('["market_maker", "index_feed"]', ["market_maker", "index_feed"]),
        ("", []),
    ],
)
def test_list_settings_take_a_comma_list_or_a_json_list(monkeypatch, value: str, roles: list[str]):
    monkeypatch.setenv("API_OPEN_REGISTRATION_ROLES", value)
    monkeypatch.setenv("API_ALLOWED_ORIGINS", "http://a.example:8080, https://b.example")
    settings = ApiSettings()
    assert settings.open_registration_roles == roles
    assert settings.allowed_origins == ["http://a.example:8080", "https://b.example"]
    monkeypatch.setenv("API_ALLOWED_ORIGINS", '["*"]')
    assert ApiSettings().allowed_origins == ["*"]
    monkeypatch.delenv("API_ALLOWED_ORIGINS")
    assert ApiSettings().allowed_origins is None  # unset: the server's own origin


def test_describe_settings_error(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EXCHANGE_SNAPSHOT_INTERVAL", "many")
    with pytest.raises(Exception) as caught:
        ExchangeSettings()
    assert describe_settings_error(caught.value, ExchangeSettings) == [
        "EXCHANGE_SNAPSHOT_INTERVAL: expected an integer >= 0, got 'many'"
    ]


def test_a_comma_list_starts_the_server(tmp_path: Path):
    """`API_OPEN_REGISTRATION_ROLES=creator,supplier capex serve` used to crash at start-up."""
    port = free_port()
    env = environment(tmp_path, API_OPEN_REGISTRATION_ROLES="creator,supplier")
    base = f"http://127.0.0.1:{port}/api/v1"
    with capex_serve(tmp_path, env, port):
        body = {"username": "paper-crane", "password": "password-123", "role": "supplier"}
        assert httpx.post(f"{base}/auth/register", json=body, timeout=10).status_code == 201
        body = {"username": "quoter", "password": "password-123", "role": "market_maker"}
        refused = httpx.post(f"{base}/auth/register", json=body, timeout=10)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "ROLE_NOT_ALLOWED"


def test_docs_list_every_api_setting():
    """docs/api.md, Settings: every variable the one settings object reads, the exchange section's
    included."""
    text = (REPO / "docs" / "api.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    for name, field in ApiSettings.model_fields.items():
        if field.annotation is ExchangeSettings:
            continue  # the section: its own variables below
        assert env_name(ApiSettings, name) in documented, name
    for name in ExchangeSettings.model_fields:
        assert env_name(ExchangeSettings, name) in documented, name
