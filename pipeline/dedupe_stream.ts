/**
 * `DedupeStream`: drops candles at or before the last one emitted, so
 * overlapping pages and a resumed download never write a time twice.
 *
 * @example
 * ```ts
 * import { DedupeStream } from "@pyne/data/pipeline";
 * import { batchFromRows } from "@pyne/data/format";
 *
 * const dedupe = new DedupeStream({ after: 60_000 }); // the file ends at 60000
 * const out = await Array.fromAsync(
 *   ReadableStream.from([
 *     batchFromRows([[60_000, 1, 1, 1, 1, 1], [120_000, 1, 2, 1, 2, 5]]),
 *     batchFromRows([[120_000, 1, 2, 1, 2, 5], [180_000, 2, 2, 2, 2, 1]]),
 *   ]).pipeThrough(dedupe),
 * );
 * console.log(out.map((b) => b.time.length), dedupe.dropped); // [1, 1] 2
 * ```
 *
 * @module
 */

import {
  batchHasContent,
  type CandleBatch,
  type CandleRow,
  selectCandles,
  withCoverage,
} from "../format/candle_batch.ts";
import { choiceOption, countOption, isoTime } from "./_timeframe_option.ts";

/** Options for {@linkcode DedupeStream}. */
export interface DedupeStreamOptions {
  /**
   * Seed: the last committed candle of the file being topped up, as its time
   * (Unix ms) or as a full row (then a repeat of that time with different
   * values is detected as a conflict too). Candles at or before it are dropped.
   * @default {undefined} (no seed)
   */
  readonly after?: number | CandleRow | undefined;
  /**
   * What to do with a repeated time whose values differ from the candle
   * already emitted: `"report"` drops it, counts it and keeps a sample in
   * `conflictSamples`; `"error"` throws a `RangeError`. @default {"report"}
   */
  readonly onConflict?: "report" | "error" | undefined;
  /** Most conflicts kept in `conflictSamples`. @default {100} */
  readonly maxReported?: number | undefined;
}

/** A repeated candle time whose values differed from the candle kept. */
export interface DedupeConflict {
  /** The candle time, Unix ms. */
  readonly time: number;
  /** The candle emitted first (kept). */
  readonly kept: CandleRow;
  /** The later candle with the same time (dropped). */
  readonly dropped: CandleRow;
}

interface DedupeState {
  last: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  hasValues: boolean;
  dropped: number;
  duplicates: number;
  conflicts: number;
  stale: number;
  samples: DedupeConflict[];
}

function same(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Drops every candle whose time is at or before the last candle emitted (or
 * the seed). Expects time-sorted batches (put `OrderStream` first); an older
 * candle is dropped and counted in `stale`. A repeated time with identical
 * values counts as a duplicate; with different values as a conflict
 * (`onConflict`). Batches with nothing to drop pass through untouched.
 */
export class DedupeStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #s: DedupeState;

  /** Creates the stage. */
  constructor(options: DedupeStreamOptions = {}) {
    const onConflict = choiceOption(
      "DedupeStream",
      "onConflict",
      options.onConflict,
      ["report", "error"],
      "report",
    );
    const maxReported = countOption(
      "DedupeStream",
      "maxReported",
      options.maxReported,
      100,
    );
    const s: DedupeState = {
      last: -Infinity,
      o: NaN,
      h: NaN,
      l: NaN,
      c: NaN,
      v: NaN,
      hasValues: false,
      dropped: 0,
      duplicates: 0,
      conflicts: 0,
      stale: 0,
      samples: [],
    };
    const after = options.after;
    if (typeof after === "number") {
      if (Number.isNaN(after)) {
        throw new RangeError(
          `DedupeStream: "after" must be a time in ms, got NaN`,
        );
      }
      s.last = after;
    } else if (Array.isArray(after)) {
      if (after.length < 6 || Number.isNaN(after[0])) {
        throw new TypeError(
          `DedupeStream: "after" as a row must be [time, open, high, low, close, volume]`,
        );
      }
      [s.last, s.o, s.h, s.l, s.c, s.v] = after;
      s.hasValues = true;
    } else if (after !== undefined) {
      throw new TypeError(
        `DedupeStream: "after" must be a time in ms or a candle row, got ${typeof after}`,
      );
    }
    super({
      transform(batch, controller) {
        const out = dedupe(batch, s, onConflict, maxReported);
        if (out === undefined) controller.enqueue(batch);
        else {
          const o = withCoverage(out, batch);
          if (batchHasContent(o)) controller.enqueue(o);
        }
      },
    });
    this.#s = s;
  }

  /** Candles dropped (duplicates, conflicts and stale candles). */
  get dropped(): number {
    return this.#s.dropped;
  }

  /** Repeated times with identical values. */
  get duplicates(): number {
    return this.#s.duplicates;
  }

  /** Repeated times whose values differed from the candle kept. */
  get conflicts(): number {
    return this.#s.conflicts;
  }

  /** Candles older than the last one emitted (out of order input). */
  get stale(): number {
    return this.#s.stale;
  }

  /** The first conflicts (up to `maxReported`). */
  get conflictSamples(): readonly DedupeConflict[] {
    return this.#s.samples;
  }

  /** Time of the last candle emitted (or the seed), `-Infinity` when none. */
  get lastTime(): number {
    return this.#s.last;
  }
}

function dedupe(
  batch: CandleBatch,
  s: DedupeState,
  onConflict: "report" | "error",
  maxReported: number,
): CandleBatch | undefined {
  const { time } = batch;
  const n = time.length;
  // Fast path: strictly increasing after the last emitted time.
  let last = s.last;
  let i = 0;
  for (; i < n; i++) {
    const t = time[i]!;
    if (!(t > last)) break;
    last = t;
  }
  if (i === n) {
    if (n > 0) remember(batch, n - 1, s);
    return undefined;
  }
  const keep = new Uint32Array(n);
  let k = 0;
  for (let j = 0; j < i; j++) keep[k++] = j;
  if (i > 0) remember(batch, i - 1, s);
  for (; i < n; i++) {
    const t = time[i]!;
    if (t > s.last) {
      keep[k++] = i;
      remember(batch, i, s);
      continue;
    }
    s.dropped++;
    if (t !== s.last) {
      s.stale++;
      continue;
    }
    const o = batch.open[i]!, h = batch.high[i]!, l = batch.low[i]!;
    const c = batch.close[i]!, v = batch.volume[i]!;
    if (
      !s.hasValues ||
      (same(o, s.o) && same(h, s.h) && same(l, s.l) && same(c, s.c) &&
        same(v, s.v))
    ) {
      s.duplicates++;
      continue;
    }
    s.conflicts++;
    const conflict: DedupeConflict = {
      time: t,
      kept: [t, s.o, s.h, s.l, s.c, s.v],
      dropped: [t, o, h, l, c, v],
    };
    if (onConflict === "error") {
      throw new RangeError(
        `DedupeStream: candle ${
          isoTime(t)
        } arrived twice with different values: kept [${
          conflict.kept.slice(1).join(", ")
        }], got [${conflict.dropped.slice(1).join(", ")}]`,
      );
    }
    if (s.samples.length < maxReported) s.samples.push(conflict);
  }
  return selectCandles(batch, keep, k);
}

function remember(batch: CandleBatch, i: number, s: DedupeState): void {
  s.last = batch.time[i]!;
  s.o = batch.open[i]!;
  s.h = batch.high[i]!;
  s.l = batch.low[i]!;
  s.c = batch.close[i]!;
  s.v = batch.volume[i]!;
  s.hasValues = true;
}
