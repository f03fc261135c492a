/**
 * `repair()`: re-fetches exactly the holes of an `.ohlcv` file — the failed
 * and never-requested periods its coverage ledger knows of, in the middle of
 * the file or at its ends — and rebuilds the file atomically with them.
 *
 * @example
 * ```ts
 * import { download, repair } from "@pyne/data/pipeline";
 * import { MemoryProvider } from "@pyne/data/testing";
 *
 * const dataDir = await Deno.makeTempDir();
 * await using provider = new MemoryProvider();
 * const { path } = await download(provider, "BTCUSDT", {
 *   timeframe: "60",
 *   dataDir,
 *   from: "3",
 * });
 * const fixed = await repair(provider, path);
 * console.log(fixed.holes.length, fixed.coverage.complete); // 0 true
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */

import { isNotFound, pathExists } from "../format/_file_io.ts";
import type { CoverageClaim } from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { parseProviderString } from "../format/provider_string.ts";
import {
  readSymbolInfo,
  type SymbolInfoFile,
  symbolInfoPath,
} from "../format/symbol_info_toml.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import type { Provider } from "../providers/provider.ts";
import { LedgerKeeper, loadLedger } from "./_coverage_ledger.ts";
import { DownloadTotals, type SegmentContext } from "./_download_segment.ts";
import { ProgressTracker } from "./_progress_tracker.ts";
import { fileCoverage, holesWithin } from "./_repair_holes.ts";
import { fillHoles } from "./_repair_merge.ts";
import type { CoverageReport, CoverageSegment } from "./coverage_report.ts";
import type { ValidationPolicy } from "./validate_stream.ts";

export { fileCoverage, fileGaps } from "./_repair_holes.ts";
export type { FileCoverage } from "./_repair_holes.ts";

/** Options for {@linkcode repair}. */
export interface RepairOptions {
  /** Only holes inside `[from, to)` (Unix ms). @default {every hole} */
  readonly range?: { readonly from: number; readonly to: number } | undefined;
  /** Stops the repair; the file stays as it was. */
  readonly signal?: AbortSignal | undefined;
  /** The clock, Unix ms (injectable for tests). @default {Date.now} */
  readonly now?: (() => number) | undefined;
  /** Pages fetched at once (passed to the provider). */
  readonly concurrency?: number | undefined;
  /** Candles per request (passed to the provider). */
  readonly pageSize?: number | undefined;
  /** Ask the provider for extra per-candle data (`.extra.csv`). @default {false} */
  readonly extraData?: boolean | undefined;
  /** Invalid candles: see `DownloadOptions.validation`. @default {"drop"} */
  readonly validation?: ValidationPolicy | undefined;
  /** NaN values: see `DownloadOptions.allowNaN`. @default {"volume"} */
  readonly allowNaN?: boolean | "volume" | undefined;
  /** fsync the rebuilt file. @default {true} */
  readonly durable?: boolean | undefined;
  /** Told of each hole before it is fetched. */
  readonly onHole?:
    | ((hole: CoverageSegment, index: number) => void)
    | undefined;
}

/** What {@linkcode repair} did. */
export interface RepairSummary {
  /** The `.ohlcv` file. */
  readonly path: string;
  /** Its provider string (from the `.toml`). */
  readonly providerString: string;
  /** The holes found (failed and never-requested runs) and fetched. */
  readonly holes: readonly CoverageSegment[];
  /** Candles inserted into the file. */
  readonly candles: number;
  /** Candles in the file afterwards. */
  readonly fileCount: number;
  /** Requests the provider sent. */
  readonly requests: number;
  /** Coverage of the file afterwards. */
  readonly coverage: CoverageReport;
  /** Why an earlier ledger was set aside, when it was. */
  readonly ledgerNote?: string | undefined;
  /** Wall time, ms. */
  readonly durationMs: number;
}

/**
 * Re-fetches the failed and never-requested holes of the file at `path`
 * from `provider` (the provider named in the file's `.toml`), inserts their
 * candles and replaces the file atomically, then records the answers in the
 * ledger. Holes the venue answers as empty just become verified in the
 * ledger. A complete file is left as it is, without a request. When a hole
 * fails (or `signal` aborts), the file and its `.toml` stay exactly as they
 * were and the error is thrown. An existing candle wins over a re-fetched
 * one at the same time.
 *
 * Throws a `FormatError` for a file without its `.toml` or provider, a
 * `RangeError` for a file of another provider or a legacy v1 file.
 */
