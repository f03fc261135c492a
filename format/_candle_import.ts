/**
 * Shared import logic for CSV and JSON candles: column detection, timestamp
 * units and ISO dates, number parsing, row-numbered validation, ordering and
 * period inference.
 *
 * @module
 */

import { type CandleBatch, selectCandles } from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";

/** Unit the timestamps of an imported file were given in. */
export type TimeUnit = "s" | "ms" | "us" | "ns" | "iso";

/** What an import produced. */
export interface ImportedCandles {
  /** The candles, sorted by time. */
  batch: CandleBatch;
  /**
   * TradingView period inferred from the most common spacing between candles
   * (`"1"`, `"60"`, `"1D"`, `"1W"`, `"1M"`), or `undefined` when it cannot be
   * inferred (fewer than two candles, or an irregular spacing).
   */
  period: string | undefined;
  /** How the timestamps were given. */
  timeUnit: TimeUnit;
  /** Number of candles. */
  count: number;
}

/** One input row: its 1-based row number (for messages) and its cells. */
export interface InputRow {
  /** Row number shown in error messages (line number for CSV). */
  row: number;
  /** Time cell (or date cell when `timeOfDay` is set). */
  time: unknown;
  /** Separate time-of-day cell (MetaTrader's Date + Time columns). */
  timeOfDay?: unknown;
  open: unknown;
  high: unknown;
  low: unknown;
  close: unknown;
  /** Volume cell; absent when the input has no volume column (→ NaN). */
  volume?: unknown;
}

/** Options for {@linkcode buildCandles}. */
export interface BuildOptions {
  /** Name of the input used in error messages (a path or "CSV input"). */
  where: string;
  /** Path for the {@linkcode FormatError}, when known. */
  path?: string | undefined;
  /** Accept `,` as the decimal separator (when it is not the delimiter). */
  decimalComma?: boolean;
  /** Unit of numeric timestamps; detected from their magnitude when omitted. */
  timeUnit?: NumericTimeUnit | undefined;
}

/** Units of numeric timestamps. */
export type NumericTimeUnit = Exclude<TimeUnit, "iso">;

/** Column roles a header name can map to. */
export type ColumnRole =
  | "time"
  | "date"
  | "timeOfDay"
  | "open"
  | "high"
  | "low"
  | "close"
  | "volume";

const ALIASES: Record<string, ColumnRole> = {
  timestamp: "time",
  timestampms: "time",
  ts: "time",
  t: "time",
  unix: "time",
  unixtime: "time",
  opentime: "time",
  datetime: "time",
  date: "date",
  day: "date",
  time: "timeOfDay",
  open: "open",
  o: "open",
  high: "high",
  h: "high",
  low: "low",
  l: "low",
  close: "close",
  c: "close",
  last: "close",
  volume: "volume",
  vol: "volume",
  v: "volume",
  basevolume: "volume",
  tickvolume: "volume",
  tickvol: "volume",
  realvolume: "volume",
};

/** Normalises a header name: lower case, letters and digits only. */
export function normaliseColumnName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/**
 * Maps header names to column indices. `date` + `time` columns combine into
 * one timestamp; a lone `date` or `time` column holds the whole timestamp.
 * Returns `undefined` for roles that are missing.
 */
