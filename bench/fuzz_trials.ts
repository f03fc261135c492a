/**
 * Seeded fuzzing of every parser of untrusted bytes: the `.ohlcv` reader
 * (`OhlcvReader`), CSV and JSON candle import (`parseCsvCandles`,
 * `readCsvFile`, `parseJsonCandles`, `readJsonFile`) and symbol-info TOML
 * (`parseSymbolInfoToml`, plus `coverageFromToml` on its `[coverage]` table).
 * Each trial mutates a fixture of `tests/fixtures/pynecore/` (bit flips,
 * header fields, truncation, appended junk, duplicated / removed records,
 * junk fields, ...) and feeds it to the parser. The rule: the call returns a
 * well-formed result (see the `check*` functions) or throws a `FormatError`
 * — never another exception, never a trial over 2 s, never a hang, never
 * more than 1 GB of RSS. Trials run in a worker watched from the main thread,
 * so even a synchronous endless loop is reported (and the run goes on).
 *
 * `tests/fuzz_test.ts` runs a bounded number of trials in `deno task test`;
 * this script runs the full figures recorded in RELIABILITY.md:
 *
 * ```sh
 * deno run -A bench/fuzz_trials.ts [N=10000] [seed=20261206] [--only=ohlcv,csv,json,toml] [--verbose]
 * # one trial again: its mutations, its input written to a file, its outcome
 * deno run -A bench/fuzz_trials.ts --repro=csv:1234 [seed]
 * ```
 *
 * Every trial is seeded by `(seed, target, trial)` alone, so a failure is
 * reproduced with `--repro=TARGET:TRIAL` without running the trials before it.
 *
 * @module
 */

import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { parseCsvCandles, readCsvFile } from "../format/csv.ts";
import { parseJsonCandles, readJsonFile } from "../format/json.ts";
import type { ImportedCandles } from "../format/_candle_import.ts";
import {
  parseSymbolInfoToml,
  stringifySymbolInfo,
  type SymbolInfoFile,
} from "../format/symbol_info_toml.ts";
import { coverageFromToml } from "../format/coverage.ts";
import { parsePeriod } from "../format/timeframe.ts";

// ---------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Helpers over {@linkcode mulberry32}. */
export class Rng {
  readonly #next: () => number;
  /** Creates a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }
  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  /** A whole number in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  /** A random element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** A random unsigned 64-bit integer. */
  u64(): bigint {
    return (BigInt(this.int(0x100000000)) << 32n) |
      BigInt(this.int(0x100000000));
  }
}

const TARGET_IDS = { ohlcv: 1, csv: 2, json: 3, toml: 4 } as const;

/** What is fuzzed. */
export type Target = keyof typeof TARGET_IDS;

/** All targets, in the order the bench runs them. */
export const TARGETS: readonly Target[] = ["ohlcv", "csv", "json", "toml"];

