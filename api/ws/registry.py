"""Who subscribed to what: one `SubscriberRegistry` per channel (and one of the authenticated
connections by account), and the fan-out over its subscribers.

A key is a symbol (book, trades, ticker; None: every symbol for trades and ticker, the only key of
instruments and index) or an account id (private channels, authenticated connections).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from api.ws.interfaces import Subscriber

K = TypeVar("K", bound=Hashable)


class SubscriberRegistry(Generic[K]):
    """key -> subscribers, and the reverse, so a connection that leaves is removed in O(its own
    keys). Change it only through add / discard / remove; the fan-out reads it with `get`."""

    __slots__ = ("_by_key", "_keys_of", "get")

    get: Callable[[K | None], set[Subscriber] | None]

    def __init__(self) -> None:
        self._by_key: dict[K | None, set[Subscriber]] = {}
        self._keys_of: dict[Subscriber, set[K | None]] = {}
        # The fan-out looks subscribers up for every message: the dict's own get, no call between.
        self.get = self._by_key.get

    def add(self, key: K | None, subscriber: Subscriber) -> None:
        self._by_key.setdefault(key, set()).add(subscriber)
        self._keys_of.setdefault(subscriber, set()).add(key)

    def discard(self, key: K | None, subscriber: Subscriber) -> None:
        keys = self._keys_of.get(subscriber)
        if keys is None or key not in keys:
            return
        keys.discard(key)
        if not keys:
            del self._keys_of[subscriber]
        self._drop(key, subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        """The subscriber leaves every key."""
        for key in self._keys_of.pop(subscriber, ()):
            self._drop(key, subscriber)

    def contains(self, key: K | None, subscriber: Subscriber) -> bool:
        return key in self._keys_of.get(subscriber, ())

    def _drop(self, key: K | None, subscriber: Subscriber) -> None:
        subscribers = self._by_key[key]
        subscribers.discard(subscriber)
        if not subscribers:
            del self._by_key[key]


def fan_out(subscribers: Iterable[Subscriber], text: str) -> None:
    """Queue one encoded message on every subscriber (a copy first: a push may drop a slow
    consumer, which leaves the registry being iterated)."""
    for subscriber in list(subscribers):
        subscriber.push(text)


def union(a: set[Subscriber] | None, b: set[Subscriber] | None) -> set[Subscriber]:
    """The subscribers of a symbol and of every symbol, without a copy when one side is empty."""
    if not a:
        return b or set()
    if not b:
        return a
    return a | b
