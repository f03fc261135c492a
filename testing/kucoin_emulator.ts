/**
 * A loopback KuCoin-spot-compatible exchange for tests, benchmarks and demos,
 * with the endpoints ccxt's `kucoin` class calls for public spot data:
 * `GET /api/v3/currencies`, `/api/v2/symbols`, `/api/v1/market/allTickers`,
 * `/api/v1/timestamp`, `/api/v1/status` and `/api/v1/market/candles` in
 * KuCoin's `{code: "200000", data}` envelope, errors as
 * `{code: "400100", msg}`.
 *
 * Candles (`?symbol=BTC-USDT&type=1min&startAt=<s>&endAt=<s>`): rows of
 * strings `[time (s), open, close, high, low, volume, turnover]`, newest
 * first, the candles opening in `[startAt, endAt)` (`startAt` 0 or absent:
 * from the listing; `endAt` 0 or absent: now, the forming candle included),
 * at most 1500 per answer: when the range holds more, the newest 1500 (the
 * head of the newest-first list). Unknown parameters (ccxt passes `until`)
 * are ignored, as KuCoin does.
 *
 * Rate limit: KuCoin's public resource pool, 2000 weight per 30 s per IP
 * (weights as KuCoin documents them: candles 3, symbols 4, all tickers 15),
 * answered with HTTP 429 `{code: "429000", msg: "Too Many Requests"}` and
 * `gw-ratelimit-*` headers; repeated abuse gets Cloudflare's `error code:
 * 1015`. Gaps, forming candle, faults, latency and the request log are shared
 * with the Binance emulator.
 *
 * Real ccxt works against it with every URL under `exchange.urls.api`
 * pointing at the emulator and `options.fetchMarkets = { types: ["spot"] }`
 * (ccxt's default also loads futures contracts from
 * `api-futures.kucoin.com`, which this emulator does not serve).
 *
 * @example
 * ```ts
 * import { startKucoinEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startKucoinEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/api/v1/market/candles?symbol=BTC-USDT&type=1hour&startAt=1704135600&endAt=1704142800`);
 * console.log((await res.json()).data);
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
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import { decimalsOf } from "./candle_generator.ts";

/** Options for {@linkcode startKucoinEmulator}. */
export type KucoinEmulatorOptions = ExchangeEmulatorOptions;

/** A running KuCoin emulator. */
export type KucoinEmulator = ExchangeEmulator;

/** The instruments the KuCoin emulator serves by default (ids like `"BTC-USDT"`). */
export const KUCOIN_EMULATOR_SYMBOLS: readonly EmulatorSymbol[] = [
  {
    id: "BTC-USDT",
    base: "BTC",
    quote: "USDT",
    tick: 0.1,
    basePrice: 42000,
    amountStep: 0.00000001,
  },
  {
    id: "ETH-USDT",
    base: "ETH",
    quote: "USDT",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.0000001,
  },
  {
    id: "SHIB-USDT",
    base: "SHIB",
    quote: "USDT",
    tick: 1e-9,
    basePrice: 0.00001,
    amountStep: 1,
  },
];

/** The most candles one answer holds. */
export const KUCOIN_MAX_CANDLES = 1500;

/** KuCoin candle types → TradingView periods. */
const TYPES: Record<string, string> = {
  "1min": "1",
  "3min": "3",
  "5min": "5",
  "15min": "15",
  "30min": "30",
  "1hour": "60",
  "2hour": "120",
  "4hour": "240",
  "6hour": "360",
  "8hour": "480",
  "12hour": "720",
  "1day": "1D",
  "1week": "1W",
  "1month": "1M",
};

/** Request weights of KuCoin's public pool. */
const WEIGHTS: Record<string, number> = {
  "/api/v1/market/candles": 3,
  "/api/v2/symbols": 4,
  "/api/v3/currencies": 3,
  "/api/v1/market/allTickers": 15,
  "/api/v1/timestamp": 3,
  "/api/v1/status": 3,
};

function ok(data: unknown): RouteAnswer {
  return { body: { code: "200000", data } };
}

function fail(status: number, code: string, msg: string): RouteAnswer {
  return { status, body: { code, msg } };
}

/** A KuCoin seconds parameter: absent or 0 → undefined; NaN when malformed. */
function secondsParam(
  query: Readonly<Record<string, string>>,
  key: string,
): number | undefined {
  const v = query[key];
  if (v === undefined || v === "" || v === "0") return undefined;
  return /^\d{1,12}$/.test(v) ? Number(v) * 1000 : NaN;
}