/** The seed of one trial: a hash of the run seed, the target and the trial. */
export function trialSeed(seed: number, target: Target, trial: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ TARGET_IDS[target];
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ trial;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** How many mutations one trial stacks: 1 (60%), 2 (25%) or 3 (15%). */
function opCount(r: Rng): number {
  const x = r.next();
  return x < 0.6 ? 1 : x < 0.85 ? 2 : 3;
}

// ---------------------------------------------------------------------------
// The corpus

const FIXTURES = new URL("../tests/fixtures/pynecore/", import.meta.url);
const MAGIC = [0x89, 0x50, 0x59, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a];

/** One `.ohlcv` fixture and the layout its header claims. */
interface OhlcvSeed {
  name: string;
  bytes: Uint8Array;
  v2: boolean;
  headerSize: number;
  recordSize: number;
  count: number;
  columnCount: number;
  /** The decoded candles when the fixture itself opens. */
  decoded: CandleBatch | undefined;
}

/** The seeds of every target. */
export interface Corpus {
  ohlcv: OhlcvSeed[];
  csv: { name: string; text: string }[];
  json: { name: string; value: unknown; text?: string }[];
  toml: { name: string; text: string }[];
}

function hasMagic(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

function readLE(b: Uint8Array, off: number, width: number): bigint {
  let v = 0n;
  for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[off + k] ?? 0);
  return v;
}

function writeLE(b: Uint8Array, off: number, width: number, v: bigint): void {
  const u = BigInt.asUintN(width * 8, v);
  for (let k = 0; k < width && off + k < b.length; k++) {
    b[off + k] = Number((u >> BigInt(8 * k)) & 0xffn);
  }
}

function layoutOf(name: string, bytes: Uint8Array): Omit<OhlcvSeed, "decoded"> {
  if (!hasMagic(bytes) || bytes.length < 64) {
    return {
      name,
      bytes,
      v2: false,
      headerSize: 0,
      recordSize: 24,
      count: Math.floor(bytes.length / 24),
      columnCount: 6,
    };
  }
  const columnCount = Number(readLE(bytes, 20, 2));
  let recordSize = Number(readLE(bytes, 16, 4));
  if (recordSize < 8 || recordSize > 64) recordSize = 36;
  let headerSize = Number(readLE(bytes, 12, 4));
  if (headerSize > bytes.length) headerSize = Math.min(208, bytes.length);
  const count = Math.max(
    0,
    Math.floor((bytes.length - headerSize) / recordSize),
  );
  return {
    name,
    bytes,
    v2: true,
    headerSize,
    recordSize,
    count,
    columnCount: Math.min(columnCount, 16),
  };
}

/** Rows of the PyneCore CSV export fixture, as cells. */
function exportRows(csv: string): string[][] {
  return csv.split(/\r?\n/).slice(1).filter((l) => l !== "").map((l) =>
    l.split(",")
  );
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** Loads the fixtures and derives the text seeds from them. */
export async function loadCorpus(): Promise<Corpus> {
  const dir = FIXTURES.pathname;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const ohlcv: OhlcvSeed[] = [];
  for (const name of names.filter((n) => n.endsWith(".ohlcv"))) {
    const bytes = Deno.readFileSync(dir + name);
    let decoded: CandleBatch | undefined;
    try {
      await using r = await OhlcvReader.open(dir + name);
      decoded = await r.read();
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
    }
    ohlcv.push({ ...layoutOf(name, bytes), decoded });
  }

  const exportCsv = Deno.readTextFileSync(dir + "btc_1D_gap.export.csv");
  const rows = exportRows(exportCsv);
  const head = ["timestamp", "open", "high", "low", "close", "volume"];
  const lines = (
    hdr: string[] | null,
    body: string[][],
    sep = ",",
    eol = "\n",
  ) =>
    (hdr ? [hdr.join(sep)] : []).concat(body.map((c) => c.join(sep))).join(
      eol,
    ) + eol;
  const iso = rows.map((c) => [isoOf(Number(c[0])), ...c.slice(1)]);
  const mt = rows.map((c) => {
    const d = new Date(Number(c[0])).toISOString();
    return [
      d.slice(0, 10).replaceAll("-", "."),
      d.slice(11, 16),
      ...c.slice(1),
    ];
  });
  const withNan = rows.map((c, i) =>
    i % 7 === 3 ? [c[0]!, "NaN", c[2]!, c[3]!, "nan", ""] : c
  );
  const csv = [
    { name: "export.csv", text: exportCsv },
    { name: "iso.csv", text: lines(["time", ...head.slice(1)], iso) },
    {
      name: "semicolon_decimal_comma.csv",
      text: lines(
        ["Date", "Open", "High", "Low", "Close", "Volume"],
        iso.map((
          c,
        ) => [
          c[0]!.slice(0, 10),
          ...c.slice(1).map((x) => x.replace(".", ",")),
        ]),
        ";",
        "\r\n",
      ),
    },
    {
      name: "metatrader.csv",
      text: lines(
        [
          "<DATE>",
          "<TIME>",
          "<OPEN>",
          "<HIGH>",
          "<LOW>",
          "<CLOSE>",
          "<TICKVOL>",
        ],
        mt,
        "\t",
      ),
    },
    {
      name: "headerless_seconds.csv",
      text: lines(
        null,
        rows.map((c) => [String(Number(c[0]) / 1000), ...c.slice(1, 5)]),
      ),
    },
    {
      name: "quoted.csv",
      text: lines(
        head.map((h) => `"${h}"`),
        rows.map((c) => c.map((x) => `"${x}"`)),
      ),
    },
    { name: "nan.csv", text: lines(head, withNan, ",", "\r\n") },
  ];

  const num = (c: string[]) => c.map(Number);
  const exportJson = Deno.readTextFileSync(dir + "btc_1D_gap.export.json");
  const json: Corpus["json"] = [
    { name: "export.json", value: JSON.parse(exportJson), text: exportJson },
    { name: "ccxt_arrays.json", value: rows.map(num) },
    {
      name: "data_short_keys.json",
      value: {
        data: rows.map((c) => {
          const n = num(c);
          return { t: n[0], o: n[1], h: n[2], l: n[3], c: n[4], v: n[5] };
        }),
      },
    },
    {
      name: "candles_iso.json",
      value: {
        candles: iso.map((c, i) => ({
          time: c[0],
          open: Number(c[1]),
          high: Number(c[2]),
          low: Number(c[3]),
          close: Number(c[4]),
          volume: i % 5 === 2 ? null : Number(c[5]),
        })),
      },
    },
    {
      name: "seconds_strings.json",
      value: rows.map((c) => [String(Number(c[0]) / 1000), ...c.slice(1)]),
    },
  ];

  const crypto = Deno.readTextFileSync(dir + "syminfo_crypto.toml");
  const forex = Deno.readTextFileSync(dir + "syminfo_forex.toml");
  const withDownload = crypto +
    `\n[download]\nprovider = "ccxt:BYBIT:BTC/USDT:USDT@1D"\n\n[coverage]\n` +
    `requested = [["2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"]]\n` +
    `fetched = [["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]]\n` +
    `not_served = []\nfailed = [["2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"]]\n\n` +
    `[coverage.file]\nrecords = 31\nfirst = "2024-01-01T00:00:00Z"\nlast = "2024-01-31T00:00:00Z"\n`;
  const toml = [
    { name: "syminfo_crypto.toml", text: crypto },
    { name: "syminfo_forex.toml", text: forex },
    { name: "syminfo_download_coverage.toml", text: withDownload },
  ];
  return { ohlcv, csv, json, toml };
}

// ---------------------------------------------------------------------------
// .ohlcv mutations

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

/** A mutated input and what was done to it. */
export interface Mutated<T> {
  input: T;
  source: string;
  ops: string[];
  /**
   * True when every operation keeps the decoded candles the same (appended
   * bytes past a v2 file's extent, descriptors reordered): the reader must
   * then decode exactly the fixture's candles.
   */
  preserving: boolean;
  /**
   * The candles the reader must decode (and so must not refuse the file):
   * the fixture's for a preserving change, or those a random valid layout
   * encodes.
   */
  expected?: CandleBatch;
}

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

function weighted<T>(
  r: Rng,
  items: readonly [number, string, T][],
): [string, T] {
  let total = 0;
  for (const [w] of items) total += w;
  let x = r.next() * total;
  for (const [w, name, v] of items) {
    x -= w;
    if (x < 0) return [name, v];
  }
  const last = items[items.length - 1]!;
  return [last[1], last[2]];
}

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
function relayout(
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

// ---------------------------------------------------------------------------
// CSV / JSON / TOML mutations

const JUNK_CELLS = [
  "",
  " ",
  "abc",
  "NaN",
  "nan",
  "-nan",
  "None",
  "null",
  "N/A",
  "Infinity",
  "-Infinity",
  "inf",
  "-inf",
  "1e308",
  "1e309",
  "-1e309",
  "1e-400",
  "4.9e-324",
  "9e21",
  "-9e21",
  "9007199254740993",
  "9".repeat(400),
  "0x10",
  "0b11",
  "1,5",
  "1.2.3",
  "+1",
  "-0",
  ".5",
  "5.",
  "1e",
  "--1",
  '"quoted"',
  '"unterminated',
  "2024-01-01",
  "2024-02-30",
  "2024-01-01T25:00:00Z",
  "2024-01-01T00:00:00+25:00",
  "2024-01-01 00:00:00.123456789",
  "2024.01.01",
  "12:30",
  "99:99",
  "\u00e9",
  "\u0000",
  "\ufeff1",
];

/**
 * Extreme times (ms, or raw values whose detected unit lands there): past
 * the Date range (±8.64e15 ms) but safe integers, the largest safe integer,
 * beyond it, and nanosecond values that scale into that range.
 */
const EXTREME_TIMES = [
  "8640000000000001",
  "-8640000000000001",
  "9000000000000000",
  "-9000000000000000",
  "9007199254740991",
  "9007199254740992",
  "9e21",
  "-9e21",
  "8.7e21",
  "1e300",
  "0",
  "-1",
  "253402300800",
  "-62135596800",
];

const CSV_CHARS = '0123456789.,;\t|"-+eE \r\nxNaIif:TZ/';

type TextOp = (r: Rng, t: string) => string;

function lineOp(t: string, f: (lines: string[]) => void): string {
  const lines = t.split("\n");
  f(lines);
  return lines.join("\n");
}

function charAt(r: Rng, t: string, chars: string): string {
  if (t.length === 0) return r.pick([...chars]);
  const i = r.int(t.length);
  const c = r.chance(0.8)
    ? r.pick([...chars])
    : String.fromCharCode(r.int(0x10000));
  return t.slice(0, i) + c + t.slice(i + 1);
}

function delimiterOf(t: string): string {
  const first = t.split("\n", 1)[0] ?? "";
  for (const d of ["\t", ";", "|"]) if (first.includes(d)) return d;
  return ",";
}

function cellOp(
  r: Rng,
  t: string,
  f: (cells: string[], col: number) => void,
): string {
  const d = delimiterOf(t);
  return lineOp(t, (lines) => {
    if (lines.length === 0) return;
    const i = r.int(lines.length);
    const cells = lines[i]!.split(d);
    f(cells, r.int(Math.max(1, cells.length)));
    lines[i] = cells.join(d);
  });
}

const TEXT_COMMON: readonly [number, string, TextOp][] = [
  [4, "truncate", (r, t) => t.slice(0, r.int(t.length + 1))],
  [4, "delete line", (r, t) =>
    lineOp(t, (l) => {
      l.splice(r.int(l.length), r.range(1, 3));
    })],
  [4, "duplicate line", (r, t) =>
    lineOp(t, (l) => {
      const i = r.int(l.length);
      l.splice(r.int(l.length + 1), 0, l[i]!);
    })],
  [3, "swap lines", (r, t) =>
    lineOp(t, (l) => {
      const i = r.int(l.length), j = r.int(l.length);
      [l[i], l[j]] = [l[j]!, l[i]!];
    })],
  [
    3,
    "append junk",
    (r, t) =>
      t +
      r.pick([
        "\n",
        "junk",
        "\u0000\u0001",
        "\ufffd",
        "[1,2]",
        "}",
        "\n\n\n",
        "a = 1\n",
      ]).repeat(
        r.range(1, 4),
      ),
  ],
  [
    2,
    "line endings",
    (r, t) =>
      r.chance(0.5)
        ? t.replace(/\r?\n/g, r.pick(["\r\n", "\r", "\n\r"]))
        : t.replace(/\r\n/g, "\n"),
  ],
  [1, "BOM", (_r, t) => "\ufeff" + t],
  [1, "NUL", (r, t) => {
    const i = r.int(t.length + 1);
    return t.slice(0, i) + "\u0000" + t.slice(i);
  }],
];

const CSV_OPS: readonly [number, string, TextOp][] = [
  ...TEXT_COMMON,
  [10, "char flip", (r, t) => charAt(r, t, CSV_CHARS)],
  [10, "junk field", (r, t) =>
    cellOp(r, t, (c, i) => {
      c[i] = r.pick(JUNK_CELLS);
    })],
  [4, "extreme times", (r, t) => {
    // The same extreme time in two or three rows, the first row's time
    // included now and then (it decides the unit).
    const v = r.pick(EXTREME_TIMES);
    const d = delimiterOf(t);
    return lineOp(t, (lines) => {
      for (let k = r.range(2, 3); k > 0; k--) {
        const i = r.chance(0.3)
          ? r.int(Math.min(2, lines.length))
          : r.int(lines.length);
        const c = lines[i]!.split(d);
        c[0] = v;
        lines[i] = c.join(d);
      }
    });
  }],
  [3, "extra field", (r, t) =>
    cellOp(r, t, (c) => {
      c.push(r.pick(JUNK_CELLS));
    })],
  [3, "missing field", (r, t) =>
    cellOp(r, t, (c, i) => {
      c.splice(i, 1);
    })],
  [3, "swap columns", (r, t) => {
    const d = delimiterOf(t);
    const i = r.int(7), j = r.int(7);
    const all = r.chance(0.6);
    return lineOp(t, (lines) => {
      lines.forEach((line, k) => {
        if (!all && k !== 0) return;
        const c = line.split(d);
        if (i < c.length && j < c.length) [c[i], c[j]] = [c[j]!, c[i]!];
        lines[k] = c.join(d);
      });
    });
  }],
  [3, "time scale", (r, t) => {
    const d = delimiterOf(t);
    const f = r.pick([1e-3, 1e3, 1e6, 1e9, -1]);
    return lineOp(t, (lines) => {
      lines.forEach((line, k) => {
        const c = line.split(d);
        const x = Number(c[0]);
        if (c[0] !== "" && Number.isFinite(x)) c[0] = String(x * f);
        lines[k] = c.join(d);
      });
    });
  }],
  [
    2,
    "delimiter",
    (r, t) => t.replaceAll(delimiterOf(t), r.pick([",", ";", "\t", "|", " "])),
  ],
  [2, "header", (r, t) =>
    lineOp(t, (l) => {
      if (r.chance(0.5)) l.splice(0, 1);
      else {
        l[0] = r.pick([
          "time,open,high,low,close",
          "Date,Time,Open,High,Low,Close,Volume",
          "o,h,l,c,v,t",
          "timestamp;open;high;low;close;volume",
          "a,b,c,d,e,f",
          "timestamp,timestamp,open,high,low,close",
        ]);
      }
    })],
  [2, "quote", (r, t) => {
    const i = r.int(t.length + 1);
    return t.slice(0, i) + (r.chance(0.5) ? '"' : '""') + t.slice(i);
  }],
  [2, "blank lines", (r, t) =>
    lineOp(t, (l) => {
      l.splice(r.int(l.length + 1), 0, r.pick(["", " ", "\t", ",,,,,"]));
    })],
];

const JSON_CHARS = '{}[],:"0123456789.eE-+tnulfase \n\\';

const JSON_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1.5,
  1e308,
  -1e308,
  9e21,
  -9e21,
  9007199254740993,
  1e-320,
  "",
  "abc",
  "NaN",
  "Infinity",
  "-inf",
  "1e309",
  "null",
  "2024-01-01T00:00:00Z",
  "2024-02-30T00:00:00Z",
  "1704067200000",
  [],
  [1, 2],
  {},
  { a: 1 },
];

type ValueOp = (r: Rng, v: unknown) => unknown;

function itemsOf(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of ["candles", "data", "ohlcv"]) {
      if (Array.isArray(o[k])) return o[k] as unknown[];
    }
  }
  return undefined;
}

