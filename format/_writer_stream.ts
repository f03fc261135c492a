/**
 * Private: the `OhlcvWriter.writable` sink. Each chunk is queued like an
 * `append`, but a write returns before its batch is committed, so the stream
 * brings the next chunks while earlier ones are committed: up to
 * {@linkcode STREAM_AHEAD} batches are held uncommitted, their records
 * written ahead of the commit in progress.
 *
 * @module
 */

import type { CandleBatch } from "./candle_batch.ts";

/**
 * Batches `writable` may hold uncommitted after a write returns: their
 * records are written while the batch before them is being committed.
 */
export const STREAM_AHEAD = 2;

const noop = (): void => {};

/** What the sink needs of its writer. */
export interface StreamTarget {
  /**
   * Validates and queues a batch (throwing when it is bad); `written` settles
   * (never rejects) once its records are written, `commit` once committed.
   */
  enqueue(
    batch: CandleBatch,
  ): { commit: Promise<void>; written: Promise<void> };
  /** The error that failed a commit, if one did. */
  failure(): unknown;
  /** Closes the writer. */
  close(): Promise<void>;
  /** Aborts the writer (committed batches stay). */
  abort(reason?: unknown): Promise<void>;
}

/**
 * A `WritableStream` over `target`. Closing it waits for every commit and
 * closes the writer; aborting it, or a bad batch, keeps the batches already
 * accepted (they are committed first) and aborts the writer.
 */
export function writerStream(
  target: StreamTarget,
): WritableStream<CandleBatch> {
  /** Commits not yet awaited. */
  let uncommitted: Promise<void>[] = [];
  /** Settles when the last batch's records are written. */
  let lastWritten: Promise<void> = Promise.resolve();
  const settle = async (): Promise<void> => {
    const pending = uncommitted;
    uncommitted = [];
    await Promise.allSettled(pending);
  };
  return new WritableStream<CandleBatch>({
    write: async (batch) => {
      try {
        const { commit, written } = target.enqueue(batch);
        commit.catch(noop); // surfaced below, by a later write or by close
        uncommitted.push(commit);
        const previous = lastWritten;
        lastWritten = written;
        await previous;
        while (uncommitted.length > STREAM_AHEAD) {
          await uncommitted.shift();
        }
      } catch (err) {
        // The stream is errored and will not call abort(): stop the writer
        // here (committed batches stay, the lock is released). A failed
        // commit is reported rather than the refusals that followed it.
        await settle();
        await target.abort(err);
        throw target.failure() ?? err;
      }
    },
    close: async () => {
      try {
        while (uncommitted.length > 0) {
          await uncommitted.shift();
        }
      } catch (err) {
        await settle();
        await target.abort(err);
        throw err;
      }
      await target.close();
    },
    abort: async (reason) => {
      await settle();
      await target.abort(reason);
    },
  });
}
