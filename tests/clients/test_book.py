"""LocalBook on its own: the checksum text and values of docs/market-data.md, snapshot and delta
application, and the three ways it detects that it is out of sync (a broken prev_seq chain, a
checksum mismatch, a heartbeat naming a later book sequence)."""

from __future__ import annotations

import zlib

from clients.python.book import BookUpdate, LocalBook, book_checksum, checksum_text


def snapshot(book: LocalBook, bids, asks, seq: int) -> dict:
    message = {
        "channel": "book",
        "type": "snapshot",
        "symbol": book.symbol,
        "first_seq": seq,
        "last_seq": seq,
        "prev_seq": None,
        "bids": bids,
        "asks": asks,
    }
    shadow = LocalBook(book.symbol)
    shadow._replace(bids, asks)
    message["checksum"] = shadow.checksum()
    return message


def delta(prev_seq: int, last_seq: int, bids, asks, checksum: int) -> dict:
    return {
        "channel": "book",
        "type": "delta",
        "symbol": "S",
        "first_seq": last_seq,
        "last_seq": last_seq,
        "prev_seq": prev_seq,
        "bids": bids,
        "asks": asks,
        "checksum": checksum,
    }


def test_checksum_examples_of_the_protocol():
    assert checksum_text([(1010, 5), (1020, 3)], [(1000, 2), (990, 7)]) == "1010:5|1020:3;1000:2|990:7"
    assert book_checksum([(1010, 5), (1020, 3)], [(1000, 2), (990, 7)]) == 1109400464
    assert book_checksum([], []) == 1661535913
    assert checksum_text([], [(1000, 2)]) == ";1000:2"
    assert checksum_text([(-300, 1)], []) == "-300:1;"


def test_checksum_covers_the_top_ten_levels_per_side_only():
    book = LocalBook("S")
    bids = [[1000 - i, i + 1, 1] for i in range(15)]
    asks = [[2000 + i, i + 1, 1] for i in range(12)]
    assert book.apply(snapshot(book, bids, asks, 5)) is BookUpdate.APPLIED
    text = (
        "|".join(f"{2000 + i}:{i + 1}" for i in range(10))
        + ";"
        + "|".join(f"{1000 - i}:{i + 1}" for i in range(10))
    )
    assert book.checksum() == zlib.crc32(text.encode())
    assert len(book.bids()) == 15 and len(book.asks(3)) == 3


def test_deltas_apply_absolute_quantities_and_zero_removes():
    book = LocalBook("S")
    book.apply(snapshot(book, [[100, 5, 1], [99, 2, 1]], [[101, 4, 2]], 10))
    expected = book_checksum([(101, 4), (103, 1)], [(100, 7)])
    update = book.apply(delta(10, 13, [[100, 7, 2], [99, 0, 0]], [[103, 1, 1]], expected))
    assert update is BookUpdate.APPLIED
    assert book.bids() == [(100, 7, 2)]
    assert book.asks() == [(101, 4, 2), (103, 1, 1)]
    assert (book.best_bid(), book.best_ask(), book.mid()) == ((100, 7, 2), (101, 4, 2), 100)
    assert book.last_seq == 13 and book.gaps == 0 and book.checksum_mismatches == 0


def test_a_broken_prev_seq_chain_asks_for_a_resync_and_nothing_is_applied():
    book = LocalBook("S")
    book.apply(snapshot(book, [[100, 5, 1]], [], 10))
    update = book.apply(delta(11, 14, [[100, 9, 2]], [], book_checksum([], [(100, 9)])))
    assert update is BookUpdate.RESYNC
    assert book.gaps == 1 and not book.synced
    assert book.bids() == [(100, 5, 1)]
    # While waiting for the snapshot, deltas are ignored; the snapshot puts the book back in sync.
    assert book.apply(delta(14, 15, [[100, 1, 1]], [], 0)) is BookUpdate.SKIPPED
    assert book.apply(snapshot(book, [[100, 9, 2]], [], 15)) is BookUpdate.APPLIED
    assert book.synced and book.last_seq == 15


def test_a_checksum_mismatch_asks_for_a_resync():
    book = LocalBook("S")
    book.apply(snapshot(book, [[100, 5, 1]], [[105, 1, 1]], 3))
    right = book_checksum([(105, 1)], [(100, 6)])
    assert book.apply(delta(3, 4, [[100, 6, 2]], [], right ^ 1)) is BookUpdate.RESYNC
    assert book.checksum_mismatches == 1 and not book.synced


def test_a_heartbeat_naming_a_later_sequence_means_a_lost_message():
    book = LocalBook("S")
    book.apply(snapshot(book, [], [], 7))
    assert book.verify_heartbeat(7) is BookUpdate.APPLIED
    assert book.verify_heartbeat(9) is BookUpdate.RESYNC
    assert book.gaps == 1 and not book.synced


def test_joining_a_rest_snapshot_skips_what_it_holds_and_detects_what_is_missing():
    book = LocalBook("S")
    book.load_rest({"last_seq": 20, "bids": [{"price": 100, "quantity": 5, "order_count": 1}], "asks": []})
    assert book.apply(delta(15, 18, [[100, 4, 1]], [], 0)) is BookUpdate.SKIPPED  # already in it
    assert book.apply(delta(18, 22, [[100, 6, 2]], [], book_checksum([], [(100, 6)]))) is BookUpdate.APPLIED
    assert book.bids() == [(100, 6, 2)] and book.last_seq == 22

    late = LocalBook("S")
    late.load_rest({"last_seq": 20, "bids": [], "asks": []})
    # the first delta after the REST snapshot continues from 21: something between them is missing
    assert late.apply(delta(21, 24, [[100, 1, 1]], [], 0)) is BookUpdate.RESYNC
    assert late.gaps == 1
