/**
 * Private: encoding and decoding of `.ohlcv` records (v2 standard layouts, any
 * valid v2 layout, legacy v1). Hot loops work on one DataView per buffer and
 * write straight into the batch's Float64Arrays: no per-candle allocation.
 *
 * @module
 */

import type { CandleBatch } from "./candle_batch.ts";
import {
  BASE_ABSOLUTE,
  type ColumnDescriptor,
  DTYPE_F32,
  DTYPE_F64,
  PROMOTE_CLOSE,
  PROMOTE_HIGH,
  PROMOTE_LOW,
  ROLE_CLOSE,
  ROLE_CUSTOM,
  ROLE_HIGH,
  ROLE_LOW,
  ROLE_OPEN,
  ROLE_TIME,
  ROLE_VOLUME,
  standardLayout,
  V1_RECORD_SIZE,
} from "./_header.ts";
import {
  EPS23,
  EPS50,
  EPS52,
  F32_OVERFLOW,
  pyRound,
  ROUND_MAGIC,
  snapDelta,
  snapDeltaColumn,
  snapOpen,
  snapOpenColumn,
  TWO51,
} from "./_promotion.ts";

const TWO32 = 4294967296;
const INV_TWO32 = 1 / 4294967296;
const F32_NAN_BITS = 0x7fc00000;
const F64_NAN_HI = 0x7ff80000;

/**
 * Encodes candles `[start, end)` of a batch in the standard layout of `mask`
 * at `offset` of `dv`. Values must already be validated (no ±Infinity, no
 * number over a NaN open in a delta column, no float32 overflow). NaNs are
 * written as the canonical NaN bytes.
 */
export function encodeStandard(
  batch: CandleBatch,
  start: number,
  end: number,
  mask: number,
  dv: DataView,
  offset: number,
): void {
  const layout = standardLayout(mask);
  const rs = layout.recordSize;
  const oh = layout.high, ol = layout.low, oc = layout.close;
  const ov = layout.volume;
  const ph = (mask & PROMOTE_HIGH) !== 0;
  const pl = (mask & PROMOTE_LOW) !== 0;
  const pc = (mask & PROMOTE_CLOSE) !== 0;
  const { time, open, high, low, close, volume } = batch;
  let p = offset;
  for (let i = start; i < end; i++, p += rs) {
    const t = time[i]!;
    const hi = Math.floor(t * INV_TWO32);
    dv.setUint32(p, t - hi * TWO32, true);
    dv.setInt32(p + 4, hi, true);
    const o = open[i]!;
    if (o === o) dv.setFloat64(p + 8, o, true);
    else {
      dv.setUint32(p + 8, 0, true);
      dv.setUint32(p + 12, F64_NAN_HI, true);
    }
    const h = high[i]!;
    if (ph) setF64(dv, p + oh, h);
    else if (h === h) dv.setFloat32(p + oh, h - o, true);
    else dv.setUint32(p + oh, F32_NAN_BITS, true);
    const l = low[i]!;
    if (pl) setF64(dv, p + ol, l);
    else if (l === l) dv.setFloat32(p + ol, l - o, true);
    else dv.setUint32(p + ol, F32_NAN_BITS, true);
    const c = close[i]!;
    if (pc) setF64(dv, p + oc, c);
    else if (c === c) dv.setFloat32(p + oc, c - o, true);
    else dv.setUint32(p + oc, F32_NAN_BITS, true);
    const v = volume[i]!;
    if (v === v) dv.setFloat64(p + ov, v, true);
    else {
      dv.setUint32(p + ov, 0, true);
      dv.setUint32(p + ov + 4, F64_NAN_HI, true);
    }
  }
}

function setF64(dv: DataView, p: number, x: number): void {
  if (x === x) dv.setFloat64(p, x, true);
  else {
    dv.setUint32(p, 0, true);
    dv.setUint32(p + 4, F64_NAN_HI, true);
  }
}

let deltaScratch = new Float64Array(0);

