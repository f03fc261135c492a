/**
 * `coverageReport()`: the state of every period of a range, from a file's
 * coverage ledger and the missing periods between its candles — what the
 * download summary and `inspect` show.
 *
 * @example
 * ```ts
 * import { emptyLedger } from "@pyne/data/format";
 * import { coverageReport } from "@pyne/data/pipeline";
 *
 * const H = 3_600_000;
 * const ledger = emptyLedger();
 * ledger.requested.add(0, 10 * H);
 * ledger.fetched.add(0, 6 * H);
 * const report = await coverageReport(ledger, { from: 0, to: 10 * H }, {
 *   timeframe: "60",
 *   candles: { first: 0, last: 5 * H },
 * });
 * console.log(report.complete, report.segments.map((s) => s.state)); // false [ "fetched", "failed" ]
 * ```
 *
 * @module
 */

import { batchFromRows } from "../format/candle_batch.ts";
import {
  type CoverageLedger,
  type CoverageState,
  type Run,
  RunSet,
  unresolved,
} from "../format/coverage.ts";
import type { OpeningHours } from "../format/symbol_info.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { type Gap, GapStream } from "./gap_stream.ts";

/** A run of periods in one state. */
export interface CoverageSegment {
  /** Start, Unix ms (inclusive). */
  readonly from: number;
  /** End, Unix ms (exclusive). */
  readonly to: number;
  /** What became of these periods. */
  readonly state: CoverageState;
}

/** What {@linkcode coverageReport} found. */
export interface CoverageReport {
  /** The range described, `[from, to)`. */
  readonly range: { readonly from: number; readonly to: number };
  /** The range cut into runs of one state, in time order. */
  readonly segments: readonly CoverageSegment[];
  /** Ms of the range per state. */
  readonly totals: Readonly<Record<CoverageState, number>>;
  /**
   * True when every period is fetched, verified empty, closed or not served
   * (nothing failed, nothing never requested).
   */
  readonly complete: boolean;
  /** The failed and never-requested runs (what `repair` fetches). */
  readonly missing: readonly CoverageSegment[];
}

/** What {@linkcode coverageReport} needs to know about the file. */
export interface CoverageReportOptions {
  /** The file's timeframe. */
  readonly timeframe: string | Timeframe;
  /** Opening hours and zone, to tell closed periods from empty ones. */
  readonly symbolInfo?:
    | {
      readonly openingHours?: ReadonlyArray<OpeningHours> | undefined;
      readonly timezone?: string | undefined;
    }
    | undefined;
  /** The file's first and last candle (open times, Unix ms) in or around the range. */
  readonly candles?:
    | { readonly first: number | undefined; readonly last: number | undefined }
    | undefined;
  /** Missing periods between the file's candles (from `GapStream` or `inspect`). */
  readonly gaps?: readonly Gap[] | undefined;
  /**
   * Where the file's candles lie (its first to the period after its last):
   * parts of it never requested show as `"never-requested"`. @default {the candles}
   */
  readonly extent?: { readonly from: number; readonly to: number } | undefined;
  /**
   * Describe only these runs of the range (a download's report covers what
   * the run asked for, not the rest of the file). @default {the whole range}
   */
  readonly within?: Iterable<Run> | undefined;
}

const STATES: readonly CoverageState[] = [
  "fetched",
  "empty",
  "closed",
  "not-served",
  "failed",
  "never-requested",
];

/**
 * Describes every period of `range` from the file's ledger: fetched (with
 * candles), verified empty (the venue answered none while the market was
 * open), closed, not served, failed (asked for and not had), never requested.
 */
