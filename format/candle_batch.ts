/**
 * Columnar candle batches: the unit of data that flows from providers through
 * the pipeline stages into the `.ohlcv` writer.
 *
 * @example
 * ```ts
 * import { batchFromRows, batchLength, batchRows } from "@pyne/data/format";
 *
 * const batch = batchFromRows([[1704067200000, 1, 2, 0.5, 1.5, 10]]);
 * console.log(batchLength(batch)); // 1
 * for (const row of batchRows(batch)) console.log(row);
 * ```
 *
 * @module
 */

/** Extra per-candle fields that go to the `.extra.csv` sidecar (for example ask prices). */
export type CandleExtra = Readonly<Record<string, string | number>>;

/**
 * What a provider proved about a span `[from, to)` of Unix ms, carried by the
 * batch that answers for it: `"fetched"` — the venue answered for the whole
 * span and every candle it has there is in this batch (or an earlier one);
 * `"not-served"` — the venue does not serve the span (before a listing,
 * beyond its history limit); `"failed"` — the span's candles could not be had
 * (retries exhausted, invalid candles dropped). Spans without a claim are
 * unknown: a download reports them as failed.
 */
export interface CoverageClaim {
  /** Start, Unix ms (inclusive). */
  readonly from: number;
  /** End, Unix ms (exclusive). */
  readonly to: number;
  /** What the provider proved. */
  readonly state: "fetched" | "not-served" | "failed";
  /** Why (for `"failed"` and `"not-served"`), one line. */
  readonly reason?: string | undefined;
}

/**
 * A batch of candles stored column by column. All columns have the same length.
 * Times are Unix milliseconds (candle open time). Batches are handed over, not
 * shared: a stage may slice its input but never mutates a batch it passed on.
 */
export interface CandleBatch {
  /** Candle open times, Unix milliseconds. */
  readonly time: Float64Array;
  /** Open prices. */
  readonly open: Float64Array;
  /** High prices. */
  readonly high: Float64Array;
  /** Low prices. */
  readonly low: Float64Array;
  /** Close prices. */
  readonly close: Float64Array;
  /** Volumes. */
  readonly volume: Float64Array;
  /** Optional extra fields per candle, aligned with the columns (sidecar data). */
  readonly extra?: ReadonlyArray<CandleExtra | undefined>;
  /**
   * Sequence number of the batch inside one download, for batches that may arrive
   * out of order (concurrent page fetches). Consecutive batches have consecutive
   * numbers starting at 0.
   */
  readonly seq?: number;
  /**
   * What the batch answers for (see {@linkcode CoverageClaim}). A batch may
   * hold no candles and only claims (a span the venue answered as empty).
   */
  readonly coverage?: readonly CoverageClaim[] | undefined;
}

/** A candle as a row, in ccxt's shape: `[time, open, high, low, close, volume]`. */
export type CandleRow = [
  time: number,
  open: number,
  high: number,
  low: number,
  close: number,
  volume: number,
];

/** The six numeric column names of a {@linkcode CandleBatch}, in row order. */
export const CANDLE_COLUMNS = [
  "time",
  "open",
  "high",
  "low",
  "close",
  "volume",
] as const;

/** Number of candles in a batch. */
export function batchLength(batch: CandleBatch): number {
  return batch.time.length;
}

/** Allocates a zero-filled batch of `length` candles. */
export function allocBatch(length: number): CandleBatch {
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(
      `Batch length must be a non-negative integer, got ${length}`,
    );
  }
  return {
    time: new Float64Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
  };
}

/**
 * Builds a batch from rows shaped `[time, open, high, low, close, volume]`
 * (ccxt's `fetchOHLCV` shape). `null`/`undefined` values become NaN.
 */
export function batchFromRows(
  rows: ReadonlyArray<ReadonlyArray<number | null | undefined>>,
): CandleBatch {
  const n = rows.length;
  const b = allocBatch(n);
  const cols = [b.time, b.open, b.high, b.low, b.close, b.volume];
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    if (row.length < 6) {
      throw new TypeError(
        `Candle row ${i} has ${row.length} values; expected 6 (time, open, high, low, close, volume)`,
      );
    }
    for (let c = 0; c < 6; c++) {
      const v = row[c];
      cols[c]![i] = v === null || v === undefined ? NaN : v;
    }
  }
  return b;
}

/** Iterates a batch as rows `[time, open, high, low, close, volume]`. */
export function* batchRows(batch: CandleBatch): Generator<CandleRow> {
  const n = batchLength(batch);
  for (let i = 0; i < n; i++) {
    yield [
      batch.time[i]!,
      batch.open[i]!,
      batch.high[i]!,
      batch.low[i]!,
      batch.close[i]!,
      batch.volume[i]!,
    ];
  }
}

/**
 * True when a batch holds candles or coverage claims, so a stage passes it on
 * (an empty batch with claims still tells the file what was answered).
 */
