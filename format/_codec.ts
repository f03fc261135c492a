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
  EPS52,
  pyRound,
  snapDeltaColumn,
  snapOpenColumn,
} from "./_promotion.ts";

const TWO32 = 4294967296;
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
    const hi = Math.floor(t / TWO32);
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
