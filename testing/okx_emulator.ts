/**
 * A loopback OKX-v5-compatible exchange for tests, benchmarks and demos,
 * instrument types `SPOT` and `SWAP`, built from OKX's documentation and
 * ccxt's okx code:
 *
 * - `GET /api/v5/market/candles`: only the latest {@linkcode OkxEmulatorOptions.recentEntries}
 *   entries (1440), at most 300 per page;
 * - `GET /api/v5/market/history-candles`: all of the history, at most 100
 *   per page ({@linkcode OkxEmulatorOptions.historyLimit});
 * - both newest first, rows of strings
 *   `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]` (`confirm` `"0"` on
 *   the forming candle), with OKX's exclusive cursors: `after` = records
 *   earlier than it, `before` = records newer than it; a page is the newest
 *   `limit` records between them; `limit` defaults to 100, a larger one than
 *   the endpoint allows is lowered to its maximum;
 * - `bar` values `1m 3m 5m 15m 30m 1H 2H 4H` and `6H 12H 1D 1W 1M 3M`,
 *   the latter aligned to Hong Kong time (UTC+8) like OKX's, or to UTC with
 *   the `utc` suffix (`1Dutc`), which ccxt sends for every bar of 6 h or more;
 * - `GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES|OPTION`
 *   (futures and options: none) and `GET /api/v5/public/time`;
 * - the `{code, msg, data}` envelope, errors as OKX sends them
 *   (`51000` parameter error HTTP 400, `50014` missing parameter, `51001`
 *   unknown instrument), rate limiting with HTTP 429 and code `50011`.
 *
 * Shares the rate limit, gaps, forming candle, faults, latency and request
 * log with the Binance emulator. The rate limit is one budget per 2 s window
 * (default 40), candles weigh 1, history candles and instruments 2, the time
 * 4: OKX's per-endpoint limits of 40, 20 and 10 requests per 2 s.
 *
 * Real ccxt works against it with `exchange.urls.api.rest` pointing at
 * {@linkcode OkxEmulator.url}. ccxt picks the history endpoint from its own
 * clock (`since` older than 1439 bars before it): give the emulator a clock
 * close to the real one when the recent endpoint matters.
 *
 * Candle truth for tests: `expectedCandles("BTC-USDT", tf, from, to)` (UTC
 * bars), `expectedCandles(id, tf, from, to, "HK")` for Hong Kong bars.
 *
 * @example
 * ```ts
 * import { startOkxEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startOkxEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/api/v5/market/candles?instId=BTC-USDT&bar=1H&limit=2`);
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
import {
  nextPeriodStart,
  parseTimeframe,
  type Timeframe,
} from "../format/timeframe.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { decimalsOf } from "./candle_generator.ts";

/** An OKX instrument: an emulator symbol with its instrument type. */
export interface OkxEmulatorSymbol extends EmulatorSymbol {
  /** `"SPOT"` or `"SWAP"` (a linear perpetual; `id` like `"BTC-USDT-SWAP"`). */
  readonly instType: "SPOT" | "SWAP";
  /** Contract value in base currency of a swap (`ctVal`). @default {0.01} */
  readonly ctVal?: number;
}

/** Options for {@linkcode startOkxEmulator}. */
export interface OkxEmulatorOptions
  extends Omit<ExchangeEmulatorOptions, "symbols"> {
  /** Instruments served. @default {OKX_EMULATOR_SYMBOLS} */
  readonly symbols?: readonly OkxEmulatorSymbol[];
  /** Latest entries `market/candles` serves (older ones only from history). @default {1440} */
  readonly recentEntries?: number;
  /** Largest page of `market/candles`. @default {300} */
  readonly candlesLimit?: number;
  /** Largest page of `market/history-candles`. @default {100} */
  readonly historyLimit?: number;
}

