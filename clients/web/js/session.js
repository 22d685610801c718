// Who is logged in: the session token and the account, kept in localStorage so a reload stays
// logged in. Pages listen for "change" (log in, log out, expiry).

const KEY = "capex.session";

class Session extends EventTarget {
  constructor() {
    super();
    this.data = null;
    try {
      this.data = JSON.parse(localStorage.getItem(KEY) ?? "null");
    } catch {
      this.data = null;
    }
    if (this.data && this.data.expires_at <= Date.now()) this.data = null;
  }

  get token() {
    return this.data?.token ?? null;
  }
  get accountId() {
    return this.data?.account_id ?? null;
  }
  get role() {
    return this.data?.role ?? null;
  }
  get username() {
    return this.data?.username ?? null;
  }
  get loggedIn() {
    return this.token !== null;
  }

  /** After POST auth/login: {token, account_id, role, expires_at} plus the username. */
  start(data) {
    this.data = data;
    localStorage.setItem(KEY, JSON.stringify(data));
    this.dispatchEvent(new CustomEvent("change", { detail: { reason: "login" } }));
  }

  end(reason = "logout", error = null) {
    if (!this.data) return;
    this.data = null;
    localStorage.removeItem(KEY);
    this.dispatchEvent(new CustomEvent("change", { detail: { reason, error } }));
  }

  expired(error) {
    this.end("expired", error);
  }
}

export const session = new Session();
