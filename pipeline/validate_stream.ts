/**
 * `ValidateStream`: checks candles before they reach a file: OHLC relations,
 * non-finite values, negative volume and timestamps on the timeframe grid.
 *
 * @example
 * ```ts
 * import { ValidateStream } from "@pyne/data/pipeline";
 * import { batchFromRows } from "@pyne/data/format";
 *
 * const validate = new ValidateStream({ timeframe: "1", policy: "drop" });
 * const out = await Array.fromAsync(
 *   ReadableStream.from([
 *     batchFromRows([[0, 10, 12, 9, 11, 5], [60_000, 10, 9, 8, 11, 5]]),
 *   ]).pipeThrough(validate),
 * );
 * console.log(out[0]!.time.length, validate.counts.ohlc); // 1 1
 * ```
 *
 * @module
 */

import {
  batchHasContent,
  type CandleBatch,
  type CoverageClaim,
  selectCandles,
} from "../format/candle_batch.ts";
import {
  isOnGrid,
  nextPeriodStart,
  parsePeriod,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import {
  choiceOption,
  countOption,
  isoTime,
  timeframeOption,
} from "./_timeframe_option.ts";

/** What `ValidateStream` does with an invalid candle. */
export type ValidationPolicy = "error" | "drop" | "report";

/** Why a candle is invalid. */
export type ValidationReason =
  | "non-finite"
  | "ohlc"
  | "negative-volume"
  | "off-grid";

/** Options for {@linkcode ValidateStream}. */
export interface ValidateStreamOptions {
  /**
   * The candles' timeframe; when given, every time must be the start of a
   * period on its UTC grid. @default {undefined} (no grid check)
   */
  readonly timeframe?: string | Timeframe | undefined;
  /**
   * Which grid the times must be on (with `timeframe`). `"utc"`: the start of a
   * period on the timeframe's UTC grid. `"local"`: for venues whose periods of
   * an hour or longer follow their own clock (daily candles opening at 22:00
   * UTC, hours starting at :30 or :45): such times need only fall on a quarter
   * hour, as every UTC offset in use does; shorter periods keep the UTC grid.
   * @default {"utc"}
   */
  readonly grid?: "utc" | "local" | undefined;
  /**
   * `"error"` throws a `RangeError` naming the first invalid candle;
   * `"drop"` removes invalid candles and counts them; `"report"` counts them
   * and passes them on (the `.ohlcv` writer still refuses infinite values and
   * broken OHLC relations). @default {"error"}
   */
  readonly policy?: ValidationPolicy | undefined;
  /**
   * Accept NaN values: `true` for prices and volumes, `"volume"` for volumes
   * only (a venue that leaves volume out; NaN prices stay invalid).
   * @default {false}
   */
  readonly allowNaN?: boolean | "volume" | undefined;
  /** Most problems kept in `issues`. @default {100} */
  readonly maxReported?: number | undefined;
}

/** One invalid candle. */
export interface ValidationIssue {
  /** The candle time, Unix ms. */
  readonly time: number;
  /** The first failed check. */
  readonly reason: ValidationReason;
  /** What is wrong, with the values. */
  readonly message: string;
}

/** Counts of invalid candles per reason (a candle counts once, for its first failure). */
export type ValidationCounts = Record<ValidationReason, number>;

interface ValidateState {
  checked: number;
  invalid: number;
  dropped: number;
  counts: ValidationCounts;
  issues: ValidationIssue[];
}

const DAY4 = 4 * 86_400_000;
const HOUR = 3_600_000;
const QUARTER_HOUR = 900_000;
/** The grid of a `"local"` check: quarter hours. */
const QUARTER_HOUR_TF: Timeframe = parsePeriod("15");

/**
 * Checks every candle: all values finite (NaN only with `allowNaN`), `high >=
 * max(open, close)`, `low <= min(open, close)`, `high >= low`, `volume >= 0`,
 * and (with a timeframe) the time on the period grid. Valid batches pass
 * through untouched.
 */
export class ValidateStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #s: ValidateState;

  /** Creates the stage. */
  constructor(options: ValidateStreamOptions = {}) {
    const tf = options.timeframe === undefined
      ? undefined
      : timeframeOption("ValidateStream", options.timeframe);
    const policy = choiceOption<ValidationPolicy>(
      "ValidateStream",
      "policy",
      options.policy,
      ["error", "drop", "report"],
      "error",
    );
    const maxReported = countOption(
      "ValidateStream",
      "maxReported",
      options.maxReported,
      100,
    );
    const allowNaN = options.allowNaN ?? false;
    if (allowNaN !== true && allowNaN !== false && allowNaN !== "volume") {
      throw new RangeError(
        `ValidateStream: "allowNaN" must be true, false or "volume", got ${
          JSON.stringify(allowNaN)
        }`,
      );
    }
    const s: ValidateState = {
      checked: 0,
      invalid: 0,
      dropped: 0,
      counts: { "non-finite": 0, ohlc: 0, "negative-volume": 0, "off-grid": 0 },
      issues: [],
    };
    const grid = options.grid ?? "utc";
    if (grid !== "utc" && grid !== "local") {
      throw new TypeError(
        `ValidateStream grid must be "utc" or "local", got ${
          JSON.stringify(grid)
        }`,
      );
    }
    // A local grid only asks periods of an hour or more to start on a quarter hour.
    const localGrid = grid === "local" && tf !== undefined && tf.ms >= HOUR;
    // Grid check: 0 = none, 1 = multiple of len, 2 = weeks (Mondays), 3 = calendar.
    const gridMode = tf === undefined
      ? 0
      : localGrid
      ? 1
      : tf.calendar
      ? 3
      : tf.unit === "W"
      ? 2
      : 1;
    const len = localGrid ? QUARTER_HOUR : tf?.ms ?? 1;
    const gridTf = localGrid ? QUARTER_HOUR_TF : tf;
    super({
      transform(batch, controller) {
        const { time, open, high, low, close, volume } = batch;
        const n = time.length;
        s.checked += n;
        let keep: Uint32Array | undefined;
        let k = 0;
        let prevOnGrid = NaN;
        for (let i = 0; i < n; i++) {
          const t = time[i]!, o = open[i]!, h = high[i]!, l = low[i]!;
          const c = close[i]!, v = volume[i]!;
          const sum = t + o + h + l + c + v;
          let ok = sum - sum === 0 && h >= (o > c ? o : c) &&
            l <= (o < c ? o : c) && v >= 0;
          // A time one period after an on-grid time is on the grid: skip the
          // (slow) float modulo for consecutive candles.
          if (ok && gridMode !== 0 && (localGrid || t !== prevOnGrid + len)) {
            ok = gridMode === 1
              ? t % len === 0
              : gridMode === 2
              ? (t - DAY4) % len === 0
              : isOnGrid(tf!, t);
          }
          if (!ok) {
            const problem = check(t, o, h, l, c, v, gridTf, allowNaN);
            if (problem !== undefined) {
              s.invalid++;
              s.counts[problem[0]]++;
              if (policy === "error") {
                throw new RangeError(
                  `Candle ${i} of the batch (${isoTime(t)}): ${problem[1]}`,
                );
              }
              if (s.issues.length < maxReported) {
                s.issues.push({
                  time: t,
                  reason: problem[0],
                  message: problem[1],
                });
              }
              if (policy === "drop") {
                if (keep === undefined) {
                  keep = new Uint32Array(n);
                  for (let j = 0; j < i; j++) keep[k++] = j;
                }
                s.dropped++;
                continue;
              }
            }
          }
          if (gridMode === 1 || gridMode === 2) prevOnGrid = ok ? t : NaN;
          if (keep !== undefined) keep[k++] = i;
        }
        if (keep === undefined) {
          if (batchHasContent(batch)) controller.enqueue(batch);
          return;
        }
        // The periods of dropped candles are failed coverage: the venue's
        // answer there could not be used.
        const failed: CoverageClaim[] = [];
        for (let i = 0, j = 0; i < n; i++) {
          if (j < k && keep[j] === i) {
            j++;
            continue;
          }
          const t = time[i]!;
          if (!Number.isFinite(t)) continue;
          const from = tf ? periodStart(tf, t) : t;
          const end = tf ? nextPeriodStart(tf, from) : t + 1;
          const prev = failed[failed.length - 1];
          if (prev && prev.to >= from) {
            failed[failed.length - 1] = { ...prev, to: Math.max(prev.to, end) };
          } else {
            failed.push({
              from,
              to: end,
              state: "failed",
              reason: "invalid candles dropped",
            });
          }
        }
        const out = selectCandles(batch, keep, k);
        const coverage = [...(batch.coverage ?? []), ...failed];
        if (k > 0 || coverage.length > 0) {
          controller.enqueue(coverage.length > 0 ? { ...out, coverage } : out);
        }
      },
    });
    this.#s = s;
  }

  /** Candles checked. */
  get checked(): number {
    return this.#s.checked;
  }

  /** Invalid candles found (whatever the policy). */
  get invalid(): number {
    return this.#s.invalid;
  }

  /** Invalid candles removed (policy `"drop"`). */
  get dropped(): number {
    return this.#s.dropped;
  }

  /** Invalid candles per reason. */
  get counts(): Readonly<ValidationCounts> {
    return this.#s.counts;
  }

  /** The first problems found (up to `maxReported`). */
  get issues(): readonly ValidationIssue[] {
    return this.#s.issues;
  }
}

