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


# -- THE WHOLE HOUSE: NO IMPORT CIRCLE, NO UPWARD IMPORT -----------------------------------------

PACKAGES = ("matching_engine", "wire", "exchange", "api", "clients", "demo", "loadtests", "capex")
# What each package may import of ours (docs/design.md, Architecture).
ALLOWED = {
    "matching_engine": set(),
    "wire": set(),
    "exchange": {"matching_engine"},
    "api": {"exchange", "matching_engine", "wire"},
    "clients": {"wire"},
    "demo": {"exchange", "matching_engine", "wire", "api", "clients"},
    "loadtests": {"exchange", "matching_engine", "wire", "api", "clients", "demo"},
    "capex": {"exchange", "matching_engine", "wire", "api", "clients", "demo", "loadtests"},
}


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (at any level of the file: a deferred import
    inside a function is an import all the same). `from package import submodule` names the
    submodule, not the package."""
    import ast

    root = Path(__file__).resolve().parents[1]
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name in modules]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
                targets = subs + (
                    [node.module] if len(subs) < len(node.names) and node.module in modules else []
                )
            else:
                continue
            graph[name].update(target for target in targets if target != name)
    return graph


def test_no_package_imports_a_package_above_it():
    upward = [
        (module, target)
        for module, targets in _import_graph().items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0]
        and target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert upward == []


def test_the_house_has_no_import_circle():
    graph = _import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert circles == []