/**
 * Starts a KuCoin-spot emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export function startKucoinEmulator(
  options: KucoinEmulatorOptions = {},
): Promise<KucoinEmulator> {
  const symbols = options.symbols ?? KUCOIN_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
  );
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (type: string): Timeframe => {
    let tf = tfCache.get(type);
    if (!tf) {
      tf = parseTimeframe(TYPES[type]!);
      tfCache.set(type, tf);
    }
    return tf;
  };

  const symbolInfo = (s: EmulatorSymbol): Record<string, unknown> => {
    const step = s.amountStep ?? 0.00001;
    return {
      symbol: s.id,
      name: s.id,
      baseCurrency: s.base,
      quoteCurrency: s.quote,
      feeCurrency: s.quote,
      market: s.quote === "USDT" ? "USDS" : s.quote,
      baseMinSize: step.toFixed(decimalsOf(step)),
      quoteMinSize: "0.1",
      baseMaxSize: "10000000000",
      quoteMaxSize: "99999999",
      baseIncrement: step.toFixed(decimalsOf(step)),
      quoteIncrement: "0.000001",
      priceIncrement: s.tick.toFixed(decimalsOf(s.tick)),
      priceLimitRate: "0.1",
      minFunds: "0.1",
      isMarginEnabled: false,
      enableTrading: true,
      feeCategory: 1,
      makerFeeCoefficient: "1.00",
      takerFeeCoefficient: "1.00",
      st: false,
      callauctionIsEnabled: false,
      callauctionPriceFloor: null,
      callauctionPriceCeiling: null,
      callauctionFirstStageStartTime: null,
      callauctionSecondStageStartTime: null,
      callauctionThirdStageStartTime: null,
      tradingStartTime: s.listedAt ?? Date.UTC(2017, 0, 1),
    };
  };

  const currencies = (): RouteAnswer => {
    const codes = [...new Set(symbols.flatMap((s) => [s.base, s.quote]))];
    return ok(codes.map((c) => ({
      currency: c,
      name: c,
      fullName: c,
      precision: 8,
      confirms: null,
      contractAddress: null,
      isMarginEnabled: false,
      isDebitEnabled: false,
      chains: [{
        chainName: "ERC20",
        withdrawalMinSize: "10",
        depositMinSize: null,
        withdrawFeeRate: "0",
        withdrawalMinFee: "1",
        isWithdrawEnabled: true,
        isDepositEnabled: true,
        confirms: 6,
        preConfirms: 6,
        contractAddress: "",
        withdrawPrecision: 8,
        maxWithdraw: null,
        maxDeposit: null,
        needTag: false,
        chainId: "eth",
      }],
    })));
  };

  const allTickers = (): RouteAnswer => {
    const t = now();
    return ok({
      time: t,
      ticker: symbols.map((s) => {
        const c = source.candle(
          s.id,
          timeframe("1day"),
          t - (t % 86_400_000),
          t,
        );
        const pd = decimalsOf(s.tick);
        return {
          symbol: s.id,
          symbolName: s.id,
          buy: c.close.toFixed(pd),
          bestBidSize: "0.1",
          sell: (c.close + s.tick).toFixed(pd),
          bestAskSize: "0.1",
          changeRate: "0",
          changePrice: "0",
          high: c.high.toFixed(pd),
          low: c.low.toFixed(pd),
          vol: String(c.volume),
          volValue: (c.volume * c.close).toFixed(4),
          last: c.close.toFixed(pd),
          averagePrice: c.open.toFixed(pd),
          takerFeeRate: "0.001",
          makerFeeRate: "0.001",
          takerCoefficient: "1",
          makerCoefficient: "1",
        };
      }),
    });
  };

  const candles = (query: Record<string, string>): RouteAnswer => {
    const id = query["symbol"];
    if (id === undefined || id === "") {
      return fail(400, "400100", "symbol parameter is required");
    }
    const s = source.symbol(id);
    if (!s) return fail(400, "400100", "This pair is not provided at present");
    const type = query["type"] ?? "";
    if (!(type in TYPES)) {
      return fail(
        400,
        "400100",
        "This type of Candlestick is currently not provided.",
      );
    }
    const startAt = secondsParam(query, "startAt");
    const endAt = secondsParam(query, "endAt");
    if (Number.isNaN(startAt) || Number.isNaN(endAt)) {
      return fail(400, "400100", "startAt or endAt is invalid");
    }
    const tf = timeframe(type);
    const t = now();
    const from = startAt ?? -Infinity;
    const end = endAt ?? t + 1; // [startAt, endAt): `now` itself included
    if (!(from < end)) return ok([]);
    const times = source.times(
      id,
      tf,
      from,
      end - 1,
      KUCOIN_MAX_CANDLES,
      true,
      t,
    );
    const pd = decimalsOf(s.tick);
    return ok(
      times.reverse().map((time) => {
        const c = source.candle(id, tf, time, t);
        return [
          String(time / 1000),
          c.open.toFixed(pd),
          c.close.toFixed(pd),
          c.high.toFixed(pd),
          c.low.toFixed(pd),
          String(c.volume),
          (c.volume * (c.open + c.close) / 2).toFixed(8),
        ];
      }),
    );
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 2000,
    defaultWindowMs: 30_000,
    isData: (path) => path === "/api/v1/market/candles",
    weight: (path) => WEIGHTS[path] ?? 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/api/v1/timestamp":
          return { body: { code: "200000", msg: "success", data: now() } };
        case "/api/v1/status":
          return ok({ status: "open", msg: "" });
        case "/api/v3/currencies":
          return currencies();
        case "/api/v2/symbols":
          return ok(symbols.map(symbolInfo));
        case "/api/v1/market/allTickers":
          return allTickers();
        case "/api/v1/market/candles":
          return candles(query);
        default:
          return fail(404, "404000", "Url Not Found");
      }
    },
    rateLimitBody: () => ({ code: "429000", msg: "Too Many Requests" }),
    banAnswer: () => ({ status: 429, body: "error code: 1015" }),
    serverErrorBody: (status) =>
      status === 500
        ? { code: "500000", msg: "Internal Server Error" }
        : `<html><head><title>${status} Service Temporarily Unavailable</title></head><body><center><h1>${status} Service Temporarily Unavailable</h1></center></body></html>`,
    badRequestAnswer: () => ({
      status: 400,
      body: { code: "400100", msg: "This pair is not provided at present" },
    }),
    usageHeaders: (used, limit, windowMs) => ({
      "gw-ratelimit-limit": String(limit),
      "gw-ratelimit-remaining": String(Math.max(0, limit - used)),
      "gw-ratelimit-reset": String(
        Math.floor(Date.now() / windowMs) * windowMs + windowMs - Date.now(),
      ),
    }),
  };
  return startExchangeServer(options, profile, source, symbols);
}
