/**
 * The first step of `download()`: from the arguments to a plan. Checks the
 * arguments, names the file, reads the range, looks at the existing file and
 * decides how the file is used (`"new"`, `"append"`, `"prepend"`,
 * `"truncate"`) and from where. Touches nothing. Private.
 *
 * @module
 */

import { join } from "node:path";
import { pathExists } from "../format/_file_io.ts";
import type { CandleRow } from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import {
  formatProviderString,
  ohlcvFileName,
} from "../format/provider_string.ts";
import { symbolInfoPath } from "../format/symbol_info_toml.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import type { Provider } from "../providers/provider.ts";
import type { CoverageSegment } from "./coverage_report.ts";
import { fileHoles, holesWithin } from "./_repair_holes.ts";
import { parseDateInput } from "./date_input.ts";
import type { DownloadMode, DownloadOptions } from "./download_options.ts";

const DAY_MS = 86_400_000;

/** The checked arguments of one download. */
export interface DownloadRequest {
  readonly timeframe: Timeframe;
  /** The clock, Unix ms. */
  readonly clock: () => number;
  /** The clock's reading when the download started. */
  readonly nowMs: number;
  readonly signal: AbortSignal | undefined;
  /** The normalized symbol. */
  readonly symbol: string;
  readonly providerString: string;
  /** The `.ohlcv` file. */
  readonly path: string;
  /** The symbol-info `.toml` beside it. */
  readonly tomlPath: string;
  readonly truncate: boolean;
  readonly defaultDays: number;
  /** End of the range (exclusive), clamped to now. */
  readonly to: number;
  /** The `from` option read as Unix ms or `"continue"`, undefined when not given. */
  readonly from: number | "continue" | undefined;
}

/** What the existing file holds (only files with candles). */
export interface ExistingFile {
  readonly count: number;
  readonly first: number;
  readonly last: number;
  /** The last committed candle (seeds `DedupeStream` on a top-up). */
  readonly lastRow: CandleRow;
  readonly minmove: number;
  readonly pricescale: number;
  /**
   * The file's failed and never-requested runs by its coverage ledger (what
   * `repair()` fetches). @default {none}
   */
  readonly holes?: readonly CoverageSegment[] | undefined;
}

/** How the file is used and the range asked for. */
export interface DownloadPlan {
  readonly mode: DownloadMode;
  /** Start of the requested range, Unix ms. */
  readonly from: number;
  /** End of the requested range (exclusive), Unix ms. */
  readonly to: number;
  /**
   * Where the new candles start: after the file's last candle for a top-up,
   * else `from`. Progress fractions and the summary's range count from here.
   */
  readonly fetchFrom: number;
  /**
   * The holes inside the file that lie in the requested range (`"prepend"`
   * only: the rebuild re-fetches them). @default {none}
   */
  readonly holes?: readonly CoverageSegment[] | undefined;
}

/**
 * Checks the arguments of `download()` and resolves the names and the range.
 * Throws a `TypeError` for wrong shapes, a `RangeError` for bad values.
 */
export function resolveDownloadRequest(
  provider: Provider,
  symbol: string,
  options: DownloadOptions,
): DownloadRequest {
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
  const timeframe = parseTimeframe(options.timeframe);
  const clock = options.now ?? Date.now;
  const nowMs = clock();
  const signal = options.signal;
  signal?.throwIfAborted();
  const sym = provider.normalizeSymbol(symbol);
  const providerString = formatProviderString({
    provider: provider.name,
    symbol: sym,
    timeframe: timeframe.period,
  });
  const path = options.path ??
    join(
      options.dataDir ?? "./data",
      ohlcvFileName({
        provider: provider.name,
        symbol: sym,
        timeframe: timeframe.period,
      }),
    );
  const truncate = options.truncate ?? false;
  const defaultDays = options.defaultDays ?? 365;
  if (!(defaultDays >= 0) || !Number.isFinite(defaultDays)) {
    throw new RangeError(
      `download: "defaultDays" must be a number >= 0, got ${defaultDays}`,
    );
  }
  let to = nowMs;
  if (options.to !== undefined) {
    const t = parseDateInput(options.to, nowMs);
    if (t === "continue") {
      throw new RangeError(
        `download: "to" cannot be "continue"; give a date or a number of days back`,
      );
    }
    to = Math.min(t, nowMs);
  }
  const from = options.from === undefined
    ? undefined
    : parseDateInput(options.from, nowMs);
  if (from === "continue" && truncate) {
    throw new RangeError(
      `download: from "continue" cannot be combined with truncate (a truncated file has nothing to continue); give a start date or a number of days`,
    );
  }
  return {
    timeframe,
    clock,
    nowMs,
    signal,
    symbol: sym,
    providerString,
    path,
    tomlPath: symbolInfoPath(path),
    truncate,
    defaultDays,
    to,
    from,
  };
}

