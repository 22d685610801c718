"""Order entry's requests as sequencer commands: one translation for REST (api/routes/orders.py)
and the WebSocket (api/ws/order_entry.py), so both doors send the sequencer the same command for
the same validated request (api/schemas.py)."""

from __future__ import annotations

import itertools
import secrets

from api.schemas import AmendOrderIn, CancelAllIn, PlaceOrderIn
from exchange import commands as cmd

# Server-made client order ids: a random prefix per process and a counter, so they are unique per
# account across connections, workers and restarts without a random draw per order.
_PROCESS_TAG = secrets.token_hex(5)
_counter = itertools.count(1)


def new_client_order_id(prefix: str) -> str:
    """`<prefix>-<process tag><counter>`: `rest`, `ws` (orders without an id of the client's) or
    `mq` (the orders of a mass quote)."""
    return f"{prefix}-{_PROCESS_TAG}{next(_counter):06x}"


def place_order(actor_id: int, request: PlaceOrderIn, prefix: str) -> cmd.PlaceOrder:
    """`prefix` names the door for a server-made client order id (see new_client_order_id)."""
    return cmd.PlaceOrder(
        actor_id=actor_id,
        symbol=request.symbol,
        client_order_id=request.client_order_id or new_client_order_id(prefix),
        side=request.side,
        order_type=request.order_type,
        price=request.price,
        quantity=request.quantity,
        stp=request.stp,
    )


def amend_order(actor_id: int, order_id: int, request: AmendOrderIn) -> cmd.AmendOrder:
    return cmd.AmendOrder(
        actor_id=actor_id, order_id=order_id, price=request.price, quantity=request.quantity
    )


def cancel_order(actor_id: int, order_id: int) -> cmd.CancelOrder:
    return cmd.CancelOrder(actor_id=actor_id, order_id=order_id)


def cancel_all(actor_id: int, request: CancelAllIn) -> cmd.CancelAll:
    """Another account's orders only for operators (the sequencer decides)."""
    account_id = request.account_id if request.account_id is not None else actor_id
    return cmd.CancelAll(actor_id=actor_id, account_id=account_id, symbol=request.symbol)
