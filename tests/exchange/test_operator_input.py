"""Operator input a real venue refuses: an index price far from the last one (unless confirmed), a
material call on an index that has never been published, capacity for a window that has ended.

Each refusal changes nothing but the journal's seq; replaying the journal gives the same state."""

from __future__ import annotations

import msgspec
import pytest

from exchange import commands as c
from exchange.config import ExchangeConfig
from exchange.events import IndexPricePublished
from exchange.results import ResultCode as R
from exchange.sequencer import Sequencer

from .conftest import DAY, MAT_EXPIRY, T0, W45_END, W45_START, Market

INK = "INK-BLACK-SPECIAL"


def _publish(m: Market, price: int, expect: int = 0, index: str = INK, **fields):
    return m.run(c.PublishIndexPrice, expect, index=index, price=price, **fields)


def _refused_without_change(m: Market, command: c.Command, code: int):
    """Apply `command`: it is refused with `code`, takes a seq, and changes nothing else."""
    before = m.seq.state_hash(journal=False)
    seq_before = m.seq.last_seq
    result = m.seq.apply(command)
    assert result.code == code, (result.code_name, result.message)
    assert result.events == () and result.data == {}
    assert m.seq.last_seq == seq_before + 1
    assert m.seq.state_hash(journal=False) == before
    assert m.seq.audit() == []
    return result


def _mat_listing(m: Market, index: str) -> c.ListInstrument:
    terms = c.MaterialCallTerms(
        material="special-black-ink",
        index=index,
        strike=8000,
        cap=9600,
        units_per_contract=10,
        settlement_window_start=MAT_EXPIRY - 5 * DAY,
    )
    return c.ListInstrument(
        timestamp=m.tick(),
        actor_id=0,
        terms=terms,
        tick=10,
        lot=1,
        min_price=0,
        max_price=100_000,
        trading_start=T0,
        expiry=MAT_EXPIRY,
    )


# -- INDEX PRICE BAND -----------------------------------------------------------------------------


def test_the_first_price_of_an_index_has_no_band(market):
    m = market
    assert m.seq.index_price_band(INK) is None
    r = _publish(m, 900_000)  # any first price: there is nothing to compare it with
    assert r.events == (IndexPricePublished(index=INK, price=900_000, published_at=m.ts),)
    assert m.seq.index_price_band(INK) == (720_000, 1_080_000)
    # every index has a band of its own: another index's first price is free too
    _publish(m, 1, index="PAPER-ART-SPECIAL")


def test_a_price_far_from_the_last_is_refused_and_changes_nothing(market):
    m = market
    _publish(m, 9_000)
    r = _refused_without_change(
        m, c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=900_000), R.INDEX_PRICE_BAND
    )
    assert r.message == (
        "index price ¥9,000.00 of INK-BLACK-SPECIAL moves 9,900% from the last ¥90.00 "
        "(band ±20%: ¥72.00 – ¥108.00); send confirm_large_move=true if intended"
    )
    assert R.INDEX_PRICE_BAND.name == "INDEX_PRICE_BAND" and 2000 <= R.INDEX_PRICE_BAND < 3000
    down = _refused_without_change(
        m, c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=2_250), R.INDEX_PRICE_BAND
    )
    assert "¥22.50 of INK-BLACK-SPECIAL moves -75% from the last ¥90.00" in down.message
    assert m.seq.index_prices(INK)[-1][1] == 9_000  # the settlement input did not move


def test_the_band_is_inclusive_and_follows_the_last_price(market):
    m = market
    _publish(m, 9_000)  # band ±20%: 7,200 .. 10,800
    _refused_without_change(
        m, c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=10_801), R.INDEX_PRICE_BAND
    )
    _refused_without_change(
        m, c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=7_199), R.INDEX_PRICE_BAND
    )
    _publish(m, 10_800)
    assert m.seq.index_price_band(INK) == (8_640, 12_960)  # from the new last price
    _publish(m, 8_640)
    # a refusal says by how much, never rounded onto the band itself
    r = m.seq.apply(c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=10_369))
    assert r.code == R.INDEX_PRICE_BAND and "moves 20.1% from the last ¥86.40" in r.message


