"""The numeric vocabulary shared by the Cython book, the reference book and their users.

Every value here is part of the engine's wire format (command and event records, snapshots):
never renumber, only append. `book.pxd` repeats these values as C enums for the hot path;
`tests/matching_engine/test_codes.py` checks that both agree. See docs/engine.md for the semantics.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 0
    SELL = 1


class OrderType(IntEnum):
    LIMIT = 0  # good till cancelled: the unfilled rest rests in the book
    IOC = 1  # immediate or cancel: the unfilled rest is cancelled
    FOK = 2  # fill or kill: fills completely at once or not at all
    POST_ONLY = 3  # rests only; rejected if it would cross
    MARKET = 4  # IOC bounded by a mandatory protection price (the command's price)


class StpMode(IntEnum):
    """Self-trade prevention, chosen by the incoming (taker) order."""

    NONE = 0  # orders of one account may trade with each other
    CANCEL_NEWEST = 1  # the incoming order's rest is cancelled, the resting one stays
    CANCEL_OLDEST = 2  # the resting order is cancelled, the incoming one goes on matching
    CANCEL_BOTH = 3  # both are cancelled


class CommandKind(IntEnum):
    PLACE = 1
    CANCEL = 2
    AMEND = 3
    MASS_CANCEL = 4


class EventKind(IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    FILL = 3
    CANCELLED = 4
    AMENDED = 5
    LEVEL = 6


class RejectReason(IntEnum):
    INVALID_COMMAND = 1  # unknown command kind, side, order type or STP mode, or order id <= 0
    INVALID_QUANTITY = 2  # quantity <= 0
    QUANTITY_OFF_LOT = 3  # quantity not a multiple of the lot
    PRICE_OFF_TICK = 4  # price not a multiple of the tick
    PRICE_OUT_OF_BAND = 5  # price below the book's minimum or above its maximum
    NOTIONAL_OVERFLOW = 6  # |price| * quantity does not fit in a signed 64-bit integer
    DUPLICATE_ORDER_ID = 7  # an order with this id is resting in the book
    UNKNOWN_ORDER = 8  # cancel or amend of an order that is not resting in the book
    NOT_ORDER_OWNER = 9  # cancel or amend by an account that does not own the order
    WOULD_CROSS = 10  # a post-only order (placed or amended) would trade on arrival


class CancelReason(IntEnum):
    USER = 1  # cancel command
    MASS_CANCEL = 2  # mass cancel of the account
    IOC_REMAINDER = 3  # unfilled rest of an IOC order
    FOK_NOT_FILLABLE = 4  # an FOK order that could not fill completely
    SELF_TRADE = 5  # self-trade prevention
    MARKET_PROTECTION = 6  # unfilled rest of a market order at its protection price


class AmendPriority(IntEnum):
    """The `reason` field of an AMENDED event."""

    KEPT = 1  # same price, quantity not increased: the order keeps its place in the queue
    LOST = 2  # price changed or quantity increased: the order goes to the back (and may trade)


# Field positions in a command record: 8 signed 64-bit integers per command.
COMMAND_FIELDS = ("kind", "order_id", "account_id", "side", "order_type", "stp", "price", "quantity")
COMMAND_WIDTH = len(COMMAND_FIELDS)

# Field positions in an event record: 13 signed 64-bit integers per event.
EVENT_FIELDS = (
    "seq",
    "kind",
    "order_id",
    "account_id",
    "side",
    "price",
    "quantity",
    "remaining",
    "reason",
    "maker_order_id",
    "maker_account_id",
    "maker_remaining",
    "order_count",
)
EVENT_WIDTH = len(EVENT_FIELDS)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
