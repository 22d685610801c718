"""REST routes, one module per resource, all under /api/v1 (health and metrics at the root)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    api_keys,
    auth,
    instruments,
    lifecycle,
    market_data,
    operator,
    orders,
    portfolio,
    system,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    api_keys.router,
    instruments.router,
    market_data.router,
    orders.router,
    portfolio.router,
    lifecycle.router,
    operator.router,
    system.router,
]
