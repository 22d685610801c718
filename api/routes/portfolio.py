"""Portfolio (read scope): cash, positions, trades, ledger postings, bookings, capacity, transfers
of the authenticated account only, read from the SQL projections."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlmodel import Session, col, or_, select

from api.deps import DbDep, ReadPrincipal
from api.routes.common import make_router, read
from api.schemas import (
    MAX_ID,
    PRIVATE_ERRORS,
    AccountTradeOut,
    BalanceOut,
    BookingOut,
    CapacityOut,
    LedgerPostingOut,
    PositionOut,
    TransferOut,
    UrlInt,
)
from exchange.store.tables import Balance, Booking, Capacity, LedgerPostingRow, Position, Trade, Transfer

router = make_router("portfolio", authenticated=True)

Limit = Annotated[UrlInt, Query(ge=1, le=1000, description="at most this many, newest first")]
Before = Annotated[UrlInt | None, Query(ge=1, le=MAX_ID, description="ids below this (paging)")]


def balance_out(row: Balance | None, account_id: int) -> BalanceOut:
    available, locked = (row.available, row.locked) if row is not None else (0, 0)
    return BalanceOut(account_id=account_id, available=available, locked=locked, total=available + locked)


def _balance(db: Session, account_id: int) -> Balance | None:
    return db.get(Balance, account_id)


@router.get(
    "/portfolio/balances",
    response_model=BalanceOut,
    summary="Your cash: available and locked, in fen",
    responses=PRIVATE_ERRORS,
)
async def balances(principal: ReadPrincipal, db: DbDep) -> BalanceOut:
    return balance_out(await read(db, _balance, principal.account_id), principal.account_id)


def _positions(db: Session, account_id: int) -> list[Position]:
    query = select(Position).where(Position.account_id == account_id).order_by(Position.symbol)
    return list(db.exec(query).all())


@router.get(
    "/portfolio/positions",
    response_model=list[PositionOut],
    summary="Your positions, by symbol (closed ones show 0)",
    responses=PRIVATE_ERRORS,
)
async def positions(principal: ReadPrincipal, db: DbDep) -> list[PositionOut]:
    rows = await read(db, _positions, principal.account_id)
    return [PositionOut(symbol=r.symbol, position=r.position, locked=r.locked) for r in rows]


def _trades(db: Session, account_id: int, symbol: str | None, limit: int, before: int | None) -> list[Trade]:
    query = select(Trade).where(
        or_(Trade.maker_account_id == account_id, Trade.taker_account_id == account_id)
    )
    if symbol is not None:
        query = query.where(Trade.symbol == symbol)
    if before is not None:
        query = query.where(Trade.trade_id < before)
    return list(db.exec(query.order_by(col(Trade.trade_id).desc()).limit(limit)).all())


def account_trade(t: Trade, account_id: int) -> AccountTradeOut:
    taker = t.taker_account_id == account_id
    maker = t.maker_account_id == account_id
    opposite = "sell" if t.taker_side == "buy" else "buy"
    return AccountTradeOut(
        trade_id=t.trade_id,
        symbol=t.symbol,
        side=t.taker_side if taker else opposite,
        liquidity="both" if taker and maker else "taker" if taker else "maker",
        price=t.price,
        quantity=t.quantity,
        fee=(t.taker_fee if taker else 0) + (t.maker_fee if maker else 0),
        order_id=t.taker_order_id if taker else t.maker_order_id,
        executed_at=t.executed_at,
    )


@router.get(
    "/portfolio/trades",
    response_model=list[AccountTradeOut],
    summary="Your fills, newest first",
    responses=PRIVATE_ERRORS,
)
async def trades(
    principal: ReadPrincipal,
    db: DbDep,
    symbol: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    before: Before = None,
) -> list[AccountTradeOut]:
    rows = await read(db, _trades, principal.account_id, symbol, limit, before)
    return [account_trade(t, principal.account_id) for t in rows]


def _ledger(db: Session, account_id: int, limit: int, before: int | None) -> list[LedgerPostingRow]:
    mine = (f"user:{account_id}:available", f"user:{account_id}:locked")
    query = select(LedgerPostingRow).where(
        or_(col(LedgerPostingRow.debit_account).in_(mine), col(LedgerPostingRow.credit_account).in_(mine))
    )
    if before is not None:
        query = query.where(LedgerPostingRow.posting_id < before)
    return list(db.exec(query.order_by(col(LedgerPostingRow.posting_id).desc()).limit(limit)).all())


@router.get(
    "/portfolio/ledger",
    response_model=list[LedgerPostingOut],
    summary="Ledger postings that move your cash, newest first",
    responses=PRIVATE_ERRORS,
)
async def ledger(
    principal: ReadPrincipal, db: DbDep, limit: Limit = 100, before: Before = None
) -> list[LedgerPostingOut]:
    """Postings touching your ledger accounts `user:<id>:available` and `user:<id>:locked`: a lock
    moves available -> locked, a release the reverse; premiums, fees, escrow and settlements move
    between your accounts and the exchange's (docs/exchange.md, "Ledger")."""
    rows = await read(db, _ledger, principal.account_id, limit, before)
    return [LedgerPostingOut.model_validate(r, from_attributes=True) for r in rows]


