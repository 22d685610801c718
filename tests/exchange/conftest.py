"""Fixtures of the exchange tests: a sequencer on a real book, and a small market around it."""

from __future__ import annotations

import pytest

from exchange import commands as c
from exchange.config import ExchangeConfig
from exchange.sequencer import Sequencer
from matching_engine.reference import ReferenceOrderBook

DAY = 24 * 3600 * 1000
T0 = 1790812800000  # 2026-10-01T00:00Z: listing time
W45_START = 1793577600000  # 2026-11-02T00:00Z (Monday of ISO week 45)
W45_END = W45_START + 7 * DAY
W46_START = W45_END
W46_END = W46_START + 7 * DAY
DEADLINE_45 = W45_START - DAY  # exercise deadline = CAP expiry
MAT_EXPIRY = 1793491200000  # 2026-11-01T00:00Z


def _book_factories():
    factories = [pytest.param(ReferenceOrderBook, id="reference")]
    try:
        from matching_engine.book import OrderBook

        factories.append(pytest.param(OrderBook, id="cython"))
    except ImportError:  # pragma: no cover
        pass
    return factories


BOOK_FACTORIES = _book_factories()


@pytest.fixture(params=BOOK_FACTORIES)
def book_factory(request):
    return request.param


class Market:
    """A sequencer plus helpers. `do` applies a command and checks the audit after it."""

    def __init__(self, book_factory, config: ExchangeConfig | None = None) -> None:
        self.book_factory = book_factory
        # The fat-finger band has its own tests (test_fat_finger.py); elsewhere prices roam freely.
        config = config or ExchangeConfig(taker_fee=10, maker_fee=5, fat_finger_percent=0)
        self.seq = Sequencer(config, book_factory=book_factory)
        self.ts = T0
        self.coid = 0

    def tick(self, ms: int = 1) -> int:
        self.ts += ms
        return self.ts

    def do(self, command, expect: int | None = 0):
        result = self.seq.apply(command)
        problems = self.seq.audit()
        assert problems == [], (command, problems)
        if expect is not None:
            assert result.code == expect, (command, result.code_name, result.message)
        return result

    def run(self, cls, expect: int | None = 0, actor: int = 0, **fields):
        return self.do(cls(timestamp=self.tick(), actor_id=actor, **fields), expect)

    # -- setup helpers --
    def account(self, role: str, cash: int = 0, name: str | None = None) -> int:
        aid = self.run(
            c.CreateAccount, name=name or f"{role}-{self.seq.state.next_account_id}", role=role
        ).data["account_id"]
        if cash:
            self.run(c.Deposit, account_id=aid, amount=cash)
        return aid

    def register_capacity(
        self, supplier: int, units: int, window=(W45_START, W45_END), process="notebook-a5-print"
    ):
        return self.run(
            c.RegisterCapacity,
            actor=supplier,
            process=process,
            window_start=window[0],
            window_end=window[1],
            units=units,
        )

    def list_cap(
        self, strike=1200, units=100, window=(W45_START, W45_END), deadline=DEADLINE_45, **kw
    ) -> str:
        terms = c.CapacityOptionTerms(
            process=kw.pop("process", "notebook-a5-print"),
            window_start=window[0],
            window_end=window[1],
            strike=strike,
            units_per_contract=units,
            exercise_deadline=deadline,
        )
        return self.run(
            c.ListInstrument,
            terms=terms,
            tick=kw.pop("tick", 10),
            lot=kw.pop("lot", 1),
            min_price=0,
            max_price=100_000,
            trading_start=T0,
            expiry=deadline,
            **kw,
        ).data["symbol"]

    def list_mat(
        self, strike=8000, cap=9600, units=10, expiry=MAT_EXPIRY, window_start=None, index_price=8000
    ) -> str:
        """Lists a material call on INK-BLACK-SPECIAL; an index is known once it has a price, so
        the system publishes `index_price` first when the index has none yet."""
        if not self.seq.index_prices("INK-BLACK-SPECIAL"):
            self.run(c.PublishIndexPrice, index="INK-BLACK-SPECIAL", price=index_price)
        terms = c.MaterialCallTerms(
            material="special-black-ink",
            index="INK-BLACK-SPECIAL",
            strike=strike,
            cap=cap,
            units_per_contract=units,
            settlement_window_start=window_start if window_start is not None else expiry - 5 * DAY,
        )
        return self.run(
            c.ListInstrument,
            terms=terms,
            tick=10,
            lot=1,
            min_price=0,
            max_price=100_000,
            trading_start=T0,
            expiry=expiry,
        ).data["symbol"]

    def list_swap(self, give: str, receive: str, expiry: int = DEADLINE_45) -> str:
        terms = c.CapacitySwapTerms(give_symbol=give, receive_symbol=receive)
        return self.run(
            c.ListInstrument,
            terms=terms,
            tick=10,
            lot=1,
            min_price=-10_000,
            max_price=10_000,
            trading_start=T0,
            expiry=expiry,
        ).data["symbol"]

    def place(
        self,
        actor,
        symbol,
        side,
        price,
        quantity,
        expect=0,
        order_type="limit",
        stp="cancel_newest",
        coid=None,
    ):
        self.coid += 1
        return self.run(
            c.PlaceOrder,
            expect,
            actor=actor,
            symbol=symbol,
            client_order_id=coid or f"o{self.coid}",
            side=side,
            order_type=order_type,
            price=price,
            quantity=quantity,
            stp=stp,
        )

    def cash(self, aid):
        return self.seq.balances(aid)

    def pos(self, aid, symbol):
        return next((p.position for p in self.seq.positions(aid) if p.symbol == symbol), 0)


@pytest.fixture
def market(book_factory) -> Market:
    return Market(book_factory)
