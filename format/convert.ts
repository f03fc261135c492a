/**
 * Converts candle files by extension: `.csv`/`.json` → `.ohlcv` (through
 * {@linkcode OhlcvWriter}, byte for byte what PyneCore writes for the same
 * rows, period and grid) and `.ohlcv` → `.csv`/`.json` (PyneCore's export
 * shape, streamed). `.csv` ↔ `.json` works too.
 *
 * Nothing is left on disk when the input is bad: the whole input is read and
 * checked first, and every output is written to a temporary file in the same
 * folder that is renamed into place only when complete.
 *
 * @example
 * ```ts ignore
 * import { convertFile } from "@pyne/data/format";
 *
 * const r = await convertFile("btc.csv", "btc.ohlcv", {
 *   timeframe: "1D", minmove: 1, pricescale: 100,
 * });
 * console.log(r.count, r.period);
 * await convertFile("btc.ohlcv", "btc.json");
 * ```
 *
 * @module
 */

import { pathExists } from "./_file_io.ts";
import { extname, resolve } from "node:path";
import { batchLength, sliceBatch } from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { OhlcvReader } from "./ohlcv_reader.ts";
import { OhlcvWriter } from "./ohlcv_writer.ts";
import { parseTimeframe, type Timeframe } from "./timeframe.ts";
import {
  type BatchSource,
  type ExportTimeFormat,
  readCsvFile,
  writeCsvFile,
} from "./csv.ts";
import { readJsonFile, writeJsonFile } from "./json.ts";
import type { ImportedCandles, NumericTimeUnit } from "./_candle_import.ts";

/** Options of {@linkcode convertFile}. */
export interface ConvertOptions {
  /**
   * Period of the `.ohlcv` written (any notation {@linkcode parseTimeframe}
   * accepts). @default {inferred from the most common spacing of the input}
   */
  timeframe?: string | Timeframe | undefined;
  /** Tick grid numerator for the `.ohlcv` written; give with `pricescale`. @default {no grid} */
  minmove?: number | undefined;
  /** Tick grid denominator for the `.ohlcv` written; give with `minmove`. @default {no grid} */
  pricescale?: number | undefined;
  /** Overwrite an existing output file (atomically). @default {false} */
  replace?: boolean | undefined;
  /** Timestamps of `.csv`/`.json` output: ms (`timestamp`) or ISO (`time`). @default {"ms"} */
  timeFormat?: ExportTimeFormat | undefined;
  /** Unit of numeric timestamps in `.csv`/`.json` input. @default {detected from their magnitude} */
  timeUnit?: NumericTimeUnit | undefined;
  /** Candles per batch written to the `.ohlcv` or read from it. @default {65536} */
  batchSize?: number | undefined;
}

/** What {@linkcode convertFile} did. */
export interface ConvertResult {
  /** Input path. */
  input: string;
  /** Output path. */
  output: string;
  /** Candles written. */
  count: number;
  /** Period of the data (`null` for a legacy v1 `.ohlcv` input). */
  period: string | null;
  /** Time of the first candle (ms), when any. */
  first: number | undefined;
  /** Time of the last candle (ms), when any. */
  last: number | undefined;
}

type Kind = "csv" | "json" | "ohlcv";

function kindOf(path: string): Kind | undefined {
  const ext = extname(path).toLowerCase();
  return ext === ".csv"
    ? "csv"
    : ext === ".json"
    ? "json"
    : ext === ".ohlcv"
    ? "ohlcv"
    : undefined;
}

const DEFAULT_BATCH = 65536;

/**
 * Converts `input` to `output`, choosing the direction by extension:
 * `.csv`/`.json` → `.ohlcv`, `.ohlcv` → `.csv`/`.json`, or `.csv` ↔ `.json`.
 *
 * Errors: an unknown extension or a bad option is a `RangeError`; bad input
 * content is a {@linkcode FormatError} naming the file and the row (or, for
 * values the `.ohlcv` encoding refuses, the candle's time); an existing
 * output without `replace: true` is an `Error` with code `"EEXIST"`.
 * The output is untouched (or absent) after any error.
 */
