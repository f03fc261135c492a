/**
 * How the CLI tells a coverage report (`pipeline/coverage_report.ts`): the
 * summary table's cell, the notes under it ("venue served nothing from …
 * on"), and the `--json` form. Shared by the download summary, `repair` and
 * `inspect`. Private to the CLI.
 *
 * @module
 */

import { fmtInt, fmtTime } from "./_progress.ts";
import type { CoverageState } from "../format/coverage.ts";
import { nextPeriodStart, type Timeframe } from "../format/timeframe.ts";
import type {
  CoverageReport,
  CoverageSegment,
} from "../pipeline/coverage_report.ts";

const STATE_WORDS: Readonly<Record<CoverageState, string>> = {
  "fetched": "fetched",
  "empty": "verified empty",
  "closed": "market closed",
  "not-served": "not served by the venue",
  "failed": "failed: invalid candles dropped or retries exhausted",
  "never-requested": "never requested",
};

/** Grid periods opening in `[from, to)`. */
export function periodsIn(tf: Timeframe, from: number, to: number): number {
  if (to <= from) return 0;
  if (!tf.calendar) return Math.round((to - from) / tf.ms);
  let n = 0;
  for (let t = from; t < to; t = nextPeriodStart(tf, t)) n++;
  return n;
}

function missingPeriods(report: CoverageReport, tf: Timeframe): number {
  return report.missing.reduce((n, s) => n + periodsIn(tf, s.from, s.to), 0);
}

/** The summary table's coverage cell: `complete` or `N missing`. */
export function coverageCell(
  report: CoverageReport | undefined,
  tf: Timeframe,
): string {
  if (!report) return "-";
  if (report.range.to <= report.range.from) return "-";
  if (report.complete) return "complete";
  return `${fmtInt(missingPeriods(report, tf))} missing`;
}

/**
 * One line per run the user must know about: what is missing (failed or
 * never requested; at the end of the range told as "nothing from … on"), and
 * what the venue does not serve. At most `max` missing runs.
 */
export function coverageNotes(
  report: CoverageReport | undefined,
  tf: Timeframe,
  max = 5,
): string[] {
  if (!report) return [];
  const out: string[] = [];
  const { from, to } = report.range;
  const span = (s: CoverageSegment) =>
    `${fmtInt(periodsIn(tf, s.from, s.to))} ${
      periodsIn(tf, s.from, s.to) === 1 ? "period" : "periods"
    }, ${STATE_WORDS[s.state]}`;
  for (const s of report.missing.slice(0, max)) {
    if (s.from <= from && s.to >= to) {
      out.push(`nothing of ${fmtTime(from)} .. ${fmtTime(to)} (${span(s)})`);
    } else if (s.to >= to) {
      out.push(`nothing from ${fmtTime(s.from)} on (${span(s)})`);
    } else if (s.from <= from) {
      out.push(`nothing before ${fmtTime(s.to)} (${span(s)})`);
    } else {
      out.push(`${fmtTime(s.from)} .. ${fmtTime(s.to)} missing (${span(s)})`);
    }
  }
  if (report.missing.length > max) {
    out.push(`... and ${report.missing.length - max} more missing runs`);
  }
  const notServed = report.segments.filter((s) => s.state === "not-served");
  for (const s of notServed.slice(0, 2)) {
    out.push(
      `${fmtTime(s.from)} .. ${fmtTime(s.to)} not served by the venue (${
        fmtInt(periodsIn(tf, s.from, s.to))
      } periods; not a gap)`,
    );
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The `--json` form of a coverage report (times as ISO 8601, totals in periods). */
export function coverageJson(
  report: CoverageReport | undefined,
  tf: Timeframe,
): Record<string, unknown> | null {
  if (!report) return null;
  const totals: Record<string, number> = {};
  for (const s of report.segments) {
    totals[s.state] = (totals[s.state] ?? 0) + periodsIn(tf, s.from, s.to);
  }
  const seg = (s: CoverageSegment) => ({
    from: iso(s.from),
    to: iso(s.to),
    state: s.state,
    periods: periodsIn(tf, s.from, s.to),
  });
  return {
    complete: report.complete,
    from: report.range.to > report.range.from ? iso(report.range.from) : null,
    to: report.range.to > report.range.from ? iso(report.range.to) : null,
    periods: totals,
    missingPeriods: missingPeriods(report, tf),
    segments: report.segments.map(seg),
    missing: report.missing.map(seg),
  };
}
