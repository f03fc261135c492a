/**
 * Crypto candles from every exchange ccxt supports. Symbols are
 * `EXCHANGE:BASE/QUOTE` (spot) or `EXCHANGE:BASE/QUOTE:SETTLE` (derivatives),
 * the exchange case-insensitive. ccxt itself is imported lazily, the first
 * time a provider method needs it, so importing this module is cheap.
 *
 * Pages are fetched concurrently in fixed windows through one ccxt instance
 * per exchange (with `enableRateLimit`), retried with backoff on transient
 * failures, and delivered in order as sequence-numbered batches without the
 * forming candle. Configuration lives in `config/ccxt.toml` (see
 * `docs/ccxt.md`).
 *
 * @example
 * ```ts ignore
 * import { CCXTProvider } from "@pyne/data/providers/ccxt";
 * import { parseTimeframe } from "@pyne/data/format";
 *
 * await using provider = new CCXTProvider({ configDir: "./config" });
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
  type CandleRequest,
  type ListSymbolsOptions,
  type Provider,
  ProviderError,
  type ProviderOptions,
  type ProviderStats,
  type SymbolListing,
  TransientProviderError,
} from "./provider.ts";
import { sleep, withRetry } from "./_retry.ts";
import {
  type ExchangeSettings,
  legacyConfigPath,
  loadCcxtConfig,
  loadLegacyOverride,
  mergeSettings,
  secretEnvNames,
} from "./_ccxt_config.ts";
import {
  type CcxtMarket,
  marketSymbolInfo,
  normalizeCcxtSymbol,
  parseCcxtSymbol,
  SIGNIFICANT_DIGITS,
  timeframeMap,
} from "./_ccxt_symbols.ts";
import { type OhlcvRow, pageCandles } from "./_ccxt_paging.ts";

export type {
  CandleBatch,
  CandleExtra,
  CandleRequest,
  ListSymbolsOptions,
  OpeningHours,
  Provider,
  ProviderOptions,
  ProviderStats,
  SessionTime,
  SymbolInfo,
  SymbolListing,
  SymbolType,
  Timeframe,
  TimeframeUnit,
};
export { ProviderError, TransientProviderError };

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

/**
 * Candles per request of the exchanges whose limit is known: the default and
 * the maximum (a larger `pageSize` is lowered to it).
 */
export const CCXT_PAGE_SIZES: Readonly<Record<string, number>> = {
  binance: 1000,
  binanceus: 1000,
  binanceusdm: 1000,
  binancecoinm: 1000,
  bybit: 1000,
  okx: 100,
  kraken: 720,
  kucoin: 1500,
  coinbase: 300,
};

/** Page size for exchanges not in {@linkcode CCXT_PAGE_SIZES}. */
export const DEFAULT_PAGE_SIZE = 200;

/**
 * Exchanges whose limit is a request weight per minute: ccxt throttles them
 * with a 60 s rolling window of the same budget (`60000 / rateLimit` cost
 * units), which lets bursts of concurrent pages through while never exceeding
 * the venue's per-minute limit.
 */
const ROLLING_WINDOW_EXCHANGES = new Set([
  "binance",
  "binanceus",
  "binanceusdm",
  "binancecoinm",
]);

/**
 * Exchanges that answer ccxt's `since` + `until` as a range (Binance
 * `startTime`/`endTime`, Bybit `start`/`end`): an empty answer proves the
 * whole range empty, so a `from` long before the market's listing is skipped
 * with a few range probes instead of one request per empty page.
 */
const RANGE_EXCHANGES = new Set([
  "binance",
  "binanceus",
  "binanceusdm",
  "binancecoinm",
  "bybit",
]);

/** Market types loaded when a base URL points an exchange at one origin. */
const BASE_URL_MARKET_TYPES: Readonly<Record<string, string[]>> = {
  binance: ["spot"],
  bybit: ["spot", "linear"],
  kucoin: ["spot"],
};