def _bookings(db: Session, account_id: int) -> list[Booking]:
    query = select(Booking).where(or_(Booking.creator_id == account_id, Booking.supplier_id == account_id))
    return list(db.exec(query.order_by(col(Booking.booking_id).desc())).all())


@router.get(
    "/portfolio/bookings",
    response_model=list[BookingOut],
    summary="Bookings where you are the creator or the supplier, newest first",
    responses=PRIVATE_ERRORS,
)
async def bookings(principal: ReadPrincipal, db: DbDep) -> list[BookingOut]:
    rows = await read(db, _bookings, principal.account_id)
    return [BookingOut.model_validate(r, from_attributes=True) for r in rows]


def capacity_out(row: Capacity) -> CapacityOut:
    return CapacityOut(
        supplier_id=row.supplier_id,
        process=row.process,
        window_start=row.window_start,
        window_end=row.window_end,
        registered=row.registered,
        locked=row.locked,
        booked=row.booked,
        free=row.registered - row.locked - row.booked,
    )


def _capacity(db: Session, account_id: int) -> list[Capacity]:
    query = (
        select(Capacity)
        .where(Capacity.supplier_id == account_id)
        .order_by(col(Capacity.process), col(Capacity.window_start), col(Capacity.window_end))
    )
    return list(db.exec(query).all())


@router.get(
    "/portfolio/capacity",
    response_model=list[CapacityOut],
    summary="Your registered production capacity (suppliers), in production units",
    responses=PRIVATE_ERRORS,
)
async def capacity(principal: ReadPrincipal, db: DbDep) -> list[CapacityOut]:
    return [capacity_out(r) for r in await read(db, _capacity, principal.account_id)]


def transfer_out(row: Transfer) -> TransferOut:
    return TransferOut(
        transfer_id=row.transfer_id,
        seq=row.seq,
        from_account_id=row.from_account_id,
        to_account_id=row.to_account_id,
        asset="cash" if row.symbol is None else "position",
        symbol=row.symbol,
        quantity=row.quantity,
        transferred_at=row.transferred_at,
    )


def _transfers(db: Session, account_id: int, limit: int, before: int | None) -> list[Transfer]:
    query = select(Transfer).where(
        or_(Transfer.from_account_id == account_id, Transfer.to_account_id == account_id)
    )
    if before is not None:
        query = query.where(Transfer.transfer_id < before)
    return list(db.exec(query.order_by(col(Transfer.transfer_id).desc()).limit(limit)).all())


@router.get(
    "/portfolio/transfers",
    response_model=list[TransferOut],
    summary="Transfers you sent or received, newest first",
    responses=PRIVATE_ERRORS,
)
async def transfers(
    principal: ReadPrincipal, db: DbDep, limit: Limit = 100, before: Before = None
) -> list[TransferOut]:
    return [transfer_out(r) for r in await read(db, _transfers, principal.account_id, limit, before)]
