"""REST routes, one module per resource, all under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