function onItem(
  r: Rng,
  v: unknown,
  f: (item: unknown, items: unknown[], i: number) => void,
): unknown {
  const items = itemsOf(v);
  if (items && items.length > 0) {
    const i = r.int(items.length);
    f(items[i], items, i);
  }
  return v;
}

const KEYS = [
  "timestamp",
  "time",
  "date",
  "t",
  "open",
  "o",
  "high",
  "h",
  "low",
  "l",
  "close",
  "c",
  "volume",
  "v",
  "x",
  "Timestamp",
  "OPEN",
];

const JSON_VALUE_OPS: readonly [number, string, ValueOp][] = [
  [10, "junk value", (r, v) =>
    onItem(r, v, (item, items, i) => {
      const junk = r.pick(JSON_VALUES);
      if (Array.isArray(item)) item[r.int(item.length + 1)] = junk;
      else if (typeof item === "object" && item !== null) {
        const keys = Object.keys(item);
        (item as Record<string, unknown>)[
          r.pick(keys.length ? keys : ["open"])
        ] = junk;
      } else items[i] = junk;
    })],
  [4, "extreme times", (r, v) => {
    const s = r.pick(EXTREME_TIMES);
    const x = r.chance(0.5) ? Number(s) : s;
    const items = itemsOf(v) ?? [];
    for (let k = r.range(2, 3); k > 0 && items.length > 0; k--) {
      const item = items[r.chance(0.3) ? 0 : r.int(items.length)];
      if (Array.isArray(item)) item[0] = x;
      else if (typeof item === "object" && item !== null) {
        const o = item as Record<string, unknown>;
        const key = ["timestamp", "t", "time"].find((k) => k in o);
        if (key) o[key] = x;
      }
    }
    return v;
  }],
  [4, "delete element", (r, v) =>
    onItem(r, v, (_item, items, i) => {
      items.splice(i, r.range(1, 3));
    })],
  [4, "duplicate element", (r, v) =>
    onItem(r, v, (item, items) => {
      items.splice(r.int(items.length + 1), 0, structuredClone(item));
    })],
  [3, "swap elements", (r, v) =>
    onItem(r, v, (_item, items, i) => {
      const j = r.int(items.length);
      [items[i], items[j]] = [items[j], items[i]];
    })],
  [4, "delete key", (r, v) =>
    onItem(r, v, (item) => {
      if (Array.isArray(item)) item.splice(r.int(item.length), 1);
      else if (typeof item === "object" && item !== null) {
        const keys = Object.keys(item);
        if (keys.length) delete (item as Record<string, unknown>)[r.pick(keys)];
      }
    })],
  [4, "rename key", (r, v) =>
    onItem(r, v, (item, items, i) => {
      if (
        typeof item !== "object" || item === null || Array.isArray(item)
      ) return;
      const o = item as Record<string, unknown>;
      const keys = Object.keys(o);
      if (!keys.length) return;
      const k = r.pick(keys);
      const n: Record<string, unknown> = {};
      for (const key of keys) n[key === k ? r.pick(KEYS) : key] = o[key];
      items[i] = n;
    })],
  [3, "swap values", (r, v) =>
    onItem(r, v, (item) => {
      if (typeof item !== "object" || item === null) return;
      const o = item as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length < 2) return;
      const a = r.pick(keys), b = r.pick(keys);
      [o[a], o[b]] = [o[b], o[a]];
    })],
  [3, "time scale", (r, v) => {
    const f = r.pick([1e-3, 1e3, 1e6, 1e9, -1]);
    for (const item of itemsOf(v) ?? []) {
      if (Array.isArray(item) && typeof item[0] === "number") item[0] *= f;
      else if (typeof item === "object" && item !== null) {
        const o = item as Record<string, unknown>;
        for (const k of ["timestamp", "t", "time"]) {
          if (typeof o[k] === "number") o[k] = (o[k] as number) * f;
        }
      }
    }
    return v;
  }],
  [3, "wrap", (r, v) => {
    const items = itemsOf(v) ?? v;
    return r.pick([
      () => ({ data: items }),
      () => ({ candles: items }),
      () => ({ ohlcv: items }),
      () => ({ result: items }),
      () => items,
      () => [items],
      () => r.pick(JSON_VALUES),
    ])();
  }],
];

