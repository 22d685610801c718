"""Random command streams: the audit holds after every step; replay and snapshot/restore are exact."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import snapshot as snapshot_module
from exchange.commands import RunExpiry, decode_command, encode_command
from exchange.config import ExchangeConfig
from exchange.sequencer import Sequencer
from matching_engine.reference import ReferenceOrderBook

from .conftest import BOOK_FACTORIES
from .streams import DAY, StreamGen, run_stream, setup_commands

FACTORIES = [p.values[0] for p in BOOK_FACTORIES]


CONFIGS = [
    ExchangeConfig(),
    ExchangeConfig(taker_fee=0, maker_fee=0),
    ExchangeConfig(taker_fee=10, maker_fee=-4, booking_grace_ms=0, booking_confirm_release_percent=33),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 150),
    factory=st.sampled_from(FACTORIES),
    config=st.sampled_from(CONFIGS),
)
def test_random_streams_keep_every_invariant(seed, n, factory, config):
    seq = Sequencer(config, book_factory=factory)

    def check(command):
        problems = seq.audit()
        assert problems == [], (command, problems)

    run_stream(seq, seed, n, check)


def test_long_stream_reaches_expiry_and_stays_sound(book_factory):
    # Prices roam over the whole listing band here; the fat-finger band has its own tests.
    seq = Sequencer(ExchangeConfig(fat_finger_percent=0), book_factory=book_factory)
    codes: dict[int, int] = {}
    gen = StreamGen(random.Random(7))
    for command in setup_commands():
        seq.apply(command)
    for i in range(3000):
        r = seq.apply(gen.next(seq))
        codes[r.code] = codes.get(r.code, 0) + 1
        if i % 50 == 0:
            assert seq.audit() == []
    assert seq.audit() == []
    assert codes.get(0, 0) > 1200  # the stream does real work, not only refusals
    seq.apply(RunExpiry(timestamp=gen.ts + 30 * DAY, actor_id=0))
    assert seq.audit() == []
    assert all(i.status == "settled" for i in seq.instruments())  # time went past every expiry


def test_replay_gives_the_same_state_and_results(book_factory):
    first = Sequencer(book_factory=book_factory)
    journal = run_stream(first, 11, 1500)
    # the journal stores JSON: replay from the decoded commands
    replayed = Sequencer(book_factory=book_factory)
    again = [replayed.apply(decode_command(encode_command(cmd))) for cmd in journal]
    assert replayed.state_hash() == first.state_hash()
    assert replayed.last_seq == first.last_seq
    # and a third run gives the same results, one by one
    third = Sequencer(book_factory=book_factory)
    results = [third.apply(cmd) for cmd in journal]
    assert results == again


def test_snapshot_restore_continues_identically(book_factory):
    seq = Sequencer(book_factory=book_factory)
    run_stream(seq, 5, 700)
    data = seq.snapshot()
    h = seq.state_hash()
    for factory in FACTORIES:  # both book implementations read each other's snapshots
        restored = Sequencer.restore(data, book_factory=factory)
        assert restored.state_hash() == h
        assert restored.audit() == []
    restored = Sequencer.restore(data, book_factory=book_factory)
    gen = StreamGen(random.Random(99), ts=seq.state.accounts[1].created_at + 3 * DAY)
    for _ in range(500):
        command = gen.next(seq)
        assert seq.apply(command) == restored.apply(command)
    assert seq.state_hash() == restored.state_hash()
    assert seq.snapshot() == restored.snapshot()


def test_a_snapshot_taken_in_steps_is_the_state_when_it_was_taken(monkeypatch):
    """The idempotency answers are encoded later, in chunks: commands applied meanwhile must not
    show up in it, and chunks must restore in order."""
    monkeypatch.setattr(snapshot_module, "IDEMPOTENCY_CHUNK", 7)
    seq = Sequencer(book_factory=ReferenceOrderBook)
    run_stream(seq, 6, 600)
    assert len(seq.state.idempotency) > 3 * 7
    h = seq.state_hash()
    steps = seq.snapshot_in_steps()
    gen = StreamGen(random.Random(5), ts=seq.state.accounts[1].created_at + 3 * DAY)
    for _ in range(200):
        seq.apply(gen.next(seq))
        steps.step()
    while not steps.step():
        pass
    assert seq.state_hash() != h
    restored = Sequencer.restore(b"".join(steps.parts()), book_factory=ReferenceOrderBook)
    assert restored.state_hash() == h
    assert list(restored.state.idempotency) == list(seq.state.idempotency)[: len(restored.state.idempotency)]


def test_state_hash_differs_when_state_differs():
    a = Sequencer(book_factory=ReferenceOrderBook)
    b = Sequencer(book_factory=ReferenceOrderBook)
    for command in setup_commands():
        a.apply(command)
        b.apply(command)
    assert a.state_hash() == b.state_hash()
    from exchange.commands import Deposit

    b.apply(Deposit(timestamp=1790812800001, actor_id=1, account_id=5, amount=1))
    assert a.state_hash() != b.state_hash()


def test_both_books_give_the_same_results():
    """The sequencer on the Cython book and on the reference book: same results, same state."""
    if len(FACTORIES) < 2:
        return
    a = Sequencer(book_factory=FACTORIES[0])
    b = Sequencer(book_factory=FACTORIES[1])
    for command in setup_commands():
        assert a.apply(command) == b.apply(command)
    gen = StreamGen(random.Random(3))
    for _ in range(2000):
        command = gen.next(a)
        assert a.apply(command) == b.apply(command)
    assert a.state_hash() == b.state_hash()
