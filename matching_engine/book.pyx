# cython: language_level=3
"""Price-time priority order book on C structures (see docs/engine.md for the contract).

Prices are signed int64 in the instrument's minor units (a multiple of `tick`), quantities int64
contracts (a multiple of `lot`). Every command is matched on C structs; its events are written into
a growable int64 buffer while the book mutates and converted to `BookEvent`s (or copied into an
`array('q')` for `process_batch`) only after the command, at the API boundary.
"""

cimport cython
from cpython.array cimport array as c_array, clone, resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memmove, memset

import zlib
from array import array

from matching_engine.events import BookCommand, BookEvent

cdef extern from *:
    """
    static inline uint64_t me_mix(int64_t key) {
        uint64_t x = (uint64_t)key;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return x;
    }

    /* |price| * quantity > INT64_MAX, for quantity > 0 and any int64 price. */
    static inline int me_notional_overflows(int64_t price, int64_t quantity) {
        uint64_t a = price >= 0 ? (uint64_t)price : (uint64_t)0 - (uint64_t)price;
        if (a == 0) return 0;
        return (uint64_t)quantity > (uint64_t)INT64_MAX / a;
    }

    static inline void me_put_i64(char* p, int64_t v) {
        uint64_t u = (uint64_t)v;
        for (int i = 0; i < 8; i++) { p[i] = (char)(u & 0xFF); u >>= 8; }
    }
    static inline void me_put_i32(char* p, int32_t v) {
        uint32_t u = (uint32_t)v;
        for (int i = 0; i < 4; i++) { p[i] = (char)(u & 0xFF); u >>= 8; }
    }
    static inline int64_t me_get_i64(const char* p) {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--) { u = (u << 8) | (unsigned char)p[i]; }
        return (int64_t)u;
    }
    static inline int32_t me_get_i32(const char* p) {
        uint32_t u = 0;
        for (int i = 3; i >= 0; i--) { u = (u << 8) | (unsigned char)p[i]; }
        return (int32_t)u;
    }

    /* A list of BookEvent tuples built directly: tp_alloc of the tuple subclass + 13 ints. */
    static PyObject* me_events_to_list(PyObject* tp, const int64_t* buf, Py_ssize_t n) {
        PyObject* list = PyList_New(n);
        if (list == NULL) return NULL;
        PyTypeObject* type = (PyTypeObject*)tp;
        for (Py_ssize_t e = 0; e < n; e++) {
            PyObject* t = type->tp_alloc(type, 13);
            if (t == NULL) { Py_DECREF(list); return NULL; }
            const int64_t* r = buf + e * 13;
            for (Py_ssize_t f = 0; f < 13; f++) {
                PyObject* v = PyLong_FromLongLong(r[f]);
                if (v == NULL) { Py_DECREF(t); Py_DECREF(list); return NULL; }
                PyTuple_SET_ITEM(t, f, v);
            }
            /* holds only ints, so it can never be part of a cycle: keep it out of the GC's walks */
            PyObject_GC_UnTrack(t);
            PyList_SET_ITEM(list, e, t);
        }
        return list;
    }

    typedef struct { int64_t order_id; uint32_t index; } me_id_index;
    static int me_cmp_id_index(const void* a, const void* b) {
        int64_t x = ((const me_id_index*)a)->order_id, y = ((const me_id_index*)b)->order_id;
        return (x > y) - (x < y);
    }
    """
    uint64_t me_mix(int64_t key) noexcept nogil
    bint me_notional_overflows(int64_t price, int64_t quantity) noexcept nogil
    void me_put_i64(char* p, int64_t v) noexcept nogil
    void me_put_i32(char* p, int v) noexcept nogil
    int64_t me_get_i64(const char* p) noexcept nogil
    int me_get_i32(const char* p) noexcept nogil
    object me_events_to_list(object tp, const int64_t* buf, Py_ssize_t n)
    ctypedef struct me_id_index:
        int64_t order_id
        uint32_t index
    int me_cmp_id_index(const void* a, const void* b) noexcept nogil


cdef c_array _EVENT_ARRAY_TEMPLATE = array("q")
cdef object _BookEvent = BookEvent
cdef object _BookCommand = BookCommand

cdef enum:
    _ORDERS_INITIAL = 64
    _ORDERS_MAX = 0x7FFFFFFF  # orders (and levels) per book
    _LEVELS_INITIAL = 32
    _SIDE_INITIAL = 32
    _EVENTS_INITIAL = 256
    _EVENTS_KEEP = 4096       # the one-call buffer shrinks back to _EVENTS_INITIAL above this
    _TOUCHED_INITIAL = 16


cdef inline int64_t _key(int side, int64_t price) noexcept nogil:
    """Sort key of a price on a side: greater is better on both sides."""
    return price if side == ME_BUY else ~price


cdef inline void* _grow(void* p, Py_ssize_t nbytes) except NULL:
    cdef void* q = PyMem_Realloc(p, <size_t>nbytes)
    if q == NULL:
        raise MemoryError()
    return q


# -- HASH TABLE ---------------------------------------------------------------------------------

cdef int table_init(MeTable* t, Py_ssize_t cap, bint by_account) except -1:
    t.slots = <MeSlot*>PyMem_Malloc(cap * sizeof(MeSlot))
    if t.slots == NULL:
        raise MemoryError()
    memset(t.slots, 0xFF, cap * sizeof(MeSlot))
    t.cap = cap
    t.mask = <uint64_t>(cap - 1)
    t.size = 0
    t.by_account = by_account
    return 0


cdef void table_free(MeTable* t) noexcept:
    PyMem_Free(t.slots)
    t.slots = NULL
    t.cap = 0
    t.size = 0


cdef inline int64_t _table_key(const MeTable* t, const MeOrder* orders, uint32_t value) noexcept nogil:
    return orders[value].account_id if t.by_account else orders[value].order_id


cdef uint32_t table_get(const MeTable* t, const MeOrder* orders, int64_t key) noexcept nogil:
    cdef uint32_t tag = <uint32_t>me_mix(key)
    cdef uint64_t i = tag & t.mask
    cdef const MeSlot* s
    while True:
        s = &t.slots[i]
        if s.value == ME_NIL:
            return ME_NIL
        if s.tag == tag and _table_key(t, orders, s.value) == key:
            return s.value
        i = (i + 1) & t.mask


