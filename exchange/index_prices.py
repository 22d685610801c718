"""Index prices and the time-weighted settlement price of material calls.

Each published price (fen per unit) holds from its timestamp until the next one. The TWAP over
[start, end) starts at `start` with the last price published at or before it (or, if none, at the
first price published after it) and rounds down. Prices of an index are published in timestamp
order (a price older than the latest one is refused).
"""

from __future__ import annotations


def twap(points: list[tuple[int, int]], start: int, end: int) -> int | None:
    """Time-weighted average of `points` ((timestamp, price), ascending) over [start, end).

    None when no price is known before `end`. A zero-length window gives the price holding at start."""
    if not points or points[0][0] >= end:
        return None
    begin = max(start, points[0][0])
    if begin >= end:
        # zero-length (or empty) window: the price holding at `begin`
        price = None
        for ts, p in points:
            if ts <= begin:
                price = p
            else:
                break
        return price
    total = 0
    for i, (ts, price) in enumerate(points):
        seg_start = max(ts, begin)
        seg_end = points[i + 1][0] if i + 1 < len(points) else end
        seg_end = min(seg_end, end)
        if seg_end > seg_start:
            total += price * (seg_end - seg_start)
    return total // (end - begin)
