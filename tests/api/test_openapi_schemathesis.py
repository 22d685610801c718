"""Schemathesis against /api/v1/openapi.json, in process through the real app (ASGI, real SQLite):
for every operation, a bounded and deterministic set of generated requests (valid ones and, for
operations with inputs, invalid ones), sent as an operator, a creator or a supplier. No answer
may be a 5xx, and every answer must match the documented status codes, content types, headers
and response schemas. Afterwards the exchange's invariants still hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.checks
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.config import ApiSettings
from api.main import create_app
from tests.api.conftest import Market
from tests.api.routes.support import API, FAST_HASHER, World, build_world

# Looked up by name in schemathesis' registry of checks (its public interface, schemathesis 4).
CHECKS = [
    getattr(schemathesis.checks, name)
    for name in (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
]
POSITIVE_EXAMPLES = 15
NEGATIVE_EXAMPLES = 5
# Logging out would end the session the other operations use; it is covered by the route tests.
SKIPPED = {"POST /api/v1/auth/logout"}
# Headers of the documented security schemes that schemathesis may generate; the session token
# below authenticates instead.
GENERATED_AUTH_HEADERS = {"authorization", "x-capex-key"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, World]]:
    settings_ = ApiSettings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'exchange.db'}",
        rate_limit_per_ip=1e6,
        rate_limit_per_ip_burst=1_000_000,
        rate_limit_per_key=1e6,
        rate_limit_per_key_burst=1_000_000,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("api.security._hasher", FAST_HASHER)
        with TestClient(create_app(settings_)) as client:
            world = build_world(client, Market(client.app, client.portal.call))
            # some state for the reads to find: a trade, a resting order, a booking, an index price
            world.holding(world.alice, 2)
            world.rest(world.bob, "buy", 450, 1)
            client.post(
                f"{API}/exercise", json={"symbol": world.cap, "quantity": 1}, headers=world.alice.headers
            )
            client.post(
                f"{API}/operator/index-prices",
                json={"index": "INK", "price": 8000},
                headers=world.operator.headers,
            )
            world.list_material_call(index="INK")
            yield client, world


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[TestClient, World]) -> Any:
    client, _ = fuzzed
    return schemathesis.openapi.from_dict(client.get(f"{API}/openapi.json").json())


def operation_labels() -> list[str]:
    schema = create_app(ApiSettings()).openapi()
    labels = [f"{method.upper()} {path}" for path, methods in schema["paths"].items() for method in methods]
    return [label for label in labels if label not in SKIPPED]


def send(client: TestClient, case: Any, token: str):
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() not in GENERATED_AUTH_HEADERS}
    headers["Authorization"] = f"Bearer {token}"
    request: dict[str, Any] = {"params": kwargs.get("params") or None, "headers": headers}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    return client.request(kwargs["method"], kwargs["url"], **request)


def known_values(client: TestClient, world: World) -> dict[str, list[Any]]:
    """Names of path parameters and body fields, with values that exist in the fuzzed exchange:
    half of the generated requests use them, so they reach past "unknown object" answers."""
    symbols = [i["symbol"] for i in client.get(f"{API}/instruments").json()]
    orders = client.get(f"{API}/orders?status=all", headers=world.bob.headers).json()
    orders += client.get(f"{API}/orders?status=all", headers=world.alice.headers).json()
    bookings = client.get(f"{API}/portfolio/bookings", headers=world.alice.headers).json()
    accounts = [u.account_id for u in (world.alice, world.bob, world.supplier)]
    return {
        "symbol": symbols,
        "give_symbol": symbols,
        "receive_symbol": symbols,
        "order_id": [o["order_id"] for o in orders],
        "booking_id": [b["booking_id"] for b in bookings],
        "index": ["INK"],
        "account_id": accounts,
        "to_account_id": accounts,
        "to_username": ["alice", "bob"],
    }


def steer(case: Any, known: dict[str, list[Any]], draw: Any) -> None:
    """Replace generated identifiers with known ones (each with probability 1/2)."""
    for name in list(case.path_parameters or {}):
        if name in known and known[name] and draw(st.booleans()):
            case.path_parameters[name] = draw(st.sampled_from(known[name]))
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in known and known[name] and draw(st.booleans()):
                case.body[name] = draw(st.sampled_from(known[name]))


def fuzz(client: TestClient, world: World, operation: Any, mode: GenerationMode, examples: int) -> None:
    tokens = st.sampled_from([world.operator.token, world.alice.token, world.supplier.token])
    known = known_values(client, world)

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), token=tokens, data=st.data())
    def run(case: Any, token: str, data: st.DataObject) -> None:
        steer(case, known, data.draw)
        response = send(client, case, token)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize("label", operation_labels())
def test_operation(label: str, fuzzed: tuple[TestClient, World], api_schema: Any):
    client, world = fuzzed
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    fuzz(client, world, operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
    has_inputs = bool(operation.body) or any(True for _ in operation.iter_parameters())
    if has_inputs:
        fuzz(client, world, operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)


def test_the_exchange_is_sound_after_fuzzing(fuzzed: tuple[TestClient, World], api_schema: Any):
    client, world = fuzzed
    audit = client.get(f"{API}/operator/audit", headers=world.operator.headers)
    assert audit.status_code == 200 and audit.json()["ok"] is True, audit.text
    assert client.get("/health").status_code == 200


def test_every_operation_was_fuzzed(api_schema: Any):
    labels = {op.ok().label for op in api_schema.get_all_operations()}
    assert labels - SKIPPED == set(operation_labels())
    assert len(labels) >= 44
