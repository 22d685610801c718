"""Instruments and index prices: ListInstrument, HaltInstrument, ResumeInstrument,
PublishIndexPrice. Listing rules and the symbol scheme: docs/exchange.md, Instruments;
the index price band: exchange/index_prices.py.
"""

from __future__ import annotations

import msgspec

from exchange import commands as cmd
from exchange.accounts import Role, is_operator
from exchange.books import BookFactory, OrderBook
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.events import IndexPricePublished, InstrumentListed, InstrumentStatusChanged
from exchange.handlers.require import require_actor, require_instrument, require_not_expired, require_operator
from exchange.index_prices import format_cny, format_move, publishable_band
from exchange.instruments import (
    CAPACITY_OPTION,
    CAPACITY_SWAP,
    Instrument,
    Status,
    capacity_key,
    derive_symbol,
    kind_of,
)
from exchange.results import Reject, ResultCode
from exchange.state import State


def set_status(effects: Effects, inst: Instrument, status: str) -> None:
    """Move `inst` to `status` and say so (InstrumentStatusChanged)."""
    inst.status = status
    effects.events.append(InstrumentStatusChanged(symbol=inst.symbol, status=status))


class InstrumentHandlers:
    """Listing makes the instrument's book (`book_factory`, into `books`) and its (empty) entry in
    `State.positions`."""

    __slots__ = ("_state", "_config", "_effects", "_books", "_book_factory")

    def __init__(
        self,
        state: State,
        config: ExchangeConfig,
        effects: Effects,
        books: dict[str, OrderBook],
        book_factory: BookFactory,
    ) -> None:
        self._state = state
        self._config = config
        self._effects = effects
        self._books = books
        self._book_factory = book_factory

    def list_instrument(self, c: cmd.ListInstrument) -> dict[str, str]:
        state = self._state
        require_operator(state, c.actor_id)
        t = c.terms
        if c.tick <= 0 or c.lot <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "tick and lot must be > 0")
        if c.min_price > c.max_price or c.min_price % c.tick or c.max_price % c.tick:
            raise Reject(ResultCode.INVALID_FIELD, "min_price <= max_price, both multiples of the tick")
        if c.expiry <= c.trading_start:
            raise Reject(ResultCode.INVALID_FIELD, "expiry must be after trading_start")
        kind = kind_of(t)
        collateral = 0
        cap_key = ""
        if kind != CAPACITY_SWAP and c.min_price < 0:
            raise Reject(ResultCode.INVALID_FIELD, "premiums are not negative")
        if isinstance(t, cmd.CapacityOptionTerms):
            if not t.process or "|" in t.process:
                raise Reject(ResultCode.INVALID_FIELD, "bad process name")
            if t.window_start >= t.window_end or t.strike < 0 or t.units_per_contract <= 0:
                raise Reject(ResultCode.INVALID_FIELD, "window_start < window_end, strike >= 0, units > 0")
            if t.exercise_deadline > t.window_start or c.expiry != t.exercise_deadline:
                raise Reject(ResultCode.INVALID_FIELD, "expiry == exercise_deadline <= window_start")
            collateral = t.units_per_contract
            cap_key = capacity_key(0, t.process, t.window_start, t.window_end).split("|", 1)[1]
        elif isinstance(t, cmd.MaterialCallTerms):
            if not t.index or not t.material:
                raise Reject(ResultCode.INVALID_FIELD, "index and material must not be empty")
            if not 0 <= t.strike < t.cap or t.units_per_contract <= 0:
                raise Reject(ResultCode.INVALID_FIELD, "0 <= strike < cap, units > 0")
            if t.settlement_window_start >= c.expiry:
                raise Reject(ResultCode.INVALID_FIELD, "settlement_window_start must be before expiry")
            if not state.index_prices.get(t.index):
                raise Reject(
                    ResultCode.UNKNOWN_INDEX,
                    f"index {t.index!r} is unknown: no price has been published for it; publish "
                    "one before listing a material call on it",
                )
            collateral = (t.cap - t.strike) * t.units_per_contract
        else:
            legs = []
            for leg_symbol in (t.give_symbol, t.receive_symbol):
                leg = state.instruments.get(leg_symbol)
                if leg is None or leg.kind != CAPACITY_OPTION:
                    raise Reject(
                        ResultCode.UNKNOWN_INSTRUMENT, f"{leg_symbol!r} is not a listed capacity option"
                    )
                require_not_expired(leg)
                legs.append(leg)
            give_terms, receive_terms = legs[0].terms, legs[1].terms
            assert isinstance(give_terms, cmd.CapacityOptionTerms)
            assert isinstance(receive_terms, cmd.CapacityOptionTerms)
            if legs[0] is legs[1] or give_terms.process != receive_terms.process:
                raise Reject(ResultCode.INVALID_FIELD, "two different legs of the same process")
            if c.expiry > min(leg.expiry for leg in legs):
                raise Reject(ResultCode.INVALID_FIELD, "a swap expires no later than its legs")
        symbol = derive_symbol(t, c.expiry)
        if symbol in state.instruments:
            raise Reject(ResultCode.DUPLICATE_SYMBOL, f"{symbol} is already listed")
        iid = state.next_instrument_id
        state.next_instrument_id = iid + 1
        status = Status.TRADING if c.timestamp >= c.trading_start else Status.PENDING
        inst = Instrument(
            symbol=symbol,
            instrument_id=iid,
            kind=kind,
            terms=t,
            tick=c.tick,
            lot=c.lot,
            min_price=c.min_price,
            max_price=c.max_price,
            trading_start=c.trading_start,
            expiry=c.expiry,
            status=status,
            listed_at=c.timestamp,
            collateral_per_contract=collateral,
            capacity_key=cap_key,
        )
        self._books[symbol] = self._book_factory(iid, c.tick, c.lot, c.min_price, c.max_price)
        state.instruments[symbol] = inst
        state.positions[symbol] = {}
        self._effects.events.append(
            InstrumentListed(
                symbol=symbol,
                kind=kind.value,  # events carry plain values
                terms_json=msgspec.json.encode(t).decode(),
                tick=c.tick,
                lot=c.lot,
                min_price=c.min_price,
                max_price=c.max_price,
                trading_start=c.trading_start,
                expiry=c.expiry,
                status=status,
            )
        )
        return {"symbol": symbol}

    def halt(self, c: cmd.HaltInstrument) -> dict[str, object]:
        require_operator(self._state, c.actor_id)
        inst = require_instrument(self._state, c.symbol)
        require_not_expired(inst)
        if inst.status != Status.HALTED:
            set_status(self._effects, inst, Status.HALTED)
        return {}

    def resume(self, c: cmd.ResumeInstrument) -> dict[str, object]:
        require_operator(self._state, c.actor_id)
        inst = require_instrument(self._state, c.symbol)
        require_not_expired(inst)
        if inst.status == Status.HALTED:
            status = Status.TRADING if c.timestamp >= inst.trading_start else Status.PENDING
            set_status(self._effects, inst, status)
        return {}

    def publish_index_price(self, c: cmd.PublishIndexPrice) -> dict[str, object]:
        state = self._state
        actor = require_actor(state, c.actor_id)
        if not (is_operator(c.actor_id, actor) or (actor is not None and actor.role == Role.INDEX_FEED)):
            raise Reject(ResultCode.NOT_PERMITTED, "operators and index feeds only")
        if not c.index or c.price < 0:
            raise Reject(ResultCode.INVALID_FIELD, "index must not be empty, price >= 0")
        points = state.index_prices.get(c.index)
        if points and points[-1][0] > c.timestamp:
            raise Reject(ResultCode.INVALID_FIELD, "an index price older than the latest one")
        percent = self._config.index_price_band_percent
        band = publishable_band(points, percent)
        if band is not None and not c.confirm_large_move and not band[0] <= c.price <= band[1]:
            assert points
            last = points[-1][1]
            move = f"moves {format_move(c.price, last)} from" if last else "moves away from"
            raise Reject(
                ResultCode.INDEX_PRICE_BAND,
                f"index price {format_cny(c.price)} of {c.index} {move} the last {format_cny(last)} "
                f"(band ±{percent}%: {format_cny(band[0])} – {format_cny(band[1])}); "
                "send confirm_large_move=true if intended",
            )
        if points is None:
            points = state.index_prices[c.index] = []
        points.append((c.timestamp, c.price))
        self._effects.events.append(
            IndexPricePublished(index=c.index, price=c.price, published_at=c.timestamp)
        )
        return {}
