/**
 * JSON export in PyneCore's shape and JSON import.
 *
 * Export: an array of objects `{"timestamp", "open", "high", "low", "close",
 * "volume"}` indented like Python's `json.dump(..., indent=2)`, numbers like
 * Python's `repr`, NaN as `null` — byte for byte what PyneCore writes.
 *
 * Import: an array of objects (keys matched like CSV headers: `timestamp`,
 * `time`, `date`, `t`, `open`/`o`, ... case-insensitive) or of arrays
 * `[time, open, high, low, close, volume]` (ccxt's shape), optionally wrapped
 * in `{"candles": [...]}` or `{"data": [...]}`; `null` is NaN. Timestamps in
 * s / ms / µs / ns or ISO dates; the period is inferred.
 *
 * @example
 * ```ts
 * import { candlesToJson, parseJsonCandles } from "@pyne/data/format";
 *
 * const { batch } = parseJsonCandles('[[1704067200000, 1, 2, 0.5, 1.5, 10]]');
 * console.log(candlesToJson(batch));
 * ```
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { batchLength, type CandleBatch } from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { jsonBytes } from "./_text_bytes.ts";
import {
  buildCandles,
  type ImportedCandles,
  type InputRow,
  mapColumns,
  type NumericTimeUnit,
  show,
} from "./_candle_import.ts";
import type { CsvExportOptions, ExportTimeFormat } from "./csv.ts";
import { type BatchSource, writeEncodedFile } from "./_encoded_file.ts";

/** Options of the JSON exporters (same as CSV: `timeFormat`). */
export type JsonExportOptions = CsvExportOptions;

function checkTimeFormat(options: JsonExportOptions): ExportTimeFormat {
  const f = options.timeFormat ?? "ms";
  if (f !== "ms" && f !== "iso") {
    throw new RangeError(`timeFormat must be "ms" or "iso", got "${f}"`);
  }
  return f;
}

const ascii = new TextDecoder();

/** Formats a batch as a complete JSON document in PyneCore's layout. */
export function candlesToJson(
  batch: CandleBatch,
  options: JsonExportOptions = {},
): string {
  const timeFormat = checkTimeFormat(options);
  if (batchLength(batch) === 0) return "[]";
  return ascii.decode(jsonBytes(batch, timeFormat === "iso", "[\n")) + "\n]";
}

/**
 * A `TransformStream` from candle batches to JSON text chunks that together
 * form one JSON array in PyneCore's layout (`[]` when no candle arrives).
 */
export class JsonEncoderStream extends TransformStream<CandleBatch, string> {
  /** Creates the encoder; see {@linkcode JsonExportOptions}. */
  constructor(options: JsonExportOptions = {}) {
    super(jsonTransformer(checkTimeFormat(options), (b) => ascii.decode(b)));
  }
}

/** `[\n` + records joined by `,\n` + `\n]` over the batches (`[]` for none). */
function jsonTransformer<T>(
  timeFormat: ExportTimeFormat,
  wrap: (bytes: Uint8Array) => T,
): Transformer<CandleBatch, T> {
  const iso = timeFormat === "iso";
  const te = new TextEncoder();
  let started = false;
  return {
    transform(batch, controller) {
      if (batchLength(batch) === 0) return;
      controller.enqueue(wrap(jsonBytes(batch, iso, started ? ",\n" : "[\n")));
      started = true;
    },
    flush(controller) {
      controller.enqueue(wrap(te.encode(started ? "\n]" : "[]")));
    },
  };
}

/**
 * Writes candles to a JSON file in PyneCore's shape, streaming batch by batch,
 * atomically (temporary file + rename). Returns the number of candles written.
 */
export function writeJsonFile(
  path: string,
  source: BatchSource,
  options: JsonExportOptions = {},
): Promise<number> {
  return writeEncodedFile(
    path,
    source,
    new TransformStream(
      jsonTransformer(checkTimeFormat(options), (b: Uint8Array) => b),
    ),
  );
}

/** Options of the JSON importers. */
export interface JsonImportOptions {
  /** Name of the input for error messages (set by {@linkcode readJsonFile}). */
  path?: string;
  /** Unit of numeric timestamps; detected from their magnitude when omitted. */
  timeUnit?: NumericTimeUnit;
}

