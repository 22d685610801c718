"""The market-data hub of one API process: book state built from the gateway's events, and the
fan-out of every channel to the connections (docs/market-data.md).

    Gateway.subscribe() --EventBatch(seq, events), gapless--> MarketDataHub._run
        keeps every book's levels and last book_seq, tickers, instruments
        builds one message per channel and batch, encoded once
        --> Session.push (onto each connection's bounded outbox; never awaits a client)

One hub per process, started by `api.ws.start(app)`. It processes batches strictly in journal
order. A batch whose seq is not the next one means batches were lost upstream (scale-out: Redis
pub/sub drops messages): the hub reloads every book from `gateway.book_views()` (all taken at one
journal seq), sends a fresh snapshot for every book whose levels moved, and skips the batches that
view already contains. Book messages are numbered with the engine's book sequence, so a client can
combine them with a REST depth snapshot taken at any journal seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import msgspec
from sortedcontainers import SortedDict

from api.gateway import BookView, EventBatch, Gateway, GatewayUnavailable, now_ms
from api.ws import channels as ch
from api.ws.protocol import CHECKSUM_LEVELS, UNKNOWN_INSTRUMENT, WsError, book_checksum, encode
from exchange.events import (
    BalanceChanged,
    BookingChanged,
    BookLevelChanged,
    IndexPricePublished,
    InstrumentListed,
    InstrumentStatusChanged,
    OrderChanged,
    PositionChanged,
    SettlementPriceSet,
    TradeExecuted,
)

if TYPE_CHECKING:
    from api.ws.protection import MarketMakerProtection
    from api.ws.sessions import Session

log = logging.getLogger(__name__)

FULL_DEPTH = 1_000_000  # levels per side asked of book_views: the hub keeps whole books
VOLUME_WINDOW_MS = 24 * 3600 * 1000
INSTRUMENT_WAIT_SECONDS = 2.0
LOAD_RETRY_SECONDS = 1.0  # how long a subscribe waits for the hub to see a just-listed symbol


class BookState:
    """One book's aggregated levels: price -> (quantity, order_count); `last_seq` is the book
    sequence of the last book message this hub built for it."""

    __slots__ = ("symbol", "bids", "asks", "last_seq")

    def __init__(self, symbol: str, last_seq: int = 0) -> None:
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.last_seq = last_seq

    @classmethod
    def from_view(cls, view: BookView) -> BookState:
        book = cls(view.symbol, view.book_seq)
        for price, quantity, count in view.bids:
            book.bids[price] = (quantity, count)
        for price, quantity, count in view.asks:
            book.asks[price] = (quantity, count)
        return book

    def set_level(self, side: str, price: int, quantity: int, count: int) -> None:
        levels = self.bids if side == "buy" else self.asks
        if quantity == 0:
            levels.pop(price, None)
        else:
            levels[price] = (quantity, count)

    def same_levels(self, other: BookState) -> bool:
        return dict(self.bids) == dict(other.bids) and dict(self.asks) == dict(other.asks)

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        price, (quantity, _count) = self.bids.peekitem(-1)
        return price, quantity

    def best_ask(self) -> tuple[int, int] | None:
        if not self.asks:
            return None
        price, (quantity, _count) = self.asks.peekitem(0)
        return price, quantity

    def checksum(self) -> int:
        asks = self.asks
        bids = self.bids
        return book_checksum(
            ((p, asks[p][0]) for p in islice(asks, CHECKSUM_LEVELS)),
            ((p, bids[p][0]) for p in islice(reversed(bids), CHECKSUM_LEVELS)),
        )

    def snapshot_message(self) -> dict[str, Any]:
        bids = self.bids
        asks = self.asks
        return {
            "channel": ch.BOOK,
            "type": "snapshot",
            "symbol": self.symbol,
            "first_seq": self.last_seq,
            "last_seq": self.last_seq,
            "prev_seq": None,
            "bids": [[p, *bids[p]] for p in reversed(bids)],
            "asks": [[p, *asks[p]] for p in asks],
            "checksum": self.checksum(),
        }


@dataclass
class InstrumentInfo:
    symbol: str
    kind: str
    status: str
    underlying: str
    terms: dict[str, Any]
    listing: dict[str, Any]  # the fields of the `listed` message

    @property
    def index(self) -> str | None:
        return self.terms.get("index") if self.kind == "MAT" else None

    def settlement_window_runs(self, at: int) -> bool:
        return (
            self.kind == "MAT"
            and self.status not in ("settled",)
            and self.terms.get("settlement_window_start", at + 1) <= at < self.listing["expiry"]
        )


@dataclass
class TickerState:
    last_price: int | None = None
    last_quantity: int = 0
    volume: deque = field(default_factory=deque)  # (executed_at, quantity) of the last 24 h
    volume_total: int = 0
    sent: tuple | None = None

    def add_trade(self, executed_at: int, price: int, quantity: int) -> None:
        self.last_price = price
        self.last_quantity = quantity
        self.volume.append((executed_at, quantity))
        self.volume_total += quantity

    def volume_since(self, cutoff: int) -> int:
        volume = self.volume
        while volume and volume[0][0] < cutoff:
            self.volume_total -= volume.popleft()[1]
        return self.volume_total


def underlying_of(kind: str, terms: dict[str, Any], instruments: dict[str, InstrumentInfo]) -> str:
    """What market-maker protection groups by: the process of a CAP, the material of a MAT, the
    give leg's process of a SWP."""
    if kind == "CAP":
        return str(terms.get("process", ""))
    if kind == "MAT":
        return str(terms.get("material", ""))
    give = instruments.get(str(terms.get("give_symbol", "")))
    return give.underlying if give is not None else ""