export function batchHasContent(batch: CandleBatch): boolean {
  return batch.time.length > 0 || (batch.coverage?.length ?? 0) > 0;
}

/**
 * `out` with the coverage claims of `source` (when it has any and `out` has
 * none): for stages that build a new batch from an input batch.
 */
export function withCoverage(
  out: CandleBatch,
  source: CandleBatch,
): CandleBatch {
  return source.coverage === undefined || out.coverage !== undefined
    ? out
    : { ...out, coverage: source.coverage };
}

/**
 * Coverage claims clipped to `[from, to)`: the same array when nothing
 * changes, `undefined` when none are left.
 */
export function clipClaims(
  claims: readonly CoverageClaim[] | undefined,
  from: number,
  to: number,
): readonly CoverageClaim[] | undefined {
  if (claims === undefined) return undefined;
  let changed = false;
  const out: CoverageClaim[] = [];
  for (const c of claims) {
    const a = Math.max(c.from, from), b = Math.min(c.to, to);
    if (a !== c.from || b !== c.to) changed = true;
    if (b > a) {
      out.push(a === c.from && b === c.to ? c : { ...c, from: a, to: b });
    }
  }
  if (!changed) return claims;
  return out.length > 0 ? out : undefined;
}

/** Converts a batch to an array of rows. */
export function batchToRows(batch: CandleBatch): CandleRow[] {
  return Array.from(batchRows(batch));
}

/**
 * Returns candles `[start, end)` of a batch as views on the same memory
 * (no copy). The sequence number is not carried over.
 */
export function sliceBatch(
  batch: CandleBatch,
  start: number,
  end: number = batchLength(batch),
): CandleBatch {
  const out: CandleBatch = {
    time: batch.time.subarray(start, end),
    open: batch.open.subarray(start, end),
    high: batch.high.subarray(start, end),
    low: batch.low.subarray(start, end),
    close: batch.close.subarray(start, end),
    volume: batch.volume.subarray(start, end),
  };
  if (batch.extra) {
    return { ...out, extra: batch.extra.slice(start, end) };
  }
  return out;
}

/** Concatenates batches into one new batch (copies). Extra data is kept aligned. */
export function concatBatches(
  batches: ReadonlyArray<CandleBatch>,
): CandleBatch {
  let n = 0;
  let anyExtra = false;
  for (const b of batches) {
    n += batchLength(b);
    if (b.extra) anyExtra = true;
  }
  const out = allocBatch(n);
  const extra: (CandleExtra | undefined)[] | undefined = anyExtra
    ? new Array(n).fill(undefined)
    : undefined;
  let off = 0;
  for (const b of batches) {
    out.time.set(b.time, off);
    out.open.set(b.open, off);
    out.high.set(b.high, off);
    out.low.set(b.low, off);
    out.close.set(b.close, off);
    out.volume.set(b.volume, off);
    if (extra && b.extra) {
      for (let i = 0; i < b.extra.length; i++) extra[off + i] = b.extra[i];
    }
    off += batchLength(b);
  }
  return extra ? { ...out, extra } : out;
}

/**
 * Keeps the candles at the given indices (ascending), copying them into a new
 * batch. Used by stages that drop candles.
 */
export function selectCandles(
  batch: CandleBatch,
  indices: ArrayLike<number>,
  count: number = indices.length,
): CandleBatch {
  const out = allocBatch(count);
  const extra = batch.extra
    ? new Array<CandleExtra | undefined>(count)
    : undefined;
  for (let j = 0; j < count; j++) {
    const i = indices[j]!;
    out.time[j] = batch.time[i]!;
    out.open[j] = batch.open[i]!;
    out.high[j] = batch.high[i]!;
    out.low[j] = batch.low[i]!;
    out.close[j] = batch.close[i]!;
    out.volume[j] = batch.volume[i]!;
    if (extra) extra[j] = batch.extra![i];
  }
  return extra ? { ...out, extra } : out;
}

/** Throws a `TypeError` when the value is not a well-formed {@linkcode CandleBatch}. */
export function assertCandleBatch(
  value: unknown,
): asserts value is CandleBatch {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `Expected a CandleBatch object, got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  const b = value as Record<string, unknown>;
  let n = -1;
  for (const c of CANDLE_COLUMNS) {
    const col = b[c];
    if (!(col instanceof Float64Array)) {
      throw new TypeError(`CandleBatch column "${c}" must be a Float64Array`);
    }
    if (n === -1) n = col.length;
    else if (col.length !== n) {
      throw new TypeError(
        `CandleBatch columns differ in length: "time" has ${n}, "${c}" has ${col.length}`,
      );
    }
  }
  if (
    b.extra !== undefined && (!Array.isArray(b.extra) || b.extra.length !== n)
  ) {
    throw new TypeError(`CandleBatch "extra" must be an array of ${n} entries`);
  }
}
