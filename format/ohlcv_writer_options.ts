/**
 * The options of `OhlcvWriter.open`: period, tick grid, replace mode,
 * durability and the lock file.
 *
 * @module
 */

import type { Timeframe } from "./timeframe.ts";

/** Options for `OhlcvWriter.open`. */
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
