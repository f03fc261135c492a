/**
 * The CSV and JSON mutations of the fuzz bench: junk cells and extreme
 * times, the weighted CSV operators (characters, fields, columns,
 * delimiters, headers, quotes, time scales), the JSON value operators
 * (junk values, deleted / duplicated / renamed elements and keys, wrapping
 * envelopes) and JSON text operators (number literals, deep nesting), and
 * the input of one CSV or JSON trial.
 *
 * @module
 */

import type { Corpus, Mutated } from "./_corpus.ts";
import { opCount, Rng, trialSeed, weighted } from "./_prng.ts";
import {
  applyTextOps,
  charAt,
  lineOp,
  TEXT_COMMON,
  type TextOp,
} from "./_text_ops.ts";

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
