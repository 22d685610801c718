// How instruments, times and statuses read on screen.

import { formatCny } from "./money.js";

const DAY_MS = 86_400_000;

/** "2026-11-02 14:05" in the viewer's time zone. */
export function formatTime(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatClock(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A UTC calendar day, "2026-11-02". */
export function formatDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A delivery window [start, end) as its first and last UTC day: "2026-11-02 – 2026-11-08". */
export function formatWindow(start, end) {
  return `${formatDay(start)} – ${formatDay(end - 1)}`;
}

/** "2026-11-02" (UTC day) -> ms at 00:00 UTC. */
export function dayToMs(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text ?? "")) return null;
  return Date.parse(`${text}T00:00:00Z`);
}

/** A datetime-local value (the viewer's time zone) -> ms. */
export function localToMs(text) {
  if (!text) return null;
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** ms -> a datetime-local value in the viewer's time zone. */
export function msToLocal(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const KIND_NAMES = { CAP: "Capacity option", MAT: "Material call", SWP: "Capacity swap" };

/** The process (CAP, SWP) or material (MAT) an instrument is about. */
export function underlying(instrument, bySymbol = null) {
  const t = instrument.terms;
  if (instrument.kind === "CAP") return t.process;
  if (instrument.kind === "MAT") return t.material;
  const leg = bySymbol?.get(t.give_symbol);
  return leg ? leg.terms.process : t.give_symbol;
}

/** One line of an instrument's terms. */
export function describeTerms(instrument) {
  const t = instrument.terms;
  if (instrument.kind === "CAP") {
    return `${t.units_per_contract} units of ${t.process}, ${formatWindow(t.window_start, t.window_end)}, strike ${formatCny(t.strike)}/unit`;
  }
  if (instrument.kind === "MAT") {
    return `${t.units_per_contract} units of ${t.material} on ${t.index}, strike ${formatCny(t.strike)}, cap ${formatCny(t.cap)} per unit`;
  }
  return `give ${t.give_symbol}, receive ${t.receive_symbol}`;
}

export function statusBadge(status) {
  const span = document.createElement("span");
  span.className = `badge status-${status}`;
  span.textContent = status;
  return span;
}

export function daysUntil(ms, now = Date.now()) {
  return Math.floor((ms - now) / DAY_MS);
}
