/**
 * A loopback Kraken-spot-compatible exchange for tests, benchmarks and demos,
 * with the public endpoints ccxt's `kraken` class calls for market data,
 * built from Kraken's REST documentation and ccxt's kraken code:
 *
 * - `GET /0/public/OHLC?pair=XXBTZUSD&interval=<minutes>&since=<s>`:
 *   `{error: [], result: {<pair id>: [[time (s), "open", "high", "low",
 *   "close", "vwap", "volume", count], ...], last: <s>}}`, oldest first.
 *   Like Kraken, it serves only the latest
 *   {@linkcode KrakenEmulatorOptions.historyEntries} (720) periods of the
 *   interval, the forming one included, **whatever `since` says**: `since`
 *   only drops entries (those with time `<= since`: Kraken's `since` is
 *   exclusive, which is why ccxt sends its `since` minus one interval). The
 *   last entry is the forming, not yet committed candle and is always present;
 *   `last` is the time of the newest committed candle (what Kraken documents
 *   as the `since` for polling new committed data). `pair` may be the pair id
 *   (`XXBTZUSD`) or its altname (`XBTUSD`); the answer is keyed by the id.
 *   Intervals `1 5 15 30 60 240 1440 10080 21600` (10080: weeks from Monday
 *   00:00 UTC; 21600: 15-day periods from the epoch, emulator choices).
 *   Parameters Kraken does not know (ccxt passes `until`) are ignored.
 * - `GET /0/public/Assets`, `/0/public/AssetPairs` (Kraken's X/Z-prefixed
 *   asset ids: `XXBT`, `ZUSD` ...), `/0/public/Time`, `/0/public/SystemStatus`.
 * - Errors in Kraken's shape, `{"error": ["EGeneral:Invalid arguments"]}`
 *   with HTTP 200 (`EQuery:Unknown asset pair`, `EGeneral:Unknown method`
 *   with 404); the rate limit answers HTTP 429
 *   `{"error": ["EAPI:Rate limit exceeded"]}`, a ban
 *   `EGeneral:Temporary lockout`, 5xx faults `EGeneral:Internal error` /
 *   `EService:Unavailable` — the messages ccxt's kraken maps to its errors.
 *
 * Rate limit: every public request weighs 1; the budget is 20 per 20 s
 * window (Kraken documents about one public call per second per IP, with
 * short bursts). Gaps, forming candle, faults, latency and the request log
 * are shared with the Binance emulator.
 *
 * Real ccxt works against it with every URL under `exchange.urls.api`
 * pointing at {@linkcode KrakenEmulator.url}.
 *
 * @example
 * ```ts
 * import { startKrakenEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startKrakenEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * const res = await fetch(`${emu.url}/0/public/OHLC?pair=XBTUSD&interval=60`);
 * console.log((await res.json()).result.XXBTZUSD.length); // 720
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

/** A Kraken asset pair: an emulator symbol with Kraken's names. */
export interface KrakenEmulatorSymbol extends EmulatorSymbol {
  /** The pair's altname (`"XBTUSD"` for the id `"XXBTZUSD"`). */
  readonly altname: string;
  /** Kraken's id of the base asset (`"XXBT"`); `base` is ccxt's code (`"BTC"`). */
  readonly baseAsset: string;
  /** Kraken's id of the quote asset (`"ZUSD"`); `quote` is ccxt's code (`"USD"`). */
  readonly quoteAsset: string;
}

/** A Kraken asset as `/0/public/Assets` lists it. */
export interface KrakenEmulatorAsset {
  /** Kraken's id (`"XXBT"`). */
  readonly id: string;
  /** Its altname (`"XBT"`). */
  readonly altname: string;
  /** Decimals of amounts. */
  readonly decimals: number;
  /** Decimals shown. */
  readonly displayDecimals: number;
}

