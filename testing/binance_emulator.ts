/**
 * A loopback Binance-spot-compatible exchange for tests, benchmarks and demos:
 * `GET /api/v3/exchangeInfo`, `/api/v3/klines`, `/api/v3/time`, `/api/v3/ping`
 * with Binance's parameter semantics, string prices, `{code, msg}` errors, a
 * weight-based rate limit (429 + `Retry-After`, 418 on repeated abuse),
 * maintenance gaps, a forming last candle, injectable faults, latency and a
 * request log. Real ccxt works against it when every URL under
 * `exchange.urls.api` points at {@linkcode BinanceEmulator.url} and
 * `options.fetchMarkets = { types: ["spot"] }`.
 *
 * @example
 * ```ts
 * import { startBinanceEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startBinanceEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=2&startTime=1704067200000`);
 * console.log(await res.json());
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
  priceString,
  type RouteAnswer,
  startExchangeServer,
  type VenueProfile,
} from "./_exchange_emulator.ts";
import {
  nextPeriodStart,
  parseTimeframe,
  type Timeframe,
} from "../format/timeframe.ts";

export type {
  EmulatorFault,
  EmulatorSymbol,
  ExchangeEmulator,
  ExchangeEmulatorOptions,
  FaultKind,
  LoggedRequest,
  MaintenanceGap,
} from "./_exchange_emulator.ts";
export type { CandleBatch, CandleExtra } from "../format/candle_batch.ts";
export type { Timeframe, TimeframeUnit } from "../format/timeframe.ts";

/** Options for {@linkcode startBinanceEmulator}. */
export type BinanceEmulatorOptions = ExchangeEmulatorOptions;

/** A running Binance emulator. */
export type BinanceEmulator = ExchangeEmulator;

/** The instruments the Binance emulator serves by default. */
export const BINANCE_EMULATOR_SYMBOLS: readonly EmulatorSymbol[] = [
  { id: "BTCUSDT", base: "BTC", quote: "USDT", tick: 0.01, basePrice: 42000 },
  {
    id: "ETHUSDT",
    base: "ETH",
    quote: "USDT",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.0001,
  },
  {
    id: "SHIBUSDT",
    base: "SHIB",
    quote: "USDT",
    tick: 1e-8,
    basePrice: 0.00001,
    amountStep: 1,
  },
  {
    id: "HALFUSDT",
    base: "HALF",
    quote: "USDT",
    tick: 0.5,
    basePrice: 3000,
    amountStep: 0.001,
  },
  {
    id: "FIVEUSDT",
    base: "FIVE",
    quote: "USDT",
    tick: 5,
    basePrice: 60000,
    amountStep: 0.001,
  },
  {
    id: "QTRUSDT",
    base: "QTR",
    quote: "USDT",
    tick: 0.025,
    basePrice: 80,
    amountStep: 0.01,
  },
];

/** Binance's kline intervals. */
const INTERVALS = [
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M",
];

const WEIGHTS: Record<string, number> = {
  "/api/v3/klines": 2,
  "/api/v3/exchangeInfo": 20,
  "/api/v3/time": 1,
  "/api/v3/ping": 1,
  "/sapi/v1/margin/allPairs": 1,
  "/sapi/v1/margin/isolated/allPairs": 10,
};

function error(status: number, code: number, msg: string): RouteAnswer {
  return { status, body: { code, msg } };
}

