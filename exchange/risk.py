"""Collateral: what an order or a position must lock, and the hold / release of it.

Rules (docs/exchange.md, Collateral):
- A buy locks `max(price, 0) + fee_lock` fen per contract; a sell `max(-price, 0) + fee_lock`.
  (`fee_lock` = the worst fee of both roles; for a market order the price is its protection price.)
- Sells and swap legs reserve contracts of a position: `Position.reserved`. Whatever is reserved
  beyond the long opens a short if it fills and needs collateral now:
  `Position.cover = max(0, reserved - position)` short contracts are covered at all times, by
  capacity units (CAP: `units_per_contract` each, suppliers only) or cash (MAT:
  `(cap - strike) * units_per_contract` fen each). A sell fill lowers both `reserved` and
  `position`, so the cover carries over from the order to the short it opens; a buy fill raises
  `position` and releases cover (closing a short). Swaps never open a short: a swap order may only
  reserve a free long (`reserved + quantity <= position`).
"""

from __future__ import annotations

from exchange.accounts import Account, Role
from exchange.capacity import Capacity
from exchange.effects import Effects
from exchange.instruments import CAPACITY_OPTION, MATERIAL_CALL, Instrument
from exchange.ledger import Ledger
from exchange.results import Reject, ResultCode
from exchange.state import Position, State


