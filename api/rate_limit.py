"""Rate limits: GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp).

A bucket allows `rate` requests per second on average with bursts up to `burst`. `allow` answers
None (allowed, counted) or the seconds to wait before the next request would be allowed (refused,
not counted). Two backends with one interface: in memory (one process), and Redis (shared by all
API workers; api.redis_rate_limit), chosen by configuration.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    async def allow(self, bucket: str, rate: float, burst: int, cost: int = 1) -> float | None:
        """None if allowed; else retry-after seconds (> 0)."""

    async def close(self) -> None:
        return None


def gcra(tat: float, now: float, rate: float, burst: int, cost: int) -> tuple[float | None, float]:
    """One GCRA step: (retry_after or None, new theoretical arrival time). Times in seconds."""
    interval = 1.0 / rate
    tolerance = interval * burst
    new_tat = max(tat, now) + interval * cost
    allow_at = new_tat - tolerance
    if allow_at > now:
        return allow_at - now, tat
    return None, new_tat


class MemoryRateLimiter(RateLimiter):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._clock = clock

    async def allow(self, bucket: str, rate: float, burst: int, cost: int = 1) -> float | None:
        now = self._clock()
        retry_after, tat = gcra(self._tat.get(bucket, now), now, rate, burst, cost)
        if retry_after is None:
            self._tat[bucket] = tat
            if len(self._tat) > 100_000:
                # Buckets whose TAT is in the past are full again: forgetting them changes nothing.
                self._tat = {k: v for k, v in self._tat.items() if v > now}
        return retry_after


class NonceStore(abc.ABC):
    """Remembers signed-request nonces for the signature window, so a replay is refused."""

    @abc.abstractmethod
    async def claim(self, key: str, ttl_ms: int) -> bool:
        """True the first time `key` is claimed within ttl_ms; False for a replay."""


class MemoryNonceStore(NonceStore):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: dict[str, float] = {}
        self._clock = clock

    async def claim(self, key: str, ttl_ms: int) -> bool:
        now = self._clock()
        expires = self._seen.get(key)
        if expires is not None and expires > now:
            return False
        self._seen[key] = now + ttl_ms / 1000
        if len(self._seen) > 200_000:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
        return True
