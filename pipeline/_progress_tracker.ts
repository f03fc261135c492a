/**
 * Progress bookkeeping shared by `ProgressStream` and `download()`. Private.
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import type { ProgressEvent } from "./progress_event.ts";

/** Options of {@linkcode ProgressTracker}. */
export interface ProgressTrackerOptions {
  readonly onProgress?: ((event: ProgressEvent) => void) | undefined;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  readonly periodMs?: number | undefined;
  readonly intervalMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}

/** Counts candles and reports progress, throttled. */
export class ProgressTracker {
  candles = 0;
  time: number | undefined;
  last: ProgressEvent | undefined;
  readonly #o: ProgressTrackerOptions;
  readonly #now: () => number;
  readonly #start: number;
  readonly #interval: number;
  #lastReport = -Infinity;

  constructor(options: ProgressTrackerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    const iv = options.intervalMs ?? 200;
    if (!(iv >= 0)) {
      throw new RangeError(`intervalMs must be >= 0, got ${iv}`);
    }
    this.#interval = iv;
  }

  /** Counts a batch and reports when the interval has passed. */
  add(batch: CandleBatch): void {
    const n = batch.time.length;
    if (n === 0) return;
    this.candles += n;
    const t = batch.time[n - 1]!;
    if (this.time === undefined || t > this.time) this.time = t;
    const now = this.#now();
    if (now - this.#lastReport >= this.#interval) this.#report(now, false);
  }

  /** Makes the final report. */
  finish(): void {
    this.#report(this.#now(), true);
  }

  #report(now: number, done: boolean): void {
    this.#lastReport = now;
    const { from, to } = this.#o;
    let fraction: number | undefined;
    if (from !== undefined && to !== undefined && to > from) {
      fraction = this.time === undefined
        ? 0
        : (this.time + (this.#o.periodMs ?? 0) - from) / (to - from);
      fraction = Math.min(1, Math.max(0, fraction));
    }
    const elapsedMs = now - this.#start;
    const event: ProgressEvent = {
      candles: this.candles,
      time: this.time,
      fraction,
      rate: elapsedMs > 0 ? this.candles / (elapsedMs / 1000) : 0,
      elapsedMs,
      done,
    };
    this.last = event;
    this.#o.onProgress?.(event);
  }
}
