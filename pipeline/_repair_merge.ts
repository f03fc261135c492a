/**
 * A private part of `repair()` and `download()`: rebuilds an `.ohlcv` file
 * with the candles of its holes. {@linkcode FileMerger} copies the existing
 * candles (with their `.extra.csv` fields) into a replacement in time order
 * and inserts new candles between them; {@linkcode fillHoles} fetches each
 * hole through the download stages into it.
 *
 * @module
 */

import { readSidecarRows } from "../format/_sidecar.ts";
import {
  type CandleBatch,
  type CandleExtra,
  sliceBatch,
} from "../format/candle_batch.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { fetchSegment, type SegmentContext } from "./_download_segment.ts";
import type { CoverageSegment } from "./coverage_report.ts";

/**
 * Copies the candles of an existing file into `append` with new candles
 * inserted in time order. At a time held by both, the file's candle wins
 * (the new one is left out).
 */
export class FileMerger {
  readonly #reader: OhlcvReader;
  readonly #iter: AsyncIterator<CandleBatch>;
  readonly #extras: (CandleExtra | undefined)[] | undefined;
  readonly #append: (batch: CandleBatch) => Promise<void>;
  readonly #signal: AbortSignal | undefined;
  #cur: CandleBatch | undefined;
  #pos = 0;
  #read = 0; // candles of the file read into #cur so far
  #done = false;
  /** Existing candles copied so far. */
  copied = 0;
  /** New candles inserted so far. */
  inserted = 0;

  private constructor(
    reader: OhlcvReader,
    extras: (CandleExtra | undefined)[] | undefined,
    append: (batch: CandleBatch) => Promise<void>,
    signal: AbortSignal | undefined,
  ) {
    this.#reader = reader;
    this.#iter = reader.batches();
    this.#extras = extras;
    this.#append = append;
    this.#signal = signal;
  }

  /** Opens the file at `path` to merge into `append`. */
  static async open(
    path: string,
    append: (batch: CandleBatch) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<FileMerger> {
    const reader = await OhlcvReader.open(path);
    try {
      const extras = await readSidecarRows(path, reader.count);
      return new FileMerger(reader, extras, append, signal);
    } catch (e) {
      await reader.close();
      throw e;
    }
  }

  /** The open time of the next existing candle, `Infinity` at the end. */
  async #next(): Promise<number> {
    while (!this.#done && (!this.#cur || this.#pos >= this.#cur.time.length)) {
      const r = await this.#iter.next();
      if (r.done) {
        this.#done = true;
        this.#cur = undefined;
        break;
      }
      const batch = r.value;
      const n = batch.time.length;
      const ex = this.#extras?.slice(this.#read, this.#read + n);
      this.#cur = ex && ex.some((e) => e) ? { ...batch, extra: ex } : batch;
      this.#read += n;
      this.#pos = 0;
    }
    return this.#cur ? this.#cur.time[this.#pos]! : Infinity;
  }

  /** Copies the existing candles that open before `t`. */
  async copyBefore(t: number): Promise<void> {
    while ((await this.#next()) < t) {
      this.#signal?.throwIfAborted();
      const cur = this.#cur!;
      const start = this.#pos;
      let end = start + 1;
      while (end < cur.time.length && cur.time[end]! < t) end++;
      await this.#append(
        start === 0 && end === cur.time.length
          ? cur
          : sliceBatch(cur, start, end),
      );
      this.copied += end - start;
      this.#pos = end;
    }
  }

  /** Inserts new candles (in time order, after those inserted before). */
  async insert(batch: CandleBatch): Promise<void> {
    const n = batch.time.length;
    let k = 0;
    while (k < n) {
      await this.copyBefore(batch.time[k]!);
      const next = await this.#next();
      let e = k;
      while (e < n && batch.time[e]! < next) e++;
      if (e > k) {
        await this.#append(
          k === 0 && e === n ? batch : sliceBatch(batch, k, e),
        );
        this.inserted += e - k;
      }
      // A new candle at the time of an existing one: the file's wins.
      while (e < n && batch.time[e] === next) e++;
      k = e;
    }
  }

  /** Copies the rest of the file and closes it; returns the candles copied. */
  async finish(): Promise<number> {
    await this.copyBefore(Infinity);
    await this.close();
    return this.copied;
  }

  /** Closes the file (stops merging). */
  async close(): Promise<void> {
    await this.#iter.return?.();
    await this.#reader.close();
  }
}

/**
 * Fetches each hole of the file at `path` through the download stages and
 * merges its candles with the file's into `ctx.write` (the replacement's);
 * the claims of each batch go to `ctx.write` too, after its candles. Copies
 * the whole file: returns the existing and the new candles written.
 */
export async function fillHoles(
  ctx: SegmentContext,
  path: string,
  holes: readonly CoverageSegment[],
  onHole?: (hole: CoverageSegment, index: number) => void,
): Promise<{ copied: number; inserted: number }> {
  const merger = await FileMerger.open(path, ctx.write, ctx.signal);
  try {
    const merging: SegmentContext = {
      ...ctx,
      write: async (batch) => {
        await merger.insert(batch);
        if (batch.coverage !== undefined) {
          await ctx.write({
            ...sliceBatch(batch, 0, 0),
            coverage: batch.coverage,
          });
        }
      },
    };
    for (const [i, hole] of holes.entries()) {
      ctx.signal?.throwIfAborted();
      onHole?.(hole, i);
      await merger.copyBefore(hole.from);
      await fetchSegment(merging, hole.from, hole.to, undefined);
    }
    const copied = await merger.finish();
    return { copied, inserted: merger.inserted };
  } catch (e) {
    await merger.close().catch(() => {});
    throw e;
  }
}
