"""Audit of a store's SQL projections: the invariants of DESIGN.md section 2, checked in SQL.

`audit_database(url)` returns one line per breach (empty: the database is sound). Checks:

- journal: seqs are gapless from 1; no snapshot is ahead of the journal.
- ledger: every posting moves a positive amount (a self-trade may move cash from an account to
  itself: harmless, not a breach); the balances
  of all ledger accounts (credits - debits) sum to zero; each user's `available` and `locked`
  ledger balances equal the `balances` projection; no ledger account but `external` is negative.
- no negative balance: `balances.available >= 0`, `balances.locked >= 0`.
- open interest: per instrument, total long = total short (positions sum to zero); swap
  positions are zero.
- locks never exceed holdings: 0 <= `positions.locked` <= the long; capacity `locked + booked
  <= registered`, none negative; order quantities consistent (0 <= open, filled <= quantity).
- bookings: 0 <= released + refunded <= escrow_total; a delivered or defaulted booking has paid
  out its whole escrow; the `exchange:escrow` ledger balance equals the escrow still held by
  bookings (escrow_total - released - refunded, summed).

`capex audit [--database-url URL]` (`run_audit`) prints them and exits 1 on any breach. The
sequencer's in-memory invariants are exchange/invariants.py's (`Sequencer.audit()`).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from exchange.instruments import CAPACITY_SWAP
from exchange.store.database import make_reader_engine

ESCROW = "exchange:escrow"
EXTERNAL = "external"


def _ledger_balances(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        text(
            "SELECT account, SUM(amount) FROM ("
            " SELECT credit_account AS account, amount FROM ledger_postings"
            " UNION ALL SELECT debit_account AS account, -amount FROM ledger_postings"
            ") AS moves GROUP BY account"
        )
    ).all()
    return {account: int(total) for account, total in rows}


def audit_connection(connection: Connection) -> list[str]:
    breaches: list[str] = []
    q = connection.execute

    # -- journal
    count, max_seq, min_seq = q(
        text("SELECT COUNT(*), COALESCE(MAX(seq), 0), COALESCE(MIN(seq), 1) FROM journal")
    ).one()
    if count != max_seq or (count and min_seq != 1):
        breaches.append(f"journal: {count} entries but seqs run {min_seq}..{max_seq} (gap or duplicate)")
    max_snapshot = q(text("SELECT COALESCE(MAX(seq), 0) FROM snapshots")).scalar_one()
    if max_snapshot > max_seq:
        breaches.append(
            f"snapshots: a snapshot at seq {max_snapshot} is ahead of the journal (last seq {max_seq})"
        )

    # -- ledger
    for posting_id, debit, credit, amount in q(
        text(
            "SELECT posting_id, debit_account, credit_account, amount FROM ledger_postings"
            " WHERE amount <= 0 ORDER BY posting_id LIMIT 20"
        )
    ):
        breaches.append(f"ledger: posting {posting_id} moves {amount} fen from {debit} to {credit}")
    balances = _ledger_balances(connection)
    total = sum(balances.values())
    if total != 0:
        breaches.append(f"ledger: balances sum to {total} fen, not 0")
    for account, balance in sorted(balances.items()):
        if account != EXTERNAL and balance < 0:
            breaches.append(f"ledger: {account} has a negative balance of {balance} fen")
    projected = {
        account_id: (available, locked)
        for account_id, available, locked in q(text("SELECT account_id, available, locked FROM balances"))
    }
    user_ids = set(projected)
    for account in balances:
        if account.startswith("user:"):
            try:
                user_ids.add(int(account.split(":")[1]))
            except ValueError:
                breaches.append(f"ledger: malformed ledger account {account!r}")
    for account_id in sorted(user_ids):
        available, locked = projected.get(account_id, (0, 0))
        ledger_available = balances.get(f"user:{account_id}:available", 0)
        ledger_locked = balances.get(f"user:{account_id}:locked", 0)
        if (available, locked) != (ledger_available, ledger_locked):
            breaches.append(
                f"balances: account {account_id} shows available {available}, locked {locked} but its "
                f"ledger says available {ledger_available}, locked {ledger_locked}"
            )
        if available < 0 or locked < 0:
            breaches.append(
                f"balances: account {account_id} is negative (available {available}, locked {locked})"
            )

    # -- positions and open interest
    for symbol, long_, short in q(
        text(
            "SELECT symbol, SUM(CASE WHEN position > 0 THEN position ELSE 0 END),"
            " SUM(CASE WHEN position < 0 THEN -position ELSE 0 END) FROM positions GROUP BY symbol"
            " HAVING SUM(position) <> 0 ORDER BY symbol"
        )
    ):
        breaches.append(f"open interest: {symbol} has {long_} long but {short} short")
    for account_id, symbol, position, locked in q(
        text(
            "SELECT account_id, symbol, position, locked FROM positions"
            " WHERE locked < 0 OR locked > CASE WHEN position > 0 THEN position ELSE 0 END"
            " ORDER BY account_id, symbol LIMIT 50"
        )
    ):
        breaches.append(
            f"positions: account {account_id} {symbol} reserves {locked} of a position of {position}"
        )
    for account_id, symbol, position in q(
        text(
            "SELECT p.account_id, p.symbol, p.position FROM positions p"
            " JOIN instruments i ON i.symbol = p.symbol"
            " WHERE i.kind = :swap AND p.position <> 0 ORDER BY p.account_id LIMIT 50"
        ),
        {"swap": CAPACITY_SWAP.value},
    ):
        breaches.append(f"positions: account {account_id} holds {position} of swap {symbol} (must stay 0)")

    # -- capacity and orders
    for supplier_id, process, window_start, registered, locked, booked in q(
        text(
            "SELECT supplier_id, process, window_start, registered, locked, booked FROM capacity"
            " WHERE registered < 0 OR locked < 0 OR booked < 0 OR locked + booked > registered LIMIT 50"
        )
    ):
        breaches.append(
            f"capacity: supplier {supplier_id} {process}@{window_start} has locked {locked} + booked {booked}"
            f" of {registered} registered"
        )
    for order_id, quantity, open_quantity, filled in q(
        text(
            "SELECT order_id, quantity, open_quantity, filled_quantity FROM orders WHERE open_quantity < 0"
            " OR filled_quantity < 0 OR open_quantity + filled_quantity > quantity LIMIT 50"
        )
    ):
        breaches.append(f"orders: order {order_id} has open {open_quantity} + filled {filled} of {quantity}")

    # -- bookings and escrow
    held_total = 0
    for booking_id, status, escrow, released, refunded in q(
        text(
            "SELECT booking_id, status, escrow_total, released_to_supplier, refunded_to_creator FROM bookings"
            " ORDER BY booking_id"
        )
    ):
        paid = released + refunded
        if released < 0 or refunded < 0 or paid > escrow:
            breaches.append(
                f"bookings: booking {booking_id} paid out {released} + {refunded} of an escrow of {escrow}"
            )
        elif status in ("delivered", "defaulted") and paid != escrow:
            breaches.append(
                f"bookings: booking {booking_id} is {status} but {escrow - paid} fen of escrow is held"
            )
        held_total += escrow - paid
    escrow_balance = balances.get(ESCROW, 0)
    if escrow_balance != held_total:
        breaches.append(
            f"escrow: the ledger holds {escrow_balance} fen in {ESCROW} but bookings hold {held_total} fen"
        )
    return breaches


def audit_database(url: str) -> list[str]:
    engine = make_reader_engine(url)
    try:
        with engine.connect() as connection:
            return audit_connection(connection)
    finally:
        engine.dispose()


def run_audit(url: str) -> int:
    """`capex audit`: the breaches on stdout, one line each; 0 when there is none, 1 on a breach, 2
    when the database cannot be read (one line on stderr, no traceback)."""
    import sys

    from sqlalchemy.exc import SQLAlchemyError

    from exchange.store.database import normalize_url

    try:
        breaches = audit_database(normalize_url(url))
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0]
        hint = (
            " (no exchange schema here: start the exchange once, or pass --database-url)"
            if "journal" in first_line
            else ""
        )
        print(f"audit: cannot read the database {url}: {first_line}{hint}", file=sys.stderr)
        return 2
    if breaches:
        for breach in breaches:
            print(f"BREACH {breach}")
        print(f"audit: {len(breaches)} breach(es)", file=sys.stderr)
        return 1
    print("audit: ok")
    return 0
