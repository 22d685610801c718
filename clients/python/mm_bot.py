"""A market-maker bot on the SDK: keeps a two-sided quote on many instruments.

    python -m clients.python.mm_bot --url http://127.0.0.1:8000 --username U --password P \\
        [--symbols S ...] [--spread-ticks N] [--size N] [--interval S] [--duration S]

What it does, every `interval` seconds, for each instrument it quotes (docs/sdk.md tells more):

1. **Fair value**, the first of: the mid of the book without the bot's own orders; the last trade;
   for a material call the index-implied value `min(max(S - K, 0), cap - K) * units` from the
   latest index price S; else `default_price` (fen per contract, put inside the listing's band).
2. **Prices**: bid `spread_ticks` ticks below, ask `spread_ticks` ticks above, on the tick grid,
   inside the listing's min/max price and the exchange's fat-finger band (docs/exchange.md,
   "Fat-finger band"), never crossing another participant's best price (quotes are post-only).
3. **Sizes**: `size` contracts on the lot grid; a sell that would open a short it cannot cover is
   not quoted (a market maker writes no capacity option: it sells what it holds; a swap needs the
   leg it gives).
4. **Only what changed** is sent, in one `mass_quote` per 100 instruments: a quote whose target is
   the same and whose orders still rest untouched is left alone (it keeps its time priority).

Safeguards: cancel-on-disconnect is on, so stopping the bot (or losing it) pulls every quote;
market-maker protection is configured per underlying, and when it triggers the bot stays off that
underlying until the frozen time has passed. A side the exchange refuses (no cash, no position,
outside a band) is left out for `refusal_backoff` seconds. After a reconnection the bot cancels
what the old connection left and quotes afresh.

`run_bot(...)` runs it in-process (the demo server does), until `stop_event` is set or `duration`
has passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import msgspec

from clients.python import models as m
from clients.python.errors import CapexError
from clients.python.rest import CapexClient
from clients.python.ws import WsSession
from wire import ws as codes

log = logging.getLogger("capex.mm_bot")

QUOTES_PER_MESSAGE = 100  # the server takes up to 200 entries in one mass quote
# Refusals that say "not now, maybe next cycle" rather than "not this side for a while".
TRANSIENT_REFUSALS = frozenset(
    {
        "MATCHING_WOULD_CROSS",  # the exchange's own refusals: exchange/results.py names
        "STORE_UNAVAILABLE",
        codes.RATE_LIMITED,
        codes.UNAVAILABLE,
        codes.OUTCOME_UNKNOWN,
    }
)
SUMMARY_EVERY_SECONDS = 10.0
MAX_REFUSAL_BACKOFF = 300.0  # seconds


@dataclass(frozen=True)
class BotConfig:
    """How the bot quotes. Prices in fen per contract, sizes in contracts, times as named."""

    symbols: tuple[str, ...] | None = None  # None: every trading instrument (up to max_instruments)
    spread_ticks: int = 2  # each side this many ticks from the fair value
    size: int = 5  # contracts per side (rounded to the lot)
    interval: float = 1.0  # seconds between quoting cycles
    duration: float | None = None  # seconds; None: until stopped
    max_instruments: int = 100
    default_price: int = 1_000  # fair value when nothing else gives one
    order_type: str = "post_only"  # or "limit"
    # The exchange's fat-finger band (ExchangeConfig defaults); 0 percent: no band.
    fat_finger_percent: int = 50
    fat_finger_min_ticks: int = 10
    # Market-maker protection per underlying; quantity 0 leaves the server's default.
    mmp_quantity: int = 50
    mmp_interval_ms: int = 1_000
    mmp_frozen_ms: int = 5_000
    refusal_backoff: float = 10.0  # seconds a refused side stays out (doubling while refused in a row)


@dataclass
class BotStats:
    cycles: int = 0
    mass_quotes: int = 0
    quote_entries: int = 0
    orders_placed: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    mmp_triggers: int = 0
    fills: int = 0
    contracts_traded: int = 0
    reconnects: int = 0
    book_gaps: int = 0
    book_resyncs: int = 0
    two_sided: set[str] = field(default_factory=set)  # symbols quoted on both sides at some point

    def summary(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "mass_quotes": self.mass_quotes,
            "quote_entries": self.quote_entries,
            "orders_placed": self.orders_placed,
            "refusals": dict(self.refusals),
            "mmp_triggers": self.mmp_triggers,
            "fills": self.fills,
            "contracts_traded": self.contracts_traded,
            "reconnects": self.reconnects,
            "book_gaps": self.book_gaps,
            "book_resyncs": self.book_resyncs,
            "two_sided_symbols": len(self.two_sided),
        }


@dataclass(frozen=True)
class QuoteTarget:
    """What the bot wants resting on one instrument: (price, quantity) per side, or None."""

    bid: tuple[int, int] | None = None
    ask: tuple[int, int] | None = None

    @property
    def empty(self) -> bool:
        return self.bid is None and self.ask is None


@dataclass
class LiveQuote:
    target: QuoteTarget  # as sent
    bid_order: int | None = None
    ask_order: int | None = None


@dataclass
class OwnOrder:
    symbol: str
    side: str
    price: int
    open_quantity: int


# -- PRICING (pure functions) --------------------------------------------------------------------


def floor_tick(price: int, tick: int) -> int:
    return price // tick * tick


def ceil_tick(price: int, tick: int) -> int:
    return -(-price // tick) * tick


def index_implied_value(terms: m.MaterialCallTerms, index_price: int) -> int:
    """A material call's value per contract at index price S: min(max(S - K, 0), cap - K) * units."""
    per_unit = min(max(index_price - terms.strike, 0), terms.cap - terms.strike)
    return per_unit * terms.units_per_contract


