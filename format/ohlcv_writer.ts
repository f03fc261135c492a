/**
 * Writes PyneCore `.ohlcv` v2 files byte for byte as PyneCore does, from
 * columnar {@linkcode CandleBatch}es: whole-batch validation, canonical NaNs,
 * the DENSE flag, float32-delta promotion on a tick grid, one durable commit
 * per batch, crash-tail recovery, an `.extra.csv` sidecar, a lock file and a
 * replace mode that keeps the old file until `close()`.
 *
 * @example
 * ```ts ignore
 * import { batchFromRows, OhlcvWriter } from "@pyne/data/format";
 *
 * await using writer = await OhlcvWriter.open("data/BTC_USDT_1.ohlcv", {
 *   period: "1",
 *   minmove: 1,
 *   pricescale: 100,
 * });
 * await writer.append(batchFromRows([[1704067200000, 42000, 42010.5, 41990, 42001.25, 3.5]]));
 * await writer.close();
 * ```
 *
 * @module
 */

import { type FileHandle, rename, unlink } from "node:fs/promises";
import { assertCandleBatch, type CandleBatch } from "./candle_batch.ts";
import type { Timeframe } from "./timeframe.ts";
import {
  encodeHeader,
  FIXED_HEADER_SIZE,
  type HeaderFields,
  STANDARD_HEADER_SIZE,
  standardLayout,
  unitMs,
} from "./_header.ts";
import { fsyncDir, writeFully, writeHeaderSync } from "./_file_io.ts";
import { RecordWriter } from "./_record_writer.ts";
import { acquireLock, type FileLock } from "./_file_lock.ts";
import { type Sidecar, sidecarPath, type SidecarRows } from "./_sidecar.ts";
import { checkGrid } from "./_batch_validation.ts";
import { encodeBatch } from "./_batch_encoding.ts";
import { rebuildFile } from "./_rebuild.ts";
import {
  type OpenedFile,
  openWriterFile,
  resolveOpenOptions,
} from "./_writer_open.ts";
import { STREAM_AHEAD, writerStream } from "./_writer_stream.ts";

import type { OhlcvWriterOptions } from "./ohlcv_writer_options.ts";

export { OhlcvLockedError } from "./_file_lock.ts";
export type { OhlcvWriterOptions } from "./ohlcv_writer_options.ts";

/**
 * Test hooks: run just before an internal step; throwing simulates a crash
 * there. Not part of the stable API.
 *
 * @internal
 */
export interface OhlcvWriterHooks {
  /** Called after the record bytes are written and synced, before the header write. */
  beforeHeaderWrite?: () => void | Promise<void>;
  /** Called after a rebuild's temporary file is complete, before it is renamed into place. */
  beforeRebuildRename?: () => void | Promise<void>;
}

const noop = (): void => {};

/** A validated, encoded batch waiting for its commit. */
interface Prepared {
  pending: Uint8Array;
  pendingLen: number;
  /** Layouts the committed records go through (a rebuild) — empty for an append. */
  chain: number[];
  fields: HeaderFields;
  rows: SidecarRows | null;
  /** Pooled encode buffer to give back after the commit. */
  buffer: Uint8Array | undefined;
  /** Where the records go: the planned extent before this batch. */
  position: number;
  /** Sequence number of the batch (1, 2, ...), in call order. */
  seq: number;
  /** Settles once the records are written (appends only, not rebuilds). */
  written?: Promise<void>;
}

/**
 * Appends candles to an `.ohlcv` v2 file. Create with
 * {@linkcode OhlcvWriter.open}; every {@linkcode OhlcvWriter.append} validates
 * the whole batch, then commits it durably (write, fsync, header, fsync).
 */
export class OhlcvWriter implements AsyncDisposable {
  /** Destination path. */
  readonly path: string;
  /**
   * What taking the lock cleared away (paths): a dead writer's stale lock and
   * the temporary files of writers that are gone. Empty without the lock.
   */
  readonly staleFilesRemoved: readonly string[];
  readonly #filePath: string; // the file written to (a temp file in replace mode)
  readonly #replace: boolean;
  readonly #durable: boolean;
  readonly #period: string;
  readonly #periodMs: number; // 0 = never dense (months)
  #fh: FileHandle;
  #lock: FileLock | null;
  #sidecar: Sidecar;
  /** The planned state: the header once every queued batch is committed. */
  #planned: HeaderFields;
  /** What the header on disk says. */
  #disk: HeaderFields;
  #state: "open" | "closed" | "aborted" | "failed" = "open";
  #closing = false;
  /** Commits run one after another, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #buffers: Uint8Array[] = [];
  /** Writes the records ahead of their commits, and the fsyncs. */
  readonly #records: RecordWriter;
  /** Batches numbered so far. */
  #seq = 0;
  /** Batches queued whose commit has not settled yet. */
  #pendingCommits = 0;
  /** The error that failed a commit (the writer is then "failed"). */
  #failure: { error: unknown } | undefined;
  #writable: WritableStream<CandleBatch> | undefined;
  /** @internal */
  hooks: OhlcvWriterHooks = {};