def test_confirm_large_move_publishes_beyond_the_band(market):
    m = market
    feed = m.account("index_feed")
    _publish(m, 9_000, actor=feed)
    r = _publish(m, 900_000, actor=feed, confirm_large_move=True)
    assert r.events == (IndexPricePublished(index=INK, price=900_000, published_at=m.ts),)
    assert m.seq.index_prices(INK)[-1][1] == 900_000
    # confirming a move inside the band is harmless
    _publish(m, 950_000, actor=feed, confirm_large_move=True)
    # the confirmation does not lift the other rules: role, time order, sign
    creator = m.account("creator")
    _publish(m, 1, R.NOT_PERMITTED, actor=creator, confirm_large_move=True)
    _publish(m, -1, R.INVALID_FIELD, confirm_large_move=True)


def test_a_zero_last_price_allows_only_zero_without_confirmation(market):
    m = market
    _publish(m, 0)
    assert m.seq.index_price_band(INK) == (0, 0)
    r = _refused_without_change(
        m, c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=100), R.INDEX_PRICE_BAND
    )
    assert r.message.startswith("index price ¥1.00 of INK-BLACK-SPECIAL moves away from the last ¥0.00")
    _publish(m, 0)
    _publish(m, 100, confirm_large_move=True)


def test_band_percent_is_configured_and_zero_turns_it_off(book_factory):
    wide = Market(book_factory, ExchangeConfig(fat_finger_percent=0, index_price_band_percent=100))
    _publish(wide, 9_000)
    assert wide.seq.index_price_band(INK) == (0, 18_000)
    _publish(wide, 18_000)
    _publish(wide, 36_001, R.INDEX_PRICE_BAND)
    off = Market(book_factory, ExchangeConfig(fat_finger_percent=0, index_price_band_percent=0))
    _publish(off, 9_000)
    _publish(off, 900_000)
    assert off.seq.index_price_band(INK) is None
    assert off.seq.index_price_bands() == {"percent": 0, "bands": {}}
    with pytest.raises(ValueError):
        ExchangeConfig(index_price_band_percent=-1)


def test_index_price_bands_lists_every_published_index(market):
    m = market
    assert m.seq.index_price_bands() == {"percent": 20, "bands": {}}
    _publish(m, 9_000)
    _publish(m, 7, index="PAPER-ART-SPECIAL")
    assert m.seq.index_price_bands() == {
        "percent": 20,
        "bands": {INK: (7_200, 10_800), "PAPER-ART-SPECIAL": (6, 8)},  # rounded inwards to whole fen
    }


# -- MATERIAL CALLS ON KNOWN INDICES ------------------------------------------------------------


def test_a_material_call_on_an_index_never_published_is_refused(market):
    m = market
    r = _refused_without_change(m, _mat_listing(m, "NO-SUCH-INDEX"), R.UNKNOWN_INDEX)
    assert r.message == (
        "index 'NO-SUCH-INDEX' is unknown: no price has been published for it; publish one before "
        "listing a material call on it"
    )
    assert m.seq.instruments() == []
    # once the index has a price, the same listing is accepted
    _publish(m, 8_000, index="NO-SUCH-INDEX")
    symbol = m.do(_mat_listing(m, "NO-SUCH-INDEX")).data["symbol"]
    assert symbol == "MAT-NO-SUCH-INDEX-20261101-K8000-C9600"
    # another index's prices do not make this one known
    _refused_without_change(m, _mat_listing(m, "OTHER-INDEX"), R.UNKNOWN_INDEX)


# -- CAPACITY FOR WINDOWS THAT HAVE ENDED --------------------------------------------------------


def _capacity(supplier: int, window_start: int, window_end: int, timestamp: int):
    return c.RegisterCapacity(
        timestamp=timestamp,
        actor_id=supplier,
        process="notebook-a5-print",
        window_start=window_start,
        window_end=window_end,
        units=100,
    )


