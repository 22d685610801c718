"""A supplier and a creator in two browsers: the supplier registers capacity and writes a capacity
option against it, the creator buys and exercises it, the booking appears on both sides (live on
the supplier's page), the supplier confirms it and the creator confirms delivery; each milestone
releases its share of the escrow."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.helpers import DAY_MS, cny, log_in, next_monday_ms, open_instrument


def test_write_buy_exercise_then_confirm_the_booking_milestones(open_page, exchange, unique):
    process = unique("browser-supply")
    window_start = next_monday_ms(12)
    window_end = window_start + 7 * DAY_MS
    symbol = exchange.list_capacity_option(process, window_start, strike=2_000, units_per_contract=10)
    supplier = unique("supplier")
    exchange.open_account(supplier, "supplier", cash=100_000)
    creator = unique("creator")
    exchange.open_account(creator, "creator", cash=1_000_000)

    # The supplier registers 100 units for the option's process and window, then writes 2 contracts.
    desk = open_page()
    log_in(desk, supplier)
    expect(desk.get_by_test_id("capacity-table").locator("tr.empty")).to_have_count(1)
    form = desk.get_by_test_id("capacity-form")
    form.locator("input[name=process]").fill(process)
    form.locator("input[name=process]").dispatch_event("change")
    form.locator("select[name=window]").select_option(f"{window_start}-{window_end}")
    form.locator("input[name=units]").fill("100")
    desk.get_by_test_id("register-capacity").click()
    expect(form.locator(".form-message")).to_contain_text("Registered: 100 units")
    capacity = desk.get_by_test_id("capacity-table").locator("tbody tr")
    expect(capacity.locator("td.free")).to_have_text(["100"])

    option = desk.get_by_test_id("write-table").locator(f"tr[data-key='{symbol}']")
    option.locator("input[name=write-price]").fill("5.00")
    option.locator("input[name=write-quantity]").fill("2")
    option.get_by_test_id("write").click()
    expect(desk.get_by_test_id("write-options").locator(".form-message")).to_contain_text("sell 2")
    expect(capacity.locator("td.free")).to_have_text(["80"])  # 2 contracts x 10 units lock capacity
    expect(desk.get_by_test_id("supplier-orders-table").locator("tbody tr")).to_have_count(1)

    # The creator buys both and exercises one: the booking appears at once.
    studio = open_page()
    log_in(studio, creator)
    open_instrument(studio, symbol)
    studio.get_by_test_id("asks").locator(".level").last.click()
    studio.get_by_test_id("ticket").locator("input[name=quantity]").fill("2")
    studio.get_by_test_id("place-order").click()
    expect(studio.get_by_test_id("position-quantity")).to_have_text("2")
    exercise = studio.get_by_test_id("exercise-form")
    exercise.locator("input[name=exercise_quantity]").fill("1")
    studio.get_by_test_id("exercise").click()
    expect(studio.get_by_test_id("my-position")).to_contain_text("Exercised 1 contract(s): booking")
    expect(studio.get_by_test_id("position-quantity")).to_have_text("1")
    creator_bookings = studio.get_by_test_id("bookings-table").locator("tbody tr")
    expect(creator_bookings).to_have_count(1)
    expect(creator_bookings.first.locator(".badge")).to_have_text("confirmed pending")

    (booking,) = exchange.get("/portfolio/bookings", exchange.token(creator))
    assert (booking["units"], booking["escrow_total"]) == (10, 10 * 2_000)
    first_share = booking["escrow_total"] * 30 // 100  # the supplier's confirmation releases 30%

    # The supplier's page shows the booking without a reload, and confirms it.
    supplier_booking = desk.get_by_test_id("supplier-bookings").locator(
        f"tr[data-key='{booking['booking_id']}']"
    )
    expect(supplier_booking.locator(".badge")).to_have_text("confirmed pending")
    expect(capacity.locator("td[data-label=Booked]")).to_have_text(["10"])
    supplier_booking.get_by_test_id("milestone-confirmed").click()
    expect(supplier_booking.locator(".badge")).to_have_text("confirmed")
    expect(supplier_booking.locator("td[data-label=Released]")).to_have_text(cny(first_share))

    # The creator confirms delivery from the portfolio: the rest of the escrow goes to the supplier.
    studio.get_by_role("link", name="Portfolio").click()
    row = studio.get_by_test_id("bookings").locator(f"tr[data-key='{booking['booking_id']}']")
    expect(row.locator(".badge")).to_have_text("confirmed")
    expect(row.locator(".milestones li").first).to_contain_text("paid")
    row.get_by_test_id("milestone-delivered").click()
    expect(row.locator(".badge")).to_have_text("delivered")
    expect(row.locator("td[data-label=Released]")).to_have_text(cny(booking["escrow_total"]))
    expect(supplier_booking.locator(".badge")).to_have_text("delivered")

    # The supplier sees the same through the API.
    (after,) = exchange.get("/portfolio/bookings", exchange.token(supplier))
    assert after["status"] == "delivered" and after["released_to_supplier"] == booking["escrow_total"]
