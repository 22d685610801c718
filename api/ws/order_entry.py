"""Order entry over the WebSocket: place, cancel, amend, cancel all and mass quote.

Each op checks, in the connection's reader (so requests are submitted in arrival order): the
`trade` scope, the request's shape, market-maker protection, and its rate-limit bucket (orders or
quotes). Then the command goes to the sequencer concurrently with the next requests, and the
durable result comes back as the correlated response. No business rule here: the sequencer
decides, and its refusal codes are passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api import order_commands
from api.order_commands import new_client_order_id
from api.schemas import AmendOrderByIdIn, CancelAllIn, CancelOrderIn, PlaceOrderIn
from api.ws.protocol import (
    BAD_REQUEST,
    RATE_LIMITED,
    MassQuote,
    QuoteEntry,
    RequestId,
    WsError,
    fields,
)
from exchange import commands as cmd
from exchange.events import OrderChanged
from exchange.results import CommandResult

if TYPE_CHECKING:
    from api.ws.sessions import Session


def refusal(result: CommandResult) -> WsError:
    return WsError(result.code_name, result.message or result.code_name)


def ok_or_raise(result: CommandResult) -> CommandResult:
    if not result.ok:
        raise refusal(result)
    return result


async def spend(session: Session, bucket: str, cost: int = 1) -> None:
    """Take `cost` from the principal's `orders` or `quotes` bucket; RATE_LIMITED when empty."""
    principal = session.principal
    assert principal is not None
    settings = session.settings
    if bucket == "quotes":
        rate, burst = settings.ws_quote_rate, settings.ws_quote_burst
    else:
        rate, burst = settings.ws_order_rate, settings.ws_order_burst
    who = f"key:{principal.key_id}" if principal.key_id else f"account:{principal.account_id}"
    retry_after = await session.app.state.rate_limiter.allow(f"ws-{bucket}:{who}", rate, burst, cost)
    if retry_after is not None:
        raise WsError(
            RATE_LIMITED,
            f"the {bucket} rate limit is reached; retry after {retry_after:.3f} s",
            retry_after=round(retry_after, 3),
        )


# -- PLACE, CANCEL, AMEND, CANCEL ALL -----------------------------------------------------------


async def place(session: Session, raw: dict[str, Any], request_id: RequestId) -> Any:
    principal = session.require_scope("trade")
    request = fields(raw, PlaceOrderIn)
    session.protection.check(principal.account_id, session.hub.underlying(request.symbol))
    await spend(session, "orders")
    command = order_commands.place_order(principal.account_id, request, "ws")
    client_order_id = command.client_order_id

    def answer(result: CommandResult) -> dict[str, Any]:
        order_id = int(result.data["order_id"])
        state = _order_state(result, order_id)
        return {
            "order_id": order_id,
            "client_order_id": client_order_id,
            "seq": result.seq,
            "status": state.status if state else None,
            "open_quantity": state.open_quantity if state else None,
            "filled_quantity": state.filled_quantity if state else None,
        }

    return session.submit(request_id, "place", command, answer)


async def cancel(session: Session, raw: dict[str, Any], request_id: RequestId) -> Any:
    principal = session.require_scope("trade")
    request = fields(raw, CancelOrderIn)
    await spend(session, "orders")
    command = order_commands.cancel_order(principal.account_id, request.order_id)
    return session.submit(request_id, "cancel", command, _order_id_and_seq)


async def amend(session: Session, raw: dict[str, Any], request_id: RequestId) -> Any:
    principal = session.require_scope("trade")
    request = fields(raw, AmendOrderByIdIn)
    if session.protection.any_frozen(principal.account_id):
        # Only then is the order's instrument worth a round trip to the sequencer.
        order = await session.gateway.query("order", request.order_id)
        if order is not None and order["account_id"] == principal.account_id:
            session.protection.check(principal.account_id, session.hub.underlying(order["symbol"]))
    await spend(session, "orders")
    command = order_commands.amend_order(principal.account_id, request.order_id, request)
    return session.submit(request_id, "amend", command, _order_id_and_seq)


