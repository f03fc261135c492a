/**
 * A loopback Coinbase-compatible exchange for tests, benchmarks and demos,
 * with the public endpoints ccxt's `coinbase` class (Coinbase Advanced Trade)
 * calls without credentials: the Advanced Trade API
 * `GET /api/v3/brokerage/market/products`, `/market/products/{id}`,
 * `/market/products/{id}/candles` and `/api/v3/brokerage/time`, and the
 * Coinbase App (v2) `GET /v2/currencies`, `/v2/currencies/crypto`,
 * `/v2/exchange-rates` and `/v2/time` that ccxt's `loadMarkets` and
 * `fetchTime` use. (ccxt's `coinbaseexchange`, the older Exchange API with
 * array candles, is another class and not emulated here.)
 *
 * Candles (`?start=<s>&end=<s>&granularity=ONE_MINUTE[&limit=n]`): `start`
 * and `end` are required; a range longer than 350 granularities is rejected
 * with 400 `INVALID_ARGUMENT` ("number of candles requested should be less
 * than 350"). The answer is `{candles: [{start, low, high, open, close,
 * volume}]}`, strings, newest first: the candles opening from the one that
 * contains `start` up to `end` inclusive (the forming candle included), at
 * most `limit` (default and maximum 350), the newest kept. Products of type
 * `FUTURE` are not served (an empty list), so ccxt loads only spot markets.
 *
 * Rate limit: 10 requests per second per IP, Advanced Trade's public limit,
 * answered with HTTP 429 `{errors: [{id: "rate_limit_exceeded", message}]}`.
 * Gaps, forming candle, faults, latency and the request log are shared with
 * the Binance emulator. Real ccxt works against it with
 * `exchange.urls.api.rest` pointing at {@linkcode CoinbaseEmulator.url}; no
 * options are needed.
 *
 * @example
 * ```ts
 * import { startCoinbaseEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startCoinbaseEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/api/v3/brokerage/market/products/BTC-USD/candles?start=1704135600&end=1704142800&granularity=ONE_HOUR`);
 * console.log((await res.json()).candles);
 * ```
 *
 * @module
 */

