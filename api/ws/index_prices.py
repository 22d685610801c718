"""The index channel: index prices with the estimated settlement prices of the material calls that
settle on them, and settlement prices (docs/market-data.md, "Trades, ticker, instruments, index").

An index message needs sequencer queries (the estimates), so its own worker builds them in order
and the hub never waits for one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.gateway import Gateway
from api.ws import channels as ch
from api.ws.instruments import Instruments
from api.ws.interfaces import Subscriber
from api.ws.protocol import encode
from api.ws.registry import SubscriberRegistry, fan_out
from exchange.events import IndexPricePublished, SettlementPriceSet

log = logging.getLogger(__name__)


class IndexPrices:
    """One queue of jobs, one worker: a new subscriber's first messages, then each event's
    message to every subscriber, in the order they were queued."""

    def __init__(
        self, gateway: Gateway, instruments: Instruments, subscribers: SubscriberRegistry[Any]
    ) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.subscribers = subscribers  # the index channel's registry: one key, None
        self._jobs: asyncio.Queue[Subscriber | IndexPricePublished | SettlementPriceSet] = asyncio.Queue()

    def first_messages(self, subscriber: Subscriber) -> None:
        """One index_price per index of a listed material call that has a price."""
        self._jobs.put_nowait(subscriber)

    def published(self, event: IndexPricePublished | SettlementPriceSet) -> None:
        self._jobs.put_nowait(event)

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                if isinstance(job, SettlementPriceSet):
                    subscribers = self.subscribers.get(None)
                    if subscribers:
                        message = {
                            "channel": ch.INDEX,
                            "type": "settlement_price",
                            "symbol": job.symbol,
                            "price": job.price,
                        }
                        fan_out(subscribers, encode(message))
                elif isinstance(job, IndexPricePublished):
                    if self.subscribers.get(None):
                        text = encode(await self._index_message(job.index, job.price, job.published_at))
                        fan_out(self.subscribers.get(None) or (), text)
                else:
                    await self._first_messages(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed query (sequencer unreachable) loses one index message
                log.warning("market data: index message failed", exc_info=True)

    async def _index_message(self, index: str, price: int, published_at: int) -> dict[str, Any]:
        estimates = []
        for info in self.instruments.settling_on(index, published_at):
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

    async def _first_messages(self, subscriber: Subscriber) -> None:
        for index in self.instruments.indexes():
            points = await self.gateway.query("index_prices", index)
            if points:
                published_at, price = points[-1]
                subscriber.push(encode(await self._index_message(index, price, published_at)))
