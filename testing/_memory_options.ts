/**
 * The option types of `MemoryProvider`: symbols, failures, request reports.
 * Private (re-exported by `memory_provider.ts`).
 *
 * @module
 */

import type { SymbolInfo } from "../format/symbol_info.ts";
import type { ProviderOptions } from "../providers/provider.ts";

/** Trading-hours presets of the in-memory symbols. */
export type MemoryMarket = "crypto" | "forex" | "stock";

/** One symbol of a `MemoryProvider`. */
export interface MemorySymbolOptions {
  /**
   * Trading hours: `"crypto"` 24/7 UTC; `"forex"` Sunday 22:00 to Friday
   * 21:00 UTC; `"stock"` Monday to Friday 09:30-16:00 America/New_York.
   * No candles exist while the market is closed. @default {"crypto"}
   */
  readonly market?: MemoryMarket | undefined;
  /** Price level. @default {100} */
  readonly basePrice?: number | undefined;
  /** Price tick (also the symbol info's mintick). @default {0.01} */
  readonly tick?: number | undefined;
  /** No candles before this time (Unix ms). @default {-Infinity} */
  readonly listedFrom?: number | undefined;
  /** Fields that override the generated symbol info. */
  readonly info?: Partial<SymbolInfo> | undefined;
}

/** A failure injected at a chosen page. */
export interface MemoryFailure {
  /** 0-based page index within one `candles()` call. */
  readonly page: number;
  /** 0-based `candles()` call it applies to. @default {undefined} (every call) */
  readonly call?: number | undefined;
  /** `"transient"` (retried) or `"permanent"` (`ProviderError`). */
  readonly kind: "transient" | "permanent";
  /** For transient failures: how many attempts fail before one succeeds. @default {1} */
  readonly times?: number | undefined;
}

/** Information passed to {@linkcode MemoryProviderOptions.onRequest}. */
export interface MemoryRequestInfo {
  /** 0-based `candles()` call. */
  readonly call: number;
  /** 0-based page within the call. */
  readonly page: number;
  /** 0-based attempt of this page. */
  readonly attempt: number;
  /** Requests sent so far by the provider, this one included. */
  readonly requests: number;
  /** First slot of the page, Unix ms. */
  readonly from: number;
}

/** Options for `MemoryProvider`. */
export interface MemoryProviderOptions extends ProviderOptions {
  /** Seed prefix of the generator (with the symbol). @default {"memory"} */
  readonly seed?: string | undefined;
  /**
   * The symbols offered. @default {BTCUSDT (crypto), ETHUSDT (crypto), EURUSD (forex), AAPL (stock)}
   */
  readonly symbols?: Readonly<Record<string, MemorySymbolOptions>> | undefined;
  /** The clock (Unix ms): no candle opens after it. @default {Date.now} */
  readonly now?: (() => number) | undefined;
  /** Period slots per page when the request does not say. @default {500} */
  readonly pageSize?: number | undefined;
  /** Slots each page repeats from the end of the previous one. @default {0} */
  readonly overlap?: number | undefined;
  /** Candle order inside a page. @default {"asc"} */
  readonly order?: "asc" | "desc" | "shuffle" | undefined;
  /** Send every Nth candle twice (identical). @default {0} (never) */
  readonly duplicateEvery?: number | undefined;
  /** Send every Nth candle twice, the second time with another volume. @default {0} */
  readonly conflictEvery?: number | undefined;
  /**
   * Real-world blemish: every Nth candle (by its absolute slot) has no volume
   * (NaN), as venues that leave volume out send it. @default {0} (never)
   */
  readonly missingVolumeEvery?: number | undefined;
  /**
   * Real-world blemish: every Nth candle (by its absolute slot) had no trades:
   * volume 0 and open = high = low = close. @default {0} (never)
   */
  readonly zeroVolumeEvery?: number | undefined;
  /**
   * Bad data: every Nth candle (by its absolute slot) has its high below its
   * low. @default {0} (never)
   */
  readonly brokenEvery?: number | undefined;
  /** Include the forming candle of the current period. @default {true} */
  readonly forming?: boolean | undefined;
  /** Missing data: no candles open inside these `[from, to)` ranges. @default {[]} */
  readonly gaps?: ReadonlyArray<readonly [number, number]> | undefined;
  /** Failures at chosen pages. @default {[]} */
  readonly failures?: ReadonlyArray<MemoryFailure> | undefined;
  /**
   * Pages fetched "at once" when the request does not say; above 1, pages
   * come in a shuffled order within each group and carry `seq`. @default {1}
   */
  readonly concurrency?: number | undefined;
  /** Delay per request, ms. @default {0} */
  readonly latencyMs?: number | undefined;
  /** Retries of transient failures. @default {3} */
  readonly maxRetries?: number | undefined;
  /** First retry backoff delay, ms. @default {1} */
  readonly retryDelayMs?: number | undefined;
  /**
   * Generate only this many candles per symbol and timeframe and repeat their
   * values (times stay exact): makes tens of millions of candles cheap for
   * benchmarks. @default {0} (generate every candle)
   */
  readonly recycle?: number | undefined;
  /** Called before every request attempt (tests abort or count here). */
  readonly onRequest?: ((info: MemoryRequestInfo) => void) | undefined;
}
