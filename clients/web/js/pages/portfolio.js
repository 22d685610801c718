// Your account: cash (available, locked), positions valued at the market, bookings and their
// milestone payments, transfers of cash or positions, and the history of orders, trades, ledger
// postings and transfers. Kept live by the private channels and the ticker.

import { api } from "../api.js";
import { field, h, messageArea, replace, run, select, table } from "../dom.js";
import { formatTime } from "../format.js";
import { formatCny, formatCount, parseCny, parseCount } from "../money.js";
import { session } from "../session.js";
import { instrumentsBySymbol, markPrice } from "../store.js";
import { bookingsTable, orderActionsCache } from "../widgets.js";

const HISTORY_TABS = [
  ["orders", "Orders"],
  ["trades", "Trades"],
  ["ledger", "Ledger"],
  ["transfers", "Transfers"],
];

export function render(view, ctx) {
  const stops = [];
  const tickerStops = new Map(); // symbol -> unsubscribe
  const marks = new Map(); // symbol -> {bestBid, bestAsk, lastPrice}
  let positions = [];
  let historyTab = ctx.query.tab ?? "orders";
  const messages = messageArea();
  const orderMessages = messageArea(); // answers to cancel, amend and cancel-all
  orderMessages.element.dataset.testid = "order-messages";
  const actionsOf = orderActionsCache(orderMessages, refresh);

  const cashBox = h("div", { class: "cash", "data-testid": "cash" });
  const valueBox = h("div", { class: "cash-value" });
  let cashTotal = null;
  let positionsValue = null;
  const positionsBox = h("div", { "data-testid": "positions" });
  const bookingsBox = h("div", { "data-testid": "bookings" });
  const historyBox = h("div", { "data-testid": "history" });
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    HISTORY_TABS.map(([name, label]) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          class: name === historyTab ? "tab active" : "tab",
          "data-tab": name,
          onclick: (event) => {
            historyTab = name;
            for (const b of tabs.children) b.classList.toggle("active", b === event.currentTarget);
            loadHistory();
          },
        },
        label,
      ),
    ),
  );

  view.append(
    h(
      "section",
      { class: "page page-portfolio" },
      h("div", { class: "page-head" }, h("h1", {}, "Portfolio"), h("span", { class: "muted" }, `${session.username ?? ""} · account #${session.accountId}`)),
      messages.element,
      h("div", { class: "grid-2" }, h("div", { class: "card" }, h("h2", {}, "Cash"), cashBox, valueBox), h("div", { class: "card" }, h("h2", {}, "Transfer"), transferPanel())),
      h("div", { class: "card" }, h("h2", {}, "Positions"), positionsBox),
      h("div", { class: "card" }, h("h2", {}, "Bookings"), bookingsBox),
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "History"), cancelAllButton()), orderMessages.element, tabs, historyBox),
    ),
  );

  // -- CASH --------------------------------------------------------------------------------------
  function drawValue() {
    if (cashTotal === null || positionsValue === null) return;
    replace(
      valueBox,
      h(
        "dl",
        { class: "figures" },
        h("div", {}, h("dt", {}, "Positions at market"), h("dd", { "data-testid": "positions-total" }, formatCny(positionsValue))),
        h("div", {}, h("dt", {}, "Cash + positions"), h("dd", { "data-testid": "equity" }, formatCny(cashTotal + positionsValue))),
      ),
    );
  }

  function drawCash(balance) {
    cashTotal = balance.available + balance.locked;
    drawValue();
    replace(
      cashBox,
      h(
        "dl",
        { class: "figures" },
        h("div", {}, h("dt", {}, "Available"), h("dd", { "data-testid": "cash-available" }, formatCny(balance.available))),
        h("div", {}, h("dt", {}, "Locked"), h("dd", { "data-testid": "cash-locked" }, formatCny(balance.locked))),
        h("div", {}, h("dt", {}, "Total"), h("dd", { "data-testid": "cash-total" }, formatCny(balance.available + balance.locked))),
      ),
    );
  }

  // -- POSITIONS -----------------------------------------------------------------------------------
  function drawPositions() {
    const held = positions.filter((p) => p.position !== 0);
    let total = 0;
    let complete = true;
    const rows = held.map((p) => {
      const mark = markPrice(marks.get(p.symbol) ?? {});
      const value = mark.price === null ? null : mark.price * p.position;
      if (value === null) complete = false;
      else total += value;
      return { ...p, mark, value };
    });
    positionsValue = total;
    drawValue();
    replace(
      positionsBox,
      table(
        [
          { label: "Instrument", value: (p) => h("a", { href: `#/instrument/${encodeURIComponent(p.symbol)}`, class: "symbol" }, p.symbol) },
          { label: "Contracts", value: (p) => formatCount(p.position), class: "num position" },
          { label: "Reserved", value: (p) => formatCount(p.locked), class: "num hide-sm" },
          {
            label: "Mark",
            value: (p) => (p.mark.price === null ? "no price" : [formatCny(p.mark.price), h("small", { class: "muted" }, ` ${p.mark.source}`)]),
            class: "num",
          },
          { label: "Value", value: (p) => formatCny(p.value), class: "num value" },
          {
            label: "",
            value: (p) =>
              h(
                "div",
                { class: "row-actions" },
                p.position > 0
                  ? h("a", { href: `#/instrument/${encodeURIComponent(p.symbol)}?side=sell&quantity=${p.position - p.locked}`, "data-testid": "resell-link" }, "Resell")
                  : null,
                h("a", { href: `#/instrument/${encodeURIComponent(p.symbol)}` }, "Trade / exercise"),
              ),
          },
        ],
        rows,
        { key: (p) => p.symbol, testid: "positions-table", empty: "No open position." },
      ),
      h(
        "p",
        { class: "muted small" },
        h("strong", { "data-testid": "positions-value" }, `Market value ${formatCny(total)}${complete ? "" : " (positions without a price left out)"}. `),
        "Mark-to-market: the mid of the best bid and best ask × contracts; the last trade price when one side of the book is empty.",
      ),
    );
  }

  async function loadMarks(symbols) {
    const instruments = await instrumentsBySymbol();
    await Promise.all(
      symbols.map(async (symbol) => {
        try {
          const book = await api.get(`/instruments/${encodeURIComponent(symbol)}/book`, { levels: 1 });
          const current = marks.get(symbol) ?? {};
          marks.set(symbol, {
            bestBid: current.bestBid ?? book.bids[0]?.price ?? null,
            bestAsk: current.bestAsk ?? book.asks[0]?.price ?? null,
            lastPrice: current.lastPrice ?? instruments.get(symbol)?.last_trade_price ?? null,
          });
        } catch {
          // an instrument without a book (settled): no mark
        }
      }),
    );
  }

  function followTickers(symbols) {
    for (const symbol of symbols) {
      if (tickerStops.has(symbol)) continue;
      tickerStops.set(
        symbol,
        ctx.conn.subscribe("ticker", symbol, (t) => {
          marks.set(symbol, { bestBid: t.best_bid, bestAsk: t.best_ask, lastPrice: t.last_price });
          drawPositions();
        }),
      );
    }
  }

  // -- TRANSFER ------------------------------------------------------------------------------------
  function transferPanel() {
    const transferMessages = messageArea();
    const asset = select("asset", [["cash", "Cash"], ["position", "Position"]], "cash");
    const to = h("input", { name: "to_username", placeholder: "username", autocapitalize: "none", autocomplete: "off" });
    const amount = h("input", { name: "amount", inputmode: "decimal", placeholder: "CNY" });
    const symbol = h("input", { name: "symbol", list: "held-symbols", placeholder: "symbol", autocomplete: "off" });
    const quantity = h("input", { name: "quantity", inputmode: "numeric", placeholder: "contracts" });
    const cashFields = h("div", { class: "asset-cash" }, field("Amount (CNY)", amount));
    const positionFields = h("div", { class: "asset-position", hidden: true }, field("Instrument", symbol), field("Contracts", quantity));
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "transfer-submit" }, "Transfer");
    const form = h(
      "form",
      { class: "stack", "data-testid": "transfer-form" },
      field("What", asset),
      field("To (username)", to),
      cashFields,
      positionFields,
      submit,
      transferMessages.element,
      h("datalist", { id: "held-symbols" }),
    );
    asset.addEventListener("change", () => {
      cashFields.hidden = asset.value !== "cash";
      positionFields.hidden = asset.value !== "position";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        submit,
        transferMessages,
        async () => {
          const body =
            asset.value === "cash"
              ? { asset: "cash", to_username: to.value.trim(), amount: parseCny(amount.value, { label: "amount" }) }
              : { asset: "position", to_username: to.value.trim(), symbol: symbol.value.trim(), quantity: parseCount(quantity.value) };
          const result = await api.post("/transfers", body);
          refresh();
          return result;
        },
        (t) =>
          t.asset === "cash"
            ? `Sent ${formatCny(t.quantity)} to account ${t.to_account_id} (transfer ${t.transfer_id}).`
            : `Sent ${t.quantity} contract(s) of ${t.symbol} to account ${t.to_account_id} (transfer ${t.transfer_id}).`,
      );
    });
    return form;
  }

  // -- HISTORY -------------------------------------------------------------------------------------
  function cancelAllButton() {
    return h(
      "button",
      {
        type: "button",
        class: "secondary danger",
        "data-testid": "cancel-all-orders",
        onclick: (event) =>
          run(
            event.currentTarget,
            orderMessages,
            async () => {
              const result = await api.post("/orders/cancel-all", {});
              refresh();
              return result;
            },
            (r) => `Cancelled ${r.cancelled} open order(s) on every instrument.`,
          ),
      },
      "Cancel all my orders",
    );
  }
  async function loadHistory() {
    const tab = historyTab;
    try {
      let content;
      if (tab === "orders") {
        const orders = await api.get("/orders", { status: "all", limit: 50 });
        content = [
          table(
            [
              { label: "Order", value: (o) => `#${o.order_id}`, class: "hide-sm" },
              { label: "Instrument", value: (o) => h("a", { href: `#/instrument/${encodeURIComponent(o.symbol)}`, class: "symbol" }, o.symbol) },
              { label: "Side", value: (o) => h("span", { class: `side-${o.side}` }, o.side) },
              { label: "Type", value: (o) => o.order_type, class: "hide-sm" },
              { label: "Price", value: (o) => formatCny(o.price), class: "num" },
              { label: "Filled / total", value: (o) => `${o.filled_quantity} / ${o.quantity}`, class: "num" },
              { label: "Status", value: (o) => o.status.replace("_", " ") + (o.cancel_reason ? ` (${o.cancel_reason})` : "") },
              { label: "Placed", value: (o) => formatTime(o.created_at), class: "hide-sm" },
              { label: "", value: actionsOf },
            ],
            orders,
            { key: (o) => o.order_id, testid: "orders-table", empty: "No order yet." },
          ),
        ];
      } else if (tab === "trades") {
        const trades = await api.get("/portfolio/trades", { limit: 50 });
        content = table(
          [
            { label: "Trade", value: (t) => `#${t.trade_id}`, class: "hide-sm" },
            { label: "Instrument", value: (t) => t.symbol, class: "symbol" },
            { label: "Side", value: (t) => h("span", { class: `side-${t.side}` }, t.side) },
            { label: "Price", value: (t) => formatCny(t.price), class: "num" },
            { label: "Contracts", value: (t) => formatCount(t.quantity), class: "num" },
            { label: "Fee", value: (t) => formatCny(t.fee), class: "num" },
            { label: "Liquidity", value: (t) => t.liquidity, class: "hide-sm" },
            { label: "Time", value: (t) => formatTime(t.executed_at) },
          ],
          trades,
          { key: (t) => t.trade_id, testid: "trades-history", empty: "No trade yet." },
        );
      } else if (tab === "ledger") {
        const postings = await api.get("/portfolio/ledger", { limit: 50 });
        const mine = (name) => name.startsWith(`user:${session.accountId}:`);
        content = table(
          [
            { label: "Posting", value: (p) => `#${p.posting_id}`, class: "hide-sm" },
            { label: "From", value: (p) => p.debit_account },
            { label: "To", value: (p) => p.credit_account },
            {
              label: "Amount",
              value: (p) => {
                // Into one of this account's ledger accounts from outside it is +, the reverse -.
                const sign = mine(p.credit_account) && !mine(p.debit_account) ? 1 : !mine(p.credit_account) && mine(p.debit_account) ? -1 : 0;
                return sign === 0 ? formatCny(p.amount) : formatCny(sign * p.amount, { sign: true });
              },
              class: "num",
            },
            { label: "Memo", value: (p) => p.memo },
            { label: "Seq", value: (p) => p.seq, class: "num hide-sm" },
          ],
          postings,
          { key: (p) => p.posting_id, testid: "ledger-table", empty: "No posting yet." },
        );
      } else {
        const transfers = await api.get("/portfolio/transfers", { limit: 50 });
        content = table(
          [
            { label: "Transfer", value: (t) => `#${t.transfer_id}`, class: "hide-sm" },
            { label: "Direction", value: (t) => (t.from_account_id === session.accountId ? `sent to #${t.to_account_id}` : `received from #${t.from_account_id}`) },
            { label: "What", value: (t) => (t.asset === "cash" ? "cash" : t.symbol), class: "symbol" },
            { label: "Amount", value: (t) => (t.asset === "cash" ? formatCny(t.quantity) : `${t.quantity} contract(s)`), class: "num" },
            { label: "Time", value: (t) => formatTime(t.transferred_at) },
          ],
          transfers,
          { key: (t) => t.transfer_id, testid: "transfers-table", empty: "No transfer yet." },
        );
      }
      if (tab === historyTab) replace(historyBox, content);
    } catch (error) {
      messages.error(error);
    }
  }

  // -- LOADING -------------------------------------------------------------------------------------
  async function refresh() {
    try {
      const [balance, positionRows, bookings] = await Promise.all([
        api.get("/portfolio/balances"),
        api.get("/portfolio/positions"),
        api.get("/portfolio/bookings"),
      ]);
      drawCash(balance);
      positions = positionRows;
      const held = positions.filter((p) => p.position !== 0).map((p) => p.symbol);
      const datalist = view.querySelector("#held-symbols");
      if (datalist) replace(datalist, held.map((s) => h("option", { value: s })));
      await loadMarks(held.filter((s) => !marks.has(s)));
      drawPositions();
      followTickers(held);
      replace(bookingsBox, bookingsTable(bookings, refresh));
      loadHistory();
    } catch (error) {
      messages.error(error);
    }
  }

  let pending = null;
  /** Many events arrive together (a fill moves cash, position and order): refresh once for them. */
  function refreshSoon() {
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  }

  stops.push(ctx.conn.subscribe("balances", null, (b) => drawCash(b)));
  stops.push(ctx.conn.subscribe("positions", null, refreshSoon));
  stops.push(ctx.conn.subscribe("orders", null, refreshSoon));
  stops.push(ctx.conn.subscribe("bookings", null, refreshSoon));
  const onGap = () => refresh();
  const onWelcome = (event) => event.detail.reconnected && refresh();
  ctx.conn.addEventListener("gap", onGap);
  ctx.conn.addEventListener("welcome", onWelcome);
  refresh();

  return () => {
    clearTimeout(pending);
    stops.forEach((stop) => stop());
    tickerStops.forEach((stop) => stop());
    ctx.conn.removeEventListener("gap", onGap);
    ctx.conn.removeEventListener("welcome", onWelcome);
  };
}
