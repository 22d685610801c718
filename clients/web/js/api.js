// REST client of /api/v1. Every refusal becomes an ApiError carrying the API's own status, code and
// message (the one error shape {"error": {"status", "code", "message"}}), so the page can show
// exactly why an action was refused.

import { session } from "./session.js";

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, { body, query, auth = true } = {}) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "the exchange cannot be reached; check the connection");
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload?.error;
    const apiError = new ApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? response.statusText ?? "request refused",
    );
    if (response.status === 401 && auth && session.token) session.expired(apiError);
    throw apiError;
  }
  return payload;
}

export const api = {
  get: (path, query, options = {}) => call("GET", path, { query, ...options }),
  post: (path, body = {}, options = {}) => call("POST", path, { body, ...options }),
  patch: (path, body = {}) => call("PATCH", path, { body }),
  delete: (path) => call("DELETE", path),
};

/** Prometheus text of /metrics (not under /api/v1). */
export async function fetchMetrics() {
  let response;
  try {
    response = await fetch("/metrics", { headers: { Accept: "text/plain" } });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "the exchange cannot be reached");
  }
  if (!response.ok) throw new ApiError(response.status, `HTTP_${response.status}`, "metrics are not available");
  return response.text();
}

/** A client order id, unique per account with overwhelming probability (the idempotency key). */
export function newClientOrderId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
