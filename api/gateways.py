"""Which gateway a process uses: `build_gateway(settings)`, the client of the transport
API_SEQUENCER_URL names. Apart from api/gateway.py (the interface and the in-process client), so
that the interface does not import the clients that implement it."""

from __future__ import annotations

from api.config import ApiSettings
from api.gateway import EmbeddedGateway, Gateway


def build_gateway(settings: ApiSettings) -> Gateway:
    """The gateway of the transport API_SEQUENCER_URL names (derived from API_MODE /
    API_SEQUENCER_PROCESS / API_REDIS_URL when unset): `inproc://`, `process://` or
    `redis://host:port/db`."""
    scheme = settings.sequencer_scheme
    if scheme == "redis":
        from api.redis_gateway import RedisGateway

        return RedisGateway(settings)
    if scheme == "process":
        from api.process_gateway import ProcessGateway

        return ProcessGateway(settings.database_url, batch_size=settings.exchange.group_commit_size)
    return EmbeddedGateway(settings.database_url, batch_size=settings.exchange.group_commit_size)
