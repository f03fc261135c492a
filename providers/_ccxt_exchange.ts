/**
 * One ccxt exchange instance, built from its settings: the ccxt module's
 * types (as far as the provider uses them), and the construction of a
 * {@linkcode Venue} — rate limiter, credentials, sandbox, base URL rewrite,
 * request counting, `Retry-After` and malformed-body handling. Private to
 * the ccxt provider.
 *
 * @module
 */

import { ProviderError } from "./provider.ts";
import type { ExchangeSettings } from "./_ccxt_config.ts";
import type { CcxtMarket } from "./_ccxt_symbols.ts";
import type { OhlcvRow } from "./_ccxt_paging.ts";
import { ccxtVenue } from "./_ccxt_venues.ts";

type ErrorClass = abstract new (...args: never[]) => Error;

/** A ccxt exchange instance, typed as far as the provider uses it. */
export interface CcxtExchange {
  /** ccxt exchange id. */
  id: string;
  /** Display name. */
  name?: string;
  /** Loaded markets by unified symbol. */
  markets?: Record<string, CcxtMarket>;
  /** Unified symbols of the loaded markets. */
  symbols?: string[];
  /** The exchange's timeframes (ccxt key to venue key). */
  timeframes?: Record<string, unknown>;
  /** How prices and amounts are rounded (`DECIMAL_PLACES`, ...). */
  precisionMode: number;
  /** Capabilities (`fetchOHLCV`, `fetchTime`, ...). */
  has: Record<string, unknown>;
  /** The exchange's URLs (`api` holds the REST origins). */
  urls: Record<string, unknown>;
  /** `exchange.options`. */
  options: Record<string, unknown>;
  /** Milliseconds per unit of request cost (ccxt's throttle). */
  rateLimit?: number;
  /** Request timeout, ms (ccxt's covers the wait for the headers only). */
  timeout?: number;
  /** Loads (and caches) the markets. */
  loadMarkets(): Promise<Record<string, CcxtMarket>>;
  /** Parses one venue row into `[time, open, high, low, close, volume]`. */
  parseOHLCV(...args: unknown[]): unknown;
  /** One page of candles. */
  fetchOHLCV(
    symbol: string,
    timeframe: string,
    since?: number,
    limit?: number,
    params?: Record<string, unknown>,
  ): Promise<OhlcvRow[]>;
  /** The exchange's clock. */
  fetchTime(): Promise<number | undefined>;
  /** The ticker of a market. */
  fetchTicker(
    symbol: string,
  ): Promise<{ last?: number | null; close?: number | null }>;
  /** Switches to the sandbox (testnet). */
  setSandboxMode(on: boolean): void;
  /** Closes connections. */
  close?(): Promise<unknown>;
  /** ccxt's error hook of an HTTP response. */
  handleErrors(...args: unknown[]): unknown;
  /** ccxt's HTTP status mapping. */
  handleHttpStatusCode(...args: unknown[]): unknown;
  /** ccxt's HTTP request. */
  fetch(...args: unknown[]): Promise<unknown>;
}

/** The lazily loaded ccxt module, typed as far as the provider uses it. */
export interface CcxtModule {
  /** Exchange classes by id. */
  exchanges: Record<
    string,
    new (config: Record<string, unknown>) => CcxtExchange
  >;
  /** Base of every ccxt error. */
  BaseError: ErrorClass;
  /** Failures that are not the request's fault (network, exchange down). */
  OperationFailed: ErrorClass;
  /** Errors the exchange answered with. */
  ExchangeError: ErrorClass;
  /** A response that cannot be read. */
  BadResponse: new (message: string) => Error;
  /** A rate limit answer. */
  RateLimitExceeded: new (message: string) => Error;
  /** Rate limit and DDoS protection answers. */
  DDoSProtection: ErrorClass;
  /** The exchange is down or failing (a 5xx). */
  ExchangeNotAvailable: new (message: string) => Error;
  /** No answer in time. */
  RequestTimeout: new (message: string) => Error;
}

/** A ccxt instance for one exchange and its settings, with its request state. */
export interface Venue {
  /** The ccxt instance. */
  readonly ex: CcxtExchange;
  /** The ccxt module (for its error classes). */
  readonly ccxt: CcxtModule;
  /** The settings it was built from. */
  readonly settings: ExchangeSettings;
  /** Credentials to redact from messages. */
  readonly secrets: string[];
  /** The markets, once requested. */
  markets?: Promise<Record<string, CcxtMarket>> | undefined;
  /** No request starts before this time (ms): the exchange asked to back off. */
  pausedUntil: number;
}

