"""Instruments: list with filters, detail with all terms (public); list a new one, halt, resume
(operators).

Instruments are read from the sequencer's hot state (gateway queries `instruments` and
`instrument`), which also knows the last trade and the current status the moment a command is
acknowledged; every route of this API that needs an instrument reads it there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api import queries
from api.deps import GatewayDep, OperatorPrincipal
from api.queries import InstrumentView
from api.routes.common import AUTHENTICATED, execute, instrument_or_404, make_router
from api.schemas import (
    COMMAND_ERRORS,
    MAX_TIME,
    PUBLIC_ERRORS,
    CapacityOptionTermsIn,
    InstrumentOut,
    InstrumentStatus,
    Kind,
    ListInstrumentIn,
    MaterialCallTermsIn,
    UrlInt,
)
from exchange import commands as cmd

router = make_router("instruments")

SymbolPath = Annotated[str, Path(max_length=200, description="the instrument's symbol")]


def instrument_out(data: InstrumentView) -> InstrumentOut:
    """An instrument as the sequencer reports it (terms tagged `type`)."""
    terms = {k: v for k, v in data.terms.items() if k != "type"}
    terms["kind"] = data.kind
    return InstrumentOut(
        symbol=data.symbol,
        kind=data.kind,
        status=data.status,
        terms=terms,
        contract_size=terms.get("units_per_contract", 1),
        tick=data.tick,
        lot=data.lot,
        min_price=data.min_price,
        max_price=data.max_price,
        trading_start=data.trading_start,
        expiry=data.expiry,
        listed_at=data.listed_at,
        last_trade_time=data.last_trade_time,
        last_trade_price=data.last_trade_price,
        settlement_price=data.settlement_price,
    )


def _windows(data: InstrumentView, by_symbol: dict[str, InstrumentView]) -> list[tuple[str, int, int]]:
    """(process, window_start, window_end) of a CAP, or of both legs of a SWP; none for a MAT."""
    terms = data.terms
    if data.kind == "CAP":
        return [(terms["process"], terms["window_start"], terms["window_end"])]
    if data.kind == "SWP":
        legs = (by_symbol.get(terms["give_symbol"]), by_symbol.get(terms["receive_symbol"]))
        return [w for leg in legs if leg is not None for w in _windows(leg, by_symbol)]
    return []


@router.get(
    "/instruments",
    response_model=list[InstrumentOut],
    summary="List instruments, with filters",
    responses=PUBLIC_ERRORS,
)
async def list_instruments(
    gateway: GatewayDep,
    kind: Kind | None = None,
    status: InstrumentStatus | None = None,
    process: Annotated[
        str | None, Query(max_length=48, description="CAP and SWP: production process")
    ] = None,
    material: Annotated[str | None, Query(max_length=48, description="MAT: the material")] = None,
    index: Annotated[str | None, Query(max_length=48, description="MAT: the settling index")] = None,
    window_start: Annotated[
        UrlInt | None, Query(ge=0, le=MAX_TIME, description="ms: delivery windows ending after this")
    ] = None,
    window_end: Annotated[
        UrlInt | None, Query(ge=0, le=MAX_TIME, description="ms: delivery windows starting before this")
    ] = None,
) -> list[InstrumentOut]:
    """Filters combine with AND. A window filter keeps the CAP (and SWP, by either leg) whose
    delivery window overlaps [window_start, window_end); it leaves out MAT, which have none."""
    everything = await queries.instruments(gateway)
    by_symbol = {i.symbol: i for i in everything}
    chosen = []
    for data in everything:
        terms = data.terms
        if kind is not None and data.kind != kind:
            continue
        if status is not None and data.status != status:
            continue
        if material is not None and terms.get("material") != material:
            continue
        if index is not None and terms.get("index") != index:
            continue
        windows = _windows(data, by_symbol)
        if process is not None and not any(w[0] == process for w in windows):
            continue
        if window_start is not None or window_end is not None:
            low = window_start if window_start is not None else -1
            high = window_end if window_end is not None else MAX_TIME + 1
            if not any(w[1] < high and w[2] > low for w in windows):
                continue
        chosen.append(instrument_out(data))
    return chosen


@router.get(
    "/instruments/{symbol}",
    response_model=InstrumentOut,
    summary="One instrument with all its terms",
    responses=PUBLIC_ERRORS,
)
async def get_instrument(symbol: SymbolPath, gateway: GatewayDep) -> InstrumentOut:
    return instrument_out(await instrument_or_404(gateway, symbol))


def _terms(body: ListInstrumentIn) -> tuple[cmd.InstrumentTerms, int]:
    """The command's terms and the expiry (a CAP expires at its exercise deadline)."""
    t = body.terms
    if isinstance(t, CapacityOptionTermsIn):
        terms: cmd.InstrumentTerms = cmd.CapacityOptionTerms(
            process=t.process,
            window_start=t.window_start,
            window_end=t.window_end,
            strike=t.strike,
            units_per_contract=t.units_per_contract,
            exercise_deadline=t.exercise_deadline,
        )
        return terms, body.expiry if body.expiry is not None else t.exercise_deadline
    assert body.expiry is not None  # ListInstrumentIn requires it for MAT and SWP
    if isinstance(t, MaterialCallTermsIn):
        terms = cmd.MaterialCallTerms(
            material=t.material,
            index=t.index,
            strike=t.strike,
            cap=t.cap,
            units_per_contract=t.units_per_contract,
            settlement_window_start=t.settlement_window_start,
        )
        return terms, body.expiry
    return cmd.CapacitySwapTerms(give_symbol=t.give_symbol, receive_symbol=t.receive_symbol), body.expiry


