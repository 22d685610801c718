"""Order entry over the WebSocket: place, cancel, amend, cancel all and mass quote.

Each op takes the validated request and the principal (the session checked the `trade` scope and
the request's shape) and checks, in the connection's reader (so requests are submitted in arrival
order), market-maker protection and its rate-limit bucket (orders or quotes). It returns what to
do, and the connection does it (api/ws/submitter.py):

- `Submit(command, answer)`: submit the command (with the other requests of the loop's turn) and
  answer `answer(result)`, or the sequencer's refusal;
- `Deferred(work)`: run `work` concurrently and answer its result (the mass quote, which waits for
  the connection's previous one).

No business rule here: the sequencer decides, and its refusal codes are passed on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from api import order_commands, queries
from api.config import ApiSettings
from api.deps import Principal
from api.gateway import Gateway
from api.order_commands import new_client_order_id
from api.rate_limit import RateLimiter
from api.schemas import AmendOrderByIdIn, CancelAllIn, CancelOrderIn, PlaceOrderIn
from api.ws.interfaces import QuoteGuard, Underlyings
from api.ws.protocol import BAD_REQUEST, RATE_LIMITED, MassQuote, QuoteEntry, WsError
from exchange import commands as cmd
from exchange.events import OrderChanged
from exchange.results import CommandResult

Answer = Callable[[CommandResult], Any]  # the result of a successful command


class Submit(NamedTuple):
    """Submit `command`; a success is answered `answer(result)`, a refusal with its code."""

    command: cmd.Command
    answer: Answer


class Deferred(NamedTuple):
    """Answer the result of `work`, run concurrently with the connection's next requests."""

    work: Coroutine[Any, Any, Any]


def refusal(result: CommandResult) -> WsError:
    return WsError(result.code_name, result.message or result.code_name)


class QuoteBook:
    """One connection's quotes: symbol -> the order ids its last mass quote placed there. Mass
    quotes of a connection replace each other in arrival order (`lock`): the previous quote's
    order ids are known once it is done."""

    __slots__ = ("orders", "lock")

    def __init__(self) -> None:
        self.orders: dict[str, list[int]] = {}
        self.lock = asyncio.Lock()


