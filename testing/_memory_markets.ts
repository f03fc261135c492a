/**
 * The in-memory provider's symbols and market presets (trading hours, time
 * zones), and its small helpers: the periodic-slot test, a seeded PRNG and
 * option checks. Private.
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import type { OpeningHours } from "../format/symbol_info.ts";
import { sessions247 } from "../format/sessions.ts";
import type { OpeningHoursCalendar } from "../pipeline/_opening_hours.ts";
import type { CandleGenerator } from "./candle_generator.ts";
import type { MemoryMarket, MemorySymbolOptions } from "./_memory_options.ts";

/** The symbols a provider serves unless told otherwise. */
export const DEFAULT_SYMBOLS: Record<string, MemorySymbolOptions> = {
  BTCUSDT: { market: "crypto", basePrice: 40_000, tick: 0.1 },
  ETHUSDT: { market: "crypto", basePrice: 2_000, tick: 0.01 },
  EURUSD: { market: "forex", basePrice: 1.1, tick: 0.00001 },
  AAPL: { market: "stock", basePrice: 180, tick: 0.01 },
};

/** The TradingView periods served. */
export const SUPPORTED = [
  "1",
  "3",
  "5",
  "15",
  "30",
  "60",
  "120",
  "240",
  "1D",
  "1W",
  "1M",
];

/** One symbol's generator, hours and recycled values. */
export interface SymbolState {
  options: MemorySymbolOptions;
  gen: CandleGenerator;
  calendar: OpeningHoursCalendar;
  hours: OpeningHours[];
  timezone: string;
  recycled: Map<string, CandleBatch>;
}

/** Opening hours, time zone and type of a market preset. */
export function marketHours(market: MemoryMarket): {
  hours: OpeningHours[];
  timezone: string;
  type: string;
} {
  switch (market) {
    case "crypto":
      return {
        hours: sessions247().openingHours,
        timezone: "UTC",
        type: "crypto",
      };
    case "forex":
      return {
        hours: [
          { day: 6, start: "22:00:00", end: "23:59:59" },
          ...[0, 1, 2, 3].map((day) => ({
            day,
            start: "00:00:00",
            end: "23:59:59",
          })),
          { day: 4, start: "00:00:00", end: "21:00:00" },
        ],
        timezone: "UTC",
        type: "forex",
      };
    case "stock":
      return {
        hours: [0, 1, 2, 3, 4].map((day) => ({
          day,
          start: "09:30:00",
          end: "16:00:00",
        })),
        timezone: "America/New_York",
        type: "stock",
      };
  }
}

/** True when `slot` is a multiple of `n` (n > 0). */
export function every(n: number | undefined, slot: number): boolean {
  return n !== undefined && n > 0 && slot % n === 0;
}

/** A small seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An option that must be a whole number >= `min`; `d` when not given. */
export function positiveInt(
  name: string,
  v: number | undefined,
  d: number,
  min = 0,
): number {
  if (v === undefined) return d;
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(
      `MemoryProvider: "${name}" must be a whole number >= ${min}, got ${v}`,
    );
  }
  return v;
}