  private constructor(
    init: OpenedFile & {
      path: string;
      replace: boolean;
      durable: boolean;
      tf: Timeframe;
      lock: FileLock | null;
    },
  ) {
    this.path = init.path;
    this.#filePath = init.filePath;
    this.#replace = init.replace;
    this.#durable = init.durable;
    this.#period = init.tf.period;
    // An existing file keeps its own interval encoding (hours stay unit 3).
    const f = init.fields;
    this.#periodMs = f.intervalValue * unitMs(f.intervalUnit);
    this.#fh = init.fh;
    this.#lock = init.lock;
    this.staleFilesRemoved = init.lock?.removed ?? [];
    this.#sidecar = init.sidecar;
    this.#planned = { ...f };
    this.#disk = { ...f };
    this.#records = new RecordWriter(this.#filePath, () => this.#fh);
  }

  /**
   * Creates `path` or opens it for appending. An existing file must be a valid
   * v2 file of the same period (else the file is left untouched and an error
   * is thrown); bytes past its committed records (a crashed commit) are
   * truncated away. Without `minmove`/`pricescale` the file's grid is adopted.
   */
  static async open(
    path: string,
    options: OhlcvWriterOptions,
  ): Promise<OhlcvWriter> {
    const { tf, grid, replace, durable, locked } = resolveOpenOptions(
      path,
      options,
    );
    const lock = locked ? await acquireLock(path) : null;
    try {
      const file = await openWriterFile(
        path,
        tf,
        grid,
        durable,
        replace,
        lock !== null,
      );
      const w = new OhlcvWriter({ path, replace, durable, tf, lock, ...file });
      if (file.newGrid) {
        try {
          await w.setTickInfo(file.newGrid.minmove, file.newGrid.pricescale);
        } catch (err) {
          await file.fh.close().catch(() => {});
          throw err;
        }
      }
      return w;
    } catch (err) {
      await lock?.release();
      throw err;
    }
  }

