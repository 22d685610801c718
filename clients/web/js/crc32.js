// CRC-32 (IEEE, as zlib.crc32) and the book checksum text of docs/market-data.md.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of an ASCII string, unsigned. */
export function crc32(text) {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** `<ask1>|...|<ask10>;<bid1>|...|<bid10>`, each `<price>:<quantity>`, best first on each side.
 *  `asks` and `bids` are [price, quantity, ...] arrays, already sorted best first. */
export function checksumText(asks, bids, depth = 10) {
  const side = (levels) =>
    levels
      .slice(0, depth)
      .map(([price, quantity]) => `${price}:${quantity}`)
      .join("|");
  return `${side(asks)};${side(bids)}`;
}

export function bookChecksum(asks, bids) {
  return crc32(checksumText(asks, bids));
}
