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

import {
  type CandleBatch,
  concatBatches,
  type CoverageClaim,
  sliceBatch,
} from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { parseProviderString } from "../format/provider_string.ts";
import { readSidecarRows } from "../format/_sidecar.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { readSymbolInfo, symbolInfoPath } from "../format/symbol_info_toml.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import type { Provider } from "../providers/provider.ts";
import { LedgerKeeper, loadLedger } from "./_coverage_ledger.ts";
import { ClosedCandlesStream } from "./closed_candles_stream.ts";
import {
  type CoverageReport,
  coverageReport,
  type CoverageSegment,
} from "./coverage_report.ts";
import { DedupeStream } from "./dedupe_stream.ts";
import { type Gap, GapStream } from "./gap_stream.ts";
import { OrderStream } from "./order_stream.ts";
import { RangeStream } from "./_range_stream.ts";
import { ValidateStream, type ValidationPolicy } from "./validate_stream.ts";

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

/** The coverage of a file from its ledger, its candles and its gaps. */
export async function fileCoverage(
  path: string,
  options: { readonly now?: (() => number) | undefined } = {},
): Promise<
  { report: CoverageReport; ledgerNote: string | undefined; tf: Timeframe }
> {
  const tomlPath = symbolInfoPath(path);
  const doc = await readSymbolInfo(tomlPath);
  const tf = parseTimeframe(doc.info.period);
  let count = 0, first: number | undefined, last: number | undefined;
  {
    await using reader = await OhlcvReader.open(path);
    ({ count, first, last } = reader.info);
  }
  const { ledger, discarded } = await loadLedger(tomlPath, {
    records: count,
    first,
    last,
  });
  const gaps = await fileGaps(path, tf, doc.info);
  const extent = first !== undefined && last !== undefined
    ? { from: first, to: nextPeriodStart(tf, last) }
    : undefined;
  const from = Math.min(
    ledger.requested.first ?? Infinity,
    extent?.from ?? Infinity,
  );
  const formingStart = periodStart(tf, (options.now ?? Date.now)());
  const to = Math.min(
    Math.max(ledger.requested.end ?? -Infinity, extent?.to ?? -Infinity),
    formingStart,
  );
  const report = await coverageReport(
    ledger,
    Number.isFinite(from) && to > from ? { from, to } : { from: 0, to: 0 },
    {
      timeframe: tf,
      symbolInfo: doc.info,
      candles: { first, last },
      gaps,
      extent,
    },
  );
  return { report, ledgerNote: discarded, tf };
}

/**
 * Re-fetches the failed and never-requested holes of the file at `path`
 * from `provider` (the provider named in the file's `.toml`), inserts their
 * candles and replaces the file atomically (the old file stays intact until
 * the new one is complete), then records the answers in the ledger. Holes the
 * venue answers as empty just become verified in the ledger.
 */
export async function repair(
  provider: Provider,
  path: string,
  options: RepairOptions = {},
): Promise<RepairSummary> {
  const started = performance.now();
  const clock = options.now ?? Date.now;
  const signal = options.signal;
  const tomlPath = symbolInfoPath(path);
  const doc = await readSymbolInfo(tomlPath);
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
  const tf = parseTimeframe(doc.info.period);
  const requests0 = provider.stats.requests;
  const { report, ledgerNote } = await fileCoverage(path, { now: clock });
  const holes = report.missing.filter((h) =>
    options.range === undefined ||
    (h.to > options.range.from && h.from < options.range.to)
  ).map((h) =>
    options.range === undefined ? h : {
      ...h,
      from: Math.max(h.from, options.range.from),
      to: Math.min(h.to, options.range.to),
    }
  );

  let writer: OhlcvWriter | undefined;
  let inserted = 0;
  let fileCount: number;
  let grid: { minmove: number; pricescale: number } | undefined;
  const claims: CoverageClaim[] = [];
  {
    await using reader = await OhlcvReader.open(path);
    fileCount = reader.info.count;
    const { minmove, pricescale } = reader.info;
    // The rebuilt file keeps the tick grid of the old one.
    if (pricescale > 0) grid = { minmove, pricescale };
  }
  const keeperFor = async (count: number, first?: number, last?: number) => {
    const { ledger, extra } = await loadLedger(tomlPath, {
      records: count,
      first,
      last,
    });
    return new LedgerKeeper(ledger, {
      tomlPath,
      info: doc.info,
      provider: doc.provider!,
      extra,
    });
  };
  if (holes.length > 0) {
    // Take the lock before fetching: nobody changes the file meanwhile.
    writer = await OhlcvWriter.open(path, {
      period: tf.period,
      ...(grid ?? {}),
      replace: true,
      durable: options.durable ?? true,
    });
    let failure: unknown;
    const fetched: CandleBatch[] = [];
    try {
      for (const [i, hole] of holes.entries()) {
        signal?.throwIfAborted();
        options.onHole?.(hole, i);
        try {
          const batches = await fetchHole(provider, ps.symbol, tf, hole, {
            ...options,
            timezone: doc.info.timezone,
            now: clock,
          });
          for (const b of batches) {
            if (b.time.length > 0) fetched.push(b);
            claims.push(...(b.coverage ?? []));
          }
        } catch (e) {
          if (signal?.aborted) throw signal.reason;
          failure = e;
          break;
        }
      }
      const news = concatBatches(fetched);
      if (news.time.length > 0) {
        inserted = await rebuild(path, writer, news, signal);
        fileCount = writer.count;
        await writer.close();
      } else {
        await writer.abort();
      }
    } catch (e) {
      await writer.abort(e);
      throw e;
    }
    // The ledger after the file it describes.
    await using after = await OhlcvReader.open(path);
    const keeper = await keeperFor(
      after.info.count,
      after.info.first,
      after.info.last,
    );
    for (const h of holes) keeper.request(h.from, h.to);
    keeper.claim(claims, {
      records: after.info.count,
      first: after.info.first,
      last: after.info.last,
    });
    await keeper.persist();
    if (failure !== undefined) throw failure;
  }
  const { report: coverage } = await fileCoverage(path, { now: clock });
  return {
    path,
    providerString: doc.provider,
    holes,
    candles: inserted,
    fileCount,
    requests: provider.stats.requests - requests0,
    coverage,
    ledgerNote,
    durationMs: performance.now() - started,
  };
}

