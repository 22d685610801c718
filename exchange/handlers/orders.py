"""Orders: place, cancel, amend, cancel all, and the checks an order passes before the book sees it.

The sequencer validates price and quantity itself (the book's own checks, 3002-3006, and post-only,
3010), so the book never rejects and a refusal changes nothing, not even the book's sequence.

What an order locks (docs/exchange.md, Collateral): `lock_per` fen per open contract,
`max(price, 0) + fee_lock` for a buy and `max(-price, 0) + fee_lock` for a sell (`fee_lock`, the
worst fee of both roles, ExchangeConfig.fee_lock; for a market order the price is its protection
price). A sell also reserves contracts of its own instrument, a swap order the leg it gives
(`Order.reserve_symbol`); what that needs is risk.Risk's to check and hold.
"""

from __future__ import annotations

from exchange import commands as cmd
from exchange.accounts import TRADING_ROLES, Account, is_operator
from exchange.books import OrderBook
from exchange.commands import CapacitySwapTerms, MaterialCallTerms
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.handlers.instruments import set_status
from exchange.handlers.require import (
    require_account,
    require_actor,
    require_instrument,
    require_not_expired,
    require_tradable,
)
from exchange.instruments import CAPACITY_OPTION, CAPACITY_SWAP, Instrument, Status
from exchange.ledger import Ledger
from exchange.results import Reject, ResultCode
from exchange.risk import Risk
from exchange.settlement import Settlement
from exchange.state import Order, State
from matching_engine.codes import INT64_MAX, OrderType, Side, StpMode

SIDES = {"buy": int(Side.BUY), "sell": int(Side.SELL)}
ORDER_TYPES = {
    "limit": int(OrderType.LIMIT),
    "ioc": int(OrderType.IOC),
    "fok": int(OrderType.FOK),
    "post_only": int(OrderType.POST_ONLY),
    "market": int(OrderType.MARKET),
}
STP_MODES = {
    "none": int(StpMode.NONE),
    "cancel_newest": int(StpMode.CANCEL_NEWEST),
    "cancel_oldest": int(StpMode.CANCEL_OLDEST),
    "cancel_both": int(StpMode.CANCEL_BOTH),
}
# contracts per order: keeps every book side's total far below 2^63 (docs/engine.md)
MAX_ORDER_QUANTITY = 10**12
_POST_ONLY = int(OrderType.POST_ONLY)
_BUY = int(Side.BUY)


