/**
 * The last step of `download()`: the summary of what the run did, with what
 * the file holds afterwards. Private.
 *
 * @module
 */

import { OhlcvReader } from "../format/ohlcv_reader.ts";
import type { ProviderStats } from "../providers/provider.ts";
import type { DownloadPlan, DownloadRequest } from "./_download_plan.ts";
import type { FetchResult } from "./_download_modes.ts";
import type { DownloadTotals } from "./_download_segment.ts";
import type { DownloadSummary } from "./download_options.ts";
import type { CoverageReport } from "./coverage_report.ts";

/** The provider's request counters at one moment. */
export type StatsSnapshot = Pick<ProviderStats, "requests" | "retries">;

/** Takes a copy of the provider's request counters. */
export function statsSnapshot(stats: ProviderStats): StatsSnapshot {
  return { requests: stats.requests, retries: stats.retries };
}

/** What the summary is made of. */
export interface SummaryParts {
  readonly request: DownloadRequest;
  readonly plan: DownloadPlan;
  readonly result: FetchResult;
  readonly totals: DownloadTotals;
  /** The provider's counters before the run and now. */
  readonly statsBefore: StatsSnapshot;
  readonly statsAfter: StatsSnapshot;
  /** When the run started (`performance.now()`), for the wall time. */
  readonly started: number;
  /** The coverage of what the run asked for. */
  readonly coverage: CoverageReport;
  /** Why an earlier ledger was set aside. */
  readonly ledgerNote: string | undefined;
}

/** Reads the file's count and first/last candle and builds the summary. */
export async function summarizeDownload(
  parts: SummaryParts,
): Promise<DownloadSummary> {
  const { request, plan, result, totals } = parts;
  const reader = await OhlcvReader.open(request.path);
  const { count: fileCount, first: fileFirst, last: fileLast } = reader.info;
  await reader.close();
  return {
    path: request.path,
    symbolInfoPath: request.tomlPath,
    providerString: request.providerString,
    symbol: request.symbol,
    timeframe: request.timeframe.period,
    mode: result.mode,
    range: {
      from: result.mode === "append"
        ? Math.min(plan.fetchFrom, plan.to)
        : plan.from,
      to: plan.to,
    },
    candles: totals.written,
    copied: result.copied,
    first: totals.first,
    last: totals.last,
    fileCount,
    fileFirst,
    fileLast,
    upToDate: result.upToDate,
    requests: parts.statsAfter.requests - parts.statsBefore.requests,
    retries: parts.statsAfter.retries - parts.statsBefore.retries,
    gaps: totals.gaps,
    closedPeriods: totals.closedPeriods,
    anomalyPeriods: totals.anomalyPeriods,
    validation: {
      checked: totals.checked,
      invalid: totals.invalid,
      dropped: totals.dropped,
      counts: totals.counts,
      issues: totals.issues,
    },
    duplicates: totals.duplicates,
    conflicts: totals.conflicts,
    conflictSamples: totals.conflictSamples,
    formingDropped: totals.forming,
    coverage: parts.coverage,
    ...(parts.ledgerNote !== undefined ? { ledgerNote: parts.ledgerNote } : {}),
    durationMs: performance.now() - parts.started,
  };
}