/**
 * Parses JSON text into candles. Throws a {@linkcode FormatError}
 * (`Cannot import data.json: row 3: high "abc" is not a number`) for the
 * first bad element; rows are numbered from 1 in array order.
 */
export function parseJsonCandles(
  text: string,
  options: JsonImportOptions = {},
): ImportedCandles {
  const where = options.path ?? "JSON input";
  const fail = (msg: string, cause?: unknown): never => {
    const o: { path?: string; cause?: unknown } = {};
    if (options.path !== undefined) o.path = options.path;
    if (cause !== undefined) o.cause = cause;
    throw new FormatError(`Cannot import ${where}: ${msg}`, o);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    return fail(`not valid JSON: ${(e as Error).message}`, e);
  }
  let items: unknown[];
  if (Array.isArray(doc)) items = doc;
  else if (typeof doc === "object" && doc !== null) {
    const o = doc as Record<string, unknown>;
    const inner = ["candles", "data", "ohlcv"].map((k) => o[k]).find(
      Array.isArray,
    );
    if (!inner) {
      return fail(
        `expected an array of candles (or an object with a "candles" or "data" array), got an object with keys ${
          Object.keys(o).join(", ") || "(none)"
        }`,
      );
    }
    items = inner as unknown[];
  } else {
    return fail(`expected an array of candles, got ${show(doc)}`);
  }
  const rows: InputRow[] = new Array(items.length);
  let keyCols: ReturnType<typeof mapColumns> | undefined;
  let keyNames: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const row = i + 1;
    if (Array.isArray(item)) {
      if (item.length < 5) {
        fail(
          `row ${row}: ${item.length} values; expected [time, open, high, low, close, volume]`,
        );
      }
      const r: InputRow = {
        row,
        time: item[0],
        open: item[1],
        high: item[2],
        low: item[3],
        close: item[4],
      };
      if (item.length > 5) r.volume = item[5];
      rows[i] = r;
    } else if (typeof item === "object" && item !== null) {
      const o = item as Record<string, unknown>;
      const names = Object.keys(o);
      if (
        keyCols === undefined || names.length !== keyNames.length ||
        names.some((k, j) => k !== keyNames[j])
      ) {
        keyNames = names;
        keyCols = mapColumns(names);
        for (const role of ["time", "open", "high", "low", "close"] as const) {
          if (
            keyCols[role] === undefined &&
            !(role === "time" && keyCols.date !== undefined)
          ) {
            fail(
              `row ${row}: no "${role}" key (keys: ${
                names.join(", ")
              }); expected timestamp/time/date, open, high, low, close and optionally volume`,
            );
          }
        }
      }
      const cols = keyCols;
      const get = (idx: number | undefined) =>
        idx === undefined ? undefined : o[names[idx]!];
      const r: InputRow = {
        row,
        time: get(cols.time ?? cols.date),
        open: get(cols.open),
        high: get(cols.high),
        low: get(cols.low),
        close: get(cols.close),
      };
      if (cols.time === undefined) r.timeOfDay = get(cols.timeOfDay);
      if (cols.volume !== undefined) r.volume = get(cols.volume);
      rows[i] = r;
    } else {
      fail(
        `row ${row}: expected an object or an array, got ${show(item)}`,
      );
    }
  }
  return buildCandles(rows, {
    where,
    path: options.path,
    timeUnit: options.timeUnit,
  });
}

/** The longest string JavaScript engines create (V8: 2^29 - 24 characters). */
const MAX_JSON_BYTES = 0x1fffffe8;

/** Reads and parses a JSON file of candles; errors name the file. */
export async function readJsonFile(
  path: string,
  options: Omit<JsonImportOptions, "path"> = {},
): Promise<ImportedCandles> {
  const { size } = await stat(path);
  if (size > MAX_JSON_BYTES) {
    throw new FormatError(
      `Cannot import ${path}: ${size} bytes is too large to read as one JSON document (the limit is ${MAX_JSON_BYTES}); use CSV for files this size`,
      { path },
    );
  }
  const text = await readFile(path, "utf8");
  return parseJsonCandles(text, { ...options, path });
}
