/**
 * `downloadPlan()`: what `download()` would do, worked out before any candle
 * request — how the file would be used, the ranges to fetch, the requests
 * and their cost against the venue's budget, and estimates of the time and
 * the bytes. Writes nothing.
 *
 * ```ts
 * import { downloadPlan } from "@pyne/data/pipeline";
 * import { MemoryProvider } from "@pyne/data/testing";
 *
 * await using provider = new MemoryProvider();
 * const plan = await downloadPlan(provider, "BTCUSDT", {
 *   timeframe: "60",
 *   from: "2025-01-01",
 *   to: "2025-02-01",
 *   dataDir: "./data",
 * });
 * console.log(plan.requests.candles, plan.estimatedMs);
 * ```
 *
 * @module
 */

import { STANDARD_HEADER_SIZE } from "../format/_header.ts";
import { nextPeriodStart, type Timeframe } from "../format/timeframe.ts";
import type {
  CandlePlan,
  CandleRequest,
  PlannedSkip,
  Provider,
  RequestBudget,
} from "../providers/provider.ts";
import {
  type DownloadPlan,
  type ExistingFile,
  firstOnGrid,
  planDownload,
  readExistingFile,
  resolveDownloadRequest,
} from "./_download_plan.ts";
import { segmentStart } from "./_download_segment.ts";
import type { DownloadMode, DownloadOptions } from "./download_options.ts";

/** Bytes of one standard `.ohlcv` record. */
export const RECORD_BYTES = 36;
/**
 * Round trip assumed per request for the time estimate, ms (the venue's
 * real latency is not known before a request).
 */
export const ASSUMED_ROUND_TRIP_MS = 250;

/** One range the download would fetch. */
export interface PlannedSegment {
  /** `"range"` (a new file or a top-up), `"head"` (before the file), `"hole"` (inside it) or `"tail"` (after it). */
  readonly kind: "range" | "head" | "hole" | "tail";
  /** Start, Unix ms. */
  readonly from: number;
  /** End, Unix ms, exclusive. */
  readonly to: number;
  /** The provider's plan; undefined when it has none (requests then unknown). */
  readonly plan: CandlePlan | undefined;
}

/** What `download()` would do. */
export interface DryRunPlan {
  /** `ccxt:BINANCE:BTC/USDT@60`. */
  readonly providerString: string;
  /** The `.ohlcv` file. */
  readonly path: string;
  /** How the file would be used. */
  readonly mode: DownloadMode;
  /** Start of the requested range, Unix ms. */
  readonly from: number;
  /** End of the requested range, Unix ms, exclusive. */
  readonly to: number;
  /** What the file holds now, when it has candles. */
  readonly existing?: {
    readonly count: number;
    readonly first: number;
    readonly last: number;
  } | undefined;
  /** The ranges to fetch, in order; none when the file is up to date. */
  readonly segments: readonly PlannedSegment[];
  /** Candle requests (the fewest: pages shorter than asked for add some) and other requests. */
  readonly requests: {
    readonly candles: number;
    readonly other: number;
    /** False when a provider without a plan left the count unknown. */
    readonly known: boolean;
  };
  /** The requests' cost against the venue's budget, when the provider knows it. */
  readonly weight?: {
    readonly cost: number;
    readonly budget: RequestBudget;
  } | undefined;
  /** Grid periods to fetch: the most candles the download can add. */
  readonly periods: number;
  /** Estimated duration, ms. */
  readonly estimatedMs: number;
  /** Estimated bytes of the `.ohlcv` afterwards, and bytes written to get there. */
  readonly bytes: { readonly file: number; readonly written: number };
  /** Parts of the range no request would ask for, and why. */
  readonly skipped: readonly PlannedSkip[];
  /** Remarks (a lowered page size, range probes ...). */
  readonly notes: readonly string[];
}

/**
 * The plan of `download(provider, symbol, options)`: checks the arguments and
 * the existing file exactly as `download()` does (the same errors), asks the
 * provider for the plan of each range (which may load metadata such as the
 * markets) and sends no candle request. Creates, locks and changes no file.
 */
export async function downloadPlan(
  provider: Provider,
  symbol: string,
  options: DownloadOptions,
): Promise<DryRunPlan> {
  const request = resolveDownloadRequest(provider, symbol, options);
  const { timeframe: tf, nowMs } = request;
  const existing = request.truncate
    ? undefined
    : await readExistingFile(request.path, tf);
  const plan = planDownload(request, existing);
  const ranges = rangesOf(tf, nowMs, plan, existing);
  const segments: PlannedSegment[] = [];
  for (const r of ranges) {
    const candleRequest: CandleRequest = {
      symbol: request.symbol,
      timeframe: tf,
      from: r.from,
      to: r.to,
      resumeAfter: r.after,
      signal: request.signal,
      pageSize: options.pageSize,
      concurrency: options.concurrency,
      extraData: options.extraData,
      archive: options.archive,
    };
    const p = provider.planCandles
      ? await provider.planCandles(candleRequest)
      : undefined;
    segments.push({ kind: r.kind, from: r.from, to: r.to, plan: p });
  }
  return summarize(request.providerString, request.path, tf, plan, existing, {
    segments,
    nowMs,
  });
}

