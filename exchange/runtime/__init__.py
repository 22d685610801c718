"""The sequencer runtime: one loop that runs a shard's sequencer, and the transports that carry it.

    core.SequencerRuntime   owns the DurableExchange (recovery on open); stamps each command with
                            the wall clock, never before the previous one; groups commands (at most
                            EXCHANGE_GROUP_COMMIT_SIZE) and commits them; answers queries and book
                            views between groups; dedupes retried requests by request id; keeps
                            the replay ring of recent event batches
    views                   EventBatch, BookView, QUERIES, take_book_views, run_query,
                            journaled_batches: what the runtime hands out
    inproc                  `inproc://`  a writer thread in this process (one queue entry per call,
                            one wake-up per group)
    process                 `process://` a child process over a socket pair (length-prefixed
                            msgpack frames; `python -m exchange.runtime.process`)
    redis_streams           `redis://host:port/db` the scale-out sequencer process (`capex
                            sequencer`): Redis streams, heartbeat, owner lock, deadlines

The API's clients of these transports live in api/ (api.gateways.build_gateway picks one by the
API_SEQUENCER_URL setting); nothing here imports the API.
"""

from __future__ import annotations

from exchange.runtime.core import NOT_COMMANDS, SequencerRuntime, open_exchange
from exchange.runtime.views import (
    QUERIES,
    BookView,
    EventBatch,
    journaled_batches,
    now_ms,
    run_query,
    take_book_views,
)

SCHEMES = ("inproc", "process", "redis")  # the transports, by the scheme of API_SEQUENCER_URL
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # the Redis of `redis://` when none is named

__all__ = [
    "DEFAULT_REDIS_URL",
    "NOT_COMMANDS",
    "QUERIES",
    "SCHEMES",
    "BookView",
    "EventBatch",
    "SequencerRuntime",
    "journaled_batches",
    "now_ms",
    "open_exchange",
    "run_query",
    "take_book_views",
]
