"""Lifecycle: exercise a capacity option, decline a material call's auto-exercise, transfer cash or
a position, register supplier capacity, confirm booking milestones, the kill switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Path
from sqlmodel import Session, col, select

from api.deps import DbDep, GatewayDep, Principal, TradePrincipal, TransferPrincipal
from api.routes.common import execute, make_router, not_found, read
from api.routes.portfolio import capacity_out, transfer_out
from api.schemas import (
    COMMAND_ERRORS,
    MAX_ID,
    TRANSFER_EXAMPLES,
    BookingOut,
    CapacityIn,
    CapacityOut,
    CashTransferIn,
    DeclineIn,
    DeclineOut,
    ExerciseIn,
    ExerciseOut,
    KillSwitchIn,
    KillSwitchOut,
    MilestoneIn,
    TransferIn,
    TransferOut,
    UrlInt,
)
from api.tables import Credential
from exchange import commands as cmd
from exchange.store.tables import Booking, Capacity, Transfer

router = make_router("lifecycle", authenticated=True)

BookingIdPath = Annotated[UrlInt, Path(ge=1, le=MAX_ID)]


def _bookings(db: Session, booking_ids: list[int]) -> list[Booking]:
    query = select(Booking).where(col(Booking.booking_id).in_(booking_ids)).order_by(col(Booking.booking_id))
    return list(db.exec(query).all())


@router.post(
    "/exercise",
    response_model=ExerciseOut,
    summary="Exercise a capacity option you hold: creates bookings with assigned suppliers",
    responses=COMMAND_ERRORS,
)
async def exercise(
    body: ExerciseIn, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> ExerciseOut:
    """American exercise until the deadline. strike x units x contracts fen move from your
    available cash into escrow; shorts are assigned oldest first, one booking per supplier
    (docs/exchange.md, "Exercise and assignment")."""
    result = await execute(
        gateway,
        cmd.Exercise(actor_id=principal.account_id, symbol=body.symbol, quantity=body.quantity),
    )
    rows = await read(db, _bookings, list(result.data["booking_ids"]))
    return ExerciseOut(
        seq=result.seq,
        symbol=body.symbol,
        quantity=body.quantity,
        bookings=[BookingOut.model_validate(r, from_attributes=True) for r in rows],
    )


@router.post(
    "/decline-auto-exercise",
    response_model=DeclineOut,
    summary="Material calls: do not auto-exercise your long at expiry",
    responses=COMMAND_ERRORS,
)
async def decline_auto_exercise(
    body: DeclineIn, principal: TradePrincipal, gateway: GatewayDep
) -> DeclineOut:
    result = await execute(
        gateway, cmd.DeclineAutoExercise(actor_id=principal.account_id, symbol=body.symbol)
    )
    return DeclineOut(seq=result.seq, account_id=principal.account_id, symbol=body.symbol)


def _account_of(db: Session, username: str) -> int | None:
    return db.exec(select(Credential.account_id).where(Credential.username == username)).first()


def _transfer(db: Session, transfer_id: int) -> Transfer | None:
    return db.get(Transfer, transfer_id)


@router.post(
    "/transfers",
    status_code=201,
    response_model=TransferOut,
    summary="Transfer cash or a position to another account (transfer scope)",
    responses=COMMAND_ERRORS,
)
async def transfer(
    body: Annotated[
        TransferIn, Body(openapi_examples={str(i): {"value": v} for i, v in enumerate(TRANSFER_EXAMPLES)})
    ],
    principal: TransferPrincipal,
    gateway: GatewayDep,
    db: DbDep,
) -> TransferOut:
    """Cash moves from your available cash; a position moves contracts of your free long (not
    reserved by resting sells). The recipient is named by account id or by username."""
    to_account_id = body.to_account_id
    if to_account_id is None:
        assert body.to_username is not None
        to_account_id = await read(db, _account_of, body.to_username)
        if to_account_id is None:
            raise not_found("UNKNOWN_ACCOUNT", f"no account with the username {body.to_username!r}")
    command: cmd.Command
    if isinstance(body, CashTransferIn):
        command = cmd.TransferCash(
            actor_id=principal.account_id, to_account_id=to_account_id, amount=body.amount
        )
    else:
        command = cmd.TransferPosition(
            actor_id=principal.account_id,
            to_account_id=to_account_id,
            symbol=body.symbol,
            quantity=body.quantity,
        )
    result = await execute(gateway, command)
    row = await read(db, _transfer, result.data["transfer_id"])
    assert row is not None, "an acknowledged transfer is in the projections"
    return transfer_out(row)


def _capacity(
    db: Session, supplier_id: int, process: str, window_start: int, window_end: int
) -> Capacity | None:
    return db.get(Capacity, (supplier_id, process, window_start, window_end))


@router.post(
    "/capacity",
    response_model=CapacityOut,
    summary="Register free production capacity (suppliers)",
    responses=COMMAND_ERRORS,
)
async def register_capacity(
    body: CapacityIn, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> CapacityOut:
    """Adds `units` to your capacity for the process and exact delivery window; capacity options
    of that process and window can then be written (sold short) against it."""
    await execute(
        gateway,
        cmd.RegisterCapacity(
            actor_id=principal.account_id,
            process=body.process,
            window_start=body.window_start,
            window_end=body.window_end,
            units=body.units,
        ),
    )
    row = await read(db, _capacity, principal.account_id, body.process, body.window_start, body.window_end)
    assert row is not None, "acknowledged capacity is in the projections"
    return capacity_out(row)


def _booking(db: Session, booking_id: int) -> Booking | None:
    return db.get(Booking, booking_id)


async def visible_booking(db: Session, principal: Principal, booking_id: int) -> Booking:
    """The booking if it is this account's (as creator or supplier) or the principal is an operator;
    404 UNKNOWN_BOOKING otherwise, also when it exists but is someone else's."""
    row = await read(db, _booking, booking_id)
    if row is None or not (
        principal.account_id in (row.creator_id, row.supplier_id) or principal.is_operator
    ):
        raise not_found("UNKNOWN_BOOKING", f"no booking {booking_id} of this account")
    return row


