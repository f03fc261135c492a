/**
 * The stage pipeline of `download()`: fetches one segment `[from, to)` from
 * the provider through `OrderStream`, the range filter,
 * `ClosedCandlesStream`, `DedupeStream`, `ValidateStream` and `GapStream`
 * into the file, and adds what the stages counted to the run's totals.
 * Private.
 *
 * @module
 */

import {
  batchFromRows,
  type CandleBatch,
  type CandleRow,
} from "../format/candle_batch.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import {
  nextPeriodStart,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import type { CandleRequest, Provider } from "../providers/provider.ts";
import { firstOnGrid } from "./_download_plan.ts";
import type { ProgressTracker } from "./_progress_tracker.ts";
import { RangeStream } from "./_range_stream.ts";
import { ClosedCandlesStream } from "./closed_candles_stream.ts";
import { type DedupeConflict, DedupeStream } from "./dedupe_stream.ts";
import type { DownloadOptions } from "./download_options.ts";
import { type Gap, GapStream } from "./gap_stream.ts";
import { OrderStream } from "./order_stream.ts";
import {
  ValidateStream,
  type ValidationCounts,
  type ValidationIssue,
} from "./validate_stream.ts";

/** Most validation issues and dedupe conflicts kept as samples. */
const SAMPLES = 100;

/** What the stages of every segment of one download counted. */
export class DownloadTotals {
  written = 0;
  first: number | undefined;
  last: number | undefined;
  checked = 0;
  invalid = 0;
  dropped = 0;
  readonly counts: ValidationCounts = {
    "non-finite": 0,
    ohlc: 0,
    "negative-volume": 0,
    "off-grid": 0,
  };
  readonly issues: ValidationIssue[] = [];
  duplicates = 0;
  conflicts = 0;
  readonly conflictSamples: DedupeConflict[] = [];
  forming = 0;
  readonly gaps: Gap[] = [];
  closedPeriods = 0;
  anomalyPeriods = 0;

  /** Counts a batch written to the file. */
  addWritten(batch: CandleBatch): void {
    const n = batch.time.length;
    this.written += n;
    this.first ??= batch.time[0];
    this.last = batch.time[n - 1];
  }

  /** Adds the missing periods a `GapStream` found. */
  addGaps(gaps: GapStream): void {
    this.gaps.push(...gaps.gaps);
    this.closedPeriods += gaps.closedPeriods;
    this.anomalyPeriods += gaps.anomalyPeriods;
  }

  /** Adds what the stages of one segment counted. */
  addStages(
    closed: ClosedCandlesStream,
    dedupe: DedupeStream,
    validate: ValidateStream,
    gaps: GapStream,
  ): void {
    this.checked += validate.checked;
    this.invalid += validate.invalid;
    this.dropped += validate.dropped;
    for (const k of Object.keys(this.counts) as (keyof ValidationCounts)[]) {
      this.counts[k] += validate.counts[k];
    }
    this.issues.push(
      ...validate.issues.slice(0, SAMPLES - this.issues.length),
    );
    this.duplicates += dedupe.duplicates;
    this.conflicts += dedupe.conflicts;
    this.conflictSamples.push(
      ...dedupe.conflictSamples.slice(
        0,
        SAMPLES - this.conflictSamples.length,
      ),
    );
    this.forming += closed.dropped;
    this.addGaps(gaps);
  }
}

/** What every segment of one download shares. */
export interface SegmentContext {
  readonly provider: Provider;
  /** The normalized symbol. */
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly info: SymbolInfo;
  /** The clock, Unix ms, and its reading when the download started. */
  readonly clock: () => number;
  readonly nowMs: number;
  readonly signal: AbortSignal | undefined;
  readonly options: DownloadOptions;
  /**
   * Commits a batch to the file (a batch may hold only coverage claims), then
   * records its claims.
   */
  readonly write: (batch: CandleBatch) => Promise<void>;
  /**
   * Told of each range asked for, and — for a provider that makes no
   * coverage claims of its own — of the range its finished answer covers.
   */
  readonly coverage?: {
    request(from: number, to: number): void;
    claim(claims: CandleBatch["coverage"]): void;
  } | undefined;
  readonly totals: DownloadTotals;
  readonly tracker: ProgressTracker;
}

/** What one segment did. */
export interface SegmentResult {
  /** Where fetching started (after `after` when given), Unix ms. */
  readonly from: number;
  /** End of the segment (exclusive), Unix ms. */
  readonly to: number;
  /**
   * False when there was nothing to ask for: the segment is empty or its
   * first candle cannot have closed yet.
   */
  readonly fetched: boolean;
  /** Candles written. */
  readonly candles: number;
}

/**
 * Where a segment starts fetching (after the candle opening at `after`, when
 * given), and whether there is anything to fetch (false when the range is
 * empty or its first candle cannot have closed yet).
 */
export function segmentStart(
  timeframe: Timeframe,
  nowMs: number,
  from: number,
  to: number,
  after: number | undefined,
): { start: number; due: boolean } {
  const start = after !== undefined
    ? Math.max(from, nextPeriodStart(timeframe, after))
    : from;
  const due = !(start >= to ||
    nextPeriodStart(timeframe, firstOnGrid(timeframe, start)) > nowMs);
  return { start, due };
}

/** True for time zone names that mean UTC. */
export function isUtcZone(zone: string | undefined): boolean {
  return zone === undefined ||
    /^(Etc\/)?(UTC|GMT|UCT|Zulu|Universal)$/i.test(zone);
}

