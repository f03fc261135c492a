/**
 * Concurrent, gap-safe paging of a time range into fixed windows, independent
 * of ccxt: the provider supplies a page fetcher (with retries) and gets
 * ordered, sequence-numbered batches back. Private to the ccxt provider.
 *
 * How it never skips or repeats data:
 * - The range `[from, to)` (aligned up to the timeframe's grid) is cut into
 *   windows of `pageSize` periods: window k starts `k * pageSize` periods
 *   after the first. Windows partition the range, so each candle belongs to
 *   exactly one window, and windows are fetched concurrently.
 * - A window is asked for with `since` = its start, `until` = its end - 1 and
 *   `limit` = the periods it holds, so a venue returning oldest-first or
 *   newest-first pages answers it whole.
 * - If the venue answers fewer candles (its cap is below the window, or
 *   gaps), the window continues with the sub-ranges not yet covered: from the
 *   last candle + one period to the window end, and from the window start to
 *   the first candle. An empty answer ends a sub-range (a gap, stepped over).
 * - Candles outside the window or still forming (`now`) are dropped;
 *   duplicates inside a window are removed. Candles off the timeframe's grid
 *   are passed on (and reported): the pipeline's validation decides about
 *   them, and says so clearly when a venue aligns all its candles differently.
 * - Windows are emitted in order with consecutive `seq` numbers, each with
 *   a `"fetched"` coverage claim for its span (an empty window too: the venue
 *   answered that it holds nothing there), so a consumer that stops or fails
 *   midway holds a gap-free prefix, knows how far it reaches, and can resume.
 *   A long empty lead skipped by range probes is claimed `"not-served"`,
 *   in the first window's batch (before its own claim).
 * - With `rangeProbes` (a venue that answers `since`..`until` as a range), a
 *   long empty lead — a `from` years before the market was listed — is
 *   skipped with a few range probes ({@linkcode skipEmptyLead}) instead of
 *   one empty request per window.
 * - With `historyLimit` (a venue that serves only its latest N periods,
 *   whatever `since` asks: Kraken's 720), the part of the range older than
 *   the oldest period served ({@linkcode oldestServed}: N - 1 periods before
 *   the forming one) is claimed `"not-served"` with
 *   {@linkcode PagingPlan.historyReason} without a single request, and paging
 *   starts there: a `from` years back costs nothing and cannot loop.
 *
 * @module
 */

