"""The state hash and the snapshot codec of a sequencer's state.

`state_hash`: the SHA-256 of a canonical encoding of the whole state (sorted keys) and every
book's own snapshot; equal states have equal hashes (recovery compares it before a crash and after
the replay).

A snapshot (msgpack, version SNAPSHOT_VERSION) is a sequence of frames, each a 4-byte big-endian
length and its bytes: first `_Snapshot` (the config, the state without its idempotency answers,
each book's snapshot), then the answers in chunks of IDEMPOTENCY_CHUNK (msgpack
`dict[str, IdempotencyEntry]`, in insertion = journal order). Both encodings are part of the
durable format: a change needs a new SNAPSHOT_VERSION (old snapshots must still restore).
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Mapping

import msgspec

from exchange.books import OrderBook
from exchange.config import ExchangeConfig
from exchange.state import IdempotencyEntry, State

SNAPSHOT_VERSION = 2
IDEMPOTENCY_CHUNK = 500  # answers per step of a snapshot (about 1 ms)

_hash_encoder = msgspec.msgpack.Encoder(order="deterministic")
_snapshot_encoder = msgspec.msgpack.Encoder()


class _Snapshot(msgspec.Struct, kw_only=True):
    """The first frame of a snapshot: the state without its idempotency answers, which follow in
    frames of their own (msgpack `dict[str, IdempotencyEntry]`, in insertion = journal order).
    A frame is a 4-byte big-endian length and its bytes."""

    version: int
    config: ExchangeConfig
    state: State
    books: dict[str, bytes]


_FRAME = struct.Struct("!I")
_snapshot_decoder = msgspec.msgpack.Decoder(_Snapshot)
_idempotency_decoder = msgspec.msgpack.Decoder(dict[str, IdempotencyEntry])


def state_hash(config: ExchangeConfig, state: State, books: Mapping[str, OrderBook], journal: bool) -> str:
    """Hex SHA-256 of the canonical encoding of the whole state (sorted keys) and every book's
    snapshot. `journal=False` leaves out what only the journal moves (last_seq and the
    idempotency answers): the business state, which a refused command never changes."""
    st = state
    canonical = (
        [getattr(st, f) for f in st.__struct_fields__ if f.startswith("next_")],
        st.last_seq if journal else 0,
        sorted(st.accounts.items()),
        sorted(st.system_balances.items()),
        sorted(st.instruments.items()),
        sorted(st.orders.items()),
        [(symbol, sorted(by_account.items())) for symbol, by_account in sorted(st.positions.items())],
        sorted(st.capacity.items()),
        sorted(st.bookings.items()),
        sorted(st.index_prices.items()),
        st.idempotency if journal else {},  # str keys: the encoder sorts them
    )
    h = hashlib.sha256()
    h.update(_hash_encoder.encode(config))
    h.update(_hash_encoder.encode(canonical))
    for symbol in sorted(books):
        h.update(symbol.encode())
        h.update(books[symbol].snapshot())
    return h.hexdigest()


class SnapshotInSteps:
    """A snapshot whose bulk is encoded later, in steps.

    Only the idempotency answers grow with the journal (one per client order id: the bulk of a
    large state), and they are only ever added, never changed. So everything else is encoded when
    the snapshot is taken, the answers are copied (a dict copy, about 1 ms per 100,000), and each
    `step()` encodes the next `IDEMPOTENCY_CHUNK` of them. The owner runs the steps on the
    sequencer's own thread between commands: encoding them on another thread would make the two
    fight over the GIL (the sequencer lost up to 140 ms per group commit that way). The result
    stays in pieces (`parts()`), so that nothing has to copy the whole of it while holding the
    GIL: the packer compresses piece by piece."""

    def __init__(self, head: bytes, answers: dict[str, IdempotencyEntry]) -> None:
        self._parts: list[bytes] = [_FRAME.pack(len(head)), head]
        self._items = iter(answers.copy().items())
        self._done = False

    def step(self) -> bool:
        """Encode the next chunk; True once everything is encoded."""
        if not self._done:
            chunk = dict(itertools.islice(self._items, IDEMPOTENCY_CHUNK))
            if chunk:
                encoded = _snapshot_encoder.encode(chunk)
                self._parts += (_FRAME.pack(len(encoded)), encoded)
            else:
                self._done = True
        return self._done

    def parts(self) -> list[bytes]:
        """The snapshot in pieces: joined, they are Sequencer.snapshot()."""
        assert self._done, "step() until it returns True"
        return self._parts


def snapshot_in_steps(
    config: ExchangeConfig, state: State, books: Mapping[str, OrderBook]
) -> SnapshotInSteps:
    """A snapshot of the state as it is now; `step()` it to the end, between commands."""
    head = _Snapshot(
        version=SNAPSHOT_VERSION,
        config=config,
        state=msgspec.structs.replace(state, idempotency={}),
        books={s: books[s].snapshot() for s in state.instruments},
    )
    return SnapshotInSteps(_snapshot_encoder.encode(head), state.idempotency)


def decode_snapshot(data: bytes) -> tuple[ExchangeConfig, State, dict[str, bytes]]:
    """(config, state with its idempotency answers, each book's snapshot by symbol) of a
    snapshot. Raises ValueError on an unknown version."""
    view = memoryview(data)
    frames = []
    offset = 0
    while offset < len(view):
        (size,) = _FRAME.unpack_from(view, offset)
        offset += _FRAME.size
        frames.append(view[offset : offset + size])
        offset += size
    snap = _snapshot_decoder.decode(frames[0])
    if snap.version != SNAPSHOT_VERSION:
        raise ValueError(f"unknown snapshot version {snap.version}")
    for chunk in frames[1:]:
        snap.state.idempotency.update(_idempotency_decoder.decode(chunk))
    return snap.config, snap.state, snap.books
