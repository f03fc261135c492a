/**
 * Provider strings (`ccxt:BYBIT:BTC/USDT:USDT@1D`) and the `.ohlcv` file names
 * derived from them (`ccxt_BYBIT_BTC_USDT_USDT_1D.ohlcv`), as PyneCore uses them.
 *
 * @example
 * ```ts
 * import { ohlcvFileName, parseProviderString } from "@pyne/data/format";
 *
 * const p = parseProviderString("ccxt:BYBIT:BTC/USDT:USDT@1h");
 * console.log(p); // { provider: "ccxt", symbol: "BYBIT:BTC/USDT:USDT", timeframe: "60" }
 * console.log(ohlcvFileName(p)); // "ccxt_BYBIT_BTC_USDT_USDT_60.ohlcv"
 * ```
 *
 * @module
 */

import { parseTimeframe, type Timeframe } from "./timeframe.ts";

/** A parsed provider string: `<provider>:<symbol>[@<timeframe>]`. */
export interface ProviderString {
  /** Provider name, lower case (`"ccxt"`, `"capitalcom"`). */
  provider: string;
  /**
   * The provider's symbol, as typed. For ccxt it starts with the exchange:
   * `"BYBIT:BTC/USDT:USDT"`.
   */
  symbol: string;
  /** Canonical TradingView period (`"1"`, `"60"`, `"1D"`), when given. */
  timeframe?: string;
}

/** Input of {@linkcode formatProviderString} and {@linkcode ohlcvFileName}. */
export interface ProviderStringParts {
  /** Provider name (`"ccxt"`, `"capitalcom"`). */
  provider: string;
  /** The provider's symbol (`"BYBIT:BTC/USDT:USDT"`, `"EURUSD"`). */
  symbol: string;
  /** Timeframe in any notation {@linkcode parseTimeframe} accepts. */
  timeframe?: string | Timeframe | undefined;
}

const EXAMPLE =
  "for example ccxt:BYBIT:BTC/USDT:USDT@1D or capitalcom:EURUSD@60";
const PROVIDER_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

function checkProvider(provider: unknown, context: string): string {
  if (typeof provider !== "string") {
    throw new TypeError(
      `${context}: the provider must be a string, got ${typeof provider}`,
    );
  }
  if (!PROVIDER_RE.test(provider)) {
    throw new RangeError(
      `${context}: invalid provider name "${provider}"; expected letters, digits, "_", "." or "-" starting with a letter (${EXAMPLE})`,
    );
  }
  return provider.toLowerCase();
}

function checkSymbol(symbol: unknown, context: string): string {
  if (typeof symbol !== "string") {
    throw new TypeError(
      `${context}: the symbol must be a string, got ${typeof symbol}`,
    );
  }
  if (symbol.trim() === "" || symbol !== symbol.trim()) {
    throw new RangeError(
      `${context}: the symbol "${symbol}" is empty or has surrounding spaces (${EXAMPLE})`,
    );
  }
  return symbol;
}

function normaliseTimeframe(
  timeframe: string | Timeframe,
  context: string,
): string {
  try {
    return parseTimeframe(timeframe).period;
  } catch (e) {
    throw new RangeError(`${context}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Parses `<provider>:<symbol>[@<timeframe>]`. The provider is split off at the
 * first `:` (and lower-cased), the timeframe at the last `@` (normalised to the
 * TradingView period, so `@1h`, `@H1` and `@60` all give `"60"`).
 *
 * Throws a `RangeError` with the offending input for malformed strings and a
 * `TypeError` when `text` is not a string.
 */
export function parseProviderString(text: string): ProviderString {
  if (typeof text !== "string") {
    throw new TypeError(
      `A provider string must be a string, got ${typeof text}`,
    );
  }
  const s = text.trim();
  const context = `Invalid provider string "${text}"`;
  let rest = s;
  let timeframe: string | undefined;
  const at = s.lastIndexOf("@");
  if (at !== -1) {
    const tf = s.slice(at + 1);
    if (tf === "") {
      throw new RangeError(
        `${context}: nothing after "@"; give a timeframe such as 1, 60, 1D (${EXAMPLE})`,
      );
    }
    timeframe = normaliseTimeframe(tf, context);
    rest = s.slice(0, at);
  }
  const colon = rest.indexOf(":");
  if (colon === -1) {
    throw new RangeError(
      `${context}: expected <provider>:<symbol>[@<timeframe>] (${EXAMPLE})`,
    );
  }
  const provider = checkProvider(rest.slice(0, colon), context);
  const symbol = checkSymbol(rest.slice(colon + 1), context);
  return timeframe === undefined
    ? { provider, symbol }
    : { provider, symbol, timeframe };
}

/**
 * Formats `<provider>:<symbol>[@<timeframe>]`; the timeframe is normalised to
 * the TradingView period. Inverse of {@linkcode parseProviderString}.
 */
export function formatProviderString(parts: ProviderStringParts): string {
  const context = "Cannot format a provider string";
  const provider = checkProvider(parts?.provider, context);
  const symbol = checkSymbol(parts.symbol, context);
  if (parts.timeframe === undefined) {
    if (symbol.includes("@")) {
      throw new RangeError(
        `${context}: the symbol "${symbol}" contains "@", so a timeframe is required to keep the string unambiguous`,
      );
    }
    return `${provider}:${symbol}`;
  }
  return `${provider}:${symbol}@${
    normaliseTimeframe(parts.timeframe, context)
  }`;
}

/**
 * The symbol as it appears in file names: upper case, with `/`, `:` (and any
 * other character that is not safe in a file name) replaced by `_`.
 */
export function fileSafeSymbol(symbol: string): string {
  // deno-lint-ignore no-control-regex
  return symbol.toUpperCase().replace(/[/:\\*?"<>|\s\x00-\x1f]/g, "_");
}

/**
 * The `.ohlcv` file name PyneCore uses for a download:
 * `<provider>_<SYMBOL>_<period>.ohlcv`, for example
 * `ohlcvFileName({ provider: "ccxt", symbol: "BYBIT:BTC/USDT:USDT", timeframe: "1D" })`
 * is `"ccxt_BYBIT_BTC_USDT_USDT_1D.ohlcv"`. The timeframe is required.
 */
export function ohlcvFileName(parts: ProviderStringParts): string {
  const context = "Cannot build an .ohlcv file name";
  const provider = checkProvider(parts?.provider, context);
  const symbol = checkSymbol(parts.symbol, context);
  if (parts.timeframe === undefined) {
    throw new RangeError(
      `${context} for ${provider}:${symbol}: a timeframe is required (add @1D, @60, ...)`,
    );
  }
  const period = normaliseTimeframe(parts.timeframe, context);
  return `${provider}_${fileSafeSymbol(symbol)}_${period}.ohlcv`;
}
