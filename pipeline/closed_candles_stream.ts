/**
 * `ClosedCandlesStream`: drops candles whose period has not ended yet (the
 * forming candle a venue returns for the current period).
 *
 * @example
 * ```ts
 * import { ClosedCandlesStream } from "@pyne/data/pipeline";
 * import { batchFromRows } from "@pyne/data/format";
 *
 * const now = Date.UTC(2024, 0, 1, 0, 2, 30);
 * const closed = new ClosedCandlesStream({ timeframe: "1", now: () => now });
 * const input = batchFromRows([
 *   [Date.UTC(2024, 0, 1, 0, 1), 1, 1, 1, 1, 1], // ended at 00:02
 *   [Date.UTC(2024, 0, 1, 0, 2), 1, 1, 1, 1, 1], // still forming
 * ]);
 * const out = await Array.fromAsync(
 *   ReadableStream.from([input]).pipeThrough(closed),
 * );
 * console.log(out[0]!.time.length, closed.dropped); // 1 1
 * ```
 *
 * @module
 */

import {
  batchHasContent,
  type CandleBatch,
  clipClaims,
  selectCandles,
  withCoverage,
} from "../format/candle_batch.ts";
import {
  nextPeriodStart,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { timeframeOption } from "./_timeframe_option.ts";

/** Options for {@linkcode ClosedCandlesStream}. */
export interface ClosedCandlesStreamOptions {
  /** The candles' timeframe (any notation `parseTimeframe` accepts). */
  readonly timeframe: string | Timeframe;
  /** The clock, Unix ms; read once per batch. @default {Date.now} */
  readonly now?: (() => number) | undefined;
}

/**
 * Passes on only candles whose period has ended (`time + period <= now`), so
 * the forming candle never reaches a file. Batches with nothing to drop pass
 * through untouched (the same object); empty results are not emitted.
 */
export class ClosedCandlesStream
  extends TransformStream<CandleBatch, CandleBatch> {
  readonly #counts: { dropped: number; passed: number };

  /** Creates the stage; throws for a missing or unknown timeframe. */
  constructor(options: ClosedCandlesStreamOptions) {
    const tf = timeframeOption("ClosedCandlesStream", options?.timeframe);
    const now = options.now ?? Date.now;
    if (typeof now !== "function") {
      throw new TypeError(
        `ClosedCandlesStream: "now" must be a function returning Unix ms, got ${typeof now}`,
      );
    }
    const counts = { dropped: 0, passed: 0 };
    super({
      transform(input, controller) {
        const t = now();
        // Claims end where the forming period starts: it has not closed.
        const formingStart = periodStart(tf, t);
        const coverage = clipClaims(input.coverage, -Infinity, formingStart);
        const batch = coverage === input.coverage
          ? input
          : { ...input, coverage };
        const out = filterClosed(batch, tf, t);
        const n = out ? out.time.length : batch.time.length;
        counts.passed += n;
        counts.dropped += batch.time.length - n;
        if (out === undefined) {
          if (batchHasContent(batch)) controller.enqueue(batch);
        } else {
          const o = withCoverage(out, batch);
          if (batchHasContent(o)) controller.enqueue(o);
        }
      },
    });
    this.#counts = counts;
  }

  /** Candles dropped because their period had not ended. */
  get dropped(): number {
    return this.#counts.dropped;
  }

  /** Candles passed on. */
  get passed(): number {
    return this.#counts.passed;
  }
}

/** Returns undefined when every candle is closed, else the closed ones. */
function filterClosed(
  batch: CandleBatch,
  tf: Timeframe,
  now: number,
): CandleBatch | undefined {
  const time = batch.time;
  const n = time.length;
  if (tf.calendar) {
    let open = 0;
    for (let i = 0; i < n; i++) {
      if (!(nextPeriodStart(tf, time[i]!) <= now)) open++;
    }
    if (open === 0) return undefined;
    const keep = new Uint32Array(n - open);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (nextPeriodStart(tf, time[i]!) <= now) keep[k++] = i;
    }
    return selectCandles(batch, keep, k);
  }
  const cutoff = now - tf.ms;
  let allClosed = true;
  for (let i = 0; i < n; i++) {
    if (!(time[i]! <= cutoff)) {
      allClosed = false;
      break;
    }
  }
  if (allClosed) return undefined;
  const keep = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (time[i]! <= cutoff) keep[k++] = i;
  }
  return selectCandles(batch, keep, k);
}
