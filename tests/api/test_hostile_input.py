"""Hostile input over REST: whatever arrives, the answer is a 4xx in the one JSON error shape,
never a 5xx, and nothing is applied.

Every integer field of every JSON body (found by walking the OpenAPI document, so a new route or
field is covered without touching this file) is sent as a boolean, a numeric string, a string
with an underscore, a float and an integer of 5,000 digits; every integer path and query parameter
as 5,000 digits and `1_000`. Framework-level refusals (an unknown method, an unreadable request
line, an unknown route) come in the same shape.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from api.config import ApiSettings
from tests.api.conftest import LiveServer, free_port

HUGE = "__a JSON integer of 5,000 digits__"  # spliced into the text: Python cannot print it
BAD_INTEGERS: list[Any] = [True, False, "12", "1_000", 12.0, 1e3, HUGE, "9" * 5000, [1], {"value": 1}]
# Bodies for the routes whose models carry no example (the walk still adds every integer field).
FALLBACK_BODIES: dict[str, Any] = {
    "/api/v1/transfers": {"asset": "cash", "to_account_id": 7, "amount": 100},
    "/api/v1/orders/cancel-all": {"symbol": "X", "account_id": 1},
    "/api/v1/kill-switch": {"engaged": True, "account_id": 1},
}


@pytest.fixture
def api_settings(tmp_path) -> ApiSettings:
    """Rate limits far above what these loops send."""
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'exchange.db'}",
        rate_limit_per_ip=1e6,
        rate_limit_per_ip_burst=10**6,
        rate_limit_per_key=1e6,
        rate_limit_per_key_burst=10**6,
    )


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _branch(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """The branch of a union that describes `value` (the discriminated one, else not null)."""
    schema = _resolve(spec, schema)
    branches = schema.get("oneOf") or schema.get("anyOf")
    if not branches:
        return schema
    discriminator = schema.get("discriminator")
    if discriminator and isinstance(value, dict):
        target = discriminator["mapping"][value[discriminator["propertyName"]]]
        return _resolve(spec, {"$ref": target})
    for branch in branches:
        resolved = _resolve(spec, branch)
        if resolved.get("type") != "null":
            return _branch(spec, resolved, value)
    return schema


def _is_integer(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(spec, schema)
    if schema.get("type") == "integer":
        return True
    return any(
        _is_integer(spec, b) for b in schema.get("anyOf", []) if _resolve(spec, b).get("type") != "null"
    )


def integer_paths(
    spec: dict[str, Any], schema: dict[str, Any], value: Any, path: tuple = ()
) -> Iterator[tuple]:
    """Paths (keys and list indices) of every integer field under `schema`, in `value` or not."""
    schema = _branch(spec, schema, value)
    if _is_integer(spec, schema) and path:
        yield path
        return
    if schema.get("type") == "object" or "properties" in schema:
        for name, field in schema.get("properties", {}).items():
            if isinstance(value, dict) and name in value:
                yield from integer_paths(spec, field, value[name], (*path, name))
            elif _is_integer(spec, field):
                yield (*path, name)
    elif schema.get("type") == "array" and isinstance(value, list) and value:
        yield from integer_paths(spec, schema["items"], value[0], (*path, 0))


def _example(spec: dict[str, Any], path: str, schema: dict[str, Any]) -> Any:
    resolved = _resolve(spec, schema)
    examples = resolved.get("examples") or []
    if examples:
        return copy.deepcopy(examples[0])
    return copy.deepcopy(FALLBACK_BODIES.get(path, {}))


def _set(body: Any, path: tuple, value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _body_cases(spec: dict[str, Any]) -> list[tuple[str, str, tuple, Any]]:
    cases = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if not body:
                continue
            schema = body["content"]["application/json"]["schema"]
            example = _example(spec, path, _branch(spec, schema, None) if "anyOf" in schema else schema)
            if not isinstance(example, dict) or not example:
                example = _example(spec, path, schema)
            for field_path in integer_paths(spec, schema, example):
                cases.append((method.upper(), path, field_path, example))
    return cases


def _concrete(path: str) -> str:
    return (
        path.replace("{order_id}", "1")
        .replace("{booking_id}", "1")
        .replace("{symbol}", "X")
        .replace("{key_id}", "ak_0000000000000000")
        .replace("{index}", "INK")
    )


def _assert_error_shape(response, status: int | None = None) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert set(error) >= {"status", "code", "message"} and error["status"] == response.status_code
    return error


def test_every_integer_field_of_every_body_takes_a_json_integer_only(app, client, market):
    operator = market.user("root-op", "operator", cash=0)
    spec = app.openapi()
    cases = _body_cases(spec)
    covered = {(method, path) for method, path, _, _ in cases}
    # The walk found the integer fields of the routes that have them.
    for route in [
        ("POST", "/api/v1/orders"),
        ("PATCH", "/api/v1/orders/{order_id}"),
        ("POST", "/api/v1/transfers"),
        ("POST", "/api/v1/capacity"),
        ("POST", "/api/v1/instruments"),
        ("POST", "/api/v1/operator/index-prices"),
        ("POST", "/api/v1/operator/deposits"),
        ("POST", "/api/v1/operator/withdrawals"),
        ("POST", "/api/v1/exercise"),
    ]:
        assert route in covered, route
    seq_before = market.call(market.gateway.query, "last_seq")
    for method, path, field_path, example in cases:
        for bad in BAD_INTEGERS:
            body = _set(example, field_path, bad)
            response = client.request(
                method,
                _concrete(path),
                content=json.dumps(body).replace(json.dumps(HUGE), "9" * 5000),
                headers={**operator.headers, "content-type": "application/json"},
            )
            if bad is HUGE:  # no JSON reader takes it: the body is refused whole
                error = _assert_error_shape(response, 400)
                assert error["code"] == "BAD_REQUEST" and "4,300 digits" in error["message"]
                continue
            error = _assert_error_shape(response, 422)
            assert error["code"] == "VALIDATION_ERROR", (method, path, field_path, bad, error)
            assert str(field_path[-1]) in error["message"], (method, path, field_path, error["message"])
    assert market.call(market.gateway.query, "last_seq") == seq_before  # nothing was applied


def test_integer_path_and_query_parameters_are_bounded(app, client, market):
    operator = market.user("root-op", "operator")
    spec = app.openapi()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if not _is_integer(spec, parameter.get("schema", {})):
                    continue
                for bad in ("9" * 5000, "1_000", "true", "-" + "9" * 5000, " 12", "+5", "²"):
                    url = _concrete(path.replace("{" + parameter["name"] + "}", bad))
                    params = {parameter["name"]: bad} if parameter["in"] == "query" else None
                    response = client.request(method.upper(), url, params=params, headers=operator.headers)
                    error = _assert_error_shape(response)
                    assert response.status_code in (404, 405, 422), (method, path, parameter["name"], error)
                    checked += 1
    assert checked > 10


def test_oversized_numeric_headers_answer_401_in_the_error_shape(client, market):
    from tests.api.ws.conftest import api_key

    user = market.user("maker", "market_maker")
    key_id, _secret = api_key(market, user)
    for timestamp in ("9" * 5000, "²" * 3, "1_000", "-1", " 1"):
        headers = {
            "X-Capex-Key": key_id,
            "X-Capex-Timestamp": timestamp.encode(),  # UTF-8 on the wire: '²' is a Unicode digit
            "X-Capex-Nonce": "n" * 16,
            "X-Capex-Signature": "0" * 64,
        }
        response = client.get("/api/v1/portfolio/balances", headers=headers)
        assert _assert_error_shape(response, 401)["code"] == "UNAUTHENTICATED"
    response = client.get("/api/v1/portfolio/balances", headers={"X-Capex-Key": "k" * 5000})
    assert _assert_error_shape(response, 401)["code"] == "UNAUTHENTICATED"


def test_framework_refusals_use_the_error_shape(client):
    assert _assert_error_shape(client.get("/api/v1/no-such-route"), 404)["code"] == "NOT_FOUND"
    assert _assert_error_shape(client.put("/api/v1/orders"), 405)["code"] == "METHOD_NOT_ALLOWED"
    malformed = client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert _assert_error_shape(malformed)["code"] in ("VALIDATION_ERROR", "BAD_REQUEST")


@pytest.fixture
def raw_server(api_settings) -> Iterator[LiveServer]:
    from api.main import create_app

    server = LiveServer(create_app(api_settings), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no HTTP client would send these) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                headers = dict(
                    line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
                )
                length = int(headers.get("content-length", "-1"))
                if 0 <= length <= len(body):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    headers = {k.lower(): v for k, v in (line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"FOO /api/v1/instruments HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/instruments HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_what_the_http_parser_refuses_is_answered_in_the_error_shape(raw_server, request_bytes):
    status, headers, body = _raw(raw_server.port, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "BAD_REQUEST"


def test_unknown_but_well_formed_methods_reach_the_app(raw_server):
    status, headers, body = _raw(raw_server.port, b"PROPFIND /api/v1/instruments HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405
    assert json.loads(body)["error"]["code"] == "METHOD_NOT_ALLOWED"
