"""The default WebSocket Origin check (API_ALLOWED_ORIGINS unset): a server on any port accepts
its own page's origin and refuses `http://127.0.0.1:8000` and foreign sites, with real uvicorn
servers and real WebSocket handshakes (api/ws/origins.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from api.config import ApiSettings
from api.main import UVICORN_OPTIONS, create_app
from api.ws.origins import own_origin
from tests.api.conftest import LiveServer, capex_serve, free_port
from tests.api.ws.conftest import run

REPO = Path(__file__).resolve().parents[3]


async def handshake(url: str, origin: str | None) -> int:
    """101 when the connection opened (and answered a ping), else the refusal's HTTP status."""
    try:
        async with connect(url, origin=origin, open_timeout=10) as websocket:
            await websocket.recv()  # the welcome
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def statuses(url: str, origins: list[str | None]) -> list[int]:
    async def all_of_them() -> list[int]:
        return [await handshake(url, origin) for origin in origins]

    return run(all_of_them())


@pytest.fixture
def default_server(tmp_path: Path):
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'exchange.db'}")
    assert settings.allowed_origins is None
    server = LiveServer(create_app(settings), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_on_any_port_accepts_its_own_origin_only(default_server: LiveServer):
    port = default_server.port
    assert port != 8000
    assert statuses(
        default_server.ws_url,
        [
            f"http://127.0.0.1:{port}",
            f"http://localhost:{port}",
            f"http://localhost:{port}/",
            None,  # not a browser
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://evil.example",
            f"http://evil.example:{port}",
            f"http://127.0.0.1.evil.example:{port}",
            f"ftp://127.0.0.1:{port}",
            "null",
        ],
    ) == [101, 101, 101, 101, 403, 403, 403, 403, 403, 403, 403]


def test_configured_origins_replace_the_default(tmp_path: Path):
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}", allowed_origins=["https://app.example"]
    )
    server = LiveServer(create_app(settings), free_port())
    server.start()
    try:
        assert statuses(server.ws_url, ["https://app.example", f"http://127.0.0.1:{server.port}"]) == [
            101,
            403,
        ]
    finally:
        server.stop()


def _network_address() -> str | None:
    """An address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_on_all_interfaces_the_page_must_come_from_the_host_it_asked(tmp_path: Path):
    """Bound to 0.0.0.0: reached over the network, the Origin must be the Host the request was
    sent to; reached over loopback, the loopback rule holds."""
    address = _network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'exchange.db'}")
    server = LiveServer(create_app(settings), free_port())
    server.server = uvicorn.Server(
        uvicorn.Config(server.app, host="0.0.0.0", port=server.port, log_level="warning", **UVICORN_OPTIONS)
    )
    server.start()
    port = server.port
    try:
        assert statuses(
            f"ws://{address}:{port}/ws",
            [f"http://{address}:{port}", f"https://{address}:{port}", "http://evil.example", None],
        ) == [101, 101, 403, 101]
        # a page on this host's loopback name is not this request's host
        assert statuses(f"ws://{address}:{port}/ws", [f"http://127.0.0.1:{port}"]) == [403]
        assert statuses(server.ws_url, [f"http://localhost:{port}", f"http://{address}:{port}"]) == [
            101,
            403,
        ]
    finally:
        server.stop()


@pytest.mark.parametrize(
    "origin, server, host, allowed",
    [
        ("http://127.0.0.1:18940", ("127.0.0.1", 18940), "127.0.0.1:18940", True),
        ("http://[::1]:18940", ("::1", 18940), "[::1]:18940", True),
        ("http://localhost:18940", ("::1", 18940), "[::1]:18940", True),
        ("http://127.0.0.1:8000", ("127.0.0.1", 18940), "127.0.0.1:18940", False),
        # DNS rebinding: a foreign name that resolves to loopback, Host and Origin agreeing
        ("http://evil.example:18940", ("127.0.0.1", 18940), "evil.example:18940", False),
        ("http://exchange.example", ("10.0.0.5", 8000), "exchange.example", True),
        ("https://exchange.example", ("10.0.0.5", 8000), "exchange.example", True),
        ("https://exchange.example:443", ("10.0.0.5", 8000), "exchange.example", True),
        ("http://exchange.example:8000", ("10.0.0.5", 8000), "exchange.example:8000", True),
        ("http://evil.example", ("10.0.0.5", 8000), "exchange.example", False),
        ("http://exchange.example:9000", ("10.0.0.5", 8000), "exchange.example:8000", False),
        ("http://exchange.example", ("10.0.0.5", 8000), None, False),
        ("http://user@exchange.example", ("10.0.0.5", 8000), "exchange.example", False),
        ("http://exchange.example/path", ("10.0.0.5", 8000), "exchange.example", False),
        ("http://exchange.example", None, "exchange.example", True),  # a Unix socket behind a proxy
    ],
)
def test_own_origin_rules(origin: str, server, host: str | None, allowed: bool):
    assert own_origin(origin, server, host) is allowed


def test_capex_serve_on_another_port_accepts_its_own_web_client(tmp_path: Path):
    """`capex serve --port N` used to refuse its own page's socket (403) and accept :8000."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "EXCHANGE_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'exchange.db'}"
    with capex_serve(tmp_path, env, port):
        url = f"ws://127.0.0.1:{port}/ws"
        assert statuses(
            url, [f"http://127.0.0.1:{port}", f"http://localhost:{port}", "http://127.0.0.1:8000"]
        ) == [101, 101, 403]


def test_a_refused_handshake_is_answered_in_the_error_shape(default_server: LiveServer):
    import json

    async def refused() -> dict:
        try:
            async with connect(default_server.ws_url, origin="https://evil.example", open_timeout=10):
                raise AssertionError("the handshake was accepted")
        except InvalidStatus as exc:
            assert exc.response.status_code == 403
            assert exc.response.headers["content-type"].startswith("application/json")
            return json.loads(exc.response.body)

    body = run(refused())
    assert body["error"]["status"] == 403 and body["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert "evil.example" in body["error"]["message"]
