/**
 * The `.ohlcv` mutations of the fuzz bench: the weighted table of byte
 * operators (bit flips, header and descriptor fields, truncation, appended
 * junk, duplicated / removed / swapped records, stored times and values,
 * spliced headers, ...) and the input of one `.ohlcv` trial, which stacks
 * one to three of them, now and then on top of a random valid layout.
 *
 * @module
 */

import {
  type Corpus,
  layoutOf,
  type Mutated,
  type OhlcvSeed,
} from "./_corpus.ts";
import { readLE, writeLE } from "./_ohlcv_bytes.ts";
import { relayout } from "./_ohlcv_relayout.ts";
import { opCount, Rng, trialSeed, weighted } from "./_prng.ts";

const INTERESTING_U64 = [
  0n,
  1n,
  2n,
  3n,
  5n,
  6n,
  7n,
  8n,
  24n,
  36n,
  40n,
  44n,
  48n,
  64n,
  208n,
  255n,
  256n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  1n << 40n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

/** The fixed header's fields (spec section 1): name, offset, width. */
const HEADER_FIELDS: readonly [string, number, number][] = [
  ["version_major", 8, 2],
  ["version_minor", 10, 2],
  ["header_size", 12, 4],
  ["record_size", 16, 4],
  ["column_count", 20, 2],
  ["flags", 22, 2],
  ["record_count", 24, 8],
  ["first_timestamp", 32, 8],
  ["last_timestamp", 40, 8],
  ["interval_value", 48, 4],
  ["interval_unit", 52, 1],
  ["padding", 53, 3],
  ["minmove", 56, 4],
  ["pricescale", 60, 4],
];

/** Float bit patterns for value fields: NaNs, infinities, extremes. */
const F64_BITS = [
  0x7ff8000000000000n,
  0xfff8000000000000n,
  0x7ff0000000000001n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7fefffffffffffffn,
  0x0000000000000001n,
  0x8000000000000000n,
  0x4330000000000000n,
  0xffffffffffffffffn,
];
const F32_BITS = [
  0x7fc00000n,
  0xffc00000n,
  0x7f800000n,
  0xff800000n,
  0x7f7fffffn,
  0x00000001n,
  0x80000000n,
  0xffffffffn,
];

interface OpResult {
  bytes: Uint8Array;
  desc: string;
  preserving?: boolean;
}

type ByteOp = (
  r: Rng,
  b: Uint8Array,
  s: OhlcvSeed,
  corpus?: readonly OhlcvSeed[],
) => OpResult;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function withByte(b: Uint8Array): Uint8Array {
  return b.length === 0 ? new Uint8Array(1) : b;
}

function flipBits(r: Rng, b: Uint8Array, lo: number, hi: number, n: number) {
  const out = b.slice();
  const where: number[] = [];
  hi = Math.min(hi, out.length);
  if (hi <= lo) return { out, where };
  for (let k = 0; k < n; k++) {
    const pos = r.range(lo, hi - 1);
    out[pos]! ^= 1 << r.int(8);
    where.push(pos);
  }
  return { out, where };
}

function storedTime(b: Uint8Array, s: OhlcvSeed, rec: number): bigint {
  const off = s.headerSize + rec * s.recordSize;
  return BigInt.asIntN(64, readLE(b, off, 8));
}

function interestingFor(r: Rng, cur: bigint, width: number): bigint {
  const x = r.next();
  if (x < 0.55) return r.pick(INTERESTING_U64);
  if (x < 0.8) return cur + BigInt(r.range(-3, 3));
  if (x < 0.9) return -BigInt(r.range(1, 1000));
  return BigInt.asUintN(width * 8, r.u64());
}

const BYTE_OPS: readonly [number, string, ByteOp][] = [
  [10, "bitflips", (r, b) => {
    const { out, where } = flipBits(r, withByte(b), 0, b.length, r.range(1, 8));
    return { bytes: out, desc: `flip bits at ${where.join(",")}` };
  }],
  [14, "header bitflips", (r, b, s) => {
    const hs = Math.max(64, s.headerSize);
    const { out, where } = flipBits(r, withByte(b), 0, hs, r.range(1, 4));
    return { bytes: out, desc: `flip header bits at ${where.join(",")}` };
  }],
  [8, "byte set", (r, b, s) => {
    const out = withByte(b).slice();
    const n = r.range(1, 4);
    const hs = Math.max(64, s.headerSize);
    const v = r.pick([0x00, 0xff, r.int(256)]);
    const at: number[] = [];
    for (let k = 0; k < n; k++) {
      const pos = r.chance(0.6)
        ? r.int(Math.min(hs, out.length))
        : r.int(out.length);
      out[pos] = v;
      at.push(pos);
    }
    return {
      bytes: out,
      desc: `set bytes ${at.join(",")} to 0x${v.toString(16)}`,
    };
  }],
  [18, "header field", (r, b, s) => {
    const out = b.slice();
    const [name, off, width] = r.pick(HEADER_FIELDS);
    const cur = readLE(out, off, width);
    let v = interestingFor(r, cur, width);
    if (name.endsWith("timestamp") && r.chance(0.3)) {
      v = cur + BigInt(r.pick([-86400000, -60000, -1000, 1, 60000, 86400000]));
    }
    writeLE(out, off, width, v);
    return {
      bytes: out,
      desc: `${name} = ${BigInt.asUintN(width * 8, v)}`,
      preserving: s.v2 && name === "version_minor" &&
        BigInt.asUintN(16, v) <= 1n && cur <= 1n,
    };
  }],
  [12, "descriptor field", (r, b, s) => {
    const out = b.slice();
    const col = r.int(Math.max(1, s.columnCount) + 1);
    const d = 64 + 24 * col;
    const field = r.pick(["role", "dtype", "base", "pad", "offset", "name"]);
    let desc: string;
    switch (field) {
      case "role":
      case "base": {
        const v = r.pick([0, 1, 2, 3, 4, 5, 6, 13, 14, 254, 255, r.int(256)]);
        out[d + (field === "role" ? 0 : 2)] = v;
        desc = `column ${col} ${field} = ${v}`;
        break;
      }
      case "dtype": {
        const v = r.pick([0, 1, 2, 3, 4, 5, 6, 7, 255, r.int(256)]);
        out[d + 1] = v;
        desc = `column ${col} dtype = ${v}`;
        break;
      }
      case "pad":
        out[d + 3] = r.range(1, 255);
        desc = `column ${col} padding = ${out[d + 3]}`;
        break;
      case "offset": {
        const v = r.pick([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 0xffff]);
        writeLE(out, d + 4, 2, BigInt(r.chance(0.8) ? v : r.int(0x10000)));
        desc = `column ${col} byte_offset = ${readLE(out, d + 4, 2)}`;
        break;
      }
      default: {
        const k = r.int(18);
        const v = r.pick([0, 0x20, 0x41, 0x7f, 0x80, 0xff, r.int(256)]);
        out[d + 6 + k] = v;
        desc = `column ${col} name byte ${k} = 0x${v.toString(16)}`;
      }
    }
    return { bytes: out, desc };
  }],
  [5, "swap descriptors", (r, b, s) => {
    const n = Math.max(2, s.columnCount);
    const i = r.int(n), j = r.int(n);
    const out = b.slice();
    const di = 64 + 24 * i, dj = 64 + 24 * j;
    if (dj + 24 > out.length || di + 24 > out.length) {
      return { bytes: out, desc: `swap descriptors ${i}/${j} (out of range)` };
    }
    const a = out.slice(di, di + 24);
    out.copyWithin(di, dj, dj + 24);
    out.set(a, dj);
    return {
      bytes: out,
      desc: `swap descriptors ${i} and ${j}`,
      preserving: s.v2,
    };
  }],
  [9, "truncate", (r, b, s) => {
    const x = r.next();
    let len: number;
    if (x < 0.3) len = r.int(Math.min(b.length, s.headerSize + 8) + 1);
    else if (x < 0.6) {
      len = s.headerSize + r.int(s.count + 1) * s.recordSize + r.range(-3, 3);
    } else len = r.int(b.length + 1);
    len = Math.max(0, Math.min(b.length, len));
    return { bytes: b.slice(0, len), desc: `truncate to ${len} bytes` };
  }],
  [8, "append junk", (r, b, s) => {
    const kind = r.pick(["random", "zeros", "ff", "record", "text"]);
    const n = r.chance(0.5) ? r.range(1, 3 * s.recordSize) : r.range(1, 4096);
    let junk = new Uint8Array(n);
    if (kind === "random") { for (let k = 0; k < n; k++) junk[k] = r.int(256); }
    else if (kind === "ff") junk.fill(0xff);
    else if (kind === "record" && b.length >= s.recordSize) {
      junk = b.slice(b.length - s.recordSize);
    } else if (kind === "text") {
      junk = new TextEncoder().encode(
        "timestamp,open,high,low,close\n1,2,3,4\n",
      );
    }
    const out = new Uint8Array(b.length + junk.length);
    out.set(b);
    out.set(junk, b.length);
    return {
      bytes: out,
      desc: `append ${junk.length} ${kind} bytes`,
      preserving: s.v2,
    };
  }],
  [6, "duplicate record", (r, b, s) => {
    const k = r.int(Math.max(1, s.count));
    const off = Math.min(b.length, s.headerSize + k * s.recordSize);
    const rec = b.slice(off, off + s.recordSize);
    const cut = off + rec.length;
    return {
      bytes: concat(b.subarray(0, cut), rec, b.subarray(cut)),
      desc: `duplicate record ${k} (${rec.length} bytes)`,
    };
  }],
  [6, "remove record", (r, b, s) => {
    const k = r.int(Math.max(1, s.count));
    const off = Math.min(b.length, s.headerSize + k * s.recordSize);
    return {
      bytes: concat(b.subarray(0, off), b.subarray(off + s.recordSize)),
      desc: `remove record ${k}`,
    };
  }],
  [4, "swap records", (r, b, s) => {
    const out = b.slice();
    if (s.count < 2) return { bytes: out, desc: "swap (fewer than 2 records)" };
    const i = r.int(s.count), j = r.int(s.count);
    const oi = s.headerSize + i * s.recordSize;
    const oj = s.headerSize + j * s.recordSize;
    if (Math.max(oi, oj) + s.recordSize > out.length) {
      return { bytes: out, desc: `swap records ${i}/${j} (past the end)` };
    }
    const a = out.slice(oi, oi + s.recordSize);
    out.copyWithin(oi, oj, oj + s.recordSize);
    out.set(a, oj);
    return { bytes: out, desc: `swap records ${i} and ${j}` };
  }],
  [7, "shrink count consistently", (r, b, s) => {
    const out = b.slice();
    if (!s.v2) return { bytes: out, desc: "shrink (v1)" };
    const k = r.int(s.count + 1);
    writeLE(out, 24, 8, BigInt(k));
    writeLE(out, 32, 8, k === 0 ? 0n : storedTime(out, s, 0));
    writeLE(out, 40, 8, k === 0 ? 0n : storedTime(out, s, k - 1));
    if (k < 2) out[22]! &= 0xfe;
    return { bytes: out, desc: `record_count = ${k}, first/last fixed` };
  }],
  [6, "stored time", (r, b, s) => {
    const out = b.slice();
    if (s.count === 0) return { bytes: out, desc: "stored time (no record)" };
    const k = r.int(s.count);
    const off = s.headerSize + k * s.recordSize;
    const cur = s.v2 ? readLE(out, off, 8) : readLE(out, off, 4);
    const v = interestingFor(r, cur, s.v2 ? 8 : 4);
    writeLE(out, off, s.v2 ? 8 : 4, v);
    return { bytes: out, desc: `record ${k} time = ${v}` };
  }],
  [7, "stored value", (r, b, s) => {
    const out = b.slice();
    if (s.count === 0) return { bytes: out, desc: "stored value (no record)" };
    const k = r.int(s.count);
    const rel = r.range(s.v2 ? 8 : 4, s.recordSize - 4);
    const off = s.headerSize + k * s.recordSize + rel;
    const f64 = s.v2 && r.chance(0.5) && rel + 8 <= s.recordSize;
    const v = f64 ? r.pick(F64_BITS) : r.pick(F32_BITS);
    writeLE(out, off, f64 ? 8 : 4, v);
    return {
      bytes: out,
      desc: `record ${k} bytes +${rel} = 0x${v.toString(16)}`,
    };
  }],
  [4, "magic", (r, b) => {
    const out = withByte(b).slice();
    const k = r.int(Math.min(8, out.length));
    out[k] = r.chance(0.5) ? r.int(256) : 0;
    return { bytes: out, desc: `magic byte ${k} = 0x${out[k]!.toString(16)}` };
  }],
  [3, "splice header", (r, b, s, corpus) => {
    const other = corpus ? r.pick(corpus) : s;
    const hs = Math.min(other.bytes.length, Math.max(64, other.headerSize));
    const out = b.length >= hs ? b.slice() : new Uint8Array(hs);
    if (b.length < hs) out.set(b);
    out.set(other.bytes.subarray(0, hs));
    return { bytes: out, desc: `header of ${other.name}` };
  }],
];

/** The input of one `.ohlcv` trial. */
export function mutateOhlcv(
  corpus: Corpus,
  seed: number,
  trial: number,
): Mutated<Uint8Array> {
  const r = new Rng(trialSeed(seed, "ohlcv", trial));
  const valid = corpus.ohlcv.filter((s) => s.decoded !== undefined);
  const s = r.chance(0.85) ? r.pick(valid) : r.pick(corpus.ohlcv);
  let bytes = s.bytes;
  let lay: OhlcvSeed = s;
  const ops: string[] = [];
  let preserving = true;
  let expected = s.decoded;
  let n = opCount(r);
  if (s.decoded && s.decoded.time.length > 0 && r.chance(0.15)) {
    // A valid layout the writer never makes, then (maybe) damage on top.
    const re = relayout(r, s.decoded, s.bytes);
    bytes = re.bytes;
    lay = { ...layoutOf(s.name, bytes), decoded: undefined };
    ops.push(`random layout: ${re.desc}`);
    expected = re.expected;
    n--;
  }
  for (; n > 0; n--) {
    const [name, op] = weighted(r, BYTE_OPS);
    const res = op(r, bytes, lay, corpus.ohlcv);
    bytes = res.bytes;
    ops.push(`${name}: ${res.desc}`);
    preserving &&= res.preserving === true;
  }
  const out: Mutated<Uint8Array> = {
    input: bytes,
    source: s.name,
    ops,
    preserving,
  };
  if (preserving && expected) out.expected = expected;
  return out;
}