class OrderHandlers:
    """PlaceOrder, CancelOrder, AmendOrder, CancelAll; `mass_cancel` serves the kill switch too.
    Adds new orders to `State.orders` and to the open-order index (account id -> order id ->
    Order) that settlement closes them in."""

    __slots__ = (
        "_state",
        "_config",
        "_fee_lock",
        "_effects",
        "_dirty_orders",
        "_books",
        "_open_orders_by_account",
        "_ledger",
        "_risk",
        "_settlement",
    )

    def __init__(
        self,
        state: State,
        config: ExchangeConfig,
        effects: Effects,
        books: dict[str, OrderBook],
        open_orders_by_account: dict[int, dict[int, Order]],
        ledger: Ledger,
        risk: Risk,
        settlement: Settlement,
    ) -> None:
        self._state = state
        self._config = config
        self._fee_lock = config.fee_lock
        self._effects = effects
        self._dirty_orders = effects.dirty_orders
        self._books = books
        self._open_orders_by_account = open_orders_by_account
        self._ledger = ledger
        self._risk = risk
        self._settlement = settlement

    # -- CHECKS -------------------------------------------------------------------------------------

    def _trader(self, actor_id: int) -> Account:
        account = self._state.accounts.get(actor_id)
        if account is None:
            raise Reject(ResultCode.UNKNOWN_ACCOUNT, f"unknown account {actor_id}")
        if account.role not in TRADING_ROLES:
            raise Reject(ResultCode.NOT_PERMITTED, f"a {account.role} account does not trade")
        if account.kill_switch:
            raise Reject(ResultCode.KILL_SWITCH_ENGAGED, "the kill switch is engaged")
        return account

    def _check_price_quantity(self, inst: Instrument, price: int, quantity: int) -> None:
        if quantity <= 0:
            raise Reject(ResultCode.MATCHING_INVALID_QUANTITY, "quantity must be > 0")
        if quantity % inst.lot:
            raise Reject(ResultCode.MATCHING_QUANTITY_OFF_LOT, f"quantity is not a multiple of {inst.lot}")
        if price % inst.tick:
            raise Reject(ResultCode.MATCHING_PRICE_OFF_TICK, f"price is not a multiple of {inst.tick}")
        if price < inst.min_price or price > inst.max_price:
            raise Reject(
                ResultCode.MATCHING_PRICE_OUT_OF_BAND, f"price outside [{inst.min_price}, {inst.max_price}]"
            )
        if abs(price) * quantity > INT64_MAX or quantity > MAX_ORDER_QUANTITY:
            raise Reject(ResultCode.MATCHING_NOTIONAL_OVERFLOW, "price * quantity or quantity too large")

    def fat_finger_band(self, inst: Instrument) -> tuple[int, int] | None:
        """(lowest, highest) acceptable order price, or None when there is no reference yet.

        MAT with a published index price: from the index-implied value (intrinsic value per
        contract, min(max(S - K, 0), cap - K) * units, S the latest index price) minus the
        tolerance, up to the most a contract can ever pay, (cap - K) * units. Otherwise: the last
        trade price plus or minus the tolerance. Tolerance: fat_finger_percent of the reference,
        at least fat_finger_min_ticks ticks."""
        config = self._config
        if not config.fat_finger_percent:
            return None
        min_deviation = config.fat_finger_min_ticks * inst.tick
        terms = inst.terms
        if type(terms) is MaterialCallTerms:  # inst.kind == MATERIAL_CALL, with the terms' type
            points = self._state.index_prices.get(terms.index)
            if points:
                max_payoff = (terms.cap - terms.strike) * terms.units_per_contract
                intrinsic = min(max(points[-1][1] - terms.strike, 0) * terms.units_per_contract, max_payoff)
                return intrinsic - max(
                    intrinsic * config.fat_finger_percent // 100, min_deviation
                ), max_payoff
        reference = inst.last_trade_price
        if reference is None:
            return None
        deviation = max(abs(reference) * config.fat_finger_percent // 100, min_deviation)
        return reference - deviation, reference + deviation

    def _check_fat_finger(self, inst: Instrument, price: int) -> None:
        band = self.fat_finger_band(inst)
        if band is not None and not band[0] <= price <= band[1]:
            raise Reject(
                ResultCode.FAT_FINGER,
                f"price {price} is outside the fat-finger band [{band[0]}, {band[1]}] of {inst.symbol}",
            )

    def _check_post_only(self, book: OrderBook, side: int, price: int) -> None:
        if side == _BUY:
            best = book.best_ask()
            if best is not None and price >= best[0]:
                raise Reject(ResultCode.MATCHING_WOULD_CROSS, "a post-only buy would cross")
        else:
            best = book.best_bid()
            if best is not None and price <= best[0]:
                raise Reject(ResultCode.MATCHING_WOULD_CROSS, "a post-only sell would cross")

    def _reserve_target(self, inst: Instrument, side: int) -> tuple[Instrument | None, bool]:
        """The instrument whose position an order of `side` reserves, and whether it is a swap leg."""
        if inst.kind == CAPACITY_SWAP:
            terms = inst.terms
            assert isinstance(terms, CapacitySwapTerms)
            leg_symbol = terms.give_symbol if side == _BUY else terms.receive_symbol
            leg = self._state.instruments[leg_symbol]
            if leg.status in (Status.EXPIRED, Status.SETTLED, Status.HALTED):
                raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"leg {leg_symbol} is {leg.status}")
            return leg, True
        if side == _BUY:
            return None, False
        return inst, False

    def _owned_order(self, order_id: int, actor_id: int, operators_too: bool) -> Order:
        o = self._state.orders.get(order_id)
        if o is None:
            raise Reject(ResultCode.UNKNOWN_ORDER, f"order {order_id} is not open")
        if o.account_id != actor_id:
            actor = require_actor(self._state, actor_id)
            if not (operators_too and is_operator(actor_id, actor)):
                raise Reject(ResultCode.NOT_YOUR_ORDER, f"order {order_id} belongs to another account")
        return o

    # -- COMMANDS -----------------------------------------------------------------------------------

    def place(self, c: cmd.PlaceOrder) -> dict[str, int]:
        account = self._trader(c.actor_id)
        state = self._state
        inst = state.instruments.get(c.symbol)
        if inst is None:
            raise Reject(ResultCode.UNKNOWN_INSTRUMENT, f"unknown instrument {c.symbol!r}")
        side = SIDES.get(c.side)
        order_type = ORDER_TYPES.get(c.order_type)
        stp = STP_MODES.get(c.stp)
        if side is None or order_type is None or stp is None or not c.client_order_id:
            raise Reject(ResultCode.INVALID_FIELD, "side, order_type, stp or client_order_id is invalid")
        ts = c.timestamp
        if inst.status != Status.TRADING or ts >= inst.expiry:
            require_tradable(inst, ts)
        price = c.price
        quantity = c.quantity
        self._check_price_quantity(inst, price, quantity)
        self._check_fat_finger(inst, price)
        book = self._books[inst.symbol]
        if order_type == _POST_ONLY:
            self._check_post_only(book, side, price)
        lock_per = (price if side == _BUY else -price) if (price if side == _BUY else -price) > 0 else 0
        lock_per += self._fee_lock
        order_cash = lock_per * quantity
        cash = order_cash
        reserve_inst, swap_leg = self._reserve_target(inst, side)
        if reserve_inst is not None:
            cash += self._risk.check_reserve(account, reserve_inst, quantity, swap_leg)
        if cash > account.available:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"{cash} needed, {account.available} available")
        # -- mutation --
        if inst.status == Status.PENDING:
            set_status(self._effects, inst, Status.TRADING)
        oid = state.next_order_id
        state.next_order_id = oid + 1
        o = Order(
            order_id=oid,
            client_order_id=c.client_order_id,
            account_id=account.account_id,
            symbol=inst.symbol,
            side=side,
            order_type=c.order_type,
            stp=c.stp,
            price=price,
            quantity=quantity,
            open_quantity=quantity,
            filled_quantity=0,
            status="open",
            created_at=ts,
            updated_at=ts,
            lock_per=lock_per,
            reserve_symbol=reserve_inst.symbol if reserve_inst is not None else "",
        )
        state.orders[oid] = o
        self._open_orders_by_account[account.account_id][oid] = o
        self._dirty_orders[oid] = o
        self._ledger.lock(account, order_cash, f"order {oid}")
        if reserve_inst is not None:
            self._risk.reserve(account.account_id, reserve_inst, quantity)
        self._settlement.apply_book_events(
            inst, book.place(oid, account.account_id, side, price, quantity, order_type, stp)
        )
        if o.status == "filled":
            self._settlement.close_order(o)
        return {"order_id": oid}

    def cancel(self, c: cmd.CancelOrder) -> dict[str, int]:
        o = self._owned_order(c.order_id, c.actor_id, True)
        inst = self._state.instruments[o.symbol]
        self._settlement.apply_book_events(inst, self._books[o.symbol].cancel(o.order_id, o.account_id))
        return {"order_id": o.order_id}

    def amend(self, c: cmd.AmendOrder) -> dict[str, int]:
        o = self._owned_order(c.order_id, c.actor_id, False)
        account = self._trader(c.actor_id)
        state = self._state
        inst = state.instruments[o.symbol]
        require_tradable(inst, c.timestamp)
        price = c.price
        quantity = c.quantity
        self._check_price_quantity(inst, price, quantity)
        if price != o.price:
            self._check_fat_finger(inst, price)
        book = self._books[o.symbol]
        if o.order_type == "post_only" and (price != o.price or quantity > o.open_quantity):
            self._check_post_only(book, o.side, price)
        signed = price if o.side == _BUY else -price
        lock_per = (signed if signed > 0 else 0) + self._fee_lock
        cash_delta = lock_per * quantity - o.lock_per * o.open_quantity
        extra = quantity - o.open_quantity
        reserve_inst = state.instruments[o.reserve_symbol] if o.reserve_symbol else None
        cover_cash = 0
        if reserve_inst is not None and extra > 0:
            if reserve_inst.kind == CAPACITY_OPTION:
                require_not_expired(reserve_inst)
            cover_cash = self._risk.check_reserve(account, reserve_inst, extra, inst.kind == CAPACITY_SWAP)
        if cash_delta + cover_cash > account.available:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"{cash_delta + cover_cash} more needed")
        # -- mutation --
        if inst.status == Status.PENDING:
            set_status(self._effects, inst, Status.TRADING)
        if cash_delta > 0:
            self._ledger.lock(account, cash_delta, f"order {o.order_id} amended")
        elif cash_delta < 0:
            self._ledger.release(account, -cash_delta, f"order {o.order_id} amended")
        if reserve_inst is not None and extra:
            if extra > 0:
                self._risk.reserve(account.account_id, reserve_inst, extra)
            else:
                self._risk.unreserve(account.account_id, reserve_inst, -extra)
        o.price = price
        o.lock_per = lock_per
        o.open_quantity = quantity
        o.quantity = o.filled_quantity + quantity
        o.updated_at = c.timestamp
        self._dirty_orders[o.order_id] = o
        self._settlement.apply_book_events(inst, book.amend(o.order_id, o.account_id, price, quantity))
        if o.status == "filled" and o.order_id in state.orders:
            self._settlement.close_order(o)
        return {"order_id": o.order_id}

    def mass_cancel(self, account_id: int, symbol: str | None) -> int:
        """Cancel the account's open orders (in `symbol`, or all); returns how many."""
        open_orders = self._open_orders_by_account.get(account_id, {})
        symbols = sorted({o.symbol for o in open_orders.values() if symbol is None or o.symbol == symbol})
        before = len(open_orders)
        instruments = self._state.instruments
        for sym in symbols:
            self._settlement.apply_book_events(instruments[sym], self._books[sym].mass_cancel(account_id))
        return before - len(open_orders)

    def cancel_all(self, c: cmd.CancelAll) -> dict[str, int]:
        state = self._state
        actor = require_actor(state, c.actor_id)
        target = require_account(state, c.account_id)
        if c.actor_id != c.account_id and not is_operator(c.actor_id, actor):
            raise Reject(ResultCode.NOT_PERMITTED, "only the account itself or an operator")
        if c.symbol is not None:
            require_instrument(state, c.symbol)
        return {"cancelled": self.mass_cancel(target.account_id, c.symbol)}