export async function coverageReport(
  ledger: CoverageLedger,
  range: { readonly from: number; readonly to: number },
  options: CoverageReportOptions,
): Promise<CoverageReport> {
  const tf = parseTimeframe(options.timeframe);
  const { from, to } = range;
  const labelled: Array<[RunSet, CoverageState]> = [];
  const failed = unresolved(ledger).clip(from, to);
  const notServed = ledger.notServed.clip(from, to).removeAll(failed);
  // Missing periods inside the fetched runs: between candles, and before the
  // first / after the last candle of the range.
  const fetched = ledger.fetched.clip(from, to).removeAll(failed);
  const closed = new RunSet();
  const empty = new RunSet();
  const first = options.candles?.first;
  const last = options.candles?.last;
  const missing: Gap[] = [...(options.gaps ?? [])];
  for (const [a, b] of fetched.runs) {
    if (first === undefined || last === undefined || first >= b || last < a) {
      missing.push(...await classify(tf, options, a, b, undefined));
      continue;
    }
    if (first > a) missing.push(...await classify(tf, options, a, first));
    const end = nextPeriodStart(tf, last);
    if (end < b) missing.push(...await classify(tf, options, end, b, last));
  }
  for (const g of missing) {
    (g.kind === "closed" ? closed : empty).add(g.from, g.to);
  }
  const closedIn = closed.intersect(fetched);
  const emptyIn = empty.intersect(fetched).removeAll(closedIn);
  labelled.push(
    [fetched.subtract(closedIn).removeAll(emptyIn), "fetched"],
    [emptyIn, "empty"],
    [closedIn, "closed"],
    [notServed, "not-served"],
    [failed, "failed"],
  );
  // Parts of the file never asked for (a file from before the ledger).
  const extent = options.extent ??
    (first !== undefined && last !== undefined
      ? { from: first, to: nextPeriodStart(tf, last) }
      : undefined);
  const known = new RunSet().addAll(fetched).addAll(notServed).addAll(failed);
  if (extent !== undefined) {
    labelled.push([
      new RunSet([[extent.from, extent.to]]).clip(from, to).removeAll(known)
        .removeAll(ledger.requested),
      "never-requested",
    ]);
  }
  // Whatever is left was requested (or lies outside the file) and has no
  // answer: failed when requested, never requested otherwise.
  const all = new RunSet();
  for (const [s] of labelled) all.addAll(s);
  const rest = new RunSet([[from, to]]).removeAll(all);
  labelled.push(
    [rest.intersect(ledger.requested), "failed"],
    [rest.subtract(ledger.requested), "never-requested"],
  );
  const segments: CoverageSegment[] = [];
  const totals = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<
    CoverageState,
    number
  >;
  const within = options.within === undefined
    ? undefined
    : new RunSet(options.within);
  for (const [set0, state] of labelled) {
    const set = within ? set0.intersect(within) : set0;
    for (const [a, b] of set.runs) {
      segments.push({ from: a, to: b, state });
      totals[state] += b - a;
    }
  }
  segments.sort((x, y) => x.from - y.from);
  // Neighbours in the same state become one run.
  const merged: CoverageSegment[] = [];
  for (const s of segments) {
    const prev = merged[merged.length - 1];
    if (prev && prev.state === s.state && prev.to === s.from) {
      merged[merged.length - 1] = { ...prev, to: s.to };
    } else merged.push(s);
  }
  const holes = merged.filter((s) =>
    s.state === "failed" || s.state === "never-requested"
  );
  return {
    range: { from, to },
    segments: merged,
    totals,
    complete: holes.length === 0,
    missing: holes,
  };
}

/** The missing periods of `[a, b)` (no candle there), classified by the opening hours. */
async function classify(
  tf: Timeframe,
  options: CoverageReportOptions,
  a: number,
  b: number,
  before?: number,
): Promise<Gap[]> {
  const start = periodStart(tf, a) < a ? nextPeriodStart(tf, a) : a;
  if (start >= b) return [];
  // A candle just before `start` and one at `b` frame the missing periods.
  const after = before ?? prevPeriod(tf, start);
  const gaps = new GapStream({
    timeframe: tf,
    symbolInfo: options.symbolInfo,
    after,
  });
  const end = periodStart(tf, b) < b ? nextPeriodStart(tf, b) : b;
  await ReadableStream.from([batchFromRows([[end, 0, 0, 0, 0, 0]])])
    .pipeThrough(gaps)
    .pipeTo(new WritableStream());
  return gaps.gaps.map((g) => ({
    ...g,
    from: Math.max(g.from, a),
    to: Math.min(g.to, b),
  }));
}

/** The open time of the period before `t` (on the grid). */
function prevPeriod(tf: Timeframe, t: number): number {
  if (!tf.calendar) return t - tf.ms;
  return periodStart(tf, t - 1);
}
