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
from exchange.events import PositionChanged
from exchange.instruments import Instrument
from exchange.results import ResultCode
from exchange.state import Position


class Reject(Exception):
    """A command is refused; raised before anything is mutated."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def position_event(pos: Position) -> PositionChanged:
    p = pos.position
    return PositionChanged(
        account_id=pos.account_id,
        symbol=pos.symbol,
        position=p,
        locked=min(p if p > 0 else 0, pos.reserved),
    )


class RiskMixin:
    # -- QUERIES ----------------------------------------------------------------------------------

    def _find_position(self, account_id: int, symbol: str) -> Position | None:
        by_symbol = self._positions_by_account.get(account_id)
        return by_symbol.get(symbol) if by_symbol is not None else None

    def _supplier_capacity(self, supplier_id: int, inst: Instrument) -> Capacity | None:
        return self.state.capacity.get(f"{supplier_id}|{inst.capacity_key}")

    def _check_reserve(self, account: Account, inst: Instrument, quantity: int, swap_leg: bool) -> int:
        """Check that `account` may reserve `quantity` more contracts of `inst`; return the cash (fen)
        the extra cover needs (MAT), 0 otherwise. Raises Reject."""
        pos = self._find_position(account.account_id, inst.symbol)
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
        if inst.kind == "CAP":
            if account.role != Role.SUPPLIER:
                raise Reject(ResultCode.INSUFFICIENT_POSITION, "only suppliers write capacity options")
            cap = self._supplier_capacity(account.account_id, inst)
            need = delta * inst.collateral_per_contract
            if cap is None or cap.free < need:
                raise Reject(
                    ResultCode.INSUFFICIENT_CAPACITY,
                    f"{need} free units of {inst.capacity_key} needed, {cap.free if cap else 0} free",
                )
            return 0
        if inst.kind == "MAT":
            return delta * inst.collateral_per_contract
        raise Reject(ResultCode.INSUFFICIENT_POSITION, "a swap position can not be sold short")

    # -- COMMANDS ---------------------------------------------------------------------------------

    def _position(self, account_id: int, symbol: str) -> Position:
        by_symbol = self._positions_by_account.get(account_id)
        if by_symbol is None:
            by_symbol = self._positions_by_account[account_id] = {}
        pos = by_symbol.get(symbol)
        if pos is None:
            pos = by_symbol[symbol] = Position(account_id=account_id, symbol=symbol)
            self.state.positions.setdefault(symbol, {})[account_id] = pos
        return pos

    def _set_cover(self, pos: Position, inst: Instrument) -> None:
        """Bring the held collateral to max(0, reserved - position): lock or release the difference."""
        new = pos.reserved - pos.position
        if new < 0:
            new = 0
        delta = new - pos.cover
        if not delta:
            return
        pos.cover = new
        if inst.kind == "MAT":
            account = self.state.accounts[pos.account_id]
            amount = delta * inst.collateral_per_contract
            if amount > 0:
                self._lock(account, amount, f"cover {inst.symbol}")
            else:
                self._release(account, -amount, f"cover {inst.symbol}")
        elif inst.kind == "CAP":
            cap = self._supplier_capacity(pos.account_id, inst)
            cap.locked += delta * inst.collateral_per_contract
            self._dirty_capacity[id(cap)] = cap
        else:  # pragma: no cover - swaps never hold a short
            raise AssertionError("a swap position holds no cover")

    def _reserve(self, account_id: int, inst: Instrument, quantity: int) -> None:
        pos = self._position(account_id, inst.symbol)
        pos.reserved += quantity
        self._set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def _unreserve(self, account_id: int, inst: Instrument, quantity: int) -> None:
        pos = self._position(account_id, inst.symbol)
        pos.reserved -= quantity
        self._set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def _add_long(self, account_id: int, inst: Instrument, quantity: int) -> None:
        """The account receives `quantity` contracts (a buy fill, a transfer, a swap leg)."""
        pos = self._position(account_id, inst.symbol)
        pos.position += quantity
        self._set_cover(pos, inst)
        self._dirty_positions[id(pos)] = pos

    def _deliver_reserved(self, account_id: int, inst: Instrument, quantity: int) -> None:
        """The account gives `quantity` reserved contracts (a sell fill, a swap leg it gives). The
        cover carries over to the short this may open."""
        pos = self._position(account_id, inst.symbol)
        before = pos.position
        pos.reserved -= quantity
        pos.position = before - quantity
        if before >= 0 > pos.position:
            pos.short_since = self._seq
        self._dirty_positions[id(pos)] = pos

    def _remove_free_long(self, account_id: int, inst: Instrument, quantity: int) -> Position:
        """The account gives `quantity` contracts of its free long (transfer, exercise)."""
        pos = self._position(account_id, inst.symbol)
        pos.position -= quantity
        self._dirty_positions[id(pos)] = pos
        return pos
