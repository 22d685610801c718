// A few DOM helpers: build elements without innerHTML (no markup injection from data), tables,
// forms and the messages that tell why an action was refused.

/** h("button", {class: "primary", onclick: f}, "Buy") */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "value") element.value = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/**
 * A table: columns are {label, value: row => content, class?}; `empty` is shown with no rows.
 * Every row gets `data-key` from `key(row)` so tests and updates can find it.
 */
export function table(columns, rows, { empty = "Nothing yet.", key = null, caption = null, testid = null } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class, scope: "col" }, c.label))));
  const body = h(
    "tbody",
    {},
    rows.length === 0
      ? h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty))
      : rows.map((row) =>
          h(
            "tr",
            { dataset: key ? { key: String(key(row)) } : undefined },
            columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.value(row))),
          ),
        ),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { "data-testid": testid }, caption ? h("caption", {}, caption) : null, head, body),
  );
}

/** A labelled form field. */
export function field(label, input, hint = null) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input, hint ? h("small", {}, hint) : null);
}

export function select(name, options, value = undefined, attributes = {}) {
  return h(
    "select",
    { name, ...attributes },
    options.map(([optionValue, label]) =>
      h("option", { value: optionValue, selected: String(optionValue) === String(value) ? true : undefined }, label),
    ),
  );
}

/** The message area of a form: `show(error)` explains a refusal, `ok(text)` confirms. */
export function messageArea() {
  const area = h("div", { class: "form-message", role: "status", "aria-live": "polite" });
  return {
    element: area,
    error(error) {
      replace(area, describeError(error));
      area.className = "form-message alert alert-error";
    },
    ok(text) {
      replace(area, text);
      area.className = "form-message alert alert-ok";
    },
    clear() {
      replace(area);
      area.className = "form-message";
    },
  };
}

/** "Refused (409 INSUFFICIENT_FUNDS): 12010 needed, 5000 available" */
export function describeError(error) {
  const code = error?.code ?? "ERROR";
  const status = error?.status ? `${error.status} ` : "";
  return h(
    "span",
    { class: "error-text" },
    h("strong", {}, "Refused "),
    h("code", { class: "error-code" }, `${status}${code}`),
    ": ",
    h("span", { class: "error-message" }, error?.message ?? String(error)),
  );
}

/**
 * Run `action` for a form submit or a button: disables the trigger while it runs, shows the result
 * or the refusal in `messages`. Returns what the action returned (undefined when refused).
 */
export async function run(trigger, messages, action, success = null) {
  if (trigger) trigger.disabled = true;
  messages?.clear();
  try {
    const result = await action();
    if (success && messages) messages.ok(typeof success === "function" ? success(result) : success);
    return result;
  } catch (error) {
    if (messages) messages.error(error);
    else toast(error, "error");
    if (!error?.code) console.error(error);
    return undefined;
  } finally {
    if (trigger) trigger.disabled = false;
  }
}

/** A short note in the corner (fills, reconnection, errors without a form). */
export function toast(content, kind = "info", ms = 6000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const note = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    content instanceof Error || content?.code ? describeError(content) : content,
  );
  box.append(note);
  setTimeout(() => note.remove(), ms);
  while (box.children.length > 4) box.firstElementChild.remove();
}
