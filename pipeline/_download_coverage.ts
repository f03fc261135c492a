/**
 * The coverage step of `download()`: the file's ledger loaded before the run
 * (a fresh one for a new or truncated file), and the report of what the run
 * asked for afterwards. Private.
 *
 * @module
 */

import { emptyLedger, type RunSet } from "../format/coverage.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { periodStart } from "../format/timeframe.ts";
import { LedgerKeeper, loadLedger } from "./_coverage_ledger.ts";
import type { DownloadRequest, ExistingFile } from "./_download_plan.ts";
import type { DownloadTotals } from "./_download_segment.ts";
import { type CoverageReport, coverageReport } from "./coverage_report.ts";

/** The run's ledger keeper, and why an earlier ledger was set aside. */
export interface RunLedger {
  readonly keeper: LedgerKeeper;
  readonly discarded: string | undefined;
}

/**
 * Loads the ledger of the existing file (kept tables of the `.toml` too); a
 * new or truncated file starts an empty ledger.
 */
export async function openLedger(
  request: DownloadRequest,
  existing: ExistingFile | undefined,
  info: SymbolInfo,
): Promise<RunLedger> {
  const loaded = await loadLedger(request.tomlPath, {
    records: existing?.count ?? 0,
    first: existing?.first,
    last: existing?.last,
  });
  const fresh = existing === undefined;
  return {
    keeper: new LedgerKeeper(fresh ? emptyLedger() : loaded.ledger, {
      tomlPath: request.tomlPath,
      info,
      provider: request.providerString,
      extra: loaded.extra,
    }),
    discarded: fresh ? undefined : loaded.discarded,
  };
}

/** The coverage of what this run asked for. */
export async function runCoverage(
  keeper: LedgerKeeper,
  asked: RunSet,
  request: DownloadRequest,
  totals: DownloadTotals,
  info: SymbolInfo,
): Promise<CoverageReport> {
  const tf = request.timeframe;
  const from = asked.first ?? 0;
  const to = Math.min(
    asked.end ?? 0,
    periodStart(tf, request.clock()),
  );
  return await coverageReport(
    keeper.ledger,
    to > from ? { from, to } : { from: 0, to: 0 },
    {
      timeframe: tf,
      symbolInfo: info,
      candles: { first: totals.first, last: totals.last },
      gaps: totals.gaps,
      within: asked.runs,
      extent: { from: 0, to: 0 },
    },
  );
}