interface Range {
  kind: PlannedSegment["kind"];
  from: number;
  to: number;
  after: number | undefined;
}

/** The ranges `fetchByPlan` would fetch for the plan's mode. */
function rangesOf(
  tf: Timeframe,
  nowMs: number,
  plan: DownloadPlan,
  existing: ExistingFile | undefined,
): Range[] {
  const out: Range[] = [];
  const add = (
    kind: Range["kind"],
    from: number,
    to: number,
    after: number | undefined,
  ) => {
    const s = segmentStart(tf, nowMs, from, to, after);
    if (s.due) out.push({ kind, from: s.start, to, after });
  };
  switch (plan.mode) {
    case "new":
    case "truncate":
      add("range", plan.from, plan.to, undefined);
      break;
    case "append":
      add("range", plan.from, plan.to, existing!.last);
      break;
    case "prepend":
      if (plan.from < existing!.first) {
        add("head", plan.from, Math.min(existing!.first, plan.to), undefined);
      }
      for (const h of plan.holes ?? []) add("hole", h.from, h.to, undefined);
      add("tail", existing!.first, plan.to, existing!.last);
      break;
  }
  return out;
}

function summarize(
  providerString: string,
  path: string,
  tf: Timeframe,
  plan: DownloadPlan,
  existing: ExistingFile | undefined,
  run: { segments: PlannedSegment[]; nowMs: number },
): DryRunPlan {
  const { segments } = run;
  let candles = 0;
  let other = 0;
  let known = true;
  let periods = 0;
  let rounds = 0;
  let budget: RequestBudget | undefined;
  const skipped: PlannedSkip[] = [];
  const notes = new Set<string>();
  for (const s of segments) {
    if (s.plan === undefined) {
      known = false;
      periods += closedPeriods(tf, s.from, Math.min(s.to, run.nowMs));
      continue;
    }
    candles += s.plan.windows;
    other = Math.max(other, s.plan.otherRequests);
    periods += s.plan.periods;
    rounds += Math.ceil(s.plan.windows / s.plan.concurrency);
    budget ??= s.plan.budget;
    skipped.push(...s.plan.skipped);
    for (const n of s.plan.notes) notes.add(n);
  }
  if (segments.length === 0) notes.add("the file is up to date");
  const cost = budget === undefined
    ? undefined
    : (candles + other) * budget.costPerRequest;
  // The budget's pace (a burst up to the limit goes at once) or the round
  // trips, whichever is slower.
  let throttleMs = 0;
  if (budget !== undefined && cost !== undefined && budget.limit > 0) {
    const over = budget.burst ? Math.max(0, cost - budget.limit) : cost;
    throttleMs = (over / budget.limit) * budget.windowMs;
  }
  const estimatedMs = Math.round(
    Math.max(throttleMs, rounds * ASSUMED_ROUND_TRIP_MS) +
      other * ASSUMED_ROUND_TRIP_MS,
  );
  const kept = plan.mode === "truncate" || plan.mode === "new"
    ? 0
    : existing?.count ?? 0;
  const fileBytes = STANDARD_HEADER_SIZE + (kept + periods) * RECORD_BYTES;
  // A rebuild writes the whole file anew; a top-up only its new records.
  const written = plan.mode === "append"
    ? periods * RECORD_BYTES
    : segments.length === 0
    ? 0
    : fileBytes;
  return {
    providerString,
    path,
    mode: plan.mode,
    from: plan.from,
    to: plan.to,
    ...(existing
      ? {
        existing: {
          count: existing.count,
          first: existing.first,
          last: existing.last,
        },
      }
      : {}),
    segments,
    requests: { candles, other, known },
    ...(budget !== undefined && cost !== undefined
      ? { weight: { cost, budget } }
      : {}),
    periods,
    estimatedMs,
    bytes: { file: fileBytes, written },
    skipped,
    notes: [...notes],
  };
}

/** Grid periods opening in `[from, to)` that have closed by `to`. */
function closedPeriods(tf: Timeframe, from: number, to: number): number {
  let t = firstOnGrid(tf, from);
  if (!tf.calendar) {
    return Math.max(0, Math.floor((to - t) / tf.ms));
  }
  let n = 0;
  for (; nextPeriodStart(tf, t) <= to; t = nextPeriodStart(tf, t)) n++;
  return n;
}
