"""The operators' load test: one headless command for a mixed scenario, reports and the audit.

    python -m loadtests.run_load [--users N] [--duration 30s] [--url URL] [--database-url URL]
                                 [--workers N] [--spawn-rate R] [--out DIR] [--max-error-rate F]

1. Without `--url` it starts a local server on `--database-url`, by default a fresh SQLite file
   `<out>/exchange.db` (an existing one is replaced):
   - the embedded default: the demo market (`capex serve --demo` on a free 127.0.0.1
     port), seeded into an empty database;
   - with `--workers N`, the scale-out mode: the demo seeded once by the embedded server, then a
     sequencer process (`capex sequencer`) and N API worker processes sharing one port
     (`uvicorn api.main:create_app --factory --workers N`, `API_MODE=worker`) over Redis
     (`--redis-url`, keys under a prefix of this run's own, deleted afterwards).
   The server's per-IP rate limit is raised, since every simulated user comes from 127.0.0.1.
   With `--url` it targets that server, which needs an operator login
   (`--operator-username/--operator-password`, default the demo's).
2. Opens and funds the accounts the users will take (registration hashes passwords, which is not
   the load to measure), then runs loadtests/locustfile.py headless (`-u N -r R -t DURATION`):
   creators over REST, market makers quoting over WebSocket, market-data subscribers.
3. Prints throughput and latency percentiles per request and in total; writes
   `<out>/locust_stats.csv` (and locust's other CSV files), `<out>/report.html`,
   `<out>/locust.json` (locust's final statistics) and `<out>/summary.json`. `<out>` is
   ./var/loadtest by default.
4. Audits: `GET /api/v1/operator/audit` (the sequencer's invariants in memory and the SQL
   projections) while the server runs, then, with the database known, stops the local server and
   runs `capex audit --database-url ...` on it.

Exit status 0 when requests were made, the error rate is at most `--max-error-rate` (default
0.01) and every audit passed; 1 otherwise; 2 when the server or locust could not run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from loadtests.bench_deployment import Process, free_port

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
DEFAULT_OUT = Path("var/loadtest")


def log(message: str) -> None:
    print(f"[run_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seconds(duration: str) -> float:
    """locust's run-time syntax: 30, 30s, 2m, 1h30m."""
    text = duration.strip().lower()
    if text.isdigit():
        return float(text)
    total, number = 0.0, ""
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in "hms" and number:
            total += float(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
        else:
            raise argparse.ArgumentTypeError(f"not a duration: {duration!r} (use 30s, 2m, 1h30m)")
    if number:
        raise argparse.ArgumentTypeError(f"not a duration: {duration!r} (a unit is missing)")
    return total


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            # every simulated user comes from 127.0.0.1: the per-IP bucket would throttle them all
            "API_RATE_LIMIT_PER_IP": "1000000",
            "API_RATE_LIMIT_PER_IP_BURST": "1000000",
        }
    )
    return env


def wait_healthy(url: str, processes: list[Process], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited ({process.popen.returncode}); see {process.log_path}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{url} did not answer /health within {timeout:.0f} s; see {out_logs(processes)}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def out_logs(processes: list[Process]) -> str:
    return ", ".join(str(p.log_path) for p in processes)


class DemoServer:
    """The embedded default: `capex serve --demo` (seeds the demo market into an empty
    database) in a subprocess."""

    def __init__(self, database_url: str, out: Path) -> None:
        self.database_url = database_url
        self.out = out
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[Process] = []

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "capex",
            "serve",
            "--demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.processes.append(
            Process("server", command, server_env(self.database_url), self.out / "server.log")
        )
        wait_healthy(self.url, self.processes)

    def stop(self) -> dict[str, int | None]:
        # SIGINT: uvicorn's graceful shutdown (everything acknowledged is journaled)
        return {p.name: p.stop(30) for p in reversed(self.processes)}


