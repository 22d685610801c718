"""When CPython's cycle collector may pause an API process.

A full collection walks every tracked object that is not frozen. With 1,000 WebSocket
connections (about 150 tracked objects each: tasks, protocol and parser state, Starlette objects)
that is 110-150 ms during which the event loop answers nothing, and CPython starts one whenever
the old generation has grown by a quarter; under load that was every few seconds, and it made
the benchmark's p99 latencies. Long-lived objects are therefore frozen (`gc.freeze()`: moved to
a generation no collection walks):

- at startup, everything built so far (modules, the app, the recovered sequencer state);
- a second after connections open (at most once a second while they keep opening), so a
  connection's own objects are walked a few times at most, not in every full collection.

What is frozen and later becomes cyclic garbage (a closed connection's objects, requests that were
in flight at a freeze) is only reclaimed by a full collection of everything: that one is run a
second after a close once as many connections have closed since the last one as are open (and at
least `FULL_AFTER_CLOSED`), so the garbage stays within about the size of the live set and the
pause is paid after connection churn, not every few seconds while a thousand clients stay.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)

FREEZE_DELAY_SECONDS = 1.0
FULL_AFTER_CLOSED = 100


class CollectorPolicy:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._maintenance: asyncio.TimerHandle | None = None
        self._open = 0
        self._closed_since_full = 0

    def start(self) -> None:
        """Freeze what exists now. Call once the process has built its long-lived state."""
        self._loop = asyncio.get_running_loop()
        gc.freeze()

    def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            self._maintenance = None

    def connection_opened(self) -> None:
        self._open += 1
        self._schedule()

    def connection_closed(self) -> None:
        self._open -= 1
        self._closed_since_full += 1
        self._schedule()

    def _schedule(self) -> None:
        if self._loop is not None and self._maintenance is None:
            self._maintenance = self._loop.call_later(FREEZE_DELAY_SECONDS, self._maintain)

    def _maintain(self) -> None:
        self._maintenance = None
        if self._closed_since_full < max(FULL_AFTER_CLOSED, self._open):
            gc.freeze()
            return
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self._closed_since_full = 0
        log.info(
            "full garbage collection after connections closed: %d objects reclaimed, %d frozen, %.0f ms",
            collected,
            gc.get_freeze_count(),
            (time.perf_counter() - started) * 1000,
        )
