/**
 * Capital.com provider: stocks, forex, indices, commodities and crypto CFDs
 * through Capital.com's REST API.
 *
 * Credentials come from `config/capitalcom.toml` (a commented template is
 * written there on first use), from the environment variables
 * `PYNE_CAPITALCOM_API_KEY`, `PYNE_CAPITALCOM_IDENTIFIER` and
 * `PYNE_CAPITALCOM_PASSWORD` (plus `PYNE_CAPITALCOM_DEMO`,
 * `PYNE_CAPITALCOM_BASE_URL`), or from the constructor options.
 *
 * @example
 * ```ts
 * import { CapitalComProvider } from "@pyne/data/providers/capitalcom";
 * import { parseTimeframe } from "@pyne/data/format";
 * import { startCapitalComEmulator } from "@pyne/data/testing";
 *
 * // An offline Capital.com; for the real one leave `baseUrl` and the
 * // emulator's credentials out (they come from config/capitalcom.toml).
 * await using venue = await startCapitalComEmulator();
 * await using provider = new CapitalComProvider({
 *   configDir: await Deno.makeTempDir(),
 *   baseUrl: venue.url,
 *   ...venue.credentials,
 * });
 * const tf = parseTimeframe("60");
 * for await (const batch of provider.candles({
 *   symbol: "EURUSD", timeframe: tf,
 *   from: Date.UTC(2025, 0, 6), to: Date.UTC(2025, 0, 10),
 * })) {
 *   console.log(batch.time.length);
 * }
 * ```
 *
 * @module
 */

import type { SymbolInfo } from "../format/symbol_info.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import {
  CAPITALCOM_ENV,
  type CapitalComSettingOverrides,
  type CapitalComSettings,
  loadCapitalComSettings,
  requireCredentials,
} from "./_capitalcom_config.ts";
import { SlidingWindowLimiter } from "./_capitalcom_rate_limiter.ts";
import { CapitalComClient, redactSecrets } from "./_capitalcom_session.ts";
import {
  CAPITALCOM_RESOLUTIONS,
  capitalComCandles,
  capitalComResolution,
} from "./_capitalcom_candles.ts";
import {
  capitalComSymbolInfo,
  capitalComSymbolType,
} from "./_capitalcom_symbol_info.ts";
import {
  type CandlePlan,
  type CandleRequest,
  type ListSymbolsOptions,
  type Provider,
  ProviderError,
  type ProviderOptions,
  type ProviderStats,
  type SymbolListing,
} from "./provider.ts";
import { planCapitalComCandles } from "./_capitalcom_plan.ts";
import process from "node:process";

export { CAPITALCOM_ENV } from "./_capitalcom_config.ts";
export {
  CAPITALCOM_RESOLUTIONS,
  capitalComResolution,
  capitalComTime,
  parseCapitalComTime,
} from "./_capitalcom_candles.ts";
export { capitalComSymbolType } from "./_capitalcom_symbol_info.ts";
// Types of the public signatures, re-exported so this entry point documents itself.
export type {
  CandlePlan,
  CandleRequest,
  ListSymbolsOptions,
  PlannedSkip,
  Provider,
  ProviderOptions,
  ProviderStats,
  RequestBudget,
  SymbolListing,
} from "./provider.ts";
export type { CandleBatch, CandleExtra } from "../format/candle_batch.ts";
export type {
  OpeningHours,
  SessionTime,
  SymbolInfo,
  SymbolType,
} from "../format/symbol_info.ts";
export type { Timeframe, TimeframeUnit } from "../format/timeframe.ts";

/** Options of {@linkcode CapitalComProvider}; all optional, the config file fills the rest. */
export interface CapitalComProviderOptions extends ProviderOptions {
  /** API key (overrides the config file and environment). */
  readonly apiKey?: string | undefined;
  /** Login e-mail (overrides the config file and environment). */
  readonly identifier?: string | undefined;
  /** API key password (overrides the config file and environment). */
  readonly password?: string | undefined;
  /** Use the demo host. @default {false} */
  readonly demo?: boolean | undefined;
  /** Host override (a proxy, the loopback emulator). */
  readonly baseUrl?: string | undefined;
  /** Send the password RSA-encrypted. @default {false} */
  readonly encryptPassword?: boolean | undefined;
  /** Retries of a failed request. @default {5} */
  readonly maxRetries?: number | undefined;
  /** Per-request timeout in ms. @default {30000} */
  readonly timeoutMs?: number | undefined;
  /** First retry backoff delay in ms. @default {500} */
  readonly retryBaseDelayMs?: number | undefined;
  /** Requests allowed per `rateLimitWindowMs`. @default {10} */
  readonly rateLimit?: number | undefined;
  /**
   * Window of the request limit in ms. The default keeps 10 requests per 1.1 s,
   * under Capital.com's 10 per second even with network jitter. @default {1100}
   */
  readonly rateLimitWindowMs?: number | undefined;
  /** Least time between two logins in ms (Capital.com allows 1 per second). @default {1100} */
  readonly loginIntervalMs?: number | undefined;
  /**
   * Clock deciding which bar is still forming and where windows end (ms);
   * the venue's clock (from its `Date` headers) is used instead when it is
   * behind. @default {Date.now}
   */
  readonly now?: (() => number) | undefined;
}