/** The candles (and claims) of one hole, through the validating stages. */
async function fetchHole(
  provider: Provider,
  symbol: string,
  tf: Timeframe,
  hole: CoverageSegment,
  options: RepairOptions & { timezone?: string | undefined; now: () => number },
): Promise<CandleBatch[]> {
  const out: CandleBatch[] = [];
  const validate = new ValidateStream({
    timeframe: tf,
    grid: isUtcZone(options.timezone) ? "utc" : "local",
    policy: options.validation ?? "drop",
    allowNaN: options.allowNaN ?? "volume",
  });
  await ReadableStream.from(provider.candles({
    symbol,
    timeframe: tf,
    from: hole.from,
    to: hole.to,
    signal: options.signal,
    pageSize: options.pageSize,
    concurrency: options.concurrency,
    extraData: options.extraData,
  }))
    .pipeThrough(new OrderStream())
    .pipeThrough(new RangeStream(hole.from, hole.to))
    .pipeThrough(new ClosedCandlesStream({ timeframe: tf, now: options.now }))
    .pipeThrough(new DedupeStream())
    .pipeThrough(validate)
    .pipeTo(
      new WritableStream({
        write(batch) {
          out.push(batch);
        },
      }),
      options.signal ? { signal: options.signal } : {},
    );
  if (!out.some((b) => (b.coverage?.length ?? 0) > 0)) {
    // A provider that makes no claims: its finished answer covers the hole.
    out.push({
      ...concatBatches([]),
      coverage: [{ from: hole.from, to: hole.to, state: "fetched" }],
    });
  }
  return out;
}

/**
 * Copies the file's candles into `writer` (a replacement) with the new
 * candles inserted in time order (an existing candle wins over a new one at
 * the same time). Returns the number inserted.
 */
async function rebuild(
  path: string,
  writer: OhlcvWriter,
  news: CandleBatch,
  signal: AbortSignal | undefined,
): Promise<number> {
  await using reader = await OhlcvReader.open(path);
  const extras = await readSidecarRows(path, reader.count);
  let copied = 0;
  let j = 0; // next new candle
  let inserted = 0;
  const n = news.time.length;
  const put = async (b: CandleBatch) => {
    if (b.time.length > 0) await writer.append(b);
  };
  /** New candles before time `t` (those at `t` are dropped: the file's wins). */
  const newsBefore = async (t: number) => {
    const start = j;
    while (j < n && news.time[j]! < t) j++;
    if (j > start) {
      await put(sliceBatch(news, start, j));
      inserted += j - start;
    }
    while (j < n && news.time[j] === t) j++;
  };
  for await (const batch0 of reader.batches()) {
    signal?.throwIfAborted();
    const len = batch0.time.length;
    const ex = extras?.slice(copied, copied + len);
    const batch = ex && ex.some((e) => e) ? { ...batch0, extra: ex } : batch0;
    let k = 0;
    while (k < len) {
      await newsBefore(batch.time[k]!);
      // The run of old candles up to the next new candle.
      let e = k + 1;
      const next = j < n ? news.time[j]! : Infinity;
      while (e < len && batch.time[e]! < next) e++;
      await put(k === 0 && e === len ? batch : sliceBatch(batch, k, e));
      k = e;
    }
    copied += len;
  }
  await newsBefore(Infinity);
  return inserted;
}

/** True for time zone names that mean UTC. */
function isUtcZone(zone: string | undefined): boolean {
  return zone === undefined ||
    /^(Etc\/)?(UTC|GMT|UCT|Zulu|Universal)$/i.test(zone);
}