const JSON_TEXT_OPS: readonly [number, string, TextOp][] = [
  [6, "truncate", (r, t) => t.slice(0, r.int(t.length + 1))],
  [6, "char flip", (r, t) => charAt(r, t, JSON_CHARS)],
  [4, "number literal", (r, t) => {
    const nums = [...t.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g)];
    if (nums.length === 0) return t;
    const m = r.pick(nums);
    const lit = r.pick([
      "1e999",
      "-1e999",
      "1e-999",
      "NaN",
      "Infinity",
      "123456789012345678901234567890",
      "9e21",
      "-0",
      "0x1F",
      "01",
      "1.",
      ".",
    ]);
    return t.slice(0, m.index) + lit + t.slice(m.index + m[0].length);
  }],
  [
    2,
    "append junk",
    (r, t) => t + r.pick(["]", "}", ",", " x", "\u0000", "[]", "\n{}"]),
  ],
  [1, "deep nesting", (r, t) => {
    const n = r.range(100, 20000);
    const i = t.indexOf("[");
    if (i < 0) return "[".repeat(n) + "]".repeat(n);
    return t.slice(0, i) + "[".repeat(n) + t.slice(i) + "]".repeat(n);
  }],
];

const TOML_TYPED_VALUES = [
  '"str"',
  '""',
  "'literal'",
  '"""multi\nline"""',
  "0",
  "-1",
  "+1",
  "-0",
  "1.5",
  "0.1",
  "1e400",
  "inf",
  "-inf",
  "nan",
  "true",
  "false",
  "[]",
  '[1, "a"]',
  "[[1], [2]]",
  "{}",
  "{ a = 1 }",
  "1979-05-27",
  "07:32:00",
  "1979-05-27T07:32:00Z",
  "1979-05-27T07:32:00.999-07:00",
  "9223372036854775807",
  "9223372036854775808",
  "4294967295",
  "4294967296",
  "0x7fffffff",
  "0o777",
  "1_000",
  "7",
  '"24:00:00"',
  '"23:59:60"',
  '"1:2:3"',
  '"00:00:00"',
  '"\\u0000"',
  '"1H"',
  '"0D"',
  '"1D"',
  '["2024-01-01T00:00:00Z", "2023-01-01T00:00:00Z"]',
  '[["2024-13-45T99:99:00Z", "2024-01-02T00:00:00Z"]]',
];

const TOML_CHARS = "\"'=[]{}.,#\n\\ 0123456789abcxyz-:_+";

const KEY_LINE = /^(\s*)([A-Za-z_][\w-]*)(\s*=\s*)(.*)$/;

const TOML_OPS: readonly [number, string, TextOp][] = [
  ...TEXT_COMMON,
  [10, "char flip", (r, t) => charAt(r, t, TOML_CHARS)],
  [4, "bit flip", (r, t) => {
    if (t.length === 0) return t;
    const i = r.int(t.length);
    return t.slice(0, i) +
      String.fromCharCode(t.charCodeAt(i) ^ (1 << r.int(7))) + t.slice(i + 1);
  }],
  [14, "wrong type", (r, t) =>
    lineOp(t, (lines) => {
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        KEY_LINE.test(l)
      );
      if (keyed.length === 0) return;
      const [line, i] = r.pick(keyed);
      const m = KEY_LINE.exec(line)!;
      lines[i] = `${m[1]}${m[2]}${m[3]}${r.pick(TOML_TYPED_VALUES)}`;
    })],
  [5, "number tweak", (r, t) =>
    lineOp(t, (lines) => {
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /=\s*-?[\d.]+\s*$/.test(l)
      );
      if (keyed.length === 0) return;
      const [line, i] = r.pick(keyed);
      const m = KEY_LINE.exec(line);
      if (!m) return;
      const x = Number(m[4]);
      const y = r.pick([x + 1, x - 1, x * 10, x / 10, -x, 0, 7, 2 ** 32, 0.5]);
      lines[i] = `${m[1]}${m[2]}${m[3]}${
        Number.isInteger(y) ? y : y.toFixed(8)
      }`;
    })],
  [4, "table header", (r, t) =>
    lineOp(t, (lines) => {
      const heads = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /^\[/.test(l)
      );
      if (heads.length === 0) return;
      const [line, i] = r.pick(heads);
      const name = line.replace(/[[\]]/g, "");
      lines[i] = r.pick([
        `[${name}]`,
        `[[${name}]]`,
        `[${name}.x]`,
        "[symbol]",
        "[[symbol]]",
        "[download]",
        "[coverage]",
        "",
        `[${name}`,
      ]);
    })],
  [3, "uncomment", (r, t) =>
    lineOp(t, (lines) => {
      const c = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /^#\w+ =/.test(l)
      );
      if (c.length === 0) return;
      const [line, i] = r.pick(c);
      lines[i] = line.slice(1) +
        (r.chance(0.7) ? ` ${r.pick(TOML_TYPED_VALUES)}` : "");
    })],
  [2, "deep nesting", (r, t) => {
    const n = r.range(50, 5000);
    return t + `\ndeep = ${"[".repeat(n)}${"]".repeat(n)}\n`;
  }],
];

function applyTextOps(
  r: Rng,
  text: string,
  table: readonly [number, string, TextOp][],
  count: number,
  ops: string[],
): string {
  for (let k = 0; k < count; k++) {
    const [name, op] = weighted(r, table);
    text = op(r, text);
    ops.push(name);
  }
  return text;
}

/** The input of one CSV trial. */
export function mutateCsv(
  corpus: Corpus,
  seed: number,
  trial: number,
): Mutated<string> {
  const r = new Rng(trialSeed(seed, "csv", trial));
  const s = r.pick(corpus.csv);
  const ops: string[] = [];
  const input = applyTextOps(r, s.text, CSV_OPS, opCount(r), ops);
  return { input, source: s.name, ops, preserving: false };
}

