"""The sequencer: the single writer of one exchange shard, deterministic and in memory.

Pipeline of one command (`apply`): idempotency -> validate (everything is checked before anything
is mutated; a refusal raises `Reject` and changes nothing but `last_seq`) -> risk hold -> matching
engine -> settle / release -> events. The command's `timestamp` is the only clock. Every command,
refused or not, takes the next `seq`, except a repeated PlaceOrder (same account, same client order
id, same command up to its timestamp), which returns the first result again (its seq, code,
message and data; not its events, which happened once) and takes no seq.

Events of a command: postings, trades, book levels and status changes in the order they happen,
then the absolute new state of every order, position, capacity, booking and balance it touched
(effects.Effects).

The parts are wired here and only here (`__init__`): the components that own a concern's state
(ledger.Ledger, risk.Risk, settlement.Settlement), the command handlers by concept
(exchange/handlers/), the read-only queries (queries.Queries) and the snapshot codec
(snapshot.py). docs/exchange.md has the module map.
"""

from __future__ import annotations

from typing import Any

import msgspec

from exchange import commands as cmd
from exchange.accounts import Account
from exchange.bookings import Booking
from exchange.books import BookFactory, OrderBook, default_book_factory
from exchange.capacity import Capacity
from exchange.config import ExchangeConfig
from exchange.effects import Effects
from exchange.handlers import Handler
from exchange.handlers.accounts import AccountHandlers
from exchange.handlers.expiry import ExpiryHandlers
from exchange.handlers.instruments import InstrumentHandlers
from exchange.handlers.lifecycle import LifecycleHandlers
from exchange.handlers.orders import OrderHandlers
from exchange.instruments import Instrument
from exchange.ledger import SETTLEMENT, SYSTEM_LEDGER_ACCOUNTS, Ledger
from exchange.queries import Queries
from exchange.results import CommandResult, Reject, ResultCode
from exchange.risk import Risk
from exchange.settlement import Settlement
from exchange.snapshot import SnapshotInSteps, decode_snapshot, snapshot_in_steps, state_hash
from exchange.state import IdempotencyEntry, Order, Position, State, index_open_orders

_OK = int(ResultCode.OK)
_structs_replace = msgspec.structs.replace


