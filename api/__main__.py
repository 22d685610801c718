"""`python -m api serve` runs the API (embedded mode by default: the sequencer in this process)."""

from __future__ import annotations

import argparse

import uvicorn

from api.config import ApiSettings
from api.main import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    settings = ApiSettings()
    if args.command == "serve":
        host = args.host or settings.host
        port = args.port or settings.port
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", ws_max_size=1 << 20)


if __name__ == "__main__":
    main()