/**
 * Decodes `n` records of a standard layout starting at `offset` of `dv` into
 * `out` at `outStart`, snapping to the grid when `minmove > 0`. Two phases:
 * raw decoding (float32 deltas kept aside), then tight per-column snapping.
 */
export function decodeStandard(
  dv: DataView,
  offset: number,
  n: number,
  mask: number,
  minmove: number,
  pricescale: number,
  out: CandleBatch,
  outStart: number,
): void {
  const layout = standardLayout(mask);
  const rs = layout.recordSize;
  const oh = layout.high, ol = layout.low, oc = layout.close;
  const ov = layout.volume;
  const ph = (mask & PROMOTE_HIGH) !== 0;
  const pl = (mask & PROMOTE_LOW) !== 0;
  const pc = (mask & PROMOTE_CLOSE) !== 0;
  const grid = minmove > 0;
  if (mask === 0 && grid) {
    decodeGrid36(dv, offset, n, minmove, pricescale, out, outStart);
    return;
  }
  if (grid && deltaScratch.length < 3 * n) {
    deltaScratch = new Float64Array(3 * n);
  }
  const dh = deltaScratch.subarray(0, n);
  const dl = deltaScratch.subarray(n, 2 * n);
  const dc = deltaScratch.subarray(2 * n, 3 * n);
  const { time, open, high, low, close, volume } = out;
  let p = offset;
  for (let j = outStart, k = 0; k < n; j++, k++, p += rs) {
    time[j] = dv.getInt32(p + 4, true) * TWO32 + dv.getUint32(p, true);
    const o = dv.getFloat64(p + 8, true);
    open[j] = o;
    if (ph) high[j] = dv.getFloat64(p + oh, true);
    else {
      const d = dv.getFloat32(p + oh, true);
      high[j] = o + d;
      if (grid) dh[k] = d;
    }
    if (pl) low[j] = dv.getFloat64(p + ol, true);
    else {
      const d = dv.getFloat32(p + ol, true);
      low[j] = o + d;
      if (grid) dl[k] = d;
    }
    if (pc) close[j] = dv.getFloat64(p + oc, true);
    else {
      const d = dv.getFloat32(p + oc, true);
      close[j] = o + d;
      if (grid) dc[k] = d;
    }
    volume[j] = dv.getFloat64(p + ov, true);
  }
  if (!grid) return;
  const s = pricescale / minmove;
  const end = outStart + n;
  if (!ph) snapDeltaColumn(high, dh, outStart, end, s, minmove, pricescale);
  if (!pl) snapDeltaColumn(low, dl, outStart, end, s, minmove, pricescale);
  if (!pc) snapDeltaColumn(close, dc, outStart, end, s, minmove, pricescale);
  snapOpenColumn(open, outStart, end, s, minmove, pricescale);
}

/**
 * The hot path: 36-byte records with a grid. One fused loop; values whose
 * rounding needs care (NaN, |x| >= 2^51) take the exact per-value path.
 */
