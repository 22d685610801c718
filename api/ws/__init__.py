"""WebSocket endpoint `/ws`: market data channels, private channels and order entry."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

router = APIRouter()


async def start(app: FastAPI) -> None:
    """Start market data for this process (subscribe to the gateway's events)."""


async def stop(app: FastAPI) -> None:
    """Stop market data and close every session."""
