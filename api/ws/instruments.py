"""The instruments this process knows (terms, status, underlying) and the instruments channel's
messages (docs/market-data.md, "Trades, ticker, instruments, index")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from api.ws import channels as ch
from exchange.events import InstrumentListed

LISTING_FIELDS = ("tick", "lot", "min_price", "max_price", "trading_start", "expiry")


@dataclass
class InstrumentInfo:
    symbol: str
    kind: str  # "CAP" | "MAT" | "SWP"
    status: str
    underlying: str
    terms: dict[str, Any]
    listing: dict[str, Any]  # the fields of the `listed` message (LISTING_FIELDS; prices in fen, times in ms)

    @property
    def index(self) -> str | None:
        return self.terms.get("index") if self.kind == "MAT" else None

    def settlement_window_runs(self, at: int) -> bool:
        return (
            self.kind == "MAT"
            and self.status not in ("settled",)
            and self.terms.get("settlement_window_start", at + 1) <= at < self.listing["expiry"]
        )

    def row(self) -> dict[str, Any]:
        """The instrument in the instruments channel's snapshot."""
        return {
            "symbol": self.symbol,
            "kind": self.kind,
            "status": self.status,
            "underlying": self.underlying,
        }

    def listed_message(self) -> dict[str, Any]:
        message = {"channel": ch.INSTRUMENTS, "type": "listed", **self.row()}
        message.update(self.listing, terms=self.terms)
        return message

    def status_message(self) -> dict[str, Any]:
        return {"channel": ch.INSTRUMENTS, "type": "status", "symbol": self.symbol, "status": self.status}


def underlying_of(kind: str, terms: dict[str, Any], instruments: Mapping[str, InstrumentInfo]) -> str:
    """What market-maker protection groups by: the process of a CAP, the material of a MAT, the
    give leg's process of a SWP."""
    if kind == "CAP":
        return str(terms.get("process", ""))
    if kind == "MAT":
        return str(terms.get("material", ""))
    give = instruments.get(str(terms.get("give_symbol", "")))
    return give.underlying if give is not None else ""


class Instruments:
    """symbol -> InstrumentInfo, from the sequencer's instruments query and the InstrumentListed /
    InstrumentStatusChanged events. A swap's underlying needs its give leg: legs come first."""

    __slots__ = ("by_symbol",)

    def __init__(self) -> None:
        self.by_symbol: dict[str, InstrumentInfo] = {}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.by_symbol

    def get(self, symbol: str) -> InstrumentInfo | None:
        return self.by_symbol.get(symbol)

    def symbols(self) -> list[str]:
        return sorted(self.by_symbol)

    # -- UNDERLYINGS ------------------------------------------------------------------------------

    def underlying(self, symbol: str) -> str | None:
        info = self.by_symbol.get(symbol)
        return info.underlying if info is not None else None

    def symbols_of(self, underlying: str) -> list[str]:
        return sorted(s for s, info in self.by_symbol.items() if info.underlying == underlying)

    # -- INDEXES ----------------------------------------------------------------------------------

    def indexes(self) -> list[str]:
        """The indexes of the listed material calls."""
        return sorted({info.index for info in self.by_symbol.values() if info.index})

    def settling_on(self, index: str, at: int) -> list[InstrumentInfo]:
        """The material calls on `index` whose settlement window runs at `at` (ms), by symbol."""
        return [
            info
            for info in sorted(self.by_symbol.values(), key=lambda i: i.symbol)
            if info.index == index and info.settlement_window_runs(at)
        ]

    # -- CHANGES ----------------------------------------------------------------------------------

    def load(self, rows: Iterable[dict[str, Any]]) -> tuple[list[InstrumentInfo], list[InstrumentInfo]]:
        """Take the sequencer's instrument rows; returns (new instruments, instruments whose status
        changed), which the instruments channel tells after a gap."""
        new: list[str] = []
        changed: list[str] = []
        # CAP legs first, so that a swap finds its give leg's process
        for row in sorted(rows, key=lambda r: r["kind"] == "SWP"):
            terms = dict(row["terms"])
            info = self.by_symbol.get(row["symbol"])
            if info is None:
                new.append(row["symbol"])
            elif info.status != row["status"]:
                changed.append(row["symbol"])
            self.by_symbol[row["symbol"]] = InstrumentInfo(
                symbol=row["symbol"],
                kind=row["kind"],
                status=row["status"],
                underlying=underlying_of(row["kind"], terms, self.by_symbol),
                terms=terms,
                listing={key: row[key] for key in LISTING_FIELDS},
            )
        return [self.by_symbol[s] for s in new], [self.by_symbol[s] for s in changed]

    def listed(self, event: InstrumentListed) -> InstrumentInfo:
        terms = msgspec.json.decode(event.terms_json)
        info = InstrumentInfo(
            symbol=event.symbol,
            kind=event.kind,
            status=event.status,
            underlying=underlying_of(event.kind, terms, self.by_symbol),
            terms=terms,
            listing={key: getattr(event, key) for key in LISTING_FIELDS},
        )
        self.by_symbol[event.symbol] = info
        return info

    def set_status(self, symbol: str, status: str) -> InstrumentInfo | None:
        info = self.by_symbol.get(symbol)
        if info is not None:
            info.status = status
        return info

    def snapshot_message(self) -> dict[str, Any]:
        rows = [self.by_symbol[s].row() for s in sorted(self.by_symbol)]
        return {"channel": ch.INSTRUMENTS, "type": "snapshot", "instruments": rows}
