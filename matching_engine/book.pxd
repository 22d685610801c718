# Declarations of the Cython order book (see docs/engine.md for the contract).
#
# All matching works on the C structures below; Python objects appear only at the API boundary.
# Orders and levels live in pools addressed by uint32 indices (ME_NIL = none), so the structs stay
# small and survive a realloc of their pool.

cimport cpython.array
cimport cython
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from *:
    """
    #define ME_NIL ((uint32_t)0xFFFFFFFFu)
    """
    const uint32_t ME_NIL


# -- CODES (the values of matching_engine/codes.py; tests/matching_engine checks they agree) --

cdef enum MeSide:
    ME_BUY = 0
    ME_SELL = 1

cdef enum MeOrderType:
    ME_LIMIT = 0
    ME_IOC = 1
    ME_FOK = 2
    ME_POST_ONLY = 3
    ME_MARKET = 4

cdef enum MeStpMode:
    ME_STP_NONE = 0
    ME_STP_CANCEL_NEWEST = 1
    ME_STP_CANCEL_OLDEST = 2
    ME_STP_CANCEL_BOTH = 3

cdef enum MeCommandKind:
    ME_CMD_PLACE = 1
    ME_CMD_CANCEL = 2
    ME_CMD_AMEND = 3
    ME_CMD_MASS_CANCEL = 4

cdef enum MeEventKind:
    ME_EV_ACCEPTED = 1
    ME_EV_REJECTED = 2
    ME_EV_FILL = 3
    ME_EV_CANCELLED = 4
    ME_EV_AMENDED = 5
    ME_EV_LEVEL = 6

cdef enum MeRejectReason:
    ME_REJ_INVALID_COMMAND = 1
    ME_REJ_INVALID_QUANTITY = 2
    ME_REJ_QUANTITY_OFF_LOT = 3
    ME_REJ_PRICE_OFF_TICK = 4
    ME_REJ_PRICE_OUT_OF_BAND = 5
    ME_REJ_NOTIONAL_OVERFLOW = 6
    ME_REJ_DUPLICATE_ORDER_ID = 7
    ME_REJ_UNKNOWN_ORDER = 8
    ME_REJ_NOT_ORDER_OWNER = 9
    ME_REJ_WOULD_CROSS = 10

cdef enum MeCancelReason:
    ME_CXL_USER = 1
    ME_CXL_MASS_CANCEL = 2
    ME_CXL_IOC_REMAINDER = 3
    ME_CXL_FOK_NOT_FILLABLE = 4
    ME_CXL_SELF_TRADE = 5
    ME_CXL_MARKET_PROTECTION = 6

cdef enum MeAmendPriority:
    ME_AMEND_KEPT = 1
    ME_AMEND_LOST = 2

cdef enum:
    ME_COMMAND_WIDTH = 8
    ME_EVENT_WIDTH = 13
    ME_SNAPSHOT_HEADER = 64   # magic, version, 7 int64
    ME_SNAPSHOT_ORDER = 44    # 4 int64 + 3 int32


# -- C STRUCTURES --

ctypedef struct MeOrder:             # 48 bytes
    int64_t order_id                 # > 0 while in use, 0 on the free list
    int64_t account_id
    int64_t quantity                 # open quantity, > 0 while resting
    uint32_t level                   # index of its price level (the price lives there)
    uint32_t prev                    # FIFO within the level (ME_NIL at the ends)
    uint32_t next                    # FIFO within the level; next free slot on the free list
    uint32_t acct_prev               # list of the account's orders (for mass cancel)
    uint32_t acct_next
    uint8_t side
    uint8_t order_type
    uint8_t stp
    uint8_t live

ctypedef struct MeLevel:             # 32 bytes
    int64_t price
    int64_t total                    # sum of the open quantities of its orders
    uint32_t head                    # oldest order (ME_NIL when empty)
    uint32_t tail                    # newest order; next free slot on the free list
    uint32_t count
    uint32_t stamp                   # command stamp of the last touch (LEVEL event dedupe)
    uint8_t side
    uint8_t live

ctypedef struct MeSideBook:
    # Sorted ascending by key, the BEST level at the end. key = price for bids, ~price for asks,
    # so "better" is always "greater" and adds/removals near the touch move few entries.
    int64_t* keys
    uint32_t* levels
    Py_ssize_t n
    Py_ssize_t cap

ctypedef struct MeSlot:              # 8 bytes
    uint32_t tag                     # low 32 bits of me_mix(key); home slot = tag & mask
    uint32_t value                   # an order index, ME_NIL: empty slot

