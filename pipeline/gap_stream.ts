/**
 * `GapStream`: finds missing periods between candles and classifies each run
 * against the symbol's opening hours: `"closed"` (the market was closed, for
 * example a forex weekend) or `"anomaly"` (the market was open but there is no
 * candle, for example a missing hour on a 24/7 exchange). Batches pass through
 * untouched; the gaps are plain data in `gaps`.
 *
 * @example
 * ```ts
 * import { GapStream } from "@pyne/data/pipeline";
 * import { batchFromRows } from "@pyne/data/format";
 *
 * const H = 3_600_000;
 * const gaps = new GapStream({ timeframe: "60" }); // no hours given: 24/7
 * await ReadableStream.from([
 *   batchFromRows([[0, 1, 1, 1, 1, 1], [3 * H, 1, 1, 1, 1, 1]]),
 * ]).pipeThrough(gaps).pipeTo(new WritableStream());
 * console.log(gaps.gaps); // [{ from: 3600000, to: 10800000, periods: 2, kind: "anomaly" }]
 * ```
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import type { OpeningHours } from "../format/symbol_info.ts";
import { nextPeriodStart, type Timeframe } from "../format/timeframe.ts";
import { OpeningHoursCalendar } from "./_opening_hours.ts";
import { countOption, timeframeOption } from "./_timeframe_option.ts";

/** How a run of missing periods is classified. */
export type GapKind = "closed" | "anomaly";

/** A run of consecutive missing periods of one kind. */
export interface Gap {
  /** Open time of the first missing period, Unix ms. */
  readonly from: number;
  /** End of the last missing period (exclusive), Unix ms. */
  readonly to: number;
  /** Number of missing periods. */
  readonly periods: number;
  /** `"closed"`: the market was closed; `"anomaly"`: it was open. */
  readonly kind: GapKind;
}

/** Options for {@linkcode GapStream}. */
export interface GapStreamOptions {
  /** The candles' timeframe. */
  readonly timeframe: string | Timeframe;
  /**
   * The symbol's trading hours (`SymbolInfo.openingHours` and `timezone`).
   * Without opening hours the market counts as always open, so every gap is
   * an anomaly. @default {undefined}
   */
  readonly symbolInfo?:
    | {
      readonly openingHours?: ReadonlyArray<OpeningHours> | undefined;
      readonly timezone?: string | undefined;
    }
    | undefined;
  /** Time of the candle before the first batch (the file's last), to find a gap at the join. */
  readonly after?: number | undefined;
  /** Most gap runs kept in `gaps`; later ones are only counted. @default {10000} */
  readonly maxGaps?: number | undefined;
}

interface GapState {
  last: number;
  gaps: Gap[];
  omitted: number;
  closedPeriods: number;
  anomalyPeriods: number;
  anomalyRuns: number;
}

/**
 * Passes batches through and records the missing periods between consecutive
 * candles as runs (`gaps`), with totals (`closedPeriods`, `anomalyPeriods`).
 * Expects sorted, deduplicated batches (put it after `DedupeStream`).
 */
