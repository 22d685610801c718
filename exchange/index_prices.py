"""Index prices and the time-weighted settlement price of material calls.

Each published price (fen per unit) holds from its timestamp until the next one. The TWAP over
[start, end) starts at `start` with the last price published at or before it (or, if none, at the
first price published after it) and rounds down. Prices of an index are published in timestamp
order (a price older than the latest one is refused).

A new price must lie within `price_band` of the index's last one (ExchangeConfig
.index_price_band_percent) unless the publisher confirms the large move; the first has no band.
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


def price_band(last: int, percent: int) -> tuple[int, int]:
    """(lowest, highest) price within `percent` % of `last`, inclusive: the prices p with
    |p - last| * 100 <= percent * last, rounded inwards to whole fen."""
    return -(-last * (100 - percent) // 100) if percent < 100 else 0, last * (100 + percent) // 100


def publishable_band(points: list[tuple[int, int]] | None, percent: int) -> tuple[int, int] | None:
    """(lowest, highest) price publishable without confirm_large_move after `points` (an index's
    prices so far): `price_band` of the last one. None when any price is: no price yet (the first
    publication has no band) or the band is off (0 percent)."""
    if not points or not percent:
        return None
    return price_band(points[-1][1], percent)


def format_cny(fen: int) -> str:
    """Fen as CNY for people: 900000 -> "¥9,000.00"."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def format_move(price: int, last: int) -> str:
    """The move from `last` to `price` in percent of `last`: "9,900%", "-75%", "20.5%" (one decimal
    when not whole, rounded away from zero so that a move beyond a band never reads as the band)."""
    tenths = -(-abs(price - last) * 1000 // last)
    sign = "-" if price < last else ""
    whole, tenth = divmod(tenths, 10)
    return f"{sign}{whole:,}%" if not tenth else f"{sign}{whole:,}.{tenth}%"