/** What {@linkcode createVenue} reports to the provider. */
export interface VenueHooks {
  /** Called for every HTTP request the instance sends. */
  readonly onRequest: () => void;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** Reads a `Retry-After` header (seconds or HTTP date) as ms. */
export function retryAfterMs(headers: unknown): number | undefined {
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
export function rewriteOrigins(api: unknown, origin: string): unknown {
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

/** Throws a `TypeError` unless `url` is a bare origin (`what` names the option). */
export function checkOrigin(url: string, what: string): void {
  if (typeof url !== "string" || !/^https?:\/\/[^/\s@]+\/?$/i.test(url)) {
    throw new TypeError(
      `${what} must be an origin like "http://127.0.0.1:8080" (scheme, host, port; no path, no user:password@), got ${
        JSON.stringify(url.replace(/\/\/[^/]*@/, "//***@"))
      }`,
    );
  }
}

/** Candle times before this (1973-03-03, 1e11 ms) are seconds read as ms. */
const MIN_CANDLE_MS = 1e11;

/** Builds the ccxt instance of `exchange` (a known ccxt id) from its settings. */
export function createVenue(
  ccxt: CcxtModule,
  exchange: string,
  settings: ExchangeSettings,
  hooks: VenueHooks,
): Venue {
  const row = ccxtVenue(exchange);
  const Cls = ccxt.exchanges[exchange]!;
  const options: Record<string, unknown> = { ...settings.options };
  if (
    settings.baseUrl !== undefined && options["fetchMarkets"] === undefined &&
    row.baseUrlMarketTypes
  ) {
    options["fetchMarkets"] = { types: [...row.baseUrlMarketTypes] };
  }
  // Candles and market precision are public: with credentials, keep market
  // loading off the signed wallet and margin endpoints (a key without those
  // permissions would otherwise fail every download), unless the config asks.
  for (const [k, v] of Object.entries(row.publicOptions ?? {})) {
    if (options[k] === undefined) options[k] = v;
  }
  const config: Record<string, unknown> = { enableRateLimit: true };
  if (row.weight !== undefined) {
    config["rateLimiterAlgorithm"] = "rollingWindow";
    config["rollingWindowSize"] = row.weight.windowMs;
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
    hooks.onRequest();
    return fetch(...args);
  };
  // A candle time before 1973 is a venue sending seconds for milliseconds:
  // ccxt's since-filter would drop every such row and the page would read as
  // empty (data silently lost), so the answer is refused and asked again.
  const parseOHLCV = ex.parseOHLCV.bind(ex);
  ex.parseOHLCV = (...args: unknown[]) => {
    const row = parseOHLCV(...args);
    const t = Array.isArray(row) ? row[0] : undefined;
    if (typeof t === "number" && t < MIN_CANDLE_MS) {
      throw new ccxt.BadResponse(
        `${exchange} sent a candle time of ${t} (${
          new Date(t).toISOString()
        }): its times look like seconds, not milliseconds`,
      );
    }
    return row;
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
      // Likewise a 418 (Binance's ban, with Retry-After), and any 5xx is
      // the venue's own failure: retried, whatever body it came with (ccxt's
      // binance and okx make a plain ExchangeError of a gateway's JSON).
      const message = (caught as Error)?.message ?? String(caught);
      const e = (code === 429 || code === 418) &&
          !(caught instanceof ccxt.DDoSProtection)
        ? new ccxt.RateLimitExceeded(message)
        : code >= 500 && code <= 599 &&
            !(caught instanceof ccxt.OperationFailed)
        ? new ccxt.ExchangeNotAvailable(message)
        : caught;
      const after = retryAfterMs(headers);
      if (after !== undefined && e && typeof e === "object") {
        (e as { retryAfterMs?: number }).retryAfterMs = after;
      }
      throw e;
    }
  };
  hooks.log(
    `Created ccxt ${exchange}${
      settings.baseUrl ? ` at ${settings.baseUrl}` : ""
    }${settings.sandbox ? " (sandbox)" : ""}`,
  );
  return { ex, ccxt, settings, secrets, pausedUntil: 0 };
}