import {
  batchFromRows,
  type CandleBatch,
  type CoverageClaim,
} from "../format/candle_batch.ts";
import {
  nextPeriodStart,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { ProviderError } from "./provider.ts";

/** A row as ccxt returns it: `[time, open, high, low, close, volume]`. */
export type OhlcvRow = readonly (number | null | undefined)[];

/**
 * Fetches one page: candles with open time `>= since` and `<= until`, at most
 * `limit`. May return candles outside the bounds; they are dropped.
 */
export type PageFetcher = (
  since: number,
  until: number,
  limit: number,
  signal: AbortSignal,
) => Promise<readonly OhlcvRow[]>;

/** What to page. */
export interface PagingPlan {
  /** Timeframe. */
  readonly timeframe: Timeframe;
  /** First open time wanted, inclusive, ms. */
  readonly from: number;
  /** End, exclusive, ms. */
  readonly to: number;
  /** Candles per request (window size in periods). */
  readonly pageSize: number;
  /** Windows fetched at once. */
  readonly concurrency: number;
  /** Server (or local) time: candles whose period ends after it are forming and dropped. */
  readonly now: number;
  /** Fetches a page. */
  readonly fetch: PageFetcher;
  /** Told of each candle that does not open on the timeframe's UTC grid (passed on all the same). */
  readonly onOffGrid?: ((time: number) => void) | undefined;
  /** Aborts the paging. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The venue answers `since`..`until` as a range (all of it, or its oldest
   * or newest `limit` candles), so an empty answer proves the whole range
   * empty: a long empty lead is then skipped with {@linkcode skipEmptyLead}.
   * @default {false}
   */
  readonly rangeProbes?: boolean | undefined;
  /**
   * The venue serves only its latest `historyLimit` periods (the forming one
   * included), whatever `since` asks: older parts of the range are claimed
   * `"not-served"` and not requested. @default {the full history}
   */
  readonly historyLimit?: number | undefined;
  /**
   * The reason of the `"not-served"` claim of `historyLimit`.
   * @default {"the venue serves only its latest <historyLimit> candles"}
   */
  readonly historyReason?: string | undefined;
}

/**
 * The open time of the oldest candle a venue serving only its latest
 * `historyLimit` periods (the forming one included) serves at `now`.
 */
export function oldestServed(
  tf: Timeframe,
  now: number,
  historyLimit: number,
): number {
  return advancePeriods(tf, periodStart(tf, now), -(historyLimit - 1));
}

/** Open time `n` periods after `t` (which is on the grid). */
export function advancePeriods(tf: Timeframe, t: number, n: number): number {
  if (!tf.calendar) return t + n * tf.ms;
  const d = new Date(t);
  return Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() + n * tf.value,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** Number of grid periods opening in `[a, b)`, `a` on the grid. */
export function periodsBetween(tf: Timeframe, a: number, b: number): number {
  if (b <= a) return 0;
  if (!tf.calendar) return Math.ceil((b - a) / tf.ms);
  let n = 0;
  for (let t = a; t < b; t = nextPeriodStart(tf, t)) n++;
  return n;
}

/** The first grid time at or after `t`. */
export function alignUp(tf: Timeframe, t: number): number {
  const s = periodStart(tf, t);
  return s < t ? nextPeriodStart(tf, s) : s;
}

/** The windows `[start, end)` of a plan, in order. */
export function planWindows(
  tf: Timeframe,
  from: number,
  to: number,
  pageSize: number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const start = alignUp(tf, from);
  for (let k = 0;; k++) {
    const a = advancePeriods(tf, start, k * pageSize);
    if (a >= to) break;
    const b = Math.min(to, advancePeriods(tf, start, (k + 1) * pageSize));
    out.push([a, b]);
  }
  return out;
}

/** Times a window is fetched again after its answers contradicted each other. */
const WINDOW_ATTEMPTS = 3;

/**
 * Answers a window cannot be built on: candles before the time asked for
 * (a venue sending seconds for milliseconds, or another range than asked),
 * or two different candles for one time. The window is fetched again, and
 * fails with this error when the venue keeps answering so.
 */
export class InconsistentAnswerError extends ProviderError {
  /** Start of the window (or probe) the answers were for, Unix ms, once known. */
  from: number | undefined;

  /** Creates the error. */
  constructor(message: string, from?: number) {
    super(message, { code: "inconsistent.answer" });
    this.name = "InconsistentAnswerError";
    this.from = from;
  }
}

const iso = (t: number) =>
  Number.isFinite(t) ? new Date(t).toISOString() : String(t);

/** The error for an answer holding a candle at `t` before the asked start `a`. */
function earlyCandle(t: unknown, a: number): InconsistentAnswerError {
  const n = typeof t === "number" ? t : NaN;
  const seconds = Number.isFinite(n) && n > 0 && n * 1000 >= a - 86_400_000 &&
    n < 1e11;
  return new InconsistentAnswerError(
    `The venue answered a request for candles from ${iso(a)} with a candle at ${
      typeof t === "number" ? iso(n) : JSON.stringify(t)
    }${
      seconds ? " (its times look like seconds, not milliseconds)" : ""
    }: such an answer proves nothing about the range, so it was not used`,
  );
}

/** True when two rows of one time differ in a price or the volume. */
function differ(x: OhlcvRow, y: OhlcvRow): boolean {
  for (let i = 1; i <= 5; i++) {
    const u = x[i];
    const v = y[i];
    if (u !== v && !(Number.isNaN(u) && Number.isNaN(v))) return true;
  }
  return false;
}

/** Fetches one window completely (see the module doc). */
export async function fetchWindow(
  tf: Timeframe,
  windowStart: number,
  windowEnd: number,
  pageSize: number,
  now: number,
  fetch: PageFetcher,
  signal: AbortSignal,
  onOffGrid?: (time: number) => void,
  prefetched?: readonly OhlcvRow[],
): Promise<CandleBatch> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fetchWindowOnce(
        tf,
        windowStart,
        windowEnd,
        pageSize,
        now,
        fetch,
        signal,
        onOffGrid,
        attempt === 1 ? prefetched : undefined,
      );
    } catch (e) {
      if (!(e instanceof InconsistentAnswerError)) throw e;
      if (attempt >= WINDOW_ATTEMPTS) {
        e.from ??= windowStart;
        throw e;
      }
    }
  }
}

