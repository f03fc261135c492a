/**
 * The record side of `OhlcvWriter`'s commits: writes each batch's record
 * bytes past the committed extent, in batch order and ahead of the commits,
 * and runs the fsyncs so one fsync covers every record write finished
 * before it (a later commit whose records it covered skips its own). Knows
 * nothing of headers, locks or replace mode. Private to the format layer.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { type BulkWriter, openBulkWriter, writeFully } from "./_file_io.ts";

const noop = (): void => {};

/** A batch's encoded records and where they go. */
export interface RecordBlock {
  readonly pending: Uint8Array;
  readonly pendingLen: number;
  /** Byte offset of the first record. */
  readonly position: number;
  /** Sequence number of the batch (1, 2, ...). */
  readonly seq: number;
}

/** Writes record blocks in order and tracks what is written and synced. */
export class RecordWriter {
  readonly #filePath: string;
  readonly #fh: () => FileHandle;
  /** Writes record blocks (opened on first use; see `openBulkWriter`). */
  #out: Promise<BulkWriter> | undefined;
  /** The record write in progress, if any. */
  #active: Promise<void> | undefined;
  /** Record writes run one after another: settles when the last queued one has. */
  tail: Promise<void> = Promise.resolve();
  /** Records are written up to this batch (sequence number). */
  writtenSeq = 0;
  /** Records are on disk (fsynced) up to this batch. */
  syncedSeq = 0;

  /** Writes to `fh()` (the handle may change: a rebuild swaps the file). */
  constructor(filePath: string, fh: () => FileHandle) {
    this.#filePath = filePath;
    this.#fh = fh;
  }

  /**
   * Writes `block` after the writes queued before it. `alone` (no other
   * commit pending) writes on this thread: `FileHandle.write` finishes sooner
   * than a hand-over to a worker; otherwise the bulk writer keeps this thread
   * free for the commits. `check` runs before the write starts and may throw
   * (the writer was closed). Returns the write (it rejects with its error);
   * `tail` moves past it and never rejects.
   */
  start(block: RecordBlock, alone: boolean, check: () => void): Promise<void> {
    const after = this.tail;
    const run = async (): Promise<void> => {
      await after;
      check();
      let io: Promise<void>;
      if (alone) {
        io = writeFully(
          this.#fh(),
          block.pending,
          0,
          block.pendingLen,
          block.position,
        );
      } else {
        this.#out ??= openBulkWriter(this.#filePath, this.#fh());
        const out = await this.#out;
        check();
        io = out.write(block.pending, block.pendingLen, block.position);
      }
      io = io.then(() => {
        this.writtenSeq = block.seq;
      });
      this.#active = io;
      try {
        await io;
      } finally {
        if (this.#active === io) this.#active = undefined;
      }
    };
    const written = run();
    written.catch(noop); // surfaced by the batch's commit
    this.tail = written.catch(noop);
    return written;
  }

  /** Makes later writes wait for `p` (a rebuild replacing the file). */
  waitFor(p: Promise<unknown>): void {
    this.tail = p.then(noop, noop);
  }

  /**
   * fsync (data). When the records of batch `next` are not written yet but a
   * record write is under way (batches are written in order, so it is that
   * batch's or an earlier one's), it is let finish first: this fsync then
   * covers it and that batch's commit needs no records fsync of its own.
   * Writes of later batches are not waited for.
   */
  async sync(next: number): Promise<void> {
    if (this.writtenSeq < next) await this.#active?.catch(noop);
    const covered = this.writtenSeq;
    await this.#fh().datasync();
    if (covered > this.syncedSeq) this.syncedSeq = covered;
  }

  /** Everything up to batch `seq` is written and synced (a rebuilt file). */
  markSynced(seq: number): void {
    this.writtenSeq = this.syncedSeq = seq;
  }

  /** Lets a record write in progress finish, then closes the bulk writer. */
  async closeOut(): Promise<void> {
    await this.#active?.catch(noop);
    const out = this.#out;
    this.#out = undefined;
    if (out) await (await out.catch(() => undefined))?.close();
  }
}
