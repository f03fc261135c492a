/**
 * `download()`: wires a provider to an `.ohlcv` file — PyneCore file naming,
 * the writer lock, the symbol-info `.toml`, the tick grid, resume after the
 * last committed candle, filling in before the first one, atomic truncate,
 * abort, progress and a summary.
 *
 * @example
 * ```ts
 * import { download } from "@pyne/data/pipeline";
 * import { MemoryProvider } from "@pyne/data/testing";
 *
 * const dataDir = await Deno.makeTempDir();
 * await using provider = new MemoryProvider();
 * const summary = await download(provider, "BTCUSDT", {
 *   timeframe: "60",
 *   dataDir,
 *   from: "7", // days back
 * });
 * console.log(summary.path, summary.candles, summary.gaps.length);
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */

import type { Provider } from "../providers/provider.ts";
import { fetchByPlan, type FetchResult } from "./_download_modes.ts";
import {
  type DownloadPlan,
  type DownloadRequest,
  type ExistingFile,
  planDownload,
  readExistingFile,
  resolveDownloadRequest,
} from "./_download_plan.ts";
import {
  checkGridAlignment,
  DownloadTotals,
  type SegmentContext,
} from "./_download_segment.ts";
import { statsSnapshot, summarizeDownload } from "./_download_summary.ts";
import { DownloadTarget } from "./_download_target.ts";
import { openLedger, runCoverage } from "./_download_coverage.ts";
import { RunSet } from "../format/coverage.ts";
import { ProgressTracker } from "./_progress_tracker.ts";
import type { DownloadOptions, DownloadSummary } from "./download_options.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";

export type {
  DownloadMode,
  DownloadOptions,
  DownloadProgress,
  DownloadSummary,
} from "./download_options.ts";

/**
 * Downloads candles of `symbol` from `provider` into an `.ohlcv` file (with a
 * symbol-info `.toml` beside it) and returns a summary.
 *
 * - The file is `<dataDir>/<provider>_<SYMBOL>_<period>.ohlcv` (or `path`);
 *   the writer's lock keeps a second download of the same file out.
 * - Without `from`, an existing file is topped up after its last committed
 *   candle; a new file starts 365 days back. `to` defaults to now.
 * - A `from` before the file's first candle downloads the missing head into a
 *   new file, copies the existing candles after it, tops it up, and renames it
 *   over the old file only when complete. `truncate` replaces the file the
 *   same way. The old file stays readable and intact until the rename.
 * - Candles pass `OrderStream`, the range filter, `ClosedCandlesStream`,
 *   `DedupeStream` (seeded with the file's last candle), `ValidateStream` and
 *   `GapStream` before the writer commits them batch by batch.
 * - Aborting (`signal`) rejects with the signal's reason; every committed
 *   candle stays in the file and running again continues from there.
 */
export async function download(
  provider: Provider,
  symbol: string,
  options: DownloadOptions,
): Promise<DownloadSummary> {
  const started = performance.now();
  // 1. The arguments, the existing file and how to use it (nothing touched yet).
  const request = resolveDownloadRequest(provider, symbol, options);
  const { timeframe, signal, providerString } = request;
  const existing = request.truncate
    ? undefined
    : await readExistingFile(request.path, timeframe);
  const plan = planDownload(request, existing);
  const statsBefore = statsSnapshot(provider.stats);

  // 2. Symbol info first: a bad symbol fails before any file is touched.
  const info = await provider.symbolInfo(request.symbol, timeframe);
  signal?.throwIfAborted();

  // 3. The coverage ledger, and the file opened and locked.
  const ledger = await openLedger(request, existing, info);
  const target = await DownloadTarget.open(request.path, {
    timeframe,
    replace: plan.mode === "prepend" || plan.mode === "truncate",
    existing,
    grid: tickGrid(plan.mode, existing, info),
    durable: options.durable ?? true,
    ledger: ledger.keeper,
    log: options.log,
  });

  // 4. The stage pipeline, segment by segment, into the file.
  const totals = new DownloadTotals();
  const tracker = new ProgressTracker({
    onProgress: options.onProgress,
    from: plan.fetchFrom,
    to: plan.to,
    periodMs: timeframe.calendar ? 0 : timeframe.ms,
    intervalMs: options.progressIntervalMs,
  });
  // What this run asked for: its report covers that.
  const asked = new RunSet();
  const ctx = segmentContext(provider, request, info, options, {
    write: async (batch) => {
      await target.append(batch);
      if (batch.coverage) await target.recordClaims(batch.coverage);
    },
    coverage: {
      request: (from, to) => {
        asked.add(from, to);
        ledger.keeper.request(from, to);
      },
      claim: (claims) => ledger.keeper.claim(claims, target.committed),
    },
    totals,
    tracker,
  });
  let result: FetchResult;
  try {
    // A replacement is invisible until its rename: its symbol info is saved
    // then too, so a failed replacement leaves the old `.toml` as it was.
    if (!target.replacing) await target.saveSymbolInfo();
    result = await fetchByPlan(ctx, target, plan, existing);
    signal?.throwIfAborted();
    checkGridAlignment(ctx, providerString);
    await target.close();
  } catch (error) {
    // The file keeps what was committed; its ledger says what is missing.
    if (await target.fail(error, totals.written === 0)) {
      await target.saveSymbolInfo();
    }
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
  await target.saveSymbolInfo();
  tracker.finish();

  // 5. The summary.
  return await summarizeDownload({
    request,
    plan,
    result,
    totals,
    statsBefore,
    statsAfter: statsSnapshot(provider.stats),
    started,
    coverage: await runCoverage(ledger.keeper, asked, request, totals, info),
    ledgerNote: ledger.discarded,
  });
}

/**
 * The tick grid of the file: a rebuilt file keeps the old file's grid, a
 * top-up keeps the file's header as it is, a new file takes the symbol's.
 */
function tickGrid(
  mode: DownloadPlan["mode"],
  existing: ExistingFile | undefined,
  info: SymbolInfo,
): { minmove: number; pricescale: number } | undefined {
  if (mode === "prepend" && existing && existing.pricescale > 0) {
    return { minmove: existing.minmove, pricescale: existing.pricescale };
  }
  return mode === "append" ? undefined : gridOf(info);
}

/** The symbol's tick grid when it fits a v2 header. */
function gridOf(
  info: SymbolInfo,
): { minmove: number; pricescale: number } | undefined {
  const { minmove, pricescale } = info;
  const ok = (v: unknown) =>
    typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 0xffffffff;
  return ok(minmove) && ok(pricescale) ? { minmove, pricescale } : undefined;
}

function segmentContext(
  provider: Provider,
  request: DownloadRequest,
  info: SymbolInfo,
  options: DownloadOptions,
  parts: Pick<SegmentContext, "write" | "coverage" | "totals" | "tracker">,
): SegmentContext {
  return {
    provider,
    symbol: request.symbol,
    timeframe: request.timeframe,
    info,
    clock: request.clock,
    nowMs: request.nowMs,
    signal: request.signal,
    options,
    ...parts,
  };
}