export async function convertFile(
  input: string,
  output: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  if (typeof input !== "string" || typeof output !== "string") {
    throw new TypeError("convertFile needs an input and an output path");
  }
  const from = kindOf(input);
  const to = kindOf(output);
  const what = `Cannot convert ${input} to ${output}`;
  if (from === undefined || to === undefined) {
    const bad = from === undefined ? input : output;
    throw new RangeError(
      `${what}: unknown extension "${
        extname(bad) || "(none)"
      }" of ${bad}; convert .csv or .json to .ohlcv, or .ohlcv to .csv or .json`,
    );
  }
  if (from === "ohlcv" && to === "ohlcv") {
    throw new RangeError(
      `${what}: both files are .ohlcv; convert .csv or .json to .ohlcv, or .ohlcv to .csv or .json`,
    );
  }
  if (resolve(input) === resolve(output)) {
    throw new RangeError(`${what}: input and output are the same file`);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `batchSize must be a positive whole number, got ${batchSize}`,
    );
  }
  if ((options.minmove === undefined) !== (options.pricescale === undefined)) {
    throw new RangeError(
      `${what}: minmove and pricescale go together; give both (for a tick of 0.01: minmove 1, pricescale 100) or neither`,
    );
  }
  if (to !== "ohlcv") {
    if (options.minmove !== undefined || options.timeframe !== undefined) {
      throw new RangeError(
        `${what}: timeframe, minmove and pricescale apply only when writing .ohlcv`,
      );
    }
  }
  const timeframe = options.timeframe === undefined
    ? undefined
    : parseTimeframe(options.timeframe);
  if (!options.replace && await pathExists(output)) {
    throw Object.assign(
      new Error(
        `${what}: ${output} already exists; pass replace: true (--force) to overwrite it`,
      ),
      { code: "EEXIST" },
    );
  }

  if (from === "ohlcv") {
    await using reader = await OhlcvReader.open(input);
    const source: BatchSource = reader.batches({ batchSize });
    const exportOptions = options.timeFormat === undefined
      ? {}
      : { timeFormat: options.timeFormat };
    const count = to === "csv"
      ? await writeCsvFile(output, source, exportOptions)
      : await writeJsonFile(output, source, exportOptions);
    return {
      input,
      output,
      count,
      period: reader.info.period,
      first: reader.info.first,
      last: reader.info.last,
    };
  }

  const importOptions = options.timeUnit === undefined
    ? {}
    : { timeUnit: options.timeUnit };
  const data: ImportedCandles = from === "csv"
    ? await readCsvFile(input, importOptions)
    : await readJsonFile(input, importOptions);
  const { batch } = data;
  const n = batchLength(batch);
  const first = n > 0 ? batch.time[0] : undefined;
  const last = n > 0 ? batch.time[n - 1] : undefined;

  if (to !== "ohlcv") {
    const exportOptions = options.timeFormat === undefined
      ? {}
      : { timeFormat: options.timeFormat };
    const chunks = function* () {
      for (let i = 0; i < n; i += batchSize) {
        yield sliceBatch(batch, i, Math.min(n, i + batchSize));
      }
    };
    const count = to === "csv"
      ? await writeCsvFile(output, chunks(), exportOptions)
      : await writeJsonFile(output, chunks(), exportOptions);
    return { input, output, count, period: data.period ?? null, first, last };
  }

  const period = timeframe?.period ?? data.period;
  if (period === undefined) {
    throw new FormatError(
      n === 0
        ? `${what}: ${input} holds no candles; give a timeframe (--timeframe 1D, 60, ...) to write an empty .ohlcv anyway`
        : `${what}: cannot infer the period from ${
          n === 1 ? "a single candle" : "the spacing of the candles"
        }; give a timeframe (--timeframe 1D, 60, ...)`,
      { path: input },
    );
  }
  const writerOptions: {
    period: string;
    replace: true;
    durable: false;
    minmove?: number;
    pricescale?: number;
  } = { period, replace: true, durable: false };
  if (options.minmove !== undefined && options.pricescale !== undefined) {
    writerOptions.minmove = options.minmove;
    writerOptions.pricescale = options.pricescale;
  }
  const writer = await OhlcvWriter.open(output, writerOptions);
  try {
    for (let i = 0; i < n; i += batchSize) {
      await writer.append(sliceBatch(batch, i, Math.min(n, i + batchSize)));
    }
    await writer.close();
  } catch (e) {
    await writer.abort(e).catch(() => {});
    if (e instanceof RangeError && /^Candle \d+ of the batch/.test(e.message)) {
      throw new FormatError(
        `${what}: ${e.message.replace(/^Candle \d+ of the batch /, "candle ")}`,
        { path: input, cause: e },
      );
    }
    throw e;
  }
  return { input, output, count: n, period, first, last };
}