/** Options for {@linkcode startKrakenEmulator}. */
export interface KrakenEmulatorOptions
  extends Omit<ExchangeEmulatorOptions, "symbols"> {
  /** Asset pairs served. @default {KRAKEN_EMULATOR_SYMBOLS} */
  readonly symbols?: readonly KrakenEmulatorSymbol[];
  /** Assets listed (every asset of `symbols` must be one). @default {KRAKEN_EMULATOR_ASSETS} */
  readonly assets?: readonly KrakenEmulatorAsset[];
  /** Latest periods `/0/public/OHLC` serves, the forming one included. @default {720} */
  readonly historyEntries?: number;
}

/** A running Kraken emulator (candle truth keyed by pair id, `"XXBTZUSD"`). */
export interface KrakenEmulator extends ExchangeEmulator {
  /**
   * The open time of the oldest candle `/0/public/OHLC` serves for this
   * timeframe at the emulator's current time.
   */
  oldestServed(timeframe: Timeframe): number;
}

/** The assets the Kraken emulator lists by default. */
export const KRAKEN_EMULATOR_ASSETS: readonly KrakenEmulatorAsset[] = [
  { id: "XXBT", altname: "XBT", decimals: 10, displayDecimals: 5 },
  { id: "XETH", altname: "ETH", decimals: 10, displayDecimals: 5 },
  { id: "XXDG", altname: "XDG", decimals: 8, displayDecimals: 2 },
  { id: "SOL", altname: "SOL", decimals: 10, displayDecimals: 5 },
  { id: "USDT", altname: "USDT", decimals: 8, displayDecimals: 4 },
  { id: "ZUSD", altname: "USD", decimals: 4, displayDecimals: 2 },
];

/** The asset pairs the Kraken emulator serves by default. */
export const KRAKEN_EMULATOR_SYMBOLS: readonly KrakenEmulatorSymbol[] = [
  {
    id: "XXBTZUSD",
    altname: "XBTUSD",
    baseAsset: "XXBT",
    quoteAsset: "ZUSD",
    base: "BTC",
    quote: "USD",
    tick: 0.1,
    basePrice: 42000,
    amountStep: 0.00000001,
  },
  {
    id: "XETHZUSD",
    altname: "ETHUSD",
    baseAsset: "XETH",
    quoteAsset: "ZUSD",
    base: "ETH",
    quote: "USD",
    tick: 0.01,
    basePrice: 2500,
    amountStep: 0.00000001,
  },
  {
    id: "XBTUSDT",
    altname: "XBTUSDT",
    baseAsset: "XXBT",
    quoteAsset: "USDT",
    base: "BTC",
    quote: "USDT",
    tick: 0.1,
    basePrice: 42010,
    amountStep: 0.00000001,
  },
  {
    id: "SOLUSD",
    altname: "SOLUSD",
    baseAsset: "SOL",
    quoteAsset: "ZUSD",
    base: "SOL",
    quote: "USD",
    tick: 0.01,
    basePrice: 100,
    amountStep: 0.00000001,
  },
  {
    id: "XDGUSD",
    altname: "XDGUSD",
    baseAsset: "XXDG",
    quoteAsset: "ZUSD",
    base: "DOGE",
    quote: "USD",
    tick: 0.0000001,
    basePrice: 0.08,
    amountStep: 0.00000001,
  },
];

/** Kraken's intervals (minutes) → our timeframes. */
const INTERVALS: Readonly<Record<string, string>> = {
  "1": "1",
  "5": "5",
  "15": "15",
  "30": "30",
  "60": "60",
  "240": "240",
  "1440": "1D",
  "10080": "1W",
  "21600": "15D",
};

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** Kraken's `rfc1123` time: `"Sun,  7 Jun 20 04:07:53 +0000"`. */
function krakenRfc1123(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${WEEKDAYS[d.getUTCDay()]}, ${
    String(d.getUTCDate()).padStart(2, " ")
  } ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCFullYear() % 100)} ${
    p(d.getUTCHours())
  }:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

