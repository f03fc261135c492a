/**
 * A private part of `repair()` and `download()`: the holes of an `.ohlcv`
 * file — the failed and never-requested runs of its coverage — from its
 * ledger and its first and last candle, and the file's full coverage report
 * (with the missing periods between its candles) for a summary.
 *
 * @module
 */

import type { CoverageLedger } from "../format/coverage.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { readSymbolInfo, symbolInfoPath } from "../format/symbol_info_toml.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { loadLedger } from "./_coverage_ledger.ts";
import {
  type CoverageReport,
  coverageReport,
  type CoverageReportOptions,
  type CoverageSegment,
} from "./coverage_report.ts";
import { type Gap, GapStream } from "./gap_stream.ts";

/** The file's missing periods between candles, read from the file. */
export async function fileGaps(
  path: string,
  tf: Timeframe,
  info: Pick<SymbolInfo, "openingHours" | "timezone">,
): Promise<Gap[]> {
  await using reader = await OhlcvReader.open(path);
  const gaps = new GapStream({ timeframe: tf, symbolInfo: info });
  await reader.readable().pipeThrough(gaps).pipeTo(new WritableStream());
  return [...gaps.gaps];
}

/** What a file's coverage is computed from. */
export interface FileFacts {
  /** The file's candles: how many, the first and last open time. */
  readonly count: number;
  readonly first: number | undefined;
  readonly last: number | undefined;
}

/**
 * The range a file's coverage describes: from the first requested period or
 * candle to the end of the last one, and never into the forming period.
 */
export function coverageRange(
  ledger: CoverageLedger,
  tf: Timeframe,
  file: FileFacts,
  nowMs: number,
): { from: number; to: number } {
  const extent = fileExtent(tf, file);
  const from = Math.min(
    ledger.requested.first ?? Infinity,
    extent?.from ?? Infinity,
  );
  const to = Math.min(
    Math.max(ledger.requested.end ?? -Infinity, extent?.to ?? -Infinity),
    periodStart(tf, nowMs),
  );
  return Number.isFinite(from) && to > from ? { from, to } : { from: 0, to: 0 };
}

/** The file's first candle to the end of its last one. */
export function fileExtent(
  tf: Timeframe,
  file: FileFacts,
): { from: number; to: number } | undefined {
  return file.first !== undefined && file.last !== undefined
    ? { from: file.first, to: nextPeriodStart(tf, file.last) }
    : undefined;
}

/**
 * The coverage of a file over its whole range from its ledger. Without
 * `gaps` and `symbolInfo` the fetched runs are not told apart from empty and
 * closed ones, but the holes (`missing`) are exact: they do not depend on
 * either.
 */
export async function ledgerCoverage(
  ledger: CoverageLedger,
  tf: Timeframe,
  file: FileFacts,
  nowMs: number,
  more: Pick<CoverageReportOptions, "gaps" | "symbolInfo"> = {},
): Promise<CoverageReport> {
  return await coverageReport(ledger, coverageRange(ledger, tf, file, nowMs), {
    timeframe: tf,
    candles: { first: file.first, last: file.last },
    extent: fileExtent(tf, file),
    ...more,
  });
}

/**
 * The failed and never-requested holes of a file (cheap: the `.toml` ledger
 * and the file's first and last candle; no candle is read). A missing or
 * unreadable ledger knows of no hole: a file downloaded before the ledger
 * existed (or written by another tool) is not re-fetched behind the user's
 * back; `repair()` decides about such files on its own.
 */
export async function fileHoles(
  path: string,
  tf: Timeframe,
  file: FileFacts,
  nowMs: number,
): Promise<CoverageSegment[]> {
  const { ledger } = await loadLedger(symbolInfoPath(path), {
    records: file.count,
    first: file.first,
    last: file.last,
  });
  if (ledger.requested.empty) return [];
  return [...(await ledgerCoverage(ledger, tf, file, nowMs)).missing];
}

/** The holes clipped to `[from, to)` (those outside left out). */
export function holesWithin(
  holes: readonly CoverageSegment[],
  from: number,
  to: number,
): CoverageSegment[] {
  return holes.filter((h) => h.to > from && h.from < to).map((h) =>
    h.from >= from && h.to <= to
      ? h
      : { ...h, from: Math.max(h.from, from), to: Math.min(h.to, to) }
  );
}

/** What {@linkcode fileCoverage} found. */
export interface FileCoverage {
  /** The coverage of the file's whole range. */
  report: CoverageReport;
  /** Why the ledger was set aside (then the file counts as never requested). */
  ledgerNote: string | undefined;
  /** The file's timeframe (from its `.toml`). */
  tf: Timeframe;
}

/**
 * The coverage of the file at `path` from its ledger, its candles and the
 * missing periods between them (closed or empty by its opening hours). The
 * file needs its symbol-info `.toml`.
 */
export async function fileCoverage(
  path: string,
  options: { readonly now?: (() => number) | undefined } = {},
): Promise<FileCoverage> {
  const tomlPath = symbolInfoPath(path);
  const doc = await readSymbolInfo(tomlPath);
  const tf = parseTimeframe(doc.info.period);
  let file: FileFacts;
  {
    await using reader = await OhlcvReader.open(path);
    const { count, first, last } = reader.info;
    file = { count, first, last };
  }
  const { ledger, discarded } = await loadLedger(tomlPath, {
    records: file.count,
    first: file.first,
    last: file.last,
  });
  const gaps = await fileGaps(path, tf, doc.info);
  const report = await ledgerCoverage(
    ledger,
    tf,
    file,
    (options.now ?? Date.now)(),
    { gaps, symbolInfo: doc.info },
  );
  return { report, ledgerNote: discarded, tf };
}
