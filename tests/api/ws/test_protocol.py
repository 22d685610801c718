"""The book checksum as specified: the examples written in docs/market-data.md are what the server
computes, and the server agrees with an independent client implementation on random books."""

from __future__ import annotations

import random
import re
import zlib
from pathlib import Path

from api.ws.book_state import BookState
from api.ws.protocol import book_checksum, checksum_text

DOC = Path(__file__).resolve().parents[3] / "docs" / "market-data.md"


def test_the_documented_examples_hold():
    text = DOC.read_text()
    assert checksum_text([(1010, 5), (1020, 3)], [(1000, 2), (990, 7)]) == "1010:5|1020:3;1000:2|990:7"
    assert "`1010:5|1020:3;1000:2|990:7` -> `1109400464`" in text
    assert book_checksum([(1010, 5), (1020, 3)], [(1000, 2), (990, 7)]) == 1109400464
    assert "`;` -> `1661535913`" in text and book_checksum([], []) == 1661535913
    assert checksum_text([], [(1000, 2)]) == ";1000:2"
    # The two example book messages carry their true checksums.
    checksums = [int(c) for c in re.findall(r'"checksum": (\d+)\}', text)[:2]]
    assert checksums == [
        book_checksum([(1210, 4)], [(1200, 5), (1190, 3)]),
        book_checksum([(1205, 2), (1210, 4)], [(1190, 3)]),
    ]


def test_server_book_checksum_matches_an_independent_client_on_random_books():
    rng = random.Random(7)
    for _ in range(200):
        book = BookState("X")
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for _ in range(rng.randrange(0, 60)):
            side = rng.choice(("buy", "sell"))
            price = rng.randrange(-50, 50) if side == "buy" else rng.randrange(50, 150)
            quantity = rng.choice((0, rng.randrange(1, 10**6)))
            book.set_level(side, price, quantity, 1)
            levels = bids if side == "buy" else asks
            if quantity:
                levels[price] = quantity
            else:
                levels.pop(price, None)
        top_asks = "|".join(f"{p}:{asks[p]}" for p in sorted(asks)[:10])
        top_bids = "|".join(f"{p}:{bids[p]}" for p in sorted(bids, reverse=True)[:10])
        assert book.checksum() == zlib.crc32(f"{top_asks};{top_bids}".encode())
