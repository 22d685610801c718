"""Configuration of one exchange core (the sequencer): fees and booking rules.

Fees are per contract in fen. The maker fee may be negative (a rebate paid from `exchange:fees`);
`taker_fee + maker_fee` must not be negative, so that the exchange never pays out more on a trade
than it takes in.
"""

from __future__ import annotations

import msgspec


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True):
    taker_fee: int = 10  # fen per contract, paid by the taker
    maker_fee: int = 5  # fen per contract, paid by the maker (negative: a rebate)
    booking_grace_ms: int = 7 * 24 * 3600 * 1000  # auto-confirm delivery after window_end + this
    booking_confirm_release_percent: int = 30  # escrow released to the supplier on confirmation

    def __post_init__(self) -> None:
        if self.taker_fee < 0:
            raise ValueError("taker_fee must be >= 0")
        if self.taker_fee + self.maker_fee < 0:
            raise ValueError("taker_fee + maker_fee must be >= 0")
        if self.booking_grace_ms < 0:
            raise ValueError("booking_grace_ms must be >= 0")
        if not 0 <= self.booking_confirm_release_percent <= 100:
            raise ValueError("booking_confirm_release_percent must be within 0..100")

    @property
    def fee_lock(self) -> int:
        """Fen per contract an order locks for fees: the worst of both roles."""
        return max(self.taker_fee, self.maker_fee, 0)
