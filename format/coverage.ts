/**
 * The coverage ledger: what became of every requested period of an `.ohlcv`
 * file, kept as compact runs in a `[coverage]` table of the symbol-info
 * `.toml` beside it (PyneCore ignores tables it does not know).
 *
 * Runs are half-open `[from, to)` spans of Unix ms. The ledger stores four
 * sets, each a sorted list of disjoint runs:
 *
 * - `requested`: every range a download asked for;
 * - `fetched`: ranges the venue answered for completely (the file holds every
 *   candle the venue has there; a period inside without a candle is verified
 *   empty, or market closed by the opening hours);
 * - `notServed`: ranges the venue does not serve (before a listing, beyond its
 *   history limit);
 * - `failed`: ranges whose candles could not be had (retries exhausted,
 *   invalid candles dropped).
 *
 * A requested period in none of the last three is failed too (the download
 * stopped before it); a period of the file's extent never requested is
 * "never requested". The ledger also records the file it was written for
 * (`records`, `first`, `last`): it is written after the candles it describes
 * are committed, so it may lag the file after a crash but never claims more
 * than the file holds, and a ledger that does not fit its file is not used.
 *
 * @example
 * ```ts
 * import { emptyLedger, RunSet } from "@pyne/data/format";
 *
 * const ledger = emptyLedger();
 * ledger.requested.add(0, 3_600_000);
 * ledger.fetched.add(0, 1_800_000);
 * console.log(ledger.requested.subtract(ledger.fetched).runs); // [[1800000, 3600000]]
 * ```
 *
 * @module
 */

import { FormatError } from "./format_error.ts";

/** A half-open span `[from, to)` of Unix ms. */
export type Run = readonly [from: number, to: number];

/** A set of times kept as sorted, disjoint, non-touching runs `[from, to)`. */
export class RunSet {
  #runs: Array<[number, number]> = [];

  /** A set holding the given runs (in any order, overlapping or not). */
  constructor(runs: Iterable<Run> = []) {
    for (const [a, b] of runs) this.add(a, b);
  }

  /** The runs, sorted and disjoint (a copy). */
  get runs(): Run[] {
    return this.#runs.map(([a, b]) => [a, b] as const);
  }

  /** True when the set holds nothing. */
  get empty(): boolean {
    return this.#runs.length === 0;
  }

  /** The first time in the set. */
  get first(): number | undefined {
    return this.#runs[0]?.[0];
  }

  /** The end (exclusive) of the last run. */
  get end(): number | undefined {
    return this.#runs[this.#runs.length - 1]?.[1];
  }

