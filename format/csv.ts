/**
 * CSV export in PyneCore's shape and CSV import with detection.
 *
 * Export: header `timestamp,open,high,low,close,volume`, `\r\n` line endings,
 * timestamps in ms, numbers formatted like Python's `repr` (`43000.0`,
 * `1e-05`), NaN as `NaN` — byte for byte what PyneCore writes. Optionally a
 * `time` column with ISO dates instead of ms.
 *
 * Import: header detection (or headerless `time,open,high,low,close[,volume]`),
 * timestamps in seconds, ms, µs or ns or as ISO dates (also MetaTrader's
 * separate Date and Time columns), delimiter detection (`,` `;` tab `|`),
 * period inference from the most common spacing, and row-numbered errors.
 *
 * @example
 * ```ts
 * import { candlesToCsv, parseCsvCandles } from "@pyne/data/format";
 *
 * const { batch, period } = parseCsvCandles(
 *   "Date;Open;High;Low;Close;Volume\n2024-01-01;1;2;0.5;1.5;10\n2024-01-02;1.5;2;1;2;12\n",
 * );
 * console.log(period); // "1D"
 * console.log(candlesToCsv(batch));
 * ```
 *
 * @module
 */

import { open } from "node:fs/promises";
import { parse as parseCsv } from "csv-parse/sync";
import { stringify as stringifyCsv } from "csv-stringify/sync";
import {
  batchLength,
  CANDLE_COLUMNS,
  type CandleBatch,
} from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { csvBytes } from "./_text_bytes.ts";
import { type BatchSource, writeEncodedFile } from "./_encoded_file.ts";
import { parsePlainCsv } from "./_plain_csv.ts";
import {
  CandleAccumulator,
  type ImportedCandles,
  type InputRow,
  looksLikeDate,
  looksLikeTimeOfDay,
  looksNumeric,
  mapColumns,
  type NumericTimeUnit,
} from "./_candle_import.ts";

export type {
  ImportedCandles,
  NumericTimeUnit,
  TimeUnit,
} from "./_candle_import.ts";
export { inferPeriod } from "./_candle_import.ts";

/** How exported timestamps are written. */
export type ExportTimeFormat = "ms" | "iso";

/** Options of the CSV exporters. */
export interface CsvExportOptions {
  /**
   * `"ms"`: a `timestamp` column in Unix milliseconds (PyneCore's default);
   * `"iso"`: a `time` column with ISO 8601 UTC dates.
   * @default {"ms"}
   */
  timeFormat?: ExportTimeFormat;
}

// The header goes through csv-stringify once; data rows are numbers, ISO
// dates, `NaN`, `inf`: never a delimiter, quote or line break, so they are
// written straight into bytes (what csv-stringify would produce for them, and
// several times faster).
const MS_HEADER: string = stringifyCsv([[
  "timestamp",
  ...CANDLE_COLUMNS.slice(1),
]], { record_delimiter: "windows" });
const ISO_HEADER: string = stringifyCsv([[...CANDLE_COLUMNS]], {
  record_delimiter: "windows",
});

function checkTimeFormat(options: CsvExportOptions): ExportTimeFormat {
  const f = options.timeFormat ?? "ms";
  if (f !== "ms" && f !== "iso") {
    throw new RangeError(`timeFormat must be "ms" or "iso", got "${f}"`);
  }
  return f;
}

function csvRowBytes(
  batch: CandleBatch,
  timeFormat: ExportTimeFormat,
  header: boolean,
): Uint8Array {
  const iso = timeFormat === "iso";
  return csvBytes(batch, iso, header ? (iso ? ISO_HEADER : MS_HEADER) : "");
}

const ascii = new TextDecoder();

function csvRows(
  batch: CandleBatch,
  timeFormat: ExportTimeFormat,
  header: boolean,
): string {
  return ascii.decode(csvRowBytes(batch, timeFormat, header));
}