  /** The file's TradingView period. */
  get period(): string {
    return this.#period;
  }
  /** Committed records (on disk). */
  get count(): number {
    return this.#disk.count;
  }
  /** Time (ms) of the first record, `undefined` when empty. */
  get firstTime(): number | undefined {
    return this.#disk.count > 0 ? this.#disk.first : undefined;
  }
  /** Time (ms) of the last record, `undefined` when empty. */
  get lastTime(): number | undefined {
    return this.#disk.count > 0 ? this.#disk.last : undefined;
  }
  /** The DENSE flag: every record exactly one period after the previous. */
  get dense(): boolean {
    return this.#disk.dense;
  }
  /** Tick grid numerator (0 = no grid). */
  get minmove(): number {
    return this.#planned.minmove;
  }
  /** Tick grid denominator (0 = no grid). */
  get pricescale(): number {
    return this.#planned.pricescale;
  }
  /** Bytes per record: 36, or 40/44/48 with promoted columns. */
  get recordSize(): number {
    return standardLayout(this.#disk.mask).recordSize;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  #checkOpen(what: string): void {
    if (this.#state !== "open" || this.#closing) {
      const state = this.#state === "open" ? "closing" : this.#state;
      throw new TypeError(
        `Cannot ${what}: the writer for ${this.path} is ${state}`,
      );
    }
  }

  /**
   * Validates the whole batch (nothing is written when a candle is bad: the
   * promise rejects with a `RangeError` naming the candle), then commits it:
   * one write of all records, fsync, header, fsync; the promise resolves once
   * the batch is durable (with `durable: false`, once the header is written).
   * An empty batch does nothing. `batch.extra` goes to the `.extra.csv`
   * sidecar. `append` may be called again before the previous call resolves:
   * each batch is validated at once (against the batches before it), its
   * records are written past the committed ones while earlier batches are
   * being committed, and batches are committed in call order. When the next
   * batch's records are being written as a commit starts an fsync, the fsync
   * waits for that write and covers it, so the next batch's own records fsync
   * is skipped.
   */
  append(batch: CandleBatch): Promise<void> {
    try {
      return this.#enqueue(batch).commit;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Validates and encodes a batch now (throwing synchronously when it is bad),
   * starts writing its records and queues its commit. Batches are committed
   * in call order. `written` settles (never rejects) once the records are
   * written; `commit` once the batch is committed.
   */
  #enqueue(
    batch: CandleBatch,
  ): { commit: Promise<void>; written: Promise<void> } {
    this.#checkOpen("append");
    assertCandleBatch(batch);
    const p = this.#prepare(batch);
    if (p === null) {
      const commit = this.#serial(() => Promise.resolve());
      return { commit, written: this.#records.tail };
    }
    this.#pendingCommits++;
    const settle = async () => {
      try {
        await this.#commitPrepared(p);
      } finally {
        this.#pendingCommits--;
      }
    };
    if (p.chain.length === 0) {
      // Past the committed extent: until its header is written no reader
      // sees the records, and a writer opening the file after a crash
      // truncates them.
      p.written = this.#records.start(
        p,
        this.#pendingCommits <= 1,
        () => this.#checkWriting(),
      );
      return { commit: this.#serial(settle), written: this.#records.tail };
    }
    // A rebuild replaces the file: later records wait until it is done.
    const commit = this.#serial(settle);
    this.#records.waitFor(commit);
    return { commit, written: this.#records.tail };
  }

  #checkWriting(): void {
    if (this.#state !== "open") {
      throw new TypeError(
        `Cannot append: the writer for ${this.path} is ${this.#state}`,
      );
    }
  }

  #prepare(batch: CandleBatch): Prepared | null {
    const n = batch.time.length;
    if (n === 0) return null;
    const base = this.#planned;
    const position = STANDARD_HEADER_SIZE +
      base.count * standardLayout(base.mask).recordSize;
    const { pending, pendingLen, chain, mask, dense, buffer } = encodeBatch(
      batch,
      n,
      { ...base, periodMs: this.#periodMs },
      this.#buffers,
    );
    const rows = this.#sidecar.prepare(batch.extra, n, base.count);
    const fields: HeaderFields = {
      ...base,
      mask,
      count: base.count + n,
      first: base.count > 0 ? base.first : batch.time[0]!,
      last: batch.time[n - 1]!,
      dense,
    };
    this.#planned = fields; // later batches build on it
    return {
      pending,
      pendingLen,
      chain,
      fields,
      rows,
      buffer,
      position,
      seq: ++this.#seq,
    };
  }

  async #commitPrepared(p: Prepared): Promise<void> {
    if (this.#state !== "open") {
      throw new TypeError(
        `Cannot append: the writer for ${this.path} is ${this.#state}`,
      );
    }
    try {
      if (p.rows) await this.#sidecar.append(p.rows);
      if (p.chain.length > 0) {
        await this.#records.closeOut(); // opened again on the new file when needed
        this.#fh = await rebuildFile({
          path: this.path,
          filePath: this.#filePath,
          fh: this.#fh,
          disk: this.#disk,
          chain: p.chain,
          pending: p.pending,
          pendingLen: p.pendingLen,
          fields: p.fields,
          durable: this.#durable,
          locked: this.#lock !== null,
          beforeRename: () => this.hooks.beforeRebuildRename?.(),
        });
        this.#records.markSynced(p.seq); // the new file is synced
      } else {
        await this.#commit(p);
      }
    } catch (err) {
      // The file still holds exactly the previous commit; reopening recovers
      // (an uncommitted tail and extra sidecar rows are truncated on open).
      this.#failure ??= { error: err };
      await this.#fail();
      throw err;
    }
    this.#disk = p.fields;
    if (p.buffer && this.#buffers.length < STREAM_AHEAD + 2) {
      this.#buffers.push(p.buffer);
    }
  }

