/**
 * `ProgressEvent`: one progress report, as `ProgressStream` and `download()`
 * make them.
 *
 * @module
 */

/** One progress report. */
export interface ProgressEvent {
  /** Candles so far. */
  readonly candles: number;
  /** Open time of the last candle so far (Unix ms), undefined before the first. */
  readonly time: number | undefined;
  /**
   * Share of the range covered, 0 to 1: `(time + period - from) / (to - from)`
   * (undefined without a range).
   */
  readonly fraction: number | undefined;
  /** Candles per second since the start. */
  readonly rate: number;
  /** Milliseconds since the start. */
  readonly elapsedMs: number;
  /** True for the last report (the stream ended). */
  readonly done: boolean;
}
