// Suppliers: register production capacity for a process and delivery window, write capacity
// options against it (sell orders the capacity backs), and see and confirm the bookings that
// exercise assigns to you.

import { api, newClientOrderId } from "../api.js";
import { field, h, messageArea, replace, run, select, table } from "../dom.js";
import { dayToMs, formatDay, formatWindow } from "../format.js";
import { fenToInput, formatCny, formatCount, parseCny, parseCount } from "../money.js";
import { instrumentsBySymbol } from "../store.js";
import { bookingsTable, orderActionsCache } from "../widgets.js";

const DAY_MS = 86_400_000;

export function render(view, ctx) {
  const stops = [];
  const messages = messageArea();
  const capacityBox = h("div", { "data-testid": "capacity" });
  const writeBox = h("div", { "data-testid": "write-options" });
  const ordersBox = h("div", { "data-testid": "supplier-orders" });
  const bookingsBox = h("div", { "data-testid": "supplier-bookings" });
  let instruments = new Map();
  let capacity = [];
  const asks = new Map(); // symbol -> best bid/ask from the ticker
  // Built once per option and reused by every redraw, so that a live event never wipes what is typed.
  const writeForms = new Map();
  const writeMessages = messageArea();
  const orderMessages = messageArea();
  const actionsOf = orderActionsCache(orderMessages, () => load());

  view.append(
    h(
      "section",
      { class: "page page-supplier" },
      h("div", { class: "page-head" }, h("h1", {}, "Supplier")),
      messages.element,
      h(
        "div",
        { class: "grid-2 wide-left" },
        h("div", { class: "card" }, h("h2", {}, "Your capacity"), capacityBox),
        h("div", { class: "card" }, h("h2", {}, "Register capacity"), registerForm()),
      ),
      h("div", { class: "card" }, h("h2", {}, "Bookings"), bookingsBox),
      h("div", { class: "card" }, h("h2", {}, "Write capacity options"), h("p", { class: "muted small" }, "A sell order on an option of the same process and delivery window locks units of your free capacity per contract; it is released when the order is cancelled, and booked when a holder exercises."), writeBox),
      h("div", { class: "card" }, h("h2", {}, "Your open orders"), ordersBox),
    ),
  );

  // -- REGISTER ------------------------------------------------------------------------------------
  function registerForm() {
    const formMessages = messageArea();
    const process = h("input", { name: "process", list: "known-processes", placeholder: "e.g. notebook-a5-print", autocomplete: "off", autocapitalize: "none" });
    const windowSelect = select("window", [["custom", "Custom window…"]], "custom");
    const from = h("input", { type: "date", name: "window_from" });
    const to = h("input", { type: "date", name: "window_to" });
    const units = h("input", { name: "units", inputmode: "numeric", placeholder: "production units" });
    const custom = h("div", { class: "grid-2 tight" }, field("First day (UTC)", from), field("Last day (UTC)", to));
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "register-capacity" }, "Register");
    const form = h(
      "form",
      { class: "stack", "data-testid": "capacity-form" },
      field("Process", process),
      field("Delivery window", windowSelect, "Options need capacity for exactly their window."),
      custom,
      field("Units", units),
      submit,
      formMessages.element,
      h("datalist", { id: "known-processes" }),
    );
    const fillWindows = () => {
      const windows = new Map();
      for (const i of instruments.values()) {
        if (i.kind !== "CAP" || (process.value && i.terms.process !== process.value.trim())) continue;
        windows.set(`${i.terms.window_start}-${i.terms.window_end}`, formatWindow(i.terms.window_start, i.terms.window_end));
      }
      const sorted = [...windows.entries()].sort();
      replace(windowSelect, ...select("w", [...sorted, ["custom", "Custom window…"]], sorted[0]?.[0] ?? "custom").children);
      windowSelect.value = sorted[0]?.[0] ?? "custom";
      custom.hidden = windowSelect.value !== "custom";
    };
    form.fillWindows = fillWindows;
    process.addEventListener("change", fillWindows);
    windowSelect.addEventListener("change", () => (custom.hidden = windowSelect.value !== "custom"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        submit,
        formMessages,
        async () => {
          let windowStart;
          let windowEnd;
          if (windowSelect.value === "custom") {
            windowStart = dayToMs(from.value);
            const last = dayToMs(to.value);
            if (windowStart === null || last === null) throw Object.assign(new Error("choose the first and last day"), { code: "INVALID_INPUT" });
            windowEnd = last + DAY_MS; // the window ends at the start of the day after its last day
          } else {
            [windowStart, windowEnd] = windowSelect.value.split("-").map(Number);
          }
          const result = await api.post("/capacity", {
            process: process.value.trim(),
            window_start: windowStart,
            window_end: windowEnd,
            units: parseCount(units.value, { label: "units" }),
          });
          await load();
          return result;
        },
        (c) => `Registered: ${formatCount(c.registered)} units of ${c.process} for ${formatWindow(c.window_start, c.window_end)}, ${formatCount(c.free)} free.`,
      );
    });
    return form;
  }

  // -- CAPACITY AND WRITING ------------------------------------------------------------------------
  function drawCapacity() {
    replace(
      capacityBox,
      table(
        [
          { label: "Process", value: (c) => c.process, class: "nowrap" },
          { label: "Window (UTC)", value: (c) => formatWindow(c.window_start, c.window_end), class: "nowrap" },
          { label: "Registered", value: (c) => formatCount(c.registered), class: "num" },
          { label: "Locked by options", value: (c) => formatCount(c.locked), class: "num" },
          { label: "Booked", value: (c) => formatCount(c.booked), class: "num" },
          { label: "Free", value: (c) => formatCount(c.free), class: "num free" },
        ],
        capacity,
        { key: (c) => `${c.process}|${c.window_start}|${c.window_end}`, testid: "capacity-table", empty: "No capacity registered yet." },
      ),
    );
  }

  function drawWrite() {
    const writable = [...instruments.values()].filter(
      (i) =>
        i.kind === "CAP" &&
        ["trading", "pending"].includes(i.status) &&
        capacity.some((c) => c.process === i.terms.process && c.window_start === i.terms.window_start && c.window_end === i.terms.window_end),
    );
    const freeFor = (i) =>
      capacity.find((c) => c.process === i.terms.process && c.window_start === i.terms.window_start && c.window_end === i.terms.window_end)?.free ?? 0;
    const writeCell = (i) => {
      if (!writeForms.has(i.symbol)) writeForms.set(i.symbol, writeForm(i));
      return writeForms.get(i.symbol);
    };
    const writeForm = (i) => {
      const best = asks.get(i.symbol);
      const price = h("input", { class: "small-input", name: "write-price", inputmode: "decimal", placeholder: "CNY", value: fenToInput(best?.best_ask ?? i.last_trade_price ?? null) });
      const count = h("input", { class: "small-input", name: "write-quantity", inputmode: "numeric", value: "1" });
      const button = h("button", { type: "submit", class: "secondary sell", "data-testid": "write" }, "Write");
      const form = h("form", { class: "inline-form" }, price, count, button);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        run(
          button,
          writeMessages,
          async () => {
            const ack = await api.post("/orders", {
              symbol: i.symbol,
              client_order_id: newClientOrderId(),
              side: "sell",
              order_type: "limit",
              price: parseCny(price.value, { label: "price" }),
              quantity: parseCount(count.value),
            });
            await load();
            return ack;
          },
          (ack) => `Order ${ack.order_id}: sell ${ack.quantity} ${ack.symbol} @ ${formatCny(ack.price)}, ${ack.status.replace("_", " ")}.`,
        );
      });
      return form;
    };
    replace(
      writeBox,
      table(
        [
          { label: "Option", value: (i) => h("a", { href: `#/instrument/${encodeURIComponent(i.symbol)}`, class: "symbol" }, i.symbol) },
          { label: "Strike", value: (i) => `${formatCny(i.terms.strike)}/unit`, class: "num" },
          { label: "Units / contract", value: (i) => formatCount(i.terms.units_per_contract), class: "num hide-sm" },
          { label: "Free capacity", value: (i) => `${formatCount(Math.floor(freeFor(i) / i.terms.units_per_contract))} contracts`, class: "num" },
          { label: "Bid / ask", value: (i) => h("span", { class: "bid-ask", "data-symbol": i.symbol }, bidAsk(i.symbol)), class: "num hide-sm" },
          { label: "Write (price, contracts)", value: writeCell },
        ],
        writable,
        { key: (i) => i.symbol, testid: "write-table", empty: "No listed option matches your registered capacity (process and exact window)." },
      ),
      writeMessages.element,
    );
  }

  // -- LOADING -------------------------------------------------------------------------------------
  async function load() {
    try {
      const [all, capacityRows, orders, bookings] = await Promise.all([
        instrumentsBySymbol({ fresh: true }),
        api.get("/portfolio/capacity"),
        api.get("/orders", { status: "open", limit: 200 }),
        api.get("/portfolio/bookings"),
      ]);
      instruments = all;
      capacity = capacityRows;
      const datalist = view.querySelector("#known-processes");
      const processes = new Set([...all.values()].filter((i) => i.kind === "CAP").map((i) => i.terms.process));
      if (datalist) replace(datalist, [...processes].sort().map((p) => h("option", { value: p })));
      const form = view.querySelector("[data-testid=capacity-form]");
      if (form && !form.dataset.filled) {
        form.fillWindows();
        form.dataset.filled = "1";
      }
      drawCapacity();
      drawWrite();
      replace(
        ordersBox,
        table(
          [
            { label: "Order", value: (o) => `#${o.order_id}`, class: "hide-sm" },
            { label: "Instrument", value: (o) => o.symbol, class: "symbol" },
            { label: "Side", value: (o) => h("span", { class: `side-${o.side}` }, o.side) },
            { label: "Price", value: (o) => formatCny(o.price), class: "num" },
            { label: "Open / total", value: (o) => `${o.open_quantity} / ${o.quantity}`, class: "num" },
            { label: "", value: actionsOf },
          ],
          orders,
          { key: (o) => o.order_id, testid: "supplier-orders-table", empty: "No open order." },
        ),
        orderMessages.element,
      );
      replace(bookingsBox, bookingsTable(bookings, load));
    } catch (error) {
      messages.error(error);
    }
  }

  let pending = null;
  const loadSoon = () => {
    clearTimeout(pending);
    pending = setTimeout(load, 150);
  };
  function bidAsk(symbol) {
    const t = asks.get(symbol);
    return `${formatCny(t?.best_bid ?? null)} / ${formatCny(t?.best_ask ?? null)}`;
  }
  stops.push(
    ctx.conn.subscribe("ticker", null, (t) => {
      asks.set(t.symbol, t);
      for (const span of writeBox.querySelectorAll("span.bid-ask")) if (span.dataset.symbol === t.symbol) span.textContent = bidAsk(t.symbol);
    }),
  );
  stops.push(ctx.conn.subscribe("bookings", null, loadSoon));
  stops.push(ctx.conn.subscribe("orders", null, loadSoon));
  const onGap = () => load();
  ctx.conn.addEventListener("gap", onGap);
  load();
  view.querySelector(".page").append(h("p", { class: "muted small" }, `Windows are UTC days, e.g. ${formatDay(Date.now())}.`));

  return () => {
    clearTimeout(pending);
    stops.forEach((stop) => stop());
    ctx.conn.removeEventListener("gap", onGap);
  };
}