/**
 * Reads what an existing file holds (and its holes, from the ledger in its
 * `.toml`); undefined when there is no file or it is empty. Refuses legacy v1
 * files and files of another period.
 */
export async function readExistingFile(
  path: string,
  timeframe: Timeframe,
  now: () => number = Date.now,
): Promise<ExistingFile | undefined> {
  if (!(await pathExists(path))) return undefined;
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
    if (info.period !== timeframe.period) {
      throw new RangeError(
        `Cannot download ${timeframe.period} candles into ${path}: the file holds ${info.period} candles; use another path or truncate`,
      );
    }
    if (info.count === 0) return undefined;
    const lastBatch = await reader.read(info.count - 1, info.count);
    const holes = await fileHoles(path, timeframe, info, now());
    return {
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
      holes,
    };
  } finally {
    await reader.close();
  }
}

/** The first period start at or after `t`. */
export function firstOnGrid(tf: Timeframe, t: number): number {
  const p = periodStart(tf, t);
  return p < t ? nextPeriodStart(tf, p) : p;
}

/**
 * Decides how the file is used: `truncate` replaces it, no candles make a new
 * one, a start before the first candle fills in the front (`"prepend"`), and
 * so does a start inside the file when the requested range holds failed or
 * never-requested holes of the file (the rebuild re-fetches exactly them);
 * anything else tops it up (`"append"`). Throws a `RangeError` when the start
 * is not before the end (a top-up without a start date may find nothing to
 * do instead: "up to date").
 */
export function planDownload(
  request: DownloadRequest,
  existing: ExistingFile | undefined,
): DownloadPlan {
  const { timeframe: tf, from: fromInput, nowMs, to } = request;
  const daysBack = nowMs - request.defaultDays * DAY_MS;
  let from: number;
  let mode: DownloadMode;
  if (request.truncate) {
    from = typeof fromInput === "number" ? fromInput : daysBack;
    mode = "truncate";
  } else if (existing === undefined) {
    from = typeof fromInput === "number" ? fromInput : daysBack;
    mode = "new";
  } else if (
    typeof fromInput === "number" &&
    (firstOnGrid(tf, fromInput) < existing.first ||
      innerHoles(existing, fromInput, to).length > 0)
  ) {
    from = fromInput;
    mode = "prepend";
  } else {
    from = typeof fromInput === "number"
      ? fromInput
      : nextPeriodStart(tf, existing.last);
    mode = "append";
  }
  if ((mode !== "append" || typeof fromInput === "number") && from >= to) {
    throw new RangeError(
      `download: the start ${
        new Date(from).toISOString()
      } is not before the end ${new Date(to).toISOString()}`,
    );
  }
  const fetchFrom = mode === "append"
    ? Math.max(from, nextPeriodStart(tf, existing!.last))
    : from;
  const holes = mode === "prepend" ? innerHoles(existing!, from, to) : [];
  return { mode, from, to, fetchFrom, ...(holes.length > 0 ? { holes } : {}) };
}

/**
 * The file's holes inside `[from, to)` between its first and last candle
 * (the last candle's own period is had: a claim ending inside it is no hole).
 */
function innerHoles(
  existing: ExistingFile,
  from: number,
  to: number,
): CoverageSegment[] {
  return holesWithin(
    existing.holes ?? [],
    Math.max(from, existing.first),
    Math.min(to, existing.last),
  );
}
