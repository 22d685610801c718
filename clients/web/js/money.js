// Money and quantities. Inside the client every amount is an integer number of fen (1 CNY = 100
// fen), exactly as the API sends and expects it; CNY with two decimals exists only on screen.
// Amounts stay far below 2^53 (the API caps them at 10^15 fen), so JS numbers hold them exactly.

const CNY_INPUT = /^\s*(-)?\s*(?:¥\s*)?(\d{1,13})(?:\.(\d{1,2}))?\s*$/;

/** "¥1,234.56" for 123456 fen; negative amounts as "-¥12.00". */
export function formatCny(fen, { sign = false } = {}) {
  if (fen === null || fen === undefined) return "—";
  const negative = fen < 0;
  const absolute = Math.abs(fen);
  const yuan = Math.trunc(absolute / 100);
  const cents = String(absolute % 100).padStart(2, "0");
  const text = `¥${yuan.toLocaleString("en-US")}.${cents}`;
  if (negative) return `-${text}`;
  return sign && fen > 0 ? `+${text}` : text;
}

/** The CNY amount as typed ("12", "12.5", "12.50", "-3.00" where allowed) in integer fen,
 *  parsed from the text (never through a float). Throws InputError otherwise. */
export function parseCny(text, { allowNegative = false, label = "amount" } = {}) {
  const match = CNY_INPUT.exec(String(text ?? "").replaceAll(",", ""));
  if (!match) throw new InputError(`${label}: write CNY with at most 2 decimals, e.g. 12.50`);
  const [, minus, yuan, cents = ""] = match;
  const fen = Number(yuan) * 100 + Number(cents.padEnd(2, "0"));
  if (minus && fen !== 0 && !allowNegative) throw new InputError(`${label} cannot be negative`);
  return minus ? -fen : fen;
}

/** A whole number of contracts or units, > 0. */
export function parseCount(text, { label = "quantity" } = {}) {
  const value = String(text ?? "").trim();
  if (!/^\d{1,13}$/.test(value) || Number(value) === 0) {
    throw new InputError(`${label}: a whole number greater than 0`);
  }
  return Number(value);
}

/** "12.50" for the price inputs: fen as CNY text without the currency sign or grouping. */
export function fenToInput(fen) {
  if (fen === null || fen === undefined) return "";
  const negative = fen < 0;
  const absolute = Math.abs(fen);
  return `${negative ? "-" : ""}${Math.trunc(absolute / 100)}.${String(absolute % 100).padStart(2, "0")}`;
}

export function formatCount(n) {
  if (n === null || n === undefined) return "—";
  return Number(n).toLocaleString("en-US");
}

/** A mistake in what was typed, found before anything is sent. */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.code = "INVALID_INPUT";
    this.status = 0;
  }
}