// ---------------------------------------------------------------------------
// The lazily loaded ccxt module, typed as far as we use it.

type ErrorClass = abstract new (...args: never[]) => Error;

interface CcxtExchange {
  id: string;
  name?: string;
  markets?: Record<string, CcxtMarket>;
  symbols?: string[];
  timeframes?: Record<string, unknown>;
  precisionMode: number;
  has: Record<string, unknown>;
  urls: Record<string, unknown>;
  options: Record<string, unknown>;
  loadMarkets(): Promise<Record<string, CcxtMarket>>;
  fetchOHLCV(
    symbol: string,
    timeframe: string,
    since?: number,
    limit?: number,
    params?: Record<string, unknown>,
  ): Promise<OhlcvRow[]>;
  fetchTime(): Promise<number | undefined>;
  fetchTicker(
    symbol: string,
  ): Promise<{ last?: number | null; close?: number | null }>;
  setSandboxMode(on: boolean): void;
  close?(): Promise<unknown>;
  handleErrors(...args: unknown[]): unknown;
  handleHttpStatusCode(...args: unknown[]): unknown;
  fetch(...args: unknown[]): Promise<unknown>;
}

interface CcxtModule {
  exchanges: Record<
    string,
    new (config: Record<string, unknown>) => CcxtExchange
  >;
  BaseError: ErrorClass;
  OperationFailed: ErrorClass;
  ExchangeError: ErrorClass;
  BadResponse: new (message: string) => Error;
  RateLimitExceeded: new (message: string) => Error;
  DDoSProtection: ErrorClass;
}

let ccxtModule: Promise<CcxtModule> | undefined;

function loadCcxt(): Promise<CcxtModule> {
  if (ccxtModule === undefined) {
    quietNativeAddons();
    ccxtModule = import("ccxt").then((m) => m as unknown as CcxtModule);
  }
  return ccxtModule;
}

interface DenoLike {
  env: {
    get(key: string): string | undefined;
    set(k: string, v: string): void;
  };
  permissions: {
    querySync(d: { name: string; variable?: string }): { state: string };
  };
}

function denoGlobal(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

/** True when the environment variable can be read without a permission prompt. */
function envReadable(name: string): boolean {
  const d = denoGlobal();
  if (d === undefined) return true;
  try {
    return d.permissions.querySync({ name: "env", variable: name }).state ===
      "granted";
  } catch {
    return false;
  }
}

/**
 * ccxt loads the `ws` package, which tries its optional native add-ons
 * (`bufferutil`, `utf-8-validate`) through FFI; under Deno without
 * `--allow-ffi` a terminal would stop at a permission prompt. When the
 * environment may be written without a prompt, `WS_NO_BUFFER_UTIL` and
 * `WS_NO_UTF_8_VALIDATE` make `ws` use its pure-JS fallbacks instead. Node
 * and Bun load the add-ons without prompts: nothing to do there.
 */
function quietNativeAddons(): void {
  const d = denoGlobal();
  if (d === undefined) return;
  try {
    if (d.permissions.querySync({ name: "ffi" }).state === "granted") return;
    for (const k of ["WS_NO_BUFFER_UTIL", "WS_NO_UTF_8_VALIDATE"]) {
      if (envReadable(k) && d.env.get(k) === undefined) d.env.set(k, "1");
    }
  } catch {
    // no permission API or no env permission: nothing to do
  }
}

// ---------------------------------------------------------------------------

interface Venue {
  readonly ex: CcxtExchange;
  readonly ccxt: CcxtModule;
  readonly settings: ExchangeSettings;
  readonly secrets: string[];
  markets?: Promise<Record<string, CcxtMarket>> | undefined;
  /** No request starts before this time (ms): the exchange asked to back off. */
  pausedUntil: number;
}

/** Reads a `Retry-After` header (seconds or HTTP date) as ms. */
function retryAfterMs(headers: unknown): number | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() !== "retry-after" || typeof v !== "string") continue;
    const s = Number(v);
    if (Number.isFinite(s)) return Math.max(0, s * 1000);
    const d = Date.parse(v);
    if (Number.isFinite(d)) return Math.max(0, d - Date.now());
  }
  return undefined;
}

