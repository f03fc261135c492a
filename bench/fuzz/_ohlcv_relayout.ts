/**
 * A valid `.ohlcv` layout the writer never makes, for the fuzz bench: the
 * fixture's candles re-encoded with columns in any order and at any byte
 * offsets, in any value type, as deltas of other columns, with roles left
 * out and extra columns added, together with the candles the reader must
 * decode from it.
 *
 * @module
 */

import type { CandleBatch } from "../../format/candle_batch.ts";
import type { Rng } from "./_prng.ts";
import { hasMagic, MAGIC, readLE } from "./_ohlcv_bytes.ts";

interface LayoutColumn {
  role: number;
  dtype: number;
  base: number;
  offset: number;
  name: string;
}

const ROLE_NAMES = ["timestamp", "open", "high", "low", "close", "volume"];
const DTYPE_BYTES: Record<number, number> = { 2: 8, 5: 4, 6: 8 };

/**
 * Re-encodes candles in a random valid v2 layout: columns in any order and
 * at any byte offsets, float32 / float64 / int64 values, deltas of any
 * earlier column (chains), roles left out, reserved and custom columns. No
 * tick grid, so the expected candles follow exactly (spec section 5: value =
 * stored delta + the base's raw value, in float64; a missing role is NaN).
 */
export function relayout(
  r: Rng,
  candles: CandleBatch,
  seedBytes: Uint8Array,
): { bytes: Uint8Array; desc: string; expected: CandleBatch } {
  const n = Math.min(candles.time.length, 200);
  const values = [
    candles.open,
    candles.high,
    candles.low,
    candles.close,
    candles.volume,
  ];
  // Value roles present, in a random order: a column may be a delta of any
  // column before it in this order (so there are no cycles).
  const roles = [1, 2, 3, 4, 5].filter(() => r.chance(0.85));
  for (let i = roles.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [roles[i], roles[j]] = [roles[j]!, roles[i]!];
  }
  const cols: LayoutColumn[] = [
    { role: 0, dtype: 2, base: 255, offset: 0, name: "timestamp" },
  ];
  roles.forEach((role, i) => {
    const base = i > 0 && r.chance(0.5) ? roles[r.int(i)]! : 255;
    cols.push({
      role,
      dtype: r.pick([5, 6, 6, 2]),
      base,
      offset: 0,
      name: r.chance(0.9) ? ROLE_NAMES[role]! : `x${role}`,
    });
  });
  const extraRoles = [6, 7, 13, 255, 255].filter(() => r.chance(0.15));
  for (const role of new Set(extraRoles)) {
    cols.push({
      role,
      dtype: r.pick([2, 5, 6]),
      base: 255,
      offset: 0,
      name: role === 255 ? "ask_close" : `reserved${role}`,
    });
  }
  // Descriptor order and byte placement, both shuffled.
  const order = cols.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  let off = 0;
  for (const i of order) {
    cols[i]!.offset = off;
    off += DTYPE_BYTES[cols[i]!.dtype]!;
  }
  const recordSize = off;
  const desc = [...cols];
  for (let i = desc.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [desc[i], desc[j]] = [desc[j]!, desc[i]!];
  }
  const headerSize = 64 + 24 * desc.length;
  const bytes = new Uint8Array(headerSize + n * recordSize);
  const dv = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  dv.setUint16(8, 2, true);
  dv.setUint16(10, r.int(2), true);
  dv.setUint32(12, headerSize, true);
  dv.setUint32(16, recordSize, true);
  dv.setUint16(20, desc.length, true);
  dv.setBigUint64(24, BigInt(n), true);
  dv.setBigInt64(32, BigInt(candles.time[0]!), true);
  dv.setBigInt64(40, BigInt(candles.time[n - 1]!), true);
  // The seed's period when it has one (v1: one minute).
  const v2seed = hasMagic(seedBytes);
  dv.setUint32(48, v2seed ? Number(readLE(seedBytes, 48, 4)) || 1 : 1, true);
  dv.setUint8(52, v2seed ? seedBytes[52]! : 2);
  desc.forEach((c, i) => {
    const d = 64 + 24 * i;
    bytes[d] = c.role;
    bytes[d + 1] = c.dtype;
    bytes[d + 2] = c.base;
    dv.setUint16(d + 4, c.offset, true);
    for (let k = 0; k < c.name.length; k++) {
      bytes[d + 6 + k] = c.name.charCodeAt(k);
    }
  });
  const expected: CandleBatch = {
    time: candles.time.slice(0, n),
    open: new Float64Array(n).fill(NaN),
    high: new Float64Array(n).fill(NaN),
    low: new Float64Array(n).fill(NaN),
    close: new Float64Array(n).fill(NaN),
    volume: new Float64Array(n).fill(NaN),
  };
  const out = [
    expected.time,
    expected.open,
    expected.high,
    expected.low,
    expected.close,
    expected.volume,
  ];
  const byRole = new Map(cols.map((c) => [c.role, c]));
  for (let k = 0; k < n; k++) {
    const p = headerSize + k * recordSize;
    const raw = new Map<number, number>();
    for (const c of cols) {
      const v = c.role === 0
        ? candles.time[k]!
        : c.role <= 5
        ? values[c.role - 1]![k]!
        : r.next() * 100;
      const baseRaw = c.base === 255 ? 0 : raw.get(c.base)!;
      const stored = c.base === 255 ? v : v - baseRaw;
      let got: number;
      if (c.dtype === 5) {
        dv.setFloat32(p + c.offset, stored, true);
        got = dv.getFloat32(p + c.offset, true);
      } else if (c.dtype === 6) {
        dv.setFloat64(p + c.offset, stored, true);
        got = dv.getFloat64(p + c.offset, true);
      } else {
        const i = Number.isFinite(stored) ? Math.trunc(stored) : 0;
        dv.setBigInt64(p + c.offset, BigInt(i), true);
        got = i;
      }
      // Columns were pushed base-first (time, then roles in order), so a
      // base's raw value is known here.
      raw.set(c.role, c.base === 255 ? got : got + baseRaw);
    }
    for (let role = 1; role <= 5; role++) {
      if (byRole.has(role)) out[role]![k] = raw.get(role)!;
    }
  }
  const describe = (c: LayoutColumn) =>
    `${c.name}:${c.role}/${c.dtype}${
      c.base === 255 ? "" : `Δ${c.base}`
    }@${c.offset}`;
  return {
    bytes,
    desc: `${recordSize}-byte records, ${desc.map(describe).join(" ")}`,
    expected,
  };
}
