// One instrument: its terms, the live order book (ladder), a price chart and recent trades, the
// order ticket, your open orders on it (amend, cancel) and your position with what you can do with
// it: resell it on the book, transfer it, exercise it (capacity options).

import { api, newClientOrderId } from "../api.js";
import { BookSync } from "../book.js";
import { PriceChart } from "../chart.js";
import { field, h, messageArea, replace, run, select, table, toast } from "../dom.js";
import { KIND_NAMES, describeTerms, formatClock, formatTime, formatWindow, statusBadge } from "../format.js";
import { fenToInput, formatCny, formatCount, parseCny, parseCount } from "../money.js";
import { session } from "../session.js";
import { bookingsTable, exerciseForm, orderActionsCache, transferForm } from "../widgets.js";

const LADDER_DEPTH = 10;
const TRADES_SHOWN = 30;
const ORDER_TYPES = [
  ["limit", "Limit (good till cancelled)"],
  ["ioc", "Immediate or cancel"],
  ["fok", "Fill or kill"],
  ["post_only", "Post only"],
  ["market", "Market (price = protection)"],
];

export function render(view, ctx) {
  const symbol = ctx.arg;
  const stops = [];
  let instrument = null;
  let chart = null;
  let trades = [];
  let position = null;
  const loggedIn = session.loggedIn;
  const canTrade = loggedIn && ["creator", "supplier", "market_maker"].includes(session.role);

  const pageMessages = messageArea();
  const head = h("div", { class: "instrument-head" }, h("h1", { class: "symbol" }, symbol));
  const ladderBox = h("div", { class: "ladder", "data-testid": "ladder" });
  const ladderState = h("div", { class: "ladder-state muted small", "data-testid": "book-state" }, "waiting for the book…");
  const chartBox = h("div", { class: "chart", "data-testid": "chart" });
  const tradesBox = h("div", { class: "trades", "data-testid": "trades" });
  const ordersBox = h("div", { "data-testid": "my-orders" });
  const positionBox = h("div", { "data-testid": "my-position" });
  const bookingsBox = h("div", { "data-testid": "my-bookings" });
  const extraBox = h("div", { class: "extra" });

  // -- ORDER TICKET ------------------------------------------------------------------------------
  const ticketMessages = messageArea();
  const sideBuy = h("input", { type: "radio", name: "side", value: "buy", checked: true });
  const sideSell = h("input", { type: "radio", name: "side", value: "sell" });
  const orderType = select("order_type", ORDER_TYPES, "limit");
  const price = h("input", { name: "price", inputmode: "decimal", placeholder: "CNY per contract", autocomplete: "off" });
  const quantity = h("input", { name: "quantity", inputmode: "numeric", value: "1", autocomplete: "off" });
  const stp = select("stp", [
    ["cancel_newest", "cancel newest"],
    ["cancel_oldest", "cancel oldest"],
    ["cancel_both", "cancel both"],
    ["none", "none"],
  ]);
  const estimate = h("p", { class: "muted small estimate" });
  const submit = h("button", { type: "submit", class: "primary buy", "data-testid": "place-order" }, "Buy");
  const ticket = h(
    "form",
    { class: "card ticket", "data-testid": "ticket" },
    h("h2", {}, "Order"),
    h(
      "div",
      { class: "side-toggle", role: "radiogroup" },
      h("label", { class: "side side-buy" }, sideBuy, "Buy"),
      h("label", { class: "side side-sell" }, sideSell, "Sell"),
    ),
    field("Type", orderType),
    field("Price (CNY per contract)", price),
    field("Quantity (contracts)", quantity),
    h("details", { class: "advanced" }, h("summary", {}, "Self-trade prevention"), field("Mode", stp)),
    estimate,
    submit,
    ticketMessages.element,
  );

  function side() {
    return sideSell.checked ? "sell" : "buy";
  }

  function updateTicket() {
    const selling = side() === "sell";
    submit.textContent = selling ? "Sell" : "Buy";
    submit.className = `primary ${selling ? "sell" : "buy"}`;
    let text = "";
    try {
      const fen = parseCny(price.value, { allowNegative: instrument?.kind === "SWP" });
      const count = parseCount(quantity.value);
      const heldFree = Math.max(0, (position?.position ?? 0) - (position?.locked ?? 0));
      text = selling
        ? `Receive at least ${formatCny(fen * count)} in premium, less fees.` +
          (count > heldFree ? " Beyond your free long, the sell opens a short that needs collateral." : "")
        : `Pay at most ${formatCny(fen * count)} in premium plus fees; locked until filled or cancelled.`;
    } catch {
      text = "";
    }
    estimate.textContent = text;
  }
  ticket.addEventListener("input", updateTicket);
  ticket.addEventListener("change", updateTicket);

  ticket.addEventListener("submit", (event) => {
    event.preventDefault();
    run(
      submit,
      ticketMessages,
      async () => {
        const body = {
          symbol,
          client_order_id: newClientOrderId(),
          side: side(),
          order_type: orderType.value,
          price: parseCny(price.value, { allowNegative: instrument?.kind === "SWP", label: "price" }),
          quantity: parseCount(quantity.value),
          stp: stp.value,
        };
        const ack = await api.post("/orders", body);
        refreshPrivate();
        return ack;
      },
      (ack) =>
        `Order ${ack.order_id} ${ack.side} ${ack.quantity} @ ${formatCny(ack.price)}: ${ack.status.replace("_", " ")}` +
        ` (filled ${ack.filled_quantity}, open ${ack.open_quantity})`,
    );
  });

  /** Prefill the ticket (a click on a ladder level, or "Sell" on the position). */
  function prefill({ sideValue, priceFen, count }) {
    if (sideValue) (sideValue === "sell" ? sideSell : sideBuy).checked = true;
    if (priceFen !== undefined && priceFen !== null) price.value = fenToInput(priceFen);
    if (count) quantity.value = String(count);
    updateTicket();
    ticket.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  // -- LADDER ------------------------------------------------------------------------------------
  let markBookLive;
  const bookLive = new Promise((resolve) => (markBookLive = resolve)); // the first snapshot arrived
  const book = new BookSync(symbol, (s) => ctx.conn.request("resync", { symbol: s }), drawLadder);
  window.__capex = { ...(window.__capex ?? {}), book };

  function drawLadder() {
    if (book.state === "live") markBookLive();
    const asks = book.levels("asks", LADDER_DEPTH);
    const bids = book.levels("bids", LADDER_DEPTH);
    const largest = Math.max(1, ...asks.map((l) => l[1]), ...bids.map((l) => l[1]));
    const row = (sideName, [levelPrice, levelQuantity, orders]) =>
      h(
        "button",
        {
          type: "button",
          class: `level level-${sideName}`,
          "data-price": levelPrice,
          title: `${orders} order(s); click to ${sideName === "ask" ? "buy" : "sell"} at this price`,
          onclick: () => prefill({ sideValue: sideName === "ask" ? "buy" : "sell", priceFen: levelPrice }),
          style: `--depth: ${Math.round((levelQuantity / largest) * 100)}%`,
        },
        h("span", { class: "level-price" }, formatCny(levelPrice)),
        h("span", { class: "level-quantity" }, formatCount(levelQuantity)),
        h("span", { class: "level-orders" }, orders),
      );
    const bestBid = bids[0]?.[0];
    const bestAsk = asks[0]?.[0];
    const spread = bestBid !== undefined && bestAsk !== undefined ? `spread ${formatCny(bestAsk - bestBid)}` : "one-sided book";
    replace(
      ladderBox,
      h("div", { class: "ladder-header" }, h("span", {}, "Price"), h("span", {}, "Contracts"), h("span", {}, "Orders")),
      h("div", { class: "ladder-asks", "data-testid": "asks" }, [...asks].reverse().map((level) => row("ask", level))),
      h("div", { class: "ladder-spread" }, asks.length || bids.length ? spread : "empty book"),
      h("div", { class: "ladder-bids", "data-testid": "bids" }, bids.map((level) => row("bid", level))),
    );
    ladderState.textContent =
      book.state === "live"
        ? `live · book seq ${book.lastSeq}${book.resyncs ? ` · resynced ${book.resyncs}×` : ""}`
        : book.state === "resyncing"
          ? `resyncing (${book.lastResyncReason})…`
          : "waiting for the book…";
    ladderState.dataset.state = book.state;
    ladderState.dataset.seq = book.lastSeq ?? "";
    ladderState.dataset.resyncs = book.resyncs;
  }

  // -- TRADES AND CHART -----------------------------------------------------------------------------
  function drawTrades() {
    replace(
      tradesBox,
      table(
        [
          { label: "Time", value: (t) => formatClock(t.executed_at) },
          { label: "Price", value: (t) => formatCny(t.price), class: "num" },
          { label: "Contracts", value: (t) => formatCount(t.quantity), class: "num" },
          { label: "Taker", value: (t) => h("span", { class: `taker-${t.taker_side}` }, t.taker_side) },
        ],
        trades.slice(0, TRADES_SHOWN),
        { key: (t) => t.trade_id, testid: "trades-table", empty: "No trade yet." },
      ),
    );
  }

  function onTrade(message) {
    if (trades.some((t) => t.trade_id === message.trade_id)) return;
    trades.unshift(message);
    trades.sort((a, b) => b.trade_id - a.trade_id);
    drawTrades();
    chart?.addTrade(message);
  }

  // -- YOUR ORDERS, POSITION, BOOKINGS ---------------------------------------------------------------
  async function refreshPrivate() {
    if (!loggedIn) return;
    try {
      const [orders, positions] = await Promise.all([
        api.get("/orders", { status: "open", symbol }),
        api.get("/portfolio/positions"),
      ]);
      position = positions.find((p) => p.symbol === symbol) ?? null;
      drawOrders(orders);
      drawPosition();
      if (instrument?.kind === "CAP") {
        const bookings = await api.get("/portfolio/bookings");
        drawBookings(bookings.filter((b) => b.symbol === symbol));
      }
    } catch (error) {
      pageMessages.error(error);
    }
  }

  const orderMessages = messageArea();
  const actionsOf = orderActionsCache(orderMessages, refreshPrivate);
  function drawOrders(orders) {
    const cancelAll = h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-testid": "cancel-all",
        onclick: (event) =>
          run(event.currentTarget, orderMessages, async () => {
            const result = await api.post("/orders/cancel-all", { symbol });
            refreshPrivate();
            return result;
          }, (r) => `Cancelled ${r.cancelled} order(s).`),
      },
      "Cancel all here",
    );
    replace(
      ordersBox,
      h("div", { class: "card-head" }, h("h2", {}, "Your open orders"), orders.length ? cancelAll : null),
      table(
        [
          { label: "Order", value: (o) => `#${o.order_id}`, class: "hide-sm" },
          { label: "Side", value: (o) => h("span", { class: `side-${o.side}` }, o.side) },
          { label: "Price", value: (o) => formatCny(o.price), class: "num" },
          { label: "Open / total", value: (o) => `${o.open_quantity} / ${o.quantity}`, class: "num" },
          { label: "Status", value: (o) => o.status.replace("_", " ") },
          { label: "", value: actionsOf },
        ],
        orders,
        { key: (o) => o.order_id, testid: "open-orders", empty: "No open order on this instrument." },
      ),
      orderMessages.element,
    );
  }

  // The position panel is built once and only updated: a live event must not wipe a form being typed in.
  const positionMessages = messageArea();
  const positionLine = h("p", { class: "position-line" });
  const resellButton = h(
    "button",
    {
      type: "button",
      class: "secondary",
      "data-testid": "resell",
      onclick: () => {
        const free = (position?.position ?? 0) - (position?.locked ?? 0);
        prefill({ sideValue: "sell", priceFen: book.bestBid()?.[0] ?? instrument?.last_trade_price, count: Math.max(free, 1) });
      },
    },
    "Resell on the book",
  );
  const positionForms = { transfer: null, exercise: null };
  replace(
    positionBox,
    h("h2", {}, "Your position"),
    loggedIn
      ? positionLine
      : h("p", { class: "muted" }, h("a", { href: `#/login?next=${encodeURIComponent(window.location.hash)}` }, "Log in"), " to trade."),
  );

  /** A material call's long is exercised automatically at expiry when in the money, unless declined. */
  function declineButton() {
    return h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-testid": "decline-auto-exercise",
        onclick: (event) =>
          run(
            event.currentTarget,
            positionMessages,
            () => api.post("/decline-auto-exercise", { symbol }),
            "Auto-exercise declined: this position will not be exercised at expiry.",
          ),
      },
      "Decline auto-exercise",
    );
  }

  function drawPosition() {
    if (!loggedIn) return;
    const held = position?.position ?? 0;
    replace(
      positionLine,
      h("strong", { "data-testid": "position-quantity" }, formatCount(held)),
      ` contract(s)${held < 0 ? " short" : held > 0 ? " long" : ""}`,
      position?.locked ? `, ${position.locked} reserved by resting sells` : "",
    );
    if (!canTrade || !instrument) return;
    if (!positionForms.transfer) {
      positionForms.transfer = transferForm(symbol, 1, positionMessages, refreshPrivate);
      positionForms.exercise =
        instrument.kind === "CAP"
          ? exerciseForm(symbol, 1, positionMessages, refreshPrivate)
          : instrument.kind === "MAT"
            ? declineButton()
            : null;
      positionBox.append(
        h("div", { class: "position-actions" }, resellButton, positionForms.transfer, positionForms.exercise ?? ""),
        positionMessages.element,
      );
    }
    for (const element of [resellButton, positionForms.transfer, positionForms.exercise]) if (element) element.hidden = held <= 0;
  }

  function drawBookings(bookings) {
    bookingsBox.parentElement.hidden = bookings.length === 0;
    if (!bookings.length) return replace(bookingsBox);
    replace(bookingsBox, h("h2", {}, "Your bookings from this option"), bookingsTable(bookings, refreshPrivate));
  }

  // -- LOADING ---------------------------------------------------------------------------------
  async function load() {
    try {
      instrument = await api.get(`/instruments/${encodeURIComponent(symbol)}`);
    } catch (error) {
      pageMessages.error(error);
      return;
    }
    drawHead();
    chart = new PriceChart(chartBox, { tick: instrument.tick });
    try {
      trades = await api.get(`/instruments/${encodeURIComponent(symbol)}/trades`, { limit: 500 });
      drawTrades();
      chart.setTrades(trades);
    } catch (error) {
      pageMessages.error(error);
    }
    if (instrument.kind === "MAT") loadMaterial();
    await refreshPrivate();
    // Arriving from the portfolio's "Resell": the ticket is ready to sell the free long.
    if (ctx.query.side === "sell" || ctx.query.side === "buy") {
      await Promise.race([bookLive, new Promise((resolve) => setTimeout(resolve, 3000))]);
      const count = Number(ctx.query.quantity) > 0 ? Number(ctx.query.quantity) : 1;
      const bestBid = book.bestBid()?.[0];
      prefill({ sideValue: ctx.query.side, priceFen: bestBid ?? instrument.last_trade_price, count });
    }
  }

  function drawHead() {
    const t = instrument.terms;
    const facts = [
      ["Kind", KIND_NAMES[instrument.kind]],
      ["Terms", describeTerms(instrument)],
      ["Contract", `${instrument.contract_size} unit(s); tick ${formatCny(instrument.tick)}; lot ${instrument.lot}`],
      ["Price band", `${formatCny(instrument.min_price)} – ${formatCny(instrument.max_price)}`],
    ];
    if (instrument.kind === "CAP") {
      facts.push(["Delivery (UTC)", formatWindow(t.window_start, t.window_end)]);
      facts.push(["Exercise until", formatTime(t.exercise_deadline)]);
    } else facts.push(["Expiry", formatTime(instrument.expiry)]);
    if (instrument.kind === "SWP") {
      const leg = (legSymbol) => h("a", { href: `#/instrument/${encodeURIComponent(legSymbol)}`, class: "symbol" }, legSymbol);
      facts.push(["Buyer gives", leg(t.give_symbol)], ["Buyer receives", leg(t.receive_symbol)]);
      facts.push(["Price", "a fee per contract paid by the buyer (negative: received)"]);
    }
    replace(
      head,
      h("h1", { class: "symbol" }, symbol),
      h("span", { "data-testid": "instrument-status" }, statusBadge(instrument.status)),
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    );
  }

  async function loadMaterial() {
    try {
      const settlement = await api.get(`/instruments/${encodeURIComponent(symbol)}/settlement`);
      const history = await api.get(`/index-prices/${encodeURIComponent(settlement.index)}`, { limit: 1 });
      const latest = history.prices.at(-1);
      replace(
        extraBox,
        h(
          "p",
          { class: "card material" },
          `Index ${settlement.index}: ${latest ? `${formatCny(latest.price)}/unit at ${formatTime(latest.published_at)}` : "no price yet"}. `,
          `Settlement price ${settlement.final ? "(final)" : "(estimated, TWAP so far)"}: `,
          h("strong", {}, settlement.price === null ? "not yet known" : `${formatCny(settlement.price)}/unit`),
          ` · settlement window from ${formatTime(settlement.settlement_window_start)}.`,
        ),
      );
    } catch (error) {
      pageMessages.error(error);
    }
  }

  view.append(
    h(
      "section",
      { class: "page page-instrument" },
      h("p", { class: "crumbs" }, h("a", { href: "#/instruments" }, "← Instruments")),
      head,
      pageMessages.element,
      extraBox,
      h(
        "div",
        { class: "instrument-grid" },
        h("div", { class: "card book-card" }, h("h2", {}, "Order book"), ladderState, ladderBox),
        h("div", { class: "card chart-card" }, h("h2", {}, "Price"), chartBox),
        canTrade ? ticket : h("div", { class: "card" }, h("h2", {}, "Order"), h("p", { class: "muted" }, loggedIn ? "This role does not place orders." : "Log in to trade.")),
        h("div", { class: "card wide position-card" }, positionBox),
        h("div", { class: "card wide", hidden: true, "data-card": "bookings" }, bookingsBox),
        loggedIn ? h("div", { class: "card wide" }, ordersBox) : null,
        h("div", { class: "card wide" }, h("h2", {}, "Recent trades"), tradesBox),
      ),
    ),
  );
  drawLadder();
  drawTrades();
  updateTicket();

  // -- LIVE --------------------------------------------------------------------------------------
  stops.push(ctx.conn.subscribe("book", symbol, (message) => book.handle(message)));
  stops.push(ctx.conn.subscribe("trades", symbol, onTrade));
  stops.push(
    ctx.conn.subscribe("instruments", null, (message) => {
      if (message.type === "status" && message.symbol === symbol && instrument) {
        instrument = { ...instrument, status: message.status };
        drawHead();
      }
    }),
  );
  if (loggedIn) {
    stops.push(ctx.conn.subscribe("orders", null, (message) => message.symbol === symbol && refreshPrivate()));
    stops.push(
      ctx.conn.subscribe("positions", null, (message) => {
        if (message.symbol !== symbol) return;
        position = { symbol, position: message.position, locked: message.locked };
        drawPosition();
      }),
    );
    stops.push(
      ctx.conn.subscribe("fills", null, (message) => {
        if (message.symbol === symbol) toast(`Filled: ${message.side} ${message.quantity} @ ${formatCny(message.price)}`, "ok");
      }),
    );
    stops.push(ctx.conn.subscribe("bookings", null, (message) => message.symbol === symbol && refreshPrivate()));
  }
  const onGap = () => {
    refreshPrivate();
    api
      .get(`/instruments/${encodeURIComponent(symbol)}/trades`, { limit: 500 })
      .then((fresh) => {
        trades = fresh;
        drawTrades();
        chart?.setTrades(trades);
      })
      .catch((error) => pageMessages.error(error));
  };
  const onWelcome = (event) => event.detail.reconnected && onGap();
  ctx.conn.addEventListener("gap", onGap);
  ctx.conn.addEventListener("welcome", onWelcome);
  load();

  return () => {
    stops.forEach((stop) => stop());
    ctx.conn.removeEventListener("gap", onGap);
    ctx.conn.removeEventListener("welcome", onWelcome);
    chart?.destroy();
  };
}
