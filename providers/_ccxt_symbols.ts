/**
 * Symbols of the ccxt provider: parsing `EXCHANGE:BASE/QUOTE[:SETTLE]`,
 * finding a market, timeframe mapping and a ccxt market to PyneCore symbol
 * info. Private to the ccxt provider.
 *
 * @module
 */

import { ProviderError } from "./provider.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import { tickGridFromMintick } from "../format/tick_grid.ts";
import { sessions247 } from "../format/sessions.ts";

/** The parts of a provider symbol. */
export interface CcxtSymbol {
  /** ccxt exchange id, lower case (`"binance"`). */
  readonly exchange: string;
  /** Unified market symbol as given (`"BTC/USDT"`, `"BTC/USDT:USDT"`). */
  readonly market: string;
}

/** The subset of a ccxt market the provider reads. */
export interface CcxtMarket {
  id: string;
  symbol: string;
  base: string;
  quote: string;
  settle?: string | undefined;
  type?: string | undefined;
  spot?: boolean | undefined;
  swap?: boolean | undefined;
  future?: boolean | undefined;
  option?: boolean | undefined;
  linear?: boolean | undefined;
  inverse?: boolean | undefined;
  active?: boolean | undefined;
  contractSize?: number | undefined;
  expiry?: number | undefined;
  precision: { price?: number | undefined; amount?: number | undefined };
  limits?: { amount?: { min?: number | undefined } | undefined } | undefined;
  taker?: number | undefined;
  maker?: number | undefined;
}

/** ccxt precision modes. */
export const DECIMAL_PLACES = 2;
/** ccxt precision modes. */
export const SIGNIFICANT_DIGITS = 3;
/** ccxt precision modes. */
export const TICK_SIZE = 4;

const SYMBOL_RE = /^([A-Za-z0-9_.-]+):([^\s/:]+\/[^\s/:]+(?::\S+)?)$/;

/**
 * Splits `EXCHANGE:BASE/QUOTE[:SETTLE]`. Throws a `ProviderError` for
 * anything else.
 */
export function parseCcxtSymbol(symbol: string): CcxtSymbol {
  if (typeof symbol !== "string") {
    throw new TypeError(`A ccxt symbol must be a string, got ${typeof symbol}`);
  }
  const m = SYMBOL_RE.exec(symbol.trim());
  if (!m) {
    throw new ProviderError(
      `Invalid ccxt symbol "${symbol}": expected EXCHANGE:BASE/QUOTE or EXCHANGE:BASE/QUOTE:SETTLE, for example BINANCE:BTC/USDT or BYBIT:BTC/USDT:USDT`,
      { code: "BadSymbol" },
    );
  }
  return { exchange: m[1]!.toLowerCase(), market: m[2]! };
}

/** Canonical form: `"binance:btc/usdt"` → `"BINANCE:BTC/USDT"`. */
export function normalizeCcxtSymbol(symbol: string): string {
  const { exchange, market } = parseCcxtSymbol(symbol);
  return `${exchange.toUpperCase()}:${market.toUpperCase()}`;
}

/**
 * The exchange's timeframes as canonical TradingView periods mapped to its
 * own ccxt keys, sorted by length.
 */
export function timeframeMap(
  timeframes: Readonly<Record<string, unknown>> | undefined,
): Map<string, string> {
  const list: Array<[Timeframe, string]> = [];
  for (const key of Object.keys(timeframes ?? {})) {
    try {
      list.push([parseTimeframe(key), key]);
    } catch {
      // a notation we cannot store (e.g. "1y"): not offered
    }
  }
  list.sort((a, b) => a[0].ms - b[0].ms);
  const out = new Map<string, string>();
  for (const [tf, key] of list) {
    if (!out.has(tf.period)) out.set(tf.period, key);
  }
  return out;
}

/**
 * The market of `market` (a unified symbol, any case) among an exchange's
 * markets; a `ProviderError` naming similar symbols when there is none.
 */
