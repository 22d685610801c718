// Operators: live system figures (from /metrics), the audit, expiry runs, halting and resuming
// markets, listing instruments, publishing index prices and recording deposits. Index-feed
// accounts see the index price form only.

import { api, fetchMetrics } from "../api.js";
import { field, h, messageArea, replace, run, select, table } from "../dom.js";
import { KIND_NAMES, dayToMs, formatClock, formatTime, localToMs, msToLocal, statusBadge, underlying } from "../format.js";
import { figures, parsePrometheus, snapshot } from "../metrics.js";
import { formatCny, formatCount, parseCny, parseCount } from "../money.js";
import { session } from "../session.js";
import { forgetInstruments, instrumentsBySymbol } from "../store.js";

const METRICS_EVERY_MS = 2_000;
const DAY_MS = 86_400_000;

export function render(view, ctx) {
  const operator = session.role === "operator";
  const stops = [];
  const timers = [];
  const messages = messageArea();

  const figuresBox = h("div", { class: "figures-grid", "data-testid": "system-figures" }, h("p", { class: "muted" }, "Reading /metrics…"));
  const rateChartBox = h("div", { class: "chart small-chart", "data-testid": "rate-chart" });
  const auditBox = h("div", { "data-testid": "audit" });
  const expiryBox = h("div", { "data-testid": "expiry-result" });
  const marketsBox = h("div", { "data-testid": "markets" });
  const indexBox = h("div", { "data-testid": "index-prices" });
  // The latest price of each index and its band (GET /index-prices): a price outside
  // band_low..band_high is refused (INDEX_PRICE_BAND) unless confirm_large_move is sent.
  let indexSummaries = new Map();
  let showIndexBand = () => {};

  const sections = [h("div", { class: "page-head" }, h("h1", {}, operator ? "Operator" : "Index feed")), messages.element];
  if (operator) {
    sections.push(
      h(
        "div",
        { class: "grid-2" },
        h("div", { class: "card" }, h("h2", {}, "System"), figuresBox, rateChartBox),
        h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Audit"), auditButton()), auditBox),
      ),
      h(
        "div",
        { class: "grid-2" },
        h("div", { class: "card" }, h("h2", {}, "Expiry"), expiryPanel(), expiryBox),
        h("div", { class: "card" }, h("h2", {}, "Deposit cash"), depositForm()),
      ),
      h("div", { class: "card" }, h("h2", {}, "Markets"), marketsBox),
      h("div", { class: "card" }, h("h2", {}, "List an instrument"), listingForm()),
    );
  }
  sections.push(h("div", { class: "card" }, h("h2", {}, "Index prices"), indexForm(), indexBox));
  view.append(h("section", { class: "page page-operator" }, sections));

  // -- SYSTEM FIGURES ------------------------------------------------------------------------------
  let previous = null;
  let rateChart = null;
  let rateSeries = null;
  function figure(label, value, testid) {
    return h("div", { class: "figure" }, h("span", { class: "figure-value", "data-testid": testid }, value), h("span", { class: "figure-label" }, label));
  }
  // The histogram gives the bucket a percentile falls in: its upper bound is what is known.
  const ms = (value) => (value === null ? "—" : value === Infinity ? "> 2.5 s" : `≤ ${value < 1 ? value.toFixed(1) : Math.round(value)} ms`);
  async function pollMetrics() {
    try {
      const current = snapshot(parsePrometheus(await fetchMetrics()));
      const f = figures(previous, current);
      previous = current;
      replace(
        figuresBox,
        figure("commands/s", f.commandsPerSecond === null ? "…" : f.commandsPerSecond.toFixed(1), "commands-per-second"),
        figure(`latency p50 (${f.latencyWindow})`, ms(f.latencyP50Ms), "latency-p50"),
        figure(`latency p99 (${f.latencyWindow})`, ms(f.latencyP99Ms), "latency-p99"),
        figure("WebSocket connections", formatCount(f.websockets), "websockets"),
        figure("command queue", formatCount(f.queueDepth), "queue-depth"),
        figure("commands since start", formatCount(f.commandsTotal), "commands-total"),
        figure("refused since start", formatCount(f.refusedTotal), "refused-total"),
        figure("journal seq", f.journalSeq === null ? "—" : formatCount(f.journalSeq), "journal-seq"),
      );
      figuresBox.dataset.updated = String(current.at);
      if (f.commandsPerSecond !== null) addRate(current.at, f.commandsPerSecond);
    } catch (error) {
      replace(figuresBox, h("p", { class: "alert alert-error" }, `Metrics: ${error.code} ${error.message}`));
    }
  }
  function addRate(at, rate) {
    if (!window.LightweightCharts) return;
    if (!rateChart) {
      rateChart = window.LightweightCharts.createChart(rateChartBox, {
        autoSize: true,
        layout: { background: { color: "#ffffff" }, textColor: "#334155", fontFamily: "inherit" },
        grid: { vertLines: { visible: false }, horzLines: { color: "#eef2f7" } },
        timeScale: { timeVisible: true, secondsVisible: true },
        localization: { timeFormatter: (t) => formatClock(t * 1000) },
      });
      rateSeries = rateChart.addAreaSeries({ lineColor: "#2563eb", topColor: "rgba(37,99,235,0.25)", bottomColor: "rgba(37,99,235,0.02)", lineWidth: 2 });
    }
    rateSeries.update({ time: Math.floor(at / 1000), value: Math.round(rate * 10) / 10 });
    rateChart.timeScale().fitContent();
  }

  // -- AUDIT ---------------------------------------------------------------------------------------
  function auditButton() {
    const button = h("button", { type: "button", class: "secondary", "data-testid": "run-audit" }, "Run audit");
    button.addEventListener("click", () => runAudit(button));
    return button;
  }
  async function runAudit(button = null) {
    const auditMessages = messageArea();
    const result = await run(button, auditMessages, () => api.get("/operator/audit"));
    if (!result) return replace(auditBox, auditMessages.element);
    const breaches = [...result.sequencer_breaches.map((b) => `sequencer: ${b}`), ...result.projection_breaches.map((b) => `projections: ${b}`)];
    replace(
      auditBox,
      h(
        "p",
        {
          class: `audit-result ${result.ok ? "ok" : "failed"}`,
          "data-testid": "audit-status",
          "data-ok": String(result.ok),
          "data-journal-seq": result.journal_seq,
        },
        result.ok ? "✓ All invariants hold" : `✗ ${breaches.length} breach(es)`,
        h("small", { class: "muted" }, ` · journal seq ${formatCount(result.journal_seq)} · checked ${formatClock(Date.now())}`),
      ),
      breaches.length ? h("ul", { class: "breaches" }, breaches.map((b) => h("li", {}, b))) : null,
      table(
        [
          { label: "Exchange ledger account", value: ([name]) => name },
          { label: "Balance", value: ([, amount]) => formatCny(amount), class: "num" },
        ],
        Object.entries(result.system_balances),
        { empty: "No system balance." },
      ),
    );
  }

  // -- EXPIRY --------------------------------------------------------------------------------------
  function expiryPanel() {
    const button = h("button", { type: "button", class: "primary", "data-testid": "run-expiry" }, "Run expiry now");
    const expiryMessages = messageArea();
    button.addEventListener("click", async () => {
      const result = await run(button, expiryMessages, () => api.post("/operator/expiry", {}));
      if (!result) return;
      replace(
        expiryBox,
        h(
          "div",
          { class: "alert alert-ok", "data-seq": result.seq },
          h("p", {}, `Expiry ran at ${formatTime(result.ran_at)} (journal seq ${result.seq}): `, result.expired.length ? `${result.expired.length} instrument(s) settled.` : "nothing was due."),
          result.expired.length ? h("ul", { "data-testid": "expired-symbols" }, result.expired.map((s) => h("li", { class: "symbol" }, s))) : null,
          result.auto_confirmed_booking_ids.length ? h("p", {}, `Bookings auto-confirmed: ${result.auto_confirmed_booking_ids.join(", ")}`) : null,
        ),
      );
      loadMarkets();
      runAudit();
    });
    return h(
      "div",
      {},
      h("p", { class: "muted small" }, "Settles every instrument whose expiry has come: cancels its resting orders, pays in-the-money material calls, expires unexercised options, releases collateral. Running it twice changes nothing."),
      button,
      expiryMessages.element,
    );
  }

  // -- MARKETS (HALT / RESUME) ---------------------------------------------------------------------------
  async function loadMarkets() {
    try {
      forgetInstruments();
      const all = await instrumentsBySymbol({ fresh: true });
      const list = [...all.values()];
      const marketMessages = messageArea();
      const action = (i) => {
        const verb = i.status === "halted" ? "resume" : ["trading", "pending"].includes(i.status) ? "halt" : null;
        if (!verb) return "";
        return h(
          "button",
          {
            type: "button",
            class: verb === "halt" ? "secondary danger" : "secondary",
            "data-testid": verb,
            onclick: (event) =>
              run(event.currentTarget, marketMessages, async () => {
                const result = await api.post(`/instruments/${encodeURIComponent(i.symbol)}/${verb}`, {});
                loadMarkets();
                return result;
              }, (r) => `${r.symbol} is ${r.status}.`),
          },
          verb === "halt" ? "Halt" : "Resume",
        );
      };
      replace(
        marketsBox,
        marketMessages.element,
        table(
          [
            { label: "Symbol", value: (i) => h("a", { href: `#/instrument/${encodeURIComponent(i.symbol)}`, class: "symbol" }, i.symbol) },
            { label: "Kind", value: (i) => i.kind, class: "hide-sm" },
            { label: "Process / material", value: (i) => underlying(i, all), class: "hide-sm" },
            { label: "Expiry", value: (i) => formatTime(i.expiry) },
            { label: "Last", value: (i) => formatCny(i.last_trade_price), class: "num hide-sm" },
            { label: "Status", value: (i) => statusBadge(i.status), class: "status" },
            { label: "", value: action },
          ],
          list,
          { key: (i) => i.symbol, testid: "markets-table", empty: "Nothing listed yet." },
        ),
      );
    } catch (error) {
      messages.error(error);
    }
  }

  // -- LISTING ---------------------------------------------------------------------------------------
  function listingForm() {
    const formMessages = messageArea();
    const kind = select("kind", Object.entries(KIND_NAMES), "CAP");
    const now = Date.now();
    const inputs = {
      process: h("input", { name: "process", placeholder: "notebook-a5-print", autocapitalize: "none" }),
      window_from: h("input", { name: "window_from", type: "date" }),
      window_to: h("input", { name: "window_to", type: "date" }),
      strike: h("input", { name: "strike", inputmode: "decimal", placeholder: "CNY per unit" }),
      units_per_contract: h("input", { name: "units_per_contract", inputmode: "numeric", value: "100" }),
      exercise_deadline: h("input", { name: "exercise_deadline", type: "datetime-local", step: "1" }),
      material: h("input", { name: "material", placeholder: "special-black-ink", autocapitalize: "none" }),
      index: h("input", { name: "index", placeholder: "INK-BLACK-SPECIAL", autocapitalize: "none" }),
      cap: h("input", { name: "cap", inputmode: "decimal", placeholder: "CNY per unit" }),
      settlement_window_start: h("input", { name: "settlement_window_start", type: "datetime-local", step: "1" }),
      give_symbol: h("input", { name: "give_symbol", list: "cap-symbols", autocomplete: "off" }),
      receive_symbol: h("input", { name: "receive_symbol", list: "cap-symbols", autocomplete: "off" }),
      expiry: h("input", { name: "expiry", type: "datetime-local", step: "1", value: msToLocal(now + 30 * DAY_MS) }),
      tick: h("input", { name: "tick", inputmode: "decimal", value: "1.00" }),
      lot: h("input", { name: "lot", inputmode: "numeric", value: "1" }),
      min_price: h("input", { name: "min_price", inputmode: "decimal", value: "1.00" }),
      max_price: h("input", { name: "max_price", inputmode: "decimal", value: "100000.00" }),
      trading_start: h("input", { name: "trading_start", type: "datetime-local", step: "1" }),
    };
    const group = (kinds, ...children) => h("div", { class: "kind-fields grid-3", dataset: { kinds } }, children);
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "list-instrument" }, "List");
    const form = h(
      "form",
      { class: "stack", "data-testid": "listing-form" },
      field("Kind", kind),
      group(
        "CAP",
        field("Process", inputs.process),
        field("Delivery: first day (UTC)", inputs.window_from),
        field("Delivery: last day (UTC)", inputs.window_to),
        field("Strike (CNY per unit)", inputs.strike),
        field("Units per contract", inputs.units_per_contract),
        field("Exercise deadline = expiry", inputs.exercise_deadline),
      ),
      group(
        "MAT",
        field("Material", inputs.material),
        field("Index", inputs.index),
        field("Cap (CNY per unit)", inputs.cap),
        field("Settlement window start", inputs.settlement_window_start),
      ),
      group("SWP", field("Buyer gives (CAP symbol)", inputs.give_symbol), field("Buyer receives (CAP symbol)", inputs.receive_symbol)),
      group("MAT SWP", field("Expiry", inputs.expiry)),
      group(
        "CAP MAT SWP",
        field("Tick (CNY)", inputs.tick),
        field("Lot (contracts)", inputs.lot),
        field("Min price (CNY)", inputs.min_price),
        field("Max price (CNY)", inputs.max_price),
        field("Trading starts", inputs.trading_start, "empty: now"),
      ),
      submit,
      formMessages.element,
      h("datalist", { id: "cap-symbols" }),
    );
    // MAT strikes and units share the CAP inputs: move them with the kind.
    const showKind = () => {
      for (const g of form.querySelectorAll(".kind-fields")) g.hidden = !g.dataset.kinds.split(" ").includes(kind.value);
      const sharedHome = kind.value === "MAT" ? form.querySelector('[data-kinds="MAT"]') : form.querySelector('[data-kinds="CAP"]');
      for (const name of ["strike", "units_per_contract"]) sharedHome.append(inputs[name].closest("label"));
    };
    kind.addEventListener("change", showKind);
    showKind();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        submit,
        formMessages,
        async () => {
          const body = listingBody(kind.value, inputs);
          const result = await api.post("/instruments", body);
          loadMarkets();
          return result;
        },
        (i) => `Listed ${i.symbol} (${i.status}).`,
      );
    });
    instrumentsBySymbol()
      .then((all) => {
        const datalist = form.querySelector("#cap-symbols");
        replace(datalist, [...all.values()].filter((i) => i.kind === "CAP").map((i) => h("option", { value: i.symbol })));
      })
      .catch((error) => formMessages.error(error));
    return form;
  }

  // -- INDEX PRICES AND DEPOSITS -----------------------------------------------------------------------
  function indexForm() {
    const formMessages = messageArea();
    const index = h("input", { name: "index", list: "known-indexes", placeholder: "INK-BLACK-SPECIAL", autocapitalize: "characters", autocomplete: "off" });
    const price = h("input", { name: "index_price", inputmode: "decimal", placeholder: "CNY per unit" });
    const confirmMove = h("input", { type: "checkbox", name: "confirm_large_move", "data-testid": "confirm-large-move" });
    const band = h("p", { class: "muted small index-band", "data-testid": "index-band" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "publish-index" }, "Publish");
    const form = h(
      "form",
      { class: "inline-form wrap", "data-testid": "index-form" },
      field("Index", index),
      field("Price (CNY per unit)", price),
      h("label", { class: "check" }, confirmMove, "Confirm a large move"),
      submit,
      h("datalist", { id: "known-indexes" }),
    );
    showIndexBand = () => replace(band, bandText(index.value.trim()));
    index.addEventListener("input", showIndexBand);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        submit,
        formMessages,
        async () => {
          const body = { index: index.value.trim(), price: parseCny(price.value, { label: "price" }) };
          if (confirmMove.checked) body.confirm_large_move = true;
          const result = await api.post("/operator/index-prices", body);
          confirmMove.checked = false;
          loadIndexes();
          return result;
        },
        (r) => `Published ${r.index} at ${formatCny(r.price)}/unit (${formatTime(r.published_at)}).`,
      );
    });
    return h("div", {}, form, band, formMessages.element);
  }

  function bandText(name) {
    if (!name) return "";
    const summary = indexSummaries.get(name);
    if (!summary) return `${name} has no price yet: its first price has no band.`;
    if (summary.band_low === null || summary.band_low === undefined) return `${name}: no band, any price is allowed.`;
    return (
      `${name}: allowed without confirmation: ${formatCny(summary.band_low)} – ${formatCny(summary.band_high)} ` +
      `(±${summary.band_percent}% of the last ${formatCny(summary.price)}); beyond it, tick "Confirm a large move".`
    );
  }

  const indexBandRange = (i) => (i.band_low === null || i.band_low === undefined ? "no band" : `${formatCny(i.band_low)} – ${formatCny(i.band_high)}`);

  async function loadIndexes() {
    try {
      const indexes = await api.get("/index-prices");
      indexSummaries = new Map(indexes.map((i) => [i.index, i]));
      showIndexBand();
      const datalist = view.querySelector("#known-indexes");
      if (datalist) replace(datalist, indexes.map((i) => h("option", { value: i.index })));
      replace(
        indexBox,
        table(
          [
            { label: "Index", value: (i) => i.index },
            { label: "Latest (per unit)", value: (i) => formatCny(i.price), class: "num" },
            { label: "Allowed without confirmation", value: indexBandRange, class: "band" },
            { label: "Published", value: (i) => formatTime(i.published_at) },
          ],
          indexes,
          { key: (i) => i.index, testid: "index-table", empty: "No index price published yet." },
        ),
      );
    } catch (error) {
      messages.error(error);
    }
  }

  function depositForm() {
    const formMessages = messageArea();
    const account = h("input", { name: "account_id", inputmode: "numeric", placeholder: "account id" });
    const amount = h("input", { name: "deposit_amount", inputmode: "decimal", placeholder: "CNY" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "deposit" }, "Deposit");
    const form = h("form", { class: "inline-form wrap", "data-testid": "deposit-form" }, field("Account", account), field("Amount (CNY)", amount), submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        submit,
        formMessages,
        () => api.post("/operator/deposits", { account_id: parseCount(account.value, { label: "account" }), amount: parseCny(amount.value, { label: "amount" }) }),
        (b) => `Account ${b.account_id}: ${formatCny(b.available)} available, ${formatCny(b.locked)} locked.`,
      );
    });
    return h("div", {}, form, formMessages.element);
  }

  // -- LIVE ------------------------------------------------------------------------------------------
  if (operator) {
    pollMetrics();
    timers.push(setInterval(pollMetrics, METRICS_EVERY_MS));
    runAudit();
    loadMarkets();
    stops.push(ctx.conn.subscribe("instruments", null, (m) => (m.type === "status" || m.type === "listed") && loadMarkets()));
  }
  loadIndexes();
  stops.push(ctx.conn.subscribe("index", null, (m) => m.type === "index_price" && loadIndexes()));

  return () => {
    timers.forEach(clearInterval);
    stops.forEach((stop) => stop());
    rateChart?.remove();
  };
}