async function fetchWindowOnce(
  tf: Timeframe,
  windowStart: number,
  windowEnd: number,
  pageSize: number,
  now: number,
  fetch: PageFetcher,
  signal: AbortSignal,
  onOffGrid: ((time: number) => void) | undefined,
  prefetched: readonly OhlcvRow[] | undefined,
): Promise<CandleBatch> {
  const byTime = new Map<number, OhlcvRow>();
  const pending: Array<[number, number]> = [[windowStart, windowEnd]];
  let answer = prefetched; // the answer to the first request, when known
  while (pending.length > 0) {
    const [a, b] = pending.pop()!;
    const limit = Math.min(pageSize, periodsBetween(tf, a, b));
    if (limit <= 0) continue;
    signal.throwIfAborted();
    const rows = answer ?? await fetch(a, b - 1, limit, signal);
    answer = undefined;
    let first = Infinity;
    let last = -Infinity;
    for (const row of rows) {
      const t = row[0];
      // Later candles are answers beyond the range (Kraken sends all after
      // `since`); an earlier one or no time at all is a wrong answer.
      if (typeof t !== "number" || t < a) throw earlyCandle(t, a);
      if (t >= b) continue;
      const seen = byTime.get(t);
      if (seen === undefined) byTime.set(t, row);
      else if (differ(seen, row)) {
        throw new InconsistentAnswerError(
          `The venue answered two different candles for ${
            iso(t)
          }: which one is right is unknown, so neither was used`,
        );
      }
      if (t < first) first = t;
      if (t > last) last = t;
    }
    if (last === -Infinity) continue; // empty: a gap, stepped over
    // Both sub-ranges exclude the candles seen (even off-grid ones), so
    // every step shrinks the range and the loop ends.
    const after = alignUp(tf, last + 1);
    if (after < b) pending.push([after, b]);
    if (first > a) pending.push([a, periodStart(tf, first)]);
  }
  const times = [...byTime.keys()].sort((x, y) => x - y);
  const rows: OhlcvRow[] = [];
  for (const t of times) {
    if (nextPeriodStart(tf, t) > now) continue; // forming
    if (periodStart(tf, t) !== t) onOffGrid?.(t); // passed on, reported
    rows.push(byTime.get(t)!);
  }
  return batchFromRows(rows);
}

/**
 * The first grid time at or after `from` before which `[from, to)` holds no
 * candle (`to` when it holds none; with the first page's answer when the
 * range starts with candles, so no request is wasted), found with range
 * requests: probes that
 * double in length from one page (`[a, a + pageSize)`, then 2, 4, 8 ...
 * pages) until one holds a candle, then bisection down to one page. About
 * `2 * log2(empty pages)` requests instead of one per empty page. Only for
 * venues that answer `since`..`until` as a range (see
 * {@linkcode PagingPlan.rangeProbes}).
 */
export async function skipEmptyLead(
  tf: Timeframe,
  from: number,
  to: number,
  pageSize: number,
  fetch: PageFetcher,
  signal: AbortSignal,
): Promise<LeadProbe> {
  let firstAnswer: readonly OhlcvRow[] | undefined;
  const firstIn = async (a: number, b: number): Promise<number | undefined> => {
    signal.throwIfAborted();
    const limit = Math.min(pageSize, periodsBetween(tf, a, b));
    for (let attempt = 1;; attempt++) {
      const rows = await fetch(a, b - 1, limit, signal);
      let first: number | undefined;
      let early: { t: unknown } | undefined;
      for (const row of rows) {
        const t = row[0];
        if (typeof t !== "number" || t < a) {
          early ??= { t };
          continue;
        }
        if (t >= b) continue;
        if (first === undefined || t < first) first = t;
      }
      if (early !== undefined) {
        // A wrong answer proves nothing: ask again, then give up.
        if (attempt >= WINDOW_ATTEMPTS) {
          const e = earlyCandle(early.t, a);
          e.from = a;
          throw e;
        }
        continue;
      }
      firstAnswer ??= rows;
      return first;
    }
  };
  const start = alignUp(tf, from);
  let a = start;
  let span = pageSize;
  let hi: number | undefined;
  while (a < to) {
    const b = Math.min(to, advancePeriods(tf, a, span));
    hi = await firstIn(a, b);
    if (hi !== undefined) break;
    a = b;
    span *= 2;
  }
  if (hi === undefined) return { start: to };
  // The very first probe holds a candle: it is the first page's answer.
  if (a === start) return { start, firstPage: firstAnswer! };
  // Nothing before `a`; a candle at `hi`: bisect until they are a page apart.
  for (let n = periodsBetween(tf, a, hi); n > pageSize;) {
    const mid = advancePeriods(tf, a, Math.floor(n / 2));
    const found = await firstIn(a, mid);
    if (found === undefined) a = mid;
    else hi = found;
    n = periodsBetween(tf, a, hi);
  }
  return { start: a };
}

/** What {@linkcode skipEmptyLead} found. */
export interface LeadProbe {
  /** The first grid time before which the range holds no candle (`to` when none). */
  readonly start: number;
  /** The answer for the first page (`[start, start + pageSize)`) when the first probe was it. */
  readonly firstPage?: readonly OhlcvRow[];
}

/**
 * Pages a plan: fetches windows concurrently (at most `concurrency` at once,
 * at most `4 * concurrency` ahead of the consumer) and yields non-empty
 * windows in order with consecutive `seq` numbers from 0.
 */
