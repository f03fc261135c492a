/**
 * Crypto candles from every exchange ccxt supports. Symbols are
 * `EXCHANGE:BASE/QUOTE` (spot) or `EXCHANGE:BASE/QUOTE:SETTLE` (derivatives),
 * the exchange case-insensitive. ccxt itself is imported lazily, the first
 * time a provider method needs it, so importing this module is cheap.
 *
 * Pages are fetched concurrently in fixed windows through one ccxt instance
 * per exchange (with `enableRateLimit`), retried with backoff on transient
 * failures, and delivered in order as sequence-numbered batches without the
 * forming candle. For Binance, closed months and days come from its public
 * data archives (checksum-verified) when that is faster, stitched to REST.
 * Configuration lives in `config/ccxt.toml` (see `docs/ccxt.md`).
 *
 * @example
 * ```ts
 * import { CCXTProvider } from "@pyne/data/providers/ccxt";
 * import { parseTimeframe } from "@pyne/data/format";
 * import { startBinanceEmulator } from "@pyne/data/testing";
 *
 * // An offline Binance; for the real one leave `baseUrl` out.
 * await using binance = await startBinanceEmulator();
 * await using provider = new CCXTProvider({
 *   configDir: await Deno.makeTempDir(),
 *   baseUrl: binance.url,
 * });
 * for await (const batch of provider.candles({
 *   symbol: "BINANCE:BTC/USDT",
 *   timeframe: parseTimeframe("1h"),
 *   from: Date.UTC(2024, 0, 1),
 *   to: Date.UTC(2024, 1, 1),
 * })) {
 *   console.log(batch.seq, batch.time.length);
 * }
 * ```
 *
 * @module
 */

import type { CandleBatch, CandleExtra } from "../format/candle_batch.ts";
import type {
  OpeningHours,
  SessionTime,
  SymbolInfo,
  SymbolType,
} from "../format/symbol_info.ts";
import type { Timeframe, TimeframeUnit } from "../format/timeframe.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import {
  type CandlePlan,
  type CandleRequest,
  type ListSymbolsOptions,
  type PlannedSkip,
  type Provider,
  ProviderError,
  type ProviderOptions,
  type ProviderStats,
  type RequestBudget,
  type SymbolListing,
  TransientProviderError,
} from "./provider.ts";
import {
  type CcxtMarket,
  findMarket,
  marketSymbolInfo,
  normalizeCcxtSymbol,
  parseCcxtSymbol,
  SIGNIFICANT_DIGITS,
  timeframeKey,
  timeframeMap,
} from "./_ccxt_symbols.ts";
import { planCcxtCandles } from "./_ccxt_plan.ts";
import { ccxtVenue, historyReason, venuePageSize } from "./_ccxt_venues.ts";
import {
  type CcxtModule,
  checkOrigin,
  createVenue,
  type Venue,
} from "./_ccxt_exchange.ts";
import { abortable, callVenue } from "./_ccxt_call.ts";
import type { ExchangeSettings } from "./_ccxt_config.ts";
import { CcxtSettingsSource } from "./_ccxt_settings.ts";
import { quietNativeAddons } from "./_ccxt_env.ts";
import { ccxtArchivePlan, ccxtCandles } from "./_ccxt_candles.ts";

export type {
  CandleBatch,
  CandleExtra,
  CandlePlan,
  CandleRequest,
  ListSymbolsOptions,
  OpeningHours,
  PlannedSkip,
  Provider,
  ProviderOptions,
  ProviderStats,
  RequestBudget,
  SessionTime,
  SymbolInfo,
  SymbolListing,
  SymbolType,
  Timeframe,
  TimeframeUnit,
};
export { ProviderError, TransientProviderError };
export { CCXT_PAGE_SIZES, DEFAULT_PAGE_SIZE } from "./_ccxt_venues.ts";