class Risk:
    """The positions and the collateral behind them: checks before an order or a transfer, and the
    hold / release of cover as positions and reservations move. Owns the index of positions by
    account (rebuilt from `State.positions`); posts cash cover through the ledger; locks capacity
    cover on the supplier's `Capacity`."""

    __slots__ = (
        "_state",
        "_effects",
        "_dirty_positions",
        "_dirty_capacity",
        "_ledger",
        "positions_by_account",
    )

    def __init__(self, state: State, effects: Effects, ledger: Ledger) -> None:
        self._state = state
        self._effects = effects
        self._dirty_positions = effects.dirty_positions
        self._dirty_capacity = effects.dirty_capacity
        self._ledger = ledger
        self.positions_by_account: dict[int, dict[str, Position]] = {}
        for symbol, by_account in state.positions.items():
            for account_id, pos in by_account.items():
                self.positions_by_account.setdefault(account_id, {})[symbol] = pos

    # -- QUERIES ----------------------------------------------------------------------------------

    def find_position(self, account_id: int, symbol: str) -> Position | None:
        by_symbol = self.positions_by_account.get(account_id)
        return by_symbol.get(symbol) if by_symbol is not None else None

    def supplier_capacity(self, supplier_id: int, inst: Instrument) -> Capacity | None:
        """The capacity that backs `supplier_id`'s shorts of the capacity option `inst`."""
        return self._state.capacity.get(f"{supplier_id}|{inst.capacity_key}")

    def check_reserve(self, account: Account, inst: Instrument, quantity: int, swap_leg: bool) -> int:
        """Check that `account` may reserve `quantity` more contracts of `inst`; return the cash (fen)
        the extra cover needs (MAT), 0 otherwise. Raises Reject."""
        pos = self.find_position(account.account_id, inst.symbol)
        position = pos.position if pos is not None else 0
        reserved = pos.reserved if pos is not None else 0
        cover = pos.cover if pos is not None else 0
        new_cover = reserved + quantity - position
        if swap_leg:
            if new_cover > 0:
                raise Reject(
                    ResultCode.INSUFFICIENT_POSITION, f"a free long of {quantity} in {inst.symbol} is needed"
                )
            return 0
        if new_cover <= cover:
            return 0
        delta = new_cover - cover
        if inst.kind == CAPACITY_OPTION:
            if account.role != Role.SUPPLIER:
                raise Reject(ResultCode.INSUFFICIENT_POSITION, "only suppliers write capacity options")
            cap = self.supplier_capacity(account.account_id, inst)
            need = delta * inst.collateral_per_contract
            if cap is None or cap.free < need:
                raise Reject(
                    ResultCode.INSUFFICIENT_CAPACITY,
                    f"{need} free units of {inst.capacity_key} needed, {cap.free if cap else 0} free",
                )
            return 0
        if inst.kind == MATERIAL_CALL:
            return delta * inst.collateral_per_contract
        raise Reject(ResultCode.INSUFFICIENT_POSITION, "a swap position can not be sold short")

    def assign_shorts(self, inst: Instrument, quantity: int) -> list[tuple[Position, int]]:
        """Which shorts take `quantity` exercised contracts of `inst`, and how many each: oldest
        short first, by (`Position.short_since`: the journal seq of the trade that opened the
        account's current short, account id), each taking as much as it holds. Mutates nothing."""
        shorts = [p for p in self._state.positions.get(inst.symbol, {}).values() if p.position < 0]
        shorts.sort(key=lambda p: (p.short_since, p.account_id))
        assigned = []
        for pos in shorts:
            if not quantity:
                break
            k = min(-pos.position, quantity)
            assigned.append((pos, k))
            quantity -= k
        if quantity:  # pragma: no cover - open interest balances
            raise AssertionError(f"not enough shorts to assign in {inst.symbol}")
        return assigned

    # -- COMMANDS ---------------------------------------------------------------------------------

    def position(self, account_id: int, symbol: str) -> Position:
        """The account's position in `symbol`, created flat if it has none."""
        by_symbol = self.positions_by_account.get(account_id)
        if by_symbol is None:
            by_symbol = self.positions_by_account[account_id] = {}
        pos = by_symbol.get(symbol)
        if pos is None:
            pos = by_symbol[symbol] = Position(account_id=account_id, symbol=symbol)
            self._state.positions.setdefault(symbol, {})[account_id] = pos
        return pos

    def set_cover(self, pos: Position, inst: Instrument) -> None:
        """Bring the held collateral to max(0, reserved - position): lock or release the difference."""
        new = pos.reserved - pos.position
        if new < 0:
            new = 0
        delta = new - pos.cover
        if not delta:
            return
        pos.cover = new
        if inst.kind == MATERIAL_CALL:
            account = self._state.accounts[pos.account_id]
            amount = delta * inst.collateral_per_contract
            if amount > 0:
                self._ledger.lock(account, amount, f"cover {inst.symbol}")
            else:
                self._ledger.release(account, -amount, f"cover {inst.symbol}")
        elif inst.kind == CAPACITY_OPTION:
            cap = self.supplier_capacity(pos.account_id, inst)
            assert cap is not None, "a supplier's short is backed by its capacity (check_reserve)"
            cap.locked += delta * inst.collateral_per_contract
            self._dirty_capacity[id(cap)] = cap
        else:  # pragma: no cover - swaps never hold a short
            raise AssertionError("a swap position holds no cover")

    def reserve(self, account_id: int, inst: Instrument, quantity: int) -> None:
        """Commit `quantity` contracts of the position to a resting order (checked by check_reserve)."""
        pos = self.position(account_id, inst.symbol)
        pos.reserved += quantity
        self.set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def unreserve(self, account_id: int, inst: Instrument, quantity: int) -> None:
        pos = self.position(account_id, inst.symbol)
        pos.reserved -= quantity
        self.set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def add_long(self, account_id: int, inst: Instrument, quantity: int) -> None:
        """The account receives `quantity` contracts (a buy fill, a transfer, a swap leg)."""
        pos = self.position(account_id, inst.symbol)
        pos.position += quantity
        self.set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def deliver_reserved(self, account_id: int, inst: Instrument, quantity: int) -> None:
        """The account gives `quantity` reserved contracts (a sell fill, a swap leg it gives). The
        cover carries over to the short this may open."""
        pos = self.position(account_id, inst.symbol)
        before = pos.position
        pos.reserved -= quantity
        pos.position = before - quantity
        if before >= 0 > pos.position:
            pos.short_since = self._effects.seq
        self._dirty_positions[id(pos)] = pos

    def remove_free_long(self, account_id: int, inst: Instrument, quantity: int) -> Position:
        """The account gives `quantity` contracts of its free long (transfer, exercise)."""
        pos = self.position(account_id, inst.symbol)
        pos.position -= quantity
        self._dirty_positions[id(pos)] = pos
        return pos