export async function repair(
  provider: Provider,
  path: string,
  options: RepairOptions = {},
): Promise<RepairSummary> {
  const started = performance.now();
  const clock = options.now ?? Date.now;
  const signal = options.signal;
  signal?.throwIfAborted();
  const { doc, providerString, symbol } = await openRepairable(
    provider,
    path,
  );
  const tomlPath = symbolInfoPath(path);
  const tf = parseTimeframe(doc.info.period);
  const requests0 = provider.stats.requests;
  const before = await fileCoverage(path, { now: clock });
  const range = options.range;
  const holes = range === undefined
    ? [...before.report.missing]
    : holesWithin(before.report.missing, range.from, range.to);
  let file: { count: number; minmove: number; pricescale: number };
  {
    await using reader = await OhlcvReader.open(path);
    const { count, minmove, pricescale, format, period } = reader.info;
    if (format !== "v2") {
      throw new RangeError(
        `Cannot repair ${path}: it is a legacy v1 file; download it again with truncate to replace it with a v2 file`,
      );
    }
    if (period !== tf.period) {
      throw new RangeError(
        `Cannot repair ${path}: the file holds ${period} candles but ${tomlPath} says ${tf.period}`,
      );
    }
    file = { count, minmove, pricescale };
  }
  const summary = (fileCount: number, candles: number, coverage = before) => ({
    path,
    providerString,
    holes,
    candles,
    fileCount,
    requests: provider.stats.requests - requests0,
    coverage: coverage.report,
    ...(before.ledgerNote !== undefined
      ? { ledgerNote: before.ledgerNote }
      : {}),
    durationMs: performance.now() - started,
  });
  if (holes.length === 0) return summary(file.count, 0);

  // The ledger as it describes the file now; it is written again only after
  // the rebuilt file is in place.
  const loaded = await loadLedger(tomlPath, await fileFacts(path));
  const keeper = new LedgerKeeper(loaded.ledger, {
    tomlPath,
    info: doc.info,
    provider: providerString,
    extra: loaded.extra,
  });
  // The lock first: nobody changes the file while its holes are fetched.
  const writer = await OhlcvWriter.open(path, {
    period: tf.period,
    replace: true,
    durable: options.durable ?? true,
    ...(file.pricescale > 0
      ? { minmove: file.minmove, pricescale: file.pricescale }
      : {}),
  });
  const claims: CoverageClaim[] = [];
  let inserted: number;
  try {
    const count = await ohlcvRecordCount(path);
    if (count !== file.count) {
      throw new Error(
        `Cannot repair ${path}: another writer changed it (${file.count} candles, now ${count}) while the repair started; run it again`,
      );
    }
    const ctx = repairContext(provider, symbol, doc, options, {
      write: async (batch) => {
        if (batch.time.length > 0) await writer.append(batch);
        if (batch.coverage) claims.push(...batch.coverage);
      },
      coverage: {
        request: (from, to) => keeper.request(from, to),
        claim: (c) => claims.push(...(c ?? [])),
      },
    });
    ({ inserted } = await fillHoles(ctx, path, holes, options.onHole));
    signal?.throwIfAborted();
    // Nothing new (every hole answered empty): the file stays as it is.
    if (inserted > 0) await writer.close();
    else await writer.abort();
  } catch (error) {
    await writer.abort(error);
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
  // The ledger after the file it describes.
  const after = await fileFacts(path);
  keeper.claim(claims, after);
  await keeper.persist(after);
  return summary(
    after.records,
    inserted,
    await fileCoverage(path, { now: clock }),
  );
}

/** The symbol info of a file that `provider` can repair, or a clear error. */
async function openRepairable(
  provider: Provider,
  path: string,
): Promise<{ doc: SymbolInfoFile; providerString: string; symbol: string }> {
  if (!(await pathExists(path))) {
    throw new FormatError(`Cannot repair ${path}: there is no such file`, {
      path,
    });
  }
  const tomlPath = symbolInfoPath(path);
  let doc: SymbolInfoFile;
  try {
    doc = await readSymbolInfo(tomlPath);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new FormatError(
      `Cannot repair ${path}: its symbol info ${tomlPath} is missing, so the file's source is unknown; download it again with truncate`,
      { path: tomlPath, cause: e },
    );
  }
  if (doc.provider === undefined) {
    throw new FormatError(
      `Cannot repair ${path}: ${tomlPath} has no [download] provider, so the file's source is unknown; download it again with truncate`,
      { path: tomlPath },
    );
  }
  const ps = parseProviderString(doc.provider);
  if (ps.provider.toLowerCase() !== provider.name.toLowerCase()) {
    throw new RangeError(
      `Cannot repair ${path} with the ${provider.name} provider: it was downloaded from ${ps.provider} (${doc.provider})`,
    );
  }
  return { doc, providerString: doc.provider, symbol: ps.symbol };
}

/** The file's candles as the ledger records them. */
async function fileFacts(
  path: string,
): Promise<
  { records: number; first: number | undefined; last: number | undefined }
> {
  await using reader = await OhlcvReader.open(path);
  const { count, first, last } = reader.info;
  return { records: count, first, last };
}

/** The download stages' context for fetching holes into the rebuild. */
function repairContext(
  provider: Provider,
  symbol: string,
  doc: SymbolInfoFile,
  options: RepairOptions,
  parts: Pick<SegmentContext, "write" | "coverage">,
): SegmentContext {
  const tf = parseTimeframe(doc.info.period);
  const clock = options.now ?? Date.now;
  return {
    provider,
    symbol,
    timeframe: tf,
    info: doc.info,
    clock,
    nowMs: clock(),
    signal: options.signal,
    options: {
      timeframe: tf,
      pageSize: options.pageSize,
      concurrency: options.concurrency,
      extraData: options.extraData,
      validation: options.validation,
      allowNaN: options.allowNaN,
    },
    totals: new DownloadTotals(),
    tracker: new ProgressTracker({}),
    ...parts,
  };
}
