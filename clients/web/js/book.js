// A local order book kept in sync from the WebSocket `book` channel (docs/market-data.md, "Client
// algorithm"): a snapshot, then deltas with absolute level quantities. A delta whose `prev_seq` is
// not the last applied sequence, a checksum that does not match, or a heartbeat showing the server
// ahead of us means a message was lost: the book asks for a fresh snapshot of this one instrument
// and ignores its deltas until the snapshot arrives.

import { bookChecksum } from "./crc32.js";

export class BookSync {
  /**
   * @param {string} symbol
   * @param {(symbol: string) => Promise<unknown>} requestResync sends `{"op": "resync"}`
   * @param {(book: BookSync) => void} onChange called after every applied message
   */
  constructor(symbol, requestResync, onChange) {
    this.symbol = symbol;
    this.requestResync = requestResync;
    this.onChange = onChange;
    this.bids = new Map(); // price -> [quantity, order_count]
    this.asks = new Map();
    this.lastSeq = null;
    this.state = "waiting"; // waiting (for the first snapshot) | live | resyncing
    this.resyncs = 0; // how many times this book had to resync (shown, and read by the tests)
    this.lastResyncReason = null;
  }

  /** Handle one message of the book channel, or a heartbeat. */
  handle(message) {
    if (message.type === "heartbeat") return this.#heartbeat(message);
    if (message.symbol !== this.symbol) return;
    if (message.type === "snapshot") return this.#snapshot(message);
    if (message.type === "delta") return this.#delta(message);
  }

  /** Sorted levels, best first: asks low to high, bids high to low. */
  levels(side, depth = Infinity) {
    const map = side === "asks" ? this.asks : this.bids;
    const prices = [...map.keys()].sort((a, b) => (side === "asks" ? a - b : b - a));
    return prices.slice(0, depth).map((price) => [price, ...map.get(price)]);
  }

  bestBid() {
    return this.levels("bids", 1)[0] ?? null;
  }

  bestAsk() {
    return this.levels("asks", 1)[0] ?? null;
  }

  resync(reason) {
    if (this.state === "resyncing") return;
    this.state = "resyncing";
    this.resyncs += 1;
    this.lastResyncReason = reason;
    this.onChange(this);
    Promise.resolve(this.requestResync(this.symbol)).catch(() => {
      // The connection dropped: its reconnection resubscribes, which sends a fresh snapshot.
    });
  }

  #snapshot(message) {
    this.bids = toMap(message.bids);
    this.asks = toMap(message.asks);
    this.lastSeq = message.last_seq;
    this.state = "live";
    if (!this.#checksumMatches(message.checksum)) return this.resync("checksum mismatch after a snapshot");
    this.onChange(this);
  }

  #delta(message) {
    if (this.state !== "live") return; // waiting for a snapshot: deltas before it do not apply
    if (message.prev_seq !== this.lastSeq) {
      return this.resync(`gap: prev_seq ${message.prev_seq}, last applied ${this.lastSeq}`);
    }
    applyLevels(this.bids, message.bids);
    applyLevels(this.asks, message.asks);
    this.lastSeq = message.last_seq;
    if (!this.#checksumMatches(message.checksum)) return this.resync("checksum mismatch");
    this.onChange(this);
  }

  #heartbeat(message) {
    const serverSeq = message.books?.[this.symbol];
    // The server queued a book message we never saw: it is ahead of what we applied.
    if (this.state === "live" && serverSeq !== undefined && serverSeq > this.lastSeq) {
      this.resync(`heartbeat: server at ${serverSeq}, applied ${this.lastSeq}`);
    }
  }

  #checksumMatches(expected) {
    if (expected === undefined || expected === null) return true;
    return bookChecksum(this.levels("asks", 10), this.levels("bids", 10)) === expected;
  }
}

function toMap(levels) {
  const map = new Map();
  for (const [price, quantity, count] of levels ?? []) if (quantity > 0) map.set(price, [quantity, count]);
  return map;
}

function applyLevels(map, levels) {
  for (const [price, quantity, count] of levels ?? []) {
    if (quantity === 0) map.delete(price);
    else map.set(price, [quantity, count]);
  }
}
