"""Operator routes: accounts, expiry runs, index prices, deposits and withdrawals, supplier
defaults, audit.

All need an operator account (and, with an API key, the trade scope); index prices may also be
published by `index_feed` accounts. The sequencer checks the role again: it is the authority.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import Engine
from sqlmodel import Session

from api.accounts import register_account
from api.deps import DbDep, GatewayDep, OperatorPrincipal, Principal, require_scope
from api.errors import ApiError
from api.routes.common import EngineDep, ask, execute, make_router, read
from api.routes.portfolio import balance_out
from api.schemas import (
    COMMAND_ERRORS,
    MAX_ID,
    PRIVATE_ERRORS,
    AccountCreateIn,
    AccountOut,
    AuditOut,
    BalanceAckOut,
    BookingOut,
    CashMovementIn,
    ExpiryOut,
    IndexPriceIn,
    IndexPriceOut,
    UrlInt,
)
from exchange import commands as cmd
from exchange.audit import audit_connection
from exchange.store.tables import Balance, Booking, IndexPrice, JournalEntry

router = make_router("operator", authenticated=True)


async def index_publisher(principal: Annotated[Principal, Depends(require_scope("trade"))]) -> Principal:
    if principal.role not in ("operator", "index_feed"):
        raise ApiError(403, "NOT_PERMITTED", "only operators and index feeds publish index prices")
    return principal


@router.post(
    "/operator/accounts",
    status_code=201,
    response_model=AccountOut,
    summary="Create an account with a login, of any role (operators): operators and index feeds too",
    responses=COMMAND_ERRORS,
)
async def create_account(
    body: AccountCreateIn, principal: OperatorPrincipal, gateway: GatewayDep, engine: EngineDep
) -> AccountOut:
    """The way to other operators and index feeds (registration is open to
    `API_OPEN_REGISTRATION_ROLES` only). The same rules as registration: 422 INVALID_USERNAME or
    INVALID_PASSWORD, 409 USERNAME_TAKEN. The account is created in the operator's name (the
    sequencer checks the role again)."""
    account_id = await register_account(
        gateway, engine, body.username, body.password, body.role, actor_id=principal.account_id
    )
    return AccountOut(account_id=account_id, username=body.username, role=body.role)


def _timestamp(db: Session, seq: int) -> int:
    entry = db.get(JournalEntry, seq)
    assert entry is not None, "an acknowledged command is journaled"
    return entry.timestamp


@router.post(
    "/operator/expiry",
    response_model=ExpiryOut,
    summary="Run expiry now: settle every instrument whose expiry has come",
    responses=COMMAND_ERRORS,
)
async def run_expiry(principal: OperatorPrincipal, gateway: GatewayDep, db: DbDep) -> ExpiryOut:
    """Cancels resting orders, settles material calls, expires unexercised capacity options,
    releases collateral, moves the instruments to `settled`, and auto-confirms due bookings.
    Running it again changes nothing."""
    result = await execute(gateway, cmd.RunExpiry(actor_id=principal.account_id))
    return ExpiryOut(
        seq=result.seq,
        ran_at=await read(db, _timestamp, result.seq),
        expired=list(result.data["expired"]),
        auto_confirmed_booking_ids=list(result.data["auto_confirmed_booking_ids"]),
    )


def _index_price(db: Session, index: str, seq: int) -> IndexPrice | None:
    return db.get(IndexPrice, (index, seq))


@router.post(
    "/operator/index-prices",
    status_code=201,
    response_model=IndexPriceOut,
    summary="Publish an index price (operators and index feeds), stamped with the exchange's time",
    responses=COMMAND_ERRORS,
)
async def publish_index_price(
    body: IndexPriceIn,
    principal: Annotated[Principal, Depends(index_publisher)],
    gateway: GatewayDep,
    db: DbDep,
) -> IndexPriceOut:
    """A price beyond the band around the index's last one (± `band_percent`, GET /index-prices:
    `band_low`..`band_high`) is refused with 409 INDEX_PRICE_BAND unless `confirm_large_move` is
    true; the first price of an index has no band."""
    result = await execute(
        gateway,
        cmd.PublishIndexPrice(
            actor_id=principal.account_id,
            index=body.index,
            price=body.price,
            confirm_large_move=body.confirm_large_move,
        ),
    )
    row = await read(db, _index_price, body.index, result.seq)
    assert row is not None, "an acknowledged index price is in the projections"
    return IndexPriceOut(index=row.index_name, price=row.price, published_at=row.published_at, seq=row.seq)


def _balance(db: Session, account_id: int) -> Balance | None:
    return db.get(Balance, account_id)


@router.post(
    "/operator/deposits",
    response_model=BalanceAckOut,
    summary="Record a cash deposit into an account (fen)",
    responses=COMMAND_ERRORS,
)
async def deposit(
    body: CashMovementIn, principal: OperatorPrincipal, gateway: GatewayDep, db: DbDep
) -> BalanceAckOut:
    result = await execute(
        gateway,
        cmd.Deposit(actor_id=principal.account_id, account_id=body.account_id, amount=body.amount),
    )
    balance = balance_out(await read(db, _balance, body.account_id), body.account_id)
    return BalanceAckOut(**balance.model_dump(), seq=result.seq)


@router.post(
    "/operator/withdrawals",
    response_model=BalanceAckOut,
    summary="Record a cash withdrawal from an account's available cash (fen)",
    responses=COMMAND_ERRORS,
)
async def withdraw(
    body: CashMovementIn, principal: OperatorPrincipal, gateway: GatewayDep, db: DbDep
) -> BalanceAckOut:
    result = await execute(
        gateway,
        cmd.Withdraw(actor_id=principal.account_id, account_id=body.account_id, amount=body.amount),
    )
    balance = balance_out(await read(db, _balance, body.account_id), body.account_id)
    return BalanceAckOut(**balance.model_dump(), seq=result.seq)


def _booking(db: Session, booking_id: int) -> Booking | None:
    return db.get(Booking, booking_id)


@router.post(
    "/operator/bookings/{booking_id}/default",
    response_model=BookingOut,
    summary="Mark a booking's supplier in default: the escrow still held goes back to the creator",
    responses=COMMAND_ERRORS,
)
async def mark_default(
    booking_id: Annotated[UrlInt, Path(ge=1, le=MAX_ID)],
    principal: OperatorPrincipal,
    gateway: GatewayDep,
    db: DbDep,
) -> BookingOut:
    await execute(gateway, cmd.MarkSupplierDefault(actor_id=principal.account_id, booking_id=booking_id))
    return BookingOut.model_validate(await read(db, _booking, booking_id), from_attributes=True)


def _projection_audit(db: Session) -> list[str]:
    """All checks on one snapshot of the database, so commands committed meanwhile can not show
    up as a transient breach (SQLite: one explicit read transaction; PostgreSQL: repeatable read)."""
    bind = db.get_bind()
    assert isinstance(bind, Engine)  # the sessions are made on the read engine (get_db)
    with bind.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        else:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        try:
            return audit_connection(connection)
        finally:
            connection.rollback()


@router.get(
    "/operator/audit",
    response_model=AuditOut,
    summary="Check the exchange's invariants, in memory and in the SQL projections",
    responses=PRIVATE_ERRORS,
)
async def audit(principal: OperatorPrincipal, gateway: GatewayDep, db: DbDep) -> AuditOut:
    """The sequencer's invariants (ledger sums to zero, locks match open orders and covers, open
    interest balances, books pass their integrity checks...) and the same invariants over the
    projections (exchange/audit.py). `ok` is true when neither finds a breach."""
    journal_seq = await ask(gateway, "last_seq")
    sequencer_breaches = list(await ask(gateway, "audit"))
    system_balances = dict(await ask(gateway, "system_balances"))
    projection_breaches = await read(db, _projection_audit)
    return AuditOut(
        ok=not sequencer_breaches and not projection_breaches,
        journal_seq=journal_seq,
        sequencer_breaches=sequencer_breaches,
        projection_breaches=projection_breaches,
        system_balances=system_balances,
    )
