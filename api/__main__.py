"""`python -m api serve` runs the API (embedded mode by default: the sequencer in this process).

`python -m api serve --demo` (also `capex serve --demo`) runs the demo market (api/demo.py).
`python -m api sequencer` runs the sequencer process of the scale-out mode (docs/scale-out.md).
`capex admin create-operator USERNAME` creates an operator account (api/admin.py).

Settings come from the environment (docs/api.md, Settings); a bad one ends the command with status
2 and one line naming the variable and the format it expects, never a traceback.
"""

from __future__ import annotations

import argparse

import uvicorn

from api.config import ApiSettings
from api.main import UVICORN_OPTIONS, create_app
from exchange.settings import ExchangeSettings
from exchange.settings_support import load_settings

PROG = "capex"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="embedded mode; seed a demo market into an empty database, print the demo logins, run the market-maker bot",
    )
    serve.add_argument("--no-bot", action="store_true", help="with --demo: do not start the market-maker bot")
    commands.add_parser(
        "sequencer", help="run the sequencer process of the scale-out mode (API_REDIS_URL, DATABASE_URL)"
    )
    from api.admin import add_commands as add_admin_commands

    add_admin_commands(commands)
    args = parser.parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        # Ctrl-C: uvicorn has shut the app down (the journal is committed) and re-raises the
        # interrupt; end as an interrupted command does, without a traceback.
        raise SystemExit(130) from None


def run(args: argparse.Namespace) -> None:
    settings = load_settings(ApiSettings, PROG)
    # The exchange core's own settings (EXCHANGE_*), read again where the exchange opens: checked
    # here so that a bad one is told in one line, not as a traceback from the server's start-up.
    load_settings(ExchangeSettings, PROG)
    if args.command == "admin":
        from api.admin import run as run_admin

        raise SystemExit(run_admin(args, settings))
    if args.command == "serve":
        host = args.host or settings.host
        port = args.port or settings.port
        if args.demo:
            from api.demo import serve_demo

            serve_demo(settings, host, port, bot=not args.no_bot)
            return
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **UVICORN_OPTIONS)
    elif args.command == "sequencer":
        from api.sequencer_host import main as run_sequencer

        raise SystemExit(run_sequencer(settings))


if __name__ == "__main__":
    main()
