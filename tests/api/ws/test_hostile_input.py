"""Hostile input over the WebSocket: every request frame gets exactly one answer (or a documented
close code), every integer field of every operation takes a JSON integer only, and order entry
takes exactly what REST takes (the same models)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.ws.conftest import WsClient, list_material_call, run

BAD_INTEGERS: list[Any] = [True, "12", "1_000", 12.0, "9" * 5000, [1]]
HUGE_LITERAL = "9" * 5000  # spliced into the frame as a JSON number

# op -> (a valid request, the paths of its integer fields)
OPERATIONS: dict[str, tuple[dict[str, Any], list[tuple]]] = {
    "place": (
        {"symbol": "SYMBOL", "side": "buy", "price": 100, "quantity": 1, "client_order_id": "hostile-1"},
        [("price",), ("quantity",)],
    ),
    "cancel": ({"order_id": 1}, [("order_id",)]),
    "amend": ({"order_id": 1, "price": 100, "quantity": 1}, [("order_id",), ("price",), ("quantity",)]),
    "cancel_all": ({"account_id": 1}, [("account_id",)]),
    "mass_quote": (
        {
            "quotes": [
                {"symbol": "SYMBOL", "bid_price": 90, "bid_quantity": 1, "ask_price": 110, "ask_quantity": 1}
            ]
        },
        [
            ("quotes", 0, "bid_price"),
            ("quotes", 0, "bid_quantity"),
            ("quotes", 0, "ask_price"),
            ("quotes", 0, "ask_quantity"),
        ],
    ),
    "cancel_all_after": ({"timeout_ms": 1000}, [("timeout_ms",)]),
    "mmp_config": (
        {"underlying": "INK", "quantity": 10, "interval_ms": 1000, "frozen_ms": 1000},
        [("quantity",), ("interval_ms",), ("frozen_ms",)],
    ),
}


def _with(request: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    request = json.loads(json.dumps(request))
    target: Any = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return request


def test_every_integer_field_of_every_operation_takes_a_json_integer_only(live_server, live_market):
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        for op, (request, paths) in OPERATIONS.items():
            request = json.loads(json.dumps(request).replace("SYMBOL", symbol))
            for path in paths:
                for bad in BAD_INTEGERS:
                    error = await client.error(op, **_with(request, path, bad))
                    assert error["code"] == "BAD_REQUEST", (op, path, bad, error)
                    assert str(path[-1]) in error["message"], (op, path, error["message"])
                # A JSON number no reader takes whole: answered, the connection stays.
                frame = json.dumps({"op": op, "id": "huge", **_with(request, path, "HUGE")})
                await client.connection.send(frame.replace('"HUGE"', HUGE_LITERAL))
                answer = await client.response(None)  # the frame was not readable: its id is not known
                assert not answer["ok"] and answer["error"]["code"] == "BAD_REQUEST", answer
        assert (await client.ok("ping"))["server_time"] > 0
        await client.close()

    run(scenario(), timeout=60)
    open_orders = live_market.call(live_market.gateway.query, "open_orders", maker.account_id)
    assert open_orders == []  # nothing malformed became an order


def test_websocket_order_entry_takes_what_rest_takes(live_server, live_market):
    """The ids, sides and bounds REST refuses are refused over the WebSocket too."""
    maker = live_market.user("maker", "market_maker", cash=10_000_000)
    symbol = list_material_call(live_market)
    refused = [
        {"client_order_id": "💥"},
        {"client_order_id": "' OR 1=1 --"},
        {"client_order_id": "x" * 65},
        {"side": "BUY"},
        {"side": "hold"},
        {"order_type": "stop"},
        {"stp": "maybe"},
        {"quantity": 0},
        {"quantity": 10**12 + 1},
        {"price": 10**15 + 1},
        {"symbol": "bad symbol"},
        {"quantiy": 1},  # a misspelt field is refused, not ignored
    ]

    async def scenario() -> None:
        client = await WsClient.open(live_server)
        await client.authenticate(maker)
        base = {"symbol": symbol, "side": "buy", "price": 100, "quantity": 1}
        for change in refused:
            error = await client.error("place", **{**base, **change})
            assert error["code"] == "BAD_REQUEST", (change, error)
            assert list(change)[0] in error["message"], (change, error["message"])
        placed = await client.ok("place", **base, client_order_id="ok.id:1-_")
        assert placed["client_order_id"] == "ok.id:1-_"
        await client.close()

    run(scenario())
    # REST refuses the same requests (the same model), with its own code
    base = {"symbol": symbol, "side": "buy", "price": 100, "quantity": 1, "client_order_id": "rest-1"}
    for change in refused:
        response = httpx.post(
            f"{live_server.base_url}/api/v1/orders",
            json={**base, **change},
            headers=maker.headers,
            timeout=10,
        )
        assert response.status_code == 422, (change, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("depth", [512, 1024, 100_000])
def test_deeply_nested_frames_are_answered(live_server, depth):
    async def scenario() -> None:
        client = await WsClient.open(live_server, max_size=None)
        await client.connection.send('{"op": "ping", "id": 7, "x": ' + "[" * depth + "]" * depth + "}")
        answer = await client.recv()
        assert answer["type"] == "response"
        if depth <= 512:
            assert answer["ok"] and answer["id"] == 7
        else:
            assert not answer["ok"] and answer["error"]["code"] == "BAD_REQUEST"
            assert "nested too deeply" in answer["error"]["message"]
        assert (await client.ok("ping"))["server_time"] > 0  # the connection goes on
        await client.close()

    run(scenario())


def test_auth_with_an_oversized_timestamp_is_answered(live_server, live_market):
    async def scenario() -> None:
        client = await WsClient.open(live_server)
        for timestamp in ("9" * 5000, "²²", True, 12.5):
            error = await client.error("auth", key="ak_0000000000000000", timestamp=timestamp, signature="00")
            assert error["code"] in ("BAD_REQUEST", "UNAUTHENTICATED"), error
            assert "timestamp" in error["message"]
        await client.connection.send(
            '{"op": "auth", "id": "n", "key": "ak_0", "signature": "00", "timestamp": ' + HUGE_LITERAL + "}"
        )
        answer = await client.response(None)
        assert not answer["ok"] and answer["error"]["code"] == "BAD_REQUEST"
        await client.close()

    run(scenario())
