/**
 * Reads PyneCore `.ohlcv` files (v2, and legacy v1 read-only) as columnar
 * {@linkcode CandleBatch}es: full validation on open, tick-grid snapping,
 * inclusive time-range queries by binary search, batch iteration and a
 * `ReadableStream`.
 *
 * @example
 * ```ts ignore
 * import { OhlcvReader } from "@pyne/data/format";
 *
 * await using reader = await OhlcvReader.open("data/BTC_USDT_1.ohlcv");
 * console.log(reader.info.period, reader.count);
 * for await (const batch of reader.batches({ from: Date.UTC(2024, 0, 1) })) {
 *   console.log(batch.time.length);
 * }
 * ```
 *
 * @module
 */

import { type FileHandle, open, stat } from "node:fs/promises";
import { allocBatch, type CandleBatch, sliceBatch } from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { getI64, V1_RECORD_SIZE, type V2Header } from "./_header.ts";
import { inspectOpenFile } from "./_inspect.ts";
import { decodeGeneric, decodeStandard, decodeV1 } from "./_codec.ts";
import { readFully } from "./_file_io.ts";
import type { OhlcvInfo } from "./ohlcv_info.ts";

export type { OhlcvInfo } from "./ohlcv_info.ts";

/** Options for {@linkcode OhlcvReader.batches} and {@linkcode OhlcvReader.readable}. */
export interface OhlcvReadOptions {
  /** First time (ms, inclusive) to read. @default {the first record} */
  from?: number;
  /** Last time (ms, inclusive) to read. @default {the last record} */
  to?: number;
  /** Candles per batch. @default {65536} */
  batchSize?: number;
  /** Skip legacy v1 phantom (gap-filler) records, whose volume is -1. @default {false} */
  skipPhantoms?: boolean;
}

const DEFAULT_BATCH_SIZE = 65536;

/**
 * A reader of one `.ohlcv` file. Opening validates the whole header (and the
 * stored first/last timestamps); only the committed records are read.
 */
export class OhlcvReader implements AsyncDisposable {
  /** Path of the file. */
  readonly path: string;
  /** Header information. */
  readonly info: OhlcvInfo;
  readonly #fh: FileHandle;
  readonly #header: V2Header | null;
  #closed = false;

  private constructor(
    path: string,
    fh: FileHandle,
    info: OhlcvInfo,
    header: V2Header | null,
  ) {
    this.path = path;
    this.#fh = fh;
    this.info = info;
    this.#header = header;
  }

