// The single-page app: hash routes, the header (navigation by role, connection status, who is
// logged in), and the one live WebSocket connection shared by every page.
//
// Routes: #/login, #/register, #/instruments?kind=&underlying=&status=, #/instrument/<symbol>,
// #/portfolio, #/supplier, #/operator. Each page module exports `render(view, ctx)` and returns a
// cleanup function (unsubscribe, stop timers) called when the page is left.

import { api } from "./api.js";
import { h, replace, toast } from "./dom.js";
import * as instrumentPage from "./pages/instrument.js";
import * as instrumentsPage from "./pages/instruments.js";
import * as loginPage from "./pages/login.js";
import * as operatorPage from "./pages/operator.js";
import * as portfolioPage from "./pages/portfolio.js";
import * as supplierPage from "./pages/supplier.js";
import { session } from "./session.js";
import { LiveConnection, webSocketUrl } from "./ws.js";

const ROUTES = {
  login: { page: loginPage, public: true },
  register: { page: loginPage, public: true },
  instruments: { page: instrumentsPage, public: true },
  instrument: { page: instrumentPage, public: true },
  portfolio: { page: portfolioPage },
  supplier: { page: supplierPage, roles: ["supplier"] },
  operator: { page: operatorPage, roles: ["operator", "index_feed"] },
};

const NAV = [
  { route: "instruments", label: "Instruments" },
  { route: "portfolio", label: "Portfolio", roles: ["creator", "supplier", "market_maker"] },
  { route: "supplier", label: "Supplier", roles: ["supplier"] },
  { route: "operator", label: "Operator", roles: ["operator", "index_feed"] },
];

let connection = null;
let cleanup = null;
const view = document.getElementById("view");

export function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

export function homeFor(role) {
  if (role === "operator" || role === "index_feed") return "#/operator";
  if (role === "supplier") return "#/supplier";
  return "#/instruments";
}

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, queryText = ""] = raw.split("?");
  const [name, ...rest] = path.split("/");
  return {
    name: name || (session.loggedIn ? homeFor(session.role).slice(2) : "instruments"),
    arg: rest.length ? decodeURIComponent(rest.join("/")) : null,
    query: Object.fromEntries(new URLSearchParams(queryText)),
  };
}

function route() {
  const { name, arg, query } = parseHash();
  const entry = ROUTES[name];
  if (!entry) return navigate("#/instruments");
  if (!entry.public && !session.loggedIn) return navigate(`#/login?next=${encodeURIComponent(window.location.hash)}`);
  if (entry.roles && !entry.roles.includes(session.role)) {
    toast(`The ${name} page is for ${entry.roles.join(" and ")} accounts.`, "error");
    return navigate(homeFor(session.role));
  }
  if (cleanup) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
  }
  cleanup = null;
  renderHeader(name);
  replace(view);
  view.dataset.page = name;
  document.body.classList.remove("menu-open");
  const ctx = { conn: connection, navigate, arg, query, route: name };
  const result = entry.page.render(view, ctx);
  cleanup = typeof result === "function" ? result : null;
  view.focus({ preventScroll: true });
}

// -- HEADER ------------------------------------------------------------------------------------

const statusLabel = h("span", { class: "conn conn-connecting", "data-testid": "connection" }, "connecting");

function renderHeader(current) {
  const nav = document.getElementById("nav");
  const links = NAV.filter((item) => !item.roles || (session.loggedIn && item.roles.includes(session.role))).map(
    (item) =>
      h(
        "a",
        { href: `#/${item.route}`, class: current === item.route || (current === "instrument" && item.route === "instruments") ? "active" : "" },
        item.route === "operator" && session.role === "index_feed" ? "Index feed" : item.label,
      ),
  );
  replace(nav, links);
  const user = document.getElementById("user");
  if (session.loggedIn) {
    replace(
      user,
      h("span", { class: "who", "data-testid": "who" }, session.username ?? `#${session.accountId}`, h("small", {}, ` ${session.role}`)),
      h("button", { class: "link", type: "button", onclick: logOut, "data-testid": "logout" }, "Log out"),
    );
  } else {
    replace(user, h("a", { href: "#/login", class: "button" }, "Log in"));
  }
}

async function logOut() {
  try {
    await api.post("/auth/logout", undefined);
  } catch {
    // the token may have expired already; the session ends here either way
  }
  session.end("logout");
}

function showConnection(detail) {
  const { state, retryInMs } = detail;
  statusLabel.className = `conn conn-${state}`;
  if (state === "open") statusLabel.textContent = "live";
  else if (state === "reconnecting" && retryInMs !== undefined) {
    statusLabel.textContent = `reconnecting in ${Math.max(1, Math.round(retryInMs / 1000))} s`;
  } else statusLabel.textContent = state;
}

// -- CONNECTION --------------------------------------------------------------------------------

function connect() {
  if (connection) connection.stop();
  connection = new LiveConnection({ url: webSocketUrl(), token: session.token });
  connection.addEventListener("status", (event) => showConnection(event.detail));
  connection.addEventListener("welcome", (event) => {
    if (event.detail.reconnected) toast("Reconnected: live data resumed.", "ok", 3000);
  });
  connection.addEventListener("servererror", (event) => {
    const error = event.detail;
    if (error?.code === "SLOW_CONSUMER" || error?.code === "IDLE_TIMEOUT") toast(error, "error");
  });
  connection.addEventListener("autherror", () => {
    session.expired({ code: "UNAUTHENTICATED", message: "the session ended; log in again" });
  });
  window.__capex = { connection, session };
  connection.start();
}

function init() {
  document.getElementById("status-slot").append(statusLabel);
  document.getElementById("menu-toggle").addEventListener("click", () => document.body.classList.toggle("menu-open"));
  session.addEventListener("change", (event) => {
    connect();
    if (event.detail.reason === "expired") {
      toast("Your session ended: log in again.", "error");
      navigate("#/login");
    } else if (event.detail.reason === "logout") navigate("#/login");
  });
  window.addEventListener("hashchange", route);
  connect();
  route();
}

init();
