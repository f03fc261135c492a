/**
 * Private: the writer's whole-batch validation (pass 1): times strictly
 * increasing whole milliseconds, finite prices, OHLC relations, float32
 * deltas (promotion on a tick grid, an error without one), the DENSE flag
 * after the batch, and the tick grid check of the writer's options. Nothing
 * here writes; a bad candle throws a `RangeError` naming it.
 *
 * @module
 */

import type { CandleBatch } from "./candle_batch.ts";
import { firstFailing, resolutionLimit } from "./_promotion.ts";

const MAX_U32 = 0xffffffff;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A tick grid: `mintick = minmove / pricescale`. */
export interface Grid {
  minmove: number;
  pricescale: number;
}

/** What a batch is validated against: the writer's planned state before it. */
export interface BatchBase {
  /** Records before the batch. */
  count: number;
  /** Time of the last record before the batch (when `count > 0`). */
  last: number;
  /** The DENSE flag before the batch. */
  dense: boolean;
  /** Promoted columns so far (bit 1 high, 2 low, 4 close). */
  mask: number;
  /** Tick grid numerator (0 = no grid). */
  minmove: number;
  /** Tick grid denominator (0 = no grid). */
  pricescale: number;
  /** One period in ms (0 = never dense, e.g. months). */
  periodMs: number;
}

/** The outcome of validating a batch (pass 1): nothing is written yet. */
export interface Plan {
  /** Pairs `[index, maskFromThatCandleOn]` where promotion happens. */
  events: number[];
  mask: number;
  dense: boolean;
}

/**
 * Checks the writer's `minmove`/`pricescale` options: both or neither, each a
 * whole number from 1 to 2^32 - 1. Returns `null` for neither.
 */
export function checkGrid(minmove: unknown, pricescale: unknown): Grid | null {
  if (minmove === undefined && pricescale === undefined) return null;
  if (minmove === undefined || pricescale === undefined) {
    throw new TypeError(
      "minmove and pricescale go together: give both or neither",
    );
  }
  for (const [name, v] of [["minmove", minmove], ["pricescale", pricescale]]) {
    if (typeof v !== "number") {
      throw new TypeError(`${name} must be a number, got ${typeof v}`);
    }
    if (!Number.isInteger(v) || v < 1 || v > MAX_U32) {
      throw new RangeError(
        `${name} must be a whole number from 1 to ${MAX_U32}, got ${v}`,
      );
    }
  }
  return { minmove: minmove as number, pricescale: pricescale as number };
}

/** Pass 1: checks every candle of `batch[0, n)` and plans promotions. Throws RangeError. */
export function validateBatch(
  batch: CandleBatch,
  n: number,
  base: BatchBase,
): Plan {
  const { time, open, high, low, close, volume } = batch;
  // Times, finiteness and OHLC relations, in one tight loop; the slow path
  // only runs to build the error message.
  let prev = base.count > 0 ? base.last : -Infinity;
  for (let i = 0; i < n; i++) {
    const t = time[i]!;
    if (!(t > prev) || Math.floor(t) !== t || t > MAX_SAFE) {
      timeError(i, t, prev);
    }
    prev = t;
    const o = open[i]!, h = high[i]!, l = low[i]!, c = close[i]!;
    const v = volume[i]!;
    if (o - o + (h - h) + (l - l) + (c - c) + (v - v) !== 0) {
      infinityCheck(i, t, o, h, l, c, v);
    }
    if ((h < o || h < c || l > o || l > c) && o === o && c === c) {
      relationError(i, t, o, h, l, c);
    }
  }
  const dense = denseAfter(time, n, base);
  // Float32 deltas: promotion (grid) or errors (no grid), column by column.
  let mask = base.mask;
  const events: number[] = [];
  if (base.minmove > 0) {
    const mm = base.minmove, ps = base.pricescale;
    const s = ps / mm;
    const limit = resolutionLimit(mm / ps / 2);
    let fh = mask & 1 ? n : firstFailing(high, open, 0, n, limit, s, mm, ps);
    let fl = mask & 2 ? n : firstFailing(low, open, 0, n, limit, s, mm, ps);
    let fc = mask & 4 ? n : firstFailing(close, open, 0, n, limit, s, mm, ps);
    for (;;) {
      const k = Math.min(fh, fl, fc);
      if (k >= n) break;
      let fails = 0;
      if (fh === k) (fails |= 1), (fh = n);
      if (fl === k) (fails |= 2), (fl = n);
      if (fc === k) (fails |= 4), (fc = n);
      mask |= fails;
      events.push(k, mask);
    }
  } else if (mask !== 7) {
    const cols: [Float64Array, number, string][] = [
      [high, 1, "high"],
      [low, 2, "low"],
      [close, 4, "close"],
    ];
    for (const [values, bit, name] of cols) {
      if (mask & bit) continue;
      const i = firstUnencodable(values, open, n);
      if (i < n) {
        unencodableError(i, time[i]!, open[i]!, values[i]!, name);
      }
    }
  }
  return { events, mask, dense };
}

