"""In-memory invariants of the sequencer's state; `audit(...)` (`Sequencer.audit()`) lists every breach
(empty: OK).

Checked: the ledger sums to zero and `exchange:settlement` is empty between commands; escrow equals
the unreleased escrow of the bookings; nothing is negative (cash, locks, positions of non-writers,
reserved contracts, capacity); each account's locked cash equals its open orders' locks plus its
material-call cover; each position's reserved contracts equal its open orders' reservations and its
cover is max(0, reserved - position); capacity locked equals the cover of the supplier's capacity
options and booked equals its bookings; open interest is zero per instrument (long == short);
every open order rests in its book with the same open quantity, and each book passes its own
integrity check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from exchange.accounts import Role
from exchange.books import OrderBook
from exchange.instruments import CAPACITY_OPTION, CAPACITY_SWAP, MATERIAL_CALL, Status
from exchange.ledger import ESCROW, FEES, SETTLEMENT
from exchange.state import Order, Position, State


def audit(
    state: State,
    books: Mapping[str, OrderBook],
    open_orders_by_account: Mapping[int, dict[int, Order]],
    positions_by_account: Mapping[int, dict[str, Position]],
) -> list[str]:
    """Every breach, one line each, of the sequencer's state, its books and its two indexes."""
    errors: list[str] = []
    err = errors.append
    accounts = state.accounts
    instruments = state.instruments

    total = sum(state.system_balances.values()) + sum(a.available + a.locked for a in accounts.values())
    if total:
        err(f"ledger sums to {total}, not 0")
    if state.system_balances.get(SETTLEMENT, 0):
        err(f"exchange:settlement holds {state.system_balances[SETTLEMENT]}")
    if state.system_balances.get(FEES, 0) < 0:
        err(f"exchange:fees is negative: {state.system_balances[FEES]}")
    held = 0
    for b in state.bookings.values():
        if b.escrow_held < 0 or b.released_to_supplier < 0 or b.refunded_to_creator < 0:
            err(f"booking {b.booking_id} amounts negative")
        held += b.escrow_held
    if state.system_balances.get(ESCROW, 0) != held:
        err(f"escrow {state.system_balances.get(ESCROW, 0)} != unreleased bookings {held}")

    expected_locked: dict[int, int] = defaultdict(int)
    expected_reserved: dict[tuple[int, str], int] = defaultdict(int)
    orders_per_symbol: dict[str, int] = defaultdict(int)
    for oid, o in state.orders.items():
        if o.open_quantity <= 0:
            err(f"order {oid} open quantity {o.open_quantity}")
        if o.quantity < o.open_quantity + o.filled_quantity:
            err(f"order {oid} quantity {o.quantity} < open + filled")
        if o.status not in ("open", "partially_filled"):
            err(f"order {oid} is open with status {o.status}")
        if open_orders_by_account.get(o.account_id, {}).get(oid) is not o:
            err(f"order {oid} missing from its account's index")
        expected_locked[o.account_id] += o.lock_per * o.open_quantity
        if o.reserve_symbol:
            expected_reserved[(o.account_id, o.reserve_symbol)] += o.open_quantity
        orders_per_symbol[o.symbol] += 1
        rested = books[o.symbol].order(oid)
        if rested is None:
            err(f"order {oid} is not in the book")
        elif rested[1] != o.account_id or rested[3] != o.price or rested[4] != o.open_quantity:
            err(f"order {oid} differs from the book: {rested}")
    if sum(len(v) for v in open_orders_by_account.values()) != len(state.orders):
        err("the open-order index holds closed orders")

    expected_cap_locked: dict[str, int] = defaultdict(int)
    for symbol, by_account in state.positions.items():
        inst = instruments[symbol]
        net = 0
        for aid, pos in by_account.items():
            net += pos.position
            if positions_by_account.get(aid, {}).get(symbol) is not pos:
                err(f"position {aid}/{symbol} missing from the account index")
            if pos.reserved < 0:
                err(f"position {aid}/{symbol} reserved {pos.reserved} < 0")
            if pos.reserved != expected_reserved.pop((aid, symbol), 0):
                err(f"position {aid}/{symbol} reserved {pos.reserved} != its orders' reservations")
            if pos.cover != max(0, pos.reserved - pos.position):
                err(f"position {aid}/{symbol} cover {pos.cover} != max(0, reserved - position)")
            if pos.position < 0:
                if inst.kind == CAPACITY_SWAP:
                    err(f"swap position {aid}/{symbol} is {pos.position}")
                if inst.kind == CAPACITY_OPTION and accounts[aid].role != Role.SUPPLIER:
                    err(f"non-supplier {aid} is short {symbol}")
            if inst.kind == CAPACITY_SWAP and pos.position:
                err(f"swap position {aid}/{symbol} is {pos.position}")
            if inst.status == Status.SETTLED and (pos.position or pos.reserved or pos.cover):
                err(f"settled {symbol} still has a position for {aid}")
            if inst.kind == MATERIAL_CALL:
                expected_locked[aid] += pos.cover * inst.collateral_per_contract
            elif inst.kind == CAPACITY_OPTION and pos.cover:
                expected_cap_locked[f"{aid}|{inst.capacity_key}"] += pos.cover * inst.collateral_per_contract
        if net:
            err(f"open interest of {symbol} does not balance: net {net}")
    for (aid, symbol), qty in expected_reserved.items():
        if qty:
            err(f"orders reserve {qty} of {(aid, symbol)} without a position")

    for aid, a in accounts.items():
        if a.available < 0 or a.locked < 0:
            err(f"account {aid} cash negative: {a.available}/{a.locked}")
        if a.locked != expected_locked.get(aid, 0):
            err(f"account {aid} locked {a.locked} != orders + cover {expected_locked.get(aid, 0)}")

    booked: dict[str, int] = defaultdict(int)
    for b in state.bookings.values():
        booked[f"{b.supplier_id}|{b.process}|{b.window_start}|{b.window_end}"] += b.units
    for key, cap in state.capacity.items():
        if cap.locked < 0 or cap.booked < 0 or cap.free < 0:
            err(f"capacity {key} negative: {cap}")
        if cap.locked != expected_cap_locked.pop(key, 0):
            err(f"capacity {key} locked {cap.locked} != cover of written options")
        if cap.booked != booked.pop(key, 0):
            err(f"capacity {key} booked {cap.booked} != its bookings")
    for key, units in list(expected_cap_locked.items()) + list(booked.items()):
        if units:
            err(f"capacity {key} missing for {units} units")

    for symbol, book in books.items():
        expected = orders_per_symbol.get(symbol, 0)
        if book.order_count != expected:
            err(f"book {symbol} holds {book.order_count} orders, the sequencer {expected}")
        try:
            book.check_integrity()
        except AssertionError as exc:
            err(f"book {symbol}: {exc}")
    return errors
