"""The child-process transport (`process://`): the runtime in a process of its own, over a socket pair.

    API process (api.process_gateway.ProcessGateway)
        --frames: Commands | Query | Books | Ping | Stop--> socket pair --> this process
        <--frames: Ready | Group | Answer------------------------------------------

One Python process runs one thread at a time (the GIL): with the API and the sequencer in one
process, the event loop and the sequencer's writer thread take turns on one core, and the box's
second core idles (docs/benchmarks.md). Here the runtime (exchange.runtime.core.SequencerRuntime:
the same stamping, group commit, results and events as the in-process transport) runs in a child
process started by the API process, on the same database, and still nothing to install.

A frame is a 4-byte big-endian length and a msgpack value (msgspec, tagged structs). Requests are
handled in arrival order by `SequencerRuntime.serve`: consecutive Commands requests are applied and
committed as one group (up to `--batch-size` commands), then answered by one Group frame holding
every request's results in the order applied; queries are answered between groups, so they see a
committed state. The process stops on Stop or when the API process goes away (end of file on the
socket), after finishing the group it has.

    python -m exchange.runtime.process --fd N --database-url URL [--batch-size N]
"""

from __future__ import annotations

import argparse
import gc
import logging
import select
import signal
import socket
import struct
import sys
from typing import Any

import msgspec

from exchange.commands import AnyCommand
from exchange.results import CommandResult
from exchange.runtime.core import NOT_COMMANDS, SequencerRuntime
from exchange.runtime.views import BookView

log = logging.getLogger(__name__)

LENGTH = struct.Struct("!I")
READ_SIZE = 1 << 16


# -- FRAMES ---------------------------------------------------------------------------------------


class Commands(msgspec.Struct, frozen=True, tag=True, array_like=True):
    request_id: int
    commands: list[AnyCommand]


class Query(msgspec.Struct, frozen=True, tag=True, array_like=True):
    request_id: int
    name: str
    args: list[Any]


class Books(msgspec.Struct, frozen=True, tag=True, array_like=True):
    request_id: int
    symbols: list[str] | None
    levels: int


class Ping(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """Checks the database, like the in-process health check."""

    request_id: int


class Stop(msgspec.Struct, frozen=True, tag=True, array_like=True):
    pass


class Ready(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """Sent once the journal is recovered."""

    last_seq: int


class Group(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """The results of one group commit: (request id, results) per Commands request, in the order
    the sequencer applied them, so journal seqs ascend through the whole list."""

    replies: list[tuple[int, list[CommandResult]]]


class Answer(msgspec.Struct, frozen=True, tag=True, array_like=True):
    request_id: int
    value: Any = None
    views: list[BookView] | None = None
    error: str | None = None


Request = Commands | Query | Books | Ping | Stop
Reply = Ready | Group | Answer

_encoder = msgspec.msgpack.Encoder()
request_decoder = msgspec.msgpack.Decoder(Request)
reply_decoder = msgspec.msgpack.Decoder(Reply)


def frame(value: Any) -> bytes:
    body = _encoder.encode(value)
    return LENGTH.pack(len(body)) + body


class FrameReader:
    """Whole frames from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def read(self, block: bool) -> list[Request] | None:
        """The frames that are complete: waits for at least one if `block` (None at end of
        file), else takes only what has arrived (maybe nothing)."""
        frames = self._complete()
        while not frames:
            if not block and not self._readable():
                return []
            data = self.sock.recv(READ_SIZE)
            if not data:
                return None
            self.buffer += data
            frames = self._complete()
        while self._readable():  # what else has arrived joins this group
            data = self.sock.recv(READ_SIZE)
            if not data:
                break
            self.buffer += data
            frames.extend(self._complete())
        return frames

    def _readable(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def _complete(self) -> list[Request]:
        frames = []
        buffer = self.buffer
        start = 0
        while len(buffer) - start >= LENGTH.size:
            (size,) = LENGTH.unpack_from(buffer, start)
            end = start + LENGTH.size + size
            if len(buffer) < end:
                break
            frames.append(request_decoder.decode(memoryview(buffer)[start + LENGTH.size : end]))
            start = end
        del buffer[:start]
        return frames


# -- THE PROCESS ----------------------------------------------------------------------------------


def _size_of(request: Request) -> int:
    return len(request.commands) if isinstance(request, Commands) else NOT_COMMANDS


class SequencerProcess:
    """Serves one API process over `sock` until Stop or end of file."""

    def __init__(self, sock: socket.socket, runtime: SequencerRuntime) -> None:
        self.sock = sock
        self.runtime = runtime
        self._out = bytearray()

    def serve(self) -> None:
        reader = FrameReader(self.sock)
        self.sock.sendall(frame(Ready(last_seq=self.runtime.last_seq)))
        while True:
            requests = reader.read(block=True)
            if requests is None:
                return  # the API process is gone
            if self._handle(requests):
                return

    def _handle(self, requests: list[Request]) -> bool:
        """Answer the requests in order, in one write; True on Stop."""
        self._out = bytearray()
        stopped = self.runtime.serve(requests, _size_of, self._run_group, self._answer)
        self.sock.sendall(self._out)
        return stopped

    def _run_group(self, group: list[Request]) -> None:
        requests = [request for request in group if isinstance(request, Commands)]
        results, _batches = self.runtime.commit(
            [command for request in requests for command in request.commands]
        )
        replies = []
        start = 0
        for request in requests:
            end = start + len(request.commands)
            replies.append((request.request_id, results[start:end]))
            start = end
        self._out += frame(Group(replies=replies))

    def _answer(self, request: Request) -> bool:
        if isinstance(request, Stop):
            return True
        assert not isinstance(request, Commands)
        self._out += frame(self._read(request))
        return False

    def _read(self, request: Query | Books | Ping) -> Answer:
        runtime = self.runtime
        try:
            if isinstance(request, Query):
                return Answer(request_id=request.request_id, value=runtime.query(request.name, request.args))
            if isinstance(request, Books):
                views = runtime.book_views(request.symbols, request.levels)
                return Answer(request_id=request.request_id, views=views)
            runtime.ping()
            return Answer(request_id=request.request_id, value="ok")
        except Exception as exc:  # the asking coroutine gets it
            return Answer(request_id=request.request_id, error=f"{type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.runtime.process", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket pair")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batch-size", type=int, default=1_000)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s sequencer-process %(levelname)s %(message)s"
    )
    # Ctrl-C in a terminal reaches the whole process group: the API process stops this one (Stop,
    # or end of file) once its own requests are answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=args.fd)
    runtime = SequencerRuntime.open(args.database_url, group_size=args.batch_size)
    gc.freeze()  # the recovered state lives as long as the process (see api/collector.py)
    try:
        SequencerProcess(sock, runtime).serve()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the API process is gone: what was committed stays committed
    finally:
        runtime.close()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