/** The POST /instruments body from the listing form's inputs (money typed in CNY, sent in fen). */
function listingBody(kind, inputs) {
  const time = (input, label, fallback = undefined) => {
    const ms = localToMs(input.value);
    if (ms === null) {
      if (fallback !== undefined) return fallback;
      throw Object.assign(new Error(`${label}: choose a date and time`), { code: "INVALID_INPUT" });
    }
    return ms;
  };
  const common = {
    tick: parseCny(inputs.tick.value, { label: "tick" }),
    lot: parseCount(inputs.lot.value, { label: "lot" }),
    min_price: parseCny(inputs.min_price.value, { allowNegative: kind === "SWP", label: "min price" }),
    max_price: parseCny(inputs.max_price.value, { allowNegative: kind === "SWP", label: "max price" }),
    trading_start: time(inputs.trading_start, "trading start", 0),
  };
  if (kind === "CAP") {
    const start = dayToMs(inputs.window_from.value);
    const last = dayToMs(inputs.window_to.value);
    if (start === null || last === null) throw Object.assign(new Error("delivery window: choose the first and last day"), { code: "INVALID_INPUT" });
    const deadline = time(inputs.exercise_deadline, "exercise deadline");
    return {
      ...common,
      terms: {
        kind: "CAP",
        process: inputs.process.value.trim(),
        window_start: start,
        window_end: last + DAY_MS,
        strike: parseCny(inputs.strike.value, { label: "strike" }),
        units_per_contract: parseCount(inputs.units_per_contract.value, { label: "units per contract" }),
        exercise_deadline: deadline,
      },
      expiry: deadline,
    };
  }
  if (kind === "MAT") {
    return {
      ...common,
      terms: {
        kind: "MAT",
        material: inputs.material.value.trim(),
        index: inputs.index.value.trim(),
        strike: parseCny(inputs.strike.value, { label: "strike" }),
        cap: parseCny(inputs.cap.value, { label: "cap" }),
        units_per_contract: parseCount(inputs.units_per_contract.value, { label: "units per contract" }),
        settlement_window_start: time(inputs.settlement_window_start, "settlement window start"),
      },
      expiry: time(inputs.expiry, "expiry"),
    };
  }
  return {
    ...common,
    terms: { kind: "SWP", give_symbol: inputs.give_symbol.value.trim(), receive_symbol: inputs.receive_symbol.value.trim() },
    expiry: time(inputs.expiry, "expiry"),
  };
}
