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

import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import {
  allocBatch,
  assertCandleBatch,
  type CandleBatch,
} from "./candle_batch.ts";
import { FormatError } from "./format_error.ts";
import { parsePeriod, parseTimeframe, type Timeframe } from "./timeframe.ts";
import {
  encodeHeader,
  FIXED_HEADER_SIZE,
  type HeaderFields,
  STANDARD_HEADER_SIZE,
  standardLayout,
  unitMs,
} from "./_header.ts";
import { decodeStandard, encodeStandard, validateEncode36 } from "./_codec.ts";
import { firstFailing, resolutionLimit } from "./_promotion.ts";
import { inspectOpenFile } from "./_inspect.ts";
import {
  type BulkWriter,
  isNotFound,
  openBulkWriter,
  readFully,
  writeFully,
  writeHeaderSync,
} from "./_file_io.ts";
import { acquireLock, type FileLock } from "./_file_lock.ts";
import { Sidecar, sidecarPath, type SidecarRows } from "./_sidecar.ts";

export { OhlcvLockedError } from "./_file_lock.ts";

/** Options for {@linkcode OhlcvWriter.open}. */
export interface OhlcvWriterOptions {
  /**
   * TradingView period (`"1"`, `"60"`, `"1D"`, `"15S"`, `"1W"`, `"1M"`) or a
   * parsed timeframe. Refused if it differs from an existing file's period.
   */
  period: string | Timeframe;
  /** Tick grid numerator; give with `pricescale` or not at all. @default {adopted from the file, else no grid} */
  minmove?: number;
  /** Tick grid denominator; give with `minmove` or not at all. @default {adopted from the file, else no grid} */
  pricescale?: number;
  /**
   * Write a fresh file to a temporary path in the same folder and rename it
   * over `path` on `close()`; the old file (and its sidecar) stay untouched
   * until then, and `abort()` deletes the temporary file. Required to write
   * over a legacy v1 file.
   * @default {false}
   */
  replace?: boolean;
  /** fsync every commit (otherwise once on close). @default {true} */
  durable?: boolean;
  /**
   * Hold the lock file `<path>.lock` (pid inside; a stale lock of a dead
   * process is taken over) so a second writer gets a clear error.
   * @default {true}
   */
  lock?: boolean;
}

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

const MAX_U32 = 0xffffffff;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const REBUILD_CHUNK = 65536;
/**
 * Batches `writable` may hold uncommitted after a write returns: their
 * records are written while the batch before them is being committed.
 */
const STREAM_AHEAD = 2;
const noop = (): void => {};

interface Grid {
  minmove: number;
  pricescale: number;
}

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

/** The outcome of validating a batch (pass 1): nothing is written yet. */
interface Plan {
  /** Pairs `[index, maskFromThatCandleOn]` where promotion happens. */
  events: number[];
  mask: number;
  dense: boolean;
}

function checkGrid(minmove: unknown, pricescale: unknown): Grid | null {
  if (minmove === undefined && pricescale === undefined) return null;
  if (minmove === undefined || pricescale === undefined) {
    throw new TypeError(
      "minmove and pricescale go together: give both or neither",
    );
  }
  for (const [name, v] of [["minmove", minmove], ["pricescale", pricescale]]) {
    if (typeof v !== "number") {
      throw new TypeError(`${name} must be a number, got ${typeof v}`);
    }
    if (!Number.isInteger(v) || v < 1 || v > MAX_U32) {
      throw new RangeError(
        `${name} must be a whole number from 1 to ${MAX_U32}, got ${v}`,
      );
    }
  }
  return { minmove: minmove as number, pricescale: pricescale as number };
}

function isoOrRaw(t: number): string {
  return Number.isFinite(t) && Math.abs(t) <= 8.64e15
    ? new Date(t).toISOString()
    : String(t);
}

function randomSuffix(): string {
  return Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
}

