"""The import graph between the packages, checked in fresh interpreters: `wire` is the bottom
(standard library only), the SDK installs without the server, the server without the SDK, and
the demo's scenario without the API."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Blocks the named top-level packages (and their subpackages) in the child interpreter: importing
# one raises ImportError, as it would where that package is not installed.
_BLOCKER = """
import importlib.abc
import sys

BLOCKED = {blocked!r}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked in this test")
        return None


sys.meta_path.insert(0, Blocker())
"""


def _run(blocked: set[str], body: str) -> subprocess.CompletedProcess[str]:
    code = _BLOCKER.format(blocked=sorted(blocked)) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_the_blocker_blocks():
    done = _run({"api"}, "import api.security\n")
    assert done.returncode != 0 and "ImportError: api is blocked" in done.stderr


def test_the_sdk_and_the_bot_import_without_the_server():
    done = _run(
        {"api", "exchange", "matching_engine", "demo", "loadtests"},
        """
        import clients.python
        import clients.python.mm_bot
        from clients.python import CapexClient, LocalBook, WsSession, book_checksum

        server_libraries = {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "argon2", "uvicorn"}
        assert not server_libraries & set(sys.modules), server_libraries & set(sys.modules)
        print("ok")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_wire_contract_needs_the_standard_library_only():
    done = _run(
        {"api", "exchange", "matching_engine", "clients", "demo", "loadtests"},
        """
        before = set(sys.modules)
        import wire, wire.book, wire.signing, wire.ws

        loaded = {name.split(".")[0] for name in set(sys.modules) - before}
        foreign = sorted(loaded - set(sys.stdlib_module_names) - {"wire"})
        assert not foreign, foreign
        print("ok")
        """,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("module", "blocked"),
    [
        ("demo.seed", {"api", "clients"}),  # the scenario: commands only, the exchange's types
        ("api.main", {"clients", "demo"}),  # the server: no SDK, no demo
        ("api.ws.sessions", {"clients", "demo"}),
        ("api.security", {"clients", "demo"}),
    ],
)
def test_a_layer_imports_without_the_ones_above_it(module: str, blocked: set[str]):
    done = _run(blocked, f"import {module}\n")
    assert done.returncode == 0, done.stderr