class Sequencer:
    """Single writer of the exchange state. `book_factory(instrument_id, tick, lot, min_price,
    max_price)` makes a book and `book_factory.restore(bytes)` restores one (docs/engine.md).
    `state` and `books` (one per instrument) continue a restored state (`restore` passes them);
    the indexes of open orders and positions by account are rebuilt from the state."""

    # The declared state of the sequencer. Slots also keep what `apply` reads per command inside
    # the object (with a __dict__, core_bench ran about 1% slower: more cache misses).
    __slots__ = (
        "config",
        "state",
        "queries",
        "_book_factory",
        "_books",
        "_open_orders_by_account",
        "_effects",
        "_risk",
        "_handlers",
    )

    def __init__(
        self,
        config: ExchangeConfig | None = None,
        book_factory: BookFactory | None = None,
        *,
        state: State | None = None,
        books: dict[str, OrderBook] | None = None,
    ) -> None:
        self.config = config = config or ExchangeConfig()
        self._book_factory = book_factory if book_factory is not None else default_book_factory()
        if state is None:
            state = State(system_balances={name: 0 for name in SYSTEM_LEDGER_ACCOUNTS})
        self.state = state
        # api/gateway.py reads `_books` for its book views
        self._books: dict[str, OrderBook] = books if books is not None else {}
        self._open_orders_by_account = index_open_orders(state)
        self._effects = effects = Effects()

        ledger = Ledger(state, effects)
        risk = self._risk = Risk(state, effects, ledger)
        settlement = Settlement(state, config, effects, ledger, risk, self._open_orders_by_account)
        orders = OrderHandlers(
            state, config, effects, self._books, self._open_orders_by_account, ledger, risk, settlement
        )
        instruments = InstrumentHandlers(state, config, effects, self._books, self._book_factory)
        accounts = AccountHandlers(
            state, effects, self._open_orders_by_account, ledger, risk, orders.mass_cancel
        )
        lifecycle = LifecycleHandlers(state, config, effects, ledger, risk)
        expiry = ExpiryHandlers(
            state, config, effects, self._books, ledger, risk, settlement, lifecycle.deliver_booking
        )
        self.queries = Queries(
            state, config, self._books, self._open_orders_by_account, risk.positions_by_account
        )
        self._handlers: dict[type, Handler] = {
            cmd.CreateAccount: accounts.create_account,
            cmd.Deposit: accounts.deposit,
            cmd.Withdraw: accounts.withdraw,
            cmd.TransferCash: accounts.transfer_cash,
            cmd.TransferPosition: accounts.transfer_position,
            cmd.SetKillSwitch: accounts.set_kill_switch,
            cmd.ListInstrument: instruments.list_instrument,
            cmd.HaltInstrument: instruments.halt,
            cmd.ResumeInstrument: instruments.resume,
            cmd.PublishIndexPrice: instruments.publish_index_price,
            cmd.PlaceOrder: orders.place,
            cmd.CancelOrder: orders.cancel,
            cmd.AmendOrder: orders.amend,
            cmd.CancelAll: orders.cancel_all,
            cmd.RegisterCapacity: lifecycle.register_capacity,
            cmd.Exercise: lifecycle.exercise,
            cmd.DeclineAutoExercise: lifecycle.decline_auto_exercise,
            cmd.ConfirmBooking: lifecycle.confirm_booking,
            cmd.MarkSupplierDefault: lifecycle.mark_supplier_default,
            cmd.RunExpiry: expiry.run_expiry,
        }

    # -- APPLY ------------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self.state.last_seq

    def apply(self, command: cmd.Command) -> CommandResult:
        """Apply one command; the result carries its seq, code and events."""
        state = self.state
        retry_key: cmd.PlaceOrder | None = None  # the command as a retry of it would be (unstamped)
        if type(command) is cmd.PlaceOrder:
            idem_key = f"{command.actor_id}:{command.client_order_id}"
            retry_key = _structs_replace(command, timestamp=cmd.UNSTAMPED)
            entry = state.idempotency.get(idem_key)
            if entry is not None:
                if retry_key == entry.command:
                    return entry.result
                seq = state.last_seq = state.last_seq + 1
                return CommandResult(
                    seq=seq,
                    code=ResultCode.DUPLICATE_CLIENT_ORDER_ID,
                    message=f"client order id {command.client_order_id!r} was used for another command",
                )
        seq = state.last_seq + 1
        state.last_seq = seq
        self._effects.reset(seq, command.timestamp)
        handler = self._handlers.get(type(command))
        try:
            if handler is None:
                raise Reject(ResultCode.INVALID_FIELD, f"unknown command {type(command).__name__}")
            data = handler(command)
        except Reject as rej:
            result = CommandResult(seq=seq, code=int(rej.code), message=rej.message)
        else:
            result = CommandResult(seq=seq, code=_OK, data=data, events=self._effects.flush())
        if retry_key is not None and command.actor_id in state.accounts:
            # the answer to a retry: the first result without its events (they happened once)
            answer = _structs_replace(result, events=()) if result.events else result
            state.idempotency[idem_key] = IdempotencyEntry(command=retry_key, result=answer)
        return result

    # -- QUERIES (exchange/queries.py; the API calls them by name: api/gateway.py QUERIES) ----------

    def account(self, account_id: int) -> Account | None:
        return self.queries.account(account_id)

    def balances(self, account_id: int) -> dict[str, int] | None:
        return self.queries.balances(account_id)

    def positions(self, account_id: int) -> list[Position]:
        return self.queries.positions(account_id)

    def order(self, order_id: int) -> Order | None:
        return self.queries.order(order_id)

    def open_orders(self, account_id: int) -> list[Order]:
        return self.queries.open_orders(account_id)

    def instrument(self, symbol: str) -> Instrument | None:
        return self.queries.instrument(symbol)

    def instruments(self) -> list[Instrument]:
        return self.queries.instruments()

    def depth(self, symbol: str, levels: int = 10) -> tuple[list[Any], list[Any]] | None:
        return self.queries.depth(symbol, levels)

    def bookings(self, account_id: int) -> list[Booking]:
        return self.queries.bookings(account_id)

    def capacity(self, supplier_id: int) -> list[Capacity]:
        return self.queries.capacity(supplier_id)

    def index_prices(self, index: str) -> list[tuple[int, int]]:
        return self.queries.index_prices(index)

    def index_price_band(self, index: str) -> tuple[int, int] | None:
        return self.queries.index_price_band(index)

    def index_price_bands(self) -> dict[str, Any]:
        return self.queries.index_price_bands()

    def estimated_settlement_price(self, symbol: str) -> int | None:
        return self.queries.estimated_settlement_price(symbol)

    def system_balances(self) -> dict[str, int]:
        return self.queries.system_balances()

    # -- STATE HASH, SNAPSHOT (exchange/snapshot.py) ------------------------------------------------

    def state_hash(self, journal: bool = True) -> str:
        """Hex SHA-256 of the whole state and every book; `journal=False` leaves out last_seq and
        the idempotency answers (the business state, which a refused command never changes)."""
        return state_hash(self.config, self.state, self._books, journal)

    def snapshot(self) -> bytes:
        steps = self.snapshot_in_steps()
        while not steps.step():
            pass
        return b"".join(steps.parts())

    def snapshot_in_steps(self) -> SnapshotInSteps:
        """A snapshot of the state as it is now, to be encoded a chunk at a time in between
        commands (DurableExchange does one step per group commit)."""
        return snapshot_in_steps(self.config, self.state, self._books)

    @classmethod
    def restore(cls, data: bytes, book_factory: BookFactory | None = None) -> Sequencer:
        config, state, book_snapshots = decode_snapshot(data)
        factory = book_factory if book_factory is not None else default_book_factory()
        books = {symbol: factory.restore(book_snapshots[symbol]) for symbol in state.instruments}
        return cls(config, factory, state=state, books=books)

    # -- AUDIT --------------------------------------------------------------------------------------

    def audit(self) -> list[str]:
        """Every breach of the in-memory invariants (exchange/invariants.py); empty: sound."""
        from exchange.invariants import audit

        return audit(self.state, self._books, self._open_orders_by_account, self._risk.positions_by_account)


__all__ = ["Sequencer", "default_book_factory", "SETTLEMENT"]
