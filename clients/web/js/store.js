// Reads shared by several pages: the instrument list (cached briefly) and the best prices used to
// value positions.

import { api } from "./api.js";

let cache = null;
let cachedAt = 0;
const CACHE_MS = 5_000;

/** Every instrument, by symbol. */
export async function instrumentsBySymbol({ fresh = false } = {}) {
  if (!fresh && cache && Date.now() - cachedAt < CACHE_MS) return cache;
  const list = await api.get("/instruments");
  cache = new Map(list.map((instrument) => [instrument.symbol, instrument]));
  cachedAt = Date.now();
  return cache;
}

export function forgetInstruments() {
  cache = null;
}

/**
 * The mark of one contract, in fen, and where it comes from: the mid of the best bid and ask when
 * both exist (rounded down to the fen), else the last trade price, else none.
 */
export function markPrice({ bestBid = null, bestAsk = null, lastPrice = null }) {
  if (bestBid !== null && bestAsk !== null) return { price: Math.floor((bestBid + bestAsk) / 2), source: "mid" };
  if (lastPrice !== null && lastPrice !== undefined) return { price: lastPrice, source: "last" };
  return { price: null, source: "none" };
}