def test_capacity_for_a_window_that_has_ended_is_refused(market):
    m = market
    supplier = m.account("supplier")
    now = W45_END + 3 * 3_600_000  # 2026-11-09 03:00 UTC
    r = _refused_without_change(m, _capacity(supplier, W45_START, W45_END, now), R.INVALID_FIELD)
    assert r.message == (
        "window_end 2026-11-09 00:00 UTC is not after the exchange's time 2026-11-09 03:00 UTC: "
        "the window has ended"
    )
    # a window ending exactly now has ended too
    r = _refused_without_change(m, _capacity(supplier, W45_START, W45_END, W45_END), R.INVALID_FIELD)
    assert r.message.startswith("window_end 2026-11-09 00:00 UTC is not after")
    assert m.seq.capacity(supplier) == []
    # a window that has started but not ended can still be registered (the rest of it is free)
    m.do(_capacity(supplier, W45_START, W45_END, W45_END - 1))
    assert [cap.registered for cap in m.seq.capacity(supplier)] == [100]


# -- JOURNAL ------------------------------------------------------------------------------------


def test_a_journal_row_written_before_confirm_large_move_still_decodes():
    old_row = b'{"type":"PublishIndexPrice","timestamp":5,"actor_id":0,"index":"INK","price":8000}'
    command = c.decode_command(old_row)
    assert command == c.PublishIndexPrice(timestamp=5, actor_id=0, index="INK", price=8000)
    assert command.confirm_large_move is False
    confirmed = c.PublishIndexPrice(timestamp=6, actor_id=0, index="INK", price=1, confirm_large_move=True)
    assert msgspec.json.decode(c.encode_command(confirmed))["confirm_large_move"] is True
    assert c.decode_command(c.encode_command(confirmed)) == confirmed


def test_replay_of_refusals_and_confirmed_moves_gives_the_same_state(book_factory):
    m = Market(book_factory)
    journal: list[c.Command] = []

    def do(command: c.Command) -> None:
        journal.append(command)
        m.seq.apply(command)

    supplier = m.seq.state.next_account_id
    do(c.CreateAccount(timestamp=m.tick(), actor_id=0, name="supplier", role="supplier"))
    do(_mat_listing(m, INK))  # refused: unknown index
    do(c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=9_000))
    do(c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=900_000))  # refused
    do(c.PublishIndexPrice(timestamp=m.tick(), actor_id=0, index=INK, price=900_000, confirm_large_move=True))
    do(_mat_listing(m, INK))
    do(_capacity(supplier, W45_START, W45_END, W45_END + 1))  # refused: ended
    do(_capacity(supplier, W45_START, W45_END, m.tick()))
    # the journal stores JSON: replay from the decoded commands
    replayed = Sequencer(m.seq.config, book_factory=book_factory)
    codes = [replayed.apply(c.decode_command(c.encode_command(command))).code for command in journal]
    assert codes == [0, R.UNKNOWN_INDEX, 0, R.INDEX_PRICE_BAND, 0, 0, R.INVALID_FIELD, 0]
    assert replayed.state_hash() == m.seq.state_hash()
    assert replayed.index_prices(INK) == m.seq.index_prices(INK)


def test_recovery_from_the_journal_replays_the_new_refusals(tmp_path):
    from exchange.service import DurableExchange

    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    ts = iter(range(T0, T0 + 1_000))
    commands = [
        c.CreateAccount(timestamp=next(ts), actor_id=0, name="supplier", role="supplier"),
        c.PublishIndexPrice(timestamp=next(ts), actor_id=0, index=INK, price=9_000),
        c.PublishIndexPrice(timestamp=next(ts), actor_id=0, index=INK, price=900_000),
        c.PublishIndexPrice(
            timestamp=next(ts), actor_id=0, index=INK, price=900_000, confirm_large_move=True
        ),
        _capacity(1, W45_START, W45_END, W45_END),
        _capacity(1, W45_START, W45_END, next(ts)),
    ]
    exchange = DurableExchange(url, group_commit_size=10, snapshot_interval=0)
    codes = [r.code for r in exchange.submit_batch(commands)]
    assert codes == [0, 0, R.INDEX_PRICE_BAND, 0, R.INVALID_FIELD, 0]
    before = exchange.state_hash()
    exchange.close()
    recovered = DurableExchange(url, group_commit_size=10, snapshot_interval=0)
    try:
        assert recovered.replayed == len(commands)
        assert recovered.state_hash() == before
        assert recovered.sequencer.index_prices(INK) == [(T0 + 1, 9_000), (T0 + 3, 900_000)]
    finally:
        recovered.close()
