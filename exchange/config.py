"""Configuration of one exchange core (the sequencer): fees, booking rules and price bands.

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
    # Fat-finger band (handlers/orders.py `fat_finger_band`): an order price may differ from the
    # reference by at most this percent of it, or by fat_finger_min_ticks ticks if that is more.
    # 0 percent turns the band off.
    fat_finger_percent: int = 50
    fat_finger_min_ticks: int = 10
    # Index price band (handlers/instruments.py `publish_index_price`): a published index price may
    # differ from the index's last published price by at most this percent of it, unless the command
    # sets confirm_large_move. The first price of an index has no band. 0 percent turns the band off.
    index_price_band_percent: int = 20

    def __post_init__(self) -> None:
        if self.taker_fee < 0:
            raise ValueError("taker_fee must be >= 0")
        if self.taker_fee + self.maker_fee < 0:
            raise ValueError("taker_fee + maker_fee must be >= 0")
        if self.booking_grace_ms < 0:
            raise ValueError("booking_grace_ms must be >= 0")
        if self.fat_finger_percent < 0 or self.fat_finger_min_ticks < 0:
            raise ValueError("fat_finger_percent and fat_finger_min_ticks must be >= 0")
        if self.index_price_band_percent < 0:
            raise ValueError("index_price_band_percent must be >= 0")
        if not 0 <= self.booking_confirm_release_percent <= 100:
            raise ValueError("booking_confirm_release_percent must be within 0..100")

    @property
    def fee_lock(self) -> int:
        """Fen per contract an order locks for fees: the worst of both roles."""
        return max(self.taker_fee, self.maker_fee, 0)
