// The one WebSocket connection of the page (docs/market-data.md): authenticates with the session
// token, keeps a registry of subscriptions and renews them after every reconnection, answers
// requests by their `id`, keeps itself alive with pings, and reconnects with exponential backoff
// and jitter when the connection drops.
//
// Events (EventTarget): "status" (detail: {state, retryInMs?, attempt?}), "welcome", "gap",
// "servererror" (detail: the unsolicited error), "heartbeat".

const PRIVATE_CHANNELS = new Set(["orders", "fills", "positions", "balances", "bookings"]);
const PING_EVERY_MS = 10_000; // the server closes a connection silent for 30 s
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;

export class WsError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.status = 0;
  }
}

export class LiveConnection extends EventTarget {
  constructor({ url, token = null }) {
    super();
    this.url = url;
    this.token = token;
    this.socket = null;
    this.state = "idle"; // idle | connecting | open | reconnecting | closed
    this.authenticated = false;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.subscriptions = new Map(); // "channel|symbol" -> Set(handler)
    this.active = new Set(); // keys subscribed on the current socket
    this.stopped = true;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.dropBookMessages = 0; // test hook: lose this many book messages, as a network would
    this.history = []; // the last states, oldest first (shown nowhere; read when debugging and by tests)
  }

  start() {
    this.stopped = false;
    if (!this.socket) this.#connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.#failPending("CLOSED", "the connection was closed");
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.#setState("closed");
  }

  /** Register `handler` for a channel (and symbol); returns the function that unregisters it. */
  subscribe(channel, symbol, handler) {
    const key = `${channel}|${symbol ?? ""}`;
    if (!this.subscriptions.has(key)) this.subscriptions.set(key, new Set());
    this.subscriptions.get(key).add(handler);
    this.#sendSubscription(key);
    return () => {
      const handlers = this.subscriptions.get(key);
      if (!handlers) return;
      handlers.delete(handler);
      if (handlers.size === 0) {
        this.subscriptions.delete(key);
        if (this.active.delete(key) && this.#isOpen()) {
          this.request("unsubscribe", subscriptionFields(key)).catch(() => {});
        }
      }
    };
  }

  /** Send `{op, id, ...fields}`; resolves with `result`, rejects with a WsError. */
  request(op, fields = {}) {
    if (!this.#isOpen()) return Promise.reject(new WsError("NOT_CONNECTED", "not connected to the exchange"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WsError("TIMEOUT", `no answer to ${op}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ op, id, ...fields }));
    });
  }

  // -- CONNECTION ------------------------------------------------------------------------------

  #connect() {
    this.#setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.authenticated = false;
    this.active.clear();
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      this.#failPending("CLOSED", "the connection to the exchange dropped");
      this.active.clear();
      if (!this.stopped) this.#scheduleReconnect();
    });
  }

  #scheduleReconnect() {
    // 0.5 s, 1 s, 2 s ... up to 15 s, each with jitter so that many clients do not come back at once
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.attempt += 1;
    this.#setState("reconnecting", { retryInMs: delay, attempt: this.attempt });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopped) this.#connect();
    }, delay);
  }

  async #onWelcome(welcome) {
    const reconnected = this.attempt > 0;
    this.attempt = 0;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.request("ping").catch(() => {}), PING_EVERY_MS);
    if (this.token) {
      try {
        await this.request("auth", { token: this.token });
        this.authenticated = true;
      } catch (error) {
        this.dispatchEvent(new CustomEvent("autherror", { detail: error }));
      }
    }
    this.#setState("open");
    for (const key of this.subscriptions.keys()) this.#sendSubscription(key);
    this.dispatchEvent(new CustomEvent("welcome", { detail: { ...welcome, reconnected } }));
  }

  #sendSubscription(key) {
    if (!this.#isOpen() || this.state !== "open" || this.active.has(key)) return;
    const fields = subscriptionFields(key);
    if (PRIVATE_CHANNELS.has(fields.channel) && !this.authenticated) return;
    this.active.add(key);
    this.request("subscribe", fields).catch((error) => {
      this.active.delete(key);
      this.dispatchEvent(new CustomEvent("servererror", { detail: error }));
    });
  }

  // -- MESSAGES --------------------------------------------------------------------------------

  #onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message.type) {
      case "welcome":
        this.#onWelcome(message);
        return;
      case "response":
        return this.#onResponse(message);
      case "heartbeat":
        for (const symbol of Object.keys(message.books ?? {})) this.#dispatch(`book|${symbol}`, message);
        this.dispatchEvent(new CustomEvent("heartbeat", { detail: message }));
        return;
      case "gap":
        this.dispatchEvent(new CustomEvent("gap", { detail: message }));
        return;
      case "error":
        this.dispatchEvent(new CustomEvent("servererror", { detail: message }));
        return;
      default:
        break;
    }
    if (!message.channel) return;
    if (message.channel === "book" && this.dropBookMessages > 0 && message.type === "delta") {
      this.dropBookMessages -= 1;
      return;
    }
    if (message.symbol !== undefined) this.#dispatch(`${message.channel}|${message.symbol}`, message);
    this.#dispatch(`${message.channel}|`, message);
  }

  #onResponse(message) {
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new WsError(message.error?.code ?? "ERROR", message.error?.message ?? "refused"));
  }

  #dispatch(key, message) {
    for (const handler of this.subscriptions.get(key) ?? []) {
      try {
        handler(message);
      } catch (error) {
        console.error("handler failed", key, error);
      }
    }
  }

  #failPending(code, text) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new WsError(code, text));
    }
    this.pending.clear();
  }

  #isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  #setState(state, extra = {}) {
    this.state = state;
    this.history.push(state);
    if (this.history.length > 50) this.history.shift();
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }
}

function subscriptionFields(key) {
  const [channel, symbol] = key.split("|");
  return symbol ? { channel, symbol } : { channel };
}

export function webSocketUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
