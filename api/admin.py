"""`capex admin ...`: administration commands, run from a shell, without the API server.

    capex admin create-operator USERNAME [--password-stdin]

creates an operator account with a login: the exchange account through the sequencer
(CreateAccount, journaled like any command) and its credential row, exactly as registration does
(api.accounts.register_account). It is how a fresh database gets its first operator; that operator
then creates the others, and index feeds, with `POST /api/v1/operator/accounts`.

The password is asked twice on the terminal (getpass), or read from the first line of stdin with
`--password-stdin` or when stdin is not a terminal (`printf '%s\\n' "$PW" | capex admin ...`).

Where the command goes, by API_MODE:
- `embedded` (default): the command opens the exchange on DATABASE_URL itself (recovers the
  journal, applies the command, closes), as `capex serve` does at start-up. It is then the
  exchange's single writer for a moment: run it while no server runs on that database (a running
  embedded server would find its next journal seq taken and refuse every command until restarted).
- `worker` (scale-out): the command is one more worker: it goes through Redis to the running
  sequencer process (`capex sequencer`), which stays the single writer, so it may run while
  the servers run; with no sequencer heartbeat it refuses to start.

Errors are one line on stderr and a non-zero status: 1 for a refusal (username taken, bad
password, the sequencer unreachable), 2 for bad settings or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from api.accounts import USERNAME, register_account
from api.config import ApiSettings
from api.errors import ApiError
from api.gateway import EmbeddedGateway, Gateway, GatewayUnavailable
from exchange.accounts import Role

PROG = "capex"


class AdminError(Exception):
    """A refusal told in one line."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser(
        "admin", help="administration: create-operator (see api/admin.py, docs/api.md)"
    )
    actions = admin.add_subparsers(dest="admin_command", required=True)
    create = actions.add_parser(
        "create-operator",
        help="create an operator account with a login (embedded mode: while no server runs)",
    )
    create.add_argument("username", help="3-32 of a-z 0-9 _ . - starting with a letter or digit")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (the default when stdin is not a terminal)",
    )


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise AdminError(f"bad username {username!r}: 3-32 of a-z 0-9 _ . - starting with a letter or digit")


def check_password(password: str) -> None:
    if not 8 <= len(password) <= 128:
        raise AdminError(f"bad password: a password has 8 to 128 characters (this one has {len(password)})")


def read_password(username: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    password = getpass.getpass(f"Password for the operator {username}: ")
    check_password(password)
    if getpass.getpass("The same password again: ") != password:
        raise AdminError("the two passwords differ")
    return password


async def _sequencer_running(gateway: Gateway) -> None:
    health = await gateway.health()
    if health.get("redis") != "ok":
        raise AdminError(f"API_MODE=worker: Redis is unreachable ({health.get('redis')})")
    if health.get("sequencer") != "ok":
        raise AdminError(f"API_MODE=worker: {health.get('sequencer')} (start `capex sequencer` first)")


async def create_account(settings: ApiSettings, username: str, password: str, role: str) -> int:
    """The new account's id, created through the configured mode's gateway (module docstring)."""
    from exchange.store.database import make_engine

    gateway: Gateway
    if settings.scale_out:
        from api.redis_gateway import RedisGateway

        gateway = RedisGateway(settings)
    else:
        gateway = EmbeddedGateway(settings.database_url, batch_size=1)
    await gateway.start()
    engine = make_engine(settings.database_url)
    try:
        if settings.scale_out:
            await _sequencer_running(gateway)
        return await register_account(gateway, engine, username, password, role)
    finally:
        await gateway.stop()
        engine.dispose()


def create_operator(args: argparse.Namespace, settings: ApiSettings) -> int:
    """Exit status of `capex admin create-operator`."""
    try:
        check_username(args.username)
        password = read_password(args.username, args.password_stdin)
        check_password(password)
        account_id = asyncio.run(create_account(settings, args.username, password, Role.OPERATOR))
    except AdminError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:  # the rules of registration (api.accounts) or a sequencer refusal
        print(f"{PROG}: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except GatewayUnavailable as exc:
        print(f"{PROG}: the sequencer cannot be reached: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print(f"{PROG}: no password given", file=sys.stderr)
        return 1
    except Exception as exc:  # the database or the journal: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"{PROG}: cannot create the account: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    mode = "through the sequencer process" if settings.scale_out else f"in {_shown(settings.database_url)}"
    print(f"operator {args.username!r} created: account {account_id} ({mode})")
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: nothing secret to hide in it either
        return url


def run(args: argparse.Namespace, settings: ApiSettings) -> int:
    if args.admin_command == "create-operator":
        return create_operator(args, settings)
    return 2  # pragma: no cover (argparse requires a known command)