cdef int _table_grow(MeTable* t) except -1:
    cdef MeSlot* old = t.slots
    cdef Py_ssize_t old_cap = t.cap, j
    cdef uint64_t i
    table_init(t, old_cap * 2, t.by_account)
    for j in range(old_cap):
        if old[j].value != ME_NIL:
            i = old[j].tag & t.mask
            while t.slots[i].value != ME_NIL:
                i = (i + 1) & t.mask
            t.slots[i] = old[j]
            t.size += 1
    PyMem_Free(old)
    return 0


cdef uint32_t table_put(MeTable* t, const MeOrder* orders, int64_t key,
                        uint32_t value) except? 0xFFFFFFFE:
    """Set key -> value; return the previous value (ME_NIL when the key was absent)."""
    cdef uint32_t tag = <uint32_t>me_mix(key)
    cdef uint64_t i = tag & t.mask
    cdef MeSlot* s = NULL
    cdef uint32_t old
    while True:
        s = &t.slots[i]
        if s.value == ME_NIL:
            break
        if s.tag == tag and _table_key(t, orders, s.value) == key:
            old = s.value
            s.value = value
            return old
        i = (i + 1) & t.mask
    if (t.size + 1) * 10 > t.cap * 7:
        _table_grow(t)
        i = tag & t.mask
        while t.slots[i].value != ME_NIL:
            i = (i + 1) & t.mask
        s = &t.slots[i]
    s.tag = tag
    s.value = value
    t.size += 1
    return ME_NIL


cdef uint32_t table_pop(MeTable* t, const MeOrder* orders, int64_t key) noexcept nogil:
    """Remove key (backward-shift deletion); return its value or ME_NIL."""
    cdef uint32_t tag = <uint32_t>me_mix(key)
    cdef uint64_t mask = t.mask
    cdef uint64_t i = tag & mask, j, home
    cdef uint32_t value
    while True:
        if t.slots[i].value == ME_NIL:
            return ME_NIL
        if t.slots[i].tag == tag and _table_key(t, orders, t.slots[i].value) == key:
            break
        i = (i + 1) & mask
    value = t.slots[i].value
    j = i
    while True:
        j = (j + 1) & mask
        if t.slots[j].value == ME_NIL:
            break
        home = t.slots[j].tag & mask
        # the entry at j may stay when its home lies cyclically in (i, j]
        if i <= j:
            if i < home and home <= j:
                continue
        elif i < home or home <= j:
            continue
        t.slots[i] = t.slots[j]
        i = j
    t.slots[i].value = ME_NIL
    t.slots[i].tag = 0xFFFFFFFF
    t.size -= 1
    return value


# -- THE BOOK -----------------------------------------------------------------------------------