  /** Total length in ms. */
  get length(): number {
    let n = 0;
    for (const [a, b] of this.#runs) n += b - a;
    return n;
  }

  /** Adds `[from, to)` (nothing when `to <= from`). Returns this set. */
  add(from: number, to: number): this {
    if (!(to > from)) return this;
    if (!Number.isFinite(from) || !Number.isFinite(to)) {
      throw new RangeError(`A run must be finite, got [${from}, ${to})`);
    }
    const runs = this.#runs;
    // The first run ending at or after `from` (touching runs merge).
    const i = lowerEnd(runs, from);
    let a = from, b = to;
    let j = i;
    while (j < runs.length && runs[j]![0] <= b) {
      a = Math.min(a, runs[j]![0]);
      b = Math.max(b, runs[j]![1]);
      j++;
    }
    runs.splice(i, j - i, [a, b]);
    return this;
  }

  /** Adds every run of `other`. Returns this set. */
  addAll(other: RunSet | Iterable<Run>): this {
    for (const [a, b] of other instanceof RunSet ? other.#runs : other) {
      this.add(a, b);
    }
    return this;
  }

  /** Removes `[from, to)`. Returns this set. */
  remove(from: number, to: number): this {
    if (!(to > from)) return this;
    const runs = this.#runs;
    const out: Array<[number, number]> = [];
    for (const [a, b] of runs) {
      if (b <= from || a >= to) {
        out.push([a, b]);
        continue;
      }
      if (a < from) out.push([a, from]);
      if (b > to) out.push([to, b]);
    }
    this.#runs = out;
    return this;
  }

  /** Removes every run of `other`. Returns this set. */
  removeAll(other: RunSet | Iterable<Run>): this {
    for (const [a, b] of other instanceof RunSet ? other.#runs : other) {
      this.remove(a, b);
    }
    return this;
  }

  /** A new set: this minus `other`. */
  subtract(other: RunSet | Iterable<Run>): RunSet {
    return this.clone().removeAll(other);
  }

  /** A new set: the times in both. */
  intersect(other: RunSet | Iterable<Run>): RunSet {
    const o = other instanceof RunSet ? other : new RunSet(other);
    const out = new RunSet();
    let i = 0, j = 0;
    const x = this.#runs, y = o.#runs;
    while (i < x.length && j < y.length) {
      const a = Math.max(x[i]![0], y[j]![0]);
      const b = Math.min(x[i]![1], y[j]![1]);
      if (a < b) out.#runs.push([a, b]);
      if (x[i]![1] < y[j]![1]) i++;
      else j++;
    }
    return out;
  }

  /** A new set: this clipped to `[from, to)`. */
  clip(from: number, to: number): RunSet {
    return this.intersect([[from, to]]);
  }

  /** True when `[from, to)` lies wholly in the set. */
  covers(from: number, to: number): boolean {
    if (!(to > from)) return true;
    const r = this.#runs[upperEnd(this.#runs, from)];
    return r !== undefined && r[0] <= from && r[1] >= to;
  }

  /** True when the time `t` is in the set. */
  has(t: number): boolean {
    const r = this.#runs[upperEnd(this.#runs, t)];
    return r !== undefined && r[0] <= t;
  }

  /** A copy. */
  clone(): RunSet {
    const c = new RunSet();
    c.#runs = this.#runs.map(([a, b]) => [a, b]);
    return c;
  }

  /** True when both hold exactly the same times. */
  equals(other: RunSet): boolean {
    const x = this.#runs, y = other.#runs;
    return x.length === y.length &&
      x.every((r, i) => r[0] === y[i]![0] && r[1] === y[i]![1]);
  }
}

/** Index of the first run whose end is `>= t`. */
function lowerEnd(runs: ReadonlyArray<readonly [number, number]>, t: number) {
  let lo = 0, hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]![1] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first run whose end is `> t`. */
function upperEnd(runs: ReadonlyArray<readonly [number, number]>, t: number) {
  let lo = 0, hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]![1] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The file a ledger was written for. */
export interface LedgerFile {
  /** Candles in the file. */
  readonly records: number;
  /** Its first candle's open time, Unix ms. */
  readonly first: number | undefined;
  /** Its last candle's open time, Unix ms. */
  readonly last: number | undefined;
}

/** What became of each requested period of one `.ohlcv` file. */
export interface CoverageLedger {
  /** Every range a download asked for. */
  readonly requested: RunSet;
  /** Ranges the venue answered for completely. */
  readonly fetched: RunSet;
  /** Ranges the venue does not serve (before listing, beyond its history). */
  readonly notServed: RunSet;
  /** Ranges whose candles could not be had (retries exhausted, invalid candles). */
  readonly failed: RunSet;
  /** The file the ledger was last written for. */
  file?: LedgerFile | undefined;
}

/** A ledger with nothing in it. */
export function emptyLedger(): CoverageLedger {
  return {
    requested: new RunSet(),
    fetched: new RunSet(),
    notServed: new RunSet(),
    failed: new RunSet(),
  };
}

/** The states a period of a requested range can be in. */
export type CoverageState =
  /** The venue answered; the file holds its candles. */
  | "fetched"
  /** The venue answered that it has no candle there (market open). */
  | "empty"
  /** The venue answered nothing there while the market was closed. */
  | "closed"
  /** The venue does not serve that range (before listing, beyond its history). */
  | "not-served"
  /** Retries exhausted, invalid candles dropped, or the download stopped first. */
  | "failed"
  /** Inside the file's extent but never asked for (a file written before the ledger). */
  | "never-requested";

/** True when a ledger can describe the file: it claims nothing the file lost. */
export function ledgerFits(ledger: CoverageLedger, file: LedgerFile): boolean {
  const f = ledger.file;
  if (f === undefined) return ledger.fetched.empty;
  if (f.records === 0) return true;
  if (file.records < f.records) return false;
  if (file.first === undefined || file.last === undefined) return false;
  return file.first <= f.first! && file.last >= f.last!;
}

/**
 * Folds one run's facts into the ledger: `fetched` and `notServed` replace
 * earlier `failed` claims they cover; `failed` removes earlier `fetched`
 * claims (the candles there were refused).
 */
export function recordCoverage(
  ledger: CoverageLedger,
  state: "fetched" | "not-served" | "failed",
  from: number,
  to: number,
): void {
  if (!(to > from)) return;
  if (state === "failed") {
    ledger.failed.add(from, to);
    ledger.fetched.remove(from, to);
    ledger.notServed.remove(from, to);
    return;
  }
  ledger.failed.remove(from, to);
  if (state === "fetched") {
    ledger.fetched.add(from, to);
    ledger.notServed.remove(from, to);
  } else {
    ledger.notServed.add(from, to);
    ledger.fetched.remove(from, to);
  }
}

/** The requested periods that are neither fetched nor not served: holes to repair. */
export function unresolved(ledger: CoverageLedger): RunSet {
  return ledger.requested.subtract(ledger.fetched).removeAll(ledger.notServed)
    .addAll(ledger.failed.intersect(ledger.requested));
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?Z$/;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * The ledger as a TOML table (`[coverage]`): each set an array of
 * `["from", "to"]` UTC ISO pairs, and the file it describes.
 */
export function coverageToToml(
  ledger: CoverageLedger,
): Record<string, unknown> {
  const runs = (s: RunSet) => s.runs.map(([a, b]) => [iso(a), iso(b)]);
  const table: Record<string, unknown> = {
    requested: runs(ledger.requested),
    fetched: runs(ledger.fetched),
    not_served: runs(ledger.notServed),
    failed: runs(ledger.failed),
  };
  const f = ledger.file;
  if (f !== undefined) {
    const file: Record<string, unknown> = { records: f.records };
    if (f.first !== undefined) file.first = iso(f.first);
    if (f.last !== undefined) file.last = iso(f.last);
    table.file = file;
  }
  return table;
}

/**
 * Reads a `[coverage]` table. Throws a {@linkcode FormatError} naming the key
 * when it is malformed.
 */
export function coverageFromToml(
  table: unknown,
  path?: string,
): CoverageLedger {
  const where = path ? `${path}: ` : "";
  const fail = (msg: string): never => {
    throw new FormatError(
      `${where}[coverage] ${msg}; delete the [coverage] table to start a new ledger`,
      path !== undefined ? { path } : undefined,
    );
  };
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    fail("must be a table");
  }
  const t = table as Record<string, unknown>;
  const time = (v: unknown, key: string): number => {
    if (typeof v !== "string" || !ISO.test(v)) {
      fail(
        `${key}: ${
          JSON.stringify(v)
        } is not a UTC time like 2025-01-06T00:00:00Z`,
      );
    }
    return Date.parse(v as string);
  };
  const set = (key: string): RunSet => {
    const v = t[key];
    if (v === undefined) return new RunSet();
    if (!Array.isArray(v)) fail(`${key} must be an array of [from, to] pairs`);
    const s = new RunSet();
    (v as unknown[]).forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        fail(`${key}[${i}] must be a [from, to] pair`);
      }
      const [a, b] = pair as unknown[];
      const from = time(a, `${key}[${i}]`);
      const to = time(b, `${key}[${i}]`);
      if (!(to > from)) fail(`${key}[${i}] ends before it starts`);
      s.add(from, to);
    });
    return s;
  };
  const ledger: CoverageLedger = {
    requested: set("requested"),
    fetched: set("fetched"),
    notServed: set("not_served"),
    failed: set("failed"),
  };
  if (t.file !== undefined) {
    const f = t.file as Record<string, unknown>;
    if (typeof f !== "object" || f === null) fail("file must be a table");
    const records = f.records;
    if (
      typeof records !== "number" || !Number.isInteger(records) || records < 0
    ) {
      fail(`file.records must be a whole number >= 0`);
    }
    ledger.file = {
      records: records as number,
      first: f.first === undefined ? undefined : time(f.first, "file.first"),
      last: f.last === undefined ? undefined : time(f.last, "file.last"),
    };
  }
  return ledger;
}
