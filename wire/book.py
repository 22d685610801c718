"""The book checksum (docs/market-data.md, "Book"): every book message carries a CRC-32 of the top
CHECKSUM_LEVELS levels per side after applying it, so a client can prove its local book equals
the server's. Prices are fen per contract (swap prices may be negative), quantities contracts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

CHECKSUM_LEVELS = 10  # levels per side covered by the book checksum


def checksum_text(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> str:
    """`<ask1>|...|<ask10>;<bid1>|...|<bid10>`, each level `<price>:<quantity>`, best first; the
    callers pass at most CHECKSUM_LEVELS levels per side."""
    ask_text = "|".join(f"{price}:{quantity}" for price, quantity in asks)
    bid_text = "|".join(f"{price}:{quantity}" for price, quantity in bids)
    return f"{ask_text};{bid_text}"


def book_checksum(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> int:
    """CRC-32 (unsigned) of checksum_text: what every book message carries."""
    return zlib.crc32(checksum_text(asks, bids).encode("ascii"))
