"""Credentials that end on every open connection at once.

A WebSocket authenticates once (`auth`) and then trades for as long as it stays open, so ending a
credential in the database alone would leave every socket that used it trading. This module keeps,
in each API process, which open connections hold which credential, and ends them together:

- **At once, here and in every worker.** `DELETE /api/v1/api-keys/{id}` and
  `POST /api/v1/auth/logout` call `CredentialWatch.end` after the database row changed and before
  they answer. The holders in this process are ended right away (so a request read after the
  answer is already refused); with Redis configured (`API_REDIS_URL`, always so in scale-out), the
  credential is also published on `<API_REDIS_PREFIX>:credentials-ended`, and every other worker
  ends its holders when the message arrives (milliseconds).
- **Session expiry.** A connection authenticated with a session token ends when the token
  expires (a timer in the session, `Holder.credential_ended`), whether or not anything is sent.
- **A backstop.** Pub/sub drops what is published while a worker is disconnected from Redis, so
  every `API_WS_CREDENTIAL_CHECK_SECONDS` (and after every reconnection) each worker checks every
  credential its connections hold against the database and ends those that are revoked, logged out
  or expired.

What "ended" means for a connection is the holder's business (api/ws/auth.py: an
`UNAUTHENTICATED` notice, then the socket closes with 1008).

A credential is named by `credential_id`: `key:<key_id>` for an API key, `session:<digest>` for a
session token (the SHA-256 the database keeps, never the token itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.config import ApiSettings
from api.tables import ApiKey, SessionToken

log = logging.getLogger(__name__)

KEY_PREFIX = "key:"
SESSION_PREFIX = "session:"
RECONNECT_SECONDS = 1.0


def api_key_credential(key_id: str) -> str:
    return KEY_PREFIX + key_id


def session_credential(token_digest: str) -> str:
    return SESSION_PREFIX + token_digest


class Holder(Protocol):
    """An open connection authenticated with a credential."""

    def credential_ended(self, reason: str) -> None:
        """The credential was revoked, logged out or expired: stop acting on it now."""


def live_credentials(engine: Engine, credential_ids: Iterable[str], now: int) -> set[str]:
    """Those of `credential_ids` that still authenticate: keys not revoked, sessions that exist and
    have not expired."""
    key_ids = [c[len(KEY_PREFIX) :] for c in credential_ids if c.startswith(KEY_PREFIX)]
    digests = [c[len(SESSION_PREFIX) :] for c in credential_ids if c.startswith(SESSION_PREFIX)]
    live: set[str] = set()
    with Session(engine) as session:
        if key_ids:
            rows = session.exec(
                select(ApiKey.key_id).where(col(ApiKey.key_id).in_(key_ids), col(ApiKey.revoked_at).is_(None))
            )
            live.update(api_key_credential(key_id) for key_id in rows)
        if digests:
            rows = session.exec(
                select(SessionToken.token_hash).where(
                    col(SessionToken.token_hash).in_(digests), SessionToken.expires_at > now
                )
            )
            live.update(session_credential(digest) for digest in rows)
    return live


class CredentialWatch:
    """Which open connections of this process hold which credential; ends them (see above)."""

    def __init__(self, settings: ApiSettings, engine: Engine, clock_ms: Callable[[], int]) -> None:
        self.settings = settings
        self.engine = engine
        self.clock_ms = clock_ms
        self.channel = f"{settings.redis_prefix}:credentials-ended"
        self._holders: dict[str, set[Holder]] = {}
        # Credentials ended lately, with when: a connection whose `auth` was under way while its
        # credential ended (it looked the credential up before, registers after) ends on `hold`.
        self._recently_ended: dict[str, tuple[float, str]] = {}
        self._redis: Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- HOLDERS ---------------------------------------------------------------------------------

    def hold(self, credential_id: str, holder: Holder) -> None:
        reason = self._ended_lately(credential_id)
        if reason is not None:
            holder.credential_ended(reason)
            return
        self._holders.setdefault(credential_id, set()).add(holder)

    def _ended_lately(self, credential_id: str) -> str | None:
        horizon = time.monotonic() - 2 * self.settings.ws_credential_check_seconds
        while self._recently_ended:
            oldest = next(iter(self._recently_ended))
            if self._recently_ended[oldest][0] >= horizon:
                break
            del self._recently_ended[oldest]
        ended = self._recently_ended.get(credential_id)
        return ended[1] if ended is not None else None

    def release(self, credential_id: str, holder: Holder) -> None:
        holders = self._holders.get(credential_id)
        if holders is not None:
            holders.discard(holder)
            if not holders:
                del self._holders[credential_id]

    def held(self) -> list[str]:
        return list(self._holders)

    def _end_here(self, credential_id: str, reason: str) -> int:
        self._recently_ended.pop(credential_id, None)  # re-inserted last: the dict stays in time order
        self._recently_ended[credential_id] = (time.monotonic(), reason)
        holders = self._holders.pop(credential_id, set())
        for holder in holders:
            holder.credential_ended(reason)
        return len(holders)

    # -- ENDING ----------------------------------------------------------------------------------

    async def end(self, credential_id: str, reason: str) -> None:
        """Call after the credential's row changed: its holders here end now, every other
        worker's when the message arrives (or at the next check, if Redis cannot be reached)."""
        self._end_here(credential_id, reason)
        if self._redis is None:
            return
        try:
            await self._redis.publish(self.channel, f"{credential_id} {reason}")
        except (RedisError, OSError) as exc:
            log.warning(
                "could not tell the other workers that %s ended (%s); their check ends it within %g s",
                credential_id.split(":", 1)[0],
                exc,
                self.settings.ws_credential_check_seconds,
            )

    async def check(self) -> int:
        """End every held credential that no longer authenticates; how many connections ended."""
        held = self.held()
        if not held:
            return 0
        live = await asyncio.to_thread(live_credentials, self.engine, held, self.clock_ms())
        ended = 0
        for credential_id in held:
            if credential_id not in live:
                ended += self._end_here(credential_id, "these credentials were revoked or have expired")
        return ended

    # -- LIFECYCLE -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.settings.redis_url:
            from api.redis_gateway import redis_client

            self._redis = redis_client(self.settings.redis_url, self.settings.redis_timeout_seconds)
            self._tasks.append(asyncio.create_task(self._listen(), name="credentials-ended"))
        self._tasks.append(asyncio.create_task(self._check_periodically(), name="credentials-check"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_credential_check_seconds)
            try:
                await self.check()
            except Exception:  # the database is briefly unreachable: the next round retries
                log.exception("the periodic credential check failed")

    async def _listen(self) -> None:
        """Other workers' ends, from Redis pub/sub; after each (re)subscription a full check,
        since what was published while this worker was away is lost."""
        assert self._redis is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                await self.check()
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        credential_id, _, reason = data.decode().partition(" ")
                        self._end_here(credential_id, reason or "these credentials ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("credential messages from Redis interrupted (%s); resubscribing", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # unannotated in redis-py
