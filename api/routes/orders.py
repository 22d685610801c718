"""Orders: place, cancel, amend, cancel all (trade scope); list and read your own (read scope).

Every answer is the durable result: the command is journaled (and its projections committed)
before the route reads the order back. Another account's order is answered exactly like an
unknown one (404 UNKNOWN_ORDER), so no account learns which order ids exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from sqlmodel import Session, col, select

from api import order_commands
from api.deps import DbDep, GatewayDep, Principal, ReadPrincipal, TradePrincipal
from api.routes.common import execute, make_router, not_found, read
from api.schemas import (
    CLIENT_ORDER_ID_PATTERN,
    COMMAND_ERRORS,
    MAX_ID,
    PRIVATE_ERRORS,
    SYMBOL_PATTERN,
    AmendOrderIn,
    CancelAllIn,
    CancelAllOut,
    OrderAckOut,
    OrderOut,
    PlaceOrderIn,
    UrlInt,
    error_responses,
)
from exchange.store.tables import Order

router = make_router("orders", authenticated=True)

OrderIdPath = Annotated[UrlInt, Path(ge=1, le=MAX_ID, description="the exchange's order id")]
OPEN_STATUSES = ("open", "partially_filled")
CLOSED_STATUSES = ("filled", "cancelled")


def order_out(row: Order) -> OrderOut:
    return OrderOut.model_validate(row, from_attributes=True)


def _get(db: Session, order_id: int) -> Order | None:
    return db.get(Order, order_id)


async def visible_order(db: Session, principal: Principal, order_id: int, operators_too: bool) -> Order:
    """The order if this principal may act on it; 404 UNKNOWN_ORDER otherwise (also when foreign)."""
    row = await read(db, _get, order_id)
    if row is None or (
        row.account_id != principal.account_id and not (operators_too and principal.is_operator)
    ):
        raise not_found("UNKNOWN_ORDER", f"no order {order_id} on this account")
    return row


async def reread(db: Session, order_id: int) -> Order:
    row = await read(db, _get, order_id)
    assert row is not None, "an acknowledged order is in the projections"
    return row


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderAckOut,
    summary="Place an order",
    responses=COMMAND_ERRORS,
)
async def place_order(
    body: PlaceOrderIn, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> OrderAckOut:
    """Limit (GTC), IOC, FOK, post-only and market orders (`price` is then the protection price),
    with a self-trade prevention mode. The order's cash (price x quantity + fees) or collateral is
    locked before it rests (docs/exchange.md, "Collateral").

    Idempotent: the same `client_order_id` with the same order returns the first result (same
    `seq`, same `order_id`, the order's current state) and does nothing twice; with a different
    order it is 409 DUPLICATE_CLIENT_ORDER_ID. A refused order stays refused on retry."""
    result = await execute(gateway, order_commands.place_order(principal.account_id, body, "rest"))
    row = await reread(db, result.data["order_id"])
    return OrderAckOut(**order_out(row).model_dump(), seq=result.seq)


@router.delete(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Cancel an order (yours; operators: any)",
    responses=COMMAND_ERRORS,
)
async def cancel_order(
    order_id: OrderIdPath, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> OrderOut:
    """An order that is no longer open (filled, cancelled) is 404 UNKNOWN_ORDER from the sequencer."""
    await visible_order(db, principal, order_id, operators_too=True)
    await execute(gateway, order_commands.cancel_order(principal.account_id, order_id))
    return order_out(await reread(db, order_id))


@router.patch(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Amend an order's price and open quantity (yours only)",
    responses=COMMAND_ERRORS,
)
async def amend_order(
    order_id: OrderIdPath, body: AmendOrderIn, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> OrderOut:
    """Reducing the quantity at the same price keeps the order's priority; a price change or an
    increase sends it to the back of its new level. Locks are adjusted to the new terms."""
    await visible_order(db, principal, order_id, operators_too=False)
    await execute(gateway, order_commands.amend_order(principal.account_id, order_id, body))
    return order_out(await reread(db, order_id))


@router.post(
    "/orders/cancel-all",
    response_model=CancelAllOut,
    summary="Cancel all your resting orders (optionally on one instrument)",
    responses=COMMAND_ERRORS,
)
async def cancel_all(
    principal: TradePrincipal, gateway: GatewayDep, body: CancelAllIn | None = None
) -> CancelAllOut:
    """Operators may name another `account_id`; anyone else doing so is 403 NOT_PERMITTED."""
    body = body or CancelAllIn()
    account_id = body.account_id if body.account_id is not None else principal.account_id
    result = await execute(gateway, order_commands.cancel_all(principal.account_id, body))
    return CancelAllOut(account_id=account_id, cancelled=result.data["cancelled"], seq=result.seq)


def _list(
    db: Session,
    account_id: int,
    status: str,
    symbol: str | None,
    client_order_id: str | None,
    limit: int,
    before: int | None,
) -> list[Order]:
    query = select(Order).where(Order.account_id == account_id)
    if status == "open":
        query = query.where(col(Order.status).in_(OPEN_STATUSES))
    elif status == "closed":
        query = query.where(col(Order.status).in_(CLOSED_STATUSES))
    if symbol is not None:
        query = query.where(Order.symbol == symbol)
    if client_order_id is not None:
        query = query.where(Order.client_order_id == client_order_id)
    if before is not None:
        query = query.where(Order.order_id < before)
    return list(db.exec(query.order_by(col(Order.order_id).desc()).limit(limit)).all())


@router.get(
    "/orders",
    response_model=list[OrderOut],
    summary="Your orders, newest first",
    responses=PRIVATE_ERRORS,
)
async def list_orders(
    principal: ReadPrincipal,
    db: DbDep,
    status: Annotated[
        Literal["open", "closed", "all"], Query(description="open: resting; closed: filled or cancelled")
    ] = "open",
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    client_order_id: Annotated[str | None, Query(pattern=CLIENT_ORDER_ID_PATTERN)] = None,
    limit: Annotated[UrlInt, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        UrlInt | None, Query(ge=1, le=MAX_ID, description="order ids below this (paging)")
    ] = None,
) -> list[OrderOut]:
    rows = await read(db, _list, principal.account_id, status, symbol, client_order_id, limit, before)
    return [order_out(row) for row in rows]


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="One of your orders",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def get_order(order_id: OrderIdPath, principal: ReadPrincipal, db: DbDep) -> OrderOut:
    """Another account's order is 404, like an unknown one."""
    return order_out(await visible_order(db, principal, order_id, operators_too=False))