/** Formats a batch as a complete CSV document (header plus one row per candle). */
export function candlesToCsv(
  batch: CandleBatch,
  options: CsvExportOptions = {},
): string {
  return csvRows(batch, checkTimeFormat(options), true);
}

/**
 * A `TransformStream` from candle batches to CSV text chunks: the header
 * first (also when no batch arrives), then one chunk per non-empty batch.
 */
export class CsvEncoderStream extends TransformStream<CandleBatch, string> {
  /** Creates the encoder; see {@linkcode CsvExportOptions}. */
  constructor(options: CsvExportOptions = {}) {
    super(csvTransformer(checkTimeFormat(options), csvRows));
  }
}

/** The header first (also when no batch arrives), then one chunk per non-empty batch. */
function csvTransformer<T>(
  timeFormat: ExportTimeFormat,
  rows: (b: CandleBatch, f: ExportTimeFormat, header: boolean) => T,
): Transformer<CandleBatch, T> {
  let headerDone = false;
  return {
    transform(batch, controller) {
      if (batchLength(batch) === 0) return;
      controller.enqueue(rows(batch, timeFormat, !headerDone));
      headerDone = true;
    },
    flush(controller) {
      if (!headerDone) controller.enqueue(rows(EMPTY, timeFormat, true));
    },
  };
}

const EMPTY: CandleBatch = {
  time: new Float64Array(0),
  open: new Float64Array(0),
  high: new Float64Array(0),
  low: new Float64Array(0),
  close: new Float64Array(0),
  volume: new Float64Array(0),
};

export type { BatchSource } from "./_encoded_file.ts";

/**
 * Writes candles to a CSV file in PyneCore's shape, streaming batch by batch
 * (no giant string), atomically: the file appears complete or not at all.
 * Returns the number of candles written.
 *
 * `source` is any iterable, async iterable or `ReadableStream` of batches,
 * for example `reader.batches()` of an `OhlcvReader`.
 */
export function writeCsvFile(
  path: string,
  source: BatchSource,
  options: CsvExportOptions = {},
): Promise<number> {
  return writeEncodedFile(
    path,
    source,
    new TransformStream(csvTransformer(checkTimeFormat(options), csvRowBytes)),
  );
}

/** Options of the CSV importers. */
export interface CsvImportOptions {
  /** Field delimiter; detected from the first lines when omitted (`,` `;` tab `|`). */
  delimiter?: string;
  /** Whether the first row is a header; detected when omitted. */
  header?: boolean;
  /** Name of the input for error messages (set by {@linkcode readCsvFile}). */
  path?: string;
  /**
   * Unit of numeric timestamps. Detected from the first row's magnitude when
   * omitted: below 1e11 seconds, below 1e14 ms, below 1e17 µs, else ns.
   */
  timeUnit?: NumericTimeUnit;
}

/** Result of a CSV import: the candles plus what was detected. */
export interface CsvImportResult extends ImportedCandles {
  /** The delimiter used. */
  delimiter: string;
  /** The header row, when there was one. */
  header: string[] | undefined;
}

const DELIMITERS = ["\t", ";", "|", ","] as const;

/**
 * Detects the delimiter from the first non-empty lines: the candidate that
 * appears the same, non-zero number of times on each of them, the most
 * frequent one winning (tab, `;` and `|` before `,` on a tie, so decimal
 * commas do not fool it). Falls back to `,`.
 */
export function detectDelimiter(text: string): string {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) =>
    l.trim() !== ""
  ).slice(0, 20);
  let best = ",";
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const counts = lines.map((l) => l.split(d).length - 1);
    const first = counts[0] ?? 0;
    if (first === 0 || counts.some((c) => c !== first)) continue;
    if (first > bestCount) {
      best = d;
      bestCount = first;
    }
  }
  return best;
}

