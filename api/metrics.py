"""Prometheus metrics of one API process (`/metrics`). Defined once per process, at import."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter("capex_commands_total", "Commands acknowledged, by type and result code", ["type", "code"])
COMMAND_LATENCY = Histogram(
    "capex_command_latency_seconds",
    "From submission to durable acknowledgement",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
WEBSOCKETS = Gauge("capex_websockets_connected", "Open WebSocket connections")
COMMAND_QUEUE = Gauge("capex_command_queue_depth", "Commands waiting for the sequencer")
WS_QUEUE_DROPS = Counter("capex_ws_slow_consumer_total", "Connections dropped or resynced as slow consumers")
