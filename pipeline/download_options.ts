/**
 * The types of `download()`'s options and summary: what can be asked
 * for and what comes back. Re-exported by `download.ts`.
 *
 * @module
 */

import type { CoverageReport } from "./coverage_report.ts";
import type { Timeframe } from "../format/timeframe.ts";
import type { DedupeConflict } from "./dedupe_stream.ts";
import type { Gap } from "./gap_stream.ts";
import type { ProgressEvent } from "./progress_event.ts";
import type {
  ValidationCounts,
  ValidationIssue,
  ValidationPolicy,
} from "./validate_stream.ts";

/** Options for `download()`. */
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
  /** Let the provider read bulk archives (Binance's public data) where faster. @default {true} */
  readonly archive?: boolean | undefined;
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
  /**
   * Receives notices worth telling the user: the files a killed earlier
   * writer left behind and the writer removed. @default {none}
   */
  readonly log?: ((line: string) => void) | undefined;
  /** Days back when there is no file and no `from`. @default {365} */
  readonly defaultDays?: number | undefined;
  /** Most pages waiting for an earlier one (see `OrderStream`). @default {256} */
  readonly maxBuffered?: number | undefined;
}

/** A progress report of `download()`. `candles` counts candles written. */
export type DownloadProgress = ProgressEvent;

/** How `download()` used the file. */
export type DownloadMode =
  /** No file (or an empty one): created. */
  | "new"
  /** Topped up after the last committed candle. */
  | "append"
  /** Filled in before the first candle (and topped up): rebuilt and replaced. */
  | "prepend"
  /** Replaced by a fresh download. */
  | "truncate";

/** What `download()` did. */
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
  /**
   * What became of every period this run asked for (fetched, verified
   * empty, closed, not served, failed), from the file's coverage ledger.
   * `coverage.complete` is false when part of it was not had: `repair()`
   * (or running again) fetches exactly those periods.
   */
  readonly coverage: CoverageReport;
  /** Why the file's earlier coverage ledger was set aside, when it was. */
  readonly ledgerNote?: string | undefined;
  /** Wall time, ms. */
  readonly durationMs: number;
}