ctypedef struct MeTable:
    # Open addressing, linear probing, power-of-two capacity, load <= 0.7, backward-shift delete.
    # The key is not stored: it is read from the order the slot points at (its order_id, or its
    # account_id when by_account), and the tag filters out almost every other slot on the way.
    MeSlot* slots
    uint64_t mask
    Py_ssize_t size
    Py_ssize_t cap
    bint by_account

ctypedef struct MeTouched:
    int64_t price
    uint32_t level
    uint32_t side


# -- HASH TABLE (int64 key of an order -> order index) --

cdef int table_init(MeTable* t, Py_ssize_t cap, bint by_account) except -1
cdef void table_free(MeTable* t) noexcept
cdef uint32_t table_get(const MeTable* t, const MeOrder* orders, int64_t key) noexcept nogil
cdef uint32_t table_put(MeTable* t, const MeOrder* orders, int64_t key,
                        uint32_t value) except? 0xFFFFFFFE
cdef uint32_t table_pop(MeTable* t, const MeOrder* orders, int64_t key) noexcept nogil


@cython.final
cdef class OrderBook:
    cdef readonly int64_t instrument_id
    cdef readonly int64_t tick
    cdef readonly int64_t lot
    cdef readonly int64_t min_price
    cdef readonly int64_t max_price
    cdef int64_t _sequence

    cdef MeOrder* _orders
    cdef Py_ssize_t _orders_cap
    cdef uint32_t _free_order
    cdef Py_ssize_t _order_count

    cdef MeLevel* _levels
    cdef Py_ssize_t _levels_cap
    cdef uint32_t _free_level

    cdef MeSideBook _sides[2]
    cdef MeTable _ids                # order id -> order index
    cdef MeTable _accounts           # account id -> newest order of the account (its list head)

    cdef int64_t* _events            # ME_EVENT_WIDTH int64 per event, collected during commands
    cdef Py_ssize_t _n_events
    cdef Py_ssize_t _events_cap
    cdef cpython.array.array _batch_out  # during process_batch, _events is this array's buffer
    cdef MeTouched* _touched         # levels touched by the current command, first touch first
    cdef Py_ssize_t _n_touched
    cdef Py_ssize_t _touched_cap
    cdef uint32_t _stamp             # current command stamp (never 0)

    # -- QUERIES --
    cpdef Py_ssize_t memory_bytes(self)
    cpdef bytes snapshot(self)
    cdef int _check(self) except -1

    # -- COMMANDS --
    cdef int _execute(self, const int64_t* c) except -1
    cdef int _place(self, const int64_t* c) except -1
    cdef int _cancel(self, const int64_t* c) except -1
    cdef int _amend(self, const int64_t* c) except -1
    cdef int _mass_cancel(self, const int64_t* c) except -1
    cdef int64_t _match(self, int64_t order_id, int64_t account_id, int side, int stp,
                        int64_t price, int64_t quantity) except -2
    cdef bint _fok_fillable(self, int64_t account_id, int side, int stp, int64_t price,
                            int64_t quantity) noexcept
    cdef bint _crosses(self, int side, int64_t price) noexcept
    cdef int _finish_taker(self, int64_t order_id, int64_t account_id, int side, int order_type,
                           int stp, int64_t price, int64_t remaining) except -1
    cdef list _run(self, const int64_t* c)

    # -- INTERNALS --
    cdef int _emit(self, int64_t kind, int64_t order_id, int64_t account_id, int64_t side,
                   int64_t price, int64_t quantity, int64_t remaining, int64_t reason,
                   int64_t maker_order_id, int64_t maker_account_id, int64_t maker_remaining,
                   int64_t order_count) except -1
    cdef int _reject(self, const int64_t* c, int64_t side, int64_t reason) except -1
    cdef int _touch(self, uint32_t li) except -1
    cdef void _reset_stamps(self) noexcept
    cdef int _flush_levels(self) except -1
    cdef uint32_t _alloc_order(self) except? 0xFFFFFFFE
    cdef uint32_t _alloc_level(self) except? 0xFFFFFFFE
    cdef uint32_t _level_for(self, int side, int64_t price) except? 0xFFFFFFFE
    cdef int _insert_level(self, int side, Py_ssize_t pos, int64_t key, uint32_t li) except -1
    cdef void _drop_level(self, uint32_t li) noexcept
    cdef int _rest(self, int64_t order_id, int64_t account_id, int side, int order_type, int stp,
                   int64_t price, int64_t quantity) except -1
    cdef int _append_order(self, uint32_t li, int64_t order_id, int64_t account_id, int side,
                           int order_type, int stp, int64_t quantity) except -1
    cdef int _remove_order(self, uint32_t oi, bint drop_empty_level) except -1