@router.post(
    "/instruments",
    status_code=201,
    response_model=InstrumentOut,
    summary="List a new instrument (operators)",
    dependencies=AUTHENTICATED,
    responses=COMMAND_ERRORS,
)
async def list_instrument(
    body: ListInstrumentIn, principal: OperatorPrincipal, gateway: GatewayDep
) -> InstrumentOut:
    """The symbol is derived from the terms (docs/exchange.md, "Instruments"); listing the same
    terms twice is 409 DUPLICATE_SYMBOL. The sequencer checks the listing rules (INVALID_FIELD)."""
    terms, expiry = _terms(body)
    result = await execute(
        gateway,
        cmd.ListInstrument(
            actor_id=principal.account_id,
            terms=terms,
            tick=body.tick,
            lot=body.lot,
            min_price=body.min_price,
            max_price=body.max_price,
            trading_start=body.trading_start,
            expiry=expiry,
        ),
    )
    return instrument_out(await instrument_or_404(gateway, result.data["symbol"]))


@router.post(
    "/instruments/{symbol}/halt",
    response_model=InstrumentOut,
    summary="Halt trading (operators): cancels still work, new orders and amends do not",
    dependencies=AUTHENTICATED,
    responses=COMMAND_ERRORS,
)
async def halt(symbol: SymbolPath, principal: OperatorPrincipal, gateway: GatewayDep) -> InstrumentOut:
    await execute(gateway, cmd.HaltInstrument(actor_id=principal.account_id, symbol=symbol))
    return instrument_out(await instrument_or_404(gateway, symbol))


@router.post(
    "/instruments/{symbol}/resume",
    response_model=InstrumentOut,
    summary="Resume a halted instrument (operators)",
    dependencies=AUTHENTICATED,
    responses=COMMAND_ERRORS,
)
async def resume(symbol: SymbolPath, principal: OperatorPrincipal, gateway: GatewayDep) -> InstrumentOut:
    await execute(gateway, cmd.ResumeInstrument(actor_id=principal.account_id, symbol=symbol))
    return instrument_out(await instrument_or_404(gateway, symbol))
