// The price chart of an instrument: TradingView Lightweight Charts (vendor/), a line of trade
// prices and a histogram of traded contracts, one point per second (the chart's time unit; the
// last trade of a second sets its price, the volumes add up). Values stay in fen; the axis shows CNY.

import { formatCny } from "./money.js";

export class PriceChart {
  constructor(container, { tick = 1 } = {}) {
    this.container = container;
    this.points = new Map(); // second -> {price, volume}
    if (!window.LightweightCharts) {
      container.textContent = "The chart library did not load.";
      this.chart = null;
      return;
    }
    const { createChart, CrosshairMode } = window.LightweightCharts;
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#334155", fontFamily: "inherit", attributionLogo: true },
      grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: "#cbd5e1" },
      timeScale: { borderColor: "#cbd5e1", timeVisible: true, secondsVisible: true },
      localization: { priceFormatter: (fen) => formatCny(Math.round(fen)) },
    });
    this.line = this.chart.addLineSeries({
      color: "#2563eb",
      lineWidth: 2,
      pointMarkersVisible: true, // a lone trade still shows as a point
      priceFormat: { type: "custom", minMove: tick, formatter: (fen) => formatCny(Math.round(fen)) },
      lastValueVisible: true,
      priceLineVisible: true,
    });
    this.volume = this.chart.addHistogramSeries({
      color: "#94a3b8",
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  }

  /** Trades newest first or oldest first, each {price, quantity, executed_at}. */
  setTrades(trades) {
    this.points.clear();
    const ordered = [...trades].sort((a, b) => a.executed_at - b.executed_at || a.trade_id - b.trade_id);
    for (const trade of ordered) this.#accumulate(trade);
    if (!this.chart) return;
    const seconds = [...this.points.keys()].sort((a, b) => a - b);
    this.line.setData(seconds.map((time) => ({ time, value: this.points.get(time).price })));
    this.volume.setData(seconds.map((time) => ({ time, value: this.points.get(time).volume })));
    this.chart.timeScale().fitContent();
  }

  addTrade(trade) {
    const time = this.#accumulate(trade);
    if (!this.chart) return;
    const last = Math.max(...this.points.keys());
    if (time < last) return this.setTrades(this.#asTrades()); // out of order: redraw all
    const point = this.points.get(time);
    this.line.update({ time, value: point.price });
    this.volume.update({ time, value: point.volume });
  }

  get pointCount() {
    return this.points.size;
  }

  destroy() {
    if (this.chart) this.chart.remove();
    this.chart = null;
  }

  #accumulate(trade) {
    const time = Math.floor(trade.executed_at / 1000);
    const point = this.points.get(time) ?? { price: trade.price, volume: 0 };
    point.price = trade.price;
    point.volume += trade.quantity;
    this.points.set(time, point);
    return time;
  }

  #asTrades() {
    return [...this.points.entries()].map(([time, p]) => ({ executed_at: time * 1000, price: p.price, quantity: p.volume, trade_id: 0 }));
  }
}
