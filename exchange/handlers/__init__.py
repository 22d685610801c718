"""Command handlers, one module per concept: orders, instruments, accounts, lifecycle, expiry.

A handler takes one command, checks everything before it mutates anything (a refusal raises
results.Reject and changes nothing), mutates the state through the components it was given
(ledger.Ledger, risk.Risk, settlement.Settlement), collects its events in effects.Effects and
returns the result's data. The sequencer maps command types to handlers in one place
(`Sequencer.__init__`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], dict[str, Any]]