/** The input of one JSON trial: value mutations, then text mutations. */
export function mutateJson(
  corpus: Corpus,
  seed: number,
  trial: number,
): Mutated<string> {
  const r = new Rng(trialSeed(seed, "json", trial));
  const s = r.pick(corpus.json);
  const ops: string[] = [];
  const n = opCount(r);
  const structural = r.int(n + 1);
  let text: string;
  if (structural === 0 && s.text !== undefined) text = s.text;
  else {
    let v = structuredClone(s.value);
    for (let k = 0; k < structural; k++) {
      const [name, op] = weighted(r, JSON_VALUE_OPS);
      v = op(r, v);
      ops.push(name);
    }
    text = JSON.stringify(v, null, r.pick([undefined, 2, "\t"])) ?? "";
  }
  text = applyTextOps(r, text, JSON_TEXT_OPS, n - structural, ops);
  return { input: text, source: s.name, ops, preserving: false };
}

/** The input of one TOML trial. */
export function mutateToml(
  corpus: Corpus,
  seed: number,
  trial: number,
): Mutated<string> {
  const r = new Rng(trialSeed(seed, "toml", trial));
  const s = r.pick(corpus.toml);
  const ops: string[] = [];
  const input = applyTextOps(r, s.text, TOML_OPS, opCount(r), ops);
  return { input, source: s.name, ops, preserving: false };
}

// ---------------------------------------------------------------------------
// Invariants

/** A broken rule: the parser's result is not what it documents. */
export class InvariantError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

function must(ok: boolean, msg: string): void {
  if (!ok) throw new InvariantError(msg);
}

const same = (a: number, b: number) => a === b || (a !== a && b !== b);

function sameBatch(a: CandleBatch, b: CandleBatch): string | undefined {
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    const x = a[col], y = b[col];
    if (
      x.length !== y.length
    ) return `${col}: ${x.length} vs ${y.length} values`;
    for (let i = 0; i < x.length; i++) {
      if (!same(x[i]!, y[i]!)) return `${col}[${i}]: ${x[i]} vs ${y[i]}`;
    }
  }
  return undefined;
}

/** Outcome of one trial that kept the rules. */
export type TrialOutcome = "ok" | "formatError";

/**
 * Extra observations (not failures) over a run: how often, and the first
 * trial that showed it (for `--repro`).
 */
export type Notes = Record<string, { count: number; trial: number }>;

/** The trial being run (for the notes). */
let currentTrial = -1;

function note(notes: Notes, key: string): void {
  const n = notes[key];
  if (n) n.count++;
  else notes[key] = { count: 1, trial: currentTrial };
}

function formatErrorNaming(e: unknown, path: string | undefined): TrialOutcome {
  if (!(e instanceof FormatError)) throw e;
  if (path !== undefined) {
    must(
      e.message.includes(path),
      `the FormatError does not name the file: ${e.message}`,
    );
  }
  return "formatError";
}

/**
 * Opens `path` (holding `bytes`) with `OhlcvReader` and checks what it
 * documents: a `FormatError` naming the file, or a reader whose `info`
 * matches the header (v2) or the size (v1) and whose `read()`, `batches()`
 * and `range()` agree, with `count` records, integer times and
 * `time[0] === info.first`, `time[count - 1] === info.last`.
 */
export async function checkOhlcv(
  bytes: Uint8Array,
  path: string,
  notes: Notes,
  expected?: CandleBatch,
  r?: Rng,
): Promise<TrialOutcome> {
  let reader: OhlcvReader;
  try {
    reader = await OhlcvReader.open(path);
  } catch (e) {
    const out = formatErrorNaming(e, path);
    must(
      expected === undefined,
      `a valid file is refused: ${(e as Error).message}`,
    );
    must(
      await ohlcvRecordCount(path) === 0,
      "ohlcvRecordCount is not 0 for a refused file",
    );
    return out;
  }
  try {
    const info = reader.info;
    const v2 = hasMagic(bytes);
    must(info.format === (v2 ? "v2" : "v1"), `format ${info.format}`);
    if (v2) {
      must(
        info.count === Number(readLE(bytes, 24, 8)),
        `count ${info.count} is not the header's`,
      );
      must(
        info.recordSize === Number(readLE(bytes, 16, 4)),
        "recordSize differs from the header",
      );
      must(
        info.headerSize === Number(readLE(bytes, 12, 4)),
        "headerSize differs from the header",
      );
      if (info.count > 0) {
        must(
          info.first === Number(BigInt.asIntN(64, readLE(bytes, 32, 8))),
          "first differs from the header",
        );
        must(
          info.last === Number(BigInt.asIntN(64, readLE(bytes, 40, 8))),
          "last differs from the header",
        );
      }
    } else {
      must(
        info.count === Math.floor(bytes.length / 24),
        `v1 count ${info.count} for ${bytes.length} bytes`,
      );
      must(info.recordSize === 24 && info.headerSize === 0, "v1 layout");
    }
    must(
      info.headerSize + info.count * info.recordSize <= bytes.length,
      "the committed records do not fit the file",
    );
    const n = info.count;
    must((n === 0) === (info.first === undefined), "first/undefined vs count");
    const all = await reader.read();
    for (
      const col of ["time", "open", "high", "low", "close", "volume"] as const
    ) {
      must(
        all[col] instanceof Float64Array && all[col].length === n,
        `${col} has ${all[col].length} values, count is ${n}`,
      );
    }
    let sorted = true, finite = true;
    for (let i = 0; i < n; i++) {
      must(
        Number.isInteger(all.time[i]),
        `time[${i}] = ${all.time[i]} is not a whole number`,
      );
      if (i > 0 && !(all.time[i]! > all.time[i - 1]!)) sorted = false;
      for (const col of ["open", "high", "low", "close", "volume"] as const) {
        const v = all[col][i]!;
        if (v === Infinity || v === -Infinity) finite = false;
      }
    }
    if (n > 0) {
      must(
        all.time[0] === info.first,
        `time[0] ${all.time[0]} is not info.first ${info.first}`,
      );
      must(
        all.time[n - 1] === info.last,
        `last time ${all.time[n - 1]} is not info.last ${info.last}`,
      );
    }
    if (!sorted) note(notes, "decoded with times not strictly increasing");
    if (!finite) note(notes, "decoded with ±Infinity values");
    if (n > 0) note(notes, `decoded ${info.format}, non-empty`);
    else note(notes, `decoded ${info.format}, empty`);
    if (expected) {
      const diff = sameBatch(all, expected);
      must(
        diff === undefined,
        `a change that keeps the candles changed them: ${diff}`,
      );
      note(
        notes,
        "decoded exactly the candles it must (valid layouts, preserving changes)",
      );
    }
    // batches() in random chunks must give the same candles as read().
    const batchSize = r ? r.range(1, Math.max(1, n)) : 7;
    const parts: CandleBatch[] = [];
    for await (const b of reader.batches({ batchSize })) parts.push(b);
    const joined = {
      time: Float64Array.from(parts.flatMap((p) => [...p.time])),
      open: Float64Array.from(parts.flatMap((p) => [...p.open])),
      high: Float64Array.from(parts.flatMap((p) => [...p.high])),
      low: Float64Array.from(parts.flatMap((p) => [...p.low])),
      close: Float64Array.from(parts.flatMap((p) => [...p.close])),
      volume: Float64Array.from(parts.flatMap((p) => [...p.volume])),
    };
    const bd = sameBatch(joined, all);
    must(
      bd === undefined,
      `batches({ batchSize: ${batchSize} }) differs from read(): ${bd}`,
    );
    if (info.format === "v1") {
      let real = 0;
      for (const v of all.volume) if (v !== -1) real++;
      let got = 0;
      for await (const b of reader.batches({ skipPhantoms: true, batchSize })) {
        got += b.time.length;
      }
      must(got === real, `skipPhantoms gave ${got} candles, expected ${real}`);
    }
    if (n > 0) {
      const rg = await reader.range(info.first!, info.last!);
      must(rg.time.length <= n, "range() returned more than count");
      if (sorted) {
        must(
          rg.time.length === n,
          `range(first, last) gave ${rg.time.length} of ${n}`,
        );
      }
      const mid = all.time[n >> 1]!;
      const i = await reader.indexOf(mid, "left");
      must(i >= 0 && i <= n, `indexOf gave ${i}`);
      if (sorted) {
        must(all.time[i] === mid, `indexOf(${mid}) = ${i} on sorted times`);
      }
    }
    must(
      await ohlcvRecordCount(path) === n,
      "ohlcvRecordCount differs from count",
    );
    return "ok";
  } finally {
    await reader.close();
  }
}

