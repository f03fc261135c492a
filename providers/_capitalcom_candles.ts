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
  type CoverageClaim,
} from "../format/candle_batch.ts";
import { periodStart, type Timeframe } from "../format/timeframe.ts";
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
export const MAX_PAGE = 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
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
  /** The window's first minute (its claim starts there). */
  start: number;
  bars: ParsedBar[];
  /**
   * End (exclusive) of what the window's answers proved: every bar before it
   * is in `bars` (the window's end, or where a forming bar or a failure
   * stopped it).
   */
  verifiedTo: number;
  /** A forming bar was met: nothing later is final. */
  forming: boolean;
  /** Why the window stopped early (its `bars` before `verifiedTo` still hold). */
  error?: unknown;
}

interface WindowJob {
  client: CapitalComClient;
  path: string;
  resolution: string;
  period: number;
  /**
   * Least time between two bars: a period (intraday bars sit on a fixed
   * grid), less an hour for daily and weekly bars (a daylight saving time
   * change moves a session-anchored bar by an hour).
   */
  minGap: number;
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

/** The page size (bars per window) and windows in flight of a request. */
export function pagingOf(
  request: Pick<CandleRequest, "pageSize" | "concurrency">,
): { pageSize: number; concurrency: number } {
  return {
    pageSize: Math.max(
      1,
      Math.min(MAX_PAGE, Math.floor(request.pageSize ?? MAX_PAGE)),
    ),
    concurrency: Math.max(
      1,
      Math.min(8, Math.floor(request.concurrency ?? DEFAULT_CONCURRENCY)),
    ),
  };
}

/**
 * The first window's first minute: the timeframe's grid time at the start
 * (after `after`, the resume point). Bars open on whole minutes, so windows
 * are whole minutes and cover the range without gaps.
 */
export function firstWindowMinute(
  tf: Timeframe,
  from: number,
  after: number,
): number {
  return Math.ceil(periodStart(tf, Math.max(from, after + 1)) / MINUTE) *
    MINUTE;
}

/**
 * The last minute a window may hold: `to` is exclusive (a window's end is
 * inclusive) and windows end `horizon` short of the venue's `now` (only
 * forming bars start later).
 */
export function lastWindowMinute(
  to: number,
  now: number,
  horizon: number,
): number {
  return Math.min(
    Math.ceil(to / MINUTE) * MINUTE - MINUTE,
    Math.floor(now / MINUTE) * MINUTE - horizon,
  );
}

/** The window of `span` bars of `period` ms from `cursor`, cut at `last`. */
export function windowAt(
  cursor: number,
  span: number,
  period: number,
  last: number,
): [number, number] {
  return [cursor, Math.min(cursor + (span - 1) * period, last)];
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
  const { pageSize, concurrency } = pagingOf(request);
  const after = request.resumeAfter ?? -Infinity;
  const end = request.to; // exclusive
  const job: WindowJob = {
    client,
    path: `/api/v1/prices/${encodeURIComponent(epic)}`,
    resolution,
    period: tf.ms,
    minGap: tf.ms > 4 * HOUR ? tf.ms - HOUR : tf.ms,
    pageSize,
    span: pageSize,
    horizon: MINUTE,
    signal: undefined,
  };
  // Bars open on whole minutes: windows are whole minutes and cover the
  // range without gaps (no assumption about where a resolution's bars sit).
  // The first window starts on the timeframe's grid (bars before `from` or
  // at `resumeAfter` are dropped below), so windows end just before a grid
  // time and the next one does not begin with a head where no bar can be.
  let cursor = firstWindowMinute(tf, request.from, after);
  const next = (): [number, number] | undefined => {
    const last = lastWindowMinute(end, context.venueNow(client), job.horizon);
    if (cursor > last) return undefined;
    const w = windowAt(cursor, job.span, job.period, last);
    cursor = w[1] + MINUTE;
    return w;
  };
  const stop = new AbortController();
  job.signal = request.signal
    ? AbortSignal.any([request.signal, stop.signal])
    : stop.signal;
  const queue: Promise<WindowResult>[] = [];
  let last = -Infinity;
  let first = true;
  // The last window with bars, held back until the next one with bars: the
  // claims of empty windows in between are added to it, so an empty window
  // needs no batch of its own.
  let held: CandleBatch | undefined;
  let claims: CoverageClaim[] = [];
  const release = (): CandleBatch | undefined => {
    if (held === undefined && claims.length === 0) return undefined;
    const out: CandleBatch = {
      ...(held ?? toBatch([], false)),
      ...(claims.length > 0 ? { coverage: claims } : {}),
    };
    held = undefined;
    claims = [];
    return out;
  };
  try {
    for (;;) {
      request.signal?.throwIfAborted();
      while (queue.length < concurrency) {
        const w = next();
        if (!w) break;
        queue.push(fetchWindow(job, epic, w[0], w[1], context));
      }
      const r = await queue.shift();
      if (!r) break;
      r.bars.sort((a, b) => a.t - b.t); // ascending, whatever the venue sent
      const bars: ParsedBar[] = [];
      for (const p of r.bars) {
        // In range, proved, and each time once (pages may overlap or repeat bars).
        if (
          p.t >= request.from && p.t < end && p.t > after && p.t > last &&
          p.t < r.verifiedTo
        ) {
          bars.push(p);
          last = p.t;
        }
      }
      if (bars.length > 0 && held !== undefined) {
        const out = release();
        if (out) yield out;
      }
      if (bars.length > 0) held = toBatch(bars, request.extraData === true);
      // Each window claims what its answers proved, an empty one too (the
      // venue answered that it has no bar there); the first from the
      // request's start (no bar opens between it and the window's start).
      const from = first ? request.from : r.start;
      const to = Math.min(end, r.verifiedTo);
      first = false;
      if (to > from) addClaim(claims, from, to);
      if (r.error !== undefined) {
        const out = release();
        if (out) yield out;
        throw unknownEpic(r.error, epic);
      }
      if (r.forming) break;
    }
    const out = release();
    if (out) yield out;
  } finally {
    stop.abort();
    await Promise.allSettled(queue);
  }
}

/** Adds a `"fetched"` claim of `[from, to)`, joining it to the last one when they touch. */
function addClaim(claims: CoverageClaim[], from: number, to: number): void {
  const prev = claims[claims.length - 1];
  if (prev !== undefined && prev.to === from) {
    claims[claims.length - 1] = { ...prev, to };
  } else claims.push({ from, to, state: "fetched" });
}

/**
 * Fetches the bars of one window `[from, to]` (inclusive, whole minutes).
 * Never concludes from a page's length: a page proves the range asked for
 * only from its first bar to its last, so the window goes on with the parts
 * not yet proved — after the last bar (a venue that answers the oldest bars
 * of a range cut short) and before the first (one that answers the newest) —
 * until each part is answered empty (`error.prices.not-found` or no bars).
 * Splits its requests when the venue refuses their length. A failure is
 * returned with the bars proved before it; an answer that holds no bar of
 * the range asked for (the cursor cannot advance) is a `ProviderError`.
 */
async function fetchWindow(
  job: WindowJob,
  epic: string,
  from: number,
  to: number,
  context: CandlesContext,
): Promise<WindowResult> {
  const bars: ParsedBar[] = [];
  const seen = new Set<number>();
  const { period, path } = job;
  let span = job.span;
  // The last minute still wanted: lowered by a forming bar or a refused `to`.
  let limit = to;
  let forming = false;
  // Sub-ranges still to prove, taken from the end: always the earliest one,
  // so everything before the one under way is proved.
  const pending: Array<[number, number]> = [[from, to]];
  const result = (verifiedTo: number, error?: unknown): WindowResult => ({
    start: from,
    bars,
    verifiedTo,
    forming,
    ...(error !== undefined ? { error } : {}),
  });
  while (pending.length > 0) {
    const [a, b0] = pending.pop()!;
    const b = Math.min(b0, limit);
    if (a > b) continue;
    const e = Math.min(a + (span - 1) * period, b);
    let body: { prices?: unknown };
    try {
      body = await job.client.request("GET", path, {
        resolution: job.resolution,
        max: job.pageSize,
        from: capitalComTime(a),
        to: capitalComTime(e),
      }, job.signal) as { prices?: unknown };
    } catch (err) {
      if (!(err instanceof ProviderError)) return result(a, err);
      if (err.code === "error.prices.not-found") {
        // No bars here (weekend, holiday, closed session): proved empty.
        if (e < b) pending.push([e + MINUTE, b]);
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
        pending.push([a, b]);
        continue;
      }
      const skewLimit = skewedEnd(job, err, e, context);
      if (skewLimit !== undefined && skewLimit < e) {
        limit = skewLimit;
        pending.push([a, b]);
        continue;
      }
      return result(a, err);
    }
    const prices = Array.isArray(body?.prices) ? body.prices as PriceBar[] : [];
    const now = context.venueNow(job.client);
    let lo = Infinity;
    let hi = -Infinity;
    let fresh = 0;
    for (const p of prices) {
      const t = parseCapitalComTime(p?.snapshotTimeUTC);
      if (!Number.isFinite(t)) {
        return result(
          a,
          new ProviderError(
            `Capital.com ${path} returned a bar with an unreadable snapshotTimeUTC ${
              JSON.stringify(p?.snapshotTimeUTC)
            }`,
            { code: "bad.response" },
          ),
        );
      }
      // Bars outside the range asked for prove nothing about it.
      if (t < a || t > e) continue;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
      if (t + period > now) {
        // Still forming: dropped, and nothing from it on is final.
        forming = true;
        limit = Math.min(limit, t - MINUTE);
        fresh++;
        continue;
      }
      if (!seen.has(t)) {
        seen.add(t);
        bars.push({ t, p });
        fresh++;
      }
    }
    if (prices.length === 0) {
      if (e < b) pending.push([e + MINUTE, b]); // answered empty
      continue;
    }
    if (fresh === 0) {
      return result(
        a,
        new ProviderError(
          `Capital.com ${epic} (${job.resolution}): the page cursor stopped at ${
            capitalComTime(a)
          } UTC: the answer for ${capitalComTime(a)}..${
            capitalComTime(e)
          } holds no new bar of that range (${prices.length} bars outside it or already seen); the bars from ${
            capitalComTime(a)
          } on were not downloaded`,
          { code: "stalled.cursor" },
        ),
      );
    }
    // Proved: [lo, hi]. Still to prove: after it, then (first) before it —
    // each only when a bar fits there (bars are `minGap` apart at least).
    if (hi + job.minGap <= b) {
      pending.push([Math.floor(hi / MINUTE) * MINUTE + MINUTE, b]);
    }
    if (lo - job.minGap >= a) {
      pending.push([a, Math.ceil(lo / MINUTE) * MINUTE - MINUTE]);
    }
  }
  return result(limit + MINUTE);
}

/**
 * When a window ending near now was refused as lying in the future (this
 * computer's clock is ahead of the venue's), the last minute windows may end
 * at: before the venue's now (known from its `Date` header), or, without
 * that, further back; skipped minutes come with the next top-up. Undefined
 * for any other error.
 */
function skewedEnd(
  job: WindowJob,
  err: ProviderError,
  e: number,
  context: CandlesContext,
): number | undefined {
  const now = context.venueNow(job.client);
  if (err.code !== "error.invalid.daterange" || e < now - SKEW_HORIZON) {
    return undefined;
  }
  const known = job.client.venueNow() !== undefined;
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
  return Math.floor(now / MINUTE) * MINUTE - (known ? MINUTE : SKEW_HORIZON);
}
