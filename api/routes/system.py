"""Health (`/health`) and Prometheus metrics (`/metrics`), outside the versioned API."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from api.deps import GatewayDep, SettingsDep
from api.gateway import GatewayUnavailable
from api.routes.common import ExchangeRoute
from api.schemas import HealthOut

router = APIRouter(tags=["system"], route_class=ExchangeRoute)

JOURNAL_SEQ = Gauge("capex_journal_seq", "Last durable journal seq seen by this API process")


async def redis_status(url: str, timeout: float) -> str:
    """ "ok" when Redis answers PING within `timeout` seconds, else the error."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except Exception as exc:  # a health check reports, it does not fail
        return f"error: {type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return "ok"


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Health: the sequencer and its database, and Redis when configured",
    responses={503: {"model": HealthOut, "description": "a component is down; `details` says which"}},
)
async def health(gateway: GatewayDep, settings: SettingsDep) -> JSONResponse:
    details = await gateway.health()
    ok = bool(details.get("ok"))
    database = str(details.get("database") or details.get("store") or ("ok" if ok else "unavailable"))
    redis = None
    if settings.redis_url:
        redis = await redis_status(settings.redis_url, settings.redis_timeout_seconds)
        ok = ok and redis == "ok"
    body = HealthOut(ok=ok, database=database, redis=redis, details=details)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics of this API process",
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics(gateway: GatewayDep) -> Response:
    """Commands by type and result code (`capex_commands_total`; its rate is commands/s), the
    acknowledgement latency histogram, connected WebSockets, the command queue depth, slow
    consumers dropped, and the journal seq."""
    try:
        JOURNAL_SEQ.set(await gateway.query("last_seq"))
    except GatewayUnavailable:
        pass  # the scrape still reports everything else
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