/** The DENSE flag after appending these times (already validated). */
export function denseAfter(
  time: Float64Array,
  n: number,
  base: BatchBase,
): boolean {
  const periodMs = base.periodMs;
  // DENSE: one period between every adjacent pair; one hole clears it.
  let dense = base.dense;
  let start = 0;
  if (base.count === 0) {
    start = 1;
    if (n >= 2) {
      dense = periodMs > 0 && time[1]! - time[0]! === periodMs;
      start = 2;
    }
  } else if (base.count === 1) {
    dense = periodMs > 0 && time[0]! - base.last === periodMs;
    start = 1;
  }
  if (dense) {
    let p = start === 0 ? base.last : time[start - 1]!;
    for (let i = start; i < n; i++) {
      const t = time[i]!;
      if (t - p !== periodMs) {
        dense = false;
        break;
      }
      p = t;
    }
  }
  return dense;
}

/** Index of the first value that cannot be a float32 delta of its open (no grid), or `n`. */
function firstUnencodable(
  values: Float64Array,
  open: Float64Array,
  n: number,
): number {
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    if (x !== x) continue;
    const d = Math.fround(x - open[i]!);
    // NaN (open NaN) or ±Infinity (float32 overflow).
    if (!(d - d === 0)) return i;
  }
  return n;
}

function isoOrRaw(t: number): string {
  return Number.isFinite(t) && Math.abs(t) <= 8.64e15
    ? new Date(t).toISOString()
    : String(t);
}

function candleError(i: number, t: number, problem: string): RangeError {
  return new RangeError(
    `Candle ${i} of the batch (${isoOrRaw(t)}): ${problem}`,
  );
}

function timeError(i: number, t: number, prev: number): never {
  if (!Number.isSafeInteger(t)) {
    throw candleError(
      i,
      t,
      `time ${t} is not a whole number of milliseconds`,
    );
  }
  throw candleError(
    i,
    t,
    t === prev
      ? `duplicate time: equals the previous candle's time`
      : `out of order: before the previous candle's time ${isoOrRaw(prev)}`,
  );
}

function infinityCheck(
  i: number,
  t: number,
  ...vals: [number, number, number, number, number]
): void {
  const names = ["open", "high", "low", "close", "volume"];
  for (let k = 0; k < 5; k++) {
    const x = vals[k]!;
    if (x === Infinity || x === -Infinity) {
      throw candleError(
        i,
        t,
        `${names[k]} is ${x}; only finite numbers or NaN can be stored`,
      );
    }
  }
}

function relationError(
  i: number,
  t: number,
  o: number,
  h: number,
  l: number,
  c: number,
): void {
  if (h < o || h < c) {
    throw candleError(
      i,
      t,
      `high ${h} is below max(open, close) ${Math.max(o, c)}`,
    );
  }
  throw candleError(
    i,
    t,
    `low ${l} is above min(open, close) ${Math.min(o, c)}`,
  );
}

function unencodableError(
  i: number,
  t: number,
  o: number,
  x: number,
  name: string,
): never {
  if (o !== o) {
    throw candleError(
      i,
      t,
      `${name} ${x} cannot be stored as a float32 delta of a NaN open without a tick grid; set minmove/pricescale so the column can be promoted`,
    );
  }
  throw candleError(
    i,
    t,
    `${name} - open = ${
      x - o
    } overflows float32 and there is no tick grid to promote the column; set minmove/pricescale`,
  );
}