def fat_finger_band(
    instrument: m.Instrument,
    last_trade: int | None,
    index_price: int | None,
    percent: int,
    min_ticks: int,
) -> tuple[int, int] | None:
    """The exchange's fat-finger band (docs/exchange.md): around the last trade, or for a material
    call with an index price from the index-implied value minus the tolerance up to the most a
    contract can pay. None when no band applies yet."""
    if not percent:
        return None
    min_deviation = min_ticks * instrument.tick
    terms = instrument.terms
    if isinstance(terms, m.MaterialCallTerms) and index_price is not None:
        max_payoff = (terms.cap - terms.strike) * terms.units_per_contract
        intrinsic = index_implied_value(terms, index_price)
        return intrinsic - max(intrinsic * percent // 100, min_deviation), max_payoff
    if last_trade is None:
        return None
    deviation = max(abs(last_trade) * percent // 100, min_deviation)
    return last_trade - deviation, last_trade + deviation


def quote_prices(
    instrument: m.Instrument,
    fair: int,
    spread_ticks: int,
    band: tuple[int, int] | None,
    others_bid: int | None,
    others_ask: int | None,
) -> tuple[int | None, int | None]:
    """(bid, ask) around `fair`, on the tick grid, inside the listing's price range and the band,
    not crossing the best prices of others (post-only would refuse). None for a side that fits
    nowhere."""
    tick = instrument.tick
    low, high = instrument.min_price, instrument.max_price
    if band is not None:
        low, high = max(low, ceil_tick(band[0], tick)), min(high, floor_tick(band[1], tick))
    if low > high:
        return None, None
    bid: int | None = min(max(floor_tick(fair - spread_ticks * tick, tick), low), high)
    ask: int | None = max(min(ceil_tick(fair + spread_ticks * tick, tick), high), low)
    if bid is not None and others_ask is not None and bid >= others_ask:
        bid = others_ask - tick if others_ask - tick >= low else None
    if ask is not None and others_bid is not None and ask <= others_bid:
        ask = others_bid + tick if others_bid + tick <= high else None
    if bid is not None and ask is not None and bid >= ask:
        # Squeezed against an edge of the band: keep the side that is on the fair value's side.
        if fair >= high:
            ask = None
        else:
            bid = None
    return bid, ask


# -- THE BOT -------------------------------------------------------------------------------------


class MarketMaker:
    """Quotes on one account through one WebSocket session. `run(stop_event)` until stopped."""

    def __init__(self, client: CapexClient, config: BotConfig | None = None) -> None:
        self.client = client
        self.config = config or BotConfig()
        self.stats = BotStats()
        self.session: WsSession | None = None
        self.account_id = 0
        self.role = ""
        self.instruments: dict[str, m.Instrument] = {}  # every listed one (swap legs too)
        self.quoting: list[str] = []
        self.last_trade: dict[str, int] = {}
        self.index_price: dict[str, int] = {}
        self.positions: dict[str, int] = {}
        self.own_orders: dict[int, OwnOrder] = {}
        self._closed_orders: deque[int] = deque(maxlen=10_000)
        self._closed_set: set[int] = set()
        self.quotes: dict[str, LiveQuote] = {}
        self.frozen_until: dict[str, float] = {}  # underlying -> monotonic deadline (inf: until reset)
        self.backoff: dict[tuple[str, str], float] = {}  # (symbol, side) -> monotonic deadline
        self._refusal_streak: dict[tuple[str, str], int] = {}  # refusals in a row
        self._seen_reconnects = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- RUN -------------------------------------------------------------------------------------

    async def run(self, stop_event: asyncio.Event | None = None) -> BotStats:
        stop_event = stop_event or asyncio.Event()
        config = self.config
        started = time.monotonic()
        me = await self.client.me()
        self.account_id, self.role = me.account_id, me.role
        session = self.client.ws()
        self.session = session
        session.add_listener(self._on_message)
        await session.connect()
        try:
            await self._start(session)
            log.info(
                "account %s (%s) quoting %d instruments: spread %d ticks, size %d, every %.2f s",
                self.account_id,
                self.role,
                len(self.quoting),
                config.spread_ticks,
                config.size,
                config.interval,
            )
            last_summary = time.monotonic()
            while not stop_event.is_set():
                if config.duration is not None and time.monotonic() - started >= config.duration:
                    log.info("duration of %.1f s reached", config.duration)
                    break
                if session.closed.is_set():
                    log.error("the WebSocket session ended: %s", session.failure)
                    break
                await self._cycle()
                if time.monotonic() - last_summary >= SUMMARY_EVERY_SECONDS:
                    last_summary = time.monotonic()
                    log.info("summary: %s", self._refresh_stats().summary())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_event.wait(), config.interval)
        finally:
            for task in list(self._tasks):
                task.cancel()
            # Closing the connection pulls every quote: cancel-on-disconnect is on.
            await session.close()
            self._refresh_stats()
            log.info("stopped; quotes pulled by cancel-on-disconnect; %s", self.stats.summary())
        return self.stats

    async def _start(self, session: WsSession) -> None:
        """Subscribe first, then read the current state over REST (events carry absolute state, so
        one applied twice is harmless; one missed between the two reads is not)."""
        await session.set_cancel_on_disconnect(True)
        for channel in ("orders", "fills", "positions", "instruments", "index", "trades"):
            await session.subscribe(channel)
        everything = await self.client.instruments()
        self.instruments = {i.symbol: i for i in everything}
        for instrument in everything:
            if instrument.last_trade_price is not None:
                self.last_trade.setdefault(instrument.symbol, instrument.last_trade_price)
        for summary in await self.client.index_prices():
            self.index_price.setdefault(summary.index, summary.price)
        await self._read_account()
        self.quoting = self._choose(everything)
        await asyncio.gather(*(session.subscribe_book(s, wait=False) for s in self.quoting))
        await self._configure_protection(self.quoting)
        self._seen_reconnects = session.reconnects

    def _choose(self, instruments: Sequence[m.Instrument]) -> list[str]:
        config = self.config
        if config.symbols:
            chosen = [s for s in config.symbols if s in self.instruments]
            for missing in sorted(set(config.symbols) - set(chosen)):
                log.warning("no instrument %s: not quoted", missing)
            return chosen
        live = [i.symbol for i in instruments if i.status in ("trading", "pending")]
        return sorted(live)[: config.max_instruments]

    async def _read_account(self) -> None:
        self.positions.update({p.symbol: p.position for p in await self.client.positions()})
        for order in await self.client.orders(status="open", limit=1000):
            if order.order_id not in self._closed_set:
                self.own_orders[order.order_id] = OwnOrder(
                    order.symbol, order.side, order.price, order.open_quantity
                )

    async def _configure_protection(self, symbols: Iterable[str]) -> None:
        config = self.config
        if config.mmp_quantity <= 0 or self.session is None:
            return
        underlyings = sorted({self.underlying(self.instruments[s]) for s in symbols} - {""})
        for underlying in underlyings:
            state = await self.session.mmp_config(
                underlying, config.mmp_quantity, config.mmp_interval_ms, config.mmp_frozen_ms
            )
            log.info(
                "market-maker protection on %s: %d contracts in %d ms, frozen %d ms",
                underlying,
                state.quantity,
                state.interval_ms,
                state.frozen_ms,
            )

    def underlying(self, instrument: m.Instrument) -> str:
        """The process of a CAP, the material of a MAT, the give leg's process of a SWP."""
        if isinstance(instrument.terms, m.CapacitySwapTerms):
            leg = self.instruments.get(instrument.terms.give_symbol)
            return leg.underlying if leg is not None else ""
        return instrument.underlying

    # -- ONE CYCLE -------------------------------------------------------------------------------

    async def _cycle(self) -> None:
        session = self.session
        assert session is not None
        self.stats.cycles += 1
        if session.reconnects != self._seen_reconnects:
            await self._after_reconnect(session)
        now = time.monotonic()
        own = self._own_levels()
        entries: list[tuple[m.Quote, QuoteTarget]] = []
        for symbol in self.quoting:
            instrument = self.instruments.get(symbol)
            if instrument is None:
                continue
            live = self.quotes.get(symbol)
            if instrument.status != "trading" or self._frozen(instrument, now):
                # A halted market takes no new orders; a frozen underlying's quotes were pulled.
                continue
            book = session.books.get(symbol)
            if book is not None and not book.synced:
                continue  # resyncing: the current quote stays until the book is known again
            target = self.target(instrument, own, now)
            if live is not None and live.target == target and self._intact(live):
                continue
            if target.empty and (live is None or self._nothing_rests(live)):
                continue
            entries.append((self._quote(symbol, target), target))
        for start in range(0, len(entries), QUOTES_PER_MESSAGE):
            await self._send(entries[start : start + QUOTES_PER_MESSAGE])

    async def _after_reconnect(self, session: WsSession) -> None:
        """The old connection's quotes are not this connection's to replace: cancel them (the
        server's cancel-on-disconnect does too, maybe later) and start over."""
        self._seen_reconnects = session.reconnects
        self.stats.reconnects = session.reconnects
        log.warning("reconnected: cancelling the old connection's quotes and quoting afresh")
        with contextlib.suppress(CapexError):
            await session.cancel_all()
        self.quotes.clear()
        self.own_orders.clear()
        with contextlib.suppress(CapexError):
            await self._read_account()

    def target(
        self, instrument: m.Instrument, own: dict[tuple[str, str, int], int], now: float
    ) -> QuoteTarget:
        """What to quote on one instrument now."""
        config = self.config
        symbol = instrument.symbol
        others_bid, others_ask = self._others_best(symbol, own)
        fair = self.fair_value(instrument, others_bid, others_ask)
        index_price = (
            self.index_price.get(instrument.terms.index)
            if isinstance(instrument.terms, m.MaterialCallTerms)
            else None
        )
        band = fat_finger_band(
            instrument,
            self.last_trade.get(symbol),
            index_price,
            config.fat_finger_percent,
            config.fat_finger_min_ticks,
        )
        bid, ask = quote_prices(instrument, fair, config.spread_ticks, band, others_bid, others_ask)
        bid_quantity, ask_quantity = self._sizes(instrument)
        quote_bid = bid is not None and bid_quantity > 0 and self.backoff.get((symbol, "bid"), 0) <= now
        quote_ask = ask is not None and ask_quantity > 0 and self.backoff.get((symbol, "ask"), 0) <= now
        return QuoteTarget(
            bid=(bid, bid_quantity) if quote_bid else None,  # type: ignore[arg-type]
            ask=(ask, ask_quantity) if quote_ask else None,  # type: ignore[arg-type]
        )

    def fair_value(self, instrument: m.Instrument, others_bid: int | None, others_ask: int | None) -> int:
        """Mid of the others' book, else last trade, else (material calls) the index-implied
        value, else the default price put inside the listing's band."""
        if others_bid is not None and others_ask is not None:
            return (others_bid + others_ask) // 2
        last = self.last_trade.get(instrument.symbol)
        if last is not None:
            return last
        terms = instrument.terms
        if isinstance(terms, m.MaterialCallTerms) and terms.index in self.index_price:
            return index_implied_value(terms, self.index_price[terms.index])
        return min(max(self.config.default_price, instrument.min_price), instrument.max_price)

    def _sizes(self, instrument: m.Instrument) -> tuple[int, int]:
        """(bid, ask) quantities on the lot grid. Sells open no short the bot cannot cover: a
        capacity option is written by suppliers only, and a swap trades legs one holds."""
        lot = instrument.lot
        size = max(self.config.size // lot, 1) * lot
        bid = ask = size
        terms = instrument.terms
        if isinstance(terms, m.CapacityOptionTerms) and self.role != "supplier":
            ask = min(size, max(self.positions.get(instrument.symbol, 0), 0) // lot * lot)
        elif isinstance(terms, m.CapacitySwapTerms):
            # buying the swap gives the give leg; selling it gives the receive leg
            bid = min(size, max(self.positions.get(terms.give_symbol, 0), 0) // lot * lot)
            ask = min(size, max(self.positions.get(terms.receive_symbol, 0), 0) // lot * lot)
        return bid, ask

    def _own_levels(self) -> dict[tuple[str, str, int], int]:
        levels: dict[tuple[str, str, int], int] = {}
        for order in self.own_orders.values():
            key = (order.symbol, order.side, order.price)
            levels[key] = levels.get(key, 0) + order.open_quantity
        return levels

    def _others_best(
        self, symbol: str, own: dict[tuple[str, str, int], int]
    ) -> tuple[int | None, int | None]:
        """Best bid and ask of everyone but the bot, from the local book."""
        assert self.session is not None
        book = self.session.books.get(symbol)
        if book is None or not book.synced:
            return None, None
        best: list[int | None] = []
        for side, levels in (("buy", book.bids()), ("sell", book.asks())):
            price_found = None
            for price, quantity, _ in levels:
                if quantity > own.get((symbol, side, price), 0):
                    price_found = price
                    break
            best.append(price_found)
        return best[0], best[1]

    def _frozen(self, instrument: m.Instrument, now: float) -> bool:
        underlying = self.underlying(instrument)
        deadline = self.frozen_until.get(underlying)
        if deadline is None:
            return False
        if now >= deadline:
            del self.frozen_until[underlying]
            log.info("market-maker protection on %s has thawed: quoting again", underlying)
            return False
        return True

    def _intact(self, live: LiveQuote) -> bool:
        """Every side the quote placed still rests with its whole quantity."""
        for order_id, wanted in ((live.bid_order, live.target.bid), (live.ask_order, live.target.ask)):
            if wanted is None:
                continue
            order = self.own_orders.get(order_id) if order_id is not None else None
            if order is None or order.open_quantity != wanted[1]:
                return False
        return True

    def _nothing_rests(self, live: LiveQuote) -> bool:
        return all(o is None or o not in self.own_orders for o in (live.bid_order, live.ask_order))

    @staticmethod
    def _quote(symbol: str, target: QuoteTarget) -> m.Quote:
        bid_price, bid_quantity = target.bid if target.bid is not None else (None, None)
        ask_price, ask_quantity = target.ask if target.ask is not None else (None, None)
        return m.Quote(
            symbol=symbol,
            bid_price=bid_price,
            bid_quantity=bid_quantity,
            ask_price=ask_price,
            ask_quantity=ask_quantity,
        )

    async def _send(self, entries: list[tuple[m.Quote, QuoteTarget]]) -> None:
        assert self.session is not None
        try:
            result = await self.session.mass_quote([quote for quote, _ in entries], self.config.order_type)
        except CapexError as exc:
            self.stats.refusals[exc.code] += 1
            if exc.code == codes.RATE_LIMITED:
                log.warning("quote rate limit reached: waiting %.2f s", exc.retry_after or 1.0)
                await asyncio.sleep(exc.retry_after or 1.0)
            else:
                log.warning("mass quote failed: %s", exc)
            return
        self.stats.mass_quotes += 1
        self.stats.quote_entries += len(entries)
        now = time.monotonic()
        targets = {quote.symbol: target for quote, target in entries}
        for answer in result.quotes:
            self._record(answer, targets[answer.symbol], now)

    def _record(self, answer: m.QuoteResult, target: QuoteTarget, now: float) -> None:
        symbol = answer.symbol
        if answer.error is not None:  # the whole entry was refused: nothing was cancelled or placed
            self.stats.refusals[answer.error.code] += 1
            if answer.error.code == codes.MMP_TRIGGERED:
                instrument = self.instruments[symbol]
                self._freeze(self.underlying(instrument), self.config.mmp_frozen_ms / 1000)
                self.quotes.pop(symbol, None)
            else:
                log.info("quote on %s refused: %s %s", symbol, answer.error.code, answer.error.message)
            return
        live = LiveQuote(target)
        for side, wanted, leg in (("bid", target.bid, answer.bid), ("ask", target.ask, answer.ask)):
            if wanted is None or leg is None:
                continue
            if leg.ok and leg.order_id is not None:
                self.stats.orders_placed += 1
                self._refusal_streak.pop((symbol, side), None)
                if leg.order_id not in self._closed_set:
                    self.own_orders.setdefault(
                        leg.order_id,
                        OwnOrder(symbol, "buy" if side == "bid" else "sell", wanted[0], wanted[1]),
                    )
                setattr(live, f"{side}_order", leg.order_id)
            elif leg.error is not None:
                self.stats.refusals[leg.error.code] += 1
                if leg.error.code not in TRANSIENT_REFUSALS:
                    # Refused again and again (a position that never comes): back off longer each time.
                    streak = self._refusal_streak[(symbol, side)] = (
                        self._refusal_streak.get((symbol, side), 0) + 1
                    )
                    seconds = min(self.config.refusal_backoff * 2 ** (streak - 1), MAX_REFUSAL_BACKOFF)
                    self.backoff[(symbol, side)] = now + seconds
                    log.info(
                        "%s %s at %s refused (%s: %s): left out for %.0f s",
                        symbol,
                        side,
                        wanted[0],
                        leg.error.code,
                        leg.error.message,
                        seconds,
                    )
        if live.bid_order is not None and live.ask_order is not None:
            self.stats.two_sided.add(symbol)
        self.quotes[symbol] = live

    def _freeze(self, underlying: str, seconds: float | None) -> None:
        deadline = float("inf") if seconds is None else time.monotonic() + seconds
        self.frozen_until[underlying] = max(deadline, self.frozen_until.get(underlying, 0.0))

    def _refresh_stats(self) -> BotStats:
        if self.session is not None:
            self.stats.reconnects = self.session.reconnects
            self.stats.book_gaps = sum(b.gaps + b.checksum_mismatches for b in self.session.books.values())
            self.stats.book_resyncs = sum(b.resyncs for b in self.session.books.values())
        return self.stats

    # -- EVENTS ----------------------------------------------------------------------------------

    def _on_message(self, message: dict[str, Any]) -> None:
        channel, kind = message.get("channel"), message.get("type")
        if channel == "orders":
            self._on_order(message)
        elif channel == "fills":
            self.stats.fills += 1
            self.stats.contracts_traded += int(message.get("quantity", 0))
            log.info(
                "filled: %s %s %s @ %s (%s)",
                message.get("side"),
                message.get("quantity"),
                message.get("symbol"),
                message.get("price"),
                message.get("liquidity"),
            )
        elif channel == "positions":
            self.positions[message["symbol"]] = int(message["position"])
        elif channel == "trades":
            self.last_trade[message["symbol"]] = int(message["price"])
        elif channel == "index" and kind == "index_price":
            self.index_price[message["index"]] = int(message["price"])
        elif channel == "instruments":
            self._on_instrument(message)
        elif kind == "mmp_triggered":
            self._on_mmp(message)

    def _on_order(self, message: dict[str, Any]) -> None:
        order_id = int(message["order_id"])
        if message.get("status") in ("open", "partially_filled") and int(message.get("open_quantity", 0)) > 0:
            if order_id not in self._closed_set:
                self.own_orders[order_id] = OwnOrder(
                    message["symbol"], message["side"], int(message["price"]), int(message["open_quantity"])
                )
            return
        self.own_orders.pop(order_id, None)
        if order_id not in self._closed_set:
            if len(self._closed_orders) == self._closed_orders.maxlen:
                self._closed_set.discard(self._closed_orders[0])
            self._closed_orders.append(order_id)
            self._closed_set.add(order_id)

    def _on_instrument(self, message: dict[str, Any]) -> None:
        symbol = message.get("symbol")
        if message.get("type") == "status" and symbol in self.instruments:
            self.instruments[symbol] = replace_struct(self.instruments[symbol], status=message["status"])
            log.info("%s is now %s", symbol, message["status"])
        elif message.get("type") == "listed" and symbol and symbol not in self.instruments:
            self._spawn(self._add_instrument(symbol))

    async def _add_instrument(self, symbol: str) -> None:
        """A newly listed instrument: quoted too when the bot chooses its own instruments."""
        try:
            instrument = await self.client.instrument(symbol)
        except CapexError as exc:
            log.warning("listed %s could not be read: %s", symbol, exc)
            return
        self.instruments[symbol] = instrument
        if self.config.symbols or len(self.quoting) >= self.config.max_instruments or self.session is None:
            return
        self.quoting.append(symbol)
        log.info("new instrument %s: quoting it", symbol)
        with contextlib.suppress(CapexError):
            await self.session.subscribe_book(symbol, wait=False)
            await self._configure_protection([symbol])

    def _on_mmp(self, message: dict[str, Any]) -> None:
        """The server pulled the quotes on the underlying; stay off it while it is frozen."""
        assert self.session is not None
        underlying = str(message.get("underlying"))
        frozen_until = message.get("frozen_until")
        self.stats.mmp_triggers += 1
        if frozen_until is None:
            self._freeze(underlying, None)
            log.warning("market-maker protection triggered on %s: frozen until reset", underlying)
        else:
            seconds = max((int(frozen_until) - self.session.server_now()) / 1000, 0.0)
            self._freeze(underlying, seconds)
            log.warning(
                "market-maker protection triggered on %s after %s contracts: backing off %.1f s",
                underlying,
                message.get("traded_quantity"),
                seconds,
            )
        for symbol, instrument in self.instruments.items():
            if self.underlying(instrument) == underlying:
                self.quotes.pop(symbol, None)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def replace_struct(instrument: m.Instrument, **changes: Any) -> m.Instrument:
    return msgspec.structs.replace(instrument, **changes)


# -- ENTRY POINTS --------------------------------------------------------------------------------


async def run_bot(
    client_or_url: CapexClient | str,
    config: BotConfig | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    api_key: tuple[str, str] | None = None,
    stop_event: asyncio.Event | None = None,
    **options: Any,
) -> BotStats:
    """Run the market maker until `stop_event` is set (or `duration` passes); returns its stats.

    `client_or_url`: a logged-in CapexClient, or the server's base URL (then log in with
    `username`/`password`, or use `token` or `api_key`). `options` override fields of `config`
    (e.g. `symbols=[...]`, `spread_ticks=3`, `interval=0.5`)."""
    config = config or BotConfig()
    if options:
        known = {f.name for f in fields(BotConfig)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown bot options: {', '.join(sorted(unknown))}")
        if options.get("symbols") is not None:
            options["symbols"] = tuple(options["symbols"])
        config = replace(config, **options)
    if isinstance(client_or_url, CapexClient):
        return await MarketMaker(client_or_url, config).run(stop_event)
    async with CapexClient(client_or_url, token=token, api_key=api_key) as client:
        if username is not None:
            if password is None:
                raise ValueError("a username needs a password")
            await client.login(username, password)
        return await MarketMaker(client, config).run(stop_event)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = BotConfig()
    parser = argparse.ArgumentParser(
        prog="python -m clients.python.mm_bot",
        description="Keep two-sided quotes on the exchange's instruments (docs/sdk.md).",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--username", help="log in with this username (with --password)")
    parser.add_argument(
        "--password",
        default=os.environ.get("CAPEX_PASSWORD"),
        help="or the CAPEX_PASSWORD environment variable",
    )
    parser.add_argument(
        "--api-key", help="sign with this API key id instead of logging in (with --api-secret)"
    )
    parser.add_argument(
        "--api-secret", default=os.environ.get("CAPEX_API_SECRET"), help="or CAPEX_API_SECRET"
    )
    parser.add_argument("--symbols", nargs="+", help="quote these (default: every trading instrument)")
    parser.add_argument(
        "--spread-ticks", type=int, default=defaults.spread_ticks, help="ticks from fair value per side"
    )
    parser.add_argument("--size", type=int, default=defaults.size, help="contracts per side")
    parser.add_argument("--interval", type=float, default=defaults.interval, help="seconds between cycles")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--max-instruments", type=int, default=defaults.max_instruments)
    parser.add_argument("--default-price", type=int, default=defaults.default_price, help="fen per contract")
    parser.add_argument("--order-type", choices=("post_only", "limit"), default=defaults.order_type)
    parser.add_argument("--fat-finger-percent", type=int, default=defaults.fat_finger_percent)
    parser.add_argument("--fat-finger-min-ticks", type=int, default=defaults.fat_finger_min_ticks)
    parser.add_argument(
        "--mmp-quantity", type=int, default=defaults.mmp_quantity, help="contracts; 0: server default"
    )
    parser.add_argument("--mmp-interval-ms", type=int, default=defaults.mmp_interval_ms)
    parser.add_argument("--mmp-frozen-ms", type=int, default=defaults.mmp_frozen_ms)
    parser.add_argument("--refusal-backoff", type=float, default=defaults.refusal_backoff, help="seconds")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.api_key is None and (args.username is None or args.password is None):
        parser.error("give --username and --password (or CAPEX_PASSWORD), or --api-key and --api-secret")
    if args.api_key is not None and args.api_secret is None:
        parser.error("--api-key needs --api-secret (or CAPEX_API_SECRET)")
    if args.spread_ticks < 1 or args.size < 1 or args.interval <= 0:
        parser.error("--spread-ticks and --size are at least 1, --interval is positive")
    return args


def config_from_args(args: argparse.Namespace) -> BotConfig:
    return BotConfig(
        symbols=tuple(args.symbols) if args.symbols else None,
        spread_ticks=args.spread_ticks,
        size=args.size,
        interval=args.interval,
        duration=args.duration,
        max_instruments=args.max_instruments,
        default_price=args.default_price,
        order_type=args.order_type,
        fat_finger_percent=args.fat_finger_percent,
        fat_finger_min_ticks=args.fat_finger_min_ticks,
        mmp_quantity=args.mmp_quantity,
        mmp_interval_ms=args.mmp_interval_ms,
        mmp_frozen_ms=args.mmp_frozen_ms,
        refusal_backoff=args.refusal_backoff,
    )


async def _main(args: argparse.Namespace) -> int:
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_event.set)
    api_key = (args.api_key, args.api_secret) if args.api_key else None
    try:
        stats = await run_bot(
            args.url,
            config_from_args(args),
            username=None if api_key else args.username,
            password=args.password,
            api_key=api_key,
            stop_event=stop_event,
        )
    except CapexError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot reach %s: %s", args.url, exc)
        return 1
    print(msgspec.json.encode(stats.summary()).decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