/** Settings of one exchange (the same keys as a `[exchange]` table of `ccxt.toml`). */
export interface CCXTExchangeSettings {
  /** API key. Never logged. */
  readonly apiKey?: string | undefined;
  /** API secret. Never logged. */
  readonly secret?: string | undefined;
  /** API password / passphrase. Never logged. */
  readonly password?: string | undefined;
  /** Use the exchange's sandbox (testnet). @default {false} */
  readonly sandbox?: boolean | undefined;
  /** ccxt `rateLimit`: milliseconds per unit of request cost. @default {ccxt's value for the exchange} */
  readonly rateLimit?: number | undefined;
  /** Request timeout in ms. @default {10000} */
  readonly timeout?: number | undefined;
  /** Send every REST request of the exchange to this origin (mirror, proxy, emulator). */
  readonly baseUrl?: string | undefined;
  /** Candles per request. @default {known per exchange, else 200} */
  readonly pageSize?: number | undefined;
  /** Requests in flight per download. @default {DEFAULT_CONCURRENCY} */
  readonly concurrency?: number | undefined;
  /** Options passed to ccxt (`exchange.options`). */
  readonly options?: Readonly<Record<string, unknown>> | undefined;
  /** Binance: read closed months and days from its public data archives when faster. @default {true} */
  readonly archive?: boolean | undefined;
  /** Origin of Binance's public data archives. @default {"https://data.binance.vision" (none with a `baseUrl`)} */
  readonly archiveUrl?: string | undefined;
}

/** Options of {@linkcode CCXTProvider}. */
export interface CCXTProviderOptions extends ProviderOptions {
  /** Send every REST request of every exchange to this origin (for emulators and proxies). */
  readonly baseUrl?: string | undefined;
  /** Settings per exchange id, applied over the config files. */
  readonly exchanges?:
    | Readonly<Record<string, CCXTExchangeSettings>>
    | undefined;
  /** Requests in flight per download (a request's `concurrency` wins). @default {DEFAULT_CONCURRENCY} */
  readonly concurrency?: number | undefined;
  /** Retries of a failing request after the first attempt. @default {5} */
  readonly maxRetries?: number | undefined;
  /** First backoff delay, ms. @default {500} */
  readonly retryBaseDelayMs?: number | undefined;
  /** Largest backoff delay, ms. @default {30000} */
  readonly retryMaxDelayMs?: number | undefined;
  /** Write `ccxt.toml` as a commented template when it is missing. @default {true} */
  readonly createConfig?: boolean | undefined;
  /** Local clock, used when the exchange's time is unknown. @default {Date.now} */
  readonly now?: (() => number) | undefined;
}

/** Pages fetched at once by default (measured: see `bench/ccxt_bench.ts`). */
export const DEFAULT_CONCURRENCY = 8;

let ccxtModule: Promise<CcxtModule> | undefined;

/** The ccxt module, imported on first use (importing this module stays cheap). */
function loadCcxt(): Promise<CcxtModule> {
  if (ccxtModule === undefined) {
    quietNativeAddons();
    ccxtModule = import("ccxt").then((m) => m as unknown as CcxtModule);
  }
  return ccxtModule;
}

/**
 * A market data provider over ccxt: every exchange ccxt supports, one ccxt
 * instance per exchange (and settings), created on first use.
 */
export class CCXTProvider implements Provider {
  /** Registry name. */
  readonly name: string = "ccxt";
  /** Request and retry counters. */
  readonly stats: ProviderStats = { requests: 0, retries: 0 };

  readonly #options: CCXTProviderOptions;
  readonly #settings: CcxtSettingsSource;
  readonly #venues = new Map<string, Promise<Venue>>();
  #disposed = false;