class MarketDataHub:
    """Book state and channel fan-out of one process. All methods run on the event loop; the
    fan-out methods are synchronous, so a batch is fanned out as one step."""

    def __init__(self, gateway: Gateway, settings: Any, db_engine: Any = None) -> None:
        self.gateway = gateway
        self.settings = settings
        self.db_engine = db_engine
        self.protection: MarketMakerProtection | None = None
        self.books: dict[str, BookState] = {}
        self.instruments: dict[str, InstrumentInfo] = {}
        self.tickers: dict[str, TickerState] = {}
        self.journal_seq = 0
        self.loaded = False  # books and instruments loaded from the sequencer at least once
        self.gaps = 0  # upstream gaps resynced (for tests and metrics)
        # -- connections and their subscriptions --
        self.sessions: set[Session] = set()
        self.by_account: dict[int, set[Session]] = {}
        self.book_subs: dict[str, set[Session]] = {}
        self.trade_subs: dict[str | None, set[Session]] = {}
        self.ticker_subs: dict[str | None, set[Session]] = {}
        self.instrument_subs: set[Session] = set()
        self.index_subs: set[Session] = set()
        # -- tasks --
        self._queue: asyncio.Queue[EventBatch] | None = None
        self._index_jobs: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._seen: asyncio.Event = asyncio.Event()  # set after every processed batch
        self._resync_lock = asyncio.Lock()

    # -- LIFECYCLE --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._queue = self.gateway.subscribe()
        loop = asyncio.get_running_loop()
        try:
            await self._load()
        except GatewayUnavailable as exc:
            # Scale-out: a worker starts while Redis or the sequencer is down. Market data loads
            # once it is back; until then books are empty and batches wait in the queue.
            log.warning("market data: sequencer unreachable at start (%s); loading later", exc)
            self._tasks.append(loop.create_task(self._load_when_reachable(), name="market-data-load"))
        self._tasks += [
            loop.create_task(self._run(), name="market-data"),
            loop.create_task(self._heartbeats(), name="ws-heartbeats"),
            loop.create_task(self._index_worker(), name="index-prices"),
        ]

    async def _load(self) -> None:
        journal_seq, views = await self._load_views()
        self.books = {view.symbol: BookState.from_view(view) for view in views}
        self.journal_seq = journal_seq
        await self._load_instruments()
        await self._seed_trades(journal_seq)
        for symbol in self.books:
            self.tickers.setdefault(symbol, TickerState())
        self.loaded = True

    async def _load_when_reachable(self) -> None:
        while not self.loaded:
            await asyncio.sleep(LOAD_RETRY_SECONDS)
            if self.loaded:
                return
            try:
                await self.resync_all(self.journal_seq + 1, self.journal_seq)
            except GatewayUnavailable:
                continue
            except Exception:  # keep trying: market data without books is no market data
                log.exception("market data: loading failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._queue is not None:
            self.gateway.unsubscribe(self._queue)
            self._queue = None

    async def _load_views(self) -> tuple[int, list[BookView]]:
        """(journal seq, every book at that seq). Without any book the views carry no seq: ask for
        it, then look again, so a book listed in between is not missed."""
        views = await self.gateway.book_views(None, FULL_DEPTH)
        if views:
            return views[0].journal_seq, views
        journal_seq = int(await self.gateway.query("last_seq"))
        views = await self.gateway.book_views(None, FULL_DEPTH)
        return (views[0].journal_seq if views else journal_seq), views

    async def _load_instruments(self) -> tuple[list[InstrumentInfo], list[InstrumentInfo]]:
        """Instrument terms and statuses from the sequencer; returns (new instruments, instruments
        whose status changed), which the instruments channel tells after a gap."""
        new: list[str] = []
        changed: list[str] = []
        rows = await self.gateway.query("instruments")
        # CAP legs first, so that a swap finds its give leg's process
        for row in sorted(rows, key=lambda r: r["kind"] == "SWP"):
            terms = dict(row["terms"])
            info = self.instruments.get(row["symbol"])
            if info is None:
                new.append(row["symbol"])
            elif info.status != row["status"]:
                changed.append(row["symbol"])
            listing = {
                key: row[key] for key in ("tick", "lot", "min_price", "max_price", "trading_start", "expiry")
            }
            self.instruments[row["symbol"]] = InstrumentInfo(
                symbol=row["symbol"],
                kind=row["kind"],
                status=row["status"],
                underlying=underlying_of(row["kind"], terms, self.instruments),
                terms=terms,
                listing=listing,
            )
            self.books.setdefault(row["symbol"], BookState(row["symbol"]))
            self.tickers.setdefault(row["symbol"], TickerState())
        return [self.instruments[s] for s in new], [self.instruments[s] for s in changed]

    async def _seed_trades(self, journal_seq: int) -> None:
        """Last trade and 24-hour volume per instrument, from the trades projection (up to the
        journal seq the books were loaded at, so no trade is counted twice)."""
        if self.db_engine is None:
            return
        cutoff = now_ms() - VOLUME_WINDOW_MS
        try:
            rows = await asyncio.to_thread(_recent_trades, self.db_engine, journal_seq, cutoff)
        except Exception:  # the read side may not be migrated yet (scale-out start-up): no history
            log.warning("market data: no trade history for tickers", exc_info=True)
            return
        for symbol, price, quantity, executed_at in rows:
            ticker = self.tickers.setdefault(symbol, TickerState())
            if executed_at >= cutoff:
                ticker.add_trade(executed_at, price, quantity)
            else:
                ticker.last_price, ticker.last_quantity = price, quantity

    # -- THE EVENT LOOP OF MARKET DATA ------------------------------------------------------------

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            batch = await queue.get()
            try:
                await self._take(batch)
                while not queue.empty():
                    await self._take(queue.get_nowait())
            except asyncio.CancelledError:
                raise
            except GatewayUnavailable as exc:  # a resync could not load: the next batch retries
                log.warning("market data: sequencer unreachable for a resync (%s)", exc)
            except Exception:  # a bug here must not stop market data for every connection
                log.exception("market data: batch %s failed", batch.seq)
            self._seen.set()
            self._seen = asyncio.Event()

    async def _take(self, batch: EventBatch) -> None:
        if not self.loaded:
            await self.resync_all(self.journal_seq + 1, batch.seq - 1)
            return  # the first load contains this batch
        if batch.seq <= self.journal_seq:
            return  # already contained in the books (loaded or resynced at a later journal seq)
        if batch.seq != self.journal_seq + 1:
            await self.resync_all(self.journal_seq + 1, batch.seq - 1)
            return  # this batch is at or before the resync's journal seq
        self.apply(batch)

    def apply(self, batch: EventBatch) -> None:
        """Fan out one journaled command's events (the next in journal order)."""
        self.journal_seq = batch.seq
        levels: dict[str, list[BookLevelChanged]] = {}
        trades: list[TradeExecuted] = []
        for event in batch.events:
            kind = type(event)
            if kind is BookLevelChanged:
                levels.setdefault(event.symbol, []).append(event)
            elif kind is TradeExecuted:
                trades.append(event)
                self._private_fill(event)
            elif kind is OrderChanged:
                self._private(event.account_id, ch.ORDERS, "order", event, ("account_id",))
            elif kind is BalanceChanged:
                self._private(event.account_id, ch.BALANCES, "balance", event, ("account_id",))
            elif kind is PositionChanged:
                self._private(event.account_id, ch.POSITIONS, "position", event, ("account_id",))
            elif kind is BookingChanged:
                self._private(event.creator_id, ch.BOOKINGS, "booking", event, ())
                if event.supplier_id != event.creator_id:
                    self._private(event.supplier_id, ch.BOOKINGS, "booking", event, ())
            elif kind is InstrumentListed:
                self._listed(event)
            elif kind is InstrumentStatusChanged:
                self._status(event.symbol, event.status)
            elif kind is IndexPricePublished or kind is SettlementPriceSet:
                self._index_jobs.put_nowait(("event", event))
        touched = set(levels)
        for symbol, changes in levels.items():
            self._book_delta(symbol, changes)
        for trade in trades:
            touched.add(trade.symbol)
            self._trade(trade, batch.seq)
        for symbol in touched:
            self._ticker(symbol)

    # -- BOOKS ------------------------------------------------------------------------------------

    def _book_delta(self, symbol: str, changes: list[BookLevelChanged]) -> None:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = BookState(symbol)
        prev_seq = book.last_seq
        net: dict[tuple[str, int], BookLevelChanged] = {}
        for change in changes:
            book.set_level(change.side, change.price, change.quantity, change.order_count)
            net[(change.side, change.price)] = change  # absolute: the last change of a level wins
        book.last_seq = max(change.book_seq for change in changes)
        subscribers = self.book_subs.get(symbol)
        if not subscribers:
            return
        text = encode(
            {
                "channel": ch.BOOK,
                "type": "delta",
                "symbol": symbol,
                "first_seq": min(change.book_seq for change in changes),
                "last_seq": book.last_seq,
                "prev_seq": prev_seq,
                "bids": [[c.price, c.quantity, c.order_count] for c in net.values() if c.side == "buy"],
                "asks": [[c.price, c.quantity, c.order_count] for c in net.values() if c.side != "buy"],
                "checksum": book.checksum(),
            }
        )
        _fan_out(subscribers, text)

    def send_snapshot(self, session: Session, symbol: str) -> int:
        book = self.books[symbol]
        session.push(encode(book.snapshot_message()))
        return book.last_seq

    async def resync_all(self, missed_from: int, missed_to: int) -> None:
        """Batches missed_from..missed_to were lost upstream (or nothing is loaded yet): reload
        every book and instrument."""
        async with self._resync_lock:
            if missed_from <= self.journal_seq and self.loaded:
                return  # another resync already covered it
            await self._resync(missed_from, missed_to)

    async def _resync(self, missed_from: int, missed_to: int) -> None:
        journal_seq, views = await self._load_views()
        if self.loaded:
            self.gaps += 1
            log.warning("market data: journal seqs %s..%s lost upstream; resynced", missed_from, missed_to)
        for view in views:
            fresh = BookState.from_view(view)
            book = self.books.get(view.symbol)
            if book is not None and book.same_levels(fresh):
                continue  # nothing moved: its delta chain goes on unbroken
            self.books[view.symbol] = fresh
            subscribers = self.book_subs.get(view.symbol)
            if subscribers:
                _fan_out(subscribers, encode(fresh.snapshot_message()))
            self._ticker(view.symbol)
        self.journal_seq = max(self.journal_seq, journal_seq)
        listed, changed = await self._load_instruments()
        for info in listed:
            self._publish_listed(info)
        for info in changed:
            self._publish_status(info)
        if self.loaded:
            _fan_out(self.sessions, encode({"type": "gap", "from_seq": missed_from, "to_seq": missed_to}))
        else:
            await self._seed_trades(journal_seq)
            self.loaded = True

    # -- TRADES AND TICKERS -----------------------------------------------------------------------

    def _trade(self, trade: TradeExecuted, journal_seq: int) -> None:
        ticker = self.tickers.setdefault(trade.symbol, TickerState())
        ticker.add_trade(trade.executed_at, trade.price, trade.quantity)
        if self.protection is not None:
            self.protection.on_trade(trade, self.underlying(trade.symbol))
        recipients = _union(self.trade_subs.get(None), self.trade_subs.get(trade.symbol))
        if recipients:
            text = encode(
                {
                    "channel": ch.TRADES,
                    "type": "trade",
                    "symbol": trade.symbol,
                    "trade_id": trade.trade_id,
                    "price": trade.price,
                    "quantity": trade.quantity,
                    "taker_side": trade.taker_side,
                    "executed_at": trade.executed_at,
                    "journal_seq": journal_seq,
                }
            )
            _fan_out(recipients, text)

    def ticker_message(self, symbol: str) -> dict[str, Any]:
        book = self.books.get(symbol) or BookState(symbol)
        ticker = self.tickers.setdefault(symbol, TickerState())
        now = now_ms()
        bid = book.best_bid()
        ask = book.best_ask()
        return {
            "channel": ch.TICKER,
            "type": "ticker",
            "symbol": symbol,
            "best_bid": bid[0] if bid else None,
            "best_bid_quantity": bid[1] if bid else 0,
            "best_ask": ask[0] if ask else None,
            "best_ask_quantity": ask[1] if ask else 0,
            "last_price": ticker.last_price,
            "last_quantity": ticker.last_quantity,
            "volume_24h": ticker.volume_since(now - VOLUME_WINDOW_MS),
            "server_time": now,
        }

    def _ticker(self, symbol: str) -> None:
        """Send the ticker if it changed since the last one sent. Without subscribers nothing is
        computed and nothing remembered (a new subscriber gets the current ticker anyway)."""
        ticker = self.tickers.setdefault(symbol, TickerState())
        recipients = _union(self.ticker_subs.get(None), self.ticker_subs.get(symbol))
        if not recipients:
            ticker.sent = None
            return
        message = self.ticker_message(symbol)
        state = _ticker_state(message)
        if state == ticker.sent:
            return
        ticker.sent = state
        _fan_out(recipients, encode(message))

    # -- INSTRUMENTS ------------------------------------------------------------------------------

    def underlying(self, symbol: str) -> str | None:
        info = self.instruments.get(symbol)
        return info.underlying if info is not None else None

    def symbols_of(self, underlying: str) -> list[str]:
        return sorted(s for s, info in self.instruments.items() if info.underlying == underlying)

    def _listed(self, event: InstrumentListed) -> None:
        terms = msgspec.json.decode(event.terms_json)
        listing = {
            "tick": event.tick,
            "lot": event.lot,
            "min_price": event.min_price,
            "max_price": event.max_price,
            "trading_start": event.trading_start,
            "expiry": event.expiry,
        }
        info = InstrumentInfo(
            symbol=event.symbol,
            kind=event.kind,
            status=event.status,
            underlying=underlying_of(event.kind, terms, self.instruments),
            terms=terms,
            listing=listing,
        )
        self.instruments[event.symbol] = info
        self.books.setdefault(event.symbol, BookState(event.symbol))
        self.tickers.setdefault(event.symbol, TickerState())
        self._publish_listed(info)

    def _publish_listed(self, info: InstrumentInfo) -> None:
        if self.instrument_subs:
            message = {"channel": ch.INSTRUMENTS, "type": "listed", **self._instrument_row(info)}
            message.update(info.listing, terms=info.terms)
            _fan_out(self.instrument_subs, encode(message))

    def _status(self, symbol: str, status: str) -> None:
        info = self.instruments.get(symbol)
        if info is None:
            return
        info.status = status
        self._publish_status(info)

    def _publish_status(self, info: InstrumentInfo) -> None:
        if self.instrument_subs:
            message = {
                "channel": ch.INSTRUMENTS,
                "type": "status",
                "symbol": info.symbol,
                "status": info.status,
            }
            _fan_out(self.instrument_subs, encode(message))

    @staticmethod
    def _instrument_row(info: InstrumentInfo) -> dict[str, Any]:
        return {
            "symbol": info.symbol,
            "kind": info.kind,
            "status": info.status,
            "underlying": info.underlying,
        }

    async def known_symbol(self, symbol: str) -> None:
        """Returns once the hub knows `symbol`; UNKNOWN_INSTRUMENT if the sequencer does not list
        it. A symbol listed a moment ago may still be in the hub's queue: wait for it, briefly."""
        if symbol in self.instruments:
            return
        if await self.gateway.query("instrument", symbol) is None:
            raise WsError(UNKNOWN_INSTRUMENT, f"no instrument {symbol!r}")
        deadline = asyncio.get_running_loop().time() + INSTRUMENT_WAIT_SECONDS
        while symbol not in self.instruments:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise WsError(UNKNOWN_INSTRUMENT, f"market data does not know {symbol!r} yet; retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._seen.wait(), remaining)

    # -- INDEX PRICES -----------------------------------------------------------------------------

    async def _index_worker(self) -> None:
        """Index messages need a sequencer query (estimated settlement prices): one worker keeps
        them in order without ever holding up the books."""
        while True:
            job, subject = await self._index_jobs.get()
            try:
                if job == "initial":
                    await self._index_initial(subject)
                elif isinstance(subject, SettlementPriceSet):
                    if self.index_subs:
                        message = {
                            "channel": ch.INDEX,
                            "type": "settlement_price",
                            "symbol": subject.symbol,
                            "price": subject.price,
                        }
                        _fan_out(self.index_subs, encode(message))
                elif self.index_subs:
                    message = await self._index_message(subject.index, subject.price, subject.published_at)
                    _fan_out(self.index_subs, encode(message))
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed query (sequencer unreachable) loses one index message
                log.warning("market data: index message failed", exc_info=True)

    async def _index_message(self, index: str, price: int, published_at: int) -> dict[str, Any]:
        estimates = []
        for info in sorted(self.instruments.values(), key=lambda i: i.symbol):
            if info.index == index and info.settlement_window_runs(published_at):
                estimate = await self.gateway.query("estimated_settlement_price", info.symbol)
                if estimate is not None:
                    estimates.append({"symbol": info.symbol, "price": estimate})
        return {
            "channel": ch.INDEX,
            "type": "index_price",
            "index": index,
            "price": price,
            "published_at": published_at,
            "estimated_settlement": estimates,
        }

    async def _index_initial(self, session: Session) -> None:
        indexes = sorted({info.index for info in self.instruments.values() if info.index})
        for index in indexes:
            points = await self.gateway.query("index_prices", index)
            if points:
                published_at, price = points[-1]
                session.push(encode(await self._index_message(index, price, published_at)))

    # -- PRIVATE CHANNELS -------------------------------------------------------------------------

    def _private(self, account_id: int, channel: str, kind: str, event: Any, drop: Iterable[str]) -> None:
        sessions = self.by_account.get(account_id)
        if not sessions:
            return
        recipients = [s for s in sessions if channel in s.private]
        if not recipients:
            return
        body = msgspec.structs.asdict(event)
        for name in drop:
            body.pop(name, None)
        _fan_out(recipients, encode({"channel": channel, "type": kind, **body}))

    def _private_fill(self, trade: TradeExecuted) -> None:
        maker_side = "sell" if trade.taker_side == "buy" else "buy"
        for account_id, order_id, side, liquidity, fee in (
            (trade.maker_account_id, trade.maker_order_id, maker_side, "maker", trade.maker_fee),
            (trade.taker_account_id, trade.taker_order_id, trade.taker_side, "taker", trade.taker_fee),
        ):
            sessions = self.by_account.get(account_id)
            recipients = [s for s in sessions if ch.FILLS in s.private] if sessions else None
            if recipients:
                message = {
                    "channel": ch.FILLS,
                    "type": "fill",
                    "trade_id": trade.trade_id,
                    "symbol": trade.symbol,
                    "order_id": order_id,
                    "side": side,
                    "liquidity": liquidity,
                    "price": trade.price,
                    "quantity": trade.quantity,
                    "fee": fee,
                    "executed_at": trade.executed_at,
                }
                _fan_out(recipients, encode(message))

    # -- SUBSCRIPTIONS ----------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions.add(session)

    def authenticated(self, session: Session, account_id: int) -> None:
        self.by_account.setdefault(account_id, set()).add(session)

    def detach(self, session: Session) -> None:
        """The connection is gone (or dropped): it gets nothing more."""
        self.sessions.discard(session)
        if session.account_id is not None:
            sessions = self.by_account.get(session.account_id)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self.by_account[session.account_id]
        for registry in (self.book_subs, self.trade_subs, self.ticker_subs):
            for key in [k for k, subs in registry.items() if session in subs]:
                registry[key].discard(session)
                if not registry[key]:
                    del registry[key]
        self.instrument_subs.discard(session)
        self.index_subs.discard(session)

    def subscribe(self, session: Session, channel: str, symbol: str | None) -> None:
        """Register the subscription and queue its first messages in the same step, so no message
        of the channel is missed or sent twice around the snapshot."""
        if channel == ch.BOOK:
            assert symbol is not None
            self.book_subs.setdefault(symbol, set()).add(session)
            session.books.add(symbol)
            self.send_snapshot(session, symbol)
        elif channel == ch.TRADES:
            self.trade_subs.setdefault(symbol, set()).add(session)
        elif channel == ch.TICKER:
            self.ticker_subs.setdefault(symbol, set()).add(session)
            for name in [symbol] if symbol is not None else sorted(self.instruments):
                message = self.ticker_message(name)
                session.push(encode(message))
                # Every other subscriber has had every change: this is now the last one sent.
                self.tickers[name].sent = _ticker_state(message)
        elif channel == ch.INSTRUMENTS:
            self.instrument_subs.add(session)
            rows = [self._instrument_row(self.instruments[s]) for s in sorted(self.instruments)]
            session.push(encode({"channel": ch.INSTRUMENTS, "type": "snapshot", "instruments": rows}))
        elif channel == ch.INDEX:
            self.index_subs.add(session)
            self._index_jobs.put_nowait(("initial", session))
        else:
            session.private.add(channel)

    def is_subscribed(self, session: Session, channel: str, symbol: str | None) -> bool:
        if channel == ch.BOOK:
            return session in self.book_subs.get(symbol or "", ())
        if channel == ch.TRADES:
            return session in self.trade_subs.get(symbol, ())
        if channel == ch.TICKER:
            return session in self.ticker_subs.get(symbol, ())
        if channel == ch.INSTRUMENTS:
            return session in self.instrument_subs
        if channel == ch.INDEX:
            return session in self.index_subs
        return channel in session.private

    def unsubscribe(self, session: Session, channel: str, symbol: str | None) -> None:
        if channel == ch.BOOK:
            _discard(self.book_subs, symbol, session)
            session.books.discard(symbol or "")
        elif channel == ch.TRADES:
            _discard(self.trade_subs, symbol, session)
        elif channel == ch.TICKER:
            _discard(self.ticker_subs, symbol, session)
        elif channel == ch.INSTRUMENTS:
            self.instrument_subs.discard(session)
        elif channel == ch.INDEX:
            self.index_subs.discard(session)
        else:
            session.private.discard(channel)

    # -- HEARTBEATS -------------------------------------------------------------------------------

    def heartbeat_message(self, session: Session) -> str:
        books = {symbol: self.books[symbol].last_seq for symbol in sorted(session.books)}
        return encode(
            {"type": "heartbeat", "server_time": now_ms(), "journal_seq": self.journal_seq, "books": books}
        )

    async def _heartbeats(self) -> None:
        """One task for every connection: a heartbeat each interval, and the idle timeout."""
        interval = self.settings.ws_heartbeat_seconds
        idle_limit = self.settings.ws_idle_timeout_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            bookless: str | None = None  # one text for every connection without a book
            for session in list(self.sessions):
                if now - session.last_received > idle_limit:
                    session.idle_timeout()
                elif session.books:
                    session.push(self.heartbeat_message(session))
                else:
                    if bookless is None:
                        bookless = self.heartbeat_message(session)
                    session.push(bookless)


def _ticker_state(message: dict[str, Any]) -> tuple:
    return tuple(message[k] for k in _TICKER_FIELDS)


_TICKER_FIELDS = (
    "best_bid",
    "best_bid_quantity",
    "best_ask",
    "best_ask_quantity",
    "last_price",
    "last_quantity",
    "volume_24h",
)


def _fan_out(sessions: Iterable[Session], text: str) -> None:
    for session in list(sessions):
        session.push(text)


def _union(a: set[Session] | None, b: set[Session] | None) -> set[Session]:
    if not a:
        return b or set()
    if not b:
        return a
    return a | b


def _discard(registry: dict[Any, set[Session]], key: Any, session: Session) -> None:
    subs = registry.get(key)
    if subs is not None:
        subs.discard(session)
        if not subs:
            del registry[key]


def _recent_trades(engine: Any, journal_seq: int, cutoff: int) -> list[tuple[str, int, int, int]]:
    """(symbol, price, quantity, executed_at) of the trades up to `journal_seq` executed at or
    after `cutoff`, plus each instrument's last trade before it, oldest first."""
    from sqlalchemy import func
    from sqlmodel import Session as DbSession
    from sqlmodel import select

    from exchange.store.tables import Trade

    with DbSession(engine) as db:
        recent = db.exec(
            select(Trade.symbol, Trade.price, Trade.quantity, Trade.executed_at)
            .where(Trade.seq <= journal_seq, Trade.executed_at >= cutoff)
            .order_by(Trade.trade_id)
        ).all()
        last_ids = (
            select(func.max(Trade.trade_id))
            .where(Trade.seq <= journal_seq, Trade.executed_at < cutoff)
            .group_by(Trade.symbol)
        )
        older = db.exec(
            select(Trade.symbol, Trade.price, Trade.quantity, Trade.executed_at)
            .where(Trade.trade_id.in_(last_ids))  # type: ignore[attr-defined]
            .order_by(Trade.trade_id)
        ).all()
    return [tuple(row) for row in (*older, *recent)]  # type: ignore[misc]
