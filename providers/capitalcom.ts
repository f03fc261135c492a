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
 * ```ts ignore
 * import { CapitalComProvider } from "@pyne/data/providers/capitalcom";
 * import { parseTimeframe } from "@pyne/data/format";
 *
 * await using provider = new CapitalComProvider({ configDir: "./config" });
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

import {
  allocBatch,
  type CandleBatch,
  type CandleExtra,
} from "../format/candle_batch.ts";
import type { SymbolInfo, SymbolType } from "../format/symbol_info.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import { tickGridFromMintick } from "../format/tick_grid.ts";
import {
  CAPITALCOM_ENV,
  type CapitalComSettingOverrides,
  type CapitalComSettings,
  loadCapitalComSettings,
  requireCredentials,
} from "./_capitalcom_config.ts";
import {
  type CapitalComOpeningHours,
  convertOpeningHours,
} from "./_capitalcom_hours.ts";
import { SlidingWindowLimiter } from "./_capitalcom_rate_limiter.ts";
import { CapitalComClient, redactSecrets } from "./_capitalcom_session.ts";
import {
  type CandleRequest,
  type ListSymbolsOptions,
  type Provider,
  ProviderError,
  type ProviderOptions,
  type ProviderStats,
  type SymbolListing,
} from "./provider.ts";
import process from "node:process";

export { CAPITALCOM_ENV } from "./_capitalcom_config.ts";
// Types of the public signatures, re-exported so this entry point documents itself.
export type {
  CandleRequest,
  ListSymbolsOptions,
  Provider,
  ProviderOptions,
  ProviderStats,
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

/** Capital.com resolutions by canonical TradingView period. */
export const CAPITALCOM_RESOLUTIONS: Readonly<Record<string, string>> = {
  "1": "MINUTE",
  "5": "MINUTE_5",
  "15": "MINUTE_15",
  "30": "MINUTE_30",
  "60": "HOUR",
  "240": "HOUR_4",
  "1D": "DAY",
  "1W": "WEEK",
};

const TYPES: Readonly<Record<string, SymbolType>> = {
  CURRENCIES: "forex",
  SHARES: "stock",
  INDICES: "index",
  CRYPTOCURRENCIES: "crypto",
  COMMODITIES: "commodity",
};

/** Zone names meaning UTC in `openingHours.zone`. */
const UTC_ZONES: ReadonlySet<string> = new Set([
  "UTC",
  "Etc/UTC",
  "GMT",
  "Etc/GMT",
  "Z",
]);
/** The zone opening hours given in UTC are expressed in. */
const HOURS_ZONE = "America/New_York";

/** Largest `max` of `/prices`. */
const MAX_PAGE = 1000;
const MINUTE = 60_000;
/** Windows fetched at once by default (the rate limiter caps the request rate). */
const DEFAULT_CONCURRENCY = 3;
/** How far short of now windows end after the venue refused one as in the future. */
const SKEW_HORIZON = 10 * MINUTE;

/** A clearer error for an epic Capital.com does not know; other errors unchanged. */
function unknownEpic(error: unknown, epic: string): unknown {
  if (error instanceof ProviderError && error.code === "error.not-found.epic") {
    return new ProviderError(
      `Capital.com has no market with the epic ${
        JSON.stringify(epic)
      } (HTTP 404 error.not-found.epic); search the markets by name to find its epic`,
      { code: error.code, cause: error },
    );
  }
  return error;
}

/** Maps Capital.com's instrument type to PyneCore's symbol type. */
export function capitalComSymbolType(type: string | undefined): SymbolType {
  return (type && TYPES[type]) || "other";
}

/** The Capital.com resolution of a timeframe, or a `ProviderError` naming the supported ones. */
export function capitalComResolution(timeframe: Timeframe): string {
  const r = CAPITALCOM_RESOLUTIONS[timeframe.period];
  if (!r) {
    throw new ProviderError(
      `Capital.com has no ${timeframe.period} timeframe; supported: ${
        Object.keys(CAPITALCOM_RESOLUTIONS).join(", ")
      }`,
      { code: "unsupported.timeframe" },
    );
  }
  return r;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, no offset (what `/prices` takes). */
export function capitalComTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Parses a `snapshotTimeUTC` (UTC without an offset) to ms; NaN when unreadable. */
export function parseCapitalComTime(text: unknown): number {
  if (typeof text !== "string") return NaN;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(text);
  return Date.parse(hasZone ? text : `${text}Z`);
}

function decimals(x: number): number {
  const s = String(x);
  if (s.includes("e-")) return Number(s.split("e-")[1]) + 1;
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

function diff(a: number, b: number): number {
  return Number(
    (a - b).toFixed(Math.min(12, Math.max(decimals(a), decimals(b)))),
  );
}

function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

interface PriceSide {
  bid?: unknown;
  ask?: unknown;
}
interface PriceBar {
  snapshotTimeUTC?: unknown;
  openPrice?: PriceSide;
  highPrice?: PriceSide;
  lowPrice?: PriceSide;
  closePrice?: PriceSide;
  lastTradedVolume?: unknown;
}

interface ParsedBar {
  t: number;
  p: PriceBar;
}

interface WindowResult {
  bars: ParsedBar[];
  /** A forming bar was met: nothing later is final. */
  forming: boolean;
  /** The page cursor stopped advancing. */
  stalled: boolean;
  error?: unknown;
}

interface WindowJob {
  client: CapitalComClient;
  path: string;
  resolution: string;
  period: number;
  pageSize: number;
  /** Bars a window may cover; halved when the venue refuses the range. */
  span: number;
  /** How far short of now windows end. */
  horizon: number;
  signal: AbortSignal | undefined;
}

function toBatch(bars: readonly ParsedBar[], withExtra: boolean): CandleBatch {
  const n = bars.length;
  const b = allocBatch(n);
  const extra: CandleExtra[] | undefined = withExtra ? new Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const { t, p } = bars[i]!;
    const bc = num(p.closePrice?.bid);
    b.time[i] = t;
    b.open[i] = num(p.openPrice?.bid);
    b.high[i] = num(p.highPrice?.bid);
    b.low[i] = num(p.lowPrice?.bid);
    b.close[i] = bc;
    b.volume[i] = num(p.lastTradedVolume);
    if (extra) {
      const ac = num(p.closePrice?.ask);
      extra[i] = {
        ask_open: num(p.openPrice?.ask),
        ask_high: num(p.highPrice?.ask),
        ask_low: num(p.lowPrice?.ask),
        ask_close: ac,
        spread: diff(ac, bc),
      };
    }
  }
  return extra ? { ...b, extra } : b;
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

  /** The venue's zone when `Intl` knows it, else UTC (logged). */
  #zone(zone: string, epic: string): string {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      return zone;
    } catch {
      this.#log(
        `Capital.com market ${epic} has opening hours in an unknown time zone ${
          JSON.stringify(zone)
        }; using UTC`,
      );
      return "UTC";
    }
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
    const body = await client.request(
      "GET",
      `/api/v1/markets/${encodeURIComponent(epic)}`,
    ).catch((e) => {
      throw unknownEpic(e, epic);
    }) as {
      instrument?: Record<string, unknown>;
      dealingRules?: Record<string, { value?: unknown } | undefined>;
      snapshot?: Record<string, unknown>;
    };
    const inst = body?.instrument;
    if (!inst || typeof inst !== "object") {
      throw new ProviderError(
        `Capital.com GET /api/v1/markets/${epic} answered without an instrument`,
        { code: "bad.response" },
      );
    }
    const mintick = num(body.dealingRules?.minStepDistance?.value);
    if (!(mintick > 0)) {
      throw new ProviderError(
        `Capital.com market ${epic} has no usable minStepDistance (got ${
          JSON.stringify(body.dealingRules?.minStepDistance?.value)
        })`,
        { code: "bad.response" },
      );
    }
    let grid: { minmove: number; pricescale: number };
    try {
      grid = tickGridFromMintick(mintick);
    } catch (e) {
      throw new ProviderError(
        `Capital.com market ${epic} has a minStepDistance of ${mintick} that no tick grid can hold: ${
          (e as Error).message
        }`,
        { code: "bad.response", cause: e },
      );
    }
    const { minmove, pricescale } = grid;
    const hours = (inst.openingHours ?? {}) as CapitalComOpeningHours;
    // Capital.com gives the hours in UTC as they are today; they follow New
    // York's clock (forex's 17:00 rollover, US sessions) and move by an hour
    // in UTC with daylight saving time. Expressed in New York time (like
    // PyneCore's Capital.com files) they hold all year.
    const sessions = convertOpeningHours(
      hours,
      UTC_ZONES.has(hours.zone ?? "UTC")
        ? { zone: HOURS_ZONE, at: this.#now() }
        : {},
    );
    const pair = typeof inst.symbol === "string" ? inst.symbol : "";
    const bid = num(body.snapshot?.bid);
    const offer = num(body.snapshot?.offer);
    const spread = Number.isFinite(bid) && Number.isFinite(offer)
      ? Math.abs(diff(offer, bid))
      : undefined;
    const lotSize = num(inst.lotSize);
    const minDeal = num(body.dealingRules?.minDealSize?.value);
    return {
      prefix: "CAPITALCOM",
      description: typeof inst.name === "string" ? inst.name : epic,
      ticker: typeof inst.epic === "string" ? inst.epic : epic,
      currency: typeof inst.currency === "string" ? inst.currency : "",
      basecurrency: pair.includes("/") ? pair.split("/")[0] : undefined,
      period: tf.period,
      type: capitalComSymbolType(
        typeof inst.type === "string" ? inst.type : undefined,
      ),
      mintick: minmove / pricescale,
      pricescale,
      minmove,
      pointvalue: Number.isFinite(lotSize) && lotSize > 0 ? lotSize : 1,
      mincontract: Number.isFinite(minDeal) ? minDeal : undefined,
      timezone: this.#zone(sessions.timezone, epic),
      volumetype: "base",
      avgSpread: spread,
      openingHours: sessions.openingHours,
      sessionStarts: sessions.sessionStarts,
      sessionEnds: sessions.sessionEnds,
    };
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
    const pageSize = Math.max(
      1,
      Math.min(MAX_PAGE, Math.floor(request.pageSize ?? MAX_PAGE)),
    );
    const concurrency = Math.max(
      1,
      Math.min(8, Math.floor(request.concurrency ?? DEFAULT_CONCURRENCY)),
    );
    const client = await this.#client(epic, tf.period);
    const after = request.resumeAfter ?? -Infinity;
    const end = request.to; // exclusive
    const job: WindowJob = {
      client,
      path: `/api/v1/prices/${encodeURIComponent(epic)}`,
      resolution,
      period: tf.ms,
      pageSize,
      span: pageSize,
      horizon: MINUTE,
      signal: undefined,
    };
    // Bars open on whole minutes: windows are whole minutes and cover the
    // range without gaps (no assumption about where a resolution's bars sit).
    let cursor = Math.ceil(Math.max(request.from, after + 1) / MINUTE) * MINUTE;
    const next = (): [number, number] | undefined => {
      // `to` is inclusive and must not lie in the venue's future: windows end
      // short of now (only forming bars start later).
      const lastMinute = Math.min(
        Math.ceil(end / MINUTE) * MINUTE - MINUTE,
        Math.floor(this.#venueNow(client) / MINUTE) * MINUTE - job.horizon,
      );
      if (cursor > lastMinute) return undefined;
      const w: [number, number] = [
        cursor,
        Math.min(cursor + (job.span - 1) * job.period, lastMinute),
      ];
      cursor = w[1] + MINUTE;
      return w;
    };
    const stop = new AbortController();
    job.signal = request.signal
      ? AbortSignal.any([request.signal, stop.signal])
      : stop.signal;
    const queue: Promise<WindowResult>[] = [];
    let last = -Infinity;
    try {
      for (;;) {
        request.signal?.throwIfAborted();
        while (queue.length < concurrency) {
          const w = next();
          if (!w) break;
          queue.push(
            this.#window(job, w[0], w[1]).catch((error) => ({
              bars: [],
              forming: false,
              stalled: false,
              error,
            })),
          );
        }
        const r = await queue.shift();
        if (!r) break;
        if (r.error !== undefined) throw unknownEpic(r.error, epic);
        r.bars.sort((a, b) => a.t - b.t); // ascending, whatever the venue sent
        const bars: ParsedBar[] = [];
        for (const p of r.bars) {
          // In range, and each time once (pages may overlap or repeat bars).
          if (p.t >= request.from && p.t < end && p.t > after && p.t > last) {
            bars.push(p);
            last = p.t;
          }
        }
        if (bars.length > 0) yield toBatch(bars, request.extraData === true);
        if (r.forming || r.stalled) break;
      }
    } finally {
      stop.abort();
      await Promise.allSettled(queue);
    }
  }

  /**
   * Fetches the bars of one window `[from, to]` (inclusive, whole minutes),
   * splitting it when the venue refuses its length or cuts a page short.
   */
  async #window(
    job: WindowJob,
    from: number,
    to: number,
  ): Promise<WindowResult> {
    const bars: ParsedBar[] = [];
    const { period, path } = job;
    let span = job.span;
    let c = from;
    while (c <= to) {
      const e = Math.min(c + (span - 1) * period, to);
      let body: { prices?: unknown };
      try {
        body = await job.client.request("GET", path, {
          resolution: job.resolution,
          max: job.pageSize,
          from: capitalComTime(c),
          to: capitalComTime(e),
        }, job.signal) as { prices?: unknown };
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        if (err.code === "error.prices.not-found") {
          // No bars in this part (weekend, holiday, closed session): step over it.
          c = e + MINUTE;
          continue;
        }
        if (err.code === "error.invalid.max.daterange" && span > 1) {
          span = Math.max(1, Math.floor(span / 2));
          if (span < job.span) {
            job.span = span;
            this.#log(
              `Capital.com refused the date range; narrowing windows to ${span} bars`,
            );
          }
          continue;
        }
        const now = this.#venueNow(job.client);
        if (
          err.code === "error.invalid.daterange" && e >= now - SKEW_HORIZON
        ) {
          // A window ending near now was refused as lying in the future: this
          // computer's clock is ahead of the venue's. End windows before the
          // venue's now (known from its Date header), or, without that,
          // further back; skipped minutes come with the next top-up.
          const known = job.client.venueNow() !== undefined;
          const limit = Math.floor(now / MINUTE) * MINUTE -
            (known ? MINUTE : SKEW_HORIZON);
          if (!known && job.horizon < SKEW_HORIZON) {
            job.horizon = SKEW_HORIZON;
            this.#log(
              `Capital.com refused a window ending at ${
                capitalComTime(e)
              } as in the future (is this computer's clock ahead?); ending windows ${
                SKEW_HORIZON / MINUTE
              } minutes before now`,
            );
          }
          if (limit < to) {
            to = limit;
            continue;
          }
        }
        throw err;
      }
      const prices = Array.isArray(body?.prices)
        ? body.prices as PriceBar[]
        : [];
      const now = this.#venueNow(job.client);
      let lastSeen = -Infinity;
      for (const p of prices) {
        const t = parseCapitalComTime(p?.snapshotTimeUTC);
        if (!Number.isFinite(t)) {
          throw new ProviderError(
            `Capital.com ${path} returned a bar with an unreadable snapshotTimeUTC ${
              JSON.stringify(p?.snapshotTimeUTC)
            }`,
            { code: "bad.response" },
          );
        }
        lastSeen = Math.max(lastSeen, t);
        if (t + period > now) {
          // Still forming: dropped, and nothing after it is final.
          return { bars, forming: true, stalled: false };
        }
        bars.push({ t, p });
      }
      // A full page may have been cut short by `max`: continue after its last bar.
      const nextFrom = prices.length >= job.pageSize && lastSeen < e
        ? Math.floor(lastSeen / MINUTE) * MINUTE + MINUTE
        : e + MINUTE;
      if (nextFrom <= c) {
        this.#log(
          `Capital.com ${path}: the page cursor stopped at ${
            capitalComTime(c)
          }; ending the download`,
        );
        return { bars, forming: false, stalled: true };
      }
      c = nextFrom;
    }
    return { bars, forming: false, stalled: false };
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
