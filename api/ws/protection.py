"""Market-maker protection (MMP): a maker's quotes on an underlying are pulled when it trades too
much too fast.

Per account and underlying (the process of a capacity option, the material of a material call,
the give leg's process of a swap) a maker configures `quantity`, `interval_ms` and `frozen_ms`.
The hub reports every trade (this is one of its `TradeListener`s, registered by
`api.ws.start`); when the contracts traded with the account as maker on the
underlying within the last `interval_ms` reach `quantity`, protection triggers:

- every resting order of the account on the underlying's instruments is cancelled (one
  `CancelAll` per symbol, submitted at once, so orders submitted before the trigger are cancelled
  too: the sequencer takes commands in order);
- the account's new orders, amends and quotes on the underlying are refused with MMP_TRIGGERED
  until `frozen_ms` has passed (0: until reset) or the maker sends `mmp_reset`;
- the account's connections are told (`mmp_triggered`).

The state lives in this API process (the one holding the maker's connections): it is a guard of
the maker's own sessions, not an exchange rule, so the sequencer does not know it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.config import ApiSettings
from api.gateway import Gateway, GatewayUnavailable, now_ms
from api.ws.interfaces import AccountNotifier, Underlyings
from api.ws.protocol import MMP_TRIGGERED, WsError, encode
from exchange.commands import CancelAll
from exchange.events import TradeExecuted

log = logging.getLogger(__name__)


@dataclass
class MmpState:
    quantity: int  # contracts; 0: protection off
    interval_ms: int
    frozen_ms: int  # 0: frozen until reset
    # (executed_at, quantity) of the maker trades within the interval
    trades: deque[tuple[int, int]] = field(default_factory=deque)
    traded: int = 0  # contracts in `trades`
    frozen: bool = False
    frozen_until: int | None = None  # ms; None while frozen: until reset

    def is_frozen(self, now: int) -> bool:
        if self.frozen and self.frozen_until is not None and now >= self.frozen_until:
            self.unfreeze()
        return self.frozen

    def unfreeze(self) -> None:
        self.frozen = False
        self.frozen_until = None
        self.trades.clear()
        self.traded = 0

    def add(self, executed_at: int, quantity: int) -> bool:
        """Count one maker trade; True when the limit is reached now."""
        self.trades.append((executed_at, quantity))
        self.traded += quantity
        horizon = executed_at - self.interval_ms
        while self.trades and self.trades[0][0] <= horizon:
            self.traded -= self.trades.popleft()[1]
        return self.traded >= self.quantity


class MarketMakerProtection:
    """MMP of every account trading through this process: a TradeListener of the hub, a
    QuoteGuard of order entry."""

    def __init__(
        self, gateway: Gateway, underlyings: Underlyings, notifier: AccountNotifier, settings: ApiSettings
    ) -> None:
        self.gateway = gateway
        self.underlyings = underlyings  # which instruments a trigger pulls the quotes of
        self.notifier = notifier  # tells the account's connections
        self.settings = settings
        self._states: dict[tuple[int, str], MmpState] = {}
        self._protected: set[int] = set()  # accounts that trade through this process
        self._tasks: set[asyncio.Task[None]] = set()

    def protect(self, account_id: int) -> None:
        """The account trades through a connection of this process: the defaults apply to it."""
        self._protected.add(account_id)

    def _state(self, account_id: int, underlying: str, create: bool) -> MmpState | None:
        state = self._states.get((account_id, underlying))
        if state is None and (create or account_id in self._protected):
            settings = self.settings
            if create or settings.mmp_default_quantity > 0:
                state = MmpState(
                    settings.mmp_default_quantity,
                    settings.mmp_default_interval_ms,
                    settings.mmp_default_frozen_ms,
                )
                self._states[(account_id, underlying)] = state
        return state

    def describe(self, underlying: str, state: MmpState) -> dict[str, Any]:
        return {
            "underlying": underlying,
            "quantity": state.quantity,
            "interval_ms": state.interval_ms,
            "frozen_ms": state.frozen_ms,
            "frozen": state.is_frozen(now_ms()),
            "frozen_until": state.frozen_until,
        }

    def configure(
        self, account_id: int, underlying: str, quantity: int, interval_ms: int, frozen_ms: int
    ) -> dict[str, Any]:
        state = self._state(account_id, underlying, create=True)
        assert state is not None
        state.quantity = quantity
        state.interval_ms = interval_ms
        state.frozen_ms = frozen_ms
        state.trades.clear()
        state.traded = 0
        return self.describe(underlying, state)

    def reset(self, account_id: int, underlying: str) -> dict[str, Any]:
        state = self._state(account_id, underlying, create=True)
        assert state is not None
        state.unfreeze()
        return self.describe(underlying, state)

    def check(self, account_id: int, underlying: str | None) -> None:
        """Raises MMP_TRIGGERED while the account is frozen on the underlying."""
        if underlying is None:
            return
        state = self._states.get((account_id, underlying))
        if state is not None and state.is_frozen(now_ms()):
            until = "until reset" if state.frozen_until is None else f"until {state.frozen_until}"
            raise WsError(MMP_TRIGGERED, f"market-maker protection is frozen on {underlying!r} {until}")

    def any_frozen(self, account_id: int) -> bool:
        now = now_ms()
        return any(
            state.is_frozen(now)
            for (account, _underlying), state in self._states.items()
            if account == account_id
        )

    def on_trade(self, trade: TradeExecuted, underlying: str | None) -> None:
        """TradeListener: every trade, in journal order (synchronously)."""
        if underlying is None:
            return
        account_id = trade.maker_account_id
        state = self._state(account_id, underlying, create=False)
        if state is None or state.quantity <= 0 or state.is_frozen(now_ms()):
            return
        if not state.add(trade.executed_at, trade.quantity):
            return
        traded = state.traded
        state.frozen = True
        state.frozen_until = now_ms() + state.frozen_ms if state.frozen_ms > 0 else None
        state.trades.clear()
        state.traded = 0
        task = asyncio.get_running_loop().create_task(
            self._pull_quotes(account_id, underlying, traded, state.frozen_until)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pull_quotes(
        self, account_id: int, underlying: str, traded: int, frozen_until: int | None
    ) -> None:
        commands = [
            CancelAll(actor_id=account_id, account_id=account_id, symbol=symbol)
            for symbol in self.underlyings.symbols_of(underlying)
        ]
        cancelled = 0
        try:
            results = await self.gateway.submit_many(commands) if commands else []
            cancelled = sum(int(r.data.get("cancelled", 0)) for r in results if r.ok)
        except GatewayUnavailable:
            log.error("market-maker protection: could not cancel account %s on %s", account_id, underlying)
        message = encode(
            {
                "type": "mmp_triggered",
                "underlying": underlying,
                "traded_quantity": traded,
                "frozen_until": frozen_until,
                "cancelled": cancelled,
            }
        )
        self.notifier.push_to_account(account_id, message)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