export function findMarket(
  markets: Readonly<Record<string, CcxtMarket>>,
  exchange: string,
  market: string,
): CcxtMarket {
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

/**
 * The exchange's ccxt key of a timeframe; a `ProviderError` when the exchange
 * has no candles (`has.fetchOHLCV`) or not this timeframe.
 */
export function timeframeKey(
  ex: {
    readonly has: Readonly<Record<string, unknown>>;
    readonly timeframes?: Readonly<Record<string, unknown>> | undefined;
  },
  exchange: string,
  tf: Timeframe,
): string {
  const has = ex.has["fetchOHLCV"];
  if (has !== true && has !== "emulated") {
    throw new ProviderError(
      `${exchange} does not offer candles in ccxt (no fetchOHLCV); pick another exchange`,
      { code: "NotSupported" },
    );
  }
  const map = timeframeMap(ex.timeframes);
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
 * A market's tick size in the exchange's precision mode, when derivable. In
 * significant-digits mode (Bitfinex, Bithumb) the tick depends on the price:
 * it is taken at `referencePrice` (the last price), the tick of prices with
 * the same number of integer digits.
 */
export function marketMintick(
  market: CcxtMarket,
  precisionMode: number,
  referencePrice?: number,
): number | undefined {
  const p = market.precision?.price;
  if (typeof p !== "number" || !Number.isFinite(p)) return undefined;
  if (precisionMode === DECIMAL_PLACES) {
    return Number.isInteger(p) && p >= 0 ? Number(`1e-${p}`) : undefined;
  }
  if (precisionMode === TICK_SIZE) return p > 0 ? p : undefined;
  if (
    precisionMode === SIGNIFICANT_DIGITS && Number.isInteger(p) && p > 0 &&
    typeof referencePrice === "number" && referencePrice > 0 &&
    Number.isFinite(referencePrice)
  ) {
    const exp = Math.floor(Math.log10(referencePrice)) + 1 - p;
    return exp >= 0 ? 10 ** exp : Number(`1e${exp}`);
  }
  return undefined;
}

/** A market's amount step in the exchange's precision mode, when derivable. */
export function marketAmountStep(
  market: CcxtMarket,
  precisionMode: number,
): number | undefined {
  const p = market.precision?.amount;
  if (typeof p === "number" && Number.isFinite(p)) {
    if (precisionMode === DECIMAL_PLACES) return 10 ** -p;
    if (precisionMode === TICK_SIZE && p > 0) return p;
  }
  const min = market.limits?.amount?.min;
  return typeof min === "number" && min > 0 ? min : undefined;
}

function kind(market: CcxtMarket): string {
  if (market.swap) {
    return market.inverse ? "Inverse Perpetual" : "Linear Perpetual";
  }
  if (market.future) {
    const exp = market.expiry
      ? " " + new Date(market.expiry).toISOString().slice(0, 10)
      : "";
    return (market.inverse ? "Inverse Futures" : "Linear Futures") + exp;
  }
  if (market.option) return "Option";
  return "Spot";
}

/** PyneCore symbol info of a ccxt market. */
export function marketSymbolInfo(
  exchange: string,
  market: CcxtMarket,
  precisionMode: number,
  timeframe: Timeframe,
  referencePrice?: number,
): SymbolInfo {
  const mintickRaw = marketMintick(market, precisionMode, referencePrice);
  if (mintickRaw === undefined) {
    const mode = precisionMode === SIGNIFICANT_DIGITS
      ? "significant-digits mode, and no last price to apply it to"
      : `precision mode ${precisionMode}`;
    throw new ProviderError(
      `Cannot derive the tick size of ${exchange.toUpperCase()}:${market.symbol}: ccxt gives precision.price ${market.precision?.price} in ${mode}`,
      { code: "NotSupported" },
    );
  }
  const grid = tickGridFromMintick(mintickRaw);
  const step = marketAmountStep(market, precisionMode);
  const info: SymbolInfo = {
    prefix: exchange.toUpperCase(),
    description: `${market.base} / ${market.quote} ${kind(market)}`,
    ticker: market.id,
    currency: market.quote,
    basecurrency: market.base,
    period: timeframe.period,
    type: "crypto",
    mintick: grid.minmove / grid.pricescale,
    pricescale: grid.pricescale,
    minmove: grid.minmove,
    pointvalue: market.contractSize ?? 1,
    timezone: "UTC",
    volumetype: "base",
    ...sessions247(),
  };
  if (step !== undefined) info.mincontract = step;
  if (typeof market.taker === "number") info.takerFee = market.taker;
  if (typeof market.maker === "number") info.makerFee = market.maker;
  return info;
}
