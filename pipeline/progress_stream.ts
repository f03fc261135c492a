/**
 * `ProgressStream`: reports progress (candles, time reached, fraction of the
 * range, rate) as batches pass through.
 *
 * @example
 * ```ts
 * import { ProgressStream } from "@pyne/data/pipeline";
 * import { batchFromRows } from "@pyne/data/format";
 *
 * const progress = new ProgressStream({
 *   from: 0,
 *   to: 180_000,
 *   intervalMs: 0,
 *   onProgress: (e) => console.log(e.candles, e.fraction?.toFixed(2)),
 * });
 * await ReadableStream.from([batchFromRows([[0, 1, 1, 1, 1, 1], [60_000, 1, 1, 1, 1, 1]])])
 *   .pipeThrough(progress)
 *   .pipeTo(new WritableStream());
 * ```
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import { ProgressTracker } from "./_progress_tracker.ts";
import type { ProgressEvent } from "./progress_event.ts";

export type { ProgressEvent } from "./progress_event.ts";

/** Options for {@linkcode ProgressStream}. */
export interface ProgressStreamOptions {
  /** Receives the reports. */
  readonly onProgress: (event: ProgressEvent) => void;
  /** Start of the range (Unix ms), for `fraction`. @default {undefined} */
  readonly from?: number | undefined;
  /** End of the range (Unix ms, exclusive), for `fraction`. @default {undefined} */
  readonly to?: number | undefined;
  /** Period length in ms, added to the last time for `fraction`. @default {0} */
  readonly periodMs?: number | undefined;
  /** Least time between two reports (the final one always comes). @default {200} */
  readonly intervalMs?: number | undefined;
  /** The clock, ms. @default {performance.now} */
  readonly now?: (() => number) | undefined;
}

/**
 * Passes batches through untouched and calls `onProgress` at most every
 * `intervalMs`, plus once with `done: true` when the input ends.
 */
export class ProgressStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #tracker: ProgressTracker;

  /** Creates the stage. */
  constructor(options: ProgressStreamOptions) {
    if (typeof options?.onProgress !== "function") {
      throw new TypeError(`ProgressStream: "onProgress" must be a function`);
    }
    const tracker = new ProgressTracker(options);
    super({
      transform(batch, controller) {
        tracker.add(batch);
        controller.enqueue(batch);
      },
      flush() {
        tracker.finish();
      },
    });
    this.#tracker = tracker;
  }

  /** Candles passed so far. */
  get candles(): number {
    return this.#tracker.candles;
  }

  /** The last report made, if any. */
  get last(): ProgressEvent | undefined {
    return this.#tracker.last;
  }
}
