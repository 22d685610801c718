"""The sequencer: the single writer of one exchange shard, deterministic and in memory.

Pipeline of one command (`apply`): idempotency -> validate (everything is checked before anything
is mutated; a refusal raises `Reject` and changes nothing but `last_seq`) -> risk hold -> matching
engine -> settle / release -> events. The command's `timestamp` is the only clock. Every command,
refused or not, takes the next `seq`, except a repeated PlaceOrder (same account, same client order
id, same command up to its timestamp), which returns the first result again (its seq, code,
message and data; not its events, which happened once) and takes no seq.

Events of a command: postings, trades, book levels and status changes in the order they happen,
then the absolute new state of every order, position, capacity, booking and balance it touched.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Callable
from typing import Any

import msgspec

from exchange import commands as cmd
from exchange.accounts import ROLES, SYSTEM_ACCOUNT_ID, TRADING_ROLES, Account, Role, is_operator
from exchange.bookings import Booking, BookingStatus
from exchange.capacity import Capacity
from exchange.config import ExchangeConfig
from exchange.events import (
    AccountCreated,
    AutoExerciseDeclined,
    BalanceChanged,
    IndexPricePublished,
    InstrumentListed,
    KillSwitchChanged,
)
from exchange.exercise import ExerciseMixin
from exchange.expiry import ExpiryMixin
from exchange.index_prices import format_cny, format_move, price_band, twap
from exchange.instruments import Instrument, Status, capacity_key, derive_symbol, format_utc, kind_of
from exchange.ledger import ESCROW, EXTERNAL, SETTLEMENT, SYSTEM_LEDGER_ACCOUNTS, LedgerMixin
from exchange.results import CommandResult, ResultCode
from exchange.risk import Reject, RiskMixin, position_event
from exchange.settlement import SettlementMixin, order_event
from exchange.state import IdempotencyEntry, Order, Position, State
from exchange.transfers import TransfersMixin
from matching_engine.codes import INT64_MAX, OrderType, Side, StpMode

SIDES = {"buy": int(Side.BUY), "sell": int(Side.SELL)}
ORDER_TYPES = {
    "limit": int(OrderType.LIMIT),
    "ioc": int(OrderType.IOC),
    "fok": int(OrderType.FOK),
    "post_only": int(OrderType.POST_ONLY),
    "market": int(OrderType.MARKET),
}
STP_MODES = {
    "none": int(StpMode.NONE),
    "cancel_newest": int(StpMode.CANCEL_NEWEST),
    "cancel_oldest": int(StpMode.CANCEL_OLDEST),
    "cancel_both": int(StpMode.CANCEL_BOTH),
}
_POST_ONLY = int(OrderType.POST_ONLY)
# contracts per order: keeps every book side's total far below 2^63 (docs/engine.md)
MAX_ORDER_QUANTITY = 10**12
_BUY = int(Side.BUY)
_OK = int(ResultCode.OK)
_structs_replace = msgspec.structs.replace

_hash_encoder = msgspec.msgpack.Encoder(order="deterministic")
_snapshot_encoder = msgspec.msgpack.Encoder()


SNAPSHOT_VERSION = 2
IDEMPOTENCY_CHUNK = 500  # answers per step of a snapshot (about 1 ms)


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


def default_book_factory() -> Callable[..., Any]:
    """The Cython OrderBook; fails loudly when it is not built (pip install -e .)."""
    try:
        from matching_engine.book import OrderBook
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(
            "matching_engine.book.OrderBook is not built: run `pip install -e . --no-build-isolation`, "
            "or pass book_factory=ReferenceOrderBook"
        ) from exc
    return OrderBook


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


class Sequencer(LedgerMixin, RiskMixin, SettlementMixin, ExerciseMixin, ExpiryMixin, TransfersMixin):
    """Single writer of the exchange state. `book_factory(instrument_id, tick, lot, min_price,
    max_price)` makes a book and `book_factory.restore(bytes)` restores one (docs/engine.md)."""

    def __init__(self, config: ExchangeConfig | None = None, book_factory: Any = None) -> None:
        self.config = config or ExchangeConfig()
        self._book_factory = book_factory if book_factory is not None else default_book_factory()
        self.state = State(system_balances={name: 0 for name in SYSTEM_LEDGER_ACCOUNTS})
        self._books: dict[str, Any] = {}
        self._open_by_account: dict[int, dict[int, Order]] = {}
        self._positions_by_account: dict[int, dict[str, Position]] = {}
        self._fee_lock = self.config.fee_lock
        self._events: list = []
        self._dirty_accounts: dict[int, Account] = {}
        self._dirty_orders: dict[int, Order] = {}
        self._dirty_positions: dict[int, Position] = {}
        self._dirty_capacity: dict[int, Capacity] = {}
        self._dirty_bookings: dict[int, Booking] = {}
        self._reset_command(0, 0)
        self._handlers: dict[type, Callable[[Any], dict]] = {
            cmd.CreateAccount: self._create_account,
            cmd.Deposit: self._deposit,
            cmd.Withdraw: self._withdraw,
            cmd.TransferCash: self._transfer_cash,
            cmd.TransferPosition: self._transfer_position,
            cmd.SetKillSwitch: self._set_kill_switch,
            cmd.ListInstrument: self._list_instrument,
            cmd.HaltInstrument: self._halt,
            cmd.ResumeInstrument: self._resume,
            cmd.PlaceOrder: self._place,
            cmd.CancelOrder: self._cancel,
            cmd.AmendOrder: self._amend,
            cmd.CancelAll: self._cancel_all,
            cmd.RegisterCapacity: self._register_capacity,
            cmd.Exercise: self._exercise,
            cmd.DeclineAutoExercise: self._decline,
            cmd.ConfirmBooking: self._confirm_booking,
            cmd.MarkSupplierDefault: self._mark_default,
            cmd.PublishIndexPrice: self._publish_index_price,
            cmd.RunExpiry: self._run_expiry,
        }

    # -- APPLY ------------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self.state.last_seq

    def _reset_command(self, seq: int, ts: int) -> None:
        self._seq = seq
        self._ts = ts
        self._events = []
        if self._dirty_accounts:
            self._dirty_accounts.clear()
        if self._dirty_orders:
            self._dirty_orders.clear()
        if self._dirty_positions:
            self._dirty_positions.clear()
        if self._dirty_capacity:
            self._dirty_capacity.clear()
        if self._dirty_bookings:
            self._dirty_bookings.clear()

    def apply(self, command: cmd.Command) -> CommandResult:
        """Apply one command; the result carries its seq, code and events."""
        state = self.state
        idem_key = None
        if type(command) is cmd.PlaceOrder:
            idem_key = f"{command.actor_id}:{command.client_order_id}"
            entry = state.idempotency.get(idem_key)
            if entry is not None:
                if _structs_replace(command, timestamp=0) == entry.command:
                    return entry.result
                seq = state.last_seq = state.last_seq + 1
                return CommandResult(
                    seq=seq,
                    code=ResultCode.DUPLICATE_CLIENT_ORDER_ID,
                    message=f"client order id {command.client_order_id!r} was used for another command",
                )
        seq = state.last_seq + 1
        state.last_seq = seq
        self._reset_command(seq, command.timestamp)
        handler = self._handlers.get(type(command))
        try:
            if handler is None:
                raise Reject(ResultCode.INVALID_FIELD, f"unknown command {type(command).__name__}")
            data = handler(command)
        except Reject as rej:
            result = CommandResult(seq=seq, code=int(rej.code), message=rej.message)
        else:
            result = CommandResult(seq=seq, code=_OK, data=data, events=self._flush())
        if idem_key is not None and command.actor_id in state.accounts:
            # the answer to a retry: the first result without its events (they happened once)
            answer = _structs_replace(result, events=()) if result.events else result
            state.idempotency[idem_key] = IdempotencyEntry(
                command=_structs_replace(command, timestamp=0), result=answer
            )
        return result

    def _flush(self) -> tuple:
        events = self._events
        for o in self._dirty_orders.values():
            events.append(order_event(o))
        for pos in self._dirty_positions.values():
            events.append(position_event(pos))
        for cap in self._dirty_capacity.values():
            events.append(cap.event())
        for booking in self._dirty_bookings.values():
            events.append(booking.event())
        for a in self._dirty_accounts.values():
            events.append(BalanceChanged(account_id=a.account_id, available=a.available, locked=a.locked))
        return tuple(events)

    # -- VALIDATION HELPERS ---------------------------------------------------------------------

    def _require_account(self, account_id: int) -> Account:
        account = self.state.accounts.get(account_id)
        if account is None:
            raise Reject(ResultCode.UNKNOWN_ACCOUNT, f"unknown account {account_id}")
        return account

    def _require_actor(self, actor_id: int) -> Account | None:
        """The actor must exist (the system account 0 always does); returns None for the system."""
        if actor_id == SYSTEM_ACCOUNT_ID:
            return None
        return self._require_account(actor_id)

    def _require_operator(self, actor_id: int) -> None:
        account = self._require_actor(actor_id)
        if not is_operator(actor_id, account):
            raise Reject(ResultCode.NOT_PERMITTED, "operators only")

    def _require_instrument(self, symbol: str) -> Instrument:
        inst = self.state.instruments.get(symbol)
        if inst is None:
            raise Reject(ResultCode.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol!r}")
        return inst

    def _require_tradable(self, inst: Instrument, ts: int) -> None:
        status = inst.status
        if status == Status.TRADING or (status == Status.PENDING and ts >= inst.trading_start):
            if ts < inst.expiry:
                return
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} has expired")
        raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {status}")

    def _check_price_quantity(self, inst: Instrument, price: int, quantity: int) -> None:
        if quantity <= 0:
            raise Reject(ResultCode.MATCHING_INVALID_QUANTITY, "quantity must be > 0")
        if quantity % inst.lot:
            raise Reject(ResultCode.MATCHING_QUANTITY_OFF_LOT, f"quantity is not a multiple of {inst.lot}")
        if price % inst.tick:
            raise Reject(ResultCode.MATCHING_PRICE_OFF_TICK, f"price is not a multiple of {inst.tick}")
        if price < inst.min_price or price > inst.max_price:
            raise Reject(
                ResultCode.MATCHING_PRICE_OUT_OF_BAND, f"price outside [{inst.min_price}, {inst.max_price}]"
            )
        if abs(price) * quantity > INT64_MAX or quantity > MAX_ORDER_QUANTITY:
            raise Reject(ResultCode.MATCHING_NOTIONAL_OVERFLOW, "price * quantity or quantity too large")

    def _fat_finger_band(self, inst: Instrument) -> tuple[int, int] | None:
        """(lowest, highest) acceptable order price, or None when there is no reference yet.

        MAT with a published index price: from the index-implied value (intrinsic value per
        contract, min(max(S - K, 0), cap - K) * units, S the latest index price) minus the
        tolerance, up to the most a contract can ever pay, (cap - K) * units. Otherwise: the last
        trade price plus or minus the tolerance. Tolerance: fat_finger_percent of the reference,
        at least fat_finger_min_ticks ticks."""
        config = self.config
        if not config.fat_finger_percent:
            return None
        min_deviation = config.fat_finger_min_ticks * inst.tick
        if inst.kind == "MAT":
            points = self.state.index_prices.get(inst.terms.index)
            if points:
                terms = inst.terms
                max_payoff = (terms.cap - terms.strike) * terms.units_per_contract
                intrinsic = min(max(points[-1][1] - terms.strike, 0) * terms.units_per_contract, max_payoff)
                return intrinsic - max(
                    intrinsic * config.fat_finger_percent // 100, min_deviation
                ), max_payoff
        reference = inst.last_trade_price
        if reference is None:
            return None
        deviation = max(abs(reference) * config.fat_finger_percent // 100, min_deviation)
        return reference - deviation, reference + deviation

    def _check_fat_finger(self, inst: Instrument, price: int) -> None:
        band = self._fat_finger_band(inst)
        if band is not None and not band[0] <= price <= band[1]:
            raise Reject(
                ResultCode.FAT_FINGER,
                f"price {price} is outside the fat-finger band [{band[0]}, {band[1]}] of {inst.symbol}",
            )

    def _check_post_only(self, book: Any, side: int, price: int) -> None:
        if side == _BUY:
            best = book.best_ask()
            if best is not None and price >= best[0]:
                raise Reject(ResultCode.MATCHING_WOULD_CROSS, "a post-only buy would cross")
        else:
            best = book.best_bid()
            if best is not None and price <= best[0]:
                raise Reject(ResultCode.MATCHING_WOULD_CROSS, "a post-only sell would cross")

    def _promote(self, inst: Instrument) -> None:
        if inst.status == Status.PENDING:
            self._set_status(inst, Status.TRADING)

    # -- ACCOUNTS AND CASH -----------------------------------------------------------------------

    def _create_account(self, c: cmd.CreateAccount) -> dict:
        self._require_operator(c.actor_id)
        if c.role not in ROLES:
            raise Reject(ResultCode.INVALID_FIELD, f"unknown role {c.role!r}")
        if not c.name:
            raise Reject(ResultCode.INVALID_FIELD, "name must not be empty")
        aid = self.state.next_account_id
        self.state.next_account_id = aid + 1
        self.state.accounts[aid] = Account(account_id=aid, name=c.name, role=c.role, created_at=c.timestamp)
        self._open_by_account[aid] = {}
        self._events.append(AccountCreated(account_id=aid, name=c.name, role=c.role))
        self._events.append(BalanceChanged(account_id=aid, available=0, locked=0))
        return {"account_id": aid}

    def _deposit(self, c: cmd.Deposit) -> dict:
        self._require_operator(c.actor_id)
        account = self._require_account(c.account_id)
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        # All cash inside the exchange came in by deposit, so bounding the total bounds every
        # balance, lock and posting below 2^63 (the BIGINT columns of the store).
        cash_inside = -self.state.system_balances[EXTERNAL]
        if c.amount > INT64_MAX - cash_inside:
            raise Reject(ResultCode.INVALID_FIELD, f"the exchange can hold at most {INT64_MAX} fen in all")
        self.state.system_balances[EXTERNAL] -= c.amount
        account.available += c.amount
        self._dirty_accounts[account.account_id] = account
        self._post(EXTERNAL, f"user:{account.account_id}:available", c.amount, "deposit")
        return {}

    def _withdraw(self, c: cmd.Withdraw) -> dict:
        self._require_operator(c.actor_id)
        account = self._require_account(c.account_id)
        if c.amount <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "amount must be > 0")
        if account.available < c.amount:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"available {account.available} < {c.amount}")
        self._user_to_system(account, 0, EXTERNAL, c.amount, "withdrawal")
        return {}

    def _set_kill_switch(self, c: cmd.SetKillSwitch) -> dict:
        actor = self._require_actor(c.actor_id)
        target = self._require_account(c.account_id)
        if c.actor_id != c.account_id and not is_operator(c.actor_id, actor):
            raise Reject(ResultCode.NOT_PERMITTED, "only the account itself or an operator")
        cancelled = 0
        if c.engaged:
            cancelled = self._mass_cancel(target.account_id, None)
        target.kill_switch = c.engaged
        self._events.append(KillSwitchChanged(account_id=target.account_id, engaged=c.engaged))
        return {"cancelled": cancelled}

    # -- INSTRUMENTS ------------------------------------------------------------------------------

    def _list_instrument(self, c: cmd.ListInstrument) -> dict:
        self._require_operator(c.actor_id)
        t = c.terms
        if c.tick <= 0 or c.lot <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "tick and lot must be > 0")
        if c.min_price > c.max_price or c.min_price % c.tick or c.max_price % c.tick:
            raise Reject(ResultCode.INVALID_FIELD, "min_price <= max_price, both multiples of the tick")
        if c.expiry <= c.trading_start:
            raise Reject(ResultCode.INVALID_FIELD, "expiry must be after trading_start")
        kind = kind_of(t)
        collateral = 0
        cap_key = ""
        if kind != "SWP" and c.min_price < 0:
            raise Reject(ResultCode.INVALID_FIELD, "premiums are not negative")
        if isinstance(t, cmd.CapacityOptionTerms):
            if not t.process or "|" in t.process:
                raise Reject(ResultCode.INVALID_FIELD, "bad process name")
            if t.window_start >= t.window_end or t.strike < 0 or t.units_per_contract <= 0:
                raise Reject(ResultCode.INVALID_FIELD, "window_start < window_end, strike >= 0, units > 0")
            if t.exercise_deadline > t.window_start or c.expiry != t.exercise_deadline:
                raise Reject(ResultCode.INVALID_FIELD, "expiry == exercise_deadline <= window_start")
            collateral = t.units_per_contract
            cap_key = capacity_key(0, t.process, t.window_start, t.window_end).split("|", 1)[1]
        elif isinstance(t, cmd.MaterialCallTerms):
            if not t.index or not t.material:
                raise Reject(ResultCode.INVALID_FIELD, "index and material must not be empty")
            if not 0 <= t.strike < t.cap or t.units_per_contract <= 0:
                raise Reject(ResultCode.INVALID_FIELD, "0 <= strike < cap, units > 0")
            if t.settlement_window_start >= c.expiry:
                raise Reject(ResultCode.INVALID_FIELD, "settlement_window_start must be before expiry")
            if not self.state.index_prices.get(t.index):
                raise Reject(
                    ResultCode.UNKNOWN_INDEX,
                    f"index {t.index!r} is unknown: no price has been published for it; publish "
                    "one before listing a material call on it",
                )
            collateral = (t.cap - t.strike) * t.units_per_contract
        else:
            legs = []
            for leg_symbol in (t.give_symbol, t.receive_symbol):
                leg = self.state.instruments.get(leg_symbol)
                if leg is None or leg.kind != "CAP":
                    raise Reject(
                        ResultCode.UNKNOWN_INSTRUMENT, f"{leg_symbol!r} is not a listed capacity option"
                    )
                if leg.status in (Status.EXPIRED, Status.SETTLED):
                    raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{leg_symbol} is {leg.status}")
                legs.append(leg)
            if legs[0] is legs[1] or legs[0].terms.process != legs[1].terms.process:
                raise Reject(ResultCode.INVALID_FIELD, "two different legs of the same process")
            if c.expiry > min(leg.expiry for leg in legs):
                raise Reject(ResultCode.INVALID_FIELD, "a swap expires no later than its legs")
        symbol = derive_symbol(t, c.expiry)
        if symbol in self.state.instruments:
            raise Reject(ResultCode.DUPLICATE_SYMBOL, f"{symbol} is already listed")
        iid = self.state.next_instrument_id
        self.state.next_instrument_id = iid + 1
        status = Status.TRADING if c.timestamp >= c.trading_start else Status.PENDING
        inst = Instrument(
            symbol=symbol,
            instrument_id=iid,
            kind=kind,
            terms=t,
            tick=c.tick,
            lot=c.lot,
            min_price=c.min_price,
            max_price=c.max_price,
            trading_start=c.trading_start,
            expiry=c.expiry,
            status=status,
            listed_at=c.timestamp,
            collateral_per_contract=collateral,
            capacity_key=cap_key,
        )
        self._books[symbol] = self._book_factory(iid, c.tick, c.lot, c.min_price, c.max_price)
        self.state.instruments[symbol] = inst
        self.state.positions[symbol] = {}
        self._events.append(
            InstrumentListed(
                symbol=symbol,
                kind=kind,
                terms_json=msgspec.json.encode(t).decode(),
                tick=c.tick,
                lot=c.lot,
                min_price=c.min_price,
                max_price=c.max_price,
                trading_start=c.trading_start,
                expiry=c.expiry,
                status=status,
            )
        )
        return {"symbol": symbol}

    def _halt(self, c: cmd.HaltInstrument) -> dict:
        self._require_operator(c.actor_id)
        inst = self._require_instrument(c.symbol)
        if inst.status in (Status.EXPIRED, Status.SETTLED):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        if inst.status != Status.HALTED:
            self._set_status(inst, Status.HALTED)
        return {}

    def _resume(self, c: cmd.ResumeInstrument) -> dict:
        self._require_operator(c.actor_id)
        inst = self._require_instrument(c.symbol)
        if inst.status in (Status.EXPIRED, Status.SETTLED):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        if inst.status == Status.HALTED:
            self._set_status(inst, Status.TRADING if c.timestamp >= inst.trading_start else Status.PENDING)
        return {}

    # -- ORDERS -----------------------------------------------------------------------------------

    def _trader(self, actor_id: int) -> Account:
        account = self.state.accounts.get(actor_id)
        if account is None:
            raise Reject(ResultCode.UNKNOWN_ACCOUNT, f"unknown account {actor_id}")
        if account.role not in TRADING_ROLES:
            raise Reject(ResultCode.NOT_PERMITTED, f"a {account.role} account does not trade")
        if account.kill_switch:
            raise Reject(ResultCode.KILL_SWITCH_ENGAGED, "the kill switch is engaged")
        return account

    def _reserve_target(self, inst: Instrument, side: int) -> tuple[Instrument | None, bool]:
        """The instrument whose position an order of `side` reserves, and whether it is a swap leg."""
        if inst.kind == "SWP":
            leg_symbol = inst.terms.give_symbol if side == _BUY else inst.terms.receive_symbol
            leg = self.state.instruments[leg_symbol]
            if leg.status in (Status.EXPIRED, Status.SETTLED, Status.HALTED):
                raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"leg {leg_symbol} is {leg.status}")
            return leg, True
        if side == _BUY:
            return None, False
        return inst, False

    def _place(self, c: cmd.PlaceOrder) -> dict:
        account = self._trader(c.actor_id)
        inst = self.state.instruments.get(c.symbol)
        if inst is None:
            raise Reject(ResultCode.UNKNOWN_INSTRUMENT, f"unknown instrument {c.symbol!r}")
        side = SIDES.get(c.side)
        order_type = ORDER_TYPES.get(c.order_type)
        stp = STP_MODES.get(c.stp)
        if side is None or order_type is None or stp is None or not c.client_order_id:
            raise Reject(ResultCode.INVALID_FIELD, "side, order_type, stp or client_order_id is invalid")
        ts = c.timestamp
        if inst.status != Status.TRADING or ts >= inst.expiry:
            self._require_tradable(inst, ts)
        price = c.price
        quantity = c.quantity
        self._check_price_quantity(inst, price, quantity)
        self._check_fat_finger(inst, price)
        book = self._books[inst.symbol]
        if order_type == _POST_ONLY:
            self._check_post_only(book, side, price)
        lock_per = (price if side == _BUY else -price) if (price if side == _BUY else -price) > 0 else 0
        lock_per += self._fee_lock
        order_cash = lock_per * quantity
        cash = order_cash
        reserve_inst, swap_leg = self._reserve_target(inst, side)
        if reserve_inst is not None:
            cash += self._check_reserve(account, reserve_inst, quantity, swap_leg)
        if cash > account.available:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"{cash} needed, {account.available} available")
        # -- mutation --
        if inst.status == Status.PENDING:
            self._promote(inst)
        state = self.state
        oid = state.next_order_id
        state.next_order_id = oid + 1
        o = Order(
            order_id=oid,
            client_order_id=c.client_order_id,
            account_id=account.account_id,
            symbol=inst.symbol,
            side=side,
            order_type=c.order_type,
            stp=c.stp,
            price=price,
            quantity=quantity,
            open_quantity=quantity,
            filled_quantity=0,
            status="open",
            created_at=ts,
            updated_at=ts,
            lock_per=lock_per,
            reserve_symbol=reserve_inst.symbol if reserve_inst is not None else "",
        )
        state.orders[oid] = o
        self._open_by_account[account.account_id][oid] = o
        self._dirty_orders[oid] = o
        self._lock(account, order_cash, f"order {oid}")
        if reserve_inst is not None:
            self._reserve(account.account_id, reserve_inst, quantity)
        self._apply_book_events(
            inst, book.place(oid, account.account_id, side, price, quantity, order_type, stp)
        )
        if o.status == "filled":
            self._close_order(o)
        return {"order_id": oid}

    def _owned_order(self, order_id: int, actor_id: int, operators_too: bool) -> Order:
        o = self.state.orders.get(order_id)
        if o is None:
            raise Reject(ResultCode.UNKNOWN_ORDER, f"order {order_id} is not open")
        if o.account_id != actor_id:
            actor = self._require_actor(actor_id)
            if not (operators_too and is_operator(actor_id, actor)):
                raise Reject(ResultCode.NOT_YOUR_ORDER, f"order {order_id} belongs to another account")
        return o

    def _cancel(self, c: cmd.CancelOrder) -> dict:
        o = self._owned_order(c.order_id, c.actor_id, True)
        inst = self.state.instruments[o.symbol]
        self._apply_book_events(inst, self._books[o.symbol].cancel(o.order_id, o.account_id))
        return {"order_id": o.order_id}

    def _amend(self, c: cmd.AmendOrder) -> dict:
        o = self._owned_order(c.order_id, c.actor_id, False)
        account = self._trader(c.actor_id)
        inst = self.state.instruments[o.symbol]
        self._require_tradable(inst, c.timestamp)
        price = c.price
        quantity = c.quantity
        self._check_price_quantity(inst, price, quantity)
        if price != o.price:
            self._check_fat_finger(inst, price)
        book = self._books[o.symbol]
        if o.order_type == "post_only" and (price != o.price or quantity > o.open_quantity):
            self._check_post_only(book, o.side, price)
        signed = price if o.side == _BUY else -price
        lock_per = (signed if signed > 0 else 0) + self._fee_lock
        cash_delta = lock_per * quantity - o.lock_per * o.open_quantity
        extra = quantity - o.open_quantity
        reserve_inst = self.state.instruments[o.reserve_symbol] if o.reserve_symbol else None
        cover_cash = 0
        if reserve_inst is not None and extra > 0:
            if reserve_inst.kind == "CAP" and reserve_inst.status in (Status.EXPIRED, Status.SETTLED):
                raise Reject(
                    ResultCode.INSTRUMENT_NOT_TRADING, f"{reserve_inst.symbol} is {reserve_inst.status}"
                )
            cover_cash = self._check_reserve(account, reserve_inst, extra, inst.kind == "SWP")
        if cash_delta + cover_cash > account.available:
            raise Reject(ResultCode.INSUFFICIENT_FUNDS, f"{cash_delta + cover_cash} more needed")
        # -- mutation --
        self._promote(inst)
        if cash_delta > 0:
            self._lock(account, cash_delta, f"order {o.order_id} amended")
        elif cash_delta < 0:
            self._release(account, -cash_delta, f"order {o.order_id} amended")
        if reserve_inst is not None and extra:
            if extra > 0:
                self._reserve(account.account_id, reserve_inst, extra)
            else:
                self._unreserve(account.account_id, reserve_inst, -extra)
        o.price = price
        o.lock_per = lock_per
        o.open_quantity = quantity
        o.quantity = o.filled_quantity + quantity
        o.updated_at = c.timestamp
        self._dirty_orders[o.order_id] = o
        self._apply_book_events(inst, book.amend(o.order_id, o.account_id, price, quantity))
        if o.status == "filled" and o.order_id in self.state.orders:
            self._close_order(o)
        return {"order_id": o.order_id}

    def _mass_cancel(self, account_id: int, symbol: str | None) -> int:
        open_orders = self._open_by_account.get(account_id, {})
        symbols = sorted({o.symbol for o in open_orders.values() if symbol is None or o.symbol == symbol})
        before = len(open_orders)
        for sym in symbols:
            self._apply_book_events(self.state.instruments[sym], self._books[sym].mass_cancel(account_id))
        return before - len(open_orders)

    def _cancel_all(self, c: cmd.CancelAll) -> dict:
        actor = self._require_actor(c.actor_id)
        target = self._require_account(c.account_id)
        if c.actor_id != c.account_id and not is_operator(c.actor_id, actor):
            raise Reject(ResultCode.NOT_PERMITTED, "only the account itself or an operator")
        if c.symbol is not None:
            self._require_instrument(c.symbol)
        return {"cancelled": self._mass_cancel(target.account_id, c.symbol)}

    # -- CAPACITY, EXERCISE, BOOKINGS ---------------------------------------------------------------

    def _register_capacity(self, c: cmd.RegisterCapacity) -> dict:
        supplier = self._require_account(c.actor_id)
        if supplier.role != Role.SUPPLIER:
            raise Reject(ResultCode.NOT_PERMITTED, "only suppliers register capacity")
        if not c.process or "|" in c.process or c.window_start >= c.window_end or c.units <= 0:
            raise Reject(ResultCode.INVALID_FIELD, "process, window_start < window_end, units > 0")
        if c.window_end <= c.timestamp:
            raise Reject(
                ResultCode.INVALID_FIELD,
                f"window_end {format_utc(c.window_end)} is not after the exchange's time "
                f"{format_utc(c.timestamp)}: the window has ended",
            )
        key = capacity_key(supplier.account_id, c.process, c.window_start, c.window_end)
        cap = self.state.capacity.get(key)
        if cap is None:
            cap = self.state.capacity[key] = Capacity(
                supplier_id=supplier.account_id,
                process=c.process,
                window_start=c.window_start,
                window_end=c.window_end,
            )
        cap.registered += c.units
        self._dirty_capacity[id(cap)] = cap
        return {}

    def _decline(self, c: cmd.DeclineAutoExercise) -> dict:
        account = self._require_account(c.actor_id)
        inst = self._require_instrument(c.symbol)
        if inst.kind != "MAT":
            raise Reject(ResultCode.NOT_EXERCISABLE, f"{inst.symbol} is not a material call")
        if inst.status in (Status.EXPIRED, Status.SETTLED):
            raise Reject(ResultCode.INSTRUMENT_NOT_TRADING, f"{inst.symbol} is {inst.status}")
        pos = self._find_position(account.account_id, inst.symbol)
        if pos is None or pos.position <= 0:
            raise Reject(ResultCode.NOT_EXERCISABLE, "no long position")
        pos.decline_auto_exercise = True
        self._events.append(AutoExerciseDeclined(account_id=account.account_id, symbol=inst.symbol))
        return {}

    def _confirm_booking(self, c: cmd.ConfirmBooking) -> dict:
        actor = self._require_actor(c.actor_id)
        booking = self.state.bookings.get(c.booking_id)
        if booking is None:
            raise Reject(ResultCode.UNKNOWN_BOOKING, f"unknown booking {c.booking_id}")
        operator = is_operator(c.actor_id, actor)
        if c.milestone == "confirmed":
            if c.actor_id != booking.supplier_id and not operator:
                raise Reject(ResultCode.NOT_PERMITTED, "the booking's supplier confirms")
            if booking.status != BookingStatus.CONFIRMED_PENDING:
                raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
            amount = booking.escrow_total * self.config.booking_confirm_release_percent // 100
            self._system_to_user(
                ESCROW,
                self.state.accounts[booking.supplier_id],
                amount,
                f"booking {booking.booking_id} confirmed",
            )
            booking.released_to_supplier += amount
            booking.status = BookingStatus.CONFIRMED
            booking.updated_at = c.timestamp
            self._dirty_bookings[booking.booking_id] = booking
        elif c.milestone == "delivered":
            if c.actor_id != booking.creator_id and not operator:
                raise Reject(ResultCode.NOT_PERMITTED, "the booking's creator confirms delivery")
            if booking.status != BookingStatus.CONFIRMED:
                raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
            self._deliver_booking(booking)
        else:
            raise Reject(ResultCode.INVALID_FIELD, "milestone is 'confirmed' or 'delivered'")
        return {"booking_id": booking.booking_id}

    def _mark_default(self, c: cmd.MarkSupplierDefault) -> dict:
        self._require_operator(c.actor_id)
        booking = self.state.bookings.get(c.booking_id)
        if booking is None:
            raise Reject(ResultCode.UNKNOWN_BOOKING, f"unknown booking {c.booking_id}")
        if booking.status not in (BookingStatus.CONFIRMED_PENDING, BookingStatus.CONFIRMED):
            raise Reject(ResultCode.BOOKING_STATE, f"booking is {booking.status}")
        refund = booking.escrow_held
        self._system_to_user(
            ESCROW, self.state.accounts[booking.creator_id], refund, f"booking {booking.booking_id} default"
        )
        booking.refunded_to_creator += refund
        booking.status = BookingStatus.DEFAULTED
        booking.updated_at = c.timestamp
        self._dirty_bookings[booking.booking_id] = booking
        return {"booking_id": booking.booking_id}

    # -- MARKET OPERATIONS ------------------------------------------------------------------------

    def _publish_index_price(self, c: cmd.PublishIndexPrice) -> dict:
        actor = self._require_actor(c.actor_id)
        if not (is_operator(c.actor_id, actor) or actor.role == Role.INDEX_FEED):
            raise Reject(ResultCode.NOT_PERMITTED, "operators and index feeds only")
        if not c.index or c.price < 0:
            raise Reject(ResultCode.INVALID_FIELD, "index must not be empty, price >= 0")
        points = self.state.index_prices.get(c.index)
        if points and points[-1][0] > c.timestamp:
            raise Reject(ResultCode.INVALID_FIELD, "an index price older than the latest one")
        band = self.index_price_band(c.index)
        if band is not None and not c.confirm_large_move and not band[0] <= c.price <= band[1]:
            last = points[-1][1]
            move = f"moves {format_move(c.price, last)} from" if last else "moves away from"
            raise Reject(
                ResultCode.INDEX_PRICE_BAND,
                f"index price {format_cny(c.price)} of {c.index} {move} the last {format_cny(last)} "
                f"(band ±{self.config.index_price_band_percent}%: {format_cny(band[0])} – "
                f"{format_cny(band[1])}); send confirm_large_move=true if intended",
            )
        if points is None:
            points = self.state.index_prices[c.index] = []
        points.append((c.timestamp, c.price))
        self._events.append(IndexPricePublished(index=c.index, price=c.price, published_at=c.timestamp))
        return {}

    # -- QUERIES ----------------------------------------------------------------------------------

    def account(self, account_id: int) -> Account | None:
        a = self.state.accounts.get(account_id)
        return _structs_replace(a) if a is not None else None

    def balances(self, account_id: int) -> dict[str, int] | None:
        a = self.state.accounts.get(account_id)
        return None if a is None else {"available": a.available, "locked": a.locked}

    def positions(self, account_id: int) -> list[Position]:
        by_symbol = self._positions_by_account.get(account_id, {})
        return [_structs_replace(by_symbol[s]) for s in sorted(by_symbol)]

    def order(self, order_id: int) -> Order | None:
        """An open order (closed ones live in the store's projections)."""
        o = self.state.orders.get(order_id)
        return _structs_replace(o) if o is not None else None

    def open_orders(self, account_id: int) -> list[Order]:
        orders = self._open_by_account.get(account_id, {})
        return [_structs_replace(orders[i]) for i in sorted(orders)]

    def instrument(self, symbol: str) -> Instrument | None:
        inst = self.state.instruments.get(symbol)
        return _structs_replace(inst) if inst is not None else None

    def instruments(self) -> list[Instrument]:
        return [_structs_replace(self.state.instruments[s]) for s in sorted(self.state.instruments)]

    def depth(self, symbol: str, levels: int = 10) -> tuple[list, list] | None:
        """(bids, asks), best first, each level (price, quantity, order_count)."""
        book = self._books.get(symbol)
        return None if book is None else book.depth(levels)

    def bookings(self, account_id: int) -> list[Booking]:
        """Bookings where the account is the creator or the supplier, by id."""
        b = self.state.bookings
        return [
            _structs_replace(b[i]) for i in sorted(b) if account_id in (b[i].creator_id, b[i].supplier_id)
        ]

    def capacity(self, supplier_id: int) -> list[Capacity]:
        caps = [c for c in self.state.capacity.values() if c.supplier_id == supplier_id]
        caps.sort(key=lambda c: (c.process, c.window_start, c.window_end))
        return [_structs_replace(c) for c in caps]

    def index_prices(self, index: str) -> list[tuple[int, int]]:
        return list(self.state.index_prices.get(index, []))

    def index_price_band(self, index: str) -> tuple[int, int] | None:
        """(lowest, highest) price of `index` publishable without confirm_large_move: within
        index_price_band_percent of its last price. None when any price is: no price yet (the
        first publication has no band) or the band is off (0 percent)."""
        points = self.state.index_prices.get(index)
        percent = self.config.index_price_band_percent
        if not points or not percent:
            return None
        return price_band(points[-1][1], percent)

    def index_price_bands(self) -> dict[str, Any]:
        """{"percent": the band, "bands": {index: (lowest, highest)}} for every published index
        (empty when the band is off); see index_price_band."""
        bands = {}
        for index in sorted(self.state.index_prices):
            band = self.index_price_band(index)
            if band is not None:
                bands[index] = band
        return {"percent": self.config.index_price_band_percent, "bands": bands}

    def estimated_settlement_price(self, symbol: str) -> int | None:
        """MAT: the TWAP from the settlement window start to the latest published time (the frozen
        settlement price once settled); None before any price."""
        inst = self.state.instruments.get(symbol)
        if inst is None or inst.kind != "MAT":
            return None
        if inst.settlement_price is not None:
            return inst.settlement_price
        points = self.state.index_prices.get(inst.terms.index, [])
        if not points:
            return None
        end = min(points[-1][0], inst.expiry)
        start = inst.terms.settlement_window_start
        return twap(points, start, max(end, start))

    def system_balances(self) -> dict[str, int]:
        return dict(sorted(self.state.system_balances.items()))

    # -- STATE HASH, SNAPSHOT -----------------------------------------------------------------------

    def state_hash(self, journal: bool = True) -> str:
        """Hex SHA-256 of the canonical encoding of the whole state (sorted keys) and every book's
        snapshot. `journal=False` leaves out what only the journal moves (last_seq and the
        idempotency answers): the business state, which a refused command never changes."""
        st = self.state
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
        h.update(_hash_encoder.encode(self.config))
        h.update(_hash_encoder.encode(canonical))
        for symbol in sorted(self._books):
            h.update(symbol.encode())
            h.update(self._books[symbol].snapshot())
        return h.hexdigest()

    def snapshot(self) -> bytes:
        steps = self.snapshot_in_steps()
        while not steps.step():
            pass
        return b"".join(steps.parts())

    def snapshot_in_steps(self) -> SnapshotInSteps:
        """A snapshot of the state as it is now, to be encoded a chunk at a time in between
        commands (DurableExchange does one step per group commit)."""
        state = self.state
        head = _Snapshot(
            version=SNAPSHOT_VERSION,
            config=self.config,
            state=_structs_replace(state, idempotency={}),
            books={s: self._books[s].snapshot() for s in state.instruments},
        )
        return SnapshotInSteps(_snapshot_encoder.encode(head), state.idempotency)

    @classmethod
    def restore(cls, data: bytes, book_factory: Any = None) -> Sequencer:
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
        seq = cls(snap.config, book_factory)
        seq.state = snap.state
        for symbol in snap.state.instruments:
            seq._books[symbol] = seq._book_factory.restore(snap.books[symbol])
        for aid in snap.state.accounts:
            seq._open_by_account[aid] = {}
        for oid, o in snap.state.orders.items():
            seq._open_by_account[o.account_id][oid] = o
        for symbol, by_account in snap.state.positions.items():
            for aid, pos in by_account.items():
                seq._positions_by_account.setdefault(aid, {})[symbol] = pos
        return seq

    # -- AUDIT --------------------------------------------------------------------------------------

    def audit(self) -> list[str]:
        from exchange.invariants import audit

        return audit(self)


__all__ = ["Sequencer", "default_book_factory", "SETTLEMENT"]
