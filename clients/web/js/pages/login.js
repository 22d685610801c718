// Log in, or open an account (creator, supplier or market maker; operators are created by operators).

import { api } from "../api.js";
import { field, h, messageArea, run, select } from "../dom.js";
import { session } from "../session.js";

const ROLES = [
  ["creator", "Creator: buys capacity and material protection"],
  ["supplier", "Supplier: registers capacity and writes options"],
  ["market_maker", "Market maker: quotes both sides"],
];

export function render(view, ctx) {
  const registering = ctx.route === "register";
  const messages = messageArea();
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: registering ? "new-password" : "current-password",
    required: true,
  });
  const role = select("role", ROLES, "creator");
  const submit = h("button", { type: "submit", class: "primary" }, registering ? "Open account" : "Log in");

  const form = h(
    "form",
    { class: "card narrow", "data-testid": registering ? "register-form" : "login-form" },
    h("h1", {}, registering ? "Open an account" : "Log in"),
    field("Username", username, registering ? "3–32 of a-z 0-9 _ . -" : null),
    field("Password", password, registering ? "8 to 128 characters" : null),
    registering ? field("Role", role) : null,
    submit,
    messages.element,
    h(
      "p",
      { class: "muted" },
      registering
        ? ["Have an account? ", h("a", { href: "#/login" }, "Log in")]
        : ["New here? ", h("a", { href: "#/register" }, "Open an account")],
    ),
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(submit, messages, async () => {
      const name = username.value.trim();
      if (registering) {
        await api.post("/auth/register", { username: name, password: password.value, role: role.value }, { auth: false });
      }
      const login = await api.post("/auth/login", { username: name, password: password.value }, { auth: false });
      session.start({ ...login, username: name });
      const next = ctx.query.next && ctx.query.next.startsWith("#/") && !ctx.query.next.startsWith("#/login") ? ctx.query.next : null;
      ctx.navigate(next ?? homeFor(login.role));
    });
  });

  view.append(h("section", { class: "page page-login" }, form));
  username.focus();
}

function homeFor(role) {
  if (role === "operator" || role === "index_feed") return "#/operator";
  if (role === "supplier") return "#/supplier";
  return "#/instruments";
}