  async #fail(): Promise<void> {
    this.#state = "failed";
    await this.#discard(false);
  }

  /**
   * Closes the files without a commit more (after syncing them when `sync`),
   * deletes the temporary files in replace mode and releases the lock.
   * Errors but the lock's are ignored: committed data is already on disk.
   */
  async #discard(sync: boolean): Promise<void> {
    try {
      await this.#records.closeOut().catch(noop);
      if (sync) {
        await this.#fh.sync().catch(noop);
        await this.#sidecar.sync().catch(noop);
      }
      await this.#fh.close().catch(noop);
      await this.#sidecar.close().catch(noop);
      if (this.#replace) {
        await unlink(this.#filePath).catch(noop);
        await unlink(this.#sidecar.path).catch(noop);
      }
    } finally {
      await this.#lock?.release();
      this.#lock = null;
    }
  }

  /**
   * The spec's commit of an appended batch: its records (already being
   * written by `RecordWriter.start`), fsync, header, fsync. The records fsync is
   * skipped when an earlier fsync started after the records were written.
   */
  async #commit(p: Prepared): Promise<void> {
    const disk = this.#disk;
    const extent = STANDARD_HEADER_SIZE +
      disk.count * standardLayout(disk.mask).recordSize;
    if (p.position !== extent) {
      throw new Error(
        `Internal error: records of ${this.path} written at byte ${p.position}, but the committed extent ends at ${extent}`,
      );
    }
    // Few awaits on the way: each one lets the next batch's encoding (on
    // this thread) run first and delays this commit.
    const records = this.#records;
    if (records.writtenSeq < p.seq) await p.written;
    if (this.#durable && records.syncedSeq < p.seq) {
      await records.sync(p.seq + 1);
    }
    const hook = this.hooks.beforeHeaderWrite;
    if (hook) await hook();
    const header = encodeHeader(p.fields);
    const headerLen = p.fields.mask !== disk.mask
      ? STANDARD_HEADER_SIZE
      : FIXED_HEADER_SIZE;
    writeHeaderSync(this.#fh, header, headerLen);
    if (this.#durable) await records.sync(p.seq + 1);
  }

  /**
   * Sets the tick grid (`mintick = minmove / pricescale`), rewriting the header
   * in place. Later bars are checked against it for promotion.
   */
  setTickInfo(minmove: number, pricescale: number): Promise<void> {
    try {
      this.#checkOpen("set the tick grid");
      const grid = checkGrid(minmove, pricescale)!;
      if (
        grid.minmove === this.#planned.minmove &&
        grid.pricescale === this.#planned.pricescale
      ) return this.#serial(() => Promise.resolve());
      // Later batches are validated against the new grid right away.
      this.#planned = { ...this.#planned, ...grid };
      return this.#serial(async () => {
        if (this.#state !== "open") {
          throw new TypeError(
            `Cannot set the tick grid: the writer for ${this.path} is ${this.#state}`,
          );
        }
        const fields = { ...this.#disk, ...grid };
        const header = encodeHeader(fields);
        try {
          await writeFully(this.#fh, header, 0, FIXED_HEADER_SIZE, 0);
          if (this.#durable) await this.#fh.datasync();
        } catch (err) {
          await this.#fail();
          throw err;
        }
        this.#disk = fields;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Finishes: syncs (when not durable), closes the file and releases the lock.
   * In replace mode renames the new file (and sidecar) over the old ones.
   */
  close(): Promise<void> {
    this.#closing = true;
    return this.#serial(async () => {
      if (this.#state !== "open") return;
      this.#state = "closed";
      try {
        await this.#records.closeOut();
        if (this.#replace || !this.#durable) {
          await this.#fh.sync();
          await this.#sidecar.sync();
        }
        await this.#fh.close();
        await this.#sidecar.close();
        if (this.#replace) {
          const side = sidecarPath(this.path);
          if (this.#sidecar.active) await rename(this.#sidecar.path, side);
          else await unlink(side).catch(() => {});
          await rename(this.#filePath, this.path);
          await fsyncDir(this.path);
        }
      } finally {
        await this.#lock?.release();
        this.#lock = null;
      }
    });
  }

  /**
   * Stops writing: committed data stays (in replace mode the temporary file
   * is deleted and the old file is left as it was). Releases the lock.
   */
  abort(_reason?: unknown): Promise<void> {
    this.#closing = true;
    return this.#serial(async () => {
      if (this.#state !== "open") return;
      this.#state = "aborted";
      await this.#discard(!this.#durable && !this.#replace);
    });
  }

  /**
   * A `WritableStream` sink: each chunk is validated and committed like
   * {@linkcode OhlcvWriter.append} (a bad batch errors the stream at once),
   * with the same durability: every batch gets its own commit (records
   * fsynced, then the header written and fsynced). A write returns before its
   * batch is committed, so the stream brings the next chunks while earlier
   * ones are committed: up to two batches are validated, encoded and written
   * past the committed records ahead of the commit in progress, and when the
   * next batch's records are written before a header's fsync starts, that
   * fsync covers them (one fsync per batch). Closing the stream waits for
   * every commit and closes the writer; aborting it, or a bad batch, keeps
   * the batches already accepted (they are committed first) and aborts the
   * writer.
   */
  get writable(): WritableStream<CandleBatch> {
    this.#writable ??= writerStream({
      enqueue: (batch) => this.#enqueue(batch),
      failure: () => this.#failure?.error,
      close: () => this.close(),
      abort: (reason) => this.abort(reason),
    });
    return this.#writable;
  }

  /** Aborts unless {@linkcode OhlcvWriter.close} was called. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }
}
