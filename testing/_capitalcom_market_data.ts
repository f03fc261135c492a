/**
 * What the Capital.com emulator serves about a market: deterministic bid/ask
 * bars that exist only while the market is open, the `/markets` listing and
 * details, and the `/prices` answer. Private.
 *
 * @module
 */

import { parsePeriod, periodStart } from "../format/timeframe.ts";
import { CandleGenerator, decimalsOf } from "./candle_generator.ts";
import {
  DAY_MS,
  formatLocal,
  openIntervals,
  servedHours,
} from "./_capitalcom_emulator_hours.ts";
import {
  EMULATOR_RESOLUTIONS,
  type EmulatorMarket,
} from "./_capitalcom_markets.ts";
import { Reply } from "./_capitalcom_http.ts";

/** One bid/ask bar. */
export interface Bar {
  t: number;
  bid: [number, number, number, number];
  ask: [number, number, number, number];
  spread: number;
  volume: number;
}

/** A market and its deterministic bars. */
export class MarketData {
  readonly market: EmulatorMarket;
  readonly gen: CandleGenerator;
  readonly decimals: number;
  readonly historyStart: number;

  constructor(market: EmulatorMarket) {
    this.market = market;
    this.gen = new CandleGenerator({
      seed: market.epic,
      basePrice: market.basePrice,
      tick: market.minStep,
      volumeStep: 1,
    });
    this.decimals = decimalsOf(market.minStep);
    this.historyStart = market.historyStart ?? Date.UTC(2020, 0, 1);
  }

  round(x: number): number {
    return Number(x.toFixed(this.decimals));
  }

  spreadAt(t: number): number {
    const wobble = ((Math.floor(t / 60_000) % 3) + 3) % 3;
    return this.round((this.market.spreadTicks + wobble) * this.market.minStep);
  }

  bar(t: number, periodMs: number, now: number): Bar {
    const forming = t + periodMs > now;
    const len = forming
      ? Math.max(60_000, Math.floor((now - t) / 60_000) * 60_000)
      : periodMs;
    const c = this.gen.candle(t, len);
    const spread = this.spreadAt(t);
    const bid: [number, number, number, number] = [
      c.open,
      c.high,
      c.low,
      c.close,
    ];
    return {
      t,
      bid,
      ask: bid.map((v) => this.round(v + spread)) as [
        number,
        number,
        number,
        number,
      ],
      spread,
      volume: c.volume,
    };
  }