const TIME_UNITS = new Set(["s", "ms", "us", "ns", "iso"]);

/** What CSV and JSON import document about their result. */
export function checkImported(res: ImportedCandles): void {
  const b = res.batch;
  const n = res.count;
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    must(
      b[col] instanceof Float64Array && b[col].length === n,
      `${col} has ${b[col].length} values, count is ${n}`,
    );
  }
  must(TIME_UNITS.has(res.timeUnit), `timeUnit ${res.timeUnit}`);
  for (let i = 0; i < n; i++) {
    const t = b.time[i]!;
    must(
      Number.isSafeInteger(t),
      `time[${i}] = ${t} is not a safe whole number`,
    );
    must(
      i === 0 || t > b.time[i - 1]!,
      `times not strictly increasing at ${i}`,
    );
    const o = b.open[i]!, h = b.high[i]!, l = b.low[i]!, c = b.close[i]!;
    for (const v of [o, h, l, c, b.volume[i]!]) {
      must(
        typeof v === "number" && v !== Infinity && v !== -Infinity,
        `candle ${i} has ${v}`,
      );
    }
    if (o === o && c === c) {
      must(
        !(h < Math.max(o, c)),
        `candle ${i}: high ${h} below max(open, close)`,
      );
      must(
        !(l > Math.min(o, c)),
        `candle ${i}: low ${l} above min(open, close)`,
      );
    }
  }
  if (res.period !== undefined) {
    try {
      parsePeriod(res.period);
    } catch (e) {
      throw new InvariantError(
        `inferred period "${res.period}" is not a period: ${
          (e as Error).message
        }`,
      );
    }
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function attemptAsync<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * The text outcome and, for a sampled trial, the same text read from a file
 * (`readCsvFile` / `readJsonFile`, whose reader feeds the CSV parser in
 * pieces): both must agree.
 */
async function checkImport(
  text: string,
  parse: (t: string) => ImportedCandles,
  read: ((p: string) => Promise<ImportedCandles>) | undefined,
  path: string,
): Promise<TrialOutcome> {
  const a = attempt(() => parse(text));
  if (a.ok) checkImported(a.value);
  // A file holds UTF-8: compare only texts that survive it (no lone
  // surrogates) and that a decoder reads back unchanged (one leading BOM).
  if (
    read && !/[\ud800-\udfff]/.test(text) && !text.startsWith("\ufeff\ufeff")
  ) {
    await Deno.writeTextFile(path, text);
    const b = await attemptAsync(() => read(path));
    if (b.ok) checkImported(b.value);
    if (a.ok !== b.ok) {
      const err = a.ok ? (b as { error: unknown }).error : a.error;
      if (!(err instanceof FormatError)) throw err;
      throw new InvariantError(
        `${
          a.ok
            ? "the text parses but the file is refused"
            : "the text is refused but the file parses"
        }: ${(err as Error).message}`,
      );
    }
    if (a.ok && b.ok) {
      const d = sameBatch(a.value.batch, b.value.batch);
      must(d === undefined, `text and file give different candles: ${d}`);
      must(
        a.value.period === b.value.period,
        "text and file infer different periods",
      );
    }
    if (!b.ok) formatErrorNaming(b.error, path);
  }
  if (!a.ok) return formatErrorNaming(a.error, undefined);
  return "ok";
}

function isTime(v: unknown): boolean {
  return typeof v === "string" && /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(v);
}

/** What `parseSymbolInfoToml` documents about its result. */
export function checkSymbolInfo(res: SymbolInfoFile, notes: Notes): void {
  const i = res.info;
  for (
    const k of [
      "prefix",
      "description",
      "ticker",
      "currency",
      "period",
      "type",
      "timezone",
      "volumetype",
    ] as const
  ) {
    must(typeof i[k] === "string", `info.${k} is ${typeof i[k]}`);
  }
  must(i.period !== "", "empty period");
  must(
    typeof i.mintick === "number" && Number.isFinite(i.mintick) &&
      i.mintick >= 0,
    `mintick ${i.mintick}`,
  );
  for (const k of ["pricescale", "minmove"] as const) {
    const v = i[k];
    must(
      typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 0xffffffff,
      `${k} ${v}`,
    );
  }
  const expected = i.minmove! / i.pricescale;
  must(
    Math.abs(i.mintick - expected) <= 5e-9 + expected * 1e-9,
    `mintick ${i.mintick} is not minmove / pricescale`,
  );
  must(typeof i.pointvalue === "number", "pointvalue");
  for (
    const [name, list, keys] of [
      ["openingHours", i.openingHours, ["start", "end"]],
      ["sessionStarts", i.sessionStarts, ["time"]],
      ["sessionEnds", i.sessionEnds, ["time"]],
    ] as const
  ) {
    must(Array.isArray(list), `${name} is not an array`);
    for (const e of list as unknown as Record<string, unknown>[]) {
      must(
        Number.isInteger(e.day) && (e.day as number) >= 0 &&
          (e.day as number) <= 6,
        `${name} day ${e.day}`,
      );
      for (const k of keys) must(isTime(e[k]), `${name} ${k} ${String(e[k])}`);
    }
  }
  if (res.provider !== undefined) {
    must(typeof res.provider === "string", "provider");
  }
  for (const v of Object.values(i.other ?? {})) {
    must(
      v === null || ["string", "number", "boolean"].includes(typeof v),
      `other value ${typeof v}`,
    );
  }
  for (
    const k of [
      "pointvalue",
      "mincontract",
      "avgSpread",
      "takerFee",
      "makerFee",
    ] as const
  ) {
    const v = i[k];
    if (typeof v === "number" && !Number.isFinite(v)) {
      note(notes, `parsed with a non-finite ${k}`);
    }
  }
}

/**
 * Parses a TOML text (with a path in half the trials, which the error must
 * name), checks the result, its `[coverage]` table through
 * `coverageFromToml` (a `FormatError` or a ledger), and notes whether the
 * parsed info can be written back (`stringifySymbolInfo`) and re-read to the
 * same info.
 */
export function checkToml(
  text: string,
  path: string | undefined,
  notes: Notes,
): TrialOutcome {
  const a = attempt(() => parseSymbolInfoToml(text, path));
  if (!a.ok) return formatErrorNaming(a.error, path);
  checkSymbolInfo(a.value, notes);
  const cov = a.value.extra?.coverage;
  if (cov !== undefined) {
    const c = attempt(() => coverageFromToml(cov, path));
    if (!c.ok) formatErrorNaming(c.error, path);
    note(
      notes,
      c.ok ? "coverage table read" : "coverage table refused (FormatError)",
    );
  }
  const opts: { provider?: string; extra?: Record<string, unknown> } = {};
  if (a.value.provider !== undefined) opts.provider = a.value.provider;
  if (a.value.extra !== undefined) opts.extra = a.value.extra;
  const w = attempt(() => stringifySymbolInfo(a.value.info, opts));
  if (!w.ok) {
    const e = w.error as Error;
    const why = /finite number/.test(e.message)
      ? "a NaN or ±Infinity value"
      : /Invalid (period|timeframe)/.test(e.message)
      ? "a period the writer does not take"
      : e.message.slice(0, 80);
    note(notes, `parsed but not writable (${e.name}: ${why})`);
  } else {
    const back = attempt(() => parseSymbolInfoToml(w.value));
    if (!back.ok) {
      note(
        notes,
        `written back but not re-readable: ${
          (back.error as Error).message.slice(0, 90)
        }`,
      );
    } else if (
      JSON.stringify(back.value.info) !== JSON.stringify(a.value.info)
    ) {
      note(notes, "written back and re-read with a different info");
    }
  }
  return "ok";
}

// ---------------------------------------------------------------------------
// Running trials

/** One broken rule. */
export interface FuzzFailure {
  target: Target;
  seed: number;
  trial: number;
  source: string;
  ops: string[];
  kind: "exception" | "invariant" | "slow" | "hang" | "memory";
  error: string;
  stack: string;
}

/** The figures of one run of one target. */
export interface FuzzReport {
  target: Target;
  seed: number;
  trials: number;
  ok: number;
  formatError: number;
  failures: FuzzFailure[];
  slowestMs: number;
  slowestTrial: number;
  peakRss: number;
  notes: Notes;
  elapsedMs: number;
  /** Descriptors into the trials' folder left open at the end (undefined: not measurable). */
  leakedFds: number | undefined;
}

/** Options of a run. */
export interface FuzzOptions {
  target: Target;
  trials: number;
  seed: number;
  /** Folder for the files the trials write (one file per target, reused). */
  dir: string;
  /** First trial number. @default {0} */
  firstTrial?: number;
  /** A trial slower than this fails. @default {2000} */
  maxTrialMs?: number;
  /** Process RSS above this fails the trial. @default {1 GiB} */
  maxRss?: number;
  /**
   * Self-test of the watchdog: this trial spins synchronously for ever
   * instead of running (it must be reported as a hang, and the run go on).
   */
  hangAtTrial?: number;
}

function emptyReport(o: FuzzOptions): FuzzReport {
  return {
    target: o.target,
    seed: o.seed,
    trials: 0,
    ok: 0,
    formatError: 0,
    failures: [],
    slowestMs: 0,
    slowestTrial: -1,
    peakRss: 0,
    notes: {},
    elapsedMs: 0,
    leakedFds: undefined,
  };
}

/** The input of one trial (as bytes for `.ohlcv`, text otherwise). */
export function mutate(
  corpus: Corpus,
  target: Target,
  seed: number,
  trial: number,
): Mutated<Uint8Array | string> {
  switch (target) {
    case "ohlcv":
      return mutateOhlcv(corpus, seed, trial);
    case "csv":
      return mutateCsv(corpus, seed, trial);
    case "json":
      return mutateJson(corpus, seed, trial);
    case "toml":
      return mutateToml(corpus, seed, trial);
  }
}

/** Runs one trial; throws when a rule is broken. */
export async function runTrial(
  corpus: Corpus,
  target: Target,
  seed: number,
  trial: number,
  dir: string,
  notes: Notes,
): Promise<TrialOutcome> {
  currentTrial = trial;
  const m = mutate(corpus, target, seed, trial);
  const r = new Rng(trialSeed(seed, target, trial) ^ 0x5bd1e995);
  switch (target) {
    case "ohlcv": {
      const path = `${dir}/fuzz.ohlcv`;
      const bytes = m.input as Uint8Array;
      Deno.writeFileSync(path, bytes);
      return await checkOhlcv(bytes, path, notes, m.expected, r);
    }
    case "csv":
      return await checkImport(
        m.input as string,
        (t) => parseCsvCandles(t),
        r.chance(0.3) ? (p) => readCsvFile(p) : undefined,
        `${dir}/fuzz.csv`,
      );
    case "json":
      return await checkImport(
        m.input as string,
        (t) => parseJsonCandles(t),
        r.chance(0.2) ? (p) => readJsonFile(p) : undefined,
        `${dir}/fuzz.json`,
      );
    case "toml":
      return checkToml(
        m.input as string,
        r.chance(0.5) ? `${dir}/fuzz.toml` : undefined,
        notes,
      );
  }
}

function stackOf(e: unknown): string {
  const s = e instanceof Error ? e.stack ?? "" : "";
  return s.split("\n").slice(0, 8).join("\n");
}

/** Runs trials in this thread (the worker's side of {@linkcode runFuzz}). */
export async function runTrialsHere(
  corpus: Corpus,
  o: FuzzOptions,
  onStart?: (trial: number) => void,
): Promise<FuzzReport> {
  const rep = emptyReport(o);
  const maxMs = o.maxTrialMs ?? 2000;
  const maxRss = o.maxRss ?? 2 ** 30;
  const first = o.firstTrial ?? 0;
  const t0 = performance.now();
  for (let trial = first; trial < first + o.trials; trial++) {
    onStart?.(trial);
    const start = performance.now();
    if (trial === o.hangAtTrial) {
      let spin = 0;
      while (spin >= 0) spin = (spin + 1) % 1e9;
    }
    let failure:
      | Omit<FuzzFailure, "target" | "seed" | "trial" | "source" | "ops">
      | undefined;
    try {
      const out = await runTrial(
        corpus,
        o.target,
        o.seed,
        trial,
        o.dir,
        rep.notes,
      );
      if (out === "ok") rep.ok++;
      else rep.formatError++;
    } catch (e) {
      failure = {
        kind: e instanceof InvariantError ? "invariant" : "exception",
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        stack: stackOf(e),
      };
    }
    const ms = performance.now() - start;
    const rss = Deno.memoryUsage().rss;
    rep.trials++;
    if (ms > rep.slowestMs) {
      rep.slowestMs = ms;
      rep.slowestTrial = trial;
    }
    if (rss > rep.peakRss) rep.peakRss = rss;
    if (!failure && ms > maxMs) {
      failure = {
        kind: "slow",
        error: `trial took ${ms.toFixed(0)} ms (limit ${maxMs})`,
        stack: "",
      };
    }
    if (!failure && rss > maxRss) {
      failure = {
        kind: "memory",
        error: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB after the trial`,
        stack: "",
      };
    }
    if (failure) {
      const m = mutate(corpus, o.target, o.seed, trial);
      rep.failures.push({
        ...failure,
        target: o.target,
        seed: o.seed,
        trial,
        source: m.source,
        ops: m.ops,
      });
    }
  }
  rep.elapsedMs = performance.now() - t0;
  rep.leakedFds = openFilesUnder(o.dir);
  return rep;
}

type ToWorker = { options: FuzzOptions };
type FromWorker =
  | { type: "start"; trial: number }
  | { type: "done"; report: FuzzReport };

/**
 * Runs trials in a worker watched by this thread: a trial that has not
 * finished after `hangMs` (default 10 s) is a `hang` failure; the worker is
 * terminated and a new one goes on with the next trial. A worker that dies
 * (an uncaught error, a crash) is a failure of the trial it was running.
 */
export async function runFuzz(
  o: FuzzOptions & { hangMs?: number },
): Promise<FuzzReport> {
  const total = emptyReport(o);
  const hangMs = o.hangMs ?? 10_000;
  let next = o.firstTrial ?? 0;
  const end = next + o.trials;
  const t0 = performance.now();
  while (next < end) {
    const part = await new Promise<
      { report?: FuzzReport; stuck?: number; why?: string }
    >((resolve) => {
      const worker = new Worker(import.meta.url, { type: "module" });
      let current = next;
      let started = performance.now();
      const timer = setInterval(() => {
        if (performance.now() - started > hangMs) {
          clearInterval(timer);
          worker.terminate();
          resolve({ stuck: current, why: `no result after ${hangMs} ms` });
        }
      }, 100);
      worker.onmessage = (ev: MessageEvent<FromWorker>) => {
        if (ev.data.type === "start") {
          current = ev.data.trial;
          started = performance.now();
        } else {
          clearInterval(timer);
          worker.terminate();
          resolve({ report: ev.data.report });
        }
      };
      worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        clearInterval(timer);
        worker.terminate();
        resolve({ stuck: current, why: `the worker died: ${ev.message}` });
      };
      const msg: ToWorker = {
        options: { ...o, firstTrial: next, trials: end - next },
      };
      worker.postMessage(msg);
    });
    if (part.report) {
      merge(total, part.report);
      next = end;
    } else {
      const trial = part.stuck!;
      // Count the trials the lost worker finished: rerun is not needed,
      // but their figures are gone; rerun them here without the stuck one.
      if (trial > next) {
        const redo = await runFuzz({
          ...o,
          firstTrial: next,
          trials: trial - next,
        });
        merge(total, redo);
      }
      const corpus = await loadCorpus();
      const m = mutate(corpus, o.target, o.seed, trial);
      total.trials++;
      total.failures.push({
        target: o.target,
        seed: o.seed,
        trial,
        source: m.source,
        ops: m.ops,
        kind: "hang",
        error: part.why!,
        stack: "",
      });
      next = trial + 1;
    }
  }
  total.elapsedMs = performance.now() - t0;
  return total;
}

function merge(into: FuzzReport, r: FuzzReport): void {
  into.trials += r.trials;
  into.ok += r.ok;
  into.formatError += r.formatError;
  into.failures.push(...r.failures);
  if (r.slowestMs > into.slowestMs) {
    into.slowestMs = r.slowestMs;
    into.slowestTrial = r.slowestTrial;
  }
  into.peakRss = Math.max(into.peakRss, r.peakRss);
  if (r.leakedFds !== undefined) {
    into.leakedFds = (into.leakedFds ?? 0) + r.leakedFds;
  }
  for (const [k, v] of Object.entries(r.notes)) {
    const n = into.notes[k];
    if (n) n.count += v.count;
    else into.notes[k] = { ...v };
  }
}

/** Distinct failures by kind and first line of the error (numbers elided). */
export function failureSignatures(
  failures: readonly FuzzFailure[],
): Map<string, FuzzFailure[]> {
  const m = new Map<string, FuzzFailure[]>();
  for (const f of failures) {
    const where = f.stack.split("\n").find((l) => l.includes("/format/")) ?? "";
    const key = `${f.kind}: ${
      f.error.replace(/-?\d[\d.e+]*/g, "N").slice(0, 100)
    } ${where.trim()}`;
    const list = m.get(key) ?? [];
    list.push(f);
    m.set(key, list);
  }
  return m;
}

/** Peak resident set size of this process (VmHWM; needs `--allow-all`), else undefined. */
export function peakRssFromProc(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(
      Deno.readTextFileSync("/proc/self/status"),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Worker side and command line

const inWorker = "WorkerGlobalScope" in globalThis;

if (inWorker) {
  const scope = self as unknown as {
    onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
    postMessage(m: FromWorker): void;
  };
  scope.onmessage = async (ev) => {
    const corpus = await loadCorpus();
    const report = await runTrialsHere(
      corpus,
      ev.data.options,
      (trial) => scope.postMessage({ type: "start", trial }),
    );
    scope.postMessage({ type: "done", report });
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function main(args: string[]): Promise<number> {
  const flags = args.filter((a) => a.startsWith("--"));
  const pos = args.filter((a) => !a.startsWith("--"));
  const n = Number(pos[0] ?? 10_000);
  const seed = Number(pos[1] ?? 20261206);
  const verbose = flags.includes("--verbose");
  const only = flags.find((f) => f.startsWith("--only="))?.slice(7).split(
    ",",
  ) as Target[] | undefined;
  const repro = flags.find((f) => f.startsWith("--repro="))?.slice(8);
  const dir = await Deno.makeTempDir({ prefix: "pyne-fuzz-" });
  try {
    if (repro) {
      const [target, trial] = repro.split(":") as [Target, string];
      const corpus = await loadCorpus();
      const m = mutate(corpus, target, seed, Number(trial));
      const out = Deno.makeTempFileSync({
        prefix: `fuzz_${target}_${seed}_${trial}_`,
        suffix: `.${target}`,
      });
      if (typeof m.input === "string") Deno.writeTextFileSync(out, m.input);
      else Deno.writeFileSync(out, m.input);
      console.log(
        `${target} trial ${trial} (seed ${seed}): ${m.source}; ${
          m.ops.join("; ")
        }`,
      );
      console.log(`input written to ${out}`);
      const notes: Notes = {};
      try {
        console.log(
          "outcome:",
          await runTrial(corpus, target, seed, Number(trial), dir, notes),
        );
      } catch (e) {
        console.log("FAILED:", e);
        return 1;
      }
      return 0;
    }
    const fdsBefore = countFds();
    const reports: FuzzReport[] = [];
    for (const target of only ?? TARGETS) {
      const rep = await runFuzz({ target, trials: n, seed, dir });
      reports.push(rep);
      const sig = failureSignatures(rep.failures);
      console.log(
        `${
          target.padEnd(5)
        } ${rep.trials} trials: ${rep.ok} decoded, ${rep.formatError} FormatError, ${rep.failures.length} failures (${sig.size} distinct); slowest ${
          rep.slowestMs.toFixed(1)
        } ms (trial ${rep.slowestTrial}); peak RSS ${
          mib(rep.peakRss)
        }; fds left open ${rep.leakedFds ?? "?"}; ${
          (rep.elapsedMs / 1000).toFixed(1)
        } s`,
      );
      for (const [key, list] of sig) {
        const f = list[0]!;
        console.log(`  ${list.length} x ${key}`);
        console.log(
          `     e.g. trial ${f.trial}: ${f.source}; ${f.ops.join("; ")}`,
        );
        if (verbose) console.log(f.stack.replace(/^/gm, "       "));
      }
      for (const [k, v] of Object.entries(rep.notes).sort()) {
        console.log(`  note: ${v.count} x ${k} (first: trial ${v.trial})`);
      }
    }
    const fdsAfter = countFds();
    const hwm = peakRssFromProc();
    console.log(
      `seed ${seed}; process peak RSS ${
        hwm === undefined ? "(needs --allow-all)" : mib(hwm)
      }; open fds before/after ${fdsBefore ?? "?"}/${fdsAfter ?? "?"}`,
    );
    const bad = reports.reduce(
      (s, r) => s + r.failures.length + (r.leakedFds ?? 0),
      0,
    );
    console.log(bad === 0 ? "all rules held" : `${bad} trials broke a rule`);
    return bad === 0 ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * How many open descriptors point into `dir` (the trials' files), or
 * undefined when `/proc/self/fd` cannot be read (needs `--allow-all`).
 */
export function openFilesUnder(dir: string): number | undefined {
  try {
    let n = 0;
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(dir)) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

function countFds(): number | undefined {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return undefined;
  }
}

if (import.meta.main && !inWorker) Deno.exit(await main(Deno.args));
