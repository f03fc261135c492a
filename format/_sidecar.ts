/**
 * Private: the `NAME.extra.csv` sidecar of `NAME.ohlcv` — one CSV row per
 * committed record, the header taken from the first record with extra fields,
 * earlier rows empty, `\r\n` line endings.
 *
 * @module
 */

import { type FileHandle, open, readFile, unlink } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import type { CandleExtra } from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { isNotFound, writeFully } from "./_file_io.ts";

/** `NAME.extra.csv` for `NAME.ohlcv` (`PATH.extra.csv` for other names). */
export function sidecarPath(ohlcvPath: string): string {
  return ohlcvPath.endsWith(".ohlcv")
    ? `${ohlcvPath.slice(0, -".ohlcv".length)}.extra.csv`
    : `${ohlcvPath}.extra.csv`;
}

/**
 * The sidecar rows of the first `count` records of the `.ohlcv` at
 * `ohlcvPath` (values kept as the text stored, empty fields left out,
 * all-empty rows `undefined`), or `undefined` when there is no sidecar. Used
 * to carry a file's extra data into a rebuilt file.
 */
export async function readSidecarRows(
  ohlcvPath: string,
  count: number,
): Promise<(CandleExtra | undefined)[] | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(ohlcvPath), "utf8");
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  if (text.trim() === "") return undefined;
  const rows = parse(text, {
    columns: true,
    relax_column_count: true,
    skip_empty_lines: false,
  }) as Record<string, string>[];
  const out: (CandleExtra | undefined)[] = new Array(count).fill(undefined);
  for (let i = 0; i < Math.min(count, rows.length); i++) {
    let extra: Record<string, string> | undefined;
    for (const [k, v] of Object.entries(rows[i]!)) {
      if (v === "" || v === undefined) continue;
      (extra ??= {})[k] = v;
    }
    out[i] = extra;
  }
  return out;
}

const LF = 0x0a, QUOTE = 0x22;
/**
 * `\r\n` row ends; a field holding a lone `\r` or `\n` is quoted too
 * (csv-stringify quotes only the whole record delimiter by default).
 */
const CSV_OPTIONS = {
  record_delimiter: "windows",
  quoted_match: /[\r\n]/,
} as const;
const encoder = new TextEncoder();

/** Bytes prepared for one commit, with the state they lead to. */
export interface SidecarRows {
  bytes: Uint8Array;
  header: string[];
}

/** The sidecar of one writer. */
export class Sidecar {
  readonly path: string;
  #fh: FileHandle | null;
  #header: string[] | null;
  /** The header once every prepared batch is written (ahead of #header). */
  #planned: string[] | null;
  #size: number;
  #durable: boolean;

  private constructor(
    path: string,
    fh: FileHandle | null,
    header: string[] | null,
    size: number,
    durable: boolean,
  ) {
    this.path = path;
    this.#fh = fh;
    this.#header = header;
    this.#planned = header;
    this.#size = size;
    this.#durable = durable;
  }

  /**
   * Opens the sidecar at `path` for a file with `committed` records: truncates
   * rows past the committed records (crash recovery) and pads missing ones.
   * `fresh` starts without reading (replace mode, new files).
   */
  static async open(
    path: string,
    committed: number,
    durable: boolean,
    fresh: boolean,
  ): Promise<Sidecar> {
    if (fresh) return new Sidecar(path, null, null, 0, durable);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (isNotFound(err)) return new Sidecar(path, null, null, 0, durable);
      throw err;
    }
    if (bytes.length === 0) {
      await unlink(path);
      return new Sidecar(path, null, null, 0, durable);
    }
    // Row ends: LF outside quotes.
    const ends: number[] = [];
    let inQuote = false;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === QUOTE) inQuote = !inQuote;
      else if (b === LF && !inQuote) {
        ends.push(i + 1);
        if (ends.length > committed + 1) break;
      }
    }
    if (ends.length === 0) {
      throw new FormatError(
        `Cannot open ${path}: the extra-data sidecar has no complete header line`,
        { path },
      );
    }
    const headerText = new TextDecoder().decode(bytes.subarray(0, ends[0]));
    const header = (parse(headerText) as string[][])[0] ?? [];
    const fh = await open(path, "r+");
    let size = bytes.length;
    const rows = ends.length - 1;
    if (rows > committed) {
      size = ends[committed]!;
      await fh.truncate(size);
      if (durable) await fh.sync();
    } else {
      // A torn last line (no line end) is dropped before padding.
      size = ends[ends.length - 1]!;
      if (size !== bytes.length) await fh.truncate(size);
      if (rows < committed) {
        const pad = encoder.encode(emptyRow(header).repeat(committed - rows));
        await writeFully(fh, pad, 0, pad.length, size);
        size += pad.length;
      }
      if (durable && (size !== bytes.length || rows < committed)) {
        await fh.sync();
      }
    }
    return new Sidecar(path, fh, header, size, durable);
  }

  /** True once the sidecar file exists (some record had extra fields). */
  get active(): boolean {
    return this.#header !== null;
  }

  /**
   * Prepares the rows for `n` new records starting at record index
   * `committed`, or `null` when nothing needs writing. Call only for a batch
   * that will be committed: batches are prepared and appended in order.
   */
  prepare(
    extra: ReadonlyArray<CandleExtra | undefined> | undefined,
    n: number,
    committed: number,
  ): SidecarRows | null {
    let header = this.#planned;
    let text = "";
    let startRow = 0;
    if (header === null) {
      if (!extra) return null;
      let firstWith = -1;
      for (let i = 0; i < n; i++) {
        const e = extra[i];
        if (e && Object.keys(e).length > 0) {
          firstWith = i;
          break;
        }
      }
      if (firstWith < 0) return null;
      header = Object.keys(extra[firstWith]!);
      text += stringify([header], CSV_OPTIONS);
      text += emptyRow(header).repeat(committed + firstWith);
      startRow = firstWith;
    }
    const rows: string[][] = [];
    const empty = emptyRow(header);
    let out = text;
    const flush = () => {
      if (rows.length) {
        out += stringify(rows, CSV_OPTIONS);
        rows.length = 0;
      }
    };
    for (let i = startRow; i < n; i++) {
      const e = extra?.[i];
      if (!e) {
        flush();
        out += empty;
        continue;
      }
      const cells = header.map((k) => {
        const v = e[k];
        return v === undefined ? "" : String(v);
      });
      if (header.length === 1 && cells[0] === "") {
        // csv-stringify writes a lone empty field as a blank line, which CSV
        // readers skip: that would shift every later row.
        flush();
        out += empty;
        continue;
      }
      rows.push(cells);
    }
    flush();
    this.#planned = header;
    return { bytes: encoder.encode(out), header };
  }

  /** Appends prepared rows and syncs (when durable). */
  async append(rows: SidecarRows): Promise<void> {
    if (this.#fh === null) {
      this.#fh = await open(this.path, "w");
      this.#size = 0;
    }
    await writeFully(this.#fh, rows.bytes, 0, rows.bytes.length, this.#size);
    if (this.#durable) await this.#fh.sync();
    this.#size += rows.bytes.length;
    this.#header = rows.header;
  }

  /** Flushes to disk. */
  async sync(): Promise<void> {
    if (this.#fh) await this.#fh.sync();
  }

  /** Closes the file handle. */
  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    if (fh) await fh.close();
  }
}

function emptyRow(header: ReadonlyArray<string>): string {
  return header.length === 1
    ? '""\r\n'
    : ",".repeat(header.length - 1) + "\r\n";
}