class ScaleOutServer:
    """The scale-out mode on this machine (docs/scale-out.md): the demo seeded once by the embedded
    server, then `capex sequencer` and `uvicorn api.main:create_app --factory --workers N`
    (API_MODE=worker, N worker processes sharing one port) over Redis, under a key prefix of this
    run's own (deleted afterwards)."""

    def __init__(self, database_url: str, out: Path, workers: int, redis_url: str) -> None:
        self.database_url = database_url
        self.out = out
        self.workers = workers
        self.redis_url = redis_url
        self.prefix = f"loadtest-{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[Process] = []

    def start(self) -> None:
        import redis

        seed = DemoServer(self.database_url, self.out)
        log("seeding the demo market with the embedded server")
        try:
            seed.start()
        finally:
            seed.stop()
        env = server_env(self.database_url)
        env.update({"API_REDIS_URL": self.redis_url, "API_REDIS_PREFIX": self.prefix})
        self.processes.append(
            Process(
                "sequencer", [sys.executable, "-m", "capex", "sequencer"], env, self.out / "sequencer.log"
            )
        )
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            deadline = time.monotonic() + 90
            while not client.exists(f"{self.prefix}:sequencer:heartbeat"):
                self.processes[0].check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sequencer did not start; see {self.processes[0].log_path}")
                time.sleep(0.1)
        finally:
            client.close()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--ws-max-size",
            str(1 << 20),
        ]
        self.processes.append(
            Process("workers", command, dict(env, API_MODE="worker"), self.out / "workers.log")
        )
        wait_healthy(self.url, self.processes)

    def stop(self) -> dict[str, int | None]:
        # the workers first (their sessions close), then the sequencer (finishes its group)
        status = {p.name: p.stop(30) for p in reversed(self.processes)}
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception as exc:  # the run's result does not depend on the cleanup
            log(f"could not delete the Redis keys {self.prefix}:*: {exc}")
        return status


def prepare_accounts(url: str, args: argparse.Namespace, path: Path) -> dict[str, int]:
    """Open and fund the accounts the users will take (as the locustfile would), before the run:
    registration and login hash passwords (Argon2, deliberately slow), which is not the load to
    measure. Written to `path` for the locustfile's --accounts-file."""
    # locust gives creators : market makers : market data = 2 : 1 : 1 of the users (weights)
    wanted = {"creator": -(-args.users // 2) + 1, "market_maker": -(-args.users // 4) + 1}
    with httpx.Client(base_url=url, timeout=120) as client:
        login = client.post(
            "/api/v1/auth/login",
            json={"username": args.operator_username, "password": args.operator_password},
        )
        login.raise_for_status()
        operator = {"Authorization": f"Bearer {login.json()['token']}"}

        def open_one(role: str) -> dict[str, Any]:
            username = f"lt-{role.replace('_', '')}-{uuid.uuid4().hex[:12]}"
            password = "load-test-password"
            registered = client.post(
                "/api/v1/auth/register", json={"username": username, "password": password, "role": role}
            )
            registered.raise_for_status()
            account_id = registered.json()["account_id"]
            token = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            token.raise_for_status()
            client.post(
                "/api/v1/operator/deposits",
                json={"account_id": account_id, "amount": 10**10},
                headers=operator,
            ).raise_for_status()
            return {"account_id": account_id, "token": token.json()["token"]}

        with ThreadPoolExecutor(max_workers=4) as pool:
            accounts = {role: list(pool.map(open_one, [role] * count)) for role, count in wanted.items()}
    path.write_text(json.dumps(accounts))
    return {role: len(found) for role, found in accounts.items()}


def run_locust(args: argparse.Namespace, url: str, out: Path, accounts_file: Path | None) -> int:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate or args.users),
        "-t",
        args.duration,
        "--stop-timeout",
        "5",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "report.html"),
        "--json-file",
        str(out / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--operator-username",
        args.operator_username,
        "--operator-password",
        args.operator_password,
    ]
    if accounts_file is not None:
        command += ["--accounts-file", str(accounts_file)]
    log(f"locust: {args.users} users for {args.duration} against {url}")
    limit = seconds(args.duration) + 120
    with open(out / "locust.log", "wb") as locust_log:
        try:
            completed = subprocess.run(command, stdout=locust_log, stderr=subprocess.STDOUT, timeout=limit)
        except subprocess.TimeoutExpired:
            log(f"locust did not finish within {limit:.0f} s")
            return -1
    return completed.returncode


def percentile_ms(response_times: dict[str, int], count: int, fraction: float) -> float | None:
    """A percentile of locust's response-time histogram ({rounded ms: count})."""
    if not count:
        return None
    wanted = fraction * count
    seen = 0
    for value in sorted(response_times, key=float):
        seen += response_times[value]
        if seen >= wanted:
            return float(value)
    return float(max(response_times, key=float))


