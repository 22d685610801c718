"""Rate limits and nonces in Redis (api.redis_rate_limit), shared by workers: two limiter or
nonce-store instances stand for two API worker processes. Real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from api.config import ApiSettings
from api.errors import ApiError
from api.redis_rate_limit import RedisNonceStore, RedisRateLimiter
from tests.api.scaleout.conftest import REDIS_URL, delete_prefix, free_port, require_redis


@pytest.fixture
def settings() -> Iterator[ApiSettings]:
    require_redis()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield ApiSettings(redis_url=REDIS_URL, redis_prefix=prefix)
    delete_prefix(REDIS_URL, prefix)


def run(coroutine_function, *args):
    return asyncio.run(asyncio.wait_for(coroutine_function(*args), 20))


def test_one_bucket_for_every_worker_burst_then_retry_after(settings: ApiSettings) -> None:
    async def scenario() -> None:
        workers = [RedisRateLimiter(settings), RedisRateLimiter(settings)]
        try:
            rate, burst = 10.0, 6
            answers = [await workers[n % 2].allow("key:k1", rate, burst) for n in range(burst)]
            assert answers == [None] * burst, "the burst is allowed, whichever worker counts it"
            refused = [await workers[n % 2].allow("key:k1", rate, burst) for n in range(2)]
            for retry_after in refused:
                assert retry_after is not None and 0 < retry_after <= 1 / rate + 0.02
            # Refusals are not counted: after the wait, exactly one more request fits.
            await asyncio.sleep(max(refused) + 0.01)
            assert await workers[1].allow("key:k1", rate, burst) is None
            assert await workers[0].allow("key:k1", rate, burst) is not None
            # Another bucket is untouched.
            assert await workers[0].allow("key:k2", rate, burst) is None
        finally:
            for worker in workers:
                await worker.close()

    run(scenario)


def test_a_cost_spends_several_tokens_and_the_bucket_key_expires_when_full_again(
    settings: ApiSettings,
) -> None:
    async def scenario() -> None:
        limiter = RedisRateLimiter(settings)
        try:
            assert await limiter.allow("quotes:mm", 100.0, 10, cost=8) is None
            assert await limiter.allow("quotes:mm", 100.0, 10, cost=3) is not None
            assert await limiter.allow("quotes:mm", 100.0, 10, cost=2) is None
            client = redis.Redis.from_url(REDIS_URL)
            try:
                ttl = client.pttl(f"{settings.redis_prefix}:rate:quotes:mm")
            finally:
                client.close()
            # 10 tokens spent at 100/s: full again in about 100 ms, and the key goes with it.
            assert 0 < ttl <= 102
        finally:
            await limiter.close()

    run(scenario)


def test_a_nonce_is_claimed_once_across_workers_until_it_expires(settings: ApiSettings) -> None:
    async def scenario() -> None:
        first, second = RedisNonceStore(settings), RedisNonceStore(settings)
        try:
            assert await first.claim("ak_1:nonce-abc", 300) is True
            assert await second.claim("ak_1:nonce-abc", 300) is False
            assert await first.claim("ak_1:nonce-abc", 300) is False
            assert await second.claim("ak_2:nonce-abc", 300) is True  # per key
            await asyncio.sleep(0.4)
            assert await second.claim("ak_1:nonce-abc", 300) is True
        finally:
            await first.close()
            await second.close()

    run(scenario)


def test_without_redis_limits_hold_per_worker_and_nonces_fail_closed() -> None:
    settings = ApiSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_prefix="nowhere")

    async def scenario() -> None:
        limiter, nonces = RedisRateLimiter(settings), RedisNonceStore(settings)
        try:
            started = time.monotonic()
            answers = [await limiter.allow("ip:10.0.0.1", 1.0, 3) for _ in range(4)]
            assert answers[:3] == [None] * 3 and answers[3] is not None
            with pytest.raises(ApiError) as refused:
                await nonces.claim("ak_1:nonce-xyz", 1_000)
            assert refused.value.status == 503 and refused.value.code == "UNAVAILABLE"
            assert time.monotonic() - started < 2.0, "a dead Redis answers fast (connection refused)"
        finally:
            await limiter.close()
            await nonces.close()

    run(scenario)
