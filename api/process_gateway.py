"""`process://` (or `API_SEQUENCER_PROCESS=true`): the client of the sequencer runtime in a child process.

The API process starts `python -m exchange.runtime.process` on the same database with one end of a
socket pair, and speaks its frames (exchange/runtime/process.py) over the other: one task here reads
the replies, resolves the waiting requests and publishes the event batches, in journal-seq order,
exactly as the in-process writer thread does. The child recovers the journal before it answers
Ready; `start()` waits for that. If the child dies, everything waiting fails with
GatewayUnavailable (503) and health reports it; the journal has what was acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, cast

from api import metrics
from api.gateway import (
    QUERIES,
    BookView,
    Gateway,
    GatewayUnavailable,
    OutcomeUnknown,
    health_report,
    record_commands,
)
from exchange.commands import AnyCommand, Command
from exchange.results import CommandResult
from exchange.runtime import journaled_batches
from exchange.runtime.process import (
    LENGTH,
    Answer,
    Books,
    Commands,
    Group,
    Ping,
    Query,
    Ready,
    Stop,
    frame,
    reply_decoder,
)

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 600.0  # recovery replays the journal: ~20 s per million commands
STOP_TIMEOUT_SECONDS = 30.0


class ProcessGateway(Gateway):
    def __init__(self, database_url: str, *, batch_size: int = 1_000) -> None:
        super().__init__()
        self.database_url = database_url
        self.batch_size = batch_size
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._request_ids = itertools.count(1)
        self._published_seq = 0
        self._failure: str | None = "the sequencer process is not running"
        self._stopping = False

    # -- LIFECYCLE -------------------------------------------------------------------------------

    async def start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "exchange.runtime.process",
                    "--fd",
                    str(theirs.fileno()),
                    "--database-url",
                    self.database_url,
                    "--batch-size",
                    str(self.batch_size),
                ],
                pass_fds=(theirs.fileno(),),
                env=os.environ.copy(),
            )
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        try:
            ready = await asyncio.wait_for(self._read_frame(reader), START_TIMEOUT_SECONDS)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as exc:
            await self.stop()
            raise RuntimeError(f"the sequencer process did not start: {exc!r}") from exc
        if not isinstance(ready, Ready):
            raise RuntimeError(f"the sequencer process said {ready!r} instead of Ready")
        self._published_seq = ready.last_seq
        self._failure = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_replies(reader))

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None and self._failure is None:
            self._writer.write(frame(Stop()))
            try:
                await self._writer.drain()
            except ConnectionError:
                pass
        process = self._process
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("the sequencer process did not stop in %s s: killing it", STOP_TIMEOUT_SECONDS)
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
        self._fail("the sequencer process stopped")
        self._process = self._writer = self._reader_task = None

    # -- REQUESTS --------------------------------------------------------------------------------

    def _send(self, request: Any) -> asyncio.Future[Any]:
        if self._failure is not None or self._writer is None:
            raise GatewayUnavailable(self._failure or "the sequencer process is not running")
        future = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = future
        metrics.COMMAND_QUEUE.set(len(self._pending))
        self._writer.write(frame(request))
        return future

    async def submit_many(self, commands: Sequence[Command]) -> list[CommandResult]:
        started = time.perf_counter()
        # every Command is one of AnyCommand, the tagged union the child decodes
        batch = cast("list[AnyCommand]", list(commands))
        future = self._send(Commands(request_id=next(self._request_ids), commands=batch))
        try:
            results: list[CommandResult] = await future
        except GatewayUnavailable as exc:
            # Written to the child, which died or stopped before answering: it may have applied
            # and journaled them.
            raise OutcomeUnknown(str(exc)) from exc
        record_commands(commands, results, started)
        return results

    async def _ask(self, request: Query | Books | Ping) -> Answer:
        answer: Answer = await self._send(request)
        if answer.error is not None:
            raise RuntimeError(answer.error)
        return answer

    async def query(self, name: str, *args: Any) -> Any:
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}")
        answer = await self._ask(Query(request_id=next(self._request_ids), name=name, args=list(args)))
        return answer.value

    async def book_views(self, symbols: Sequence[str] | None = None, levels: int = 10) -> list[BookView]:
        request = Books(
            request_id=next(self._request_ids),
            symbols=None if symbols is None else list(symbols),
            levels=levels,
        )
        return (await self._ask(request)).views or []

    async def health(self) -> dict[str, Any]:
        mode = "embedded (sequencer process)"
        running = self._failure is None and self._process is not None and self._process.poll() is None
        if not running:
            reason = self._failure or "the sequencer process is not running"
            return health_report("process", mode, sequencer=reason, journal_seq=None, database="unknown")
        try:
            await asyncio.wait_for(self._ask(Ping(request_id=next(self._request_ids))), 2.0)
        except Exception as exc:  # a health check reports, it does not fail
            database = f"error: {exc}"
        else:
            database = "ok"
        return health_report(
            "process", mode, sequencer="ok", journal_seq=self._published_seq, database=database
        )

    # -- REPLIES ---------------------------------------------------------------------------------

    @staticmethod
    async def _read_frame(reader: asyncio.StreamReader) -> Any:
        (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
        return reply_decoder.decode(await reader.readexactly(size))

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await self._read_frame(reader)
                if isinstance(reply, Group):
                    self._group_done(reply)
                elif isinstance(reply, Answer):
                    future = self._pending.pop(reply.request_id, None)
                    if future is not None and not future.done():
                        future.set_result(reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # end of file, a broken pipe or a garbled frame
            if not self._stopping:
                log.error("the sequencer process is gone: %r", exc)
            self._fail(f"the sequencer process is gone ({type(exc).__name__})")

    def _group_done(self, group: Group) -> None:
        in_order = [result for _, results in group.replies for result in results]
        batches, self._published_seq = journaled_batches(in_order, self._published_seq)
        if batches:
            self._publish(batches)
        for request_id, results in group.replies:
            future = self._pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(results)

    def _fail(self, reason: str) -> None:
        if self._failure is None:
            self._failure = reason
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(GatewayUnavailable(reason))
