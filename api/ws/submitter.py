"""One connection's way to the sequencer: what order entry decided (order_entry.Submit /
Deferred) is submitted here and answered through the connection's outbox.

The commands of the requests read in one turn of the event loop go to the sequencer together (one
`submit_many`, in arrival order), so a pipelining client costs one task per turn; every request
gets exactly one answer, also when the sequencer cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from api.errors import unavailable_answer
from api.gateway import Gateway, GatewayUnavailable
from api.ws.order_entry import Submit, refusal
from api.ws.outbox import Outbox
from api.ws.protocol import RequestId, WsError, error_response, internal_error, response

log = logging.getLogger(__name__)


def unavailable(exc: GatewayUnavailable) -> WsError:
    """UNAVAILABLE (nothing was applied) or OUTCOME_UNKNOWN (it may have been), as over REST."""
    code, message = unavailable_answer(exc)
    return WsError(code, message)


class Submitter:
    """Submits and answers one connection's order entry; `in_flight` holds the connection's tasks
    (its batches, deferred work and closing), which end before cancel-on-disconnect."""

    def __init__(self, gateway: Gateway, outbox: Outbox, loop: asyncio.AbstractEventLoop) -> None:
        self.gateway = gateway
        self.loop = loop
        self.in_flight: set[asyncio.Task[Any]] = set()
        self._batch: list[tuple[RequestId, str, Submit]] = []  # submitted together at the turn's end
        self._respond = outbox.respond
        self._request_pending = outbox.request_pending
        self._request_answered = outbox.request_answered

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self.loop.create_task(coroutine)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        return task

    def submit(self, request_id: RequestId, op: str, submission: Submit) -> None:
        """Submit one command with the others of this turn; answer `submission.answer(result)` or
        the refusal."""
        self._batch.append((request_id, op, submission))
        self._request_pending()
        if len(self._batch) == 1:
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self.spawn(self._submit_batch(batch))

    async def _submit_batch(self, batch: list[tuple[RequestId, str, Submit]]) -> None:
        respond = self._respond
        try:
            results = await self.gateway.submit_many([submission.command for _, _, submission in batch])
        except Exception as exc:
            if isinstance(exc, GatewayUnavailable):
                error = unavailable(exc)
            else:
                log.exception("a batch of %d commands failed", len(batch))
                error = internal_error()
            for request_id, op, _ in batch:
                respond(error_response(request_id, op, error))
                self._request_answered()
            return
        for (request_id, op, submission), result in zip(batch, results, strict=True):
            if result.ok:
                respond(response(request_id, op, submission.answer(result)))
            else:
                respond(error_response(request_id, op, refusal(result)))
            self._request_answered()

    def later(self, request_id: RequestId, op: str, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` concurrently (order entry is pipelined) and answer its result or error."""
        self._request_pending()
        self.spawn(self._answer(request_id, op, work))

    async def _answer(self, request_id: RequestId, op: str, work: Coroutine[Any, Any, Any]) -> None:
        try:
            result = await work
        except WsError as error:
            self._respond(error_response(request_id, op, error))
        except GatewayUnavailable as exc:
            self._respond(error_response(request_id, op, unavailable(exc)))
        except Exception:
            log.exception("op %r failed", op)
            self._respond(error_response(request_id, op, internal_error()))
        else:
            self._respond(response(request_id, op, result))
        finally:
            self._request_answered()

    async def settle(self, timeout: float) -> None:
        """Submit what is batched and wait (at most `timeout` seconds) for the tasks in flight."""
        self.flush()
        if self.in_flight:
            await asyncio.wait(list(self.in_flight), timeout=timeout)