async function fsyncDir(path: string): Promise<void> {
  try {
    const fh = await open(dirname(path), "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (e.g. Windows); the rename itself is atomic.
  }
}

/**
 * Appends candles to an `.ohlcv` v2 file. Create with
 * {@linkcode OhlcvWriter.open}; every {@linkcode OhlcvWriter.append} validates
 * the whole batch, then commits it durably (write, fsync, header, fsync).
 */
export class OhlcvWriter implements AsyncDisposable {
  /** Destination path. */
  readonly path: string;
  readonly #filePath: string; // the file written to (a temp file in replace mode)
  readonly #replace: boolean;
  readonly #durable: boolean;
  readonly #period: string;
  readonly #intervalValue: number;
  readonly #intervalUnit: number;
  readonly #periodMs: number; // 0 = never dense (months)
  #fh: FileHandle;
  #lock: FileLock | null;
  #sidecar: Sidecar;
  #count: number;
  #first: number;
  #last: number;
  #dense: boolean;
  #mask: number;
  #minmove: number;
  #pricescale: number;
  /** What the header on disk says (the fields above are the planned state). */
  #disk: HeaderFields;
  #state: "open" | "closed" | "aborted" | "failed" = "open";
  #closing = false;
  /** Commits run one after another, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #buffers: Uint8Array[] = [];
  /** Writes record blocks (opened on first use; see `openBulkWriter`). */
  #out: Promise<BulkWriter> | undefined;
  /** Record writes run one after another, ahead of their commits. */
  #writeTail: Promise<void> = Promise.resolve();
  /** The record write in progress, if any. */
  #active: Promise<void> | undefined;
  /** Batches numbered so far. */
  #seq = 0;
  /** Batches queued whose commit has not settled yet. */
  #pendingCommits = 0;
  /** Records are written up to this batch (sequence number). */
  #writtenSeq = 0;
  /** Records are on disk (fsynced) up to this batch. */
  #syncedSeq = 0;
  /** The error that failed a commit (the writer is then "failed"). */
  #failure: { error: unknown } | undefined;
  /** `writable`: commits not yet awaited. */
  #uncommitted: Promise<void>[] = [];
  /** `writable`: settles when the last batch's records are written. */
  #lastWritten: Promise<void> = Promise.resolve();
  #writable: WritableStream<CandleBatch> | undefined;
  /** @internal */
  hooks: OhlcvWriterHooks = {};

  private constructor(init: {
    path: string;
    filePath: string;
    replace: boolean;
    durable: boolean;
    tf: Timeframe;
    fh: FileHandle;
    lock: FileLock | null;
    sidecar: Sidecar;
    fields: HeaderFields;
  }) {
    this.path = init.path;
    this.#filePath = init.filePath;
    this.#replace = init.replace;
    this.#durable = init.durable;
    this.#period = init.tf.period;
    // An existing file keeps its own interval encoding (hours stay unit 3).
    this.#intervalValue = init.fields.intervalValue;
    this.#intervalUnit = init.fields.intervalUnit;
    this.#periodMs = this.#intervalValue * unitMs(this.#intervalUnit);
    this.#fh = init.fh;
    this.#lock = init.lock;
    this.#sidecar = init.sidecar;
    const f = init.fields;
    this.#count = f.count;
    this.#first = f.first;
    this.#last = f.last;
    this.#dense = f.dense;
    this.#mask = f.mask;
    this.#minmove = f.minmove;
    this.#pricescale = f.pricescale;
    this.#disk = { ...f };
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
    if (typeof path !== "string" || path === "") {
      throw new TypeError("OhlcvWriter.open needs a file path");
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        "OhlcvWriter.open needs options with at least a period",
      );
    }
    const tf = typeof options.period === "string"
      ? parsePeriod(options.period)
      : parseTimeframe(options.period);
    const grid = checkGrid(options.minmove, options.pricescale);
    const replace = options.replace ?? false;
    const durable = options.durable ?? true;
    const lock = options.lock ?? true ? await acquireLock(path) : null;
    try {
      return replace
        ? await OhlcvWriter.#openReplace(path, tf, grid, durable, lock)
        : await OhlcvWriter.#openAppend(path, tf, grid, durable, lock);
    } catch (err) {
      await lock?.release();
      throw err;
    }
  }

  static async #createFile(
    filePath: string,
    fields: HeaderFields,
    durable: boolean,
    exclusive: boolean,
  ): Promise<FileHandle> {
    const fh = await open(filePath, exclusive ? "wx+" : "w+");
    try {
      const header = encodeHeader(fields);
      await writeFully(fh, header, 0, header.length, 0);
      if (durable) await fh.sync();
      return fh;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  static async #openReplace(
    path: string,
    tf: Timeframe,
    grid: Grid | null,
    durable: boolean,
    lock: FileLock | null,
  ): Promise<OhlcvWriter> {
    const fields = emptyFields(tf, grid);
    const filePath = `${path}.${randomSuffix()}.tmp`;
    const fh = await OhlcvWriter.#createFile(filePath, fields, durable, true);
    const sidecar = await Sidecar.open(
      sidecarPath(filePath),
      0,
      durable,
      true,
    );
    return new OhlcvWriter({
      path,
      filePath,
      replace: true,
      durable,
      tf,
      fh,
      lock,
      sidecar,
      fields,
    });
  }

  static async #openAppend(
    path: string,
    tf: Timeframe,
    grid: Grid | null,
    durable: boolean,
    lock: FileLock | null,
  ): Promise<OhlcvWriter> {
    let fh: FileHandle;
    try {
      fh = await open(path, "r+");
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // New file: write it under a temporary name and rename it into place.
      const fields = emptyFields(tf, grid);
      const tmp = `${path}.${randomSuffix()}.tmp`;
      const tfh = await OhlcvWriter.#createFile(tmp, fields, durable, true);
      await tfh.close();
      try {
        await rename(tmp, path);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      }
      if (durable) await fsyncDir(path);
      const sidecar = await freshSidecar(path, durable);
      return new OhlcvWriter({
        path,
        filePath: path,
        replace: false,
        durable,
        tf,
        fh: await open(path, "r+"),
        lock,
        sidecar,
        fields,
      });
    }
    try {
      const size = (await fh.stat()).size;
      if (size === 0) {
        // An empty file holds nothing to lose: give it a fresh header.
        const fields = emptyFields(tf, grid);
        await fh.close();
        const nfh = await OhlcvWriter.#createFile(path, fields, durable, false);
        fh = nfh;
        const sidecar = await freshSidecar(path, durable);
        return new OhlcvWriter({
          path,
          filePath: path,
          replace: false,
          durable,
          tf,
          fh,
          lock,
          sidecar,
          fields,
        });
      }
      const { info, header } = await inspectOpenFile(fh, path);
      if (header === null) {
        throw new FormatError(
          `Cannot append to ${path}: it is a legacy v1 file, which is read-only; open the writer with replace: true to rewrite it as v2`,
          { path },
        );
      }
      if (header.period !== tf.period) {
        throw new RangeError(
          `Cannot append to ${path}: the file holds period "${header.period}" but the writer was opened with "${tf.period}"; use the file's period or replace: true`,
        );
      }
      if (header.standardMask < 0) {
        throw new FormatError(
          `Cannot append to ${path}: its column layout is not one this writer produces; open the writer with replace: true to rewrite it`,
          { path },
        );
      }
      const fields: HeaderFields = {
        mask: header.standardMask,
        count: header.count,
        first: info.first ?? 0,
        last: info.last ?? 0,
        dense: info.dense,
        intervalValue: header.intervalValue,
        intervalUnit: header.intervalUnit,
        minmove: header.minmove,
        pricescale: header.pricescale,
      };
      const extent = header.headerSize + header.count * header.recordSize;
      if (size > extent) {
        // A crash between writing records and committing the header.
        await fh.truncate(extent);
        if (durable) await fh.sync();
      }
      const sidecar = await Sidecar.open(
        sidecarPath(path),
        header.count,
        durable,
        false,
      );
      const w = new OhlcvWriter({
        path,
        filePath: path,
        replace: false,
        durable,
        tf,
        fh,
        lock,
        sidecar,
        fields,
      });
      if (
        grid &&
        (grid.minmove !== fields.minmove ||
          grid.pricescale !== fields.pricescale)
      ) {
        await w.setTickInfo(grid.minmove, grid.pricescale);
      }
      return w;
    } catch (err) {
      await fh.close().catch(() => {});
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
    return this.#minmove;
  }
  /** Tick grid denominator (0 = no grid). */
  get pricescale(): number {
    return this.#pricescale;
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

  #takeBuffer(size: number): Uint8Array {
    const buf = this.#buffers.pop();
    return buf !== undefined && buf.length >= size ? buf : new Uint8Array(size);
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
      return { commit, written: this.#writeTail };
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
      const written = this.#startWrite(p, this.#writeTail);
      return { commit: this.#serial(settle), written };
    }
    // A rebuild replaces the file: later records wait until it is done.
    const commit = this.#serial(settle);
    this.#writeTail = commit.then(noop, noop);
    return { commit, written: this.#writeTail };
  }

  /**
   * Writes a batch's records after the ones queued before it (`after`), past
   * the committed extent: until its header is written no reader sees them,
   * and a writer opening the file after a crash truncates them.
   */
  #startWrite(p: Prepared, after: Promise<void>): Promise<void> {
    const run = async (): Promise<void> => {
      await after;
      this.#checkWriting();
      // Alone (no other commit pending, e.g. `await append()` one batch at a
      // time) nothing else needs this thread: FileHandle.write, which in Deno
      // writes on this thread, finishes sooner than a hand-over to a worker.
      // Otherwise the bulk writer keeps this thread free for the commits.
      const alone = this.#pendingCommits <= 1;
      let io: Promise<void>;
      if (alone) {
        io = writeFully(this.#fh, p.pending, 0, p.pendingLen, p.position);
      } else {
        this.#out ??= openBulkWriter(this.#filePath, this.#fh);
        const out = await this.#out;
        this.#checkWriting();
        io = out.write(p.pending, p.pendingLen, p.position);
      }
      io = io.then(() => {
        this.#writtenSeq = p.seq;
      });
      this.#active = io;
      try {
        await io;
      } finally {
        if (this.#active === io) this.#active = undefined;
      }
    };
    p.written = run();
    p.written.catch(noop); // surfaced by the batch's commit
    return this.#writeTail = p.written.catch(noop);
  }

  #checkWriting(): void {
    if (this.#state !== "open") {
      throw new TypeError(
        `Cannot append: the writer for ${this.path} is ${this.#state}`,
      );
    }
  }

  /**
   * fsync (data). When the records of batch `next` are not written yet but a
   * record write is under way (batches are written in order, so it is that
   * batch's or an earlier one's), it is let finish first: this fsync then
   * covers it and that batch's commit needs no records fsync of its own.
   * Writes of later batches are not waited for.
   */
  async #sync(next: number): Promise<void> {
    if (this.#writtenSeq < next) await this.#active?.catch(noop);
    const covered = this.#writtenSeq;
    await this.#fh.datasync();
    if (covered > this.#syncedSeq) this.#syncedSeq = covered;
  }

  /** Lets a record write in progress finish, then closes the bulk writer. */
  async #closeOut(): Promise<void> {
    await this.#active?.catch(noop);
    const out = this.#out;
    this.#out = undefined;
    if (out) await (await out.catch(() => undefined))?.close();
  }

  #prepare(batch: CandleBatch): Prepared | null {
    const n = batch.time.length;
    if (n === 0) return null;
    const grid = this.#minmove > 0;
    // Hot path: 36-byte records, clean candles: validate + encode in one pass.
    let mask = this.#mask;
    let pending: Uint8Array | undefined;
    let pendingLen = 0;
    let dense = false;
    let buffer: Uint8Array | undefined;
    if (mask === 0) {
      buffer = this.#takeBuffer(n * 36);
      const k = validateEncode36(batch, n, {
        prev: this.#count > 0 ? this.#last : -Infinity,
        limit: grid ? resolutionLimit(this.#minmove / this.#pricescale / 2) : 0,
        minmove: this.#minmove,
        pricescale: this.#pricescale,
      }, new DataView(buffer.buffer));
      if (k === n) {
        pending = buffer;
        pendingLen = n * 36;
        dense = this.#denseAfter(batch.time, n);
      }
    }
    const position = STANDARD_HEADER_SIZE +
      this.#count * standardLayout(this.#mask).recordSize;
    const chain: number[] = []; // masks the committed records go through
    if (pending === undefined) {
      let plan: Plan;
      try {
        plan = this.#validate(batch, n, grid);
      } catch (err) {
        if (buffer) this.#buffers.push(buffer);
        throw err;
      }
      dense = plan.dense;
      // Encode. A promotion on a later bar converts the records before it
      // (re-read with snapping, re-packed) exactly as if candles had been
      // appended one at a time.
      if (plan.events.length === 0) {
        const size = n * standardLayout(mask).recordSize;
        if (buffer === undefined || buffer.length < size) {
          buffer = this.#takeBuffer(size);
        }
        encodeStandard(batch, 0, n, mask, new DataView(buffer.buffer), 0);
        pending = buffer;
        pendingLen = size;
      } else {
        if (buffer) this.#buffers.push(buffer);
        buffer = undefined;
        pending = new Uint8Array(0);
        let done = 0;
        const ev = plan.events;
        for (let e = 0; e <= ev.length; e += 2) {
          const k = e < ev.length ? ev[e]! : n;
          if (k > done) {
            pending = appendEncoded(pending, batch, done, k, mask);
            done = k;
          }
          if (e === ev.length) break;
          const newMask = ev[e + 1]!;
          if (this.#count + k > 0) {
            pending = convertRecords(
              pending,
              k,
              mask,
              newMask,
              this.#minmove,
              this.#pricescale,
            );
            if (this.#count > 0) chain.push(newMask);
          }
          mask = newMask;
        }
        pendingLen = pending.length;
      }
    }
    const rows = this.#sidecar.prepare(batch.extra, n, this.#count);
    const fields: HeaderFields = {
      mask,
      count: this.#count + n,
      first: this.#count > 0 ? this.#first : batch.time[0]!,
      last: batch.time[n - 1]!,
      dense,
      intervalValue: this.#intervalValue,
      intervalUnit: this.#intervalUnit,
      minmove: this.#minmove,
      pricescale: this.#pricescale,
    };
    this.#apply(fields); // the planned state: later batches build on it
    return {
      pending: pending!,
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
        await this.#rebuild(p.chain, p.pending, p.pendingLen, p.fields);
        this.#writtenSeq = this.#syncedSeq = p.seq; // the new file is synced
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
    await this.#closeOut().catch(noop);
    await this.#fh.close().catch(() => {});
    await this.#sidecar.close().catch(() => {});
    if (this.#replace) {
      await unlink(this.#filePath).catch(() => {});
      await unlink(this.#sidecar.path).catch(() => {});
    }
    await this.#lock?.release();
    this.#lock = null;
  }

  #apply(f: HeaderFields): void {
    this.#count = f.count;
    this.#first = f.first;
    this.#last = f.last;
    this.#dense = f.dense;
    this.#mask = f.mask;
  }

  /** Pass 1: checks every candle and plans promotions. Throws RangeError. */
  #validate(batch: CandleBatch, n: number, grid: boolean): Plan {
    const { time, open, high, low, close, volume } = batch;
    // Times, finiteness and OHLC relations, in one tight loop; the slow path
    // only runs to build the error message.
    let prev = this.#count > 0 ? this.#last : -Infinity;
    for (let i = 0; i < n; i++) {
      const t = time[i]!;
      if (!(t > prev) || Math.floor(t) !== t || t > MAX_SAFE) {
        this.#timeError(i, t, prev);
      }
      prev = t;
      const o = open[i]!, h = high[i]!, l = low[i]!, c = close[i]!;
      const v = volume[i]!;
      if (o - o + (h - h) + (l - l) + (c - c) + (v - v) !== 0) {
        this.#infinityCheck(i, t, o, h, l, c, v);
      }
      if ((h < o || h < c || l > o || l > c) && o === o && c === c) {
        this.#relationError(i, t, o, h, l, c);
      }
    }
    const dense = this.#denseAfter(time, n);
    // Float32 deltas: promotion (grid) or errors (no grid), column by column.
    let mask = this.#mask;
    const events: number[] = [];
    if (grid) {
      const mm = this.#minmove, ps = this.#pricescale;
      const s = ps / mm;
      const limit = resolutionLimit(mm / ps / 2);
      let fh = mask & 1 ? n : firstFailing(high, open, 0, n, limit, s, mm, ps);
      let fl = mask & 2 ? n : firstFailing(low, open, 0, n, limit, s, mm, ps);
      let fc = mask & 4 ? n : firstFailing(close, open, 0, n, limit, s, mm, ps);
      for (;;) {
        const k = Math.min(fh, fl, fc);
        if (k >= n) break;
        let fails = 0;
        if (fh === k) (fails |= 1), (fh = n);
        if (fl === k) (fails |= 2), (fl = n);
        if (fc === k) (fails |= 4), (fc = n);
        mask |= fails;
        events.push(k, mask);
      }
    } else if (mask !== 7) {
      const cols: [Float64Array, number, string][] = [
        [high, 1, "high"],
        [low, 2, "low"],
        [close, 4, "close"],
      ];
      for (const [values, bit, name] of cols) {
        if (mask & bit) continue;
        const i = firstUnencodable(values, open, n);
        if (i < n) {
          this.#unencodableError(i, time[i]!, open[i]!, values[i]!, name);
        }
      }
    }
    return { events, mask, dense };
  }

  /** The DENSE flag after appending these times (already validated). */
  #denseAfter(time: Float64Array, n: number): boolean {
    const periodMs = this.#periodMs;
    // DENSE: one period between every adjacent pair; one hole clears it.
    let dense = this.#dense;
    let start = 0;
    if (this.#count === 0) {
      start = 1;
      if (n >= 2) {
        dense = periodMs > 0 && time[1]! - time[0]! === periodMs;
        start = 2;
      }
    } else if (this.#count === 1) {
      dense = periodMs > 0 && time[0]! - this.#last === periodMs;
      start = 1;
    }
    if (dense) {
      let p = start === 0 ? this.#last : time[start - 1]!;
      for (let i = start; i < n; i++) {
        const t = time[i]!;
        if (t - p !== periodMs) {
          dense = false;
          break;
        }
        p = t;
      }
    }
    return dense;
  }

  #timeError(i: number, t: number, prev: number): never {
    if (!Number.isSafeInteger(t)) {
      throw this.#candleError(
        i,
        t,
        `time ${t} is not a whole number of milliseconds`,
      );
    }
    throw this.#candleError(
      i,
      t,
      t === prev
        ? `duplicate time: equals the previous candle's time`
        : `out of order: before the previous candle's time ${isoOrRaw(prev)}`,
    );
  }

  #infinityCheck(
    i: number,
    t: number,
    ...vals: [number, number, number, number, number]
  ): void {
    const names = ["open", "high", "low", "close", "volume"];
    for (let k = 0; k < 5; k++) {
      const x = vals[k]!;
      if (x === Infinity || x === -Infinity) {
        throw this.#candleError(
          i,
          t,
          `${names[k]} is ${x}; only finite numbers or NaN can be stored`,
        );
      }
    }
  }

  #relationError(
    i: number,
    t: number,
    o: number,
    h: number,
    l: number,
    c: number,
  ): void {
    if (h < o || h < c) {
      throw this.#candleError(
        i,
        t,
        `high ${h} is below max(open, close) ${Math.max(o, c)}`,
      );
    }
    throw this.#candleError(
      i,
      t,
      `low ${l} is above min(open, close) ${Math.min(o, c)}`,
    );
  }

  #unencodableError(
    i: number,
    t: number,
    o: number,
    x: number,
    name: string,
  ): never {
    if (o !== o) {
      throw this.#candleError(
        i,
        t,
        `${name} ${x} cannot be stored as a float32 delta of a NaN open without a tick grid; set minmove/pricescale so the column can be promoted`,
      );
    }
    throw this.#candleError(
      i,
      t,
      `${name} - open = ${
        x - o
      } overflows float32 and there is no tick grid to promote the column; set minmove/pricescale`,
    );
  }

  #candleError(i: number, t: number, problem: string): RangeError {
    return new RangeError(
      `Candle ${i} of the batch (${isoOrRaw(t)}): ${problem}`,
    );
  }

  /**
   * The spec's commit of an appended batch: its records (already being
   * written by `#startWrite`), fsync, header, fsync. The records fsync is
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
    if (this.#writtenSeq < p.seq) await p.written;
    if (this.#durable && this.#syncedSeq < p.seq) await this.#sync(p.seq + 1);
    const hook = this.hooks.beforeHeaderWrite;
    if (hook) await hook();
    const header = encodeHeader(p.fields);
    const headerLen = p.fields.mask !== disk.mask
      ? STANDARD_HEADER_SIZE
      : FIXED_HEADER_SIZE;
    writeHeaderSync(this.#fh, header, headerLen);
    if (this.#durable) await this.#sync(p.seq + 1);
  }

  /**
   * Rebuilds the file into a temporary file in the same folder with the new
   * layout (committed records re-read with grid snapping and re-packed through
   * each layout in `chain`), appends `pending`, syncs and renames it into
   * place. A failure before the rename leaves the original intact.
   */
  async #rebuild(
    chain: number[],
    pending: Uint8Array,
    pendingLen: number,
    fields: HeaderFields,
  ): Promise<void> {
    await this.#closeOut(); // opened again on the new file when needed
    const tmp = `${this.#filePath}.${randomSuffix()}.rebuild.tmp`;
    const out = await open(tmp, "wx+");
    let renamed = false;
    try {
      const disk = this.#disk;
      const oldRs = standardLayout(disk.mask).recordSize;
      const newRs = standardLayout(fields.mask).recordSize;
      const inBuf = new Uint8Array(REBUILD_CHUNK * oldRs);
      let outPos = STANDARD_HEADER_SIZE;
      for (let i = 0; i < disk.count; i += REBUILD_CHUNK) {
        const n = Math.min(REBUILD_CHUNK, disk.count - i);
        const len = n * oldRs;
        const got = await readFully(
          this.#fh,
          inBuf,
          0,
          len,
          STANDARD_HEADER_SIZE + i * oldRs,
        );
        if (got < len) {
          throw new FormatError(
            `Cannot rebuild ${this.path}: the file shrank while being rewritten`,
            { path: this.path },
          );
        }
        let bytes: Uint8Array = inBuf.subarray(0, len);
        let from = disk.mask;
        for (const to of chain) {
          bytes = convertRecords(
            bytes,
            n,
            from,
            to,
            fields.minmove,
            fields.pricescale,
          );
          from = to;
        }
        await writeFully(out, bytes, 0, n * newRs, outPos);
        outPos += n * newRs;
      }
      await writeFully(out, pending, 0, pendingLen, outPos);
      const header = encodeHeader(fields);
      await writeFully(out, header, 0, header.length, 0);
      if (this.#durable) await out.sync();
      await out.close();
      await this.hooks.beforeRebuildRename?.();
      await rename(tmp, this.#filePath);
      renamed = true;
      if (this.#durable) await fsyncDir(this.#filePath);
    } catch (err) {
      if (!renamed) {
        await out.close().catch(() => {});
        await unlink(tmp).catch(() => {});
      }
      throw err;
    }
    const old = this.#fh;
    this.#fh = await open(this.#filePath, "r+");
    await old.close().catch(() => {});
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
        grid.minmove === this.#minmove && grid.pricescale === this.#pricescale
      ) return this.#serial(() => Promise.resolve());
      // Later batches are validated against the new grid right away.
      this.#minmove = grid.minmove;
      this.#pricescale = grid.pricescale;
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
        await this.#closeOut();
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
      try {
        await this.#closeOut().catch(noop);
        if (!this.#durable && !this.#replace) {
          await this.#fh.sync().catch(() => {});
          await this.#sidecar.sync().catch(() => {});
        }
        await this.#fh.close().catch(() => {});
        await this.#sidecar.close().catch(() => {});
        if (this.#replace) {
          await unlink(this.#filePath).catch(() => {});
          await unlink(this.#sidecar.path).catch(() => {});
        }
      } finally {
        await this.#lock?.release();
        this.#lock = null;
      }
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
    this.#writable ??= new WritableStream<CandleBatch>({
      write: async (batch) => {
        try {
          const { commit, written } = this.#enqueue(batch);
          commit.catch(noop); // surfaced below, by a later write or by close
          this.#uncommitted.push(commit);
          const previous = this.#lastWritten;
          this.#lastWritten = written;
          await previous;
          while (this.#uncommitted.length > STREAM_AHEAD) {
            await this.#uncommitted.shift();
          }
        } catch (err) {
          // The stream is errored and will not call abort(): stop the writer
          // here (committed batches stay, the lock is released). A failed
          // commit is reported rather than the refusals that followed it.
          await this.#settleStream();
          await this.abort(err);
          throw this.#failure?.error ?? err;
        }
      },
      close: async () => {
        try {
          while (this.#uncommitted.length > 0) {
            await this.#uncommitted.shift();
          }
        } catch (err) {
          await this.#settleStream();
          await this.abort(err);
          throw err;
        }
        await this.close();
      },
      abort: async (reason) => {
        await this.#settleStream();
        await this.abort(reason);
      },
    });
    return this.#writable;
  }

  async #settleStream(): Promise<void> {
    const pending = this.#uncommitted;
    this.#uncommitted = [];
    await Promise.allSettled(pending);
  }

  /** Aborts unless {@linkcode OhlcvWriter.close} was called. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }
}

/** Index of the first value that cannot be a float32 delta of its open (no grid), or `n`. */
function firstUnencodable(
  values: Float64Array,
  open: Float64Array,
  n: number,
): number {
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    if (x !== x) continue;
    const d = Math.fround(x - open[i]!);
    // NaN (open NaN) or ±Infinity (float32 overflow).
    if (!(d - d === 0)) return i;
  }
  return n;
}

