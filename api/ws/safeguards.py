"""The safeguards a connection sets on its account (docs/market-data.md, "Safeguards"):
cancel-on-disconnect, the dead-man's switch, and the market-maker protection ops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from api.deps import Principal
from api.gateway import Gateway, GatewayUnavailable, now_ms
from api.ws.protection import MarketMakerProtection
from api.ws.protocol import CancelAllAfter, CancelOnDisconnect, MmpConfigure, MmpReset, encode
from exchange.commands import CancelAll

log = logging.getLogger(__name__)

# Dead-man's switch firings: they outlive their connection (a strong reference until they end).
_DETACHED: set[asyncio.Task[None]] = set()


class Safeguards:
    """One connection's safeguards. Cancel-on-disconnect acts when the connection ends
    (`on_disconnect`); the dead-man's switch keeps running after it (it exists for a client that
    can no longer reach the server)."""

    def __init__(
        self,
        gateway: Gateway,
        protection: MarketMakerProtection,
        loop: asyncio.AbstractEventLoop,
        push: Callable[[str], None],
    ) -> None:
        self.gateway = gateway
        self.protection = protection
        self.loop = loop
        self._push = push  # the connection's outbox: the dead-man's switch reports there
        self.cancel_on_disconnect = False
        # Kept apart from the principal: it still runs when the connection ends because its
        # credential did.
        self.cancel_on_disconnect_account: int | None = None
        self.dead_man: asyncio.TimerHandle | None = None

    # -- CANCEL-ON-DISCONNECT ---------------------------------------------------------------------

    def set_cancel_on_disconnect(self, principal: Principal, request: CancelOnDisconnect) -> dict[str, Any]:
        self.cancel_on_disconnect = request.enabled
        self.cancel_on_disconnect_account = principal.account_id
        return {"enabled": self.cancel_on_disconnect}

    async def on_disconnect(self) -> None:
        """The connection ended (its order entry finished): cancel the account's orders if opted in."""
        account_id = self.cancel_on_disconnect_account
        if self.cancel_on_disconnect and account_id is not None:
            try:
                await self.gateway.submit(CancelAll(actor_id=account_id, account_id=account_id))
            except GatewayUnavailable:
                log.error("cancel-on-disconnect of account %s failed: sequencer unreachable", account_id)

    # -- DEAD-MAN'S SWITCH ------------------------------------------------------------------------

    def cancel_all_after(self, principal: Principal, request: CancelAllAfter) -> dict[str, Any]:
        """Arm (or re-arm) the switch for `timeout_ms`; 0 disarms."""
        timeout_ms = request.timeout_ms
        if self.dead_man is not None:
            self.dead_man.cancel()
            self.dead_man = None
        if timeout_ms == 0:
            return {"armed": False, "deadline": None}
        self.dead_man = self.loop.call_later(timeout_ms / 1000, self._dead_man_fired, principal.account_id)
        return {"armed": True, "deadline": now_ms() + timeout_ms}

    def _dead_man_fired(self, account_id: int) -> None:
        self.dead_man = None
        task = self.loop.create_task(self._cancel_all(account_id))
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)

    async def _cancel_all(self, account_id: int) -> None:
        command = CancelAll(actor_id=account_id, account_id=account_id)
        try:
            result = await self.gateway.submit(command)
        except GatewayUnavailable:
            log.error("dead-man's switch of account %s failed: sequencer unreachable", account_id)
            return
        message = {
            "type": "cancel_all_after",
            "cancelled": int(result.data.get("cancelled", 0)),
            "seq": result.seq,
        }
        self._push(encode(message))

    # -- MARKET-MAKER PROTECTION ------------------------------------------------------------------

    def mmp_config(self, principal: Principal, request: MmpConfigure) -> dict[str, Any]:
        return self.protection.configure(
            principal.account_id, request.underlying, request.quantity, request.interval_ms, request.frozen_ms
        )

    def mmp_reset(self, principal: Principal, request: MmpReset) -> dict[str, Any]:
        return self.protection.reset(principal.account_id, request.underlying)
