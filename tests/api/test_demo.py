"""The demo market: the seed through the real app on a fresh SQLite file, its idempotency, the
festival calendar, and `capex serve --demo` as a real process."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.accounts import log_in
from api.config import ApiSettings
from api.errors import ApiError
from demo.seed import DEMO_CASH, DEMO_LOGINS, DEMO_PASSWORD, MATERIALS, demo_seasons, seed_demo
from demo.serve import DatabaseLogins, announcement, create_demo_app
from exchange.accounts import Role
from tests.api.conftest import free_port


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1000


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).date()


# -- CALENDAR -------------------------------------------------------------------------------------


def test_seasons_are_the_weeks_before_the_next_double_11_and_mid_autumn():
    double_11, mid_autumn = demo_seasons(_ms(2026, 11, 24))
    assert double_11.festival == date(2027, 11, 11)
    assert [(_day(s), _day(e)) for s, e in double_11.windows] == [
        (date(2027, 10, 25), date(2027, 11, 1)),
        (date(2027, 11, 1), date(2027, 11, 8)),
    ]
    assert mid_autumn.festival == date(2027, 9, 15)
    assert [(_day(s), _day(e)) for s, e in mid_autumn.windows] == [
        (date(2027, 8, 30), date(2027, 9, 6)),
        (date(2027, 9, 6), date(2027, 9, 13)),
    ]


def test_a_festival_too_close_to_trade_moves_to_the_next_year():
    # 2027-10-15: the Double 11 2027 options would stop exercising on 2027-10-22, a week away
    double_11, mid_autumn = demo_seasons(_ms(2027, 10, 15))
    assert double_11.festival == date(2028, 11, 11)
    assert mid_autumn.festival == date(2028, 10, 3)
    # early in a year, that year's festivals are still ahead
    double_11, mid_autumn = demo_seasons(_ms(2030, 1, 10))
    assert (double_11.festival, mid_autumn.festival) == (date(2030, 11, 11), date(2030, 9, 12))


# -- THE SEED THROUGH THE REAL APP ----------------------------------------------------------------


def _start(settings: ApiSettings):
    app = create_demo_app(settings)
    return app, TestClient(app)


def test_seed_lists_a_two_sided_market_with_history(api_settings: ApiSettings):
    app, client = _start(api_settings)
    with client:
        call = client.portal.call
        gateway = app.state.gateway
        info = app.state.demo_info
        assert app.state.demo is True
        assert info.seeded and info.logins == DEMO_LOGINS

        instruments = call(gateway.query, "instruments")
        assert sorted(item["symbol"] for item in instruments) == list(info.symbols)
        kinds = {item["kind"] for item in instruments}
        assert kinds == {"CAP", "MAT", "SWP"}
        assert all(item["status"] == "trading" for item in instruments)

        # capacity options on both seasons' windows, several strikes per process and window
        now = int(time.time() * 1000)
        expected_windows = {window for season in demo_seasons(now) for window in season.windows}
        caps = [item for item in instruments if item["kind"] == "CAP"]
        windows = {(item["terms"]["window_start"], item["terms"]["window_end"]) for item in caps}
        assert windows == expected_windows
        processes = {item["terms"]["process"] for item in caps}
        assert processes == {"notebook-a5-print", "sticker-die-cut", "pen-assembly"}
        for process in processes:
            for window in windows:
                strikes = {
                    item["terms"]["strike"]
                    for item in caps
                    if item["terms"]["process"] == process
                    and (item["terms"]["window_start"], item["terms"]["window_end"]) == window
                }
                assert len(strikes) >= 2, (process, window)
        assert {item["terms"]["index"] for item in instruments if item["kind"] == "MAT"} == {
            "INK-BLACK-SPECIAL",
            "PAPER-ART-SPECIAL",
        }
        (swap,) = [item for item in instruments if item["kind"] == "SWP"]
        give = call(gateway.query, "instrument", swap["terms"]["give_symbol"])
        receive = call(gateway.query, "instrument", swap["terms"]["receive_symbol"])
        assert give["terms"]["process"] == receive["terms"]["process"]
        assert give["terms"]["window_start"] < receive["terms"]["window_start"]

        # every book has resting orders on both sides, and every instrument has traded
        views = call(gateway.book_views)
        assert {view.symbol for view in views} == set(info.symbols)
        for view in views:
            assert view.bids and view.asks, view
            assert view.bids[0][0] < view.asks[0][0], view
        assert all(item["last_trade_price"] is not None for item in instruments)

        # an index history for both materials, in time order, ending at the specified level
        for material in MATERIALS:
            points = call(gateway.query, "index_prices", material.index)
            assert [price for _, price in points] == list(material.history)
            stamps = [ts for ts, _ in points]
            assert stamps == sorted(stamps) and stamps[-1] > stamps[0]

        # accounts: funded as documented, writers' capacity locked by their resting sells
        credentials = {
            login.username: call(log_in, app.state.db_engine, login.username, login.password, 60)[1]
            for login in DEMO_LOGINS
        }
        assert len(set(credentials.values())) == len(DEMO_LOGINS)
        for login in DEMO_LOGINS:
            account = call(gateway.query, "account", credentials[login.username])
            assert (account["name"], account["role"]) == (login.username, login.role)
            cash = account["available"] + account["locked"]
            if login.username in DEMO_CASH:
                assert cash > 0, login
            else:
                assert cash == 0, login
        for login in DEMO_LOGINS:
            if login.role == Role.SUPPLIER and login.username != "demo-materials":
                capacity = call(gateway.query, "capacity", credentials[login.username])
                assert capacity and all(row["locked"] > 0 for row in capacity), login
        maker_positions = call(gateway.query, "positions", credentials["demo-marketmaker"])
        assert {row["symbol"] for row in maker_positions if row["position"] > 0} == {
            item["symbol"] for item in caps
        }
        assert call(gateway.query, "audit") == []
        with pytest.raises(ApiError) as refused:
            call(log_in, app.state.db_engine, "demo-creator", "not-the-password", 60)
        assert refused.value.status == 401

        # a second seed on the same exchange submits nothing
        seq = call(gateway.query, "last_seq")
        again = call(seed_demo, gateway, DatabaseLogins(gateway, app.state.db_engine), now)
        assert not again.seeded
        assert again.logins == DEMO_LOGINS and again.symbols == info.symbols
        assert call(gateway.query, "last_seq") == seq

    # a restart on the same database recovers the market and seeds nothing
    app, client = _start(api_settings)
    with client:
        call = client.portal.call
        assert not app.state.demo_info.seeded
        assert call(app.state.gateway.query, "last_seq") == seq
        assert app.state.demo_info.symbols == info.symbols
        assert call(app.state.gateway.query, "audit") == []


def test_a_database_the_demo_did_not_seed_is_left_alone(app, client, market):
    symbol = market.list_capacity_option()
    call = client.portal.call
    seq = call(app.state.gateway.query, "last_seq")
    logins = DatabaseLogins(app.state.gateway, app.state.db_engine)
    info = call(seed_demo, app.state.gateway, logins, int(time.time() * 1000))
    assert (info.seeded, info.logins, info.symbols) == (False, (), (symbol,))
    assert call(app.state.gateway.query, "last_seq") == seq
    assert "not seeded by the demo" in announcement("http://127.0.0.1:8000", info)


def test_the_capex_script_runs_the_api_command_line():
    # installed by `pip install -e .` beside the interpreter ([project.scripts] in pyproject.toml)
    script = shutil.which("capex", path=str(Path(sys.executable).parent))
    assert script is not None, "the capex script is not installed: run pip install -e ."
    done = subprocess.run([script, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "--demo" in done.stdout


# -- THE ONE COMMAND ------------------------------------------------------------------------------


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def test_serve_demo_starts_seeds_prints_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    env.pop("API_MODE", None)
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "capex", "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    base_url = f"http://127.0.0.1:{port}"
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("demo-marketmaker" in line for line in printed):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, (printed, (tmp_path / "server.log").read_text())
            printed.append(line)
        text = "".join(printed)
        assert f"{base_url}/" in text and f"{base_url}/docs" in text
        for login in DEMO_LOGINS:
            assert login.username in text
        assert DEMO_PASSWORD in text

        response = httpx.get(f"{base_url}/api/v1/openapi.json", timeout=10)
        assert response.status_code == 200
        assert response.json()["info"]["title"]
        assert httpx.get(f"{base_url}/docs", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
    # uvicorn shuts the app down, then re-raises the signal it caught: the exit is by SIGTERM
    server_log = (tmp_path / "server.log").read_text()
    assert returncode in (0, -signal.SIGTERM), server_log
    assert "Application shutdown complete" in server_log
    assert (tmp_path / "demo.db").exists()
    assert not (tmp_path / "var").exists()  # the URL from the environment was used