async def cancel_all(session: Session, raw: dict[str, Any], request_id: RequestId) -> Any:
    principal = session.require_scope("trade")
    request = fields(raw, CancelAllIn)
    await spend(session, "orders")
    command = order_commands.cancel_all(principal.account_id, request)

    def answer(result: CommandResult) -> dict[str, Any]:
        return {"cancelled": int(result.data.get("cancelled", 0)), "seq": result.seq}

    return session.submit(request_id, "cancel_all", command, answer)


def _order_id_and_seq(result: CommandResult) -> dict[str, Any]:
    return {"order_id": int(result.data["order_id"]), "seq": result.seq}


def _order_state(result: CommandResult, order_id: int) -> OrderChanged | None:
    state = None
    for event in result.events:
        if type(event) is OrderChanged and event.order_id == order_id:
            state = event
    return state


# -- MASS QUOTE ---------------------------------------------------------------------------------


def _sides(entry: QuoteEntry) -> list[tuple[str, int, int]]:
    """(side, price, quantity) of each side the entry quotes."""
    sides = []
    for side, price, quantity in (
        ("buy", entry.bid_price, entry.bid_quantity),
        ("sell", entry.ask_price, entry.ask_quantity),
    ):
        if (price is None) != (quantity is None):
            raise WsError(BAD_REQUEST, f"{entry.symbol}: a quoted side needs both its price and its quantity")
        if price is not None and quantity is not None:
            sides.append((side, price, quantity))
    return sides


async def mass_quote(session: Session, raw: dict[str, Any], request_id: RequestId) -> Any:
    """Replace this connection's two-sided quote on many instruments at once. An entry without
    sides only pulls the previous quote."""
    principal = session.require_scope("trade")
    request = fields(raw, MassQuote)
    symbols = [entry.symbol for entry in request.quotes]
    if len(set(symbols)) != len(symbols):
        raise WsError(BAD_REQUEST, "a symbol appears twice in one mass quote")
    plans = [(entry, _sides(entry)) for entry in request.quotes]
    blocked: dict[str, WsError] = {}
    for entry in request.quotes:
        try:
            session.protection.check(principal.account_id, session.hub.underlying(entry.symbol))
        except WsError as error:
            blocked[entry.symbol] = error
    await spend(session, "quotes", len(request.quotes))
    account_id = principal.account_id

    async def submit() -> dict[str, Any]:
        async with session.quote_lock:  # the previous quote's order ids are known once it is done
            commands: list[cmd.Command] = []
            legs: list[tuple[str, list[tuple[str, int]]]] = []  # symbol, [(side, command index)]
            previous: dict[str, list[int]] = {}
            for entry, sides in plans:
                if entry.symbol in blocked:
                    continue
                previous[entry.symbol] = session.quotes.pop(entry.symbol, [])
                for order_id in previous[entry.symbol]:
                    commands.append(cmd.CancelOrder(timestamp=0, actor_id=account_id, order_id=order_id))
                placed = []
                for side, price, quantity in sides:
                    placed.append((side, len(commands)))
                    commands.append(
                        cmd.PlaceOrder(
                            timestamp=0,
                            actor_id=account_id,
                            symbol=entry.symbol,
                            client_order_id=new_client_order_id("mq"),
                            side=side,
                            order_type=request.order_type,
                            price=price,
                            quantity=quantity,
                        )
                    )
                legs.append((entry.symbol, placed))
            try:
                results = await session.gateway.submit_many(commands) if commands else []
            except BaseException:
                for symbol, order_ids in previous.items():  # nothing is known to be cancelled
                    session.quotes[symbol] = order_ids
                raise
            answers: dict[str, dict[str, Any]] = {}
            for symbol, placed in legs:
                answer: dict[str, Any] = {"symbol": symbol, "ok": True, "bid": None, "ask": None}
                live = []
                for side, index in placed:
                    result = results[index]
                    if result.ok:
                        order_id = int(result.data["order_id"])
                        live.append(order_id)
                        leg: dict[str, Any] = {"ok": True, "order_id": order_id}
                    else:
                        answer["ok"] = False
                        leg = {"ok": False, "error": refusal(result).body()}
                    answer["bid" if side == "buy" else "ask"] = leg
                session.quotes[symbol] = live
                answers[symbol] = answer
            for symbol, error in blocked.items():
                answers[symbol] = {"symbol": symbol, "ok": False, "error": error.body()}
            return {"quotes": [answers[symbol] for symbol in symbols]}

    return session.answer_later(request_id, "mass_quote", submit())
