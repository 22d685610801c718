"""`python -m api serve` runs the API (embedded mode by default: the sequencer in this process).

`python -m api serve --demo` (also `capex serve --demo`) runs the demo market (api/demo.py).
`python -m api sequencer` runs the sequencer process of the scale-out mode (docs/scale-out.md).
"""

from __future__ import annotations

import argparse

import uvicorn

from api.config import ApiSettings
from api.main import UVICORN_OPTIONS, create_app


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
    args = parser.parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        # Ctrl-C: uvicorn has shut the app down (the journal is committed) and re-raises the
        # interrupt; end as an interrupted command does, without a traceback.
        raise SystemExit(130) from None


def run(args: argparse.Namespace) -> None:
    settings = ApiSettings()
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
