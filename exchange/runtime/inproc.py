"""The in-process transport (`inproc://`): the runtime behind one writer thread in this process.

    caller --put(Job: commands + one opaque token each | a call on the runtime)--> queue
    writer thread: takes what is queued (one wake-up per group) -> SequencerRuntime.serve
        -> deliver([(token, value, error), ...]) once per group, publish(batches) once per group

One queue entry per call and one `deliver` per group: the caller (api.gateway.EmbeddedGateway)
passes asyncio futures as tokens and resolves them all in one wake-up of its event loop.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from exchange.commands import Command
from exchange.runtime.core import NOT_COMMANDS, SequencerRuntime
from exchange.runtime.views import EventBatch

# (token, value, error): a token resolved with a value, or with an error
Outcome = tuple[Any, Any, BaseException | None]


class Job:
    """Either commands (with one token each) or a call on the runtime (with one token)."""

    __slots__ = ("tokens", "commands", "call")

    def __init__(
        self,
        tokens: list[Any],
        commands: Sequence[Command] = (),
        call: Callable[[SequencerRuntime], Any] | None = None,
    ) -> None:
        self.tokens = tokens
        self.commands = commands
        self.call = call


def _size_of(job: Job) -> int:
    return NOT_COMMANDS if job.call is not None else len(job.commands)


class InprocTransport:
    """Runs `runtime` on a writer thread. `deliver` and `publish` are called on that thread."""

    def __init__(
        self,
        runtime: SequencerRuntime,
        deliver: Callable[[list[Outcome]], None],
        publish: Callable[[list[EventBatch]], None],
    ) -> None:
        self.runtime = runtime
        self._deliver = deliver
        self._publish = publish
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._writer, name="sequencer-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued before the stop, then end the thread (blocks until it has)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def put(self, job: Job) -> None:
        self._jobs.put(job)

    def backlog(self) -> int:
        return self._jobs.qsize()

    # -- THE WRITER THREAD -----------------------------------------------------------------------

    def _writer(self) -> None:
        jobs = self._jobs
        limit = self.runtime.group_size
        serve = self.runtime.serve
        while True:
            job = jobs.get()
            if job is None:
                return
            group = [job]
            size = len(job.commands)
            stop = False
            while size < limit:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
                size += len(more.commands)
            serve(group, _size_of, self._run_commands, self._run_call)
            if stop:
                return

    def _run_call(self, job: Job) -> bool:
        assert job.call is not None
        try:
            value = job.call(self.runtime)
        except BaseException as exc:  # handed to the waiting caller
            self._deliver([(job.tokens[0], None, exc)])
        else:
            self._deliver([(job.tokens[0], value, None)])
        return False

    def _run_commands(self, jobs: list[Job]) -> None:
        if len(jobs) == 1:
            commands = jobs[0].commands
            tokens = jobs[0].tokens
        else:
            commands = [command for job in jobs for command in job.commands]
            tokens = [token for job in jobs for token in job.tokens]
        results, batches = self.runtime.commit(commands)
        if batches:
            self._publish(batches)
        self._deliver([(token, result, None) for token, result in zip(tokens, results, strict=True)])