/**
 * The Capital.com provider. Sessions are opened lazily on the first request
 * and closed when the provider is disposed.
 */
export class CapitalComProvider implements Provider {
  /** Registry name. */
  readonly name: string = "capitalcom";
  /** Request and retry counters. */
  readonly stats: ProviderStats = { requests: 0, retries: 0 };

  readonly #options: CapitalComProviderOptions;
  readonly #configDir: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #limiter: SlidingWindowLimiter;
  readonly #loginLimiter: SlidingWindowLimiter;
  readonly #clients = new Map<string, CapitalComClient>();
  readonly #secrets = new Set<string>();
  #disposed = false;
  #skewLogged = false;

  /** Creates the provider; nothing is read or sent until first use. */
  constructor(options: CapitalComProviderOptions = {}) {
    this.#options = options;
    this.#configDir = options.configDir ?? "./config";
    this.#env = options.env ?? process.env;
    for (
      const s of [
        options.apiKey,
        options.identifier,
        options.password,
        this.#env[CAPITALCOM_ENV.apiKey],
        this.#env[CAPITALCOM_ENV.identifier],
        this.#env[CAPITALCOM_ENV.password],
      ]
    ) {
      if (s) this.#secrets.add(s);
    }
    this.#limiter = new SlidingWindowLimiter({
      limit: options.rateLimit ?? 10,
      windowMs: options.rateLimitWindowMs ?? 1100,
    });
    this.#loginLimiter = new SlidingWindowLimiter({
      limit: 1,
      windowMs: options.loginIntervalMs ?? 1100,
    });
  }

  #redact(text: string): string {
    return redactSecrets(text, [...this.#secrets]);
  }

  #log(line: string): void {
    this.#options.log?.(this.#redact(line));
  }

  #now(): number {
    return this.#options.now ? this.#options.now() : Date.now();
  }

  /**
   * The time that decides which bars are final and where windows may end:
   * this computer's clock, or the venue's (from its `Date` headers) when
   * that is behind, so a fast local clock never makes a forming bar final.
   */
  #venueNow(client: CapitalComClient): number {
    const local = this.#now();
    const venue = client.venueNow();
    if (venue === undefined || venue >= local) return local;
    if (!this.#skewLogged && local - venue > 2000) {
      this.#skewLogged = true;
      this.#log(
        `Capital.com's clock is ${
          Math.round((local - venue) / 1000)
        } s behind this computer's; using the venue's clock to tell closed bars from forming ones`,
      );
    }
    return venue;
  }

  async #settings(
    symbol?: string,
    period?: string,
  ): Promise<CapitalComSettings> {
    const o = this.#options;
    const overrides: CapitalComSettingOverrides = {
      apiKey: o.apiKey,
      identifier: o.identifier,
      password: o.password,
      demo: o.demo,
      baseUrl: o.baseUrl,
      encryptPassword: o.encryptPassword,
      maxRetries: o.maxRetries,
      timeoutMs: o.timeoutMs,
    };
    return await loadCapitalComSettings(
      this.#configDir,
      this.#env,
      overrides,
      symbol,
      period,
      (line) => this.#log(line),
    );
  }

  async #client(symbol?: string, period?: string): Promise<CapitalComClient> {
    if (this.#disposed) {
      throw new ProviderError("The Capital.com provider was disposed");
    }
    const settings = await this.#settings(symbol, period);
    const credentials = requireCredentials(settings);
    for (const s of Object.values(credentials)) this.#secrets.add(s);
    const key = JSON.stringify([
      settings.baseUrl,
      credentials.apiKey,
      credentials.identifier,
      credentials.password,
    ]);
    let client = this.#clients.get(key);
    if (!client) {
      const where = settings.symbolConfigPath
        ? `${settings.symbolConfigPath} or ${settings.configPath}`
        : settings.configPath;
      client = new CapitalComClient({
        baseUrl: settings.baseUrl,
        credentials,
        encryptPassword: settings.encryptPassword,
        maxRetries: settings.maxRetries,
        timeoutMs: settings.timeoutMs,
        retryBaseDelayMs: this.#options.retryBaseDelayMs ?? 500,
        limiter: this.#limiter,
        loginLimiter: this.#loginLimiter,
        stats: this.stats,
        log: (line) => this.#log(line),
        credentialsHint:
          `api_key, identifier and password in ${where} (or ${CAPITALCOM_ENV.apiKey}, ${CAPITALCOM_ENV.identifier}, ${CAPITALCOM_ENV.password})`,
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Supported timeframes: 1, 5, 15, 30, 60, 240, 1D, 1W. */
  timeframes(_symbol?: string): Promise<string[]> {
    return Promise.resolve(Object.keys(CAPITALCOM_RESOLUTIONS));
  }

  /**
   * The epic in upper case (`"eurusd"` → `"EURUSD"`); a `CAPITALCOM:` prefix is
   * dropped. Throws a `ProviderError` for characters an epic cannot hold.
   */
  normalizeSymbol(symbol: string): string {
    if (typeof symbol !== "string") {
      throw new TypeError(`A symbol must be a string, got ${typeof symbol}`);
    }
    const s = symbol.trim().replace(/^capitalcom:/i, "").toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9._\-]*$/.test(s)) {
      throw new ProviderError(
        this.#redact(
          `Invalid Capital.com symbol ${
            JSON.stringify(symbol)
          }: expected an epic such as EURUSD, US500, AAPL or GOLD (letters, digits, "." "_" "-")`,
        ),
        { code: "invalid.symbol" },
      );
    }
    return s;
  }

  /** Markets matching `search` (epic or name) via `GET /api/v1/markets`. */
  async listSymbols(
    options: ListSymbolsOptions = {},
  ): Promise<SymbolListing[]> {
    const client = await this.#client();
    const query = options.search ? { searchTerm: options.search } : undefined;
    const body = await client.request(
      "GET",
      "/api/v1/markets",
      query,
      options.signal,
    ) as { markets?: unknown };
    if (!Array.isArray(body?.markets)) {
      throw new ProviderError(
        "Capital.com GET /api/v1/markets answered without a markets list",
        { code: "bad.response" },
      );
    }
    const out: SymbolListing[] = [];
    for (const m of body.markets as Record<string, unknown>[]) {
      if (typeof m?.epic !== "string") continue;
      out.push({
        symbol: m.epic,
        description: typeof m.instrumentName === "string"
          ? m.instrumentName
          : undefined,
        type: capitalComSymbolType(
          typeof m.instrumentType === "string" ? m.instrumentType : undefined,
        ),
      });
    }
    out.sort((
      a,
      b,
    ) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    return out;
  }

  /** Symbol information from `GET /api/v1/markets/{epic}`. */
  async symbolInfo(symbol: string, timeframe: Timeframe): Promise<SymbolInfo> {
    const tf = parseTimeframe(timeframe);
    capitalComResolution(tf);
    const epic = this.normalizeSymbol(symbol);
    const client = await this.#client(epic, tf.period);
    return await capitalComSymbolInfo(client, epic, tf, {
      now: () => this.#now(),
      log: (line) => this.#log(line),
    });
  }

  /**
   * Closed candles (bid side) of the request's range, in order, one batch per
   * window of up to `pageSize` (default 1000) bars; `concurrency` windows
   * (default 3) are fetched at once, all through the shared rate limiter.
   * With `extraData`, each candle carries `ask_open`, `ask_high`, `ask_low`,
   * `ask_close` and `spread` (ask close - bid close).
   */
  async *candles(request: CandleRequest): AsyncIterable<CandleBatch> {
    const tf = parseTimeframe(request.timeframe);
    const resolution = capitalComResolution(tf);
    const epic = this.normalizeSymbol(request.symbol);
    if (!Number.isFinite(request.from) || !Number.isFinite(request.to)) {
      throw new RangeError(
        `Candle request range must be finite ms, got from ${request.from} to ${request.to}`,
      );
    }
    const client = await this.#client(epic, tf.period);
    yield* capitalComCandles(request, { client, epic, tf, resolution }, {
      venueNow: (c) => this.#venueNow(c),
      log: (line) => this.#log(line),
    });
  }

  /**
   * What `candles()` would request for `request`: its `/prices` windows and
   * their cost against the rate limit. Offline: opens no session.
   */
  planCandles(request: CandleRequest): Promise<CandlePlan> {
    const tf = parseTimeframe(request.timeframe);
    capitalComResolution(tf);
    this.normalizeSymbol(request.symbol);
    return Promise.resolve(
      planCapitalComCandles(request, tf, this.#now(), {
        limit: this.#options.rateLimit ?? 10,
        windowMs: this.#options.rateLimitWindowMs ?? 1100,
      }),
    );
  }

  /** Closes every open session (`DELETE /api/v1/session`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((c) => c.close()));
  }
}
