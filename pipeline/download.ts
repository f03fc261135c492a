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

import { mkdir, rm } from "node:fs/promises";
import { pathExists } from "../format/_file_io.ts";
import { dirname, join } from "node:path";
import {
  batchFromRows,
  type CandleBatch,
  type CandleRow,
} from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import {
  formatProviderString,
  ohlcvFileName,
} from "../format/provider_string.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { symbolInfoPath, writeSymbolInfo } from "../format/symbol_info_toml.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import type { CandleRequest, Provider } from "../providers/provider.ts";
import { ClosedCandlesStream } from "./closed_candles_stream.ts";
import { parseDateInput } from "./date_input.ts";
import { type DedupeConflict, DedupeStream } from "./dedupe_stream.ts";
import { type Gap, GapStream } from "./gap_stream.ts";
import { OrderStream } from "./order_stream.ts";
import type { ProgressEvent } from "./progress_event.ts";
import {
  ValidateStream,
  type ValidationCounts,
  type ValidationIssue,
  type ValidationPolicy,
} from "./validate_stream.ts";
import { ProgressTracker } from "./_progress_tracker.ts";
import { RangeStream } from "./_range_stream.ts";
import { readSidecarRows } from "../format/_sidecar.ts";

const DAY_MS = 86_400_000;

/** Options for {@linkcode download}. */
export interface DownloadOptions {
  /** Timeframe in TradingView, MetaTrader or ccxt notation (`"1D"`, `"H1"`, `"5m"`). */
  readonly timeframe: string | Timeframe;
  /** Folder of the data files (created when missing). @default {"./data"} */
  readonly dataDir?: string | undefined;
  /**
   * The `.ohlcv` file; overrides the PyneCore name
   * `<provider>_<SYMBOL>_<period>.ohlcv` in `dataDir`. @default {undefined}
   */
  readonly path?: string | undefined;
  /**
   * Start: `"continue"` (after the file's last candle), a number of days back
   * (`30` or `"30"`), a `Date`, or a date string (`"2024-01-01"`,
   * `"2024-01-01 12:00"`, ISO 8601). A start before the file's first candle
   * fills in the front (the file is rebuilt and atomically replaced).
   * @default {"continue" when the file has candles, else 365 days back}
   */
  readonly from?: "continue" | number | string | Date | undefined;
  /** End (exclusive), in the same forms as `from`; clamped to now. @default {now} */
  readonly to?: number | string | Date | undefined;
  /**
   * Download `[from, to)` into a fresh file that atomically replaces the old
   * one when complete (the old file stays intact until then). @default {false}
   */
  readonly truncate?: boolean | undefined;
  /**
   * Stops the download: the file keeps every committed candle (a replacement
   * in progress is discarded) and the promise rejects with the signal's reason.
   */
  readonly signal?: AbortSignal | undefined;
  /** Pages fetched at once (passed to the provider). @default {provider's choice} */
  readonly concurrency?: number | undefined;
  /** Candles per request (passed to the provider). @default {provider's choice} */
  readonly pageSize?: number | undefined;
  /** Ask the provider for extra per-candle data (`.extra.csv`). @default {false} */
  readonly extraData?: boolean | undefined;
  /** Receives progress reports (candles written, time reached, fraction, rate). */
  readonly onProgress?: ((event: DownloadProgress) => void) | undefined;
  /** Least time between progress reports, ms. @default {200} */
  readonly progressIntervalMs?: number | undefined;
  /** The clock, Unix ms (injectable for tests). @default {Date.now} */
  readonly now?: (() => number) | undefined;
  /**
   * What to do with invalid candles (see `ValidateStream`): `"drop"` leaves
   * them out of the file and counts them in the summary (`validation`, with
   * the first `issues`; the hole they leave shows as an anomaly gap), so one
   * bad candle at a venue cannot block a download and every later top-up;
   * `"error"` stops the download at the first one (the candles committed
   * before it stay). @default {"drop"}
   */
  readonly validation?: ValidationPolicy | undefined;
  /**
   * Accept NaN values: `"volume"` stores a missing volume as NaN (venues
   * without volume; PyneCore reads it as `na`), `true` also NaN prices,
   * `false` treats any NaN as invalid. @default {"volume"}
   */
  readonly allowNaN?: boolean | "volume" | undefined;
  /** fsync every committed batch. @default {true} */
  readonly durable?: boolean | undefined;
  /** Days back when there is no file and no `from`. @default {365} */
  readonly defaultDays?: number | undefined;
  /** Most pages waiting for an earlier one (see `OrderStream`). @default {256} */
  readonly maxBuffered?: number | undefined;
}