/** Replaces the origin of every URL string under `api`, keeping paths. */
function rewriteOrigins(api: unknown, origin: string): unknown {
  if (typeof api === "string") {
    return api.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, origin);
  }
  if (typeof api === "object" && api !== null && !Array.isArray(api)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(api)) {
      out[k] = rewriteOrigins(v, origin);
    }
    return out;
  }
  return api;
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A `Retry-After` longer than this (ms) is not waited for: the download fails. */
const MAX_RETRY_AFTER_MS = 300_000;

const TRANSIENT_MESSAGE =
  /System error|Internal error|try again later|Service Unavailable|timed? ?out/i;

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
  readonly #configDir: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #venues = new Map<string, Promise<Venue>>();
  #config: ReturnType<typeof loadCcxtConfig> | undefined;
  #disposed = false;

  /** Creates the provider; nothing is loaded or read until a method needs it. */
  constructor(options: CCXTProviderOptions = {}) {
    if (options.baseUrl !== undefined) checkOrigin(options.baseUrl, "baseUrl");
    for (const [k, v] of Object.entries(options.exchanges ?? {})) {
      if (v.baseUrl !== undefined) {
        checkOrigin(v.baseUrl, `exchanges.${k}.baseUrl`);
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
    this.#configDir = options.configDir ?? "./config";
    this.#env = options.env ?? processEnv();
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  async #exchangeIds(): Promise<string[]> {
    const ccxt = await loadCcxt();
    return Object.keys(ccxt.exchanges).sort();
  }

  async #loadConfig() {
    this.#config ??= (async () => {
      const ids = await this.#exchangeIds();
      const cfg = await loadCcxtConfig(
        this.#configDir,
        ids,
        this.#options.createConfig ?? true,
      );
      if (cfg.created) {
        this.#log(`Created the ccxt config template ${cfg.path}`);
      }
      return cfg;
    })();
    try {
      return await this.#config;
    } catch (e) {
      this.#config = undefined;
      throw e;
    }
  }

  /** Effective settings of an exchange (plus a per-symbol override). */
  async #settings(
    exchange: string,
    symbol?: { market: string; period: string },
  ): Promise<ExchangeSettings> {
    const cfg = await this.#loadConfig();
    let legacy: ExchangeSettings | undefined;
    if (symbol) {
      const path = legacyConfigPath(
        this.#configDir,
        exchange,
        symbol.market,
        symbol.period,
      );
      legacy = await loadLegacyOverride(path);
      if (legacy) this.#log(`Using the per-symbol ccxt config ${path}`);
    }
    const programmatic = this.#options.exchanges?.[exchange] ??
      Object.entries(this.#options.exchanges ?? {}).find(([k]) =>
        k.toLowerCase() === exchange
      )?.[1];
    const layers: Array<ExchangeSettings | undefined> = [
      cfg.defaults,
      cfg.exchanges.get(exchange),
      legacy,
      this.#options.baseUrl !== undefined
        ? { baseUrl: this.#options.baseUrl }
        : undefined,
      programmatic as ExchangeSettings | undefined,
    ];
    const env: Record<string, string | undefined> = {};
    for (const name of Object.values(secretEnvNames(exchange))) {
      // The process environment is read only where that cannot prompt.
      if (this.#options.env === undefined && !envReadable(name)) continue;
      try {
        env[name] = this.#env[name];
      } catch {
        // no permission to read the environment: no secrets from it
      }
    }
    const merged = mergeSettings(exchange, layers, env);
    if (merged.baseUrl !== undefined) {
      merged.baseUrl = merged.baseUrl.replace(/\/+$/, "");
    }
    return merged;
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
    const settings = await this.#settings(exchange, symbol);
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
    const ccxt = await loadCcxt();
    const Cls = ccxt.exchanges[exchange]!;
    const options: Record<string, unknown> = { ...settings.options };
    if (
      settings.baseUrl !== undefined && options["fetchMarkets"] === undefined &&
      BASE_URL_MARKET_TYPES[exchange]
    ) {
      options["fetchMarkets"] = { types: BASE_URL_MARKET_TYPES[exchange] };
    }
    const config: Record<string, unknown> = { enableRateLimit: true };
    if (ROLLING_WINDOW_EXCHANGES.has(exchange)) {
      config["rateLimiterAlgorithm"] = "rollingWindow";
      config["rollingWindowSize"] = 60_000;
    }
    if (settings.rateLimit !== undefined) {
      config["rateLimit"] = settings.rateLimit;
    }
    if (settings.timeout !== undefined) config["timeout"] = settings.timeout;
    if (settings.apiKey !== undefined) config["apiKey"] = settings.apiKey;
    if (settings.secret !== undefined) config["secret"] = settings.secret;
    if (settings.password !== undefined) {
      config["password"] = settings.password;
    }
    let ex: CcxtExchange;
    try {
      ex = new Cls(config);
    } catch (e) {
      throw new ProviderError(
        `Cannot create the ccxt exchange ${exchange}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    // Options merge over ccxt's own defaults, key by key.
    for (const [k, v] of Object.entries(options)) ex.options[k] = v;
    if (settings.sandbox) {
      try {
        ex.setSandboxMode(true);
      } catch (e) {
        throw new ProviderError(
          `${exchange} has no sandbox in ccxt: ${
            (e as Error).message
          }; remove sandbox = true from the config`,
          { cause: e },
        );
      }
    }
    if (settings.baseUrl !== undefined) {
      ex.urls["api"] = rewriteOrigins(ex.urls["api"], settings.baseUrl);
    }
    const secrets = [settings.apiKey, settings.secret, settings.password]
      .filter((s): s is string => typeof s === "string" && s.length >= 4);
    // Count every HTTP request.
    const fetch = ex.fetch.bind(ex);
    ex.fetch = (...args: unknown[]) => {
      this.stats.requests++;
      return fetch(...args);
    };
    // Attach Retry-After to rate-limit errors and refuse malformed bodies
    // (ccxt would otherwise parse a truncated page as an empty one).
    const handleErrors = ex.handleErrors.bind(ex);
    const handleHttp = ex.handleHttpStatusCode.bind(ex);
    ex.handleErrors = (...args: unknown[]) => {
      const [code, reason, url, method, headers, body, response] = args as [
        number,
        string,
        string,
        string,
        unknown,
        string,
        unknown,
      ];
      try {
        const r = handleErrors(...args);
        if (r === undefined && code >= 400) {
          handleHttp(code, reason, url, method, body);
        }
        if (
          code < 300 && response === undefined && typeof body === "string" &&
          body.trim() !== ""
        ) {
          throw new ccxt.BadResponse(
            `${exchange} sent a malformed response (${body.length} bytes that are not JSON)`,
          );
        }
        return r;
      } catch (caught) {
        // An HTTP 429 is a rate limit whatever the exchange's own error
        // mapping made of its body (ccxt's kucoin turns 429000 into a plain
        // ExchangeError, which would read as permanent).
        const e = code === 429 && !(caught instanceof ccxt.DDoSProtection)
          ? new ccxt.RateLimitExceeded((caught as Error).message)
          : caught;
        const after = retryAfterMs(headers);
        if (after !== undefined && e && typeof e === "object") {
          (e as { retryAfterMs?: number }).retryAfterMs = after;
        }
        throw e;
      }
    };
    this.#log(
      `Created ccxt ${exchange}${
        settings.baseUrl ? ` at ${settings.baseUrl}` : ""
      }${settings.sandbox ? " (sandbox)" : ""}`,
    );
    return { ex, ccxt, settings, secrets, pausedUntil: 0 };
  }

  /** Converts a ccxt failure into a (transient) provider error without secrets. */
  #error(venue: Venue, e: unknown, what: string): ProviderError {
    if (e instanceof ProviderError) return e;
    const { ccxt } = venue;
    const redact = (text: string) => {
      for (const s of venue.secrets) text = text.split(s).join("***");
      return text;
    };
    const message = redact(e instanceof Error ? e.message : String(e));
    // The ccxt error stays the cause (its class tells what failed): take any
    // credential out of it too, as verbose reports print causes.
    for (
      let cur: unknown = e, depth = 0;
      cur instanceof Error && depth < 5;
      cur = cur.cause, depth++
    ) {
      try {
        cur.message = redact(cur.message);
        if (cur.stack !== undefined) cur.stack = redact(cur.stack);
      } catch {
        // a frozen error: left as it is
      }
    }
    const codeMatch = /"(?:code|retCode)"\s*:\s*"?(-?\d+)/.exec(message);
    const code = codeMatch?.[1] ??
      (e instanceof Error ? e.constructor.name : undefined);
    const full = `${what}: ${message}`;
    const opts = code !== undefined ? { code, cause: e } : { cause: e };
    // Errors that are not ccxt's come from the network layer (a connection
    // reset while reading the body, for example): transient too.
    const isCcxt = e instanceof ccxt.BaseError;
    const failed = e instanceof ccxt.OperationFailed;
    const plainExchangeError = e instanceof ccxt.ExchangeError &&
      (e as Error).constructor === ccxt.ExchangeError;
    const transient = !isCcxt || failed ||
      (plainExchangeError && TRANSIENT_MESSAGE.test(message));
    if (transient) {
      const after = (e as { retryAfterMs?: number }).retryAfterMs;
      return new TransientProviderError(
        full,
        after !== undefined ? { ...opts, retryAfterMs: after } : opts,
      );
    }
    return new ProviderError(full, opts);
  }

  /** Runs a ccxt call with retries, error conversion and abort. */
  #call<T>(
    venue: Venue,
    what: string,
    fn: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return withRetry(async () => {
      // A rate-limit answer pauses every request to the exchange, not just
      // the one that got it: requests that keep coming after a 429 get the
      // IP banned (418).
      const pause = venue.pausedUntil - Date.now();
      if (pause > 0) await sleep(pause, signal);
      let error: ProviderError;
      try {
        return await abortable(fn(), signal);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        error = this.#error(venue, e, what);
      }
      const wait = error instanceof TransientProviderError
        ? error.retryAfterMs
        : undefined;
      if (wait !== undefined && wait <= MAX_RETRY_AFTER_MS) {
        venue.pausedUntil = Math.max(venue.pausedUntil, Date.now() + wait);
      }
      if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) {
        throw new ProviderError(
          `${error.message} (the exchange asks to wait ${
            Math.round(wait / 1000)
          } s, probably an IP ban; try again later)`,
          error.code !== undefined
            ? { code: error.code, cause: error }
            : { cause: error },
        );
      }
      throw error;
    }, {
      maxRetries: this.#options.maxRetries ?? 5,
      baseDelayMs: this.#options.retryBaseDelayMs ?? 500,
      maxDelayMs: this.#options.retryMaxDelayMs ?? 30_000,
      signal,
      onRetry: (attempt, error, delay) => {
        this.stats.retries++;
        this.#log(
          `Retry ${attempt} of ${what} in ${delay} ms: ${
            (error as Error).message
          }`,
        );
      },
    });
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
    const markets = await this.#markets(venue, signal);
    const exact = markets[market] ?? markets[market.toUpperCase()];
    if (exact) return exact;
    const lower = market.toLowerCase();
    const found = Object.values(markets).find((m) =>
      m.symbol.toLowerCase() === lower
    );
    if (found) return found;
    const base = market.split("/")[0]!.toUpperCase();
    const similar = Object.keys(markets)
      .filter((s) => s.split("/")[0]!.toUpperCase() === base)
      .slice(0, 5)
      .map((s) => `${exchange.toUpperCase()}:${s}`);
    throw new ProviderError(
      `Unknown symbol "${exchange.toUpperCase()}:${market}" on ${exchange}${
        similar.length ? ` (similar: ${similar.join(", ")})` : ""
      }: list the valid ones with "pyne-data symbols ccxt ${exchange}" (library: listSymbols({ search: "${exchange}:" }))`,
      { code: "BadSymbol" },
    );
  }

  #timeframeKey(venue: Venue, exchange: string, tf: Timeframe): string {
    const has = venue.ex.has["fetchOHLCV"];
    if (has !== true && has !== "emulated") {
      throw new ProviderError(
        `${exchange} does not offer candles in ccxt (no fetchOHLCV); pick another exchange`,
        { code: "NotSupported" },
      );
    }
    const map = timeframeMap(venue.ex.timeframes);
    const key = map.get(tf.period);
    if (key === undefined) {
      throw new ProviderError(
        `Timeframe ${tf.period} is not supported by ${exchange}; supported: ${
          [...map.keys()].join(", ")
        } (TradingView notation)`,
        { code: "BadTimeframe" },
      );
    }
    return key;
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
    this.#timeframeKey(venue, exchange, tf);
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
    const tfKey = this.#timeframeKey(venue, exchange, tf);
    let pageSize = request.pageSize ?? venue.settings.pageSize ??
      CCXT_PAGE_SIZES[exchange] ?? DEFAULT_PAGE_SIZE;
    const venueMax = CCXT_PAGE_SIZES[exchange];
    if (venueMax !== undefined && pageSize > venueMax) {
      this.#log(
        `Page size ${pageSize} is above ${exchange}'s maximum: using ${venueMax}`,
      );
      pageSize = venueMax;
    }
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
    let from = request.from;
    if (request.resumeAfter !== undefined) {
      from = Math.max(from, request.resumeAfter + 1);
    }
    if (!(from < request.to)) return;
    const now = await this.#serverTime(venue, signal);
    const label = `${exchange.toUpperCase()}:${m.symbol}`;
    let offGrid = 0;
    yield* pageCandles({
      timeframe: tf,
      from,
      to: request.to,
      pageSize,
      concurrency,
      now,
      signal,
      rangeProbes: RANGE_EXCHANGES.has(exchange),
      onOffGrid: (t) => {
        if (offGrid++ === 0) {
          this.#log(
            `${label} sent ${tf.period} candles that do not open on the UTC grid of ${tf.period} (first: ${
              new Date(t).toISOString()
            }); the exchange's candles may be aligned to another time zone`,
          );
        }
      },
      fetch: (since, until, limit, sig) =>
        this.#call(
          venue,
          `Cannot fetch ${label} ${tf.period} candles from ${
            new Date(since).toISOString()
          }`,
          () => venue.ex.fetchOHLCV(m.symbol, tfKey, since, limit, { until }),
          sig,
        ),
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

function checkOrigin(url: string, what: string): void {
  if (typeof url !== "string" || !/^https?:\/\/[^/\s@]+\/?$/i.test(url)) {
    throw new TypeError(
      `${what} must be an origin like "http://127.0.0.1:8080" (scheme, host, port; no path, no user:password@), got ${
        JSON.stringify(url.replace(/\/\/[^/]*@/, "//***@"))
      }`,
    );
  }
}

function processEnv(): Record<string, string | undefined> {
  const p = (globalThis as {
    process?: { env?: Record<string, string | undefined> };
  }).process;
  if (p?.env) return p.env;
  const d = (globalThis as {
    Deno?: { env?: { toObject(): Record<string, string> } };
  }).Deno;
  try {
    return d?.env?.toObject() ?? {};
  } catch {
    return {};
  }
}
