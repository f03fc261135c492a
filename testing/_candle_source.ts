/**
 * The candles the loopback exchange emulators serve: deterministic series
 * per symbol with maintenance gaps, a listing time and the forming last
 * candle, and the price formatting venues use. Private to `testing/`.
 *
 * @module
 */

import { CandleGenerator, type GeneratedCandle } from "./candle_generator.ts";
import {
  nextPeriodStart,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";

/** One instrument an emulator serves. */
export interface EmulatorSymbol {
  /** Venue id, e.g. `"BTCUSDT"`. */
  readonly id: string;
  /** Base currency, e.g. `"BTC"`. */
  readonly base: string;
  /** Quote currency, e.g. `"USDT"`. */
  readonly quote: string;
  /** Price tick (every price is a multiple of it). */
  readonly tick: number;
  /** Price level of the generated series. */
  readonly basePrice: number;
  /** Amount step (lot size). @default {0.00001} */
  readonly amountStep?: number;
  /** First candle time (listing), ms. @default {Date.UTC(2017, 0, 1)} */
  readonly listedAt?: number;
}

/** A time range `[from, to)` (ms) without trading: candles lying wholly inside it do not exist. */
export interface MaintenanceGap {
  /** Start, ms, inclusive. */
  readonly from: number;
  /** End, ms, exclusive. */
  readonly to: number;
}

/** Series of the symbols served: candles with gaps, listing and the forming bar. */
export class CandleSource {
  readonly #gens = new Map<string, CandleGenerator>();
  readonly #symbols = new Map<string, EmulatorSymbol>();
  readonly #gaps: readonly MaintenanceGap[];
  /** The clock. */
  readonly now: () => number;

  /** Creates the source. */
  constructor(
    symbols: readonly EmulatorSymbol[],
    gaps: readonly MaintenanceGap[],
    now: () => number,
    seed: string,
    keyOf: (s: EmulatorSymbol) => string = (s) => s.id,
  ) {
    for (const s of symbols) {
      const key = keyOf(s);
      this.#symbols.set(key, s);
      this.#gens.set(
        key,
        new CandleGenerator({
          seed: seed + key,
          basePrice: s.basePrice,
          tick: s.tick,
        }),
      );
    }
    this.#gaps = gaps;
    this.now = now;
  }

  /** The instrument with this key (the venue id unless keyed otherwise), if served. */
  symbol(id: string): EmulatorSymbol | undefined {
    return this.#symbols.get(id);
  }

  /** True when the candle opening at `t` lies wholly inside a gap or before listing. */
  #missing(id: string, tf: Timeframe, t: number): boolean {
    const s = this.#symbols.get(id)!;
    if (t < (s.listedAt ?? Date.UTC(2017, 0, 1))) return true;
    const end = nextPeriodStart(tf, t);
    for (const g of this.#gaps) {
      if (g.from <= t && end <= g.to) return true;
    }
    return false;
  }

  /** The candle opening at `t`: final when closed, partial when forming. */
  candle(id: string, tf: Timeframe, t: number, now: number): GeneratedCandle {
    const gen = this.#gens.get(id)!;
    const end = nextPeriodStart(tf, t);
    const c = gen.candle(t, end - t);
    if (end <= now) return c;
    // Forming: closes at the open so far, with part of the volume.
    const f = Math.max(0, Math.min(1, (now - t) / (end - t)));
    return {
      ...c,
      close: c.open,
      volume: Number((c.volume * f).toFixed(3)),
    };
  }

  /**
   * Open times of existing candles (closed or forming at `now`) in
   * `[from, to]` (both inclusive), ascending, at most `limit`, taken from the
   * start (`newest` false) or the end (`newest` true) of the range.
   */
  times(
    id: string,
    tf: Timeframe,
    from: number,
    to: number,
    limit: number,
    newest: boolean,
    now: number,
  ): number[] {
    const last = Math.min(to, periodStart(tf, now));
    const out: number[] = [];
    if (!newest) {
      let t = periodStart(tf, from);
      if (t < from) t = nextPeriodStart(tf, t);
      const listed = this.#symbols.get(id)!.listedAt ?? Date.UTC(2017, 0, 1);
      if (t < listed) {
        t = periodStart(tf, listed);
        if (t < listed) t = nextPeriodStart(tf, t);
      }
      for (; t <= last && out.length < limit; t = nextPeriodStart(tf, t)) {
        if (!this.#missing(id, tf, t)) out.push(t);
      }
      return out;
    }
    const listed = this.#symbols.get(id)!.listedAt ?? Date.UTC(2017, 0, 1);
    const lo = Math.max(from, listed);
    for (let t = periodStart(tf, last); t >= lo && out.length < limit;) {
      if (t <= last && !this.#missing(id, tf, t)) out.push(t);
      t = tf.calendar ? periodStart(tf, t - 1) : t - tf.ms;
    }
    return out.reverse();
  }

  /** Closed candles with open time in `[from, to)` as the truth for tests. */
  expected(id: string, tf: Timeframe, from: number, to: number): CandleBatch {
    if (!this.#symbols.has(id)) {
      throw new RangeError(`Unknown emulator symbol ${id}`);
    }
    const now = this.now();
    const times = this.times(id, tf, from, to - 1, Infinity, false, now)
      .filter((t) => nextPeriodStart(tf, t) <= now);
    const b = allocBatch(times.length);
    for (let i = 0; i < times.length; i++) {
      const c = this.candle(id, tf, times[i]!, now);
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

/** Formats a price on its tick's decimals, as venues send them. */
export function priceString(value: number, decimals: number): string {
  return value.toFixed(decimals);
}
