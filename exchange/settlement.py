"""Settlement of the matching engine's events: fills move cash and positions, cancels release
collateral, level changes become market data.

A fill at price P (fen per contract) for q contracts, buyer B and seller S:
- both orders' locks for q contracts are released (lock_per * q each);
- the premium P * q moves B available -> S available (P < 0: S -> B, a swap paid to the buyer);
- the taker pays taker_fee * q to `exchange:fees`, the maker maker_fee * q (negative: a rebate);
- CAP/MAT: S delivers q reserved contracts (closing its long or opening a short whose cover the
  order already holds), B receives q (closing a short releases its cover);
- SWP: B gives q of the give leg to S, S gives q of the receive leg to B.
Each party's released lock covers what it pays, because the fill price is never worse than its
limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange.commands import CapacitySwapTerms
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.events import BookLevelChanged, TradeExecuted
from exchange.instruments import Instrument
from exchange.ledger import AVAILABLE, FEES, Ledger
from exchange.risk import Risk
from exchange.state import SIDE_NAMES, Order, State
from matching_engine.codes import CancelReason, EventKind, Side
from matching_engine.events import BookEvent

CANCEL_REASON_NAMES = {int(r): r.name.lower() for r in CancelReason}
_FILL = int(EventKind.FILL)
_CANCELLED = int(EventKind.CANCELLED)
_LEVEL = int(EventKind.LEVEL)
_REJECTED = int(EventKind.REJECTED)
_BUY = int(Side.BUY)


class Settlement:
    """Turns a book's events into the exchange's: fills move cash (ledger) and positions (risk),
    cancels release what the order held, level changes become market data. Closes orders: removes
    them from `State.orders` and from the open-order index it is given (account id -> order id ->
    Order), which the order handlers fill."""

    __slots__ = (
        "_state",
        "_taker_fee",
        "_maker_fee",
        "_effects",
        "_dirty_orders",
        "_open_orders_by_account",
        "_ledger",
        "_risk",
    )

    def __init__(
        self,
        state: State,
        config: ExchangeConfig,
        effects: Effects,
        ledger: Ledger,
        risk: Risk,
        open_orders_by_account: dict[int, dict[int, Order]],
    ) -> None:
        self._state = state
        self._taker_fee = config.taker_fee
        self._maker_fee = config.maker_fee
        self._effects = effects
        self._dirty_orders = effects.dirty_orders
        self._open_orders_by_account = open_orders_by_account
        self._ledger = ledger
        self._risk = risk

    def apply_book_events(self, inst: Instrument, book_events: Sequence[BookEvent]) -> None:
        """Settle the engine's events of one command, in order (ACCEPTED / AMENDED are handled by
        the caller before)."""
        events = self._effects.events
        symbol = inst.symbol
        for ev in book_events:
            kind = ev[1]
            if kind == _LEVEL:
                events.append(
                    BookLevelChanged(
                        symbol=symbol,
                        side=SIDE_NAMES[ev[4]],
                        price=ev[5],
                        quantity=ev[6],
                        order_count=ev[12],
                        book_seq=ev[0],
                    )
                )
            elif kind == _FILL:
                self._fill(inst, ev)
            elif kind == _CANCELLED:
                self.order_cancelled(self._state.orders[ev[2]], ev[6], CANCEL_REASON_NAMES[ev[8]])
            elif kind == _REJECTED:  # pragma: no cover - the sequencer validates before the book
                raise AssertionError(f"the book rejected a validated command: {ev!r}")

    def order_cancelled(self, o: Order, quantity: int, reason: str) -> None:
        """`quantity` open contracts of `o` are cancelled: release their locks; the order is closed."""
        state = self._state
        account = state.accounts[o.account_id]
        self._ledger.release(account, quantity * o.lock_per, f"order {o.order_id} cancelled")
        if o.reserve_symbol:
            self._risk.unreserve(o.account_id, state.instruments[o.reserve_symbol], quantity)
        o.open_quantity -= quantity
        o.status = "cancelled"
        o.cancel_reason = reason
        o.updated_at = self._effects.timestamp
        self._dirty_orders[o.order_id] = o
        self.close_order(o)

    def close_order(self, o: Order) -> None:
        """Forget a filled or cancelled order (its history is in the projections)."""
        del self._state.orders[o.order_id]
        del self._open_orders_by_account[o.account_id][o.order_id]

    def _fill(self, inst: Instrument, ev: BookEvent) -> None:
        state = self._state
        ledger = self._ledger
        risk = self._risk
        orders = state.orders
        accounts = state.accounts
        ts = self._effects.timestamp
        taker = orders[ev[2]]
        maker = orders[ev[9]]
        price = ev[5]
        q = ev[6]
        if taker.side == _BUY:
            buyer, seller = taker, maker
        else:
            buyer, seller = maker, taker
        b_acct = accounts[buyer.account_id]
        s_acct = accounts[seller.account_id]
        t_acct = accounts[taker.account_id]
        m_acct = accounts[maker.account_id]
        tid = state.next_trade_id
        state.next_trade_id = tid + 1
        memo = f"trade {tid}"
        # cash: release both locks, then pay premium and fees from available
        ledger.release(b_acct, q * buyer.lock_per, memo)
        ledger.release(s_acct, q * seller.lock_per, memo)
        premium = price * q
        if premium > 0:
            ledger.user_to_user(b_acct, AVAILABLE, s_acct, premium, memo)
        elif premium < 0:
            ledger.user_to_user(s_acct, AVAILABLE, b_acct, -premium, memo)
        taker_fee = self._taker_fee * q
        maker_fee = self._maker_fee * q
        if taker_fee:
            ledger.user_to_system(t_acct, AVAILABLE, FEES, taker_fee, memo)
        if maker_fee > 0:
            ledger.user_to_system(m_acct, AVAILABLE, FEES, maker_fee, memo)
        elif maker_fee < 0:
            ledger.system_to_user(FEES, m_acct, -maker_fee, memo)
        # positions
        terms = inst.terms
        if type(terms) is CapacitySwapTerms:  # inst.kind == CAPACITY_SWAP, with the terms' type
            instruments = state.instruments
            give = instruments[terms.give_symbol]
            receive = instruments[terms.receive_symbol]
            risk.deliver_reserved(buyer.account_id, give, q)
            risk.add_long(seller.account_id, give, q)
            risk.deliver_reserved(seller.account_id, receive, q)
            risk.add_long(buyer.account_id, receive, q)
        else:
            risk.deliver_reserved(seller.account_id, inst, q)
            risk.add_long(buyer.account_id, inst, q)
        # orders
        for o in (taker, maker):
            o.open_quantity -= q
            o.filled_quantity += q
            o.updated_at = ts
            o.status = "partially_filled" if o.open_quantity else "filled"
            self._dirty_orders[o.order_id] = o
        if not maker.open_quantity:
            self.close_order(maker)
        inst.last_trade_time = ts
        inst.last_trade_price = price
        self._effects.events.append(
            TradeExecuted(
                trade_id=tid,
                symbol=inst.symbol,
                price=price,
                quantity=q,
                taker_side=SIDE_NAMES[taker.side],
                maker_order_id=maker.order_id,
                taker_order_id=taker.order_id,
                maker_account_id=maker.account_id,
                taker_account_id=taker.account_id,
                maker_fee=maker_fee,
                taker_fee=taker_fee,
                executed_at=ts,
            )
        )
