"""Command line of the exchange core.

python -m exchange audit [--database-url URL]   check the invariants of a store; exit 1 on a breach
"""

from __future__ import annotations

import argparse
import sys

from exchange.settings import ExchangeSettings
from exchange.settings_support import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange")
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit", help="check the invariants of a store's SQL projections")
    audit.add_argument("--database-url", default=None, help="default: DATABASE_URL or the settings' default")
    args = parser.parse_args(argv)

    if args.command == "audit":
        from sqlalchemy.exc import SQLAlchemyError

        from exchange.audit import audit_database
        from exchange.store.database import normalize_url

        # a bad setting: one line naming the variable (exit 2), no traceback
        url = args.database_url or load_settings(ExchangeSettings, "exchange").database_url
        try:
            breaches = audit_database(normalize_url(url))
        except SQLAlchemyError as exc:
            first_line = str(exc).splitlines()[0]
            hint = (
                " (no exchange schema here: start the exchange once, or pass --database-url)"
                if "journal" in first_line
                else ""
            )
            print(f"audit: cannot read the database {url}: {first_line}{hint}", file=sys.stderr)
            return 2
        if breaches:
            for breach in breaches:
                print(f"BREACH {breach}")
            print(f"audit: {len(breaches)} breach(es)", file=sys.stderr)
            return 1
        print("audit: ok")
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