/** A progress report of {@linkcode download}. `candles` counts candles written. */
export type DownloadProgress = ProgressEvent;

/** How {@linkcode download} used the file. */
export type DownloadMode =
  /** No file (or an empty one): created. */
  | "new"
  /** Topped up after the last committed candle. */
  | "append"
  /** Filled in before the first candle (and topped up): rebuilt and replaced. */
  | "prepend"
  /** Replaced by a fresh download. */
  | "truncate";

/** What {@linkcode download} did. */
export interface DownloadSummary {
  /** The `.ohlcv` file. */
  readonly path: string;
  /** The symbol-info `.toml` beside it. */
  readonly symbolInfoPath: string;
  /** The provider string saved in the `.toml` (`"ccxt:BYBIT:BTC/USDT:USDT@1D"`). */
  readonly providerString: string;
  /** The normalized symbol. */
  readonly symbol: string;
  /** The TradingView period. */
  readonly timeframe: string;
  /** How the file was used. */
  readonly mode: DownloadMode;
  /** The requested range `[from, to)` after defaults and clamping, Unix ms. */
  readonly range: { readonly from: number; readonly to: number };
  /** Candles downloaded and written by this run. */
  readonly candles: number;
  /** Existing candles copied into the rebuilt file (`"prepend"`). */
  readonly copied: number;
  /** First candle written by this run, Unix ms. */
  readonly first: number | undefined;
  /** Last candle written by this run, Unix ms. */
  readonly last: number | undefined;
  /** Candles in the file afterwards. */
  readonly fileCount: number;
  /** The file's first candle afterwards. */
  readonly fileFirst: number | undefined;
  /** The file's last candle afterwards. */
  readonly fileLast: number | undefined;
  /** True when there was nothing new to download. */
  readonly upToDate: boolean;
  /** Requests the provider sent during this run (including retries). */
  readonly requests: number;
  /** Requests repeated after transient failures during this run. */
  readonly retries: number;
  /** Missing periods between the candles written, as classified runs. */
  readonly gaps: readonly Gap[];
  /** Missing periods while the market was closed. */
  readonly closedPeriods: number;
  /** Missing periods while the market was open (anomalies). */
  readonly anomalyPeriods: number;
  /** Validation results. */
  readonly validation: {
    /** Candles checked. */
    readonly checked: number;
    /** Invalid candles found. */
    readonly invalid: number;
    /** Invalid candles dropped. */
    readonly dropped: number;
    /** Invalid candles per reason. */
    readonly counts: Readonly<ValidationCounts>;
    /** The first problems. */
    readonly issues: readonly ValidationIssue[];
  };
  /** Repeated candles dropped (identical values). */
  readonly duplicates: number;
  /** Repeated candles with different values (the first one was kept). */
  readonly conflicts: number;
  /** The first conflicts. */
  readonly conflictSamples: readonly DedupeConflict[];
  /** Forming (not yet closed) candles dropped. */
  readonly formingDropped: number;
  /** Wall time, ms. */
  readonly durationMs: number;
}

interface Totals {
  written: number;
  first: number | undefined;
  last: number | undefined;
  checked: number;
  invalid: number;
  dropped: number;
  counts: ValidationCounts;
  issues: ValidationIssue[];
  duplicates: number;
  conflicts: number;
  conflictSamples: DedupeConflict[];
  forming: number;
  gaps: Gap[];
  closedPeriods: number;
  anomalyPeriods: number;
}

function gridOf(
  info: SymbolInfo,
): { minmove: number; pricescale: number } | undefined {
  const { minmove, pricescale } = info;
  const ok = (v: unknown) =>
    typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 0xffffffff;
  return ok(minmove) && ok(pricescale) ? { minmove, pricescale } : undefined;
}

function firstOnGrid(tf: Timeframe, t: number): number {
  const p = periodStart(tf, t);
  return p < t ? nextPeriodStart(tf, p) : p;
}

