"""`capex`: the one command line of the exchange.

    capex serve [--host H] [--port P]      the API (embedded: the sequencer in this process, SQLite)
    capex demo [--host H] [--port P]       the demo market: seeded data, logins, a market-maker bot
                                           (`capex serve --demo` is the same)
    capex sequencer                        the sequencer process of the scale-out mode
    capex audit [--database-url URL]       check a database's ledger, open interest, locks, escrow
    capex admin create-operator USERNAME   the first operator of a fresh database
    capex bench engine|core|ws|load ...    the benchmarks and the load test (their own options)

`python -m capex ...` is the same. It sits above every other package: it wires the API, the exchange,
the demo and the load tests, and none of them imports it. Settings come from the environment
(docs/api.md, Settings); a bad one ends the command with status 2 and one line naming the variable
and the format it expects, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from exchange.settings import ExchangeSettings
from exchange.settings_support import load_settings

PROG = "capex"


def _benchmarks() -> dict[str, tuple[str, Callable[[list[str]], int | None]]]:
    """name -> (what it measures, its main); imported only when asked for (locust is heavy)."""

    def engine(argv: list[str]) -> int | None:
        from loadtests.engine_bench import main

        return main(argv)

    def core(argv: list[str]) -> int | None:
        from loadtests.core_bench import main

        return main(argv)

    def ws(argv: list[str]) -> int | None:
        from loadtests.ws_bench import main

        return main(argv)

    def load(argv: list[str]) -> int | None:
        from loadtests.run_load import main

        return main(argv)

    return {
        "engine": ("the matching engine (loadtests/engine_bench.py)", engine),
        "core": (
            "the sequencer: in memory, durable SQLite and PostgreSQL, replay (loadtests/core_bench.py)",
            core,
        ),
        "ws": ("order entry and market-data fan-out over WebSocket (loadtests/ws_bench.py)", ws),
        "load": ("the locust mixed scenario, headless, then the audit (loadtests/run_load.py)", load),
    }


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG, description="The capacity and options exchange for small creators."
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API server (embedded mode by default)")
    _server_options(serve)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo market into an empty database, print the demo logins, run the market-maker bot",
    )
    demo = commands.add_parser("demo", help="run the demo market (the same as serve --demo)")
    _server_options(demo)

    commands.add_parser(
        "sequencer",
        help="run the sequencer runtime over Redis, for API workers (API_SEQUENCER_URL, DATABASE_URL)",
    )

    audit = commands.add_parser(
        "audit", help="check the ledger, open interest, locks and escrow of a database; exit 1 on a breach"
    )
    audit.add_argument("--database-url", default=None, help="default: DATABASE_URL or the settings' default")

    from api.admin import add_commands as add_admin_commands

    add_admin_commands(commands)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark or the load test (capex bench NAME --help: its options)",
        description="\n".join(f"{name}: {what}" for name, (what, _) in _benchmarks().items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", choices=sorted(_benchmarks()))
    bench.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark")
    return top


def _server_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", help="default: API_HOST (127.0.0.1)")
    command.add_argument("--port", type=int, help="default: API_PORT (8000)")
    command.add_argument("--no-bot", action="store_true", help="the demo without its market-maker bot")


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        raise SystemExit(run(args))
    except KeyboardInterrupt:
        # Ctrl-C: uvicorn has shut the app down (the journal is committed) and re-raises the
        # interrupt; end as an interrupted command does, without a traceback.
        raise SystemExit(130) from None


def run(args: argparse.Namespace) -> int:
    if args.command == "bench":
        _what, bench_main = _benchmarks()[args.name]
        return bench_main(list(args.options)) or 0
    if args.command == "audit":
        from exchange.audit import run_audit

        url = args.database_url or load_settings(ExchangeSettings, PROG).database_url
        return run_audit(url)

    from api.config import ApiSettings

    # The exchange section first: a bad EXCHANGE_* variable is told as itself (ApiSettings reads
    # the section again as its `exchange` field).
    load_settings(ExchangeSettings, PROG)
    settings = load_settings(ApiSettings, PROG)
    if args.command == "admin":
        from api.admin import run as run_admin

        return run_admin(args, settings)
    if args.command == "sequencer":
        from exchange.runtime.redis_streams import main as run_sequencer

        return run_sequencer(
            settings.database_url,
            redis_url=settings.sequencer_redis_url,
            prefix=settings.redis_prefix,
            timeout_seconds=settings.redis_timeout_seconds,
            group_size=settings.exchange.group_commit_size,
        )
    host = args.host or settings.host
    port = args.port or settings.port
    if args.command == "demo" or args.demo:
        from demo.serve import serve_demo

        serve_demo(settings, host, port, bot=not args.no_bot)
        return 0
    import uvicorn

    from api.main import UVICORN_OPTIONS, create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **UVICORN_OPTIONS)
    return 0


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
