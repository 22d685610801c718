// Pieces shared by the instrument, portfolio and supplier pages: order actions (amend, cancel),
// position transfer, exercise, and the bookings table with its milestones.

import { api } from "./api.js";
import { h, messageArea, run, table } from "./dom.js";
import { formatTime, formatWindow } from "./format.js";
import { fenToInput, formatCny, parseCny, parseCount } from "./money.js";
import { session } from "./session.js";

// The supplier's share released when it confirms a booking (docs/exchange.md, "Booking
// milestones"): 30% of the escrow, rounded down to the fen; the rest on delivery.
const CONFIRMATION_PERCENT = 30;

/** Amend (new price and open quantity) and cancel buttons of one open order. */
export function orderActions(order, messages, refresh) {
  if (order.status !== "open" && order.status !== "partially_filled") return "";
  const newPrice = h("input", { class: "small-input", name: "amend-price", value: fenToInput(order.price), inputmode: "decimal", "aria-label": "new price (CNY)" });
  const newQuantity = h("input", { class: "small-input", name: "amend-quantity", value: String(order.open_quantity), inputmode: "numeric", "aria-label": "new open quantity" });
  const amendForm = h(
    "form",
    { class: "amend", hidden: true },
    newPrice,
    newQuantity,
    h("button", { type: "submit", class: "secondary", "data-testid": "amend-submit" }, "Save"),
  );
  amendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    run(
      amendForm.querySelector("button"),
      messages,
      async () => {
        const result = await api.patch(`/orders/${order.order_id}`, {
          price: parseCny(newPrice.value, { allowNegative: true, label: "price" }),
          quantity: parseCount(newQuantity.value),
        });
        refresh();
        return result;
      },
      (o) => `Order ${o.order_id} amended: ${o.open_quantity} open @ ${formatCny(o.price)}.`,
    );
  });
  return h(
    "div",
    { class: "row-actions" },
    h("button", { type: "button", class: "link", "data-testid": "amend", onclick: () => (amendForm.hidden = !amendForm.hidden) }, "Amend"),
    h(
      "button",
      {
        type: "button",
        class: "link danger",
        "data-testid": "cancel",
        onclick: (event) =>
          run(event.currentTarget, messages, async () => {
            const result = await api.delete(`/orders/${order.order_id}`);
            refresh();
            return result;
          }, (o) => `Order ${o.order_id} cancelled.`),
      },
      "Cancel",
    ),
    amendForm,
  );
}

/** orderActions per order, reused while the order is unchanged: a refresh of the table (a live
 *  event) does not wipe an amend being typed. */
export function orderActionsCache(messages, refresh) {
  const cache = new Map();
  return (order) => {
    const key = `${order.order_id}:${order.price}:${order.open_quantity}:${order.status}`;
    if (!cache.has(key)) cache.set(key, orderActions(order, messages, refresh));
    return cache.get(key);
  };
}

/** Transfer contracts of a position to another login. */
export function transferForm(symbol, free, messages, refresh) {
  const to = h("input", { name: "to_username", placeholder: "username", autocapitalize: "none", autocomplete: "off" });
  const count = h("input", { name: "transfer_quantity", inputmode: "numeric", value: String(Math.max(free, 1)) });
  const button = h("button", { type: "submit", class: "secondary", "data-testid": "transfer-position" }, "Transfer");
  const form = h("form", { class: "inline-form", "data-testid": "transfer-form" }, h("strong", {}, "Transfer to "), to, count, h("span", { class: "muted" }, " contracts "), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(
      button,
      messages,
      async () => {
        const result = await api.post("/transfers", {
          asset: "position",
          to_username: to.value.trim(),
          symbol,
          quantity: parseCount(count.value),
        });
        refresh();
        return result;
      },
      (t) => `Transferred ${t.quantity} contract(s) of ${t.symbol} to account ${t.to_account_id} (transfer ${t.transfer_id}).`,
    );
  });
  return form;
}