/**
 * Fetches `[from, to)` (after the candle `after`, when given: it seeds
 * `DedupeStream` and `GapStream`) through the stages into the file.
 */
export async function fetchSegment(
  ctx: SegmentContext,
  from: number,
  to: number,
  after: CandleRow | undefined,
): Promise<SegmentResult> {
  const { timeframe: tf, options, totals, tracker, signal } = ctx;
  const { start, due } = segmentStart(tf, ctx.nowMs, from, to, after?.[0]);
  if (!due) return { from: start, to, fetched: false, candles: 0 };
  const request: CandleRequest = {
    symbol: ctx.symbol,
    timeframe: tf,
    from: start,
    to,
    resumeAfter: after?.[0],
    signal,
    pageSize: options.pageSize,
    concurrency: options.concurrency,
    extraData: options.extraData,
    archive: options.archive,
    notice: options.log,
  };
  const closed = new ClosedCandlesStream({ timeframe: tf, now: ctx.clock });
  const dedupe = new DedupeStream({ after });
  const validate = new ValidateStream({
    timeframe: tf,
    // Session-based venues (a non-UTC time zone) may open periods of an
    // hour or more on their own clock (daily candles at 22:00 UTC).
    grid: isUtcZone(ctx.info.timezone) ? "utc" : "local",
    policy: options.validation ?? "drop",
    allowNaN: options.allowNaN ?? "volume",
  });
  const gaps = new GapStream({
    timeframe: tf,
    symbolInfo: ctx.info,
    after: after?.[0],
  });
  let candles = 0;
  let claimed = false; // the provider's batches carry claims of their own
  let legacyFrom = start; // a claimless provider's answers cover up to here
  // Candles open before the forming period: the range asked for ends there.
  const asked = Math.min(to, periodStart(tf, ctx.nowMs));
  ctx.coverage?.request(start, asked);
  const sink = new WritableStream<CandleBatch>({
    async write(batch) {
      await ctx.write(batch);
      if (batch.time.length === 0) return;
      candles += batch.time.length;
      totals.addWritten(batch);
      tracker.add(batch);
    },
  });
  // A provider without claims delivers in order: each batch covers the
  // periods up to its last candle (claimed on the batch itself, so stages
  // after it can still claim dropped candles as failed), a finished answer
  // the rest of the range asked for.
  const legacyTap = new TransformStream<CandleBatch, CandleBatch>({
    transform(batch, controller) {
      if (batch.coverage !== undefined) claimed = true;
      const n = batch.time.length;
      if (!claimed && n > 0) {
        const end = nextPeriodStart(tf, periodStart(tf, batch.time[n - 1]!));
        if (end > legacyFrom) {
          batch = {
            ...batch,
            coverage: [{ from: legacyFrom, to: end, state: "fetched" }],
          };
          legacyFrom = end;
        }
      }
      controller.enqueue(batch);
    },
  });
  const legacyClaim = (end: number) => {
    if (!claimed && end > legacyFrom) {
      ctx.coverage?.claim([{ from: legacyFrom, to: end, state: "fetched" }]);
    }
  };
  try {
    await ReadableStream.from(ctx.provider.candles(request))
      .pipeThrough(new OrderStream({ maxBuffered: options.maxBuffered }))
      .pipeThrough(legacyTap)
      // From the file's last candle on, so DedupeStream sees a repeat of it.
      .pipeThrough(new RangeStream(after ? after[0] : start, to))
      .pipeThrough(closed)
      .pipeThrough(dedupe)
      .pipeThrough(validate)
      .pipeThrough(gaps)
      .pipeTo(sink, signal ? { signal } : {});
    legacyClaim(Math.min(asked, periodStart(tf, ctx.clock())));
  } finally {
    totals.addStages(closed, dedupe, validate, gaps);
  }
  return { from: start, to, fetched: true, candles };
}

/**
 * Adds the missing periods between the candle at `last` and the next one at
 * `next` (where a new head meets the old first candle) to the totals.
 */
export async function joinGaps(
  ctx: Pick<SegmentContext, "timeframe" | "info" | "totals">,
  last: number,
  next: number,
): Promise<void> {
  const gaps = new GapStream({
    timeframe: ctx.timeframe,
    symbolInfo: ctx.info,
    after: last,
  });
  await ReadableStream.from([batchFromRows([[next, 0, 0, 0, 0, 0]])])
    .pipeThrough(gaps)
    .pipeTo(new WritableStream());
  ctx.totals.addGaps(gaps);
}

/**
 * Refuses a run where every candle received is off the period grid: not a
 * stray bad candle, the venue aligns its candles differently.
 */
export function checkGridAlignment(
  ctx: Pick<SegmentContext, "timeframe" | "info" | "totals">,
  providerString: string,
): void {
  const { totals, timeframe: tf } = ctx;
  const offGrid = totals.counts["off-grid"];
  if (offGrid >= 2 && offGrid === totals.checked) {
    throw new RangeError(
      `Every one of the ${offGrid} ${tf.period} candles received for ${providerString} is off the ${
        isUtcZone(ctx.info.timezone) ? "UTC " : ""
      }${tf.period} grid (${
        totals.issues[0]?.message
      }); nothing was written. The venue aligns these candles differently (daily candles at its session start, for example): use another timeframe`,
    );
  }
}