  /**
   * Opens and validates a file. Throws a {@linkcode FormatError} naming the
   * file and the problem when the bytes are not a valid v2 or v1 file (a text
   * file named `.ohlcv` is reported as such).
   */
  static async open(path: string): Promise<OhlcvReader> {
    // Refuse directories and pipes/devices up front (opening a FIFO would block).
    const st = await stat(path);
    if (!st.isFile()) {
      throw new FormatError(
        `Cannot open ${path}: it is ${
          st.isDirectory() ? "a directory" : "not a regular file"
        }, not an .ohlcv file`,
        { path },
      );
    }
    const fh = await open(path, "r");
    try {
      const info = await inspectOpenFile(fh, path);
      return new OhlcvReader(path, fh, info.info, info.header);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Number of committed records. */
  get count(): number {
    return this.info.count;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new TypeError(`OhlcvReader for ${this.path} is closed`);
    }
  }

  /** Reads records `[start, end)` by index into one new batch. */
  async read(start = 0, end: number = this.count): Promise<CandleBatch> {
    this.#checkOpen();
    if (
      !Number.isInteger(start) || !Number.isInteger(end) || start < 0 ||
      end > this.count || start > end
    ) {
      throw new RangeError(
        `Cannot read records [${start}, ${end}) of ${this.path}: expected whole numbers with 0 <= start <= end <= ${this.count}`,
      );
    }
    const n = end - start;
    const rs = this.info.recordSize;
    const buf = new Uint8Array(n * rs);
    await this.#readRecords(buf, start, n);
    const out = allocBatch(n);
    this.#decode(buf, n, out);
    return out;
  }

  /** Reads the records whose time lies in `[from, to]` (ms, both inclusive). */
  async range(from: number, to: number): Promise<CandleBatch> {
    const start = await this.indexOf(from, "left");
    const end = await this.indexOf(to, "right");
    return this.read(start, Math.max(start, end));
  }

  /**
   * Binary search over the stored timestamps: with `"left"` (default) the
   * index of the first record whose time is `>= time`, with `"right"` the index
   * of the first record whose time is `> time` (`count` when there is none).
   */
  async indexOf(
    time: number,
    side: "left" | "right" = "left",
  ): Promise<number> {
    this.#checkOpen();
    if (typeof time !== "number" || Number.isNaN(time)) {
      throw new TypeError(`indexOf needs a time in ms, got ${String(time)}`);
    }
    if (side !== "left" && side !== "right") {
      throw new TypeError(
        `side must be "left" or "right", got ${String(side)}`,
      );
    }
    let lo = 0, hi = this.count;
    const scratch = new Uint8Array(8);
    const dv = new DataView(scratch.buffer);
    while (lo < hi) {
      // Not `>>> 1`: counts pass 2^31 (a 32-bit shift would loop forever).
      const mid = Math.floor((lo + hi) / 2);
      const t = await this.#timeAt(mid, scratch, dv);
      if (side === "left" ? t < time : t <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Iterates the records (optionally only those in `[from, to]`) as batches of
   * up to `batchSize` candles. The next chunk is read from disk while the
   * current one is decoded.
   */
  async *batches(
    options: OhlcvReadOptions = {},
  ): AsyncIterableIterator<CandleBatch> {
    this.#checkOpen();
    const batchSize = checkBatchSize(options.batchSize);
    const skipPhantoms = options.skipPhantoms ?? false;
    const start = options.from === undefined
      ? 0
      : await this.indexOf(options.from, "left");
    const end = options.to === undefined
      ? this.count
      : await this.indexOf(options.to, "right");
    if (end <= start) return;
    const rs = this.info.recordSize;
    const chunk = Math.min(batchSize, end - start);
    const buffers = [new Uint8Array(chunk * rs), new Uint8Array(chunk * rs)];
    let which = 0;
    let pos = start;
    let n = Math.min(chunk, end - pos);
    let pending: Promise<void> = this.#readRecords(buffers[0]!, pos, n);
    while (pos < end) {
      await pending;
      const buf = buffers[which]!;
      const cur = n;
      pos += cur;
      if (pos < end) {
        which ^= 1;
        n = Math.min(chunk, end - pos);
        pending = this.#readRecords(buffers[which]!, pos, n);
        // Avoid an unhandled rejection if the consumer stops early.
        pending.catch(() => {});
      }
      let out = allocBatch(cur);
      this.#decode(buf, cur, out);
      if (skipPhantoms) {
        out = dropPhantoms(out);
        if (out.time.length === 0) continue;
      }
      yield out;
    }
  }

  /** The records as a `ReadableStream` of batches (same options as {@linkcode OhlcvReader.batches}). */
  readable(options: OhlcvReadOptions = {}): ReadableStream<CandleBatch> {
    this.#checkOpen();
    checkBatchSize(options.batchSize);
    const it = this.batches(options);
    return new ReadableStream<CandleBatch>({
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    }, { highWaterMark: 1 });
  }

  /** Closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }

  /** Closes the file. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #readRecords(buf: Uint8Array, start: number, n: number): Promise<void> {
    const rs = this.info.recordSize;
    const len = n * rs;
    const got = await readFully(
      this.#fh,
      buf,
      0,
      len,
      this.info.headerSize + start * rs,
    );
    if (got < len) {
      throw new FormatError(
        `Cannot read ${this.path}: the file shrank while reading (record ${start})`,
        { path: this.path },
      );
    }
  }

  #decode(buf: Uint8Array, n: number, out: CandleBatch): void {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const h = this.#header;
    if (h === null) decodeV1(dv, 0, n, out, 0);
    else if (h.standardMask >= 0) {
      decodeStandard(dv, 0, n, h.standardMask, h.minmove, h.pricescale, out, 0);
    } else {
      decodeGeneric(
        dv,
        0,
        n,
        h.recordSize,
        h.columns,
        h.minmove,
        h.pricescale,
        out,
        0,
      );
    }
  }

  async #timeAt(i: number, scratch: Uint8Array, dv: DataView): Promise<number> {
    const h = this.#header;
    if (h === null) {
      await readFully(this.#fh, scratch, 0, 4, i * V1_RECORD_SIZE);
      return dv.getUint32(0, true) * 1000;
    }
    await readFully(
      this.#fh,
      scratch,
      0,
      8,
      h.headerSize + i * h.recordSize + h.timeOffset,
    );
    return getI64(dv, 0);
  }
}

function checkBatchSize(batchSize: number | undefined): number {
  const n = batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(n) || n <= 0) {
    throw new RangeError(
      `batchSize must be a positive whole number, got ${n}`,
    );
  }
  return n;
}

function dropPhantoms(b: CandleBatch): CandleBatch {
  const { time, open, high, low, close, volume } = b;
  let k = 0;
  for (let i = 0; i < time.length; i++) {
    if (volume[i] === -1) continue;
    time[k] = time[i]!;
    open[k] = open[i]!;
    high[k] = high[i]!;
    low[k] = low[i]!;
    close[k] = close[i]!;
    volume[k] = volume[i]!;
    k++;
  }
  return k === time.length ? b : sliceBatch(b, 0, k);
}

/**
 * The number of committed records in an `.ohlcv` file. Never throws: 0 when
 * the file is missing, unreadable or invalid.
 */
export async function ohlcvRecordCount(path: string): Promise<number> {
  try {
    const reader = await OhlcvReader.open(path);
    const n = reader.count;
    await reader.close().catch(() => {});
    return n;
  } catch {
    return 0;
  }
}
