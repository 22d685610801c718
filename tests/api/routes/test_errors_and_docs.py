"""The one error shape for unknown routes and methods, and the documentation: every route in the
OpenAPI document has a summary, a tag, declared error responses and, for bodies, examples; and
docs/api.md lists every route and every result code."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from exchange.results import ResultCode
from tests.api.routes.support import API, assert_error

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_unknown_route_and_method(client: TestClient):
    assert_error(client.get(f"{API}/nothing-here"), 404, "NOT_FOUND")
    assert_error(client.put(f"{API}/orders"), 405, "METHOD_NOT_ALLOWED")


def openapi(client: TestClient) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def test_every_route_is_documented_in_openapi(client: TestClient):
    schema = openapi(client)
    assert client.get("/docs").status_code == 200
    seen = 0
    for path, method, operation in operations(schema):
        seen += 1
        where = f"{method} {path}"
        assert operation.get("summary") and operation.get("tags"), where
        if path.startswith(API):
            codes = set(operation["responses"])
            assert "429" in codes, where
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in codes, where
            for code in codes - {"200", "201", "204"}:
                content = operation["responses"][code]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorOut"}, where
            if operation.get("security"):
                assert "401" in codes, where
        body = operation.get("requestBody")
        if body:
            media = body["content"]["application/json"]
            refs = [media["schema"].get("$ref")] + [s.get("$ref") for s in media["schema"].get("anyOf", [])]
            has_examples = "examples" in media or any(
                "examples" in schema["components"]["schemas"][ref.split("/")[-1]] for ref in refs if ref
            )
            assert has_examples, where
    assert seen >= 39


def test_docs_list_every_route_and_code(client: TestClient):
    text = DOCS.read_text()
    table = set(re.findall(r"^\| `(GET|POST|PATCH|DELETE) ([^`]+)` \|", text, flags=re.MULTILINE))
    documented = {(method, path) for path, method, _ in operations(openapi(client))}
    assert documented == table
    for code in ResultCode:
        assert f"`{code.name}`" in text, code.name
    for code in (
        "VALIDATION_ERROR",
        "UNAUTHENTICATED",
        "RATE_LIMITED",
        "SCOPE_REQUIRED",
        "SESSION_REQUIRED",
        "UNKNOWN_API_KEY",
        "ROLE_NOT_ALLOWED",
        "USERNAME_TAKEN",
        "NOT_A_MATERIAL_CALL",
        "UNAVAILABLE",
    ):
        assert f"`{code}`" in text, code