function isHeaderRow(cells: readonly string[]): boolean {
  return cells.some((c) => {
    const t = c.trim();
    return t !== "" && !looksNumeric(t) && !looksLikeDate(t) &&
      !looksLikeTimeOfDay(t);
  });
}

type Columns = ReturnType<typeof mapColumns>;

/**
 * Index just after the last line end of `text` that is outside double quotes
 * (RFC 4180: `""` inside quotes toggles twice), 0 when there is none.
 */
function lastCompleteLineEnd(text: string): number {
  let q = text.indexOf('"');
  if (q === -1) return text.lastIndexOf("\n") + 1;
  let inside = false;
  let last = 0;
  let i = 0;
  for (;;) {
    const nl = text.indexOf("\n", i);
    if (nl === -1) return last;
    // Toggle for every quote before this newline.
    while (q !== -1 && q < nl) {
      inside = !inside;
      q = text.indexOf('"', q + 1);
    }
    if (!inside) last = nl + 1;
    i = nl + 1;
  }
}

/**
 * Incremental CSV candle parser: takes the text in pieces (cut at line ends
 * internally), parses each with csv-parse and hands every record straight to
 * a {@linkcode CandleAccumulator}, so only the numeric columns stay in memory.
 */
class CsvCandleParser {
  readonly #options: CsvImportOptions;
  readonly #where: string;
  #acc: CandleAccumulator | undefined;
  #delimiter: string | undefined;
  #started = false;
  #header: string[] | undefined;
  #cols: Columns = {};
  #need = 0;
  #lineOffset = 0;
  #carry = "";
  #row: InputRow = { row: 0, time: "", open: "", high: "", low: "", close: "" };

  constructor(options: CsvImportOptions) {
    this.#options = options;
    this.#where = options.path ?? "CSV input";
  }

  #fail(msg: string, cause?: unknown): never {
    const o: { path?: string; cause?: unknown } = {};
    if (this.#options.path !== undefined) o.path = this.#options.path;
    if (cause !== undefined) o.cause = cause;
    throw new FormatError(`Cannot import ${this.#where}: ${msg}`, o);
  }

