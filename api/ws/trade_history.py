"""Seeding the tickers from the trades projection when market data loads: each instrument's last
trade and its 24-hour volume (the events alone start with an empty history)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.gateway import now_ms
from api.ws.tickers import VOLUME_WINDOW_MS, TickerState

log = logging.getLogger(__name__)


async def seed_tickers(db_engine: Any, journal_seq: int, tickers: dict[str, TickerState]) -> None:
    """Last trade and 24-hour volume per instrument, up to the journal seq the books were loaded
    at (so no trade is counted twice). Without a database, or before its read side is migrated
    (scale-out start-up), the tickers start without history."""
    if db_engine is None:
        return
    cutoff = now_ms() - VOLUME_WINDOW_MS
    try:
        rows = await asyncio.to_thread(recent_trades, db_engine, journal_seq, cutoff)
    except Exception:
        log.warning("market data: no trade history for tickers", exc_info=True)
        return
    for symbol, price, quantity, executed_at in rows:
        ticker = tickers.setdefault(symbol, TickerState())
        if executed_at >= cutoff:
            ticker.add_trade(executed_at, price, quantity)
        else:
            ticker.last_price, ticker.last_quantity = price, quantity


def recent_trades(engine: Any, journal_seq: int, cutoff: int) -> list[tuple[str, int, int, int]]:
    """(symbol, price, quantity, executed_at) of the trades up to `journal_seq` executed at or
    after `cutoff` (ms), plus each instrument's last trade before it, oldest first."""
    from sqlalchemy import func
    from sqlmodel import Session as DbSession
    from sqlmodel import col, select

    from exchange.store.tables import Trade

    with DbSession(engine) as db:
        recent = db.exec(
            select(Trade.symbol, Trade.price, Trade.quantity, Trade.executed_at)
            .where(Trade.seq <= journal_seq, Trade.executed_at >= cutoff)
            .order_by(col(Trade.trade_id))
        ).all()
        last_ids = (
            select(func.max(Trade.trade_id))
            .where(Trade.seq <= journal_seq, Trade.executed_at < cutoff)
            .group_by(Trade.symbol)
        )
        older = db.exec(
            select(Trade.symbol, Trade.price, Trade.quantity, Trade.executed_at)
            .where(col(Trade.trade_id).in_(last_ids))
            .order_by(col(Trade.trade_id))
        ).all()
    return [(symbol, price, quantity, at) for symbol, price, quantity, at in (*older, *recent)]