/** A running OKX emulator. */
export interface OkxEmulator extends ExchangeEmulator {
  /**
   * The closed candles served for `instId` with open time in `[from, to)`:
   * UTC bars (`1Dutc`, and every bar below 6 h) or, with `zone` `"HK"`, the
   * Hong Kong bars (`1D`, `1W` ...).
   */
  expectedCandles(
    id: string,
    timeframe: Timeframe,
    from: number,
    to: number,
    zone?: "UTC" | "HK",
  ): CandleBatch;
}

/** The instruments the OKX emulator serves by default. */
export const OKX_EMULATOR_SYMBOLS: readonly OkxEmulatorSymbol[] = [
  {
    instType: "SPOT",
    id: "BTC-USDT",
    base: "BTC",
    quote: "USDT",
    tick: 0.1,
    basePrice: 42000,
    amountStep: 0.00000001,
  },
  {
    instType: "SPOT",
    id: "ETH-USDT",
    base: "ETH",
    quote: "USDT",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.000001,
  },
  {
    instType: "SPOT",
    id: "SHIB-USDT",
    base: "SHIB",
    quote: "USDT",
    tick: 1e-9,
    basePrice: 0.00001,
    amountStep: 1,
  },
  {
    instType: "SWAP",
    id: "BTC-USDT-SWAP",
    base: "BTC",
    quote: "USDT",
    tick: 0.1,
    basePrice: 42000,
    amountStep: 0.01,
    ctVal: 0.01,
  },
  {
    instType: "SWAP",
    id: "ETH-USDT-SWAP",
    base: "ETH",
    quote: "USDT",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.01,
    ctVal: 0.1,
  },
];

const HK_OFFSET_MS = 8 * 3_600_000;

/** OKX bar → [timeframe, Hong Kong aligned]. */
const BARS: Readonly<Record<string, readonly [string, boolean]>> = (() => {
  const out: Record<string, readonly [string, boolean]> = {
    "1m": ["1", false],
    "3m": ["3", false],
    "5m": ["5", false],
    "15m": ["15", false],
    "30m": ["30", false],
    "1H": ["60", false],
    "2H": ["120", false],
    "4H": ["240", false],
  };
  for (
    const [bar, tf] of [
      ["6H", "360"],
      ["12H", "720"],
      ["1D", "1D"],
      ["1W", "1W"],
      ["1M", "1M"],
      ["3M", "3M"],
    ]
  ) {
    out[bar!] = [tf!, true];
    out[`${bar}utc`] = [tf!, false];
  }
  return out;
})();

