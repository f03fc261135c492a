/**
 * Capital.com candles: a download range cut into windows of `/prices`
 * requests, fetched a few at a time through the shared rate limiter, each
 * window paged and split when the venue refuses its length or cuts a page
 * short, delivered in order without the forming bar. Private to the
 * Capital.com provider.
 *
 * @module
 */

import {
  allocBatch,
  type CandleBatch,
  type CandleExtra,
} from "../format/candle_batch.ts";
import type { Timeframe } from "../format/timeframe.ts";
import type { CapitalComClient } from "./_capitalcom_session.ts";
import { diff, num, unknownEpic } from "./_capitalcom_symbol_info.ts";
import { type CandleRequest, ProviderError } from "./provider.ts";

/** Capital.com resolutions by canonical TradingView period. */
export const CAPITALCOM_RESOLUTIONS: Readonly<Record<string, string>> = {
  "1": "MINUTE",
  "5": "MINUTE_5",
  "15": "MINUTE_15",
  "30": "MINUTE_30",
  "60": "HOUR",
  "240": "HOUR_4",
  "1D": "DAY",
  "1W": "WEEK",
};

/** The Capital.com resolution of a timeframe, or a `ProviderError` naming the supported ones. */
export function capitalComResolution(timeframe: Timeframe): string {
  const r = CAPITALCOM_RESOLUTIONS[timeframe.period];
  if (!r) {
    throw new ProviderError(
      `Capital.com has no ${timeframe.period} timeframe; supported: ${
        Object.keys(CAPITALCOM_RESOLUTIONS).join(", ")
      }`,
      { code: "unsupported.timeframe" },
    );
  }
  return r;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, no offset (what `/prices` takes). */
export function capitalComTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Parses a `snapshotTimeUTC` (UTC without an offset) to ms; NaN when unreadable. */
export function parseCapitalComTime(text: unknown): number {
  if (typeof text !== "string") return NaN;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(text);
  return Date.parse(hasZone ? text : `${text}Z`);
}

/** Largest `max` of `/prices`. */
const MAX_PAGE = 1000;
const MINUTE = 60_000;
/** Windows fetched at once by default (the rate limiter caps the request rate). */
const DEFAULT_CONCURRENCY = 3;
/** How far short of now windows end after the venue refused one as in the future. */
const SKEW_HORIZON = 10 * MINUTE;

interface PriceSide {
  bid?: unknown;
  ask?: unknown;
}
interface PriceBar {
  snapshotTimeUTC?: unknown;
  openPrice?: PriceSide;
  highPrice?: PriceSide;
  lowPrice?: PriceSide;
  closePrice?: PriceSide;
  lastTradedVolume?: unknown;
}

interface ParsedBar {
  t: number;
  p: PriceBar;
}

interface WindowResult {
  bars: ParsedBar[];
  /** A forming bar was met: nothing later is final. */
  forming: boolean;
  /** The page cursor stopped advancing. */
  stalled: boolean;
  error?: unknown;
}

interface WindowJob {
  client: CapitalComClient;
  path: string;
  resolution: string;
  period: number;
  pageSize: number;
  /** Bars a window may cover; halved when the venue refuses the range. */
  span: number;
  /** How far short of now windows end. */
  horizon: number;
  signal: AbortSignal | undefined;
}

function toBatch(bars: readonly ParsedBar[], withExtra: boolean): CandleBatch {
  const n = bars.length;
  const b = allocBatch(n);
  const extra: CandleExtra[] | undefined = withExtra ? new Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const { t, p } = bars[i]!;
    const bc = num(p.closePrice?.bid);
    b.time[i] = t;
    b.open[i] = num(p.openPrice?.bid);
    b.high[i] = num(p.highPrice?.bid);
    b.low[i] = num(p.lowPrice?.bid);
    b.close[i] = bc;
    b.volume[i] = num(p.lastTradedVolume);
    if (extra) {
      const ac = num(p.closePrice?.ask);
      extra[i] = {
        ask_open: num(p.openPrice?.ask),
        ask_high: num(p.highPrice?.ask),
        ask_low: num(p.lowPrice?.ask),
        ask_close: ac,
        spread: diff(ac, bc),
      };
    }
  }
  return extra ? { ...b, extra } : b;
}