  /** Feeds text; with `final` false only complete lines are parsed now. */
  feed(piece: string, final: boolean): void {
    let text = this.#carry + piece;
    this.#carry = "";
    if (this.#delimiter === undefined) {
      if (!final && text.length < 65536 && !text.includes("\n")) {
        this.#carry = text;
        return;
      }
      this.#delimiter = this.#options.delimiter ?? detectDelimiter(text);
      this.#acc = new CandleAccumulator({
        where: this.#where,
        path: this.#options.path,
        decimalComma: this.#delimiter !== ",",
        timeUnit: this.#options.timeUnit,
      });
    }
    if (!final) {
      const cut = lastCompleteLineEnd(text);
      this.#carry = text.slice(cut);
      text = text.slice(0, cut);
      if (text === "") return;
    }
    const offset = this.#lineOffset;
    const plain = parsePlainCsv(
      text,
      this.#delimiter,
      (cells, line) => this.#record(cells, line + offset),
    );
    if (!plain) this.#parseQuoted(text, offset);
    let lines = 0;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      lines++;
    }
    this.#lineOffset += lines;
  }

  /** csv-parse for text with quotes (or anything else not plain). */
  #parseQuoted(text: string, offset: number): void {
    try {
      (parseCsv as (t: string, o: unknown) => unknown)(text, {
        delimiter: this.#delimiter,
        bom: true,
        trim: true,
        skip_empty_lines: true,
        relax_column_count: true,
        relax_quotes: true,
        on_record: (record: string[], ctx: { lines: number }) => {
          this.#record(record, ctx.lines + offset);
          return null;
        },
      });
    } catch (e) {
      if (e instanceof FormatError) throw e;
      this.#fail(`not valid CSV: ${(e as Error).message}`, e);
    }
  }

  #start(first: string[], line: number): boolean {
    this.#started = true;
    const hasHeader = this.#options.header ?? isHeaderRow(first);
    let cols: Columns;
    if (hasHeader) {
      this.#header = first;
      cols = mapColumns(first);
      for (const role of ["time", "open", "high", "low", "close"] as const) {
        if (
          cols[role] === undefined &&
          !(role === "time" && cols.date !== undefined)
        ) {
          this.#fail(
            `no "${role}" column in the header (columns: ${
              first.join(", ")
            }); expected timestamp/time/date, open, high, low, close and optionally volume`,
          );
        }
      }
    } else {
      const n = first.length;
      if (n < 5) {
        this.#fail(
          `row ${line}: ${n} column${
            n === 1 ? "" : "s"
          }; expected time, open, high, low, close and optionally volume${
            n === 1 ? ` (is the delimiter "${this.#delimiter}" right?)` : ""
          }`,
        );
      }
      if (
        n >= 7 && looksLikeDate(first[0]!) && looksLikeTimeOfDay(first[1]!)
      ) {
        cols = {
          date: 0,
          timeOfDay: 1,
          open: 2,
          high: 3,
          low: 4,
          close: 5,
          volume: 6,
        };
      } else {
        cols = { time: 0, open: 1, high: 2, low: 3, close: 4 };
        if (n >= 6) cols.volume = 5;
      }
    }
    this.#cols = cols;
    this.#need = Math.max(
      ...Object.values(cols).filter((v): v is number => v !== undefined),
    ) + 1;
    return hasHeader;
  }

  #record(record: string[], line: number): void {
    if (!this.#started && this.#start(record, line)) return;
    const cols = this.#cols;
    const need = this.#need;
    if (
      record.length < need &&
      !(cols.volume === need - 1 && record.length === need - 1)
    ) {
      this.#fail(
        `row ${line}: ${record.length} column${
          record.length === 1 ? "" : "s"
        }, expected ${need}`,
      );
    }
    const r = this.#row;
    r.row = line;
    r.time = record[cols.time ?? cols.date!];
    r.open = record[cols.open!];
    r.high = record[cols.high!];
    r.low = record[cols.low!];
    r.close = record[cols.close!];
    if (cols.time === undefined) r.timeOfDay = record[cols.timeOfDay!];
    r.volume = cols.volume === undefined ? undefined : record[cols.volume];
    this.#acc!.add(r);
  }

  finish(): CsvImportResult {
    if (this.#carry !== "") this.feed("", true);
    if (!this.#started) this.#fail("the file is empty");
    return {
      ...this.#acc!.finish(),
      delimiter: this.#delimiter!,
      header: this.#header,
    };
  }
}

/**
 * Parses CSV text into candles. Throws a {@linkcode FormatError}
 * (`Cannot import data.csv: row 17: high "abc" is not a number`) for the first
 * bad row; row numbers are line numbers in the file.
 */
export function parseCsvCandles(
  text: string,
  options: CsvImportOptions = {},
): CsvImportResult {
  const parser = new CsvCandleParser(options);
  parser.feed(text, true);
  return parser.finish();
}

const READ_CHUNK = 8 * 1024 * 1024;

/**
 * Reads and parses a CSV file of candles (see {@linkcode parseCsvCandles})
 * in pieces, so files larger than the longest possible string work and
 * memory holds only the numeric columns; errors name the file.
 */
export async function readCsvFile(
  path: string,
  options: Omit<CsvImportOptions, "path"> = {},
): Promise<CsvImportResult> {
  const parser = new CsvCandleParser({ ...options, path });
  const fh = await open(path, "r");
  try {
    const decoder = new TextDecoder("utf-8");
    const buf = new Uint8Array(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      parser.feed(
        decoder.decode(buf.subarray(0, bytesRead), { stream: true }),
        false,
      );
    }
    parser.feed(decoder.decode(), true);
  } finally {
    await fh.close();
  }
  return parser.finish();
}
