/**
 * A sliding-window request limiter (Capital.com allows 10 requests per second
 * and one session request per second).
 *
 * @module
 */

import { sleep } from "./_retry.ts";

/** Options for {@linkcode SlidingWindowLimiter}. */
export interface SlidingWindowLimiterOptions {
  /** Requests allowed inside one window. */
  readonly limit: number;
  /** Window length in ms. */
  readonly windowMs: number;
  /** Monotonic clock in ms. @default {performance.now} */
  readonly clock?: (() => number) | undefined;
  /** Waits `ms` (injectable for tests). @default {sleep from _retry.ts} */
  readonly wait?:
    | ((ms: number, signal?: AbortSignal) => Promise<void>)
    | undefined;
}

/**
 * Lets at most `limit` acquisitions happen inside any window of `windowMs`;
 * `acquire()` waits until a slot is free. `limit` of `Infinity` disables it.
 */
export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #clock: () => number;
  readonly #wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #stamps: number[] = [];
  /** Total time spent waiting, ms. */
  waitedMs = 0;

  /** Creates a limiter. */
  constructor(options: SlidingWindowLimiterOptions) {
    if (!(options.limit >= 1)) {
      throw new RangeError(
        `A rate limit must allow at least 1 request, got ${options.limit}`,
      );
    }
    if (!(options.windowMs >= 0) || !Number.isFinite(options.windowMs)) {
      throw new RangeError(
        `A rate limit window must be a non-negative number of ms, got ${options.windowMs}`,
      );
    }
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#clock = options.clock ?? (() => performance.now());
    this.#wait = options.wait ?? sleep;
  }

  /** Resolves when a request may be sent, and counts it. */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (!Number.isFinite(this.#limit) || this.#windowMs === 0) return;
    for (;;) {
      signal?.throwIfAborted();
      const now = this.#clock();
      while (
        this.#stamps.length > 0 && this.#stamps[0]! <= now - this.#windowMs
      ) {
        this.#stamps.shift();
      }
      if (this.#stamps.length < this.#limit) {
        this.#stamps.push(now);
        return;
      }
      const delay = this.#stamps[0]! + this.#windowMs - now;
      this.waitedMs += delay;
      await this.#wait(Math.max(1, delay), signal);
    }
  }
}
