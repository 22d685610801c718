// Prometheus text exposition (what /metrics returns), parsed into the figures the operator page
// shows: commands per second (the rate of capex_commands_total between two scrapes), the
// acknowledgement latency from the histogram, connected WebSockets, the command queue depth.

/** [{name, labels: {..}, value}] of every sample line. */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

function sum(samples, name, filter = () => true) {
  return samples.filter((s) => s.name === name && filter(s.labels)).reduce((total, s) => total + s.value, 0);
}

/** The totals of one scrape that rates and percentiles are computed from. */
export function snapshot(samples, at = Date.now()) {
  const buckets = new Map();
  for (const s of samples) {
    if (s.name !== "capex_command_latency_seconds_bucket") continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return {
    at,
    commands: sum(samples, "capex_commands_total"),
    refused: sum(samples, "capex_commands_total", (l) => l.code !== "OK"),
    latencyCount: sum(samples, "capex_command_latency_seconds_count"),
    latencySum: sum(samples, "capex_command_latency_seconds_sum"),
    buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]),
    websockets: sum(samples, "capex_websockets_connected"),
    queueDepth: sum(samples, "capex_command_queue_depth"),
    slowConsumers: sum(samples, "capex_ws_slow_consumer_total"),
    journalSeq: samples.find((s) => s.name === "capex_journal_seq")?.value ?? null,
  };
}

/** The upper bound (seconds) of the histogram bucket holding the q-quantile; null without data. */
export function quantileBound(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (total <= 0) return null;
  for (const [le, count] of buckets) if (count >= q * total) return le;
  return Infinity;
}

/** Figures over the interval between two snapshots (the latency over all time when none came in). */
export function figures(previous, current) {
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  const delta = previous ? current.buckets.map(([le, count], i) => [le, count - (previous.buckets[i]?.[1] ?? 0)]) : current.buckets;
  const interval = previous && current.latencyCount > previous.latencyCount;
  const buckets = interval ? delta : current.buckets;
  const count = interval ? current.latencyCount - previous.latencyCount : current.latencyCount;
  const total = interval ? current.latencySum - previous.latencySum : current.latencySum;
  return {
    commandsPerSecond: seconds > 0 ? Math.max(0, current.commands - previous.commands) / seconds : null,
    commandsTotal: current.commands,
    refusedTotal: current.refused,
    latencyMeanMs: count > 0 ? (total / count) * 1000 : null,
    latencyP50Ms: msOrNull(quantileBound(buckets, 0.5)),
    latencyP99Ms: msOrNull(quantileBound(buckets, 0.99)),
    latencyWindow: interval ? "last interval" : "since start",
    websockets: current.websockets,
    queueDepth: current.queueDepth,
    slowConsumers: current.slowConsumers,
    journalSeq: current.journalSeq,
  };
}

function msOrNull(seconds) {
  if (seconds === null) return null;
  return seconds === Infinity ? Infinity : seconds * 1000;
}
