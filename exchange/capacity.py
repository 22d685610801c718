"""Suppliers' production capacity, in production units, per process and delivery window.

free = registered - locked - booked; `locked` backs written capacity options (short cover),
`booked` was assigned to creators by exercise.
"""

from __future__ import annotations

import msgspec

from exchange.events import CapacityChanged


class Capacity(msgspec.Struct, kw_only=True):
    supplier_id: int
    process: str
    window_start: int
    window_end: int
    registered: int = 0
    locked: int = 0
    booked: int = 0

    @property
    def free(self) -> int:
        return self.registered - self.locked - self.booked

    def event(self) -> CapacityChanged:
        return CapacityChanged(
            supplier_id=self.supplier_id,
            process=self.process,
            window_start=self.window_start,
            window_end=self.window_end,
            registered=self.registered,
            locked=self.locked,
            booked=self.booked,
        )
