/**
 * A private stage of `download()`: keeps candles with `from <= time < to`.
 *
 * @module
 */

import {
  batchHasContent,
  type CandleBatch,
  clipClaims,
  selectCandles,
} from "../format/candle_batch.ts";

/** Keeps candles (and coverage claims) inside `[from, to)`; counts the candles left out in `dropped`. */
export class RangeStream extends TransformStream<CandleBatch, CandleBatch> {
  readonly #counts: { dropped: number };

  /** Creates the stage. */
  constructor(from: number, to: number) {
    const counts = { dropped: 0 };
    super({
      transform(input, controller) {
        const coverage = clipClaims(input.coverage, from, to);
        const batch = coverage === input.coverage
          ? input
          : { ...input, coverage };
        const time = batch.time;
        const n = time.length;
        let i = 0;
        for (; i < n; i++) {
          const t = time[i]!;
          if (!(t >= from && t < to)) break;
        }
        if (i === n) {
          if (batchHasContent(batch)) controller.enqueue(batch);
          return;
        }
        const keep = new Uint32Array(n);
        let k = 0;
        for (let j = 0; j < n; j++) {
          const t = time[j]!;
          if (t >= from && t < to) keep[k++] = j;
        }
        counts.dropped += n - k;
        const out = selectCandles(batch, keep, k);
        if (coverage !== undefined || k > 0) {
          controller.enqueue(
            coverage ? { ...out, coverage } : out,
          );
        }
      },
    });
    this.#counts = counts;
  }

  /** Candles outside the range. */
  get dropped(): number {
    return this.#counts.dropped;
  }
}
