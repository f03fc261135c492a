/**
 * `OrderStream`: restores the sequence order of batches fetched concurrently
 * and sorts candles inside a batch when a venue sent them out of order.
 *
 * @example
 * ```ts
 * import { OrderStream } from "@pyne/data/pipeline";
 * import { batchFromRows, type CandleBatch } from "@pyne/data/format";
 *
 * const b = (seq: number, t: number): CandleBatch => ({
 *   ...batchFromRows([[t, 1, 1, 1, 1, 1]]),
 *   seq,
 * });
 * const out = await Array.fromAsync(
 *   ReadableStream.from([b(1, 60_000), b(0, 0), b(2, 120_000)])
 *     .pipeThrough(new OrderStream()),
 * );
 * console.log(out.map((x) => x.time[0])); // [0, 60000, 120000]
 * ```
 *
 * @module
 */

import {
  batchHasContent,
  type CandleBatch,
  selectCandles,
  withCoverage,
} from "../format/candle_batch.ts";
import { countOption } from "./_timeframe_option.ts";

/** Options for {@linkcode OrderStream}. */
export interface OrderStreamOptions {
  /**
   * Most batches held while waiting for a missing sequence number. Exceeding
   * it is an error (a fetcher lost a page, or concurrency is larger than the
   * bound). @default {256}
   */
  readonly maxBuffered?: number | undefined;
  /** Sequence number of the first batch. @default {0} */
  readonly firstSeq?: number | undefined;
}

interface OrderCounts {
  sorted: number;
  reversed: number;
  held: number;
  maxHeld: number;
}

/**
 * Emits batches in `seq` order (batches without `seq` pass on as they come)
 * and candles in ascending time order inside each batch: an ascending batch
 * passes through untouched, a newest-first batch is reversed, anything else
 * is sorted (stable, so equal times keep their order for `DedupeStream`).
 * Throws a `RangeError` when more than `maxBuffered` batches wait, when a
 * sequence number repeats, and at the end when a sequence number never came.
 */
export class OrderStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #counts: OrderCounts;

  /** Creates the stage. */
  constructor(options: OrderStreamOptions = {}) {
    const max = countOption(
      "OrderStream",
      "maxBuffered",
      options.maxBuffered,
      256,
      1,
    );
    let expected = countOption(
      "OrderStream",
      "firstSeq",
      options.firstSeq,
      0,
    );
    const counts: OrderCounts = { sorted: 0, reversed: 0, held: 0, maxHeld: 0 };
    const waiting = new Map<number, CandleBatch>();
    const emit = (
      batch: CandleBatch,
      controller: TransformStreamDefaultController<CandleBatch>,
    ) => {
      if (!batchHasContent(batch)) return;
      const dir = direction(batch.time);
      if (dir === 0) controller.enqueue(batch);
      else {
        if (dir < 0) counts.reversed++;
        else counts.sorted++;
        controller.enqueue(reorder(batch, dir));
      }
    };
    super({
      transform(batch, controller) {
        const seq = batch.seq;
        if (seq === undefined) {
          emit(batch, controller);
          return;
        }
        if (!Number.isInteger(seq) || seq < expected || waiting.has(seq)) {
          throw new RangeError(
            `OrderStream: batch sequence number ${seq} is ${
              Number.isInteger(seq) ? "repeated" : "not a whole number"
            } (next expected: ${expected})`,
          );
        }
        if (seq !== expected) {
          waiting.set(seq, batch);
          counts.held++;
          if (waiting.size > counts.maxHeld) counts.maxHeld = waiting.size;
          if (waiting.size > max) {
            throw new RangeError(
              `OrderStream: ${waiting.size} batches are waiting for batch ${expected}, more than maxBuffered ${max}; a page was lost or the fetch concurrency exceeds the bound (raise maxBuffered)`,
            );
          }
          return;
        }
        emit(batch, controller);
        expected++;
        for (
          let next = waiting.get(expected);
          next;
          next = waiting.get(expected)
        ) {
          waiting.delete(expected);
          emit(next, controller);
          expected++;
        }
      },
      flush() {
        if (waiting.size > 0) {
          const seqs = [...waiting.keys()].sort((a, b) => a - b);
          throw new RangeError(
            `OrderStream: the input ended while batch ${expected} was missing; ${waiting.size} later batches (${
              seqs.slice(0, 5).join(", ")
            }${seqs.length > 5 ? ", ..." : ""}) could not be emitted`,
          );
        }
      },
    });
    this.#counts = counts;
  }

  /** Batches whose candles had to be sorted. */
  get sortedBatches(): number {
    return this.#counts.sorted;
  }

  /** Newest-first batches that were reversed. */
  get reversedBatches(): number {
    return this.#counts.reversed;
  }

  /** Batches that arrived early and were held for an earlier sequence number. */
  get heldBatches(): number {
    return this.#counts.held;
  }

  /** The most batches held at once. */
  get maxHeld(): number {
    return this.#counts.maxHeld;
  }
}

/** 0 = ascending (non-decreasing), -1 = strictly descending, 1 = other. */
function direction(time: Float64Array): number {
  const n = time.length;
  if (n < 2) return 0; // nothing to order (a batch of claims only, or one)
  let prev = time[0]!;
  let i = 1;
  for (; i < n; i++) {
    const t = time[i]!;
    if (t < prev) break;
    prev = t;
  }
  if (i === n) return 0;
  if (i !== 1) return 1;
  for (i = 1; i < n; i++) if (!(time[i]! < time[i - 1]!)) return 1;
  return -1;
}

function reorder(batch: CandleBatch, dir: number): CandleBatch {
  const n = batch.time.length;
  const idx = new Uint32Array(n);
  if (dir < 0) {
    for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
  } else {
    const time = batch.time;
    const order = Array.from({ length: n }, (_, i) => i);
    // Array.prototype.sort is stable: equal times keep their arrival order.
    order.sort((a, b) => {
      const d = time[a]! - time[b]!;
      // NaN times go last.
      return d === d ? d : (time[a]! === time[a]! ? -1 : 1);
    });
    idx.set(order);
  }
  return withCoverage(selectCandles(batch, idx), batch);
}