function decodeGrid36(
  dv: DataView,
  offset: number,
  n: number,
  minmove: number,
  pricescale: number,
  out: CandleBatch,
  outStart: number,
): void {
  const s = pricescale / minmove;
  const M = ROUND_MAGIC;
  const { time, open, high, low, close, volume } = out;
  let p = offset;
  for (let j = outStart, end = outStart + n; j < end; j++, p += 36) {
    time[j] = dv.getInt32(p + 4, true) * TWO32 + dv.getUint32(p, true);
    const o = dv.getFloat64(p + 8, true);
    const dh = dv.getFloat32(p + 16, true);
    const dl = dv.getFloat32(p + 20, true);
    const dc = dv.getFloat32(p + 24, true);
    volume[j] = dv.getFloat64(p + 28, true);
    const h = o + dh, l = o + dl, c = o + dc;
    const xo = o * s, xh = h * s, xl = l * s, xc = c * s;
    if (
      Math.abs(xo) < TWO51 && Math.abs(xh) < TWO51 && Math.abs(xl) < TWO51 &&
      Math.abs(xc) < TWO51
    ) {
      // x + M - M is Python's round(x) here (ties to even, never -0).
      const go = (xo + M - M) * minmove / pricescale;
      const gh = (xh + M - M) * minmove / pricescale;
      const gl = (xl + M - M) * minmove / pricescale;
      const gc = (xc + M - M) * minmove / pricescale;
      open[j] = Math.abs(go - o) <= Math.abs(o) * EPS52 ? go : o;
      high[j] = Math.abs(gh - h) <= Math.abs(dh) * EPS23 + Math.abs(h) * EPS52
        ? gh
        : h;
      low[j] = Math.abs(gl - l) <= Math.abs(dl) * EPS23 + Math.abs(l) * EPS52
        ? gl
        : l;
      close[j] = Math.abs(gc - c) <= Math.abs(dc) * EPS23 + Math.abs(c) * EPS52
        ? gc
        : c;
    } else {
      // NaN somewhere, or huge values: the exact per-value formulas.
      open[j] = o === o ? snapOpen(o, s, minmove, pricescale) : o;
      high[j] = h === h ? snapDelta(h, dh, s, minmove, pricescale) : h;
      low[j] = l === l ? snapDelta(l, dl, s, minmove, pricescale) : l;
      close[j] = c === c ? snapDelta(c, dc, s, minmove, pricescale) : c;
    }
  }
}

/** Parameters of {@linkcode validateEncode36}. */
export interface FastWriteParams {
  /** Time of the last committed record, or -Infinity. */
  prev: number;
  /** `resolutionLimit(half tick)`, or 0 without a grid. */
  limit: number;
  minmove: number;
  pricescale: number;
}

/**
 * The writer's hot path for 36-byte records (nothing promoted): validates
 * and encodes in one pass. Returns `n` when every candle is valid, finite,
 * NaN-free and needs no promotion (the records are then encoded at `dv`);
 * otherwise the index of the first candle that needs the careful path
 * (an error, a NaN, a promotion, or a grid decision needing the exact
 * formula), and the caller redoes the batch carefully.
 */
export function validateEncode36(
  batch: CandleBatch,
  n: number,
  params: FastWriteParams,
  dv: DataView,
): number {
  const { time, open, high, low, close, volume } = batch;
  const mm = params.minmove, ps = params.pricescale;
  const grid = mm > 0;
  const limit = grid ? params.limit : F32_OVERFLOW;
  const s = ps / mm;
  const M = ROUND_MAGIC;
  let prev = params.prev;
  let p = 0;
  for (let i = 0; i < n; i++, p += 36) {
    const t = time[i]!;
    if (!(t > prev) || Math.floor(t) !== t || t > 9007199254740991) return i;
    prev = t;
    const o = open[i]!, h = high[i]!, l = low[i]!, c = close[i]!;
    const v = volume[i]!;
    // NaN or ±Infinity in open/high/low/close makes a delta NaN or infinite,
    // which fails the |delta| < limit test below; volume is checked here.
    if (v - v !== 0) return i;
    if (h < o || h < c || l > o || l > c) return i;
    const dh = h - o, dl = l - o, dc = c - o;
    if (
      !(Math.abs(dh) < limit && Math.abs(dl) < limit && Math.abs(dc) < limit)
    ) {
      return i;
    }
    if (grid) {
      // On the grid for certain (see EPS50); anything else: careful path.
      // With |x| >= 2^51 a value is always within the tolerance, and the
      // test then accepts (|r - x| <= 1 <= |x| * 2^-50) or, for an infinite
      // x, sends the candle to the careful path.
      const xh = h * s, xl = l * s, xc = c * s;
      if (
        !(Math.abs(xh + M - M - xh) <= Math.abs(xh) * EPS50 &&
          Math.abs(xl + M - M - xl) <= Math.abs(xl) * EPS50 &&
          Math.abs(xc + M - M - xc) <= Math.abs(xc) * EPS50)
      ) return i;
    }
    const hi = Math.floor(t * INV_TWO32);
    dv.setUint32(p, t - hi * TWO32, true);
    dv.setInt32(p + 4, hi, true);
    dv.setFloat64(p + 8, o, true);
    dv.setFloat32(p + 16, dh, true);
    dv.setFloat32(p + 20, dl, true);
    dv.setFloat32(p + 24, dc, true);
    dv.setFloat64(p + 28, v, true);
  }
  return n;
}