/** Exercise a capacity option: the bookings created are shown right away. */
export function exerciseForm(symbol, free, messages, refresh) {
  const count = h("input", { name: "exercise_quantity", inputmode: "numeric", value: String(Math.max(free, 1)) });
  const button = h("button", { type: "submit", class: "secondary", "data-testid": "exercise" }, "Exercise");
  const form = h("form", { class: "inline-form", "data-testid": "exercise-form" }, h("strong", {}, "Exercise "), count, h("span", { class: "muted" }, " contracts "), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(
      button,
      messages,
      async () => {
        const result = await api.post("/exercise", { symbol, quantity: parseCount(count.value) });
        refresh();
        return result;
      },
      (r) =>
        `Exercised ${r.quantity} contract(s): ` +
        r.bookings.map((b) => `booking ${b.booking_id} with supplier ${b.supplier_id}, ${b.units} units, ${formatCny(b.escrow_total)} in escrow`).join("; "),
    );
  });
  return form;
}

/** The milestone payments of a booking: what is released when, and what has been. */
export function milestones(booking) {
  const onConfirmation = Math.floor((booking.escrow_total * CONFIRMATION_PERCENT) / 100);
  const onDelivery = booking.escrow_total - onConfirmation;
  const confirmed = ["confirmed", "delivered"].includes(booking.status);
  const delivered = booking.status === "delivered";
  const defaulted = booking.status === "defaulted";
  return h(
    "ul",
    { class: "milestones" },
    h(
      "li",
      { class: confirmed ? "done" : defaulted ? "void" : "" },
      `${CONFIRMATION_PERCENT}% on supplier confirmation: ${formatCny(onConfirmation)} ${confirmed ? "paid" : defaulted ? "refunded" : "pending"}`,
    ),
    h(
      "li",
      { class: delivered ? "done" : defaulted ? "void" : "" },
      `rest on delivery: ${formatCny(onDelivery)} ${delivered ? "paid" : defaulted ? "refunded" : "pending"}`,
    ),
  );
}

/** Bookings where this account is the creator or the supplier, with the next milestone to confirm. */
export function bookingsTable(bookings, refresh) {
  const messages = messageArea();
  const me = session.accountId;
  const action = (b) => {
    let milestone = null;
    let label = null;
    if (b.supplier_id === me && b.status === "confirmed_pending") [milestone, label] = ["confirmed", "Confirm booking"];
    if (b.creator_id === me && b.status === "confirmed") [milestone, label] = ["delivered", "Confirm delivery"];
    if (!milestone) return "";
    return h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-testid": `milestone-${milestone}`,
        onclick: (event) =>
          run(
            event.currentTarget,
            messages,
            async () => {
              const result = await api.post(`/bookings/${b.booking_id}/milestones`, { milestone });
              refresh();
              return result;
            },
            (r) => `Booking ${r.booking_id}: ${r.status}; ${formatCny(r.released_to_supplier)} released to the supplier.`,
          ),
      },
      label,
    );
  };
  return h(
    "div",
    {},
    table(
      [
        { label: "Booking", value: (b) => `#${b.booking_id}` },
        { label: "Option", value: (b) => h("a", { href: `#/instrument/${encodeURIComponent(b.symbol)}`, class: "symbol" }, b.symbol) },
        { label: "You are", value: (b) => (b.supplier_id === me ? `supplier (creator #${b.creator_id})` : `creator (supplier #${b.supplier_id})`) },
        { label: "Units", value: (b) => `${b.units} × ${formatCny(b.strike)}`, class: "num" },
        { label: "Window (UTC)", value: (b) => formatWindow(b.window_start, b.window_end), class: "hide-sm" },
        { label: "Escrow", value: (b) => formatCny(b.escrow_total), class: "num" },
        { label: "Released", value: (b) => formatCny(b.released_to_supplier), class: "num" },
        { label: "Refunded", value: (b) => formatCny(b.refunded_to_creator), class: "num hide-sm" },
        { label: "Milestones", value: milestones },
        { label: "Status", value: (b) => h("span", { class: `badge booking-${b.status}` }, b.status.replace("_", " ")) },
        { label: "Updated", value: (b) => formatTime(b.updated_at), class: "hide-sm" },
        { label: "", value: action },
      ],
      bookings,
      { key: (b) => b.booking_id, testid: "bookings-table", empty: "No booking yet." },
    ),
    messages.element,
  );
}
