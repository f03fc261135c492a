/**
 * The interface every market data source implements, and its errors.
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import type { Timeframe } from "../format/timeframe.ts";

/** What to download: one symbol, one timeframe, a time range. */
export interface CandleRequest {
  /** Provider symbol, e.g. `"BINANCE:BTC/USDT"` (ccxt) or `"EURUSD"` (Capital.com). */
  readonly symbol: string;
  /** The timeframe (parse user input with `parseTimeframe`). */
  readonly timeframe: Timeframe;
  /** First candle open time wanted, Unix ms, inclusive. */
  readonly from: number;
  /** End of the range, Unix ms, exclusive: candles with `time < to`. */
  readonly to: number;
  /**
   * Resume point: only candles with `time > resumeAfter` are wanted (the last
   * committed candle of the file being topped up).
   */
  readonly resumeAfter?: number | undefined;
  /** Aborts fetching; the iterator then throws the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Candles per request (page size); providers pick a venue-specific default. */
  readonly pageSize?: number | undefined;
  /** Pages fetched at once; providers pick a measured default. */
  readonly concurrency?: number | undefined;
  /** Also deliver extra per-candle data (for example ask prices) in `CandleBatch.extra`. */
  readonly extraData?: boolean | undefined;
  /**
   * Bulk archives (Binance's public data) may serve closed months and days
   * when faster; `false` asks the venue's API only. @default {true}
   */
  readonly archive?: boolean | undefined;
  /** Receives notices worth telling the user (an archive fallback, archive and API disagreeing). */
  readonly notice?: ((line: string) => void) | undefined;
}

/** One entry of a symbol listing. */
export interface SymbolListing {
  /** The symbol as the provider takes it (for ccxt without an exchange: the exchange id). */
  readonly symbol: string;
  /** Human-readable name, when known. */
  readonly description?: string | undefined;
  /** Instrument type, when known (`"spot"`, `"swap"`, `"forex"` ...). */
  readonly type?: string | undefined;
}

/** Options for {@linkcode Provider.listSymbols}. */
export interface ListSymbolsOptions {
  /** Case-insensitive text to filter by (symbol or description). */
  readonly search?: string | undefined;
  /** Aborts the request. */
  readonly signal?: AbortSignal | undefined;
}

/** Counters a provider keeps, for download summaries. */
export interface ProviderStats {
  /** HTTP requests sent (including retries). */
  requests: number;
  /** Requests repeated after a transient failure. */
  retries: number;
}

/** A part of a planned range the venue does not serve, so no request asks for it. */
export interface PlannedSkip {
  /** Start, Unix ms, inclusive. */
  readonly from: number;
  /** End, Unix ms, exclusive. */
  readonly to: number;
  /** Why (`"Kraken serves only the latest 720 candles of a timeframe"`). */
  readonly reason: string;
}

/** How a venue limits requests, in the provider's own units. */
export interface RequestBudget {
  /** Cost of one candle request, in the budget's units. */
  readonly costPerRequest: number;
  /** Units the venue allows per `windowMs`. */
  readonly limit: number;
  /** Length of the budget's window, ms. */
  readonly windowMs: number;
  /** What the units are (`"ccxt cost units (Binance request weight / 5)"`). */
  readonly unit: string;
  /**
   * True when a burst up to `limit` goes through at once (a rolling window);
   * false when requests are spaced evenly (a leaky bucket).
   */
  readonly burst: boolean;
}

/**
 * What fetching one range would take, worked out before any candle request
 * ({@linkcode Provider.planCandles}). An estimate: a venue answering pages
 * shorter than asked for needs more requests, a range probe may need fewer.
 */
export interface CandlePlan {
  /** Candles per request. */
  readonly pageSize: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Windows of one page each the range is cut into (the fewest candle requests). */
  readonly windows: number;
  /** Other requests (a session, the markets, the venue's clock). */
  readonly otherRequests: number;
  /** Grid periods the requested windows span. */
  readonly periods: number;
  /** The venue's request budget, when the provider knows it. */
  readonly budget?: RequestBudget | undefined;
  /** Parts of the range that will not be requested. */
  readonly skipped: readonly PlannedSkip[];
  /** Remarks for the user (a page size lowered to the venue's maximum ...). */
  readonly notes: readonly string[];
}

/**
 * A market data source. Dispose it (`await using`) to release connections and
 * sessions.
 */
export interface Provider extends AsyncDisposable {
  /** Registry name, e.g. `"ccxt"`, `"capitalcom"`. */
  readonly name: string;
  /** Request and retry counters since the provider was created. */
  readonly stats: ProviderStats;
  /** Lists symbols (for ccxt without an exchange prefix in `search`: exchanges). */
  listSymbols(options?: ListSymbolsOptions): Promise<SymbolListing[]>;
  /** Symbol information for the `.toml`, for a symbol and timeframe. */
  symbolInfo(symbol: string, timeframe: Timeframe): Promise<SymbolInfo>;
  /** Supported timeframes as canonical TradingView periods. */
  timeframes(symbol?: string): Promise<string[]>;
  /**
   * Canonical form of a symbol for provider strings and file names
   * (`"binance:btc/usdt"` → `"BINANCE:BTC/USDT"`). Throws a `ProviderError`
   * for a malformed symbol.
   */
  normalizeSymbol(symbol: string): string;
  /**
   * Candles of the request's range as batches. Batches fetched concurrently may
   * arrive out of order and then carry `seq`. May include the forming candle and
   * duplicates; the pipeline stages take care of both.
   */
  candles(request: CandleRequest): AsyncIterable<CandleBatch>;
  /**
   * What {@linkcode Provider.candles} would request for `request`, without
   * requesting a candle (it may load metadata such as the markets). Optional:
   * a provider without it gets a plan of the range's periods only.
   */
  planCandles?(request: CandleRequest): Promise<CandlePlan>;
}

/** A permanent venue failure: bad symbol, bad credentials, unsupported timeframe. */
export class ProviderError extends Error {
  /** The venue's own error code, when it gave one. */
  readonly code: string | undefined;

  /** Creates a provider error. */
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(
      message,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.name = "ProviderError";
    this.code = options?.code;
  }
}

/** A retryable venue failure: timeouts, HTTP 429/5xx, dropped connections. */
export class TransientProviderError extends ProviderError {
  /** How long the venue asked us to wait (ms), when it said (`Retry-After`). */
  readonly retryAfterMs: number | undefined;

  /** Creates a transient provider error. */
  constructor(
    message: string,
    options?: { code?: string; cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = "TransientProviderError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Options every provider constructor takes. */
export interface ProviderOptions {
  /** Folder of the provider's config files. @default {"./config"} */
  readonly configDir?: string | undefined;
  /** Environment variables for secrets (defaults to the process environment). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Receives verbose diagnostic lines; never passed credentials. */
  readonly log?: ((line: string) => void) | undefined;
}