function readColumn(dv: DataView, p: number, dtype: number): number {
  switch (dtype) {
    case DTYPE_F32:
      return dv.getFloat32(p, true);
    case DTYPE_F64:
      return dv.getFloat64(p, true);
    default:
      return dv.getInt32(p + 4, true) * TWO32 + dv.getUint32(p, true);
  }
}

/**
 * Decodes `n` records of any valid v2 layout (slow path: columns in any order,
 * any dtype, delta chains). Missing roles decode as NaN; custom columns are
 * ignored. Snaps to the grid like {@linkcode decodeStandard}.
 */
export function decodeGeneric(
  dv: DataView,
  offset: number,
  n: number,
  recordSize: number,
  columns: ReadonlyArray<ColumnDescriptor>,
  minmove: number,
  pricescale: number,
  out: CandleBatch,
  outStart: number,
): void {
  const byRole = new Map<number, ColumnDescriptor>();
  for (const c of columns) if (c.role !== ROLE_CUSTOM) byRole.set(c.role, c);
  const grid = minmove > 0;
  const s = pricescale / minmove;
  const raw = new Map<number, number>();
  const rawOf = (role: number, p: number): number => {
    const known = raw.get(role);
    if (known !== undefined) return known;
    const c = byRole.get(role);
    let v = NaN;
    if (c) {
      v = readColumn(dv, p + c.offset, c.dtype);
      if (c.base !== BASE_ABSOLUTE) v += rawOf(c.base, p);
    }
    raw.set(role, v);
    return v;
  };
  const cols = [out.time, out.open, out.high, out.low, out.close, out.volume];
  for (let i = 0; i < n; i++) {
    const p = offset + i * recordSize;
    raw.clear();
    for (let role = ROLE_TIME; role <= ROLE_VOLUME; role++) {
      let v = rawOf(role, p);
      const c = byRole.get(role);
      if (grid && c && v === v && role !== ROLE_VOLUME && role !== ROLE_TIME) {
        if (role === ROLE_OPEN && c.base === BASE_ABSOLUTE) {
          const g = pyRound(v * s) * minmove / pricescale;
          if (Math.abs(g - v) <= Math.abs(v) * EPS52) v = g;
        } else if (
          c.base === ROLE_OPEN &&
          (role === ROLE_HIGH || role === ROLE_LOW || role === ROLE_CLOSE)
        ) {
          const d = readColumn(dv, p + c.offset, c.dtype);
          const g = pyRound(v * s) * minmove / pricescale;
          if (Math.abs(g - v) <= Math.abs(d) * EPS23 + Math.abs(v) * EPS52) {
            v = g;
          }
        }
      }
      cols[role]![outStart + i] = v;
    }
  }
}

/** Decodes `n` legacy v1 records (u32 seconds, five float32) into `out`. */
export function decodeV1(
  dv: DataView,
  offset: number,
  n: number,
  out: CandleBatch,
  outStart: number,
): void {
  const { time, open, high, low, close, volume } = out;
  let p = offset;
  for (
    let j = outStart, end = outStart + n;
    j < end;
    j++, p += V1_RECORD_SIZE
  ) {
    time[j] = dv.getUint32(p, true) * 1000;
    open[j] = dv.getFloat32(p + 4, true);
    high[j] = dv.getFloat32(p + 8, true);
    low[j] = dv.getFloat32(p + 12, true);
    close[j] = dv.getFloat32(p + 16, true);
    volume[j] = dv.getFloat32(p + 20, true);
  }
}