const FEES = [
  [0, 0.26],
  [50000, 0.24],
  [100000, 0.22],
  [250000, 0.2],
  [500000, 0.18],
  [1000000, 0.16],
  [2500000, 0.14],
  [5000000, 0.12],
  [10000000, 0.1],
];
const FEES_MAKER = [
  [0, 0.16],
  [50000, 0.14],
  [100000, 0.12],
  [250000, 0.1],
  [500000, 0.08],
  [1000000, 0.06],
  [2500000, 0.04],
  [5000000, 0.02],
  [10000000, 0],
];

/**
 * Starts a Kraken spot emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export async function startKrakenEmulator(
  options: KrakenEmulatorOptions = {},
): Promise<KrakenEmulator> {
  const symbols = options.symbols ?? KRAKEN_EMULATOR_SYMBOLS;
  const assets = options.assets ?? KRAKEN_EMULATOR_ASSETS;
  const now = options.now ?? Date.now;
  const historyEntries = options.historyEntries ?? 720;
  if (!(Number.isInteger(historyEntries) && historyEntries >= 1)) {
    throw new RangeError(
      `historyEntries must be a whole number of at least 1, got ${historyEntries}`,
    );
  }
  for (const s of symbols) {
    for (const a of [s.baseAsset, s.quoteAsset]) {
      if (!assets.some((x) => x.id === a)) {
        throw new RangeError(`Pair ${s.id} uses asset ${a}, not listed`);
      }
    }
  }
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
  );
  const byName = new Map<string, KrakenEmulatorSymbol>();
  for (const s of symbols) {
    byName.set(s.id, s);
    byName.set(s.altname, s);
  }
  const tfCache = new Map<string, Timeframe>();
  const timeframe = (period: string): Timeframe => {
    let tf = tfCache.get(period);
    if (!tf) {
      tf = parseTimeframe(period);
      tfCache.set(period, tf);
    }
    return tf;
  };
  const oldestServed = (tf: Timeframe): number =>
    periodStart(tf, now()) - (historyEntries - 1) * tf.ms;

  const ok = (result: unknown): RouteAnswer => ({
    body: { error: [], result },
  });
  const fail = (message: string, status = 200): RouteAnswer => ({
    status,
    body: { error: [message] },
  });

  const assetInfo = (a: KrakenEmulatorAsset): Record<string, unknown> => ({
    aclass: "currency",
    altname: a.altname,
    decimals: a.decimals,
    display_decimals: a.displayDecimals,
    collateral_value: a.id === "ZUSD" || a.id === "USDT" ? 1 : 0.9,
    status: "enabled",
  });

  const assetsRoute = (query: Record<string, string>): RouteAnswer => {
    let list = assets;
    const want = query["asset"];
    if (want) {
      const names = want.split(",");
      list = assets.filter((a) =>
        names.includes(a.id) || names.includes(a.altname)
      );
      if (list.length !== names.length) return fail("EQuery:Unknown asset");
    }
    return ok(Object.fromEntries(list.map((a) => [a.id, assetInfo(a)])));
  };

  const pairInfo = (s: KrakenEmulatorSymbol): Record<string, unknown> => {
    const base = assets.find((a) => a.id === s.baseAsset)!;
    const quote = assets.find((a) => a.id === s.quoteAsset)!;
    const pd = decimalsOf(s.tick);
    return {
      altname: s.altname,
      wsname: `${base.altname}/${quote.altname}`,
      aclass_base: "currency",
      base: s.baseAsset,
      aclass_quote: "currency",
      quote: s.quoteAsset,
      lot: "unit",
      cost_decimals: Math.max(quote.displayDecimals, 5),
      pair_decimals: pd,
      lot_decimals: decimalsOf(s.amountStep ?? 0.00000001),
      lot_multiplier: 1,
      leverage_buy: [2, 3],
      leverage_sell: [2, 3],
      fees: FEES,
      fees_maker: FEES_MAKER,
      fee_volume_currency: "ZUSD",
      margin_call: 80,
      margin_stop: 40,
      ordermin: "0.0001",
      costmin: "0.5",
      tick_size: s.tick.toFixed(pd),
      status: "online",
    };
  };

  const assetPairs = (query: Record<string, string>): RouteAnswer => {
    let list: readonly KrakenEmulatorSymbol[] = symbols;
    const want = query["pair"];
    if (want) {
      const picked: KrakenEmulatorSymbol[] = [];
      for (const name of want.split(",")) {
        const s = byName.get(name);
        if (!s) return fail("EQuery:Unknown asset pair");
        picked.push(s);
      }
      list = picked;
    }
    return ok(Object.fromEntries(list.map((s) => [s.id, pairInfo(s)])));
  };

  const ohlc = (query: Record<string, string>): RouteAnswer => {
    const name = query["pair"];
    if (name === undefined || name === "") {
      return fail("EGeneral:Invalid arguments");
    }
    const s = byName.get(name);
    if (!s) return fail("EQuery:Unknown asset pair");
    const interval = query["interval"] ?? "1";
    const period = INTERVALS[interval];
    if (period === undefined) return fail("EGeneral:Invalid arguments");
    let since = -Infinity;
    const sinceText = query["since"];
    if (sinceText !== undefined && sinceText !== "") {
      if (!/^-?\d+(\.\d+)?$/.test(sinceText)) {
        return fail("EGeneral:Invalid arguments");
      }
      since = Number(sinceText) * 1000;
    }
    const tf = timeframe(period);
    const t = now();
    const forming = periodStart(tf, t);
    // The latest `historyEntries` periods, whatever `since` says.
    const served = source.times(
      s.id,
      tf,
      oldestServed(tf),
      Infinity,
      historyEntries,
      false,
      t,
    );
    const committed = served.filter((x) => x < forming);
    const last = committed.length > 0
      ? committed[committed.length - 1]! / 1000
      : Math.max(0, Math.floor(since / 1000));
    const pd = decimalsOf(s.tick);
    const rows = served
      .filter((x) => x > since || x === forming)
      .map((time) => {
        const c = source.candle(s.id, tf, time, t);
        const vwap = (c.high + c.low + c.close) / 3;
        return [
          time / 1000,
          c.open.toFixed(pd),
          c.high.toFixed(pd),
          c.low.toFixed(pd),
          c.close.toFixed(pd),
          vwap.toFixed(pd),
          c.volume.toFixed(8),
          c.volume > 0 ? 1 + Math.floor(c.volume * 13) % 500 : 0,
        ];
      });
    return ok({ [s.id]: rows, last });
  };

  const profile: VenueProfile = {
    defaultWeightLimit: 20,
    defaultWindowMs: 20_000,
    isData: (path) => path === "/0/public/OHLC",
    weight: () => 1,
    route(path, query): RouteAnswer {
      switch (path) {
        case "/0/public/Time": {
          const t = now();
          return ok({
            unixtime: Math.floor(t / 1000),
            rfc1123: krakenRfc1123(t),
          });
        }
        case "/0/public/SystemStatus":
          return ok({
            status: "online",
            timestamp: new Date(Math.floor(now() / 1000) * 1000).toISOString()
              .replace(".000", ""),
          });
        case "/0/public/Assets":
          return assetsRoute(query);
        case "/0/public/AssetPairs":
          return assetPairs(query);
        case "/0/public/OHLC":
          return ohlc(query);
        default:
          return fail("EGeneral:Unknown method", 404);
      }
    },
    rateLimitBody: () => ({ error: ["EAPI:Rate limit exceeded"] }),
    banAnswer: () => ({
      status: 429,
      body: { error: ["EGeneral:Temporary lockout"] },
    }),
    serverErrorBody: (status) => ({
      error: [
        status === 503 ? "EService:Unavailable" : "EGeneral:Internal error",
      ],
    }),
    badRequestAnswer: () => ({
      status: 200,
      body: { error: ["EGeneral:Invalid arguments"] },
    }),
    usageHeaders: () => ({}),
  };
  const emu = await startExchangeServer(options, profile, source, symbols);
  return { ...emu, oldestServed };
}