export function mapColumns(
  names: readonly string[],
): Partial<Record<ColumnRole, number>> {
  const found: Partial<Record<ColumnRole, number>> = {};
  names.forEach((n, i) => {
    const role = ALIASES[normaliseColumnName(n)];
    if (role !== undefined && found[role] === undefined) found[role] = i;
  });
  if (found.time === undefined) {
    if (found.date !== undefined && found.timeOfDay !== undefined) {
      // Date + Time columns (MetaTrader): keep both.
    } else if (found.date !== undefined) {
      found.time = found.date;
      delete found.date;
    } else if (found.timeOfDay !== undefined) {
      found.time = found.timeOfDay;
      delete found.timeOfDay;
    }
  } else {
    delete found.date;
    delete found.timeOfDay;
  }
  return found;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const MISSING_RE = /^(?:nan|null|none|na|n\/a|-nan)?$/i;
const INF_RE = /^[+-]?(?:inf|infinity)$/i;
const ISO_RE =
  /^(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;
const TIME_OF_DAY_RE = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;

/** True when the string is a number (or a missing-value marker). */
export function looksNumeric(s: string): boolean {
  const t = s.trim();
  return NUMBER_RE.test(t) || INF_RE.test(t) ||
    (t !== "" && MISSING_RE.test(t)) || /^[+-]?\d+,\d+$/.test(t);
}

/** True when the string is a date or date-time this importer reads. */
export function looksLikeDate(s: string): boolean {
  return ISO_RE.test(s.trim());
}

/** True when the string is a time of day (`HH:MM[:SS]`). */
export function looksLikeTimeOfDay(s: string): boolean {
  return TIME_OF_DAY_RE.test(s.trim());
}

/** Parses an ISO-like date/time to ms; no zone means UTC. NaN when invalid. */
export function parseDateTime(s: string): number {
  const m = ISO_RE.exec(s.trim());
  if (!m) return NaN;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = sec === undefined ? 0 : Number(sec);
  if (
    month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
    minute > 59 || second > 59
  ) return NaN;
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return NaN; // 2024-02-31
  if (frac !== undefined) ms += Math.round(Number(`0.${frac}`) * 1000);
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const z = zone.replace(":", "");
    const sign = z[0] === "-" ? -1 : 1;
    const zh = Number(z.slice(1, 3));
    const zm = z.length > 3 ? Number(z.slice(3, 5)) : 0;
    ms -= sign * (zh * 60 + zm) * 60_000;
  }
  return ms;
}

/** A value for an error message, cut to 60 characters. */
export function show(v: unknown): string {
  let s: string;
  if (typeof v === "string") s = JSON.stringify(v);
  else if (v === undefined) return "nothing";
  else if (typeof v === "object") {
    s = v === null ? "null" : JSON.stringify(v) ?? String(v);
  } else s = String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const TIME_UNIT_FACTOR: Record<Exclude<TimeUnit, "iso">, number> = {
  s: 1000,
  ms: 1,
  us: 1e-3,
  ns: 1e-6,
};

/** Picks the unit of numeric timestamps from their magnitude. */
export function timeUnitOf(value: number): Exclude<TimeUnit, "iso"> {
  const a = Math.abs(value);
  if (a < 1e11) return "s"; // up to year 5138 in seconds
  if (a < 1e14) return "ms";
  if (a < 1e17) return "us";
  return "ns";
}

/**
 * Collects input rows one at a time, parsing and checking each value as it
 * arrives (so callers need not hold all rows), and produces the sorted batch.
 * Every problem is a {@linkcode FormatError}
 * `Cannot import <where>: row N: ...` naming the first bad row.
 */
export class CandleAccumulator {
  readonly #options: BuildOptions;
  #unit: TimeUnit | undefined;
  #n = 0;
  #cap = 0;
  #time = new Float64Array(0);
  #open = new Float64Array(0);
  #high = new Float64Array(0);
  #low = new Float64Array(0);
  #close = new Float64Array(0);
  #volume = new Float64Array(0);
  #rowNo = new Float64Array(0);
  #sorted = true;

  /** Creates an accumulator; `options.where` names the input in messages. */
  constructor(options: BuildOptions) {
    this.#options = options;
    this.#unit = options.timeUnit;
    if (this.#unit !== undefined && !(this.#unit in TIME_UNIT_FACTOR)) {
      throw new RangeError(
        `timeUnit must be "s", "ms", "us" or "ns", got "${this.#unit}"`,
      );
    }
  }

  /** Number of rows added so far. */
  get count(): number {
    return this.#n;
  }

  /** Throws the import error for `msg`. */
  fail(msg: string): never {
    throw new FormatError(
      `Cannot import ${this.#options.where}: ${msg}`,
      this.#options.path === undefined ? {} : { path: this.#options.path },
    );
  }

  #grow(): void {
    const cap = Math.max(1024, this.#cap * 2);
    const g = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a.subarray(0, this.#n));
      return b;
    };
    this.#time = g(this.#time);
    this.#open = g(this.#open);
    this.#high = g(this.#high);
    this.#low = g(this.#low);
    this.#close = g(this.#close);
    this.#volume = g(this.#volume);
    this.#rowNo = g(this.#rowNo);
    this.#cap = cap;
  }

  #num(row: number, name: string, v: unknown): number {
    if (typeof v === "string") {
      // Fast path: a plain decimal number.
      const c0 = v.charCodeAt(0);
      if ((c0 >= 0x30 && c0 <= 0x39) || c0 === 0x2d || c0 === 0x2e) {
        const x = Number(v);
        const c1 = v.charCodeAt(1) | 0x20; // not 0x.., 0b.., 0o..
        if (Number.isFinite(x) && c1 !== 0x78 && c1 !== 0x62 && c1 !== 0x6f) {
          return x;
        }
      }
      let t = v.trim();
      if (MISSING_RE.test(t)) return NaN;
      if (this.#options.decimalComma && /^[+-]?\d+,\d+$/.test(t)) {
        t = t.replace(",", ".");
      }
      if (INF_RE.test(t)) {
        this.fail(`row ${row}: ${name} ${show(v)} is not a finite number`);
      }
      if (!NUMBER_RE.test(t)) {
        this.fail(`row ${row}: ${name} ${show(v)} is not a number`);
      }
      const y = Number(t);
      if (!Number.isFinite(y)) {
        this.fail(`row ${row}: ${name} ${show(v)} is not a finite number`);
      }
      return y;
    }
    if (typeof v === "number") {
      if (!Number.isFinite(v) && !Number.isNaN(v)) {
        this.fail(`row ${row}: ${name} ${v} is not a finite number`);
      }
      return v;
    }
    if (v === null || v === undefined) return NaN;
    return this.fail(`row ${row}: ${name} ${show(v)} is not a number`);
  }

  #timeOf(r: InputRow): number {
    let v = r.time;
    if (r.timeOfDay !== undefined) {
      if (typeof v !== "string" || !looksLikeDate(v)) {
        return this.fail(`row ${r.row}: date ${show(v)} is not a date`);
      }
      const tod = typeof r.timeOfDay === "string" ? r.timeOfDay.trim() : "";
      if (!looksLikeTimeOfDay(tod)) {
        return this.fail(
          `row ${r.row}: time ${
            show(r.timeOfDay)
          } is not a time of day (HH:MM or HH:MM:SS)`,
        );
      }
      v = `${v.trim().slice(0, 10)} ${tod}`;
    }
    let x: number;
    if (typeof v === "number") x = v;
    else if (typeof v === "string" && NUMBER_RE.test(v.trim())) {
      x = Number(v.trim());
    } else if (typeof v === "string" && v.trim() !== "") {
      if (this.#unit !== undefined && this.#unit !== "iso") {
        return this.fail(
          `row ${r.row}: time ${
            show(v)
          } is not a number like the rows before it`,
        );
      }
      this.#unit = "iso";
      const ms = parseDateTime(v);
      if (Number.isNaN(ms)) {
        return this.fail(
          `row ${r.row}: time ${
            show(v)
          } is not a timestamp (seconds, ms or µs since 1970) or an ISO date`,
        );
      }
      return ms;
    } else {
      return this.fail(`row ${r.row}: time is missing`);
    }
    if (!Number.isFinite(x)) {
      return this.fail(`row ${r.row}: time ${show(v)} is not a finite number`);
    }
    if (this.#unit === "iso") {
      return this.fail(
        `row ${r.row}: time ${show(v)} is a number but earlier rows have dates`,
      );
    }
    this.#unit ??= timeUnitOf(x);
    const ms = Math.round(x * TIME_UNIT_FACTOR[this.#unit]);
    if (!Number.isSafeInteger(ms)) {
      return this.fail(`row ${r.row}: time ${show(v)} is out of range`);
    }
    return ms;
  }

  /** Parses, checks and stores one row. */
  add(r: InputRow): void {
    const row = r.row;
    const time = this.#timeOf(r);
    const open = this.#num(row, "open", r.open);
    const high = this.#num(row, "high", r.high);
    const low = this.#num(row, "low", r.low);
    const close = this.#num(row, "close", r.close);
    const volume = this.#num(row, "volume", r.volume);
    if (open === open && close === close) { // neither is NaN
      if (high === high && high < (open > close ? open : close)) {
        this.fail(
          `row ${row}: high ${high} is below max(open, close) ${
            Math.max(open, close)
          }`,
        );
      }
      if (low === low && low > (open < close ? open : close)) {
        this.fail(
          `row ${row}: low ${low} is above min(open, close) ${
            Math.min(open, close)
          }`,
        );
      }
    }
    const i = this.#n;
    if (i === this.#cap) this.#grow();
    if (i > 0 && !(time > this.#time[i - 1]!)) this.#sorted = false;
    this.#time[i] = time;
    this.#open[i] = open;
    this.#high[i] = high;
    this.#low[i] = low;
    this.#close[i] = close;
    this.#volume[i] = volume;
    this.#rowNo[i] = row;
    this.#n = i + 1;
  }

  /**
   * The candles in time order with the inferred period. Ascending input is
   * kept as is; anything else is sorted (stable), and duplicate timestamps
   * are refused naming both rows.
   */
  finish(): ImportedCandles {
    const n = this.#n;
    const cut = (a: Float64Array) => a.slice(0, n);
    let batch: CandleBatch = {
      time: cut(this.#time),
      open: cut(this.#open),
      high: cut(this.#high),
      low: cut(this.#low),
      close: cut(this.#close),
      volume: cut(this.#volume),
    };
    if (!this.#sorted) {
      const t = batch.time;
      const order = Array.from({ length: n }, (_, i) => i);
      order.sort((x, y) => t[x]! - t[y]! || x - y);
      for (let j = 1; j < n; j++) {
        const a = order[j - 1]!;
        const c = order[j]!;
        if (t[a] === t[c]) {
          const [r1, r2] = [this.#rowNo[a]!, this.#rowNo[c]!].sort((p, q) =>
            p - q
          );
          this.fail(
            `rows ${r1} and ${r2} have the same time ${timeText(t[a]!)}`,
          );
        }
      }
      batch = selectCandles(batch, order, n);
    }
    return {
      batch,
      period: inferPeriod(batch.time),
      timeUnit: this.#unit ?? "ms",
      count: n,
    };
  }
}

/**
 * Turns input rows into a sorted batch, checking every value (see
 * {@linkcode CandleAccumulator}).
 */
export function buildCandles(
  rows: Iterable<InputRow>,
  options: BuildOptions,
): ImportedCandles {
  const acc = new CandleAccumulator(options);
  for (const r of rows) acc.add(r);
  return acc.finish();
}

const DAY = 86_400_000;
const WEEK = 7 * DAY;

function isMonthStart(t: number): boolean {
  const d = new Date(t);
  return d.getUTCDate() === 1 && t % DAY === 0;
}

/**
 * Infers the TradingView period from sorted timestamps: the most common
 * spacing between neighbours (ties → the smaller), expressed in the largest
 * unit that divides it (`W`, `D`, minutes, `S`). Series whose candles all
 * start on the first of a month are monthly (`"1M"`, `"3M"`, ...).
 * `undefined` for fewer than two candles or a spacing of no whole second.
 */
export function inferPeriod(times: ArrayLike<number>): string | undefined {
  const n = times.length;
  if (n < 2) return undefined;
  let allMonthStarts = true;
  for (let i = 0; i < n && allMonthStarts; i++) {
    allMonthStarts = isMonthStart(times[i]!);
  }
  const counts = new Map<number, number>();
  for (let i = 1; i < n; i++) {
    let d: number;
    if (allMonthStarts) {
      const a = new Date(times[i - 1]!);
      const c = new Date(times[i]!);
      d = (c.getUTCFullYear() - a.getUTCFullYear()) * 12 + c.getUTCMonth() -
        a.getUTCMonth();
    } else {
      d = times[i]! - times[i - 1]!;
    }
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = 0;
  let bestCount = 0;
  for (const [d, c] of counts) {
    if (c > bestCount || (c === bestCount && d < best)) {
      best = d;
      bestCount = c;
    }
  }
  if (best <= 0) return undefined;
  if (allMonthStarts) {
    // Monthly only when the typical spacing is at least a month long.
    if (best >= 1) return `${best}M`;
    return undefined;
  }
  if (best % WEEK === 0) return `${best / WEEK}W`;
  if (best % DAY === 0) return `${best / DAY}D`;
  if (best % 60_000 === 0) return `${best / 60_000}`;
  if (best % 1000 === 0) return `${best / 1000}S`;
  return undefined;
}

/** A time for a message: ISO 8601 where a date can show it, else the ms. */
function timeText(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
}
