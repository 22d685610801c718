"""Rate limits and request nonces in Redis, shared by every API worker (api.rate_limit's interfaces).

- `RedisRateLimiter`: the same GCRA as `api.rate_limit.gcra`, run as one Lua script, so the read,
  the decision and the write are atomic across workers. Time is Redis' own clock (`TIME`), so the
  workers' clocks do not matter. The bucket key keeps the theoretical arrival time (TAT, in
  microseconds) and expires when the bucket would be full again.
- `RedisNonceStore`: `SET key 1 NX PX ttl`: the first claim of a nonce wins on every worker.

Redis down: the rate limiter falls back to a per-process in-memory limiter for a second at a time
(limits still hold per worker; refusing every request because the counter store is down would turn
a Redis outage into a full outage of reads). The nonce store fails closed: without it a replayed
request cannot be told from a fresh one, so it answers 503 UNAVAILABLE.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.config import ApiSettings
from api.errors import ApiError
from api.rate_limit import MemoryRateLimiter, NonceStore, RateLimiter
from api.redis_gateway import DEFAULT_REDIS_URL, redis_client

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5  # a limit check must not hold a request for long
FALLBACK_SECONDS = 1.0

# KEYS[1] bucket; ARGV: interval (us per request), tolerance (us: interval * burst), cost.
# Returns -1 when allowed (and counted), else the microseconds to wait (>= 1; not counted).
_GCRA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now then
    return math.max(1, math.ceil(allow_at - now))
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return -1
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, settings: ApiSettings) -> None:
        self.prefix = f"{settings.redis_prefix}:rate:"
        self._redis: Redis = redis_client(settings.redis_url or DEFAULT_REDIS_URL, REDIS_TIMEOUT_SECONDS)
        self._script = self._redis.register_script(_GCRA)
        self._fallback = MemoryRateLimiter()
        self._fallback_until = 0.0

    async def allow(self, bucket: str, rate: float, burst: int, cost: int = 1) -> float | None:
        if time.monotonic() < self._fallback_until:
            return await self._fallback.allow(bucket, rate, burst, cost)
        interval = 1_000_000.0 / rate
        try:
            waited = await self._script(keys=[self.prefix + bucket], args=[interval, interval * burst, cost])
        except (RedisError, OSError) as exc:
            log.warning(
                "rate limits: Redis unreachable (%s); limiting per worker for %.0f s", exc, FALLBACK_SECONDS
            )
            self._fallback_until = time.monotonic() + FALLBACK_SECONDS
            return await self._fallback.allow(bucket, rate, burst, cost)
        waited = int(waited)
        return None if waited < 0 else waited / 1_000_000

    async def close(self) -> None:
        await self._redis.aclose()


class RedisNonceStore(NonceStore):
    def __init__(self, settings: ApiSettings) -> None:
        self.prefix = f"{settings.redis_prefix}:nonce:"
        self._redis: Redis = redis_client(settings.redis_url or DEFAULT_REDIS_URL, REDIS_TIMEOUT_SECONDS)

    async def claim(self, key: str, ttl_ms: int) -> bool:
        try:
            return bool(await self._redis.set(self.prefix + key, b"1", nx=True, px=max(1, ttl_ms)))
        except (RedisError, OSError) as exc:
            raise ApiError(
                503, "UNAVAILABLE", f"signed requests cannot be checked for replay now (Redis: {exc})"
            ) from exc

    async def close(self) -> None:
        await self._redis.aclose()
