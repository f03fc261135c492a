/**
 * A deterministic candle generator: the same seed, symbol and time always give
 * the same candle, so emulators, tests and benchmarks agree on "the truth"
 * without storing it.
 *
 * @example
 * ```ts
 * import { CandleGenerator } from "@pyne/data/testing";
 *
 * const gen = new CandleGenerator({ seed: "BTCUSDT", basePrice: 42000, tick: 0.01 });
 * const c = gen.candle(1704067200000, 60_000);
 * console.log(c.open <= c.high && c.low <= c.close);
 * ```
 *
 * @module
 */

import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";

/** Options for {@linkcode CandleGenerator}. */
export interface CandleGeneratorOptions {
  /** Seed text (usually the symbol); different seeds give different series. */
  readonly seed: string;
  /** Price level around which the series moves. @default {100} */
  readonly basePrice?: number;
  /** Price tick; every generated price is a multiple of it. @default {0.01} */
  readonly tick?: number;
  /** Volume step; volumes are multiples of it. @default {0.001} */
  readonly volumeStep?: number;
  /** Relative size of one bar's move (volatility per sqrt(minute)). @default {0.0008} */
  readonly volatility?: number;
}

/** One generated candle. */
export interface GeneratedCandle {
  /** Open time, ms. */
  readonly time: number;
  /** Open price. */
  readonly open: number;
  /** High price. */
  readonly high: number;
  /** Low price. */
  readonly low: number;
  /** Close price. */
  readonly close: number;
  /** Volume. */
  readonly volume: number;
}

function hash32(text: string): number {
  // FNV-1a
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A stateless mix of two 32-bit words into a uniform number in [0, 1). */
function unit(a: number, b: number): number {
  let x = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x / 4294967296;
}

/**
 * Generates candles as a pure function of (seed, time, period): the price level
 * at any time is a smooth deterministic wave plus per-bar noise, so candles of
 * different timeframes of one symbol are each self-consistent and reproducible.
 */
export class CandleGenerator {
  readonly #seed: number;
  readonly #base: number;
  readonly #tick: number;
  readonly #volStep: number;
  readonly #vol: number;
  readonly #decimals: number;

  /** Creates a generator. */
  constructor(options: CandleGeneratorOptions) {
    const tick = options.tick ?? 0.01;
    const base = options.basePrice ?? 100;
    const volatility = options.volatility ?? 0.0008;
    if (!(tick > 0) || !Number.isFinite(tick)) {
      throw new RangeError(`tick must be a positive number, got ${tick}`);
    }
    if (!(base > 0) || !Number.isFinite(base)) {
      throw new RangeError(`basePrice must be a positive number, got ${base}`);
    }
    this.#seed = hash32(options.seed);
    this.#base = base;
    this.#tick = tick;
    this.#volStep = options.volumeStep ?? 0.001;
    this.#vol = volatility;
    this.#decimals = decimalsOf(tick);
  }

  /** The price tick. */
  get tick(): number {
    return this.#tick;
  }

  #round(price: number): number {
    const ticks = Math.max(1, Math.round(price / this.#tick));
    return Number((ticks * this.#tick).toFixed(this.#decimals));
  }

  /** The (unrounded) price level at a time, a smooth deterministic function. */
  #level(time: number): number {
    const s = this.#seed;
    const days = time / 86_400_000;
    const p1 = (s % 997) / 997 * 6.283;
    const p2 = (s % 991) / 991 * 6.283;
    const wave = 0.18 * Math.sin(days / 45 + p1) +
      0.07 * Math.sin(days / 6.3 + p2) +
      0.02 * Math.sin(days * 3.1 + p1 * 2);
    return this.#base * Math.exp(wave);
  }

  /** The candle of `period` ms that opens at `time`. */
  candle(time: number, period: number): GeneratedCandle {
    const s = this.#seed;
    const t = Math.floor(time / 1000);
    const scale = this.#vol * Math.sqrt(period / 60_000);
    const open = this.#round(
      this.#level(time) * (1 + (unit(s, t) - 0.5) * scale),
    );
    const close = this.#round(
      this.#level(time + period) *
        (1 + (unit(s ^ 0x55555555, t) - 0.5) * scale),
    );
    const up = unit(s ^ 0x33333333, t) * scale * this.#base;
    const down = unit(s ^ 0x0f0f0f0f, t) * scale * this.#base;
    const high = this.#round(Math.max(open, close) + up);
    const low = this.#round(Math.max(this.#tick, Math.min(open, close) - down));
    const vsteps = 1 +
      Math.floor(
        unit(s ^ 0x77777777, t) * 100_000 * Math.sqrt(period / 60_000),
      );
    const volume = Number(
      (vsteps * this.#volStep).toFixed(decimalsOf(this.#volStep)),
    );
    return {
      time,
      open,
      high: Math.max(high, open, close),
      low: Math.min(low, open, close),
      close,
      volume,
    };
  }

  /**
   * Candles of `period` ms opening at `from`, `from + period`, ... while `< to`,
   * skipping times for which `skip(time)` is true (maintenance gaps, closed markets).
   */
  batch(
    from: number,
    to: number,
    period: number,
    skip?: (time: number) => boolean,
  ): CandleBatch {
    const times: number[] = [];
    for (let t = from; t < to; t += period) {
      if (!skip || !skip(t)) times.push(t);
    }
    const b = allocBatch(times.length);
    for (let i = 0; i < times.length; i++) {
      const c = this.candle(times[i]!, period);
      b.time[i] = c.time;
      b.open[i] = c.open;
      b.high[i] = c.high;
      b.low[i] = c.low;
      b.close[i] = c.close;
      b.volume[i] = c.volume;
    }
    return b;
  }
}

/** Number of decimals needed to write a step like 0.01 or 0.025 exactly. */
export function decimalsOf(step: number): number {
  for (let d = 0; d <= 12; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) {
      return d;
    }
  }
  return 12;
}