export async function* pageCandles(
  plan: PagingPlan,
): AsyncGenerator<CandleBatch> {
  const tf = plan.timeframe;
  const to = Math.min(plan.to, periodStart(tf, plan.now));
  let windows = planWindows(tf, plan.from, to, plan.pageSize);
  if (windows.length === 0) return;
  // Each window claims what its answers proved: the first from the plan's
  // start (which may lie between grid times), the last to its end.
  const claimFrom = (i: number) => i === 0 ? plan.from : windows[i]![0];
  // Claims of a lead not requested: beyond the venue's history, before the
  // market's first candle. The first window then claims from its start.
  const leadClaims: CoverageClaim[] = [];
  let start = plan.from;
  if (plan.historyLimit !== undefined) {
    const cut = Math.min(
      to,
      oldestServed(tf, plan.now, Math.max(1, plan.historyLimit)),
    );
    if (plan.from < cut) {
      leadClaims.push({
        from: plan.from,
        to: cut,
        state: "not-served",
        reason: plan.historyReason ??
          `the venue serves only its latest ${plan.historyLimit} candles`,
      });
      start = cut;
      windows = planWindows(tf, cut, to, plan.pageSize);
      if (windows.length === 0) {
        yield { ...batchFromRows([]), seq: 0, coverage: leadClaims };
        return;
      }
    }
  }
  const inner = new AbortController();
  const done = new Map<number, CandleBatch>();
  let nextIndex = 0;
  let emitIndex = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const workerWake: Array<() => void> = [];
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => {
    inner.abort(plan.signal!.reason);
    for (const r of workerWake.splice(0)) r();
    notify();
  };
  plan.signal?.addEventListener("abort", onAbort, { once: true });
  if (plan.signal?.aborted) inner.abort(plan.signal.reason);

  // A long range may start long before the market's first candle: skip the
  // empty lead with a few range probes (a short range is one round anyway).
  let firstPage: readonly OhlcvRow[] | undefined;
  if (plan.rangeProbes && windows.length > plan.concurrency) {
    try {
      const probe = await skipEmptyLead(
        tf,
        start,
        to,
        plan.pageSize,
        plan.fetch,
        inner.signal,
      );
      firstPage = probe.firstPage;
      if (probe.start > windows[0]![0]) {
        // No candle before the first one: the venue does not serve that lead
        // (the market was not listed yet).
        leadClaims.push({
          from: start,
          to: probe.start,
          state: "not-served",
          reason: "no candles before the market's first one",
        });
        windows = planWindows(tf, probe.start, to, plan.pageSize);
      }
    } catch (e) {
      plan.signal?.removeEventListener("abort", onAbort);
      throw plan.signal?.aborted ? plan.signal.reason : e;
    }
    if (windows.length === 0) {
      plan.signal?.removeEventListener("abort", onAbort);
      if (leadClaims.length > 0) {
        yield { ...batchFromRows([]), seq: 0, coverage: leadClaims };
      }
      return;
    }
  }
  const concurrency = Math.max(1, Math.min(plan.concurrency, windows.length));
  const ahead = concurrency * 4;

  const worker = async () => {
    while (!inner.signal.aborted && failure === undefined) {
      if (nextIndex >= windows.length) return;
      if (nextIndex - emitIndex >= ahead) {
        await new Promise<void>((r) => workerWake.push(r));
        continue;
      }
      const i = nextIndex++;
      const [a, b] = windows[i]!;
      try {
        const batch = await fetchWindow(
          tf,
          a,
          b,
          plan.pageSize,
          plan.now,
          plan.fetch,
          inner.signal,
          plan.onOffGrid,
          i === 0 ? firstPage : undefined,
        );
        done.set(i, batch);
      } catch (error) {
        if (failure === undefined) failure = { error };
        inner.abort(error);
      }
      notify();
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < concurrency; w++) workers.push(worker());

  let seq = 0;
  try {
    // The lead's claims travel with the first window's candles (a batch of
    // claims only is for a range without any window).
    const lead = leadClaims.length > 0;
    while (emitIndex < windows.length) {
      const batch = done.get(emitIndex);
      if (batch !== undefined) {
        const i = emitIndex;
        done.delete(emitIndex);
        emitIndex++;
        for (const r of workerWake.splice(0)) r();
        // Every window is emitted, an empty one too: its claim says the
        // venue answered that it holds nothing there.
        const from = lead && i === 0 ? windows[0]![0] : claimFrom(i);
        const fetched: CoverageClaim = {
          from,
          to: windows[i]![1],
          state: "fetched",
        };
        yield {
          ...batch,
          seq: seq++,
          coverage: lead && i === 0 ? [...leadClaims, fetched] : [fetched],
        };
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (plan.signal?.aborted) throw plan.signal.reason;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    plan.signal?.removeEventListener("abort", onAbort);
    if (!inner.signal.aborted) inner.abort(new Error("paging stopped"));
    for (const r of workerWake.splice(0)) r();
  }
  await Promise.all(workers);
}
