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

from exchange.events import BookLevelChanged, OrderChanged, TradeExecuted
from exchange.instruments import Instrument
from exchange.ledger import FEES
from exchange.state import Order
from matching_engine.codes import CancelReason, EventKind, Side

SIDE_NAMES = ("buy", "sell")
CANCEL_REASON_NAMES = {int(r): r.name.lower() for r in CancelReason}
_FILL = int(EventKind.FILL)
_CANCELLED = int(EventKind.CANCELLED)
_LEVEL = int(EventKind.LEVEL)
_REJECTED = int(EventKind.REJECTED)
_BUY = int(Side.BUY)


def order_event(o: Order) -> OrderChanged:
    return OrderChanged(
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        account_id=o.account_id,
        symbol=o.symbol,
        side=SIDE_NAMES[o.side],
        order_type=o.order_type,
        price=o.price,
        quantity=o.quantity,
        open_quantity=o.open_quantity,
        filled_quantity=o.filled_quantity,
        status=o.status,
        cancel_reason=o.cancel_reason,
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


class SettlementMixin:
    def _apply_book_events(self, inst: Instrument, book_events: list) -> None:
        """Settle the engine's events of one command, in order (ACCEPTED / AMENDED are handled by
        the caller before)."""
        events = self._events
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
                self._order_cancelled(self.state.orders[ev[2]], ev[6], CANCEL_REASON_NAMES[ev[8]])
            elif kind == _REJECTED:  # pragma: no cover - the sequencer validates before the book
                raise AssertionError(f"the book rejected a validated command: {ev!r}")

    def _order_cancelled(self, o: Order, quantity: int, reason: str) -> None:
        """`quantity` open contracts of `o` are cancelled: release their locks; the order is closed."""
        account = self.state.accounts[o.account_id]
        self._release(account, quantity * o.lock_per, f"order {o.order_id} cancelled")
        if o.reserve_symbol:
            self._unreserve(o.account_id, self.state.instruments[o.reserve_symbol], quantity)
        o.open_quantity -= quantity
        o.status = "cancelled"
        o.cancel_reason = reason
        o.updated_at = self._ts
        self._dirty_orders[o.order_id] = o
        self._close_order(o)

    def _close_order(self, o: Order) -> None:
        del self.state.orders[o.order_id]
        del self._open_by_account[o.account_id][o.order_id]

    def _fill(self, inst: Instrument, ev: tuple) -> None:
        orders = self.state.orders
        accounts = self.state.accounts
        config = self.config
        ts = self._ts
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
        tid = self.state.next_trade_id
        self.state.next_trade_id = tid + 1
        memo = f"trade {tid}"
        # cash: release both locks, then pay premium and fees from available
        self._release(b_acct, q * buyer.lock_per, memo)
        self._release(s_acct, q * seller.lock_per, memo)
        premium = price * q
        if premium > 0:
            self._user_to_user(b_acct, 0, s_acct, premium, memo)
        elif premium < 0:
            self._user_to_user(s_acct, 0, b_acct, -premium, memo)
        taker_fee = config.taker_fee * q
        maker_fee = config.maker_fee * q
        if taker_fee:
            self._user_to_system(t_acct, 0, FEES, taker_fee, memo)
        if maker_fee > 0:
            self._user_to_system(m_acct, 0, FEES, maker_fee, memo)
        elif maker_fee < 0:
            self._system_to_user(FEES, m_acct, -maker_fee, memo)
        # positions
        if inst.kind == "SWP":
            instruments = self.state.instruments
            give = instruments[inst.terms.give_symbol]
            receive = instruments[inst.terms.receive_symbol]
            self._deliver_reserved(buyer.account_id, give, q)
            self._add_long(seller.account_id, give, q)
            self._deliver_reserved(seller.account_id, receive, q)
            self._add_long(buyer.account_id, receive, q)
        else:
            self._deliver_reserved(seller.account_id, inst, q)
            self._add_long(buyer.account_id, inst, q)
        # orders
        for o in (taker, maker):
            o.open_quantity -= q
            o.filled_quantity += q
            o.updated_at = ts
            o.status = "partially_filled" if o.open_quantity else "filled"
            self._dirty_orders[o.order_id] = o
        if not maker.open_quantity:
            self._close_order(maker)
        inst.last_trade_time = ts
        inst.last_trade_price = price
        self._events.append(
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