/** `value` on `decimals` places without trailing zeros, as OKX writes numbers. */
function okxNumber(value: number, decimals: number): string {
  const s = value.toFixed(decimals);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * Starts an OKX-v5 emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export async function startOkxEmulator(
  options: OkxEmulatorOptions = {},
): Promise<OkxEmulator> {
  const symbols = options.symbols ?? OKX_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const seed = options.seed ?? "";
  const gaps = options.gaps ?? [];
  const recentEntries = options.recentEntries ?? 1440;
  const candlesLimit = options.candlesLimit ?? 300;
  const historyLimit = options.historyLimit ?? 100;
  const utc = new CandleSource(symbols, gaps, now, seed);
  // Hong Kong bars: the same machinery on a clock 8 hours ahead, so that
  // their UTC grid is Hong Kong's; times are shifted back when answered.
  const hk = new CandleSource(
    symbols.map((s) => ({
      ...s,
      listedAt: (s.listedAt ?? Date.UTC(2017, 0, 1)) + HK_OFFSET_MS,
    })),
    gaps.map((g) => ({
      from: g.from + HK_OFFSET_MS,
      to: g.to + HK_OFFSET_MS,
    })),
    () => now() + HK_OFFSET_MS,
    "HK" + seed,
  );
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (period: string): Timeframe => {
    let tf = tfCache.get(period);
    if (!tf) {
      tf = parseTimeframe(period);
      tfCache.set(period, tf);
    }
    return tf;
  };

  const ok = (data: unknown[]): RouteAnswer => ({
    body: { code: "0", msg: "", data },
  });
  const fail = (status: number, code: string, msg: string): RouteAnswer => ({
    status,
    body: { code, msg, data: [] },
  });

  const instrument = (s: OkxEmulatorSymbol): Record<string, unknown> => {
    const pd = decimalsOf(s.tick);
    const step = s.amountStep ?? 0.00001;
    const qd = decimalsOf(step);
    const listTime = String(s.listedAt ?? Date.UTC(2017, 0, 1));
    const common = {
      alias: "",
      auctionEndTime: "",
      category: "1",
      contTdSwTime: "",
      expTime: "",
      futureSettlement: false,
      instId: s.id,
      instType: s.instType,
      listTime,
      lotSz: okxNumber(step, qd),
      minSz: okxNumber(step, qd),
      maxIcebergSz: "9999999999.0000000000000000",
      maxLmtAmt: "20000000",
      maxMktAmt: "1000000",
      maxStopSz: "9999999999",
      maxTriggerSz: "9999999999.0000000000000000",
      maxTwapSz: "9999999999.0000000000000000",
      openType: "",
      optType: "",
      ruleType: "normal",
      state: "live",
      stk: "",
      tickSz: okxNumber(s.tick, pd),
    };
    if (s.instType === "SPOT") {
      return {
        ...common,
        baseCcy: s.base,
        quoteCcy: s.quote,
        settleCcy: "",
        ctMult: "",
        ctType: "",
        ctVal: "",
        ctValCcy: "",
        instFamily: "",
        uly: "",
        lever: "10",
        maxLmtSz: "9999999999",
        maxMktSz: "1000000",
        tradeQuoteCcyList: [s.quote],
      };
    }
    const family = `${s.base}-${s.quote}`;
    return {
      ...common,
      baseCcy: "",
      quoteCcy: "",
      settleCcy: s.quote,
      ctMult: "1",
      ctType: "linear",
      ctVal: okxNumber(s.ctVal ?? 0.01, decimalsOf(s.ctVal ?? 0.01)),
      ctValCcy: s.base,
      instFamily: family,
      uly: family,
      lever: "100",
      maxLmtSz: "100000000",
      maxMktSz: "12000",
      tradeQuoteCcyList: [],
    };
  };

  const instruments = (query: Record<string, string>): RouteAnswer => {
    const type = query["instType"];
    if (type === undefined || type === "") {
      return fail(400, "50014", "Parameter instType can not be empty.");
    }
    if (!["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"].includes(type)) {
      return fail(400, "51000", "Parameter instType error");
    }
    if (
      type === "OPTION" && !query["uly"] && !query["instFamily"]
    ) {
      return fail(
        400,
        "50015",
        "Either parameter uly or instFamily is required.",
      );
    }
    let list = symbols.filter((s) =>
      s.instType === type || (type === "MARGIN" && s.instType === "SPOT")
    );
    const family = query["instFamily"] || query["uly"];
    if (family) list = list.filter((s) => `${s.base}-${s.quote}` === family);
    const one = query["instId"];
    if (one) {
      list = list.filter((s) => s.id === one);
      if (list.length === 0) {
        return fail(200, "51001", "Instrument ID does not exist");
      }
    }
    return ok(list.map((s) => instrument(s)));
  };

  const candles = (
    query: Record<string, string>,
    history: boolean,
  ): RouteAnswer => {
    const id = query["instId"];
    if (id === undefined || id === "") {
      return fail(400, "50014", "Parameter instId can not be empty.");
    }
    const s = utc.symbol(id) as OkxEmulatorSymbol | undefined;
    if (!s) return fail(200, "51001", "Instrument ID does not exist");
    const bar = BARS[query["bar"] || "1m"];
    if (!bar) return fail(400, "51000", "Parameter bar error");
    let limit = 100;
    if (query["limit"] !== undefined && query["limit"] !== "") {
      if (!/^\d+$/.test(query["limit"]) || Number(query["limit"]) < 1) {
        return fail(400, "51000", "Parameter limit error");
      }
      limit = Number(query["limit"]);
    }
    limit = Math.min(limit, history ? historyLimit : candlesLimit);
    const cursor: Record<string, number | undefined> = {};
    for (const key of ["after", "before"]) {
      const v = query[key];
      if (v === undefined || v === "") continue;
      if (!/^\d+$/.test(v)) {
        return fail(400, "51000", `Parameter ${key} error`);
      }
      cursor[key] = Number(v);
    }
    const tf = timeframe(bar[0]);
    const shift = bar[1] ? HK_OFFSET_MS : 0;
    const src = bar[1] ? hk : utc;
    const t = now() + shift;
    // Exclusive cursors: before < ts < after.
    let lo = cursor["before"] === undefined
      ? -Infinity
      : cursor["before"] + shift + 1;
    const hi = cursor["after"] === undefined
      ? Infinity
      : cursor["after"] + shift - 1;
    if (!history) {
      const recent = src.times(
        id,
        tf,
        -Infinity,
        Infinity,
        recentEntries,
        true,
        t,
      );
      lo = Math.max(lo, recent[0] ?? Infinity);
    }
    const times = lo <= hi ? src.times(id, tf, lo, hi, limit, true, t) : [];
    const pd = decimalsOf(s.tick);
    const ctVal = s.ctVal ?? 0.01;
    const data = times.reverse().map((time) => {
      const c = src.candle(id, tf, time, t);
      const quoteVolume = okxNumber(c.volume * (c.open + c.close) / 2, 8);
      const base = okxNumber(c.volume, 8);
      return [
        String(time - shift),
        okxNumber(c.open, pd),
        okxNumber(c.high, pd),
        okxNumber(c.low, pd),
        okxNumber(c.close, pd),
        // Spot: vol in base, volCcy in quote; swaps: vol in contracts, volCcy in base.
        s.instType === "SPOT" ? base : okxNumber(c.volume / ctVal, 8),
        s.instType === "SPOT" ? quoteVolume : base,
        quoteVolume,
        nextPeriodStart(tf, time) <= t ? "1" : "0",
      ];
    });
    return ok(data);
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 40,
    defaultWindowMs: 2_000,
    isData: (path) =>
      path === "/api/v5/market/candles" ||
      path === "/api/v5/market/history-candles",
    weight: (path) => WEIGHTS[path] ?? 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/api/v5/public/time":
          return ok([{ ts: String(now()) }]);
        case "/api/v5/public/instruments":
          return instruments(query);
        case "/api/v5/market/candles":
          return candles(query, false);
        case "/api/v5/market/history-candles":
          return candles(query, true);
        default:
          return {
            status: 404,
            body: "<html><body><h2>404 Not found</h2></body></html>",
          };
      }
    },
    rateLimitBody: () => ({ msg: "Too Many Requests", code: "50011" }),
    // OKX has no separate ban answer: abuse meets the same 429.
    banAnswer: () => ({
      status: 429,
      body: { msg: "Too Many Requests", code: "50011" },
    }),
    serverErrorBody: (status) =>
      status === 503
        ? {
          code: "50001",
          msg: "Service temporarily unavailable. Please try again later.",
          data: [],
        }
        : { code: "50026", msg: "System error. Try again later.", data: [] },
    badRequestAnswer: () => ({
      status: 200,
      body: { code: "51001", msg: "Instrument ID does not exist", data: [] },
    }),
    usageHeaders: () => ({}),
  };
  const emu = await startExchangeServer(options, profile, utc, symbols);
  return {
    ...emu,
    expectedCandles(id, tf, from, to, zone = "UTC"): CandleBatch {
      if (zone === "UTC") return utc.expected(id, tf, from, to);
      const b = hk.expected(id, tf, from + HK_OFFSET_MS, to + HK_OFFSET_MS);
      for (let i = 0; i < b.time.length; i++) {
        b.time[i] = b.time[i]! - HK_OFFSET_MS;
      }
      return b;
    },
  };
}

const WEIGHTS: Record<string, number> = {
  "/api/v5/market/candles": 1,
  "/api/v5/market/history-candles": 2,
  "/api/v5/public/instruments": 2,
  "/api/v5/public/time": 4,
};
