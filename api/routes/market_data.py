"""Public market data: book depth (hot state, with the book sequence the WebSocket deltas continue
from), recent trades and index price history (projections), settlement prices of material calls
(hot state: estimated while the settlement window runs, frozen at expiry)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import DbDep, GatewayDep, SettingsDep
from api.errors import ApiError
from api.routes.common import ask, instrument_or_404, make_router, not_found, read
from api.routes.instruments import SymbolPath
from api.schemas import (
    MAX_ID,
    MAX_TIME,
    PUBLIC_ERRORS,
    BookOut,
    IndexHistoryOut,
    IndexPricePoint,
    IndexSummaryOut,
    LevelOut,
    PublicTradeOut,
    SettlementOut,
    UrlInt,
)
from exchange.store.tables import IndexPrice, Trade

router = make_router("market data")

Limit = Annotated[UrlInt, Query(ge=1, le=1000, description="at most this many, newest first")]


@router.get(
    "/instruments/{symbol}/book",
    response_model=BookOut,
    summary="Order book depth: aggregated levels, best first",
    responses=PUBLIC_ERRORS,
)
async def book(
    symbol: SymbolPath,
    gateway: GatewayDep,
    settings: SettingsDep,
    levels: Annotated[UrlInt | None, Query(ge=1, le=100, description="levels per side (default 10)")] = None,
) -> BookOut:
    """`last_seq` is the book's sequence number at this snapshot: a WebSocket book channel's deltas
    with `prev_seq == last_seq` continue it (docs/market-data.md)."""
    view = await gateway.book_view(symbol, levels or settings.book_depth_levels)
    if view is None:
        raise not_found("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
    return BookOut(
        symbol=view.symbol,
        last_seq=view.book_seq,
        journal_seq=view.journal_seq,
        bids=[LevelOut(price=p, quantity=q, order_count=n) for p, q, n in view.bids],
        asks=[LevelOut(price=p, quantity=q, order_count=n) for p, q, n in view.asks],
    )


def _trades(db: Session, symbol: str, limit: int, before: int | None) -> list[Trade]:
    query = select(Trade).where(Trade.symbol == symbol)
    if before is not None:
        query = query.where(Trade.trade_id < before)
    return list(db.exec(query.order_by(Trade.trade_id.desc()).limit(limit)).all())  # type: ignore[attr-defined]


@router.get(
    "/instruments/{symbol}/trades",
    response_model=list[PublicTradeOut],
    summary="Recent trades of an instrument, newest first",
    responses=PUBLIC_ERRORS,
)
async def trades(
    symbol: SymbolPath,
    gateway: GatewayDep,
    db: DbDep,
    limit: Limit = 100,
    before: Annotated[
        UrlInt | None, Query(ge=1, le=MAX_ID, description="trade ids below this (paging)")
    ] = None,
) -> list[PublicTradeOut]:
    """Public: no account or order ids."""
    await instrument_or_404(gateway, symbol)
    rows = await read(db, _trades, symbol, limit, before)
    return [
        PublicTradeOut(
            trade_id=t.trade_id,
            symbol=t.symbol,
            price=t.price,
            quantity=t.quantity,
            taker_side=t.taker_side,
            executed_at=t.executed_at,
        )
        for t in rows
    ]


def _latest_prices(db: Session) -> list[tuple[str, int, int]]:
    latest = (
        select(IndexPrice.index_name, func.max(IndexPrice.seq).label("seq"))
        .group_by(IndexPrice.index_name)
        .subquery()
    )
    query = (
        select(IndexPrice.index_name, IndexPrice.price, IndexPrice.published_at)
        .join(
            latest,
            (col(IndexPrice.index_name) == latest.c.index_name) & (col(IndexPrice.seq) == latest.c.seq),
        )
        .order_by(IndexPrice.index_name)
    )
    return [tuple(row) for row in db.exec(query).all()]  # type: ignore[misc]


@router.get(
    "/index-prices",
    response_model=list[IndexSummaryOut],
    summary="Every index with its latest published price",
    responses=PUBLIC_ERRORS,
)
async def index_prices(db: DbDep, gateway: GatewayDep) -> list[IndexSummaryOut]:
    """With each index its price band (the sequencer's, from its hot state): the next price may
    lie in `band_low`..`band_high` (± `band_percent` of the last one) without confirm_large_move."""
    rows = await read(db, _latest_prices)
    bands = await ask(gateway, "index_price_bands")
    percent = bands["percent"]
    out = []
    for index, price, published_at in rows:
        low, high = bands["bands"].get(index, (None, None))
        out.append(
            IndexSummaryOut(
                index=index,
                price=price,
                published_at=published_at,
                band_percent=percent,
                band_low=low,
                band_high=high,
            )
        )
    return out


def _history(db: Session, index: str, since: int | None, until: int | None, limit: int) -> list[IndexPrice]:
    query = select(IndexPrice).where(IndexPrice.index_name == index)
    if since is not None:
        query = query.where(IndexPrice.published_at >= since)
    if until is not None:
        query = query.where(IndexPrice.published_at < until)
    rows = db.exec(query.order_by(IndexPrice.seq.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    return list(reversed(rows))


@router.get(
    "/index-prices/{index}",
    response_model=IndexHistoryOut,
    summary="Published prices of an index, oldest first",
    responses=PUBLIC_ERRORS,
)
async def index_history(
    index: Annotated[str, Path(max_length=48)],
    db: DbDep,
    since: Annotated[UrlInt | None, Query(ge=0, le=MAX_TIME, description="ms, inclusive")] = None,
    until: Annotated[UrlInt | None, Query(ge=0, le=MAX_TIME, description="ms, exclusive")] = None,
    limit: Annotated[UrlInt, Query(ge=1, le=10_000, description="the latest this many")] = 1000,
) -> IndexHistoryOut:
    """An index nobody has published yet has an empty history."""
    rows = await read(db, _history, index, since, until, limit)
    return IndexHistoryOut(
        index=index,
        prices=[IndexPricePoint(price=r.price, published_at=r.published_at, seq=r.seq) for r in rows],
    )


@router.get(
    "/instruments/{symbol}/settlement",
    response_model=SettlementOut,
    summary="Settlement price of a material call: estimated while its window runs, then frozen",
    responses=PUBLIC_ERRORS,
)
async def settlement(symbol: SymbolPath, gateway: GatewayDep) -> SettlementOut:
    """The time-weighted average of the index from `settlement_window_start` to the latest
    published price (docs/exchange.md, "Material calls"); `final` once expiry froze it. 422
    NOT_A_MATERIAL_CALL for other kinds."""
    instrument = await instrument_or_404(gateway, symbol)
    if instrument.kind != "MAT":
        raise ApiError(422, "NOT_A_MATERIAL_CALL", f"{symbol} is a {instrument.kind}, not a material call")
    price = await ask(gateway, "estimated_settlement_price", symbol)
    terms = instrument.terms
    return SettlementOut(
        symbol=symbol,
        index=terms["index"],
        settlement_window_start=terms["settlement_window_start"],
        expiry=instrument.expiry,
        price=price,
        final=instrument.settlement_price is not None,
        status=instrument.status,
    )
