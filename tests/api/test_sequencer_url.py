"""API_SEQUENCER_URL: one setting chooses the sequencer runtime's transport (and its Gateway
client); the older settings still mean what they did, and a contradiction is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import ApiSettings
from api.gateway import EmbeddedGateway
from api.gateways import build_gateway
from api.process_gateway import ProcessGateway
from api.redis_gateway import RedisGateway

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("API_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "url, gateway_class, scheme",
    [
        ("inproc://", EmbeddedGateway, "inproc"),
        ("process://", ProcessGateway, "process"),
        ("redis://127.0.0.1:6390/3", RedisGateway, "redis"),
    ],
)
def test_each_scheme_chooses_its_transport(
    monkeypatch: pytest.MonkeyPatch, url: str, gateway_class: type, scheme: str
) -> None:
    monkeypatch.setenv("API_SEQUENCER_URL", url)
    settings = ApiSettings()
    gateway = build_gateway(settings)
    assert type(gateway) is gateway_class and settings.sequencer_scheme == scheme
    # the older settings follow, so everything that reads them agrees
    assert settings.scale_out == (scheme == "redis")
    assert settings.sequencer_process == (scheme == "process")
    if scheme == "redis":
        assert isinstance(gateway, RedisGateway) and gateway.url == url
        assert settings.redis_url == url  # as API_MODE=worker with API_REDIS_URL


@pytest.mark.parametrize(
    "variables, url",
    [
        ({}, "inproc://"),
        ({"API_SEQUENCER_PROCESS": "true"}, "process://"),
        ({"API_MODE": "worker"}, "redis://127.0.0.1:6379/0"),
        ({"API_MODE": "worker", "API_REDIS_URL": "redis://10.0.0.1:6379/2"}, "redis://10.0.0.1:6379/2"),
        ({"API_MODE": "embedded", "API_SEQUENCER_URL": "inproc://"}, "inproc://"),
        ({"API_MODE": "worker", "API_SEQUENCER_URL": "redis://h:1/0"}, "redis://h:1/0"),
        ({"API_SEQUENCER_PROCESS": "true", "API_SEQUENCER_URL": "process://"}, "process://"),
    ],
)
def test_the_url_is_derived_from_the_older_settings(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], url: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert ApiSettings().sequencer_url == url


@pytest.mark.parametrize(
    "variables, line",
    [
        (
            {"API_MODE": "worker", "API_SEQUENCER_PROCESS": "true"},
            "capex: API_MODE=worker and API_SEQUENCER_PROCESS=true contradict each other",
        ),
        (
            {"API_SEQUENCER_URL": "process://", "API_MODE": "worker"},
            "capex: API_SEQUENCER_URL=process:// contradicts API_MODE=worker",
        ),
        (
            {"API_SEQUENCER_URL": "redis://127.0.0.1:6379/0", "API_SEQUENCER_PROCESS": "true"},
            "capex: API_SEQUENCER_URL=redis://127.0.0.1:6379/0 contradicts API_SEQUENCER_PROCESS=true",
        ),
        (
            {"API_SEQUENCER_URL": "tcp://127.0.0.1:1"},
            "capex: API_SEQUENCER_URL: expected inproc://, process:// or redis://host:port/db",
        ),
    ],
)
def test_contradictory_settings_are_refused_in_one_line(
    tmp_path: Path, variables: dict[str, str], line: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "EXCHANGE_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'exchange.db'}"
    env.update(variables)
    done = subprocess.run(
        [sys.executable, "-m", "capex", "serve"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), done.stderr
    assert not (tmp_path / "exchange.db").exists()  # refused before anything started