/**
 * Starts a Binance-spot emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export function startBinanceEmulator(
  options: BinanceEmulatorOptions = {},
): Promise<BinanceEmulator> {
  const symbols = options.symbols ?? BINANCE_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
  );
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (interval: string): Timeframe => {
    let tf = tfCache.get(interval);
    if (!tf) {
      tf = parseTimeframe(interval);
      tfCache.set(interval, tf);
    }
    return tf;
  };
  let limitNow = 6000;

  const exchangeInfo = (query: Record<string, string>): RouteAnswer => {
    let list = symbols;
    const one = query["symbol"];
    if (one !== undefined) {
      const s = source.symbol(one);
      if (!s) return error(400, -1121, "Invalid symbol.");
      list = [s];
    }
    return {
      body: {
        timezone: "UTC",
        serverTime: now(),
        rateLimits: [
          {
            rateLimitType: "REQUEST_WEIGHT",
            interval: "MINUTE",
            intervalNum: 1,
            limit: limitNow,
          },
          {
            rateLimitType: "ORDERS",
            interval: "SECOND",
            intervalNum: 10,
            limit: 100,
          },
          {
            rateLimitType: "RAW_REQUESTS",
            interval: "MINUTE",
            intervalNum: 5,
            limit: 61000,
          },
        ],
        exchangeFilters: [],
        symbols: list.map((s) => ({
          symbol: s.id,
          status: "TRADING",
          baseAsset: s.base,
          baseAssetPrecision: 8,
          quoteAsset: s.quote,
          quotePrecision: 8,
          quoteAssetPrecision: 8,
          baseCommissionPrecision: 8,
          quoteCommissionPrecision: 8,
          orderTypes: [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT_LIMIT",
          ],
          icebergAllowed: true,
          ocoAllowed: true,
          otoAllowed: true,
          quoteOrderQtyMarketAllowed: true,
          allowTrailingStop: true,
          cancelReplaceAllowed: true,
          isSpotTradingAllowed: true,
          isMarginTradingAllowed: false,
          filters: [
            {
              filterType: "PRICE_FILTER",
              minPrice: priceString(s.tick, 8),
              maxPrice: priceString(s.basePrice * 100, 8),
              tickSize: priceString(s.tick, 8),
            },
            {
              filterType: "LOT_SIZE",
              minQty: priceString(s.amountStep ?? 0.00001, 8),
              maxQty: "9000.00000000",
              stepSize: priceString(s.amountStep ?? 0.00001, 8),
            },
            { filterType: "ICEBERG_PARTS", limit: 10 },
            {
              filterType: "NOTIONAL",
              minNotional: "5.00000000",
              applyMinToMarket: true,
              maxNotional: "9000000.00000000",
              applyMaxToMarket: false,
              avgPriceMins: 5,
            },
          ],
          permissions: [],
          permissionSets: [["SPOT"]],
          defaultSelfTradePreventionMode: "EXPIRE_MAKER",
          allowedSelfTradePreventionModes: [
            "EXPIRE_TAKER",
            "EXPIRE_MAKER",
            "EXPIRE_BOTH",
          ],
        })),
      },
    };
  };

  const klines = (query: Record<string, string>): RouteAnswer => {
    const id = query["symbol"];
    if (id === undefined || id === "") {
      return error(
        400,
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
      );
    }
    const s = source.symbol(id);
    if (!s) return error(400, -1121, "Invalid symbol.");
    const interval = query["interval"];
    if (interval === undefined || interval === "") {
      return error(
        400,
        -1102,
        "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
      );
    }
    if (!INTERVALS.includes(interval)) {
      return error(400, -1120, "Invalid interval.");
    }
    const limit = intParam(query, "limit") ?? 500;
    const startTime = intParam(query, "startTime");
    const endTime = intParam(query, "endTime");
    if (!Number.isFinite(limit) || limit < 1 || limit > 1000) {
      return error(
        400,
        -1130,
        "Data sent for parameter 'limit' is not valid.",
      );
    }
    for (const [k, v] of [["startTime", startTime], ["endTime", endTime]]) {
      if (v !== undefined && !Number.isFinite(v as number)) {
        return error(
          400,
          -1100,
          `Illegal characters found in parameter '${k}'; legal range is '^[0-9]{1,20}$'.`,
        );
      }
    }
    if (
      startTime !== undefined && endTime !== undefined && startTime > endTime
    ) {
      return error(400, -1023, "Start time is greater than end time.");
    }
    const tf = timeframe(interval);
    const t = now();
    const times = startTime !== undefined
      ? source.times(id, tf, startTime, endTime ?? Infinity, limit, false, t)
      : source.times(id, tf, -Infinity, endTime ?? Infinity, limit, true, t);
    const decimals = 8;
    const rows = times.map((time) => {
      const c = source.candle(id, tf, time, t);
      const closeTime = nextPeriodStart(tf, time) - 1;
      const quoteVol = c.volume * (c.open + c.close) / 2;
      return [
        time,
        priceString(c.open, decimals),
        priceString(c.high, decimals),
        priceString(c.low, decimals),
        priceString(c.close, decimals),
        priceString(c.volume, 8),
        closeTime,
        priceString(quoteVol, 8),
        Math.max(1, Math.round(c.volume * 7)),
        priceString(c.volume / 2, 8),
        priceString(quoteVol / 2, 8),
        "0",
      ];
    });
    return { body: rows };
  };

  const marginPairs = (
    query: Readonly<Record<string, string>>,
    isolated: boolean,
  ): RouteAnswer => {
    if (query["signature"] === undefined || query["timestamp"] === undefined) {
      return error(
        400,
        -1102,
        "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
      );
    }
    return {
      body: symbols.map((s, i) => ({
        ...(isolated ? {} : { id: 1000 + i }),
        symbol: s.id,
        base: s.base,
        quote: s.quote,
        isMarginTrade: true,
        isBuyAllowed: true,
        isSellAllowed: true,
      })),
    };
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 6000,
    defaultWindowMs: 60_000,
    isData: (path) => path === "/api/v3/klines",
    weight: (path) => WEIGHTS[path] ?? 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/api/v3/ping":
          return { body: {} };
        case "/api/v3/time":
          return { body: { serverTime: now() } };
        case "/api/v3/exchangeInfo":
          return exchangeInfo(query);
        case "/api/v3/klines":
          return klines(query);
        // ccxt's fetchMarkets asks for these too when it holds an API key
        // (SIGNED endpoints: a request without a signature is refused).
        case "/sapi/v1/margin/allPairs":
        case "/sapi/v1/margin/isolated/allPairs":
          return marginPairs(query, path.includes("isolated"));
        default:
          return {
            status: 404,
            body: "<html><body><h2>404 Not found</h2></body></html>",
          };
      }
    },
    rateLimitBody: (limit, windowMs) => ({
      code: -1003,
      msg:
        `Too much request weight used; current limit is ${limit} request weight per ${
          windowMs / 60_000
        } MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
    }),
    banAnswer: () => ({
      status: 418,
      body: {
        code: -1003,
        msg:
          "Way too much request weight used; IP banned. Please use WebSocket Streams for live updates to avoid bans.",
      },
    }),
    serverErrorBody: () => ({
      code: -1001,
      msg: "Internal error; unable to process your request. Please try again.",
    }),
    badRequestAnswer: () => ({
      status: 400,
      body: { code: -1121, msg: "Invalid symbol." },
    }),
    usageHeaders: (used) => ({
      "x-mbx-used-weight": String(used),
      "x-mbx-used-weight-1m": String(used),
    }),
  };
  limitNow = options.weightLimit ?? 6000;
  return startExchangeServer(options, profile, source, symbols);
}
