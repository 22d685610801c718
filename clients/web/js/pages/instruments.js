// Browse instruments with filters (kind, process or material, status, delivery window); best bid,
// best ask and last trade stay live from the ticker channel.

import { api } from "../api.js";
import { field, h, messageArea, replace, select, table } from "../dom.js";
import { KIND_NAMES, dayToMs, formatDay, formatTime, formatWindow, statusBadge, underlying } from "../format.js";
import { formatCny } from "../money.js";
import { forgetInstruments, instrumentsBySymbol } from "../store.js";

const STATUSES = ["pending", "trading", "halted", "expired", "settled"];

export function render(view, ctx) {
  const query = ctx.query;
  const messages = messageArea();
  const tickers = new Map(); // symbol -> latest ticker message
  const listBox = h("div", { class: "list" }, h("p", { class: "muted" }, "Loading instruments…"));
  const count = h("span", { class: "muted", "data-testid": "instrument-count" });
  let shown = [];
  let bySymbol = new Map();

  const kind = select("kind", [["", "All kinds"], ...Object.entries(KIND_NAMES)], query.kind ?? "");
  const underlyingSelect = select("underlying", [["", "All processes and materials"]], query.underlying ?? "");
  const status = select("status", [["", "Any status"], ...STATUSES.map((s) => [s, s])], query.status ?? "");
  const from = h("input", { type: "date", name: "from", value: query.from ?? "" });
  const to = h("input", { type: "date", name: "to", value: query.to ?? "" });
  const filters = h(
    "form",
    { class: "filters", "data-testid": "filters" },
    field("Kind", kind),
    field("Process / material", underlyingSelect),
    field("Status", status),
    field("Delivery from (UTC)", from),
    field("Delivery to (UTC)", to),
  );
  filters.addEventListener("change", () => {
    const params = new URLSearchParams();
    for (const [name, input] of [["kind", kind], ["underlying", underlyingSelect], ["status", status], ["from", from], ["to", to]]) {
      if (input.value) params.set(name, input.value);
    }
    const text = params.toString();
    ctx.navigate(`#/instruments${text ? `?${text}` : ""}`);
  });

  view.append(
    h(
      "section",
      { class: "page page-instruments" },
      h("div", { class: "page-head" }, h("h1", {}, "Instruments"), count),
      filters,
      messages.element,
      listBox,
    ),
  );

  function requestFilters() {
    const params = { kind: query.kind, status: query.status };
    const [what, name] = (query.underlying ?? "").split(":");
    if (what === "process") params.process = name;
    if (what === "material") params.material = name;
    if (query.from) params.window_start = dayToMs(query.from);
    if (query.to) params.window_end = dayToMs(query.to) + 86_400_000; // the whole last day
    return params;
  }

  function cell(symbol, field, kind = "price") {
    const ticker = tickers.get(symbol);
    const value = ticker ? ticker[field] : null;
    return h("span", { class: `live-${field}`, "data-symbol": symbol }, kind === "price" ? formatCny(value) : value ?? "—");
  }

  function draw() {
    const columns = [
      {
        label: "Symbol",
        value: (i) => h("a", { href: `#/instrument/${encodeURIComponent(i.symbol)}`, class: "symbol" }, i.symbol),
      },
      { label: "Kind", value: (i) => h("span", { class: `kind kind-${i.kind}` }, i.kind), class: "hide-sm" },
      { label: "Process / material", value: (i) => underlying(i, bySymbol) },
      {
        label: "Delivery / settles",
        value: (i) =>
          i.kind === "CAP" ? formatWindow(i.terms.window_start, i.terms.window_end) : `expires ${formatDay(i.expiry)}`,
        class: "nowrap",
      },
      {
        label: "Strike",
        value: (i) => (i.kind === "SWP" ? "—" : `${formatCny(i.terms.strike)}/unit`),
        class: "num",
      },
      { label: "Bid", value: (i) => cell(i.symbol, "best_bid"), class: "num bid" },
      { label: "Ask", value: (i) => cell(i.symbol, "best_ask"), class: "num ask" },
      {
        label: "Last",
        value: (i) => (tickers.has(i.symbol) ? cell(i.symbol, "last_price") : formatCny(i.last_trade_price)),
        class: "num",
      },
      { label: "Status", value: (i) => statusBadge(i.status) },
    ];
    replace(
      listBox,
      table(columns, shown, {
        key: (i) => i.symbol,
        testid: "instruments-table",
        empty: "No instrument matches these filters.",
      }),
    );
    count.textContent = `${shown.length} shown`;
  }

  function updateTicker(message) {
    tickers.set(message.symbol, message);
    for (const fieldName of ["best_bid", "best_ask", "last_price"]) {
      for (const span of listBox.querySelectorAll(`span.live-${fieldName}`)) {
        if (span.dataset.symbol === message.symbol) span.textContent = formatCny(message[fieldName]);
      }
    }
  }

  async function load() {
    try {
      bySymbol = await instrumentsBySymbol({ fresh: true });
      fillUnderlyings();
      shown = await api.get("/instruments", requestFilters());
      draw();
    } catch (error) {
      messages.error(error);
      replace(listBox);
    }
  }

  function fillUnderlyings() {
    const processes = new Set();
    const materials = new Set();
    for (const i of bySymbol.values()) {
      if (i.kind === "CAP") processes.add(i.terms.process);
      if (i.kind === "MAT") materials.add(i.terms.material);
    }
    const options = [
      ["", "All processes and materials"],
      ...[...processes].sort().map((p) => [`process:${p}`, `process: ${p}`]),
      ...[...materials].sort().map((m) => [`material:${m}`, `material: ${m}`]),
    ];
    replace(underlyingSelect, ...select("underlying", options, query.underlying ?? "").children);
    underlyingSelect.value = query.underlying ?? "";
  }

  const unsubscribe = [
    ctx.conn.subscribe("ticker", null, updateTicker),
    ctx.conn.subscribe("instruments", null, (message) => {
      if (message.type === "status" || message.type === "listed") {
        forgetInstruments();
        load();
      }
    }),
  ];
  const onGap = () => load();
  ctx.conn.addEventListener("gap", onGap);
  load();
  const stamp = h("p", { class: "muted small" }, `Times in your time zone; delivery windows in UTC days. Loaded ${formatTime(Date.now())}.`);
  view.querySelector(".page").append(stamp);

  return () => {
    unsubscribe.forEach((stop) => stop());
    ctx.conn.removeEventListener("gap", onGap);
  };
}