/** Adds the gap between `last` and a candle at `next` to the totals. */
async function joinGaps(
  tf: Timeframe,
  info: SymbolInfo,
  last: number,
  next: number,
  totals: Totals,
): Promise<void> {
  const gaps = new GapStream({ timeframe: tf, symbolInfo: info, after: last });
  await ReadableStream.from([batchFromRows([[next, 0, 0, 0, 0, 0]])])
    .pipeThrough(gaps)
    .pipeTo(new WritableStream());
  totals.gaps.push(...gaps.gaps);
  totals.closedPeriods += gaps.closedPeriods;
  totals.anomalyPeriods += gaps.anomalyPeriods;
}

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
  if (
    typeof provider !== "object" || provider === null ||
    typeof provider.candles !== "function"
  ) {
    throw new TypeError("download: the first argument must be a Provider");
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "download: options with at least a timeframe are required",
    );
  }
  if (options.timeframe === undefined) {
    throw new TypeError(
      `download: the "timeframe" option is required (for example "1D" or "60")`,
    );
  }
  const tf = parseTimeframe(options.timeframe);
  const clock = options.now ?? Date.now;
  const nowMs = clock();
  const signal = options.signal;
  signal?.throwIfAborted();
  const sym = provider.normalizeSymbol(symbol);
  const providerString = formatProviderString({
    provider: provider.name,
    symbol: sym,
    timeframe: tf.period,
  });
  const dataDir = options.dataDir ?? "./data";
  const path = options.path ??
    join(
      dataDir,
      ohlcvFileName({
        provider: provider.name,
        symbol: sym,
        timeframe: tf.period,
      }),
    );
  const tomlPath = symbolInfoPath(path);
  const truncate = options.truncate ?? false;
  const defaultDays = options.defaultDays ?? 365;
  if (!(defaultDays >= 0) || !Number.isFinite(defaultDays)) {
    throw new RangeError(
      `download: "defaultDays" must be a number >= 0, got ${defaultDays}`,
    );
  }

  // The range.
  let toMs = nowMs;
  if (options.to !== undefined) {
    const t = parseDateInput(options.to, nowMs);
    if (t === "continue") {
      throw new RangeError(
        `download: "to" cannot be "continue"; give a date or a number of days back`,
      );
    }
    toMs = Math.min(t, nowMs);
  }
  const fromInput = options.from === undefined
    ? undefined
    : parseDateInput(options.from, nowMs);
  if (fromInput === "continue" && truncate) {
    throw new RangeError(
      `download: from "continue" cannot be combined with truncate (a truncated file has nothing to continue); give a start date or a number of days`,
    );
  }

  // The existing file.
  let old: {
    count: number;
    first: number;
    last: number;
    lastRow: CandleRow;
    minmove: number;
    pricescale: number;
  } | undefined;
  const fileExisted = await pathExists(path);
  if (!truncate && fileExisted) {
    let reader: OhlcvReader;
    try {
      reader = await OhlcvReader.open(path);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      throw new FormatError(
        `${e.message}. Move the file away, or replace it: download with truncate and a start date`,
        { path, cause: e },
      );
    }
    try {
      const info = reader.info;
      if (info.format !== "v2") {
        throw new FormatError(
          `Cannot download into ${path}: it is a legacy v1 file; download with truncate to replace it with a v2 file`,
          { path },
        );
      }
      if (info.period !== tf.period) {
        throw new RangeError(
          `Cannot download ${tf.period} candles into ${path}: the file holds ${info.period} candles; use another path or truncate`,
        );
      }
      if (info.count > 0) {
        const lastBatch = await reader.read(info.count - 1, info.count);
        old = {
          count: info.count,
          first: info.first!,
          last: info.last!,
          lastRow: [
            lastBatch.time[0]!,
            lastBatch.open[0]!,
            lastBatch.high[0]!,
            lastBatch.low[0]!,
            lastBatch.close[0]!,
            lastBatch.volume[0]!,
          ],
          minmove: info.minmove,
          pricescale: info.pricescale,
        };
      }
    } finally {
      await reader.close();
    }
  }

  let fromMs: number;
  let mode: DownloadMode;
  if (truncate) {
    fromMs = typeof fromInput === "number"
      ? fromInput
      : nowMs - defaultDays * DAY_MS;
    mode = "truncate";
  } else if (old === undefined) {
    fromMs = typeof fromInput === "number"
      ? fromInput
      : nowMs - defaultDays * DAY_MS;
    mode = "new";
  } else if (
    typeof fromInput === "number" && firstOnGrid(tf, fromInput) < old.first
  ) {
    fromMs = fromInput;
    mode = "prepend";
  } else {
    fromMs = typeof fromInput === "number"
      ? fromInput
      : nextPeriodStart(tf, old.last);
    mode = "append";
  }
  // (A top-up without a start date may find nothing to do: "up to date".)
  if ((mode !== "append" || typeof fromInput === "number") && fromMs >= toMs) {
    throw new RangeError(
      `download: the start ${
        new Date(fromMs).toISOString()
      } is not before the end ${new Date(toMs).toISOString()}`,
    );
  }

  const stats0 = {
    requests: provider.stats.requests,
    retries: provider.stats.retries,
  };
  // Symbol info first: a bad symbol fails before any file is touched.
  const info = await provider.symbolInfo(sym, tf);
  signal?.throwIfAborted();
  await mkdir(dirname(path), { recursive: true });
  const tomlExisted = await pathExists(tomlPath);

  const grid = mode === "prepend" && old && old.pricescale > 0
    ? { minmove: old.minmove, pricescale: old.pricescale }
    : mode === "append"
    ? undefined
    : gridOf(info);
  const durable = options.durable ?? true;
  let writer = await OhlcvWriter.open(path, {
    period: tf.period,
    replace: mode === "prepend" || mode === "truncate",
    durable,
    ...(grid ?? {}),
  });
  // The file was read before its lock was taken: another writer may have
  // changed it in between. Starting from a stale end would fail half-way.
  const ensureUnchanged = async (replace: boolean): Promise<void> => {
    const count = replace ? await ohlcvRecordCount(path) : writer.count;
    if (count !== old!.count || (!replace && writer.lastTime !== old!.last)) {
      await writer.abort();
      throw new Error(
        `Cannot download into ${path}: another writer changed it (${
          old!.count
        } candles, now ${count}) while this download started; run it again`,
      );
    }
  };
  if (mode === "append" || mode === "prepend") {
    await ensureUnchanged(mode === "prepend");
  }

  const totals: Totals = {
    written: 0,
    first: undefined,
    last: undefined,
    checked: 0,
    invalid: 0,
    dropped: 0,
    counts: { "non-finite": 0, ohlc: 0, "negative-volume": 0, "off-grid": 0 },
    issues: [],
    duplicates: 0,
    conflicts: 0,
    conflictSamples: [],
    forming: 0,
    gaps: [],
    closedPeriods: 0,
    anomalyPeriods: 0,
  };
  const segmentFrom = mode === "append"
    ? Math.max(fromMs, nextPeriodStart(tf, old!.last))
    : fromMs;
  const tracker = new ProgressTracker({
    onProgress: options.onProgress,
    from: segmentFrom,
    to: toMs,
    periodMs: tf.calendar ? 0 : tf.ms,
    intervalMs: options.progressIntervalMs,
  });

  let copied = 0;
  let upToDate = false;
  // A replacement is invisible until its rename: its symbol info is saved
  // then too, so a failed replacement leaves the old `.toml` as it was.
  let replacing = mode === "prepend" || mode === "truncate";
  try {
    if (!replacing) {
      await writeSymbolInfo(tomlPath, info, { provider: providerString });
    }

    const segment = async (
      from: number,
      to: number,
      after: CandleRow | undefined,
    ): Promise<void> => {
      const start = after
        ? Math.max(from, nextPeriodStart(tf, after[0]))
        : from;
      // Nothing to fetch when the range is empty or its first candle cannot have closed yet.
      if (start >= to || nextPeriodStart(tf, firstOnGrid(tf, start)) > nowMs) {
        return;
      }
      const request: CandleRequest = {
        symbol: sym,
        timeframe: tf,
        from: start,
        to,
        resumeAfter: after?.[0],
        signal,
        pageSize: options.pageSize,
        concurrency: options.concurrency,
        extraData: options.extraData,
      };
      const closed = new ClosedCandlesStream({ timeframe: tf, now: clock });
      const dedupe = new DedupeStream({ after });
      const validate = new ValidateStream({
        timeframe: tf,
        // Session-based venues (a non-UTC time zone) may open periods of an
        // hour or more on their own clock (daily candles at 22:00 UTC).
        grid: isUtcZone(info.timezone) ? "utc" : "local",
        policy: options.validation ?? "drop",
        allowNaN: options.allowNaN ?? "volume",
      });
      const gaps = new GapStream({
        timeframe: tf,
        symbolInfo: info,
        after: after?.[0],
      });
      const sink = new WritableStream<CandleBatch>({
        async write(batch) {
          await writer.append(batch);
          const n = batch.time.length;
          totals.written += n;
          totals.first ??= batch.time[0];
          totals.last = batch.time[n - 1];
          tracker.add(batch);
        },
      });
      try {
        await ReadableStream.from(provider.candles(request))
          .pipeThrough(new OrderStream({ maxBuffered: options.maxBuffered }))
          // From the file's last candle on, so DedupeStream sees a repeat of it.
          .pipeThrough(new RangeStream(after ? after[0] : start, to))
          .pipeThrough(closed)
          .pipeThrough(dedupe)
          .pipeThrough(validate)
          .pipeThrough(gaps)
          .pipeTo(sink, signal ? { signal } : {});
      } finally {
        totals.checked += validate.checked;
        totals.invalid += validate.invalid;
        totals.dropped += validate.dropped;
        for (
          const k of Object.keys(totals.counts) as (keyof ValidationCounts)[]
        ) {
          totals.counts[k] += validate.counts[k];
        }
        totals.issues.push(
          ...validate.issues.slice(0, 100 - totals.issues.length),
        );
        totals.duplicates += dedupe.duplicates;
        totals.conflicts += dedupe.conflicts;
        totals.conflictSamples.push(
          ...dedupe.conflictSamples.slice(
            0,
            100 - totals.conflictSamples.length,
          ),
        );
        totals.forming += closed.dropped;
        totals.gaps.push(...gaps.gaps);
        totals.closedPeriods += gaps.closedPeriods;
        totals.anomalyPeriods += gaps.anomalyPeriods;
      }
    };

    if (mode === "prepend") {
      await segment(fromMs, Math.min(old!.first, toMs), undefined);
    }
    if (mode === "prepend" && totals.written === 0) {
      // Nothing exists before the file's first candle (a later listing, say):
      // no rebuild, a plain top-up of the file as it is.
      await writer.abort();
      writer = await OhlcvWriter.open(path, { period: tf.period, durable });
      mode = "append";
      replacing = false;
      await ensureUnchanged(false);
      await writeSymbolInfo(tomlPath, info, { provider: providerString });
    }
    if (mode === "prepend") {
      if (totals.last !== undefined) {
        // The missing periods where the new head meets the old first candle.
        await joinGaps(tf, info, totals.last, old!.first, totals);
      }
      const reader = await OhlcvReader.open(path);
      try {
        // The old records keep their `.extra.csv` fields.
        const extras = await readSidecarRows(path, reader.count);
        for await (const batch of reader.batches()) {
          signal?.throwIfAborted();
          const n = batch.time.length;
          await writer.append(
            extras && extras.slice(copied, copied + n).some((e) => e)
              ? { ...batch, extra: extras.slice(copied, copied + n) }
              : batch,
          );
          copied += n;
        }
      } finally {
        await reader.close();
      }
      await segment(old!.first, toMs, old!.lastRow);
    } else if (mode === "append") {
      const start = Math.max(fromMs, nextPeriodStart(tf, old!.last));
      upToDate = start >= toMs ||
        nextPeriodStart(tf, firstOnGrid(tf, start)) > nowMs;
      await segment(fromMs, toMs, old!.lastRow);
    } else {
      await segment(fromMs, toMs, undefined);
    }
    signal?.throwIfAborted();
    const offGrid = totals.counts["off-grid"];
    if (offGrid >= 2 && offGrid === totals.checked) {
      // Not a stray bad candle: the venue aligns its candles differently.
      throw new RangeError(
        `Every one of the ${offGrid} ${tf.period} candles received for ${providerString} is off the ${
          isUtcZone(info.timezone) ? "UTC " : ""
        }${tf.period} grid (${
          totals.issues[0]?.message
        }); nothing was written. The venue aligns these candles differently (daily candles at its session start, for example): use another timeframe`,
      );
    }
    await writer.close();
  } catch (error) {
    await writer.abort(error);
    if (!fileExisted && totals.written === 0) {
      // A first download that failed before its first candle leaves nothing behind.
      await rm(path, { force: true });
      if (!tomlExisted) await rm(tomlPath, { force: true });
    }
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
  if (replacing) {
    await writeSymbolInfo(tomlPath, info, { provider: providerString });
  }
  tracker.finish();

  let fileCount = 0,
    fileFirst: number | undefined,
    fileLast: number | undefined;
  {
    const reader = await OhlcvReader.open(path);
    fileCount = reader.info.count;
    fileFirst = reader.info.first;
    fileLast = reader.info.last;
    await reader.close();
  }
  return {
    path,
    symbolInfoPath: tomlPath,
    providerString,
    symbol: sym,
    timeframe: tf.period,
    mode,
    range: {
      from: mode === "append" ? Math.min(segmentFrom, toMs) : fromMs,
      to: toMs,
    },
    candles: totals.written,
    copied,
    first: totals.first,
    last: totals.last,
    fileCount,
    fileFirst,
    fileLast,
    upToDate,
    requests: provider.stats.requests - stats0.requests,
    retries: provider.stats.retries - stats0.retries,
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
    durationMs: performance.now() - started,
  };
}

/** True for time zone names that mean UTC. */
function isUtcZone(zone: string | undefined): boolean {
  return zone === undefined ||
    /^(Etc\/)?(UTC|GMT|UCT|Zulu|Universal)$/i.test(zone);
}