  /**
   * Times of the bars (open at some point of their period) with
   * `lo <= t <= hi` and `t <= now`, ascending.
   */
  times(period: string, lo: number, hi: number, now: number): number[] {
    const tf = parsePeriod(period);
    const start = Math.max(lo, this.historyStart);
    const end = Math.min(hi, now);
    if (end < start) return [];
    let t = periodStart(tf, start);
    if (t < start) t += tf.ms;
    const ivs = openIntervals(this.market.openingHours, t, end + tf.ms);
    const out: number[] = [];
    let i = 0;
    const closures = this.market.closures ?? [];
    for (; t <= end; t += tf.ms) {
      while (i < ivs.length && ivs[i]![1] <= t) i++;
      const iv = ivs[i];
      if (
        iv && iv[0] < t + tf.ms && iv[0] <= now &&
        !closures.some(([a, b]) => a <= t && t < b)
      ) out.push(t);
    }
    return out;
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

function parseDate(text: string): number {
  if (!DATE_RE.test(text)) return NaN;
  return Date.parse(text.length === 16 ? `${text}:00Z` : `${text}Z`);
}

/** A market as `/markets` lists it. */
export function marketListing(md: MarketData, now: () => number) {
  const m = md.market;
  const t = now();
  const q = md.bar(Math.floor(t / 60_000) * 60_000, 60_000, t);
  return {
    epic: m.epic,
    symbol: m.symbol,
    instrumentName: m.name,
    instrumentType: m.type,
    expiry: "-",
    lotSize: m.lotSize,
    bid: q.bid[3],
    offer: q.ask[3],
    marketStatus: isOpen(md, t) ? "TRADEABLE" : "CLOSED",
    updateTimeUTC: new Date(t).toISOString().slice(0, 19),
    delayTime: 0,
    streamingPricesAvailable: true,
    scalingFactor: 1,
  };
}

/** True while the market is open at `t`. */
export function isOpen(md: MarketData, t: number): boolean {
  return openIntervals(md.market.openingHours, t, t + 1).some(([a, b]) =>
    a <= t && t < b
  ) && !(md.market.closures ?? []).some(([a, b]) => a <= t && t < b);
}

/** A market as `/markets/{epic}` details it. */
export function marketDetails(md: MarketData, now: () => number) {
  const m = md.market;
  const l = marketListing(md, now);
  return {
    instrument: {
      epic: m.epic,
      symbol: m.symbol,
      expiry: "-",
      name: m.name,
      lotSize: m.lotSize,
      type: m.type,
      guaranteedStopAllowed: true,
      streamingPricesAvailable: true,
      currency: m.currency,
      marginFactor: 3.33,
      marginFactorUnit: "PERCENTAGE",
      openingHours: servedHours(m, now()),
    },
    dealingRules: {
      minStepDistance: { unit: "POINTS", value: m.minStep },
      minDealSize: { unit: "AMOUNT", value: m.minDealSize },
      maxDealSize: { unit: "AMOUNT", value: m.minDealSize * 100000 },
      minSizeIncrement: { unit: "AMOUNT", value: m.minDealSize },
      minGuaranteedStopDistance: { unit: "PERCENTAGE", value: 0.1 },
      minStopOrProfitDistance: { unit: "PERCENTAGE", value: 0.01 },
      maxStopOrProfitDistance: { unit: "PERCENTAGE", value: 75 },
      marketOrderPreference: "AVAILABLE_DEFAULT_OFF",
      trailingStopsPreference: "AVAILABLE",
    },
    snapshot: {
      marketStatus: l.marketStatus,
      netChange: 0,
      percentageChange: 0,
      updateTime: l.updateTimeUTC,
      delayTime: 0,
      bid: l.bid,
      offer: l.offer,
      decimalPlacesFactor: md.decimals,
      scalingFactor: 1,
    },
  };
}

/** A cap on the bars of one `/prices` answer below `max`. */
export interface PageCap {
  /** Most bars an answer holds (`Infinity`: only `max` counts). */
  readonly max: number;
  /** Which end of a range holding more is answered. */
  readonly keeps: "oldest" | "newest";
}

/** The `/prices/{epic}` answer, with its `max`/`from`/`to` rules. */
export function barsResponse(
  md: MarketData,
  query: URLSearchParams,
  now: () => number,
  cap: PageCap = { max: Infinity, keeps: "oldest" },
) {
  const resolution = query.get("resolution") ?? "MINUTE";
  const period = EMULATOR_RESOLUTIONS[resolution];
  if (!period) throw new Reply(400, "error.invalid.resolution");
  const tf = parsePeriod(period);
  const maxText = query.get("max");
  const max = maxText === null ? 10 : Number(maxText);
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new Reply(400, "error.invalid.max");
  }
  const fromText = query.get("from");
  const toText = query.get("to");
  const from = fromText === null ? undefined : parseDate(fromText);
  const to = toText === null ? undefined : parseDate(toText);
  if (from !== undefined && !Number.isFinite(from)) {
    throw new Reply(400, "error.invalid.from");
  }
  if (to !== undefined && !Number.isFinite(to)) {
    throw new Reply(400, "error.invalid.to");
  }
  const t = now();
  // The real API refuses a `to` in the future.
  if (to !== undefined && to > t) {
    throw new Reply(400, "error.invalid.daterange");
  }
  if (from !== undefined && to !== undefined) {
    if (to < from) throw new Reply(400, "error.invalid.daterange");
    // Both edges count: at most `max` bar slots fit in the window.
    if (to - from > (max - 1) * tf.ms) {
      throw new Reply(400, "error.invalid.max.daterange");
    }
  }
  let times: number[];
  if (from !== undefined) {
    const hi = to ?? Math.min(t, from + max * tf.ms * 4 + 14 * DAY_MS);
    times = md.times(period, from, hi, t).slice(0, max);
  } else {
    const hi = to ?? t;
    // Look back far enough to find `max` bars even across long closures.
    let span = max * tf.ms * 2 + 7 * DAY_MS;
    times = md.times(period, hi - span, hi, t);
    while (times.length < max && hi - span > md.historyStart) {
      span *= 2;
      times = md.times(period, hi - span, hi, t);
    }
    times = times.slice(-max);
  }
  // A venue may answer fewer bars than `max`: the range cut short.
  if (times.length > cap.max) {
    times = cap.keeps === "oldest"
      ? times.slice(0, cap.max)
      : times.slice(-cap.max);
  }
  if (times.length === 0) throw new Reply(404, "error.prices.not-found");
  const zone = md.market.openingHours.zone;
  return {
    prices: times.map((bt) => {
      const b = md.bar(bt, tf.ms, t);
      return {
        snapshotTime: formatLocal(zone, bt),
        snapshotTimeUTC: new Date(bt).toISOString().slice(0, 19),
        openPrice: { bid: b.bid[0], ask: b.ask[0] },
        highPrice: { bid: b.bid[1], ask: b.ask[1] },
        lowPrice: { bid: b.bid[2], ask: b.ask[2] },
        closePrice: { bid: b.bid[3], ask: b.ask[3] },
        lastTradedVolume: b.volume,
      };
    }),
    instrumentType: md.market.type,
  };
}
