"""The operators' load test runs headless end to end: a real demo server, locust users over REST
and WebSocket, CSV/HTML/JSON reports, and the audits afterwards.

No timing is asserted; the run must make requests of every kind without a failure.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from loadtests.run_load import percentile_ms, seconds


def test_duration_syntax_and_histogram_percentiles():
    assert seconds("8s") == 8 and seconds("2m") == 120 and seconds("1h30m") == 5400 and seconds("45") == 45
    histogram = {"10": 98, "20": 1, "300": 1}
    assert percentile_ms(histogram, 100, 0.5) == 10
    assert percentile_ms(histogram, 100, 0.99) == 20
    assert percentile_ms(histogram, 100, 1.0) == 300
    assert percentile_ms({}, 0, 0.5) is None


def test_run_load_headless(tmp_path: Path):
    out = tmp_path / "loadtest"
    command = [
        sys.executable,
        "-m",
        "loadtests.run_load",
        "--users",
        "4",
        "--duration",
        "8s",
        "--out",
        str(out),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]

    for report in ("report.html", "locust_stats.csv", "locust.json", "summary.json"):
        assert (out / report).stat().st_size > 0, report
    assert "locust" in (out / "report.html").read_text().lower()
    with open(out / "locust_stats.csv", newline="") as handle:
        assert any(row["Name"] == "Aggregated" for row in csv.DictReader(handle))

    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["problems"] == []
    assert summary["requests"] > 0 and summary["failed_requests"] == 0 and summary["failures"] == []
    assert summary["rest_audit"]["ok"] is True
    assert summary["database_audit"]["ok"] is True and "audit: ok" in summary["database_audit"]["output"]
    assert summary["local_server"] is True

    names = {(row["type"], row["name"]) for row in summary["stats"]}
    # creators over REST, market makers over WebSocket order entry, market-data subscribers
    assert any(kind == "GET" and name.startswith("/api/v1/") for kind, name in names)
    assert ("WS", "mass_quote") in names or ("WS", "place") in names
    assert ("WS", "subscribe book") in names
    assert ("WS-recv", "heartbeat delay") in names
    assert all(row["failures"] == 0 for row in summary["stats"])
    assert "requests" in completed.stdout and "audit (capex audit): ok" in completed.stdout