/** The exact checks, for a candle the fast filter flagged. */
function check(
  t: number,
  o: number,
  h: number,
  l: number,
  c: number,
  v: number,
  tf: Timeframe | undefined,
  allowNaN: boolean | "volume",
): [ValidationReason, string] | undefined {
  if (!Number.isFinite(t)) return ["non-finite", `time is ${t}`];
  const named: [string, number][] = [
    ["open", o],
    ["high", h],
    ["low", l],
    ["close", c],
    ["volume", v],
  ];
  for (const [name, x] of named) {
    if (Number.isFinite(x)) continue;
    if (x !== x && (allowNaN === true || (allowNaN && name === "volume"))) {
      continue;
    }
    return ["non-finite", `${name} is ${x}`];
  }
  if (o === o && c === c) {
    const mx = Math.max(o, c), mn = Math.min(o, c);
    if (h === h && h < mx) {
      return ["ohlc", `high ${h} is below max(open, close) ${mx}`];
    }
    if (l === l && l > mn) {
      return ["ohlc", `low ${l} is above min(open, close) ${mn}`];
    }
  }
  if (h === h && l === l && h < l) {
    return ["ohlc", `high ${h} is below low ${l}`];
  }
  if (v < 0) return ["negative-volume", `volume ${v} is negative`];
  if (tf !== undefined && !isOnGrid(tf, t)) {
    return [
      "off-grid",
      tf === QUARTER_HOUR_TF
        ? `time ${isoTime(t)} is not on a quarter hour`
        : `time ${isoTime(t)} is not the start of a ${tf.period} period`,
    ];
  }
  return undefined;
}
