/**
 * A loopback Bybit-v5-compatible exchange for tests, benchmarks and demos,
 * categories `spot` and `linear`: `GET /v5/market/instruments-info`,
 * `/v5/market/kline` (newest-first pages: the newest `limit` candles of
 * `[start, end]`, the candle containing `start` included, limit default 200,
 * max 1000), `/v5/market/time`, with the
 * `{retCode, retMsg, result}` envelope. Shares the rate limit (429 +
 * `Retry-After`, 403 ban on repeated abuse), gaps, forming candle, faults,
 * latency and request log with the Binance emulator. Real ccxt works against
 * it with every URL under `exchange.urls.api` pointing at the emulator and
 * `options.fetchMarkets = { types: ["spot", "linear"] }`.
 *
 * Candle truth for tests: `expectedCandles("linear:BTCUSDT", tf, from, to)`
 * (the key is `category:symbol`).
 *
 * @example
 * ```ts
 * import { startBybitEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startBybitEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/v5/market/kline?category=linear&symbol=BTCUSDT&interval=60&limit=2`);
 * console.log((await res.json()).result.list);
 * ```
 *
 * @module
 */

import {
  CandleSource,
  type EmulatorSymbol,
  type ExchangeEmulator,
  type ExchangeEmulatorOptions,
  intParam,
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

/** A Bybit instrument: an emulator symbol with its category. */
export interface BybitEmulatorSymbol extends EmulatorSymbol {
  /** `"spot"` or `"linear"` (USDT perpetual). */
  readonly category: "spot" | "linear";
}

/** Options for {@linkcode startBybitEmulator}. */
export interface BybitEmulatorOptions
  extends Omit<ExchangeEmulatorOptions, "symbols"> {
  /** Instruments served. @default {BYBIT_EMULATOR_SYMBOLS} */
  readonly symbols?: readonly BybitEmulatorSymbol[];
}

/** A running Bybit emulator. */
export type BybitEmulator = ExchangeEmulator;

/** The instruments the Bybit emulator serves by default. */
export const BYBIT_EMULATOR_SYMBOLS: readonly BybitEmulatorSymbol[] = [
  {
    category: "spot",
    id: "BTCUSDT",
    base: "BTC",
    quote: "USDT",
    tick: 0.01,
    basePrice: 42000,
    amountStep: 0.000001,
  },
  {
    category: "spot",
    id: "SHIBUSDT",
    base: "SHIB",
    quote: "USDT",
    tick: 1e-8,
    basePrice: 0.00001,
    amountStep: 1,
  },
  {
    category: "linear",
    id: "BTCUSDT",
    base: "BTC",
    quote: "USDT",
    tick: 0.1,
    basePrice: 42000,
    amountStep: 0.001,
  },
  {
    category: "linear",
    id: "ETHUSDT",
    base: "ETH",
    quote: "USDT",
    tick: 0.05,
    basePrice: 2500,
    amountStep: 0.01,
  },
  {
    category: "linear",
    id: "FIVEUSDT",
    base: "FIVE",
    quote: "USDT",
    tick: 5,
    basePrice: 60000,
    amountStep: 0.001,
  },
];

/** Bybit interval → ccxt timeframe notation. */
const INTERVALS: Record<string, string> = {
  "1": "1m",
  "3": "3m",
  "5": "5m",
  "15": "15m",
  "30": "30m",
  "60": "1h",
  "120": "2h",
  "240": "4h",
  "360": "6h",
  "720": "12h",
  "D": "1d",
  "W": "1w",
  "M": "1M",
};

/**
 * Starts a Bybit-v5 emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export function startBybitEmulator(
  options: BybitEmulatorOptions = {},
): Promise<BybitEmulator> {
  const symbols = options.symbols ?? BYBIT_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const keyOf = (s: EmulatorSymbol) =>
    `${(s as BybitEmulatorSymbol).category}:${s.id}`;
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
    keyOf,
  );
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (interval: string): Timeframe => {
    let tf = tfCache.get(interval);
    if (!tf) {
      tf = parseTimeframe(INTERVALS[interval]!);
      tfCache.set(interval, tf);
    }
    return tf;
  };

  const ok = (result: unknown): RouteAnswer => ({
    body: {
      retCode: 0,
      retMsg: "OK",
      result,
      retExtInfo: {},
      time: now(),
    },
  });
  const fail = (retCode: number, retMsg: string): RouteAnswer => ({
    body: { retCode, retMsg, result: {}, retExtInfo: {}, time: now() },
  });

  const instrument = (s: BybitEmulatorSymbol): Record<string, unknown> => {
    const pd = decimalsOf(s.tick);
    const step = s.amountStep ?? 0.00001;
    const qd = decimalsOf(step);
    if (s.category === "spot") {
      return {
        symbol: s.id,
        baseCoin: s.base,
        quoteCoin: s.quote,
        innovation: "0",
        status: "Trading",
        marginTrading: "none",
        stTag: "0",
        lotSizeFilter: {
          basePrecision: step.toFixed(qd),
          quotePrecision: "0.00000001",
          minOrderQty: step.toFixed(qd),
          maxOrderQty: "9000",
          minOrderAmt: "5",
          maxOrderAmt: "8000000",
        },
        priceFilter: { tickSize: s.tick.toFixed(pd) },
        riskParameters: {
          priceLimitRatioX: "0.01",
          priceLimitRatioY: "0.02",
        },
      };
    }
    return {
      symbol: s.id,
      contractType: "LinearPerpetual",
      status: "Trading",
      baseCoin: s.base,
      quoteCoin: s.quote,
      launchTime: String(s.listedAt ?? Date.UTC(2017, 0, 1)),
      deliveryTime: "0",
      deliveryFeeRate: "",
      priceScale: String(pd),
      leverageFilter: {
        minLeverage: "1",
        maxLeverage: "100.00",
        leverageStep: "0.01",
      },
      priceFilter: {
        minPrice: s.tick.toFixed(pd),
        maxPrice: (s.basePrice * 100).toFixed(pd),
        tickSize: s.tick.toFixed(pd),
      },
      lotSizeFilter: {
        maxOrderQty: "1190.000",
        minOrderQty: step.toFixed(qd),
        qtyStep: step.toFixed(qd),
        postOnlyMaxOrderQty: "1190.000",
        maxMktOrderQty: "119.000",
        minNotionalValue: "5",
      },
      unifiedMarginTrade: true,
      fundingInterval: 480,
      settleCoin: s.quote,
      copyTrading: "both",
      upperFundingRate: "0.00375",
      lowerFundingRate: "-0.00375",
      isPreListing: false,
      preListingInfo: null,
    };
  };

  const instruments = (query: Record<string, string>): RouteAnswer => {
    const category = query["category"];
    if (
      category !== "spot" && category !== "linear" && category !== "inverse"
    ) {
      return fail(10001, "params error: category is invalid");
    }
    let list = symbols.filter((s) =>
      (s as BybitEmulatorSymbol).category === category
    );
    const one = query["symbol"];
    if (one !== undefined) list = list.filter((s) => s.id === one);
    if (
      (query["status"] !== undefined && query["status"] !== "Trading") ||
      query["cursor"] !== undefined
    ) {
      list = [];
    }
    return ok({
      category,
      list: list.map((s) => instrument(s as BybitEmulatorSymbol)),
    });
  };

  const kline = (query: Record<string, string>): RouteAnswer => {
    const category = query["category"] ?? "linear";
    const id = query["symbol"];
    if (id === undefined || id === "") {
      return fail(10001, "params error: symbol is required");
    }
    const key = `${category}:${id}`;
    const s = source.symbol(key);
    if (!s) return fail(10001, "Not supported symbols");
    const interval = query["interval"] ?? "";
    if (!(interval in INTERVALS)) return fail(10001, "Invalid period!");
    const limit = intParam(query, "limit") ?? 200;
    if (!Number.isFinite(limit) || limit < 1 || limit > 1000) {
      return fail(10001, "params error: limit must be between 1 and 1000");
    }
    const start = intParam(query, "start");
    const end = intParam(query, "end");
    if (Number.isNaN(start) || Number.isNaN(end)) {
      return fail(10001, "params error: start or end is invalid");
    }
    const tf = timeframe(interval);
    const t = now();
    // Like Bybit, the candle that contains `start` is included (ccxt rounds
    // `start` up to a multiple of the interval since 1970, a Thursday for
    // weeks: the Monday candle containing it must still come back).
    const times = source.times(
      key,
      tf,
      start === undefined ? -Infinity : periodStart(tf, start),
      end ?? t,
      limit,
      true,
      t,
    );
    const pd = decimalsOf(s.tick);
    const list = times.reverse().map((time) => {
      const c = source.candle(key, tf, time, t);
      return [
        String(time),
        c.open.toFixed(pd),
        c.high.toFixed(pd),
        c.low.toFixed(pd),
        c.close.toFixed(pd),
        String(c.volume),
        (c.volume * (c.open + c.close) / 2).toFixed(4),
      ];
    });
    return ok({ symbol: id, category, list });
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 600,
    defaultWindowMs: 5_000,
    isData: (path) => path === "/v5/market/kline",
    weight: () => 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/v5/market/time": {
          const t = now();
          return ok({
            timeSecond: String(Math.floor(t / 1000)),
            timeNano: `${t}000000`,
          });
        }
        case "/v5/market/instruments-info":
          return instruments(query);
        case "/v5/market/kline":
          return kline(query);
        default:
          return {
            status: 404,
            body: "<html><body><h2>404 Not found</h2></body></html>",
          };
      }
    },
    rateLimitBody: () => ({
      retCode: 10006,
      retMsg: "Too many visits!",
      result: {},
      retExtInfo: {},
      time: now(),
    }),
    banAnswer: () => ({ status: 403, body: "access too frequent" }),
    serverErrorBody: (status) =>
      `<html><body><h1>${status} Service Unavailable</h1></body></html>`,
    badRequestAnswer: () => ({
      status: 200,
      body: {
        retCode: 10001,
        retMsg: "Not supported symbols",
        result: {},
        retExtInfo: {},
        time: now(),
      },
    }),
    usageHeaders: (used, limit, windowMs) => ({
      "x-bapi-limit": String(limit),
      "x-bapi-limit-status": String(Math.max(0, limit - used)),
      "x-bapi-limit-reset-timestamp": String(
        Math.floor(Date.now() / windowMs) * windowMs + windowMs,
      ),
    }),
  };
  return startExchangeServer(options, profile, source, symbols);
}