@cython.final
cdef class OrderBook:
    """One instrument's book. See docs/engine.md; `ReferenceOrderBook` is its pure-Python twin."""

    def __cinit__(self, int64_t instrument_id, int64_t tick, int64_t lot, int64_t min_price,
                  int64_t max_price):
        if tick <= 0:
            raise ValueError("tick must be > 0")
        if lot <= 0:
            raise ValueError("lot must be > 0")
        if min_price > max_price:
            raise ValueError("min_price must be <= max_price")
        if min_price % tick != 0 or max_price % tick != 0:
            raise ValueError("min_price and max_price must be multiples of tick")
        self.instrument_id = instrument_id
        self.tick = tick
        self.lot = lot
        self.min_price = min_price
        self.max_price = max_price
        self._sequence = 0
        self._free_order = ME_NIL
        self._free_level = ME_NIL
        self._stamp = 0
        cdef int side
        for side in range(2):
            self._sides[side].keys = <int64_t*>_grow(NULL, _SIDE_INITIAL * sizeof(int64_t))
            self._sides[side].levels = <uint32_t*>_grow(NULL, _SIDE_INITIAL * sizeof(uint32_t))
            self._sides[side].n = 0
            self._sides[side].cap = _SIDE_INITIAL
        table_init(&self._ids, 128, False)
        table_init(&self._accounts, 32, True)
        self._events = <int64_t*>_grow(NULL, _EVENTS_INITIAL * ME_EVENT_WIDTH * sizeof(int64_t))
        self._events_cap = _EVENTS_INITIAL
        self._touched = <MeTouched*>_grow(NULL, _TOUCHED_INITIAL * sizeof(MeTouched))
        self._touched_cap = _TOUCHED_INITIAL

    def __dealloc__(self):
        PyMem_Free(self._orders)
        PyMem_Free(self._levels)
        PyMem_Free(self._sides[0].keys)
        PyMem_Free(self._sides[0].levels)
        PyMem_Free(self._sides[1].keys)
        PyMem_Free(self._sides[1].levels)
        table_free(&self._ids)
        table_free(&self._accounts)
        PyMem_Free(self._events)
        PyMem_Free(self._touched)

    def __reduce__(self):
        return (OrderBook.restore, (self.snapshot(),))

    def __repr__(self):
        return (f"OrderBook(instrument_id={self.instrument_id}, orders={self._order_count}, "
                f"levels={self._sides[0].n + self._sides[1].n}, sequence={self._sequence})")

    # -- QUERIES --------------------------------------------------------------------------------

    @property
    def order_count(self):
        """Number of resting orders."""
        return self._order_count

    @property
    def level_count(self):
        """Number of price levels, bids plus asks."""
        return self._sides[0].n + self._sides[1].n

    @property
    def sequence(self):
        """Seq of the last event emitted (0 before the first)."""
        return self._sequence

    def best_bid(self):
        """(price, total quantity) of the best bid, or None."""
        cdef MeSideBook* sb = &self._sides[0]
        if sb.n == 0:
            return None
        cdef MeLevel* lv = &self._levels[sb.levels[sb.n - 1]]
        return (lv.price, lv.total)

    def best_ask(self):
        """(price, total quantity) of the best ask, or None."""
        cdef MeSideBook* sb = &self._sides[1]
        if sb.n == 0:
            return None
        cdef MeLevel* lv = &self._levels[sb.levels[sb.n - 1]]
        return (lv.price, lv.total)

    def depth(self, Py_ssize_t levels):
        """([(price, total quantity, order count)] of the bids, same of the asks), best first."""
        cdef list out = []
        cdef list side_list
        cdef int side
        cdef Py_ssize_t k, stop
        cdef MeSideBook* sb
        cdef MeLevel* lv
        for side in range(2):
            side_list = []
            sb = &self._sides[side]
            stop = sb.n - levels if levels < sb.n else 0
            k = sb.n - 1
            while k >= stop and levels > 0:
                lv = &self._levels[sb.levels[k]]
                side_list.append((lv.price, lv.total, lv.count))
                k -= 1
            out.append(side_list)
        return (out[0], out[1])

    def order(self, order_id):
        """(order_id, account_id, side, price, open quantity, order_type, stp) or None."""
        cdef int64_t key
        try:
            key = order_id
        except OverflowError:
            return None  # no order id outside int64 can rest
        cdef uint32_t oi = table_get(&self._ids, self._orders, key)
        if oi == ME_NIL:
            return None
        cdef MeOrder* o = &self._orders[oi]
        return (o.order_id, o.account_id, o.side, self._levels[o.level].price, o.quantity,
                o.order_type, o.stp)

    cpdef Py_ssize_t memory_bytes(self):
        """Bytes currently allocated by the book's C structures."""
        return (self._orders_cap * sizeof(MeOrder)
                + self._levels_cap * sizeof(MeLevel)
                + self._sides[0].cap * (sizeof(int64_t) + sizeof(uint32_t))
                + self._sides[1].cap * (sizeof(int64_t) + sizeof(uint32_t))
                + self._ids.cap * sizeof(MeSlot)
                + self._accounts.cap * sizeof(MeSlot)
                + self._events_cap * ME_EVENT_WIDTH * sizeof(int64_t)
                + self._touched_cap * sizeof(MeTouched))

    cpdef bytes snapshot(self):
        """The whole book in the little-endian format of docs/engine.md."""
        cdef Py_ssize_t size = ME_SNAPSHOT_HEADER + self._order_count * ME_SNAPSHOT_ORDER
        cdef bytes data = PyBytes_FromStringAndSize(NULL, size)
        cdef char* p = PyBytes_AS_STRING(data)
        cdef int side
        cdef Py_ssize_t k
        cdef MeSideBook* sb
        cdef MeLevel* lv
        cdef MeOrder* o
        cdef uint32_t oi
        memcpy(p, b"MEBK", 4)
        me_put_i32(p + 4, 1)
        me_put_i64(p + 8, self.instrument_id)
        me_put_i64(p + 16, self.tick)
        me_put_i64(p + 24, self.lot)
        me_put_i64(p + 32, self.min_price)
        me_put_i64(p + 40, self.max_price)
        me_put_i64(p + 48, self._sequence)
        me_put_i64(p + 56, self._order_count)
        p += ME_SNAPSHOT_HEADER
        for side in range(2):
            sb = &self._sides[side]
            for k in range(sb.n - 1, -1, -1):
                lv = &self._levels[sb.levels[k]]
                oi = lv.head
                while oi != ME_NIL:
                    o = &self._orders[oi]
                    me_put_i64(p, o.order_id)
                    me_put_i64(p + 8, o.account_id)
                    me_put_i64(p + 16, lv.price)
                    me_put_i64(p + 24, o.quantity)
                    me_put_i32(p + 32, o.side)
                    me_put_i32(p + 36, o.order_type)
                    me_put_i32(p + 40, o.stp)
                    p += ME_SNAPSHOT_ORDER
                    oi = o.next
        return data

    @classmethod
    def restore(cls, data):
        """A book identical to the one that made `data` (see snapshot); ValueError on bad data."""
        cdef bytes raw = bytes(data)
        cdef Py_ssize_t size = len(raw)
        cdef const char* p = raw
        if size < ME_SNAPSHOT_HEADER or raw[:4] != b"MEBK":
            raise ValueError("not a book snapshot")
        if me_get_i32(p + 4) != 1:
            raise ValueError("unsupported snapshot version")
        cdef int64_t count = me_get_i64(p + 56)
        if count < 0 or count > (size - ME_SNAPSHOT_HEADER) // ME_SNAPSHOT_ORDER \
                or size != ME_SNAPSHOT_HEADER + count * ME_SNAPSHOT_ORDER:
            raise ValueError("snapshot length does not match its order count")
        cdef OrderBook book = cls(me_get_i64(p + 8), me_get_i64(p + 16), me_get_i64(p + 24),
                                  me_get_i64(p + 32), me_get_i64(p + 40))
        book._sequence = me_get_i64(p + 48)
        cdef Py_ssize_t k, a, b
        cdef int64_t order_id, account_id, price, quantity, key, last_key = 0
        cdef int side, order_type, stp, last_side = -1
        cdef uint32_t li = ME_NIL, tmp_level
        cdef int64_t tmp_key
        cdef MeSideBook* sb
        p += ME_SNAPSHOT_HEADER
        for k in range(count):
            order_id = me_get_i64(p)
            account_id = me_get_i64(p + 8)
            price = me_get_i64(p + 16)
            quantity = me_get_i64(p + 24)
            side = me_get_i32(p + 32)
            order_type = me_get_i32(p + 36)
            stp = me_get_i32(p + 40)
            p += ME_SNAPSHOT_ORDER
            if order_id <= 0 or side < 0 or side > 1 or stp < 0 or stp > 3 \
                    or (order_type != ME_LIMIT and order_type != ME_POST_ONLY):
                raise ValueError(f"snapshot order {k}: invalid id, side, type or stp")
            if quantity <= 0 or quantity % book.lot != 0 or price % book.tick != 0 \
                    or price < book.min_price or price > book.max_price \
                    or me_notional_overflows(price, quantity):
                raise ValueError(f"snapshot order {k}: invalid price or quantity")
            if table_get(&book._ids, book._orders, order_id) != ME_NIL:
                raise ValueError(f"snapshot order {k}: duplicate order id {order_id}")
            key = _key(side, price)
            if side < last_side:
                raise ValueError("snapshot orders are not bids then asks")
            if side != last_side or key < last_key:
                # a new level, worse than the previous one: append now, reverse the side at the end
                sb = &book._sides[side]
                li = book._alloc_level()
                book._levels[li].price = price
                book._levels[li].side = side
                book._insert_level(side, sb.n, key, li)
            elif key > last_key:
                raise ValueError("snapshot levels are not best to worst")
            last_side = side
            last_key = key
            book._append_order(li, order_id, account_id, side, order_type, stp, quantity)
        for side in range(2):
            sb = &book._sides[side]
            a = 0
            b = sb.n - 1
            while a < b:
                tmp_key = sb.keys[a]; sb.keys[a] = sb.keys[b]; sb.keys[b] = tmp_key
                tmp_level = sb.levels[a]; sb.levels[a] = sb.levels[b]; sb.levels[b] = tmp_level
                a += 1
                b -= 1
        try:
            book._check()
        except AssertionError as exc:
            raise ValueError(f"snapshot is not a valid book: {exc}") from None
        return book

    def state_hash(self):
        """CRC32 of snapshot(): equal books have equal hashes."""
        return zlib.crc32(self.snapshot())

    def check_integrity(self):
        """Raise AssertionError naming the first broken invariant."""
        self._check()

    cdef int _check(self) except -1:
        cdef int side
        cdef Py_ssize_t k, orders_seen = 0, levels_live = 0, n_acct = 0, j
        cdef MeSideBook* sb
        cdef MeLevel* lv
        cdef MeOrder* o
        cdef uint32_t li, oi, prev, head
        cdef int64_t total, account_id
        cdef uint32_t count
        for side in range(2):
            sb = &self._sides[side]
            for k in range(sb.n):
                li = sb.levels[k]
                if <Py_ssize_t>li >= self._levels_cap or not self._levels[li].live:
                    raise AssertionError(f"levels sorted: side {side} holds a dead level")
                lv = &self._levels[li]
                if lv.side != side or sb.keys[k] != _key(side, lv.price):
                    raise AssertionError(f"levels sorted: level key/side mismatch at {lv.price}")
                if k > 0 and sb.keys[k - 1] >= sb.keys[k]:
                    raise AssertionError(f"levels sorted: side {side} not strictly sorted at {lv.price}")
                levels_live += 1
                total = 0
                count = 0
                prev = ME_NIL
                oi = lv.head
                while oi != ME_NIL:
                    o = &self._orders[oi]
                    if not o.live or o.level != li or o.side != side or o.prev != prev:
                        raise AssertionError(f"level totals: broken FIFO at price {lv.price}")
                    if o.quantity <= 0:
                        raise AssertionError(f"open quantity > 0: order {o.order_id}")
                    if table_get(&self._ids, self._orders, o.order_id) != oi:
                        raise AssertionError(f"id index: order {o.order_id} not indexed")
                    total += o.quantity
                    count += 1
                    prev = oi
                    oi = o.next
                    if count > self._order_count:
                        raise AssertionError("level totals: FIFO cycle")
                if lv.tail != prev or count == 0:
                    raise AssertionError(f"level totals: bad tail or empty level at {lv.price}")
                if total != lv.total or count != lv.count:
                    raise AssertionError(f"level totals: level {lv.price} says {lv.total}/{lv.count}, "
                                         f"orders sum to {total}/{count}")
                orders_seen += count
        for k in range(self._levels_cap):
            if self._levels[k].live:
                levels_live -= 1
        if levels_live != 0:
            raise AssertionError("levels sorted: live levels and sorted arrays disagree")
        if self._sides[0].n and self._sides[1].n and \
                self._levels[self._sides[0].levels[self._sides[0].n - 1]].price >= \
                self._levels[self._sides[1].levels[self._sides[1].n - 1]].price:
            raise AssertionError("no crossed book: best bid >= best ask")
        if orders_seen != self._order_count or self._ids.size != self._order_count:
            raise AssertionError(f"id index: {self._ids.size} ids, {orders_seen} orders in levels, "
                                 f"order_count {self._order_count}")
        for k in range(self._ids.cap):
            oi = self._ids.slots[k].value
            if oi != ME_NIL:
                if <Py_ssize_t>oi >= self._orders_cap or not self._orders[oi].live \
                        or self._ids.slots[k].tag != <uint32_t>me_mix(self._orders[oi].order_id) \
                        or table_get(&self._ids, self._orders, self._orders[oi].order_id) != oi:
                    raise AssertionError(f"id index: stale entry in slot {k}")
        for k in range(self._accounts.cap):
            head = self._accounts.slots[k].value
            if head != ME_NIL:
                if <Py_ssize_t>head >= self._orders_cap or not self._orders[head].live:
                    raise AssertionError(f"account index: stale entry in slot {k}")
                account_id = self._orders[head].account_id
                if self._accounts.slots[k].tag != <uint32_t>me_mix(account_id) \
                        or table_get(&self._accounts, self._orders, account_id) != head:
                    raise AssertionError(f"account index: entry of {account_id} not found")
                prev = ME_NIL
                oi = head
                j = 0
                while oi != ME_NIL:
                    o = &self._orders[oi]
                    if not o.live or o.account_id != account_id or o.acct_prev != prev:
                        raise AssertionError(f"account index: broken list of {account_id}")
                    prev = oi
                    oi = o.acct_next
                    j += 1
                    if j > self._order_count:
                        raise AssertionError("account index: cycle")
                n_acct += j
        if n_acct != self._order_count:
            raise AssertionError("account index: lists do not hold exactly the resting orders")
        return 0

    # -- COMMANDS -------------------------------------------------------------------------------

    def place(self, int64_t order_id, int64_t account_id, int64_t side, int64_t price,
              int64_t quantity, int64_t order_type=ME_LIMIT, int64_t stp=ME_STP_NONE):
        cdef int64_t c[8]
        c[0] = ME_CMD_PLACE
        c[1] = order_id
        c[2] = account_id
        c[3] = side
        c[4] = order_type
        c[5] = stp
        c[6] = price
        c[7] = quantity
        return self._run(c)

    def cancel(self, int64_t order_id, int64_t account_id):
        cdef int64_t c[8]
        memset(c, 0, sizeof(c))
        c[0] = ME_CMD_CANCEL
        c[1] = order_id
        c[2] = account_id
        return self._run(c)

    def amend(self, int64_t order_id, int64_t account_id, int64_t price, int64_t quantity):
        cdef int64_t c[8]
        memset(c, 0, sizeof(c))
        c[0] = ME_CMD_AMEND
        c[1] = order_id
        c[2] = account_id
        c[6] = price
        c[7] = quantity
        return self._run(c)

    def mass_cancel(self, int64_t account_id):
        cdef int64_t c[8]
        memset(c, 0, sizeof(c))
        c[0] = ME_CMD_MASS_CANCEL
        c[2] = account_id
        return self._run(c)

    def process(self, command):
        """One command (a BookCommand or any sequence of 8 ints) -> list[BookEvent]."""
        cdef int64_t c[8]
        cdef tuple t
        cdef Py_ssize_t i
        if isinstance(command, tuple):
            t = <tuple>command
            if len(t) != ME_COMMAND_WIDTH:
                raise ValueError(f"a command has {ME_COMMAND_WIDTH} fields, got {len(t)}")
            for i in range(ME_COMMAND_WIDTH):
                c[i] = t[i]
        else:
            if len(command) != ME_COMMAND_WIDTH:
                raise ValueError(f"a command has {ME_COMMAND_WIDTH} fields, got {len(command)}")
            for i in range(ME_COMMAND_WIDTH):
                c[i] = command[i]
        return self._run(c)

    def process_batch(self, commands):
        """Flat int64 command records (8 per command) -> array('q') of 13 int64 per event."""
        cdef const int64_t[::1] view
        try:
            view = commands
        except (ValueError, TypeError):
            view = array("q", commands)
        cdef Py_ssize_t n = view.shape[0], i
        if n % ME_COMMAND_WIDTH != 0:
            raise ValueError(f"a command buffer holds a multiple of {ME_COMMAND_WIDTH} values")
        # Events are written straight into the returned array (no final copy): sized for ~2.5
        # events per command, grown by _emit when needed, trimmed at the end.
        cdef Py_ssize_t estimate = (n // ME_COMMAND_WIDTH) * 5 // 2 + 64, n_events
        cdef c_array out = clone(_EVENT_ARRAY_TEMPLATE, estimate * ME_EVENT_WIDTH, False)
        cdef int64_t* saved_events = self._events
        cdef Py_ssize_t saved_cap = self._events_cap
        self._events = <int64_t*>out.data.as_voidptr
        self._events_cap = estimate
        self._batch_out = out
        self._n_events = 0
        try:
            for i in range(0, n, ME_COMMAND_WIDTH):
                self._execute(&view[i])
        finally:
            n_events = self._n_events
            self._events = saved_events
            self._events_cap = saved_cap
            self._batch_out = None
            self._n_events = 0
        resize(out, n_events * ME_EVENT_WIDTH)
        return out

    cdef list _run(self, const int64_t* c):
        self._n_events = 0
        self._execute(c)
        cdef list events = me_events_to_list(_BookEvent, self._events, self._n_events)
        self._n_events = 0
        if self._events_cap > _EVENTS_KEEP:  # a big sweep grew the buffer: give it back
            self._events = <int64_t*>_grow(self._events,
                                           _EVENTS_INITIAL * ME_EVENT_WIDTH * sizeof(int64_t))
            self._events_cap = _EVENTS_INITIAL
        return events

    cdef int _execute(self, const int64_t* c) except -1:
        cdef int64_t kind = c[0]
        self._stamp += 1
        if self._stamp == 0:
            self._reset_stamps()
        self._n_touched = 0
        if kind == ME_CMD_PLACE:
            return self._place(c)
        if kind == ME_CMD_CANCEL:
            return self._cancel(c)
        if kind == ME_CMD_AMEND:
            return self._amend(c)
        if kind == ME_CMD_MASS_CANCEL:
            return self._mass_cancel(c)
        return self._reject(c, c[3], ME_REJ_INVALID_COMMAND)

    cdef int _place(self, const int64_t* c) except -1:
        cdef int64_t order_id = c[1], account_id = c[2], side = c[3], order_type = c[4]
        cdef int64_t stp = c[5], price = c[6], quantity = c[7], remaining
        cdef int64_t reason = 0
        if side < 0 or side > 1 or order_type < 0 or order_type > ME_MARKET \
                or stp < 0 or stp > ME_STP_CANCEL_BOTH or order_id <= 0:
            reason = ME_REJ_INVALID_COMMAND
        elif quantity <= 0:
            reason = ME_REJ_INVALID_QUANTITY
        elif quantity % self.lot != 0:
            reason = ME_REJ_QUANTITY_OFF_LOT
        elif price % self.tick != 0:
            reason = ME_REJ_PRICE_OFF_TICK
        elif price < self.min_price or price > self.max_price:
            reason = ME_REJ_PRICE_OUT_OF_BAND
        elif me_notional_overflows(price, quantity):
            reason = ME_REJ_NOTIONAL_OVERFLOW
        elif table_get(&self._ids, self._orders, order_id) != ME_NIL:
            reason = ME_REJ_DUPLICATE_ORDER_ID
        elif order_type == ME_POST_ONLY and self._crosses(<int>side, price):
            reason = ME_REJ_WOULD_CROSS
        if reason:
            return self._reject(c, side, reason)
        self._emit(ME_EV_ACCEPTED, order_id, account_id, side, price, quantity, quantity,
                   order_type, 0, 0, 0, 0)
        if order_type == ME_FOK and not self._fok_fillable(account_id, <int>side, <int>stp, price,
                                                           quantity):
            return self._emit(ME_EV_CANCELLED, order_id, account_id, side, price, quantity, 0,
                              ME_CXL_FOK_NOT_FILLABLE, 0, 0, 0, 0)
        if order_type == ME_POST_ONLY:
            remaining = quantity  # validated: it does not cross
        else:
            remaining = self._match(order_id, account_id, <int>side, <int>stp, price, quantity)
        self._finish_taker(order_id, account_id, <int>side, <int>order_type, <int>stp, price,
                           remaining)
        return self._flush_levels()

    cdef int _finish_taker(self, int64_t order_id, int64_t account_id, int side, int order_type,
                           int stp, int64_t price, int64_t remaining) except -1:
        """Rest or cancel what is left of a taker; remaining -1: already cancelled by STP."""
        if remaining <= 0:
            return 0
        if order_type == ME_LIMIT or order_type == ME_POST_ONLY:
            return self._rest(order_id, account_id, side, order_type, stp, price, remaining)
        return self._emit(ME_EV_CANCELLED, order_id, account_id, side, price, remaining, 0,
                          ME_CXL_MARKET_PROTECTION if order_type == ME_MARKET
                          else ME_CXL_IOC_REMAINDER, 0, 0, 0, 0)

    cdef int _cancel(self, const int64_t* c) except -1:
        cdef int64_t order_id = c[1], account_id = c[2]
        cdef uint32_t oi = table_get(&self._ids, self._orders, order_id)
        cdef MeOrder* o
        if oi == ME_NIL:
            return self._emit(ME_EV_REJECTED, order_id, account_id, 0, 0, 0, 0,
                              ME_REJ_UNKNOWN_ORDER, 0, 0, 0, 0)
        o = &self._orders[oi]
        if o.account_id != account_id:
            return self._emit(ME_EV_REJECTED, order_id, account_id, o.side, 0, 0, 0,
                              ME_REJ_NOT_ORDER_OWNER, 0, 0, 0, 0)
        self._touch(o.level)
        self._emit(ME_EV_CANCELLED, order_id, account_id, o.side, self._levels[o.level].price,
                   o.quantity, 0, ME_CXL_USER, 0, 0, 0, 0)
        self._remove_order(oi, True)
        return self._flush_levels()

    cdef int _amend(self, const int64_t* c) except -1:
        cdef int64_t order_id = c[1], account_id = c[2], price = c[6], quantity = c[7]
        cdef uint32_t oi = table_get(&self._ids, self._orders, order_id)
        cdef MeOrder* o
        cdef int64_t reason = 0, remaining
        cdef int side, order_type, stp
        if oi == ME_NIL:
            return self._reject(c, 0, ME_REJ_UNKNOWN_ORDER)
        o = &self._orders[oi]
        side = o.side
        order_type = o.order_type
        stp = o.stp
        if o.account_id != account_id:
            reason = ME_REJ_NOT_ORDER_OWNER
        elif quantity <= 0:
            reason = ME_REJ_INVALID_QUANTITY
        elif quantity % self.lot != 0:
            reason = ME_REJ_QUANTITY_OFF_LOT
        elif price % self.tick != 0:
            reason = ME_REJ_PRICE_OFF_TICK
        elif price < self.min_price or price > self.max_price:
            reason = ME_REJ_PRICE_OUT_OF_BAND
        elif me_notional_overflows(price, quantity):
            reason = ME_REJ_NOTIONAL_OVERFLOW
        elif order_type == ME_POST_ONLY and self._crosses(side, price):
            reason = ME_REJ_WOULD_CROSS
        if reason:
            return self._reject(c, side, reason)
        cdef MeLevel* lv = &self._levels[o.level]
        if price == lv.price and quantity <= o.quantity:
            lv.total -= o.quantity - quantity
            o.quantity = quantity
            self._touch(o.level)
            self._emit(ME_EV_AMENDED, order_id, account_id, side, price, quantity, quantity,
                       ME_AMEND_KEPT, 0, 0, 0, 0)
            return self._flush_levels()
        self._touch(o.level)
        self._remove_order(oi, True)
        self._emit(ME_EV_AMENDED, order_id, account_id, side, price, quantity, quantity,
                   ME_AMEND_LOST, 0, 0, 0, 0)
        if order_type == ME_POST_ONLY:
            remaining = quantity  # validated: it does not cross
        else:
            remaining = self._match(order_id, account_id, side, stp, price, quantity)
        self._finish_taker(order_id, account_id, side, order_type, stp, price, remaining)
        return self._flush_levels()

    cdef int _mass_cancel(self, const int64_t* c) except -1:
        cdef int64_t account_id = c[2]
        cdef uint32_t oi = table_get(&self._accounts, self._orders, account_id)
        if oi == ME_NIL:
            return 0
        cdef Py_ssize_t n = 0, k
        while oi != ME_NIL:
            n += 1
            oi = self._orders[oi].acct_next
        cdef me_id_index* ids = <me_id_index*>PyMem_Malloc(n * sizeof(me_id_index))
        if ids == NULL:
            raise MemoryError()
        cdef MeOrder* o
        try:
            oi = table_get(&self._accounts, self._orders, account_id)
            for k in range(n):
                ids[k].order_id = self._orders[oi].order_id
                ids[k].index = oi
                oi = self._orders[oi].acct_next
            qsort(ids, n, sizeof(me_id_index), me_cmp_id_index)
            for k in range(n):
                oi = ids[k].index
                o = &self._orders[oi]
                self._touch(o.level)
                self._emit(ME_EV_CANCELLED, o.order_id, account_id, o.side,
                           self._levels[o.level].price, o.quantity, 0, ME_CXL_MASS_CANCEL,
                           0, 0, 0, 0)
                self._remove_order(oi, True)
        finally:
            PyMem_Free(ids)
        return self._flush_levels()

    cdef bint _crosses(self, int side, int64_t price) noexcept:
        """Would an order of `side` at `price` trade on arrival?"""
        cdef MeSideBook* sb = &self._sides[1 - side]
        return sb.n > 0 and sb.keys[sb.n - 1] >= _key(1 - side, price)

    cdef bint _fok_fillable(self, int64_t account_id, int side, int stp, int64_t price,
                            int64_t quantity) noexcept:
        cdef int opp = 1 - side
        cdef MeSideBook* sb = &self._sides[opp]
        cdef int64_t limit_key = _key(opp, price), need = quantity
        cdef Py_ssize_t k = sb.n - 1
        cdef MeLevel* lv
        cdef MeOrder* m
        cdef uint32_t mi
        if stp != ME_STP_NONE and table_get(&self._accounts, self._orders, account_id) == ME_NIL:
            stp = ME_STP_NONE  # no own order rests: whole levels count
        while k >= 0 and sb.keys[k] >= limit_key:
            lv = &self._levels[sb.levels[k]]
            if stp == ME_STP_NONE:
                need -= lv.total
                if need <= 0:
                    return True
            else:
                mi = lv.head
                while mi != ME_NIL:
                    m = &self._orders[mi]
                    if m.account_id == account_id:
                        if stp != ME_STP_CANCEL_OLDEST:
                            return False
                    else:
                        need -= m.quantity
                        if need <= 0:
                            return True
                    mi = m.next
            k -= 1
        return False

    cdef int64_t _match(self, int64_t order_id, int64_t account_id, int side, int stp,
                        int64_t price, int64_t quantity) except -2:
        """Match a taker against the opposite side; its open quantity after, -1 if STP cancelled it."""
        cdef int opp = 1 - side
        cdef MeSideBook* sb = &self._sides[opp]
        cdef int64_t limit_key = _key(opp, price), remaining = quantity, fill, level_price
        cdef uint32_t li, mi, nxt
        cdef MeLevel* lv
        cdef MeOrder* m
        while remaining > 0 and sb.n > 0 and sb.keys[sb.n - 1] >= limit_key:
            li = sb.levels[sb.n - 1]
            lv = &self._levels[li]
            level_price = lv.price
            mi = lv.head
            while mi != ME_NIL and remaining > 0:
                m = &self._orders[mi]
                nxt = m.next
                if stp != ME_STP_NONE and m.account_id == account_id:
                    if stp == ME_STP_CANCEL_NEWEST:
                        self._emit(ME_EV_CANCELLED, order_id, account_id, side, price, remaining, 0,
                                   ME_CXL_SELF_TRADE, 0, 0, 0, 0)
                        return -1
                    self._touch(li)
                    self._emit(ME_EV_CANCELLED, m.order_id, m.account_id, opp, level_price,
                               m.quantity, 0, ME_CXL_SELF_TRADE, 0, 0, 0, 0)
                    self._remove_order(mi, False)
                    if stp == ME_STP_CANCEL_BOTH:
                        self._emit(ME_EV_CANCELLED, order_id, account_id, side, price, remaining, 0,
                                   ME_CXL_SELF_TRADE, 0, 0, 0, 0)
                        if lv.count == 0:
                            self._drop_level(li)
                        return -1
                else:
                    fill = remaining if remaining < m.quantity else m.quantity
                    remaining -= fill
                    m.quantity -= fill
                    lv.total -= fill
                    self._touch(li)
                    self._emit(ME_EV_FILL, order_id, account_id, side, level_price, fill, remaining,
                               0, m.order_id, m.account_id, m.quantity, 0)
                    if m.quantity == 0:
                        self._remove_order(mi, False)
                mi = nxt
            if lv.count == 0:
                self._drop_level(li)
        return remaining

    # -- INTERNALS ------------------------------------------------------------------------------

    cdef int _emit(self, int64_t kind, int64_t order_id, int64_t account_id, int64_t side,
                   int64_t price, int64_t quantity, int64_t remaining, int64_t reason,
                   int64_t maker_order_id, int64_t maker_account_id, int64_t maker_remaining,
                   int64_t order_count) except -1:
        cdef Py_ssize_t cap
        if self._n_events == self._events_cap:
            cap = self._events_cap * 2
            if self._batch_out is not None:
                resize(self._batch_out, cap * ME_EVENT_WIDTH)
                self._events = <int64_t*>self._batch_out.data.as_voidptr
            else:
                self._events = <int64_t*>_grow(self._events, cap * ME_EVENT_WIDTH * sizeof(int64_t))
            self._events_cap = cap
        cdef int64_t* r = self._events + self._n_events * ME_EVENT_WIDTH
        self._sequence += 1
        self._n_events += 1
        r[0] = self._sequence
        r[1] = kind
        r[2] = order_id
        r[3] = account_id
        r[4] = side
        r[5] = price
        r[6] = quantity
        r[7] = remaining
        r[8] = reason
        r[9] = maker_order_id
        r[10] = maker_account_id
        r[11] = maker_remaining
        r[12] = order_count
        return 0

    cdef int _reject(self, const int64_t* c, int64_t side, int64_t reason) except -1:
        return self._emit(ME_EV_REJECTED, c[1], c[2], side, c[6], c[7], 0, reason, 0, 0, 0, 0)

    cdef void _reset_stamps(self) noexcept:
        """The 32-bit command stamp wrapped: forget every level's last touch."""
        cdef Py_ssize_t k
        for k in range(self._levels_cap):
            self._levels[k].stamp = 0
        self._stamp = 1

    cdef int _touch(self, uint32_t li) except -1:
        cdef MeLevel* lv = &self._levels[li]
        if lv.stamp == self._stamp:
            return 0
        lv.stamp = self._stamp
        if self._n_touched == self._touched_cap:
            self._touched = <MeTouched*>_grow(self._touched,
                                              self._touched_cap * 2 * sizeof(MeTouched))
            self._touched_cap *= 2
        cdef MeTouched* t = &self._touched[self._n_touched]
        t.level = li
        t.side = lv.side
        t.price = lv.price
        self._n_touched += 1
        return 0

    cdef int _flush_levels(self) except -1:
        """One LEVEL event per touched level, first touch first, with its state after the command."""
        cdef Py_ssize_t k
        cdef MeTouched* t
        cdef MeLevel* lv
        for k in range(self._n_touched):
            t = &self._touched[k]
            lv = &self._levels[t.level]
            if lv.live and lv.side == t.side and lv.price == t.price:
                self._emit(ME_EV_LEVEL, 0, 0, t.side, t.price, lv.total, 0, 0, 0, 0, 0, lv.count)
            else:
                self._emit(ME_EV_LEVEL, 0, 0, t.side, t.price, 0, 0, 0, 0, 0, 0, 0)
        self._n_touched = 0
        return 0

    cdef uint32_t _alloc_order(self) except? 0xFFFFFFFE:
        cdef Py_ssize_t cap, k
        cdef uint32_t oi
        if self._free_order == ME_NIL:
            cap = self._orders_cap + (self._orders_cap >> 1) if self._orders_cap else _ORDERS_INITIAL
            if cap > _ORDERS_MAX:  # keeps the id table (load <= 0.7) within 2^32 slots
                if self._orders_cap >= _ORDERS_MAX:
                    raise MemoryError("order pool full")
                cap = _ORDERS_MAX
            self._orders = <MeOrder*>_grow(self._orders, cap * sizeof(MeOrder))
            for k in range(cap - 1, self._orders_cap - 1, -1):
                self._orders[k].live = 0
                self._orders[k].order_id = 0
                self._orders[k].next = self._free_order
                self._free_order = <uint32_t>k
            self._orders_cap = cap
        oi = self._free_order
        self._free_order = self._orders[oi].next
        return oi

    cdef uint32_t _alloc_level(self) except? 0xFFFFFFFE:
        cdef Py_ssize_t cap, k
        cdef uint32_t li
        cdef MeLevel* lv
        if self._free_level == ME_NIL:
            cap = self._levels_cap + (self._levels_cap >> 1) if self._levels_cap else _LEVELS_INITIAL
            if cap > _ORDERS_MAX:
                if self._levels_cap >= _ORDERS_MAX:
                    raise MemoryError("level pool full")
                cap = _ORDERS_MAX
            self._levels = <MeLevel*>_grow(self._levels, cap * sizeof(MeLevel))
            for k in range(cap - 1, self._levels_cap - 1, -1):
                self._levels[k].live = 0
                self._levels[k].tail = self._free_level
                self._free_level = <uint32_t>k
            self._levels_cap = cap
        li = self._free_level
        lv = &self._levels[li]
        self._free_level = lv.tail
        lv.live = 1
        lv.total = 0
        lv.count = 0
        lv.stamp = 0
        lv.head = ME_NIL
        lv.tail = ME_NIL
        return li

    cdef int _insert_level(self, int side, Py_ssize_t pos, int64_t key, uint32_t li) except -1:
        cdef MeSideBook* sb = &self._sides[side]
        cdef Py_ssize_t cap
        if sb.n == sb.cap:
            cap = sb.cap + (sb.cap >> 1)
            sb.keys = <int64_t*>_grow(sb.keys, cap * sizeof(int64_t))
            sb.levels = <uint32_t*>_grow(sb.levels, cap * sizeof(uint32_t))
            sb.cap = cap
        if pos < sb.n:
            memmove(&sb.keys[pos + 1], &sb.keys[pos], (sb.n - pos) * sizeof(int64_t))
            memmove(&sb.levels[pos + 1], &sb.levels[pos], (sb.n - pos) * sizeof(uint32_t))
        sb.keys[pos] = key
        sb.levels[pos] = li
        sb.n += 1
        return 0

    cdef uint32_t _level_for(self, int side, int64_t price) except? 0xFFFFFFFE:
        """The level of `price` on `side`, created (and inserted in order) when missing."""
        cdef MeSideBook* sb = &self._sides[side]
        cdef int64_t key = _key(side, price)
        cdef Py_ssize_t lo = 0, hi = sb.n, mid, k
        cdef uint32_t li
        if hi > 0 and sb.keys[hi - 1] <= key:
            if sb.keys[hi - 1] == key:
                return sb.levels[hi - 1]
            lo = hi
        else:
            while lo < hi:  # first position whose key >= key
                mid = (lo + hi) >> 1
                if sb.keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < sb.n and sb.keys[lo] == key:
                return sb.levels[lo]
        li = self._alloc_level()
        self._levels[li].price = price
        self._levels[li].side = side
        self._insert_level(side, lo, key, li)
        # the same (side, price) may have been touched and emptied earlier in this command
        for k in range(self._n_touched):
            if self._touched[k].price == price and self._touched[k].side == <uint32_t>side:
                self._touched[k].level = li
                self._levels[li].stamp = self._stamp
                break
        return li

    cdef void _drop_level(self, uint32_t li) noexcept:
        """Remove an empty level from its side and return it to the pool."""
        cdef MeLevel* lv = &self._levels[li]
        cdef MeSideBook* sb = &self._sides[lv.side]
        cdef int64_t key = _key(lv.side, lv.price)
        cdef Py_ssize_t lo = 0, hi = sb.n, mid
        if sb.keys[sb.n - 1] == key:
            sb.n -= 1
        else:
            while lo < hi:
                mid = (lo + hi) >> 1
                if sb.keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            memmove(&sb.keys[lo], &sb.keys[lo + 1], (sb.n - lo - 1) * sizeof(int64_t))
            memmove(&sb.levels[lo], &sb.levels[lo + 1], (sb.n - lo - 1) * sizeof(uint32_t))
            sb.n -= 1
        lv.live = 0
        lv.tail = self._free_level
        self._free_level = li

    cdef int _rest(self, int64_t order_id, int64_t account_id, int side, int order_type, int stp,
                   int64_t price, int64_t quantity) except -1:
        cdef uint32_t li = self._level_for(side, price)
        self._append_order(li, order_id, account_id, side, order_type, stp, quantity)
        return self._touch(li)

    cdef int _append_order(self, uint32_t li, int64_t order_id, int64_t account_id, int side,
                           int order_type, int stp, int64_t quantity) except -1:
        """Put a new order at the back of level li and into the id and account indexes."""
        cdef uint32_t oi = self._alloc_order()
        cdef uint32_t head
        cdef MeOrder* o = &self._orders[oi]
        cdef MeLevel* lv = &self._levels[li]
        o.order_id = order_id  # the hash tables read their keys from the order itself
        o.account_id = account_id
        try:
            table_put(&self._ids, self._orders, order_id, oi)
            head = table_put(&self._accounts, self._orders, account_id, oi)
        except MemoryError:
            table_pop(&self._ids, self._orders, order_id)
            o.order_id = 0
            o.next = self._free_order
            self._free_order = oi
            raise
        o.quantity = quantity
        o.level = li
        o.side = side
        o.order_type = order_type
        o.stp = stp
        o.live = 1
        o.next = ME_NIL
        o.prev = lv.tail
        if lv.tail != ME_NIL:
            self._orders[lv.tail].next = oi
        else:
            lv.head = oi
        lv.tail = oi
        lv.total += quantity
        lv.count += 1
        o.acct_prev = ME_NIL
        o.acct_next = head
        if head != ME_NIL:
            self._orders[head].acct_prev = oi
        self._order_count += 1
        return 0

    cdef int _remove_order(self, uint32_t oi, bint drop_empty_level) except -1:
        """Take a resting order out of its level, the indexes and the pool."""
        cdef MeOrder* o = &self._orders[oi]
        cdef uint32_t li = o.level
        cdef MeLevel* lv = &self._levels[li]
        if o.prev != ME_NIL:
            self._orders[o.prev].next = o.next
        else:
            lv.head = o.next
        if o.next != ME_NIL:
            self._orders[o.next].prev = o.prev
        else:
            lv.tail = o.prev
        lv.total -= o.quantity
        lv.count -= 1
        table_pop(&self._ids, self._orders, o.order_id)
        if o.acct_prev != ME_NIL:
            self._orders[o.acct_prev].acct_next = o.acct_next
        elif o.acct_next != ME_NIL:
            table_put(&self._accounts, self._orders, o.account_id, o.acct_next)
        else:
            table_pop(&self._accounts, self._orders, o.account_id)
        if o.acct_next != ME_NIL:
            self._orders[o.acct_next].acct_prev = o.acct_prev
        o.live = 0
        o.order_id = 0
        o.next = self._free_order
        self._free_order = oi
        self._order_count -= 1
        if drop_empty_level and lv.count == 0:
            self._drop_level(li)
        return 0