/** A new `.ohlcv` starts without a sidecar: an orphan one is deleted. */
async function freshSidecar(path: string, durable: boolean): Promise<Sidecar> {
  const side = sidecarPath(path);
  await unlink(side).catch(() => {});
  return Sidecar.open(side, 0, durable, true);
}

function emptyFields(tf: Timeframe, grid: Grid | null): HeaderFields {
  return {
    mask: 0,
    count: 0,
    first: 0,
    last: 0,
    dense: false,
    intervalValue: tf.value,
    intervalUnit: tf.headerUnit,
    minmove: grid?.minmove ?? 0,
    pricescale: grid?.pricescale ?? 0,
  };
}

function appendEncoded(
  prev: Uint8Array,
  batch: CandleBatch,
  start: number,
  end: number,
  mask: number,
): Uint8Array {
  const rs = standardLayout(mask).recordSize;
  const out = new Uint8Array(prev.length + (end - start) * rs);
  out.set(prev, 0);
  encodeStandard(
    batch,
    start,
    end,
    mask,
    new DataView(out.buffer),
    prev.length,
  );
  return out;
}

/** Re-reads `n` records with grid snapping and re-packs them in another layout. */
function convertRecords(
  bytes: Uint8Array,
  n: number,
  fromMask: number,
  toMask: number,
  minmove: number,
  pricescale: number,
): Uint8Array {
  const tmp = allocBatch(n);
  decodeStandard(
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    0,
    n,
    fromMask,
    minmove,
    pricescale,
    tmp,
    0,
  );
  const out = new Uint8Array(n * standardLayout(toMask).recordSize);
  encodeStandard(tmp, 0, n, toMask, new DataView(out.buffer), 0);
  return out;
}