/** What the candles need from the provider. */
export interface CandlesContext {
  /**
   * The time that decides which bars are final and where windows may end
   * (the provider's clock, or the venue's when that is behind).
   */
  readonly venueNow: (client: CapitalComClient) => number;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** The market a download's candles come from. */
export interface CandlesMarket {
  /** The session client of the market's credentials. */
  readonly client: CapitalComClient;
  /** The market's epic (normalized). */
  readonly epic: string;
  /** The timeframe. */
  readonly tf: Timeframe;
  /** Its Capital.com resolution. */
  readonly resolution: string;
}

/**
 * Closed candles (bid side) of the request's range, in order, one batch per
 * window of up to `pageSize` (default 1000) bars; `concurrency` windows
 * (default 3) are fetched at once, all through the shared rate limiter.
 * With `extraData`, each candle carries `ask_open`, `ask_high`, `ask_low`,
 * `ask_close` and `spread` (ask close - bid close).
 */
export async function* capitalComCandles(
  request: CandleRequest,
  market: CandlesMarket,
  context: CandlesContext,
): AsyncGenerator<CandleBatch> {
  const { client, epic, tf, resolution } = market;
  const pageSize = Math.max(
    1,
    Math.min(MAX_PAGE, Math.floor(request.pageSize ?? MAX_PAGE)),
  );
  const concurrency = Math.max(
    1,
    Math.min(8, Math.floor(request.concurrency ?? DEFAULT_CONCURRENCY)),
  );
  const after = request.resumeAfter ?? -Infinity;
  const end = request.to; // exclusive
  const job: WindowJob = {
    client,
    path: `/api/v1/prices/${encodeURIComponent(epic)}`,
    resolution,
    period: tf.ms,
    pageSize,
    span: pageSize,
    horizon: MINUTE,
    signal: undefined,
  };
  // Bars open on whole minutes: windows are whole minutes and cover the
  // range without gaps (no assumption about where a resolution's bars sit).
  let cursor = Math.ceil(Math.max(request.from, after + 1) / MINUTE) * MINUTE;
  const next = (): [number, number] | undefined => {
    // `to` is inclusive and must not lie in the venue's future: windows end
    // short of now (only forming bars start later).
    const lastMinute = Math.min(
      Math.ceil(end / MINUTE) * MINUTE - MINUTE,
      Math.floor(context.venueNow(client) / MINUTE) * MINUTE - job.horizon,
    );
    if (cursor > lastMinute) return undefined;
    const w: [number, number] = [
      cursor,
      Math.min(cursor + (job.span - 1) * job.period, lastMinute),
    ];
    cursor = w[1] + MINUTE;
    return w;
  };
  const stop = new AbortController();
  job.signal = request.signal
    ? AbortSignal.any([request.signal, stop.signal])
    : stop.signal;
  const queue: Promise<WindowResult>[] = [];
  let last = -Infinity;
  try {
    for (;;) {
      request.signal?.throwIfAborted();
      while (queue.length < concurrency) {
        const w = next();
        if (!w) break;
        queue.push(
          fetchWindow(job, w[0], w[1], context).catch((error) => ({
            bars: [],
            forming: false,
            stalled: false,
            error,
          })),
        );
      }
      const r = await queue.shift();
      if (!r) break;
      if (r.error !== undefined) throw unknownEpic(r.error, epic);
      r.bars.sort((a, b) => a.t - b.t); // ascending, whatever the venue sent
      const bars: ParsedBar[] = [];
      for (const p of r.bars) {
        // In range, and each time once (pages may overlap or repeat bars).
        if (p.t >= request.from && p.t < end && p.t > after && p.t > last) {
          bars.push(p);
          last = p.t;
        }
      }
      if (bars.length > 0) yield toBatch(bars, request.extraData === true);
      if (r.forming || r.stalled) break;
    }
  } finally {
    stop.abort();
    await Promise.allSettled(queue);
  }
}

/**
 * Fetches the bars of one window `[from, to]` (inclusive, whole minutes),
 * splitting it when the venue refuses its length or cuts a page short.
 */
async function fetchWindow(
  job: WindowJob,
  from: number,
  to: number,
  context: CandlesContext,
): Promise<WindowResult> {
  const bars: ParsedBar[] = [];
  const { period, path } = job;
  let span = job.span;
  let c = from;
  while (c <= to) {
    const e = Math.min(c + (span - 1) * period, to);
    let body: { prices?: unknown };
    try {
      body = await job.client.request("GET", path, {
        resolution: job.resolution,
        max: job.pageSize,
        from: capitalComTime(c),
        to: capitalComTime(e),
      }, job.signal) as { prices?: unknown };
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      if (err.code === "error.prices.not-found") {
        // No bars in this part (weekend, holiday, closed session): step over it.
        c = e + MINUTE;
        continue;
      }
      if (err.code === "error.invalid.max.daterange" && span > 1) {
        span = Math.max(1, Math.floor(span / 2));
        if (span < job.span) {
          job.span = span;
          context.log(
            `Capital.com refused the date range; narrowing windows to ${span} bars`,
          );
        }
        continue;
      }
      const now = context.venueNow(job.client);
      if (
        err.code === "error.invalid.daterange" && e >= now - SKEW_HORIZON
      ) {
        // A window ending near now was refused as lying in the future: this
        // computer's clock is ahead of the venue's. End windows before the
        // venue's now (known from its Date header), or, without that,
        // further back; skipped minutes come with the next top-up.
        const known = job.client.venueNow() !== undefined;
        const limit = Math.floor(now / MINUTE) * MINUTE -
          (known ? MINUTE : SKEW_HORIZON);
        if (!known && job.horizon < SKEW_HORIZON) {
          job.horizon = SKEW_HORIZON;
          context.log(
            `Capital.com refused a window ending at ${
              capitalComTime(e)
            } as in the future (is this computer's clock ahead?); ending windows ${
              SKEW_HORIZON / MINUTE
            } minutes before now`,
          );
        }
        if (limit < to) {
          to = limit;
          continue;
        }
      }
      throw err;
    }
    const prices = Array.isArray(body?.prices) ? body.prices as PriceBar[] : [];
    const now = context.venueNow(job.client);
    let lastSeen = -Infinity;
    for (const p of prices) {
      const t = parseCapitalComTime(p?.snapshotTimeUTC);
      if (!Number.isFinite(t)) {
        throw new ProviderError(
          `Capital.com ${path} returned a bar with an unreadable snapshotTimeUTC ${
            JSON.stringify(p?.snapshotTimeUTC)
          }`,
          { code: "bad.response" },
        );
      }
      lastSeen = Math.max(lastSeen, t);
      if (t + period > now) {
        // Still forming: dropped, and nothing after it is final.
        return { bars, forming: true, stalled: false };
      }
      bars.push({ t, p });
    }
    // A full page may have been cut short by `max`: continue after its last bar.
    const nextFrom = prices.length >= job.pageSize && lastSeen < e
      ? Math.floor(lastSeen / MINUTE) * MINUTE + MINUTE
      : e + MINUTE;
    if (nextFrom <= c) {
      context.log(
        `Capital.com ${path}: the page cursor stopped at ${
          capitalComTime(c)
        }; ending the download`,
      );
      return { bars, forming: false, stalled: true };
    }
    c = nextFrom;
  }
  return { bars, forming: false, stalled: false };
}