import {
  CandleSource,
  type EmulatorSymbol,
  type ExchangeEmulator,
  type ExchangeEmulatorOptions,
  type RouteAnswer,
  startExchangeServer,
  type VenueProfile,
} from "./_exchange_emulator.ts";
import {
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { decimalsOf } from "./candle_generator.ts";

/** Options for {@linkcode startCoinbaseEmulator}. */
export type CoinbaseEmulatorOptions = ExchangeEmulatorOptions;

/** A running Coinbase emulator. */
export type CoinbaseEmulator = ExchangeEmulator;

/** The products the Coinbase emulator serves by default (ids like `"BTC-USD"`). */
export const COINBASE_EMULATOR_SYMBOLS: readonly EmulatorSymbol[] = [
  {
    id: "BTC-USD",
    base: "BTC",
    quote: "USD",
    tick: 0.01,
    basePrice: 42000,
    amountStep: 0.00000001,
  },
  {
    id: "BTC-USDC",
    base: "BTC",
    quote: "USDC",
    tick: 0.01,
    basePrice: 42000,
    amountStep: 0.00000001,
  },
  {
    id: "ETH-USD",
    base: "ETH",
    quote: "USD",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.00000001,
  },
  {
    id: "SHIB-USD",
    base: "SHIB",
    quote: "USD",
    tick: 1e-8,
    basePrice: 0.00001,
    amountStep: 1,
  },
];

/** The most candles one request may span and one answer holds. */
export const COINBASE_MAX_CANDLES = 350;

/** Advanced Trade granularities → TradingView periods. */
const GRANULARITIES: Record<string, string> = {
  ONE_MINUTE: "1",
  FIVE_MINUTE: "5",
  FIFTEEN_MINUTE: "15",
  THIRTY_MINUTE: "30",
  ONE_HOUR: "60",
  TWO_HOUR: "120",
  FOUR_HOUR: "240",
  SIX_HOUR: "360",
  ONE_DAY: "1D",
};

const FIATS: Record<string, string> = {
  USD: "US Dollar",
  EUR: "Euro",
  GBP: "British Pound",
};

const PRODUCT_PATH = /^\/api\/v3\/brokerage\/market\/products\/([^/]+)$/;
const CANDLES_PATH =
  /^\/api\/v3\/brokerage\/market\/products\/([^/]+)\/candles$/;

function invalid(details: string): RouteAnswer {
  return {
    status: 400,
    body: {
      error: "INVALID_ARGUMENT",
      error_details: details,
      message: details,
    },
  };
}

function notFound(details: string): { status: number; body: unknown } {
  return {
    status: 404,
    body: { error: "NOT_FOUND", error_details: details, message: details },
  };
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(
    ".000Z",
    "Z",
  );
}

/**
 * Starts a Coinbase emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export function startCoinbaseEmulator(
  options: CoinbaseEmulatorOptions = {},
): Promise<CoinbaseEmulator> {
  const symbols = options.symbols ?? COINBASE_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
  );
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (g: string): Timeframe => {
    let tf = tfCache.get(g);
    if (!tf) {
      tf = parseTimeframe(GRANULARITIES[g]!);
      tfCache.set(g, tf);
    }
    return tf;
  };
  const day = parseTimeframe("1D");

  const product = (s: EmulatorSymbol): Record<string, unknown> => {
    const t = now();
    const c = source.candle(s.id, day, periodStart(day, t), t);
    const pd = decimalsOf(s.tick);
    const step = s.amountStep ?? 0.00001;
    const fiat = s.quote in FIATS;
    return {
      product_id: s.id,
      price: c.close.toFixed(pd),
      price_percentage_change_24h: "0",
      volume_24h: String(c.volume),
      volume_percentage_change_24h: "0",
      base_increment: step.toFixed(decimalsOf(step)),
      quote_increment: s.tick.toFixed(pd),
      quote_min_size: "1",
      quote_max_size: "150000000",
      base_min_size: step.toFixed(decimalsOf(step)),
      base_max_size: "3400",
      base_name: s.base,
      quote_name: fiat ? FIATS[s.quote] : s.quote,
      watched: false,
      is_disabled: false,
      new: false,
      status: "online",
      cancel_only: false,
      limit_only: false,
      post_only: false,
      trading_disabled: false,
      auction_mode: false,
      product_type: "SPOT",
      quote_currency_id: s.quote,
      base_currency_id: s.base,
      fcm_trading_session_details: null,
      mid_market_price: "",
      alias: "",
      alias_to: [],
      base_display_symbol: s.base,
      quote_display_symbol: s.quote,
      view_only: false,
      price_increment: s.tick.toFixed(pd),
      display_name: s.id,
      product_venue: "CBE",
      approximate_quote_24h_volume: (c.volume * c.close).toFixed(2),
      new_at: iso(s.listedAt ?? Date.UTC(2017, 0, 1)),
    };
  };

  const products = (query: Record<string, string>): RouteAnswer => {
    const type = query["product_type"];
    let list = type === undefined || type === "SPOT" ? [...symbols] : [];
    const ids = query["product_ids"];
    if (ids !== undefined) {
      const want = new Set(ids.split(","));
      list = list.filter((s) => want.has(s.id));
    }
    return {
      body: { products: list.map(product), num_products: list.length },
    };
  };

  const candles = (
    id: string,
    query: Record<string, string>,
  ): RouteAnswer => {
    const s = source.symbol(id);
    if (!s) return notFound("ProductID is invalid");
    const g = query["granularity"] ?? "";
    if (!(g in GRANULARITIES)) {
      return invalid("granularity argument is invalid");
    }
    const start = query["start"];
    const end = query["end"];
    if (
      start === undefined || end === undefined || !/^\d{1,12}$/.test(start) ||
      !/^\d{1,12}$/.test(end)
    ) {
      return invalid("start and end argument is invalid");
    }
    const tf = timeframe(g);
    const a = Number(start) * 1000;
    const b = Number(end) * 1000;
    if (b < a) {
      return invalid("start and end argument is invalid - end before start");
    }
    const span = tf.calendar ? Infinity : tf.ms;
    if ((b - a) / span > COINBASE_MAX_CANDLES) {
      return invalid(
        `start and end argument is invalid - number of candles requested should be less than ${COINBASE_MAX_CANDLES}`,
      );
    }
    let limit = COINBASE_MAX_CANDLES;
    const l = query["limit"];
    if (l !== undefined) {
      if (!/^\d+$/.test(l) || Number(l) < 1 || Number(l) > limit) {
        return invalid("limit argument is invalid");
      }
      limit = Number(l);
    }
    const t = now();
    const times = source.times(
      id,
      tf,
      periodStart(tf, a),
      b,
      limit,
      true,
      t,
    );
    const pd = decimalsOf(s.tick);
    return {
      body: {
        candles: times.reverse().map((time) => {
          const c = source.candle(id, tf, time, t);
          return {
            start: String(time / 1000),
            low: c.low.toFixed(pd),
            high: c.high.toFixed(pd),
            open: c.open.toFixed(pd),
            close: c.close.toFixed(pd),
            volume: String(c.volume),
          };
        }),
      },
    };
  };

  const fiatCurrencies = (): RouteAnswer => ({
    body: {
      data: Object.entries(FIATS).map(([id, name]) => ({
        id,
        name,
        min_size: "0.01",
      })),
    },
  });

  const cryptoCurrencies = (): RouteAnswer => {
    const codes = [...new Set(symbols.flatMap((s) => [s.base, s.quote]))]
      .filter((c) => !(c in FIATS));
    return {
      body: {
        data: codes.map((code, i) => ({
          asset_id: `00000000-0000-4000-8000-${
            String(i + 1).padStart(12, "0")
          }`,
          code,
          name: code,
          color: "#0052FF",
          sort_index: 100 + i,
          exponent: 8,
          type: "crypto",
          address_regex: "^(?:0x)?[0-9a-fA-F]{40}$",
        })),
      },
    };
  };

  const exchangeRates = (query: Record<string, string>): RouteAnswer => {
    const currency = query["currency"] ?? "USD";
    const rates: Record<string, string> = {};
    rates[currency] = "1";
    for (const s of symbols) {
      if (s.quote === currency) {
        rates[s.base] = (1 / s.basePrice).toPrecision(8);
      }
    }
    return { body: { data: { currency, rates } } };
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 10,
    defaultWindowMs: 1_000,
    isData: (path) => CANDLES_PATH.test(path),
    weight: () => 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/v2/time": {
          const t = now();
          return {
            body: { data: { iso: iso(t), epoch: Math.floor(t / 1000) } },
          };
        }
        case "/api/v3/brokerage/time": {
          const t = now();
          return {
            body: {
              iso: iso(t),
              epochSeconds: String(Math.floor(t / 1000)),
              epochMillis: String(t),
            },
          };
        }
        case "/v2/currencies":
          return fiatCurrencies();
        case "/v2/currencies/crypto":
          return cryptoCurrencies();
        case "/v2/exchange-rates":
          return exchangeRates(query);
        case "/api/v3/brokerage/market/products":
          return products(query);
      }
      const c = CANDLES_PATH.exec(path);
      if (c) return candles(decodeURIComponent(c[1]!), query);
      const p = PRODUCT_PATH.exec(path);
      if (p) {
        const s = source.symbol(decodeURIComponent(p[1]!));
        return s ? { body: product(s) } : notFound("ProductID is invalid");
      }
      return {
        status: 404,
        body: { errors: [{ id: "not_found", message: "Not found" }] },
      };
    },
    rateLimitBody: () => ({
      errors: [{ id: "rate_limit_exceeded", message: "Too many requests" }],
    }),
    banAnswer: () => ({ status: 429, body: "error code: 1015" }),
    serverErrorBody: (status) =>
      `<html><head><title>${status}</title></head><body><h1>${status} ${
        status === 500 ? "Internal Server Error" : "Service Unavailable"
      }</h1></body></html>`,
    badRequestAnswer: () => notFound("ProductID is invalid"),
    usageHeaders: () => ({}),
  };
  return startExchangeServer(options, profile, source, symbols);
}
