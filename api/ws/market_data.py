"""The market-data hub of one API process: takes the gateway's event batches, updates the state
(books, instruments, tickers) and fans out every channel to its subscribers (docs/market-data.md).

    Gateway.subscribe() --EventBatch(seq, events), gapless--> MarketDataHub._run
        BookState per book (book_state.py), Instruments (instruments.py), TickerState (tickers.py)
        builds one message per channel and batch, encoded once
        --> Subscriber.push (each connection's bounded outbox; never awaits a client)
        --> TradeListener.on_trade (market-maker protection), for every trade

One hub per process, started by `api.ws.start(app)`, which also registers its trade listeners. It
knows connections only as `Subscriber`s (interfaces.py), held in one `SubscriberRegistry` per
channel (registry.py). It processes batches strictly in journal order. A batch whose seq is not
the next one means batches were lost upstream (scale-out: Redis pub/sub drops messages): the hub
reloads every book from `gateway.book_views()` (all taken at one journal seq), sends a fresh
snapshot for every book whose levels moved, and skips the batches that view already contains.
Book messages are numbered with the engine's book sequence, so a client can combine them with a
REST depth snapshot taken at any journal seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec

from api import queries
from api.gateway import BookView, EventBatch, Gateway, GatewayUnavailable, now_ms
from api.ws import channels as ch
from api.ws.book_state import BookState
from api.ws.index_prices import IndexPrices
from api.ws.instruments import InstrumentInfo, Instruments
from api.ws.interfaces import Subscriber, TradeListener
from api.ws.protocol import UNKNOWN_INSTRUMENT, WsError, encode
from api.ws.registry import SubscriberRegistry, fan_out, union
from api.ws.tickers import TickerState, ticker_message, ticker_state
from api.ws.trade_history import seed_tickers
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

log = logging.getLogger(__name__)

FULL_DEPTH = 1_000_000  # levels per side asked of book_views: the hub keeps whole books
INSTRUMENT_WAIT_SECONDS = 2.0  # how long a subscribe waits for the hub to see a just-listed symbol
LOAD_RETRY_SECONDS = 1.0


class MarketDataHub:
    """Book state and channel fan-out of one process. All methods run on the event loop; the
    fan-out methods are synchronous, so a batch is fanned out as one step."""

    def __init__(self, gateway: Gateway, db_engine: Any = None) -> None:
        self.gateway = gateway
        self.db_engine = db_engine  # the trades projection the tickers are seeded from
        # -- state --
        self.books: dict[str, BookState] = {}
        self.instruments = Instruments()
        self.tickers: dict[str, TickerState] = {}
        self.journal_seq = 0  # the last batch processed
        self.loaded = False  # books and instruments loaded from the sequencer at least once
        self.gaps = 0  # upstream gaps resynced (for tests and metrics)
        # -- connections and their subscriptions --
        self.sessions: set[Subscriber] = set()  # every attached connection (gap notices)
        self.accounts: SubscriberRegistry[int] = SubscriberRegistry()  # authenticated, by account
        self.channels: dict[str, SubscriberRegistry[Any]] = {
            name: SubscriberRegistry() for name in ch.CHANNELS
        }
        self._book_subs = self.channels[ch.BOOK]
        self._trade_subs = self.channels[ch.TRADES]
        self._ticker_subs = self.channels[ch.TICKER]
        self._instrument_subs = self.channels[ch.INSTRUMENTS]
        self._trade_listeners: tuple[TradeListener, ...] = ()
        self.index_prices = IndexPrices(gateway, self.instruments, self.channels[ch.INDEX])
        # -- tasks --
        self._queue: asyncio.Queue[EventBatch] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: asyncio.Event = asyncio.Event()  # set after every processed batch
        self._resync_lock = asyncio.Lock()

    def add_trade_listener(self, listener: TradeListener) -> None:
        """`listener.on_trade` is called for every trade from now on, before its fan-out."""
        self._trade_listeners += (listener,)

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
            loop.create_task(self.index_prices.run(), name="index-prices"),
        ]

    async def _load(self) -> None:
        journal_seq, views = await self._load_views()
        self.books = {view.symbol: BookState.from_view(view) for view in views}
        self.journal_seq = journal_seq
        await self._load_instruments()
        await seed_tickers(self.db_engine, journal_seq, self.tickers)
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
        listed, changed = self.instruments.load(await self.gateway.query("instruments"))
        for symbol in self.instruments.symbols():
            self.books.setdefault(symbol, BookState(symbol))
            self.tickers.setdefault(symbol, TickerState())
        return listed, changed

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
            if type(event) is BookLevelChanged:
                levels.setdefault(event.symbol, []).append(event)
            elif type(event) is TradeExecuted:
                trades.append(event)
                self._private_fill(event)
            elif type(event) is OrderChanged:
                self._private(event.account_id, ch.ORDERS, "order", event, ("account_id",))
            elif type(event) is BalanceChanged:
                self._private(event.account_id, ch.BALANCES, "balance", event, ("account_id",))
            elif type(event) is PositionChanged:
                self._private(event.account_id, ch.POSITIONS, "position", event, ("account_id",))
            elif type(event) is BookingChanged:
                self._private(event.creator_id, ch.BOOKINGS, "booking", event, ())
                if event.supplier_id != event.creator_id:
                    self._private(event.supplier_id, ch.BOOKINGS, "booking", event, ())
            elif type(event) is InstrumentListed:
                self._listed(event)
            elif type(event) is InstrumentStatusChanged:
                self._status(event.symbol, event.status)
            elif type(event) is IndexPricePublished or type(event) is SettlementPriceSet:
                self.index_prices.published(event)
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
        subscribers = self._book_subs.get(symbol)
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
        fan_out(subscribers, text)

    def send_snapshot(self, subscriber: Subscriber, symbol: str) -> int:
        """Queue the book's snapshot; returns its last_seq."""
        book = self.books[symbol]
        subscriber.push(encode(book.snapshot_message()))
        return book.last_seq

    def book_seq(self, symbol: str) -> int:
        """The book sequence of the last book message built for `symbol` (a known symbol)."""
        return self.books[symbol].last_seq

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
            subscribers = self._book_subs.get(view.symbol)
            if subscribers:
                fan_out(subscribers, encode(fresh.snapshot_message()))
            self._ticker(view.symbol)
        self.journal_seq = max(self.journal_seq, journal_seq)
        listed, changed = await self._load_instruments()
        for info in listed:
            self._publish_instrument(info.listed_message())
        for info in changed:
            self._publish_instrument(info.status_message())
        if self.loaded:
            fan_out(self.sessions, encode({"type": "gap", "from_seq": missed_from, "to_seq": missed_to}))
        else:
            await seed_tickers(self.db_engine, journal_seq, self.tickers)
            self.loaded = True

    # -- TRADES AND TICKERS -----------------------------------------------------------------------

    def _trade(self, trade: TradeExecuted, journal_seq: int) -> None:
        ticker = self.tickers.setdefault(trade.symbol, TickerState())
        ticker.add_trade(trade.executed_at, trade.price, trade.quantity)
        if self._trade_listeners:
            underlying = self.instruments.underlying(trade.symbol)
            for listener in self._trade_listeners:
                listener.on_trade(trade, underlying)
        recipients = union(self._trade_subs.get(None), self._trade_subs.get(trade.symbol))
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
            fan_out(recipients, text)

    def ticker_message(self, symbol: str) -> dict[str, Any]:
        ticker = self.tickers.setdefault(symbol, TickerState())
        return ticker_message(symbol, self.books.get(symbol), ticker, now_ms())

    def _ticker(self, symbol: str) -> None:
        """Send the ticker if it changed since the last one sent. Without subscribers nothing is
        computed and nothing remembered (a new subscriber gets the current ticker anyway)."""
        ticker = self.tickers.setdefault(symbol, TickerState())
        recipients = union(self._ticker_subs.get(None), self._ticker_subs.get(symbol))
        if not recipients:
            ticker.sent = None
            return
        message = ticker_message(symbol, self.books.get(symbol), ticker, now_ms())
        state = ticker_state(message)
        if state == ticker.sent:
            return
        ticker.sent = state
        fan_out(recipients, encode(message))

    # -- INSTRUMENTS ------------------------------------------------------------------------------

    def underlying(self, symbol: str) -> str | None:
        return self.instruments.underlying(symbol)

    def _listed(self, event: InstrumentListed) -> None:
        info = self.instruments.listed(event)
        self.books.setdefault(event.symbol, BookState(event.symbol))
        self.tickers.setdefault(event.symbol, TickerState())
        self._publish_instrument(info.listed_message())

    def _status(self, symbol: str, status: str) -> None:
        info = self.instruments.set_status(symbol, status)
        if info is not None:
            self._publish_instrument(info.status_message())

    def _publish_instrument(self, message: dict[str, Any]) -> None:
        subscribers = self._instrument_subs.get(None)
        if subscribers:
            fan_out(subscribers, encode(message))

    async def known_symbol(self, symbol: str) -> None:
        """Returns once the hub knows `symbol`; UNKNOWN_INSTRUMENT if the sequencer does not list
        it. A symbol listed a moment ago may still be in the hub's queue: wait for it, briefly."""
        if symbol in self.instruments:
            return
        if await queries.instrument(self.gateway, symbol) is None:
            raise WsError(UNKNOWN_INSTRUMENT, f"no instrument {symbol!r}")
        deadline = asyncio.get_running_loop().time() + INSTRUMENT_WAIT_SECONDS
        while symbol not in self.instruments:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise WsError(UNKNOWN_INSTRUMENT, f"market data does not know {symbol!r} yet; retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._seen.wait(), remaining)

    # -- PRIVATE CHANNELS -------------------------------------------------------------------------

    def _private(self, account_id: int, channel: str, kind: str, event: Any, drop: tuple[str, ...]) -> None:
        recipients = self.channels[channel].get(account_id)
        if not recipients:
            return
        body = msgspec.structs.asdict(event)
        for name in drop:
            body.pop(name, None)
        fan_out(recipients, encode({"channel": channel, "type": kind, **body}))

    def _private_fill(self, trade: TradeExecuted) -> None:
        fills = self.channels[ch.FILLS]
        maker_side = "sell" if trade.taker_side == "buy" else "buy"
        for account_id, order_id, side, liquidity, fee in (
            (trade.maker_account_id, trade.maker_order_id, maker_side, "maker", trade.maker_fee),
            (trade.taker_account_id, trade.taker_order_id, trade.taker_side, "taker", trade.taker_fee),
        ):
            recipients = fills.get(account_id)
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
                fan_out(recipients, encode(message))

    def push_to_account(self, account_id: int, text: str) -> None:
        """Every authenticated connection of the account (AccountNotifier)."""
        subscribers = self.accounts.get(account_id)
        if subscribers:
            fan_out(subscribers, text)

    # -- CONNECTIONS AND SUBSCRIPTIONS ------------------------------------------------------------

    def attach(self, subscriber: Subscriber) -> None:
        self.sessions.add(subscriber)

    def authenticated(self, subscriber: Subscriber, account_id: int) -> None:
        self.accounts.add(account_id, subscriber)

    def detach(self, subscriber: Subscriber) -> None:
        """The connection is gone (or dropped): it gets nothing more."""
        self.sessions.discard(subscriber)
        self.accounts.remove(subscriber)
        for registry in self.channels.values():
            registry.remove(subscriber)

    @staticmethod
    def _key(subscriber: Subscriber, channel: str, symbol: str | None) -> Any:
        """A private channel is keyed by the subscriber's account, any other by symbol (None:
        every symbol, or a channel without symbols)."""
        return subscriber.account_id if channel in ch.PRIVATE else symbol

    def subscribe(self, subscriber: Subscriber, channel: str, symbol: str | None) -> None:
        """Register the subscription and queue its first messages in the same step, so no message
        of the channel is missed or sent twice around the snapshot. `channel` is a name of
        `channels.CHANNELS` whose symbol rule `symbol` fits (channels.channel_for)."""
        key = self._key(subscriber, channel, symbol)
        assert key is not None or channel not in ch.PRIVATE, "a private channel needs auth first"
        self.channels[channel].add(key, subscriber)
        if channel == ch.BOOK:
            assert symbol is not None
            self.send_snapshot(subscriber, symbol)
        elif channel == ch.TICKER:
            for name in [symbol] if symbol is not None else self.instruments.symbols():
                message = self.ticker_message(name)
                subscriber.push(encode(message))
                # Every other subscriber has had every change: this is now the last one sent.
                self.tickers[name].sent = ticker_state(message)
        elif channel == ch.INSTRUMENTS:
            subscriber.push(encode(self.instruments.snapshot_message()))
        elif channel == ch.INDEX:
            self.index_prices.first_messages(subscriber)

    def is_subscribed(self, subscriber: Subscriber, channel: str, symbol: str | None) -> bool:
        return self.channels[channel].contains(self._key(subscriber, channel, symbol), subscriber)

    def unsubscribe(self, subscriber: Subscriber, channel: str, symbol: str | None) -> None:
        self.channels[channel].discard(self._key(subscriber, channel, symbol), subscriber)