class OrderEntry:
    """The order-entry ops of every connection of this process."""

    def __init__(
        self,
        gateway: Gateway,
        rate_limiter: RateLimiter,
        settings: ApiSettings,
        guard: QuoteGuard,
        underlyings: Underlyings,
    ) -> None:
        self.gateway = gateway
        self.rate_limiter = rate_limiter
        self.settings = settings
        self.guard = guard  # market-maker protection
        self.underlyings = underlyings

    async def spend(self, principal: Principal, bucket: str, cost: int = 1) -> None:
        """Take `cost` from the principal's `orders` or `quotes` bucket; RATE_LIMITED when empty."""
        settings = self.settings
        if bucket == "quotes":
            rate, burst = settings.ws_quote_rate, settings.ws_quote_burst
        else:
            rate, burst = settings.ws_order_rate, settings.ws_order_burst
        who = f"key:{principal.key_id}" if principal.key_id else f"account:{principal.account_id}"
        retry_after = await self.rate_limiter.allow(f"ws-{bucket}:{who}", rate, burst, cost)
        if retry_after is not None:
            raise WsError(
                RATE_LIMITED,
                f"the {bucket} rate limit is reached; retry after {retry_after:.3f} s",
                retry_after=round(retry_after, 3),
            )

    # -- PLACE, CANCEL, AMEND, CANCEL ALL -------------------------------------------------------

    async def place(self, request: PlaceOrderIn, principal: Principal) -> Submit:
        self.guard.check(principal.account_id, self.underlyings.underlying(request.symbol))
        await self.spend(principal, "orders")
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

        return Submit(command, answer)

    async def cancel(self, request: CancelOrderIn, principal: Principal) -> Submit:
        await self.spend(principal, "orders")
        return Submit(order_commands.cancel_order(principal.account_id, request.order_id), _order_id_and_seq)

    async def amend(self, request: AmendOrderByIdIn, principal: Principal) -> Submit:
        if self.guard.any_frozen(principal.account_id):
            # Only then is the order's instrument worth a round trip to the sequencer.
            order = await queries.order(self.gateway, request.order_id)
            if order is not None and order.account_id == principal.account_id:
                self.guard.check(principal.account_id, self.underlyings.underlying(order.symbol))
        await self.spend(principal, "orders")
        command = order_commands.amend_order(principal.account_id, request.order_id, request)
        return Submit(command, _order_id_and_seq)

    async def cancel_all(self, request: CancelAllIn, principal: Principal) -> Submit:
        await self.spend(principal, "orders")
        return Submit(order_commands.cancel_all(principal.account_id, request), _cancelled_and_seq)

    # -- MASS QUOTE -----------------------------------------------------------------------------

    async def mass_quote(self, request: MassQuote, principal: Principal, quotes: QuoteBook) -> Deferred:
        """Replace the connection's two-sided quote (`quotes`) on many instruments at once. An
        entry without sides only pulls the previous quote."""
        symbols = [entry.symbol for entry in request.quotes]
        if len(set(symbols)) != len(symbols):
            raise WsError(BAD_REQUEST, "a symbol appears twice in one mass quote")
        plans = [(entry, _sides(entry)) for entry in request.quotes]
        blocked: dict[str, WsError] = {}
        for entry in request.quotes:
            try:
                self.guard.check(principal.account_id, self.underlyings.underlying(entry.symbol))
            except WsError as error:
                blocked[entry.symbol] = error
        await self.spend(principal, "quotes", len(request.quotes))
        return Deferred(self._replace(quotes, principal.account_id, request.order_type, plans, blocked))

    async def _replace(
        self,
        quotes: QuoteBook,
        account_id: int,
        order_type: str,
        plans: list[tuple[QuoteEntry, list[tuple[str, int, int]]]],
        blocked: dict[str, WsError],
    ) -> dict[str, Any]:
        async with quotes.lock:
            commands: list[cmd.Command] = []
            legs: list[tuple[str, list[tuple[str, int]]]] = []  # symbol, [(side, command index)]
            previous: dict[str, list[int]] = {}
            for entry, sides in plans:
                if entry.symbol in blocked:
                    continue
                previous[entry.symbol] = quotes.orders.pop(entry.symbol, [])
                for order_id in previous[entry.symbol]:
                    commands.append(cmd.CancelOrder(actor_id=account_id, order_id=order_id))
                placed = []
                for side, price, quantity in sides:
                    placed.append((side, len(commands)))
                    commands.append(
                        cmd.PlaceOrder(
                            actor_id=account_id,
                            symbol=entry.symbol,
                            client_order_id=new_client_order_id("mq"),
                            side=side,
                            order_type=order_type,
                            price=price,
                            quantity=quantity,
                        )
                    )
                legs.append((entry.symbol, placed))
            try:
                results = await self.gateway.submit_many(commands) if commands else []
            except BaseException:
                for symbol, order_ids in previous.items():  # nothing is known to be cancelled
                    quotes.orders[symbol] = order_ids
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
                quotes.orders[symbol] = live
                answers[symbol] = answer
            for symbol, error in blocked.items():
                answers[symbol] = {"symbol": symbol, "ok": False, "error": error.body()}
            return {"quotes": [answers[entry.symbol] for entry, _sides in plans]}


def _order_id_and_seq(result: CommandResult) -> dict[str, Any]:
    return {"order_id": int(result.data["order_id"]), "seq": result.seq}


def _cancelled_and_seq(result: CommandResult) -> dict[str, Any]:
    return {"cancelled": int(result.data.get("cancelled", 0)), "seq": result.seq}


def _order_state(result: CommandResult, order_id: int) -> OrderChanged | None:
    state = None
    for event in result.events:
        if type(event) is OrderChanged and event.order_id == order_id:
            state = event
    return state


def _sides(entry: QuoteEntry) -> list[tuple[str, int, int]]:
    """(side, price in fen, quantity in contracts) of each side the entry quotes."""
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