export class GapStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #s: GapState;
  readonly #tf: Timeframe;

  /** Creates the stage; throws a `RangeError` for bad opening hours or time zone. */
  constructor(options: GapStreamOptions) {
    const tf = timeframeOption("GapStream", options?.timeframe);
    const maxGaps = countOption(
      "GapStream",
      "maxGaps",
      options.maxGaps,
      10_000,
    );
    const info = options.symbolInfo;
    const calendar = new OpeningHoursCalendar(
      info?.openingHours ?? [],
      info?.timezone ?? "UTC",
    );
    if (options.after !== undefined && !Number.isFinite(options.after)) {
      throw new RangeError(
        `GapStream: "after" must be a time in ms, got ${options.after}`,
      );
    }
    const s: GapState = {
      last: options.after ?? NaN,
      gaps: [],
      omitted: 0,
      closedPeriods: 0,
      anomalyPeriods: 0,
      anomalyRuns: 0,
    };
    const len = tf.ms;
    super({
      transform(batch, controller) {
        const time = batch.time;
        const n = time.length;
        let last = s.last;
        for (let i = 0; i < n; i++) {
          const t = time[i]!;
          if (last === last && t !== last + len && t > last) {
            if (tf.calendar) {
              const expected = nextPeriodStart(tf, last);
              if (t > expected) classify(expected, t, tf, calendar, s, maxGaps);
            } else if (t > last + len) {
              classify(last + len, t, tf, calendar, s, maxGaps);
            }
          }
          if (!(t <= last)) last = t;
        }
        s.last = last;
        controller.enqueue(batch);
      },
    });
    this.#s = s;
    this.#tf = tf;
  }

  /** The gap runs found, in time order (up to `maxGaps`). */
  get gaps(): readonly Gap[] {
    return this.#s.gaps;
  }

  /** Gap runs found beyond `maxGaps` (counted, not kept). */
  get omitted(): number {
    return this.#s.omitted;
  }

  /** Missing periods while the market was closed. */
  get closedPeriods(): number {
    return this.#s.closedPeriods;
  }

  /** Missing periods while the market was open. */
  get anomalyPeriods(): number {
    return this.#s.anomalyPeriods;
  }

  /** Runs of anomalous missing periods. */
  get anomalies(): number {
    return this.#s.anomalyRuns;
  }

  /** The timeframe. */
  get period(): string {
    return this.#tf.period;
  }
}

function classify(
  from: number,
  to: number,
  tf: Timeframe,
  calendar: OpeningHoursCalendar,
  s: GapState,
  maxGaps: number,
): void {
  let runKind: GapKind | undefined;
  let runFrom = from;
  let runPeriods = 0;
  const push = (end: number) => {
    if (runKind === undefined || runPeriods === 0) return;
    if (runKind === "closed") s.closedPeriods += runPeriods;
    else {
      s.anomalyPeriods += runPeriods;
      s.anomalyRuns++;
    }
    if (s.gaps.length < maxGaps) {
      s.gaps.push({
        from: runFrom,
        to: end,
        periods: runPeriods,
        kind: runKind,
      });
    } else s.omitted++;
  };
  const add = (p: number, count: number, kind: GapKind) => {
    if (kind !== runKind) {
      push(p);
      runKind = kind;
      runFrom = p;
      runPeriods = 0;
    }
    runPeriods += count;
  };
  let p = from;
  if (tf.calendar) {
    while (p < to) {
      const end = nextPeriodStart(tf, p);
      add(p, 1, calendar.overlapsOpen(p, end) ? "anomaly" : "closed");
      p = end;
    }
    push(to);
    return;
  }
  const len = tf.ms;
  if (calendar.alwaysOpen) {
    const periods = Math.round((to - from) / len);
    if (periods <= 0) return;
    add(p, periods, "anomaly");
    push(to);
    return;
  }
  while (p < to) {
    const st = calendar.state(p);
    let count: number;
    let kind: GapKind;
    if (st.open) {
      // Every period starting before the state may change is open.
      kind = "anomaly";
      count = Math.max(1, Math.ceil((st.next - p) / len));
    } else if (st.next >= p + len) {
      // Closed for whole periods until `next`.
      kind = "closed";
      count = Math.max(1, Math.floor((st.next - p) / len));
    } else {
      // A missing period cannot reach past the candle that ends the gap.
      kind = calendar.overlapsOpen(p, Math.min(p + len, to))
        ? "anomaly"
        : "closed";
      count = 1;
    }
    const remaining = Math.round((to - p) / len);
    // Less than half a period left (a series anchored to a venue's local clock
    // shifts by an hour at a DST change): not a missing period.
    if (remaining <= 0) break;
    if (count > remaining) count = remaining;
    add(p, count, kind);
    p += count * len;
  }
  push(to);
}