@router.post(
    "/bookings/{booking_id}/milestones",
    response_model=BookingOut,
    summary="Confirm a booking milestone: confirmed (supplier) or delivered (creator)",
    responses=COMMAND_ERRORS,
)
async def milestone(
    booking_id: BookingIdPath, body: MilestoneIn, principal: TradePrincipal, gateway: GatewayDep, db: DbDep
) -> BookingOut:
    """`confirmed` releases 30% of the escrow to the supplier, `delivered` (after confirmed) the
    rest. Who may confirm which is the sequencer's rule (403 NOT_PERMITTED)."""
    await visible_booking(db, principal, booking_id)
    await execute(
        gateway,
        cmd.ConfirmBooking(actor_id=principal.account_id, booking_id=booking_id, milestone=body.milestone),
    )
    row = await read(db, _booking, booking_id)
    return BookingOut.model_validate(row, from_attributes=True)


@router.post(
    "/kill-switch",
    response_model=KillSwitchOut,
    summary="Engage (cancel every order, refuse new ones) or reset the kill switch",
    responses=COMMAND_ERRORS,
)
async def kill_switch(
    principal: TradePrincipal, gateway: GatewayDep, body: KillSwitchIn | None = None
) -> KillSwitchOut:
    """Your own account by default; operators may name any account (others: 403 NOT_PERMITTED)."""
    body = body or KillSwitchIn()
    account_id = body.account_id if body.account_id is not None else principal.account_id
    result = await execute(
        gateway,
        cmd.SetKillSwitch(actor_id=principal.account_id, account_id=account_id, engaged=body.engaged),
    )
    return KillSwitchOut(
        account_id=account_id, engaged=body.engaged, cancelled=result.data["cancelled"], seq=result.seq
    )