def stats_row(kind: str, name: str, entries: list[dict[str, Any]], span: float) -> dict[str, Any]:
    """One line of the report; rates are over `span`, the whole run (first to last request), as
    locust's own total."""
    histogram: dict[str, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            histogram[value] = histogram.get(value, 0) + count
    requests = sum(e["num_requests"] for e in entries)
    timed = sum(histogram.values())
    total_time = sum(e["total_response_time"] for e in entries)
    return {
        "type": kind,
        "name": name,
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "requests_per_s": round(requests / span, 2) if span > 0 else float(requests),
        "p50_ms": percentile_ms(histogram, timed, 0.50),
        "p95_ms": percentile_ms(histogram, timed, 0.95),
        "p99_ms": percentile_ms(histogram, timed, 0.99),
        "max_ms": max((e["max_response_time"] or 0 for e in entries), default=None),
        "average_ms": round(total_time / timed, 2) if timed else None,
    }


def read_stats(path: Path) -> list[dict[str, Any]]:
    """Per request name and in total, from locust's final statistics (`--json-file`; the CSV files
    are written once a second while locust runs and may miss the last second)."""
    entries = json.loads(path.read_text())
    entries.sort(key=lambda e: (e["method"] or "", e["name"]))
    if not entries:
        return []
    span = max(e["last_request_timestamp"] or 0 for e in entries) - min(e["start_time"] for e in entries)
    rows = [stats_row(e["method"] or "", e["name"], [e], span) for e in entries]
    rows.append(stats_row("", "Aggregated", entries, span))
    return rows


def read_failures(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [
            {
                "method": r["Method"],
                "name": r["Name"],
                "error": r["Error"],
                "occurrences": int(r["Occurrences"]),
            }
            for r in csv.DictReader(handle)
        ]


def render(rows: list[dict[str, Any]]) -> str:
    header = f"{'type':<8} {'name':<52} {'requests':>9} {'fails':>6} {'req/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>8}"
    lines = [header, "-" * len(header)]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    for row in rows:
        name = row["name"] if len(row["name"]) <= 52 else row["name"][:49] + "..."
        lines.append(
            f"{row['type']:<8} {name:<52} {row['requests']:>9,} {row['failures']:>6,} {row['requests_per_s']:>8.1f} "
            f"{cell(row['p50_ms']):>7} {cell(row['p95_ms']):>7} {cell(row['p99_ms']):>7} {cell(row['max_ms']):>8}"
        )
    lines.append("(latencies in ms; WS-recv rows: server_time to arrival of server-stamped messages)")
    return "\n".join(lines)


def rest_audit(url: str, username: str, password: str) -> dict[str, Any]:
    """`GET /api/v1/operator/audit` with the operator's session: {"ok", ...} or {"ok": False, "error"}."""
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            login = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            login.raise_for_status()
            answer = client.get(
                "/api/v1/operator/audit", headers={"Authorization": f"Bearer {login.json()['token']}"}
            )
            answer.raise_for_status()
            audit: dict[str, Any] = answer.json()
            return audit
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def database_audit(database_url: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "capex", "audit", "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {
        "ok": completed.returncode == 0,
        "exit": completed.returncode,
        "output": (completed.stdout + completed.stderr).strip()[-2000:],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--users", type=int, default=30, help="simulated users (creators : makers : data = 2 : 1 : 1)"
    )
    parser.add_argument(
        "--spawn-rate", type=float, default=None, help="users started per second (default: all at once)"
    )
    parser.add_argument("--duration", default="30s", help="how long the load runs (locust syntax: 30s, 2m)")
    parser.add_argument("--url", default=None, help="target this server instead of starting one")
    parser.add_argument(
        "--database-url",
        default=None,
        help="the server's database: the local server's, and what the audit reads",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="reports go here (default ./var/loadtest)"
    )
    parser.add_argument(
        "--max-error-rate", type=float, default=0.01, help="failures / requests above this fail the run"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: the embedded demo server; N: the scale-out mode, a sequencer process and N API "
        "workers over Redis (on --database-url; PostgreSQL for more than one machine)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the bus of --workers")
    parser.add_argument("--operator-username", default="demo-operator")
    parser.add_argument("--operator-password", default="capex-demo")
    args = parser.parse_args(argv)
    seconds(args.duration)  # refuse a bad duration before anything starts
    if args.url and args.workers:
        parser.error("--workers starts a local scale-out deployment; with --url the server is yours")
    if args.users < 1:
        parser.error("--users must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("locust_*.csv"), out / "locust.json", out / "report.html", out / "summary.json"]:
        stale.unlink(missing_ok=True)
    server: DemoServer | ScaleOutServer | None = None
    database_url = args.database_url
    url = args.url
    summary: dict[str, Any] = {"users": args.users, "duration": args.duration}
    try:
        if url is None:
            if database_url is None:
                database = (out / "exchange.db").resolve()
                for path in out.glob("exchange.db*"):
                    path.unlink()
                database_url = f"sqlite:///{database}"
            if args.workers:
                server = ScaleOutServer(database_url, out, args.workers, args.redis_url)
                log(
                    f"starting the scale-out mode ({args.workers} workers, Redis {args.redis_url}) on {database_url}"
                )
            else:
                server = DemoServer(database_url, out)
                log(f"starting the demo server on {database_url}")
            server.start()
            url = server.url
            log(f"server up at {url}")
        summary.update(url=url, database_url=database_url, local_server=server is not None)
        accounts_file: Path | None
        accounts_file = out / "accounts.json"
        try:
            prepared = prepare_accounts(url, args, accounts_file)
            log(f"accounts opened and funded: {prepared}")
        except httpx.HTTPError as exc:
            # a server without that operator login: the users register themselves (and fail the
            # deposit, which the report shows)
            log(f"could not prepare accounts ({exc}); the users open their own")
            accounts_file = None
        started = time.monotonic()
        locust_exit = run_locust(args, url, out, accounts_file)
        summary["locust_exit"] = locust_exit
        summary["locust_seconds"] = round(time.monotonic() - started, 1)
        summary["rest_audit"] = rest_audit(url, args.operator_username, args.operator_password)
    except RuntimeError as exc:
        log(str(exc))
        return 2
    finally:
        if server is not None:
            summary["server_exit"] = server.stop()
            log(f"server stopped (exit {summary['server_exit']})")
    if database_url is not None:
        summary["database_audit"] = database_audit(database_url)
    stats_path = out / "locust_stats.csv"
    final_stats = out / "locust.json"
    if not final_stats.exists():
        log(f"locust wrote no statistics (exit {summary['locust_exit']}); see {out / 'locust.log'}")
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        return 2
    rows = read_stats(final_stats)
    total = next((r for r in rows if r["name"] == "Aggregated"), None)
    summary["stats"] = rows
    summary["failures"] = read_failures(out / "locust_failures.csv")
    requests = total["requests"] if total else 0
    failures = total["failures"] if total else 0
    summary["requests"] = requests
    summary["failed_requests"] = failures
    summary["error_rate"] = failures / requests if requests else None
    summary["reports"] = {
        "csv": str(stats_path),
        "html": str(out / "report.html"),
        "json": str(final_stats),
        "log": str(out / "locust.log"),
    }

    print(render(rows))
    print(
        f"\nrequests {requests:,}, failures {failures:,} ({(summary['error_rate'] or 0):.2%}), "
        f"{total['requests_per_s'] if total else 0:,.1f} requests/s"
    )
    for failure in summary["failures"][:10]:
        print(
            f"  failure x{failure['occurrences']}: {failure['method']} {failure['name']}: {failure['error'][:200]}"
        )
    problems = []
    if requests == 0:
        problems.append("no request was made")
    if summary["error_rate"] is not None and summary["error_rate"] > args.max_error_rate:
        problems.append(f"error rate {summary['error_rate']:.2%} above {args.max_error_rate:.2%}")
    rest = summary["rest_audit"]
    print(f"audit (REST, in memory and projections): {'ok' if rest.get('ok') else 'FAILED'}")
    if not rest.get("ok"):
        problems.append(f"the REST audit failed: {json.dumps(rest)[:500]}")
    if "database_audit" in summary:
        db = summary["database_audit"]
        print(f"audit (capex audit): {'ok' if db['ok'] else 'FAILED'}")
        if not db["ok"]:
            problems.append(f"the database audit failed: {db['output'][-500:]}")
    else:
        print("audit (capex audit): skipped, no --database-url")
    print(f"reports: {out / 'report.html'}, {stats_path}")
    summary["problems"] = problems
    summary["ok"] = not problems
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for problem in problems:
        log(f"FAILED: {problem}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