  /** Creates the provider; nothing is loaded or read until a method needs it. */
  constructor(options: CCXTProviderOptions = {}) {
    if (options.baseUrl !== undefined) checkOrigin(options.baseUrl, "baseUrl");
    for (const [k, v] of Object.entries(options.exchanges ?? {})) {
      if (v.baseUrl !== undefined) {
        checkOrigin(v.baseUrl, `exchanges.${k}.baseUrl`);
      }
      if (v.archiveUrl !== undefined) {
        checkOrigin(v.archiveUrl, `exchanges.${k}.archiveUrl`);
      }
    }
    if (
      options.concurrency !== undefined &&
      !(Number.isInteger(options.concurrency) && options.concurrency >= 1)
    ) {
      throw new RangeError(
        `concurrency must be a whole number of at least 1, got ${options.concurrency}`,
      );
    }
    this.#options = options;
    this.#settings = new CcxtSettingsSource({
      configDir: options.configDir ?? "./config",
      createConfig: options.createConfig ?? true,
      baseUrl: options.baseUrl,
      exchanges: options.exchanges,
      env: options.env,
      exchangeIds: () => this.#exchangeIds(),
      log: (line) => this.#log(line),
    });
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  async #exchangeIds(): Promise<string[]> {
    const ccxt = await loadCcxt();
    return Object.keys(ccxt.exchanges).sort();
  }

  async #checkExchange(exchange: string): Promise<void> {
    const ids = await this.#exchangeIds();
    if (!ids.includes(exchange)) {
      throw new ProviderError(
        `Unknown ccxt exchange "${exchange}": list the supported exchanges with "pyne-data symbols ccxt" (library: listSymbols())`,
        { code: "BadExchange" },
      );
    }
  }

  /** The ccxt instance for an exchange and settings (created once). */
  async #venue(
    exchange: string,
    symbol?: { market: string; period: string },
  ): Promise<Venue> {
    if (this.#disposed) {
      throw new ProviderError("The ccxt provider was disposed");
    }
    await this.#checkExchange(exchange);
    const settings = await this.#settings.settings(exchange, symbol);
    const key = exchange + "\u0000" + JSON.stringify(settings);
    let venue = this.#venues.get(key);
    if (!venue) {
      venue = this.#createVenue(exchange, settings);
      this.#venues.set(key, venue);
      venue.catch(() => this.#venues.delete(key));
    }
    return venue;
  }

  async #createVenue(
    exchange: string,
    settings: ExchangeSettings,
  ): Promise<Venue> {
    return createVenue(await loadCcxt(), exchange, settings, {
      onRequest: () => this.stats.requests++,
      log: (line) => this.#log(line),
    });
  }

  /** Runs a ccxt call with retries, error conversion and abort. */
  #call<T>(
    venue: Venue,
    what: string,
    fn: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return callVenue(venue, what, fn, {
      maxRetries: this.#options.maxRetries ?? 5,
      baseDelayMs: this.#options.retryBaseDelayMs ?? 500,
      maxDelayMs: this.#options.retryMaxDelayMs ?? 30_000,
      onRetry: (attempt, error, delay) => {
        this.stats.retries++;
        this.#log(
          `Retry ${attempt} of ${what} in ${delay} ms: ${
            (error as Error).message
          }`,
        );
      },
    }, signal);
  }

  async #markets(
    venue: Venue,
    signal?: AbortSignal,
  ): Promise<Record<string, CcxtMarket>> {
    venue.markets ??= this.#call(
      venue,
      `Cannot load the markets of ${venue.ex.id}`,
      () => venue.ex.loadMarkets(),
    );
    try {
      return await abortable(venue.markets, signal);
    } catch (e) {
      venue.markets = undefined;
      throw e;
    }
  }

  async #market(
    venue: Venue,
    exchange: string,
    market: string,
    signal?: AbortSignal,
  ): Promise<CcxtMarket> {
    return findMarket(await this.#markets(venue, signal), exchange, market);
  }

  /**
   * Lists exchanges or markets. `search` selects what:
   * - empty: every ccxt exchange id (as `BINANCE`, ...);
   * - `"exchange:"` or an exact exchange id (`"binance"`): that exchange's
   *   markets; `"exchange:text"`: its markets containing `text`;
   * - other text: exchanges whose id contains it.
   */
  async listSymbols(
    options: ListSymbolsOptions = {},
  ): Promise<SymbolListing[]> {
    const search = (options.search ?? "").trim().toLowerCase();
    const ids = await this.#exchangeIds();
    let exchange: string | undefined;
    let text = "";
    const colon = search.indexOf(":");
    if (colon >= 0) {
      exchange = search.slice(0, colon);
      text = search.slice(colon + 1);
      await this.#checkExchange(exchange);
    } else if (ids.includes(search)) {
      exchange = search;
    }
    if (exchange === undefined) {
      return ids.filter((id) => id.includes(search)).map((id) => ({
        symbol: id.toUpperCase(),
        type: "exchange",
      }));
    }
    const venue = await this.#venue(exchange);
    const markets = await this.#markets(venue, options.signal);
    const prefix = exchange.toUpperCase();
    return Object.values(markets)
      .filter((m) =>
        text === "" || m.symbol.toLowerCase().includes(text) ||
        m.id.toLowerCase().includes(text)
      )
      .sort((a, b) => a.symbol.localeCompare(b.symbol))
      .map((m) => ({
        symbol: `${prefix}:${m.symbol}`,
        description: `${m.base} / ${m.quote}${
          m.type && m.type !== "spot" ? ` ${m.type}` : ""
        } (${m.id})`,
        type: m.type,
      }));
  }

  /** Symbol information from the exchange's market. */
  async symbolInfo(symbol: string, timeframe: Timeframe): Promise<SymbolInfo> {
    const tf = parseTimeframe(timeframe);
    const { exchange, market } = parseCcxtSymbol(symbol);
    const venue = await this.#venue(exchange, { market, period: tf.period });
    const m = await this.#market(venue, exchange, market);
    timeframeKey(venue.ex, exchange, tf);
    let price: number | undefined;
    if (venue.ex.precisionMode === SIGNIFICANT_DIGITS) {
      // The tick depends on the price: take it at the last price.
      const t = await this.#call(
        venue,
        `Cannot fetch the last price of ${m.symbol} (for its tick size)`,
        () => venue.ex.fetchTicker(m.symbol),
      );
      price = t.last ?? t.close ?? undefined;
    }
    return marketSymbolInfo(exchange, m, venue.ex.precisionMode, tf, price);
  }

  /**
   * The exchange's timeframes as TradingView periods. `symbol` is
   * `EXCHANGE:BASE/QUOTE` or just `EXCHANGE`; without it, the periods ccxt
   * commonly offers.
   */
  async timeframes(symbol?: string): Promise<string[]> {
    if (symbol === undefined || symbol.trim() === "") {
      return [
        "1",
        "3",
        "5",
        "15",
        "30",
        "60",
        "120",
        "240",
        "360",
        "720",
        "1D",
        "1W",
        "1M",
      ];
    }
    const exchange = symbol.includes(":")
      ? parseCcxtSymbol(symbol).exchange
      : symbol.trim().toLowerCase();
    const venue = await this.#venue(exchange);
    return [...timeframeMap(venue.ex.timeframes).keys()];
  }

  /** `"binance:btc/usdt"` → `"BINANCE:BTC/USDT"`. */
  normalizeSymbol(symbol: string): string {
    return normalizeCcxtSymbol(symbol);
  }

  /**
   * Candles of `[from, to)` in order, as batches numbered by `seq`, the
   * forming candle excluded. Pages are fetched `concurrency` at a time.
   */
  async *candles(request: CandleRequest): AsyncGenerator<CandleBatch> {
    const tf = parseTimeframe(request.timeframe);
    const { exchange, market } = parseCcxtSymbol(request.symbol);
    const signal = request.signal;
    signal?.throwIfAborted();
    const venue = await this.#venue(exchange, { market, period: tf.period });
    const m = await this.#market(venue, exchange, market, signal);
    const tfKey = timeframeKey(venue.ex, exchange, tf);
    const { pageSize, lowered, concurrency } = this.#paging(
      venue,
      exchange,
      request,
    );
    if (lowered !== undefined) {
      this.#log(
        `Page size ${lowered} is above ${exchange}'s maximum: using ${pageSize}`,
      );
    }
    let from = request.from;
    if (request.resumeAfter !== undefined) {
      from = Math.max(from, request.resumeAfter + 1);
    }
    if (!(from < request.to)) return;
    yield* ccxtCandles({
      venue,
      exchange,
      market: m,
      timeframe: tf,
      tfKey,
      from,
      to: request.to,
      now: await this.#serverTime(venue, signal),
      pageSize,
      concurrency,
      signal,
      archive: request.archive !== false,
      call: (what, fn, sig) => this.#call(venue, what, fn, sig),
      retry: {
        baseDelayMs: this.#options.retryBaseDelayMs ?? 500,
        maxDelayMs: this.#options.retryMaxDelayMs ?? 30_000,
      },
      onRequest: () => this.stats.requests++,
      log: (line) => this.#log(line),
      notice: request.notice,
    });
  }

  /** The page size and concurrency of a request on a venue, checked. */
  #paging(
    venue: Venue,
    exchange: string,
    request: CandleRequest,
  ): { pageSize: number; lowered: number | undefined; concurrency: number } {
    const { pageSize, lowered } = venuePageSize(
      exchange,
      request.pageSize ?? venue.settings.pageSize,
    );
    const concurrency = request.concurrency ?? venue.settings.concurrency ??
      this.#options.concurrency ?? DEFAULT_CONCURRENCY;
    for (
      const [name, v] of [["pageSize", pageSize], [
        "concurrency",
        concurrency,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(
          `${name} must be a whole number of at least 1, got ${v}`,
        );
      }
    }
    return { pageSize, lowered, concurrency };
  }

  /**
   * What `candles()` would request for `request`: its windows, the part
   * beyond the venue's history and the cost against ccxt's throttle. Loads
   * the markets (the symbol is checked) but requests no candle.
   */
  async planCandles(request: CandleRequest): Promise<CandlePlan> {
    const tf = parseTimeframe(request.timeframe);
    const { exchange, market } = parseCcxtSymbol(request.symbol);
    request.signal?.throwIfAborted();
    const venue = await this.#venue(exchange, { market, period: tf.period });
    const m = await this.#market(venue, exchange, market, request.signal);
    const tfKey = timeframeKey(venue.ex, exchange, tf);
    const { pageSize, lowered, concurrency } = this.#paging(
      venue,
      exchange,
      request,
    );
    const row = ccxtVenue(exchange);
    const from = request.resumeAfter === undefined
      ? request.from
      : Math.max(request.from, request.resumeAfter + 1);
    const now = await this.#serverTime(venue, request.signal);
    const archive = ccxtArchivePlan(exchange, venue, m, {
      timeframe: tf,
      tfKey,
      from,
      to: request.to,
      now,
      pageSize,
      archive: request.archive !== false,
    });
    return planCcxtCandles({
      exchange,
      row,
      timeframe: tf,
      from,
      to: request.to,
      now,
      archive,
      pageSize,
      concurrency,
      rateLimit: venue.ex.rateLimit,
      historyReason: row.historyLimit === undefined
        ? undefined
        : historyReason(exchange, row.historyLimit),
      notes: lowered === undefined
        ? []
        : [`page size ${lowered} is above ${exchange}'s maximum: ${pageSize}`],
    });
  }

  /** The exchange's clock when it offers one, else the local clock. */
  async #serverTime(venue: Venue, signal?: AbortSignal): Promise<number> {
    const local = (this.#options.now ?? Date.now)();
    if (venue.ex.has["fetchTime"] !== true) return local;
    try {
      const t = await this.#call(
        venue,
        `Cannot fetch the time of ${venue.ex.id}`,
        () => venue.ex.fetchTime(),
        signal,
      );
      return typeof t === "number" && Number.isFinite(t) ? t : local;
    } catch (e) {
      if (signal?.aborted) throw e;
      this.#log(
        `Using the local clock: ${(e as Error).message}`,
      );
      return local;
    }
  }

  /** Closes every ccxt instance. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    const venues = [...this.#venues.values()];
    this.#venues.clear();
    for (const v of venues) {
      try {
        await (await v).ex.close?.();
      } catch {
        // closing is best effort
      }
    }
  }
}
