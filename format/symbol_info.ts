/**
 * Symbol information as PyneCore keeps it in the `.toml` beside each `.ohlcv`.
 *
 * @module
 */

/** A trading interval on one weekday; `end <= start` means it runs past midnight. */
export interface OpeningHours {
  /** 0 = Monday ... 6 = Sunday. */
  readonly day: number;
  /** `"HH:MM:SS"`. */
  readonly start: string;
  /** `"HH:MM:SS"`. */
  readonly end: string;
}

/** A session start or end on one weekday. */
export interface SessionTime {
  /** 0 = Monday ... 6 = Sunday. */
  readonly day: number;
  /** `"HH:MM:SS"`. */
  readonly time: string;
}

/** PyneCore's symbol type values. */
export type SymbolType =
  | "stock"
  | "fund"
  | "dr"
  | "right"
  | "bond"
  | "warrant"
  | "structured"
  | "index"
  | "forex"
  | "futures"
  | "spread"
  | "economic"
  | "fundamental"
  | "crypto"
  | "spot"
  | "swap"
  | "option"
  | "commodity"
  | "other";

/**
 * Symbol information (PyneCore's `SymInfo`). Field names are the camelCase forms
 * of PyneCore's TOML keys (`taker_fee` → `takerFee`).
 */
export interface SymbolInfo {
  /** Exchange or broker, upper case (`"BINANCE"`, `"CAPITALCOM"`). */
  prefix: string;
  /** Human-readable description. */
  description: string;
  /** The venue's own symbol id (`"BTCUSDT"`, `"EURUSD"`). */
  ticker: string;
  /** Quote currency. */
  currency: string;
  /** Base currency, when known. */
  basecurrency?: string | undefined;
  /** The file's timeframe in TradingView notation. */
  period: string;
  /** Symbol type. */
  type: SymbolType | string;
  /** Tick size: `minmove / pricescale`. */
  mintick: number;
  /** Tick grid denominator (integer). */
  pricescale: number;
  /** Tick grid numerator (integer). @default {1} */
  minmove: number;
  /** Value of one point of price in the quote currency. */
  pointvalue: number;
  /** Minimum order size, when known. */
  mincontract?: number | undefined;
  /** IANA time zone of the sessions. @default {"UTC"} */
  timezone: string;
  /** What volume counts: `"base"`, `"quote"`, `"tick"` or `"n/a"`. @default {"base"} */
  volumetype: string;
  /** Average spread, when known. */
  avgSpread?: number | undefined;
  /** Taker fee rate, when known. */
  takerFee?: number | undefined;
  /** Maker fee rate, when known. */
  makerFee?: number | undefined;
  /** Trading intervals per weekday. */
  openingHours: OpeningHours[];
  /** Session starts. */
  sessionStarts: SessionTime[];
  /** Session ends. */
  sessionEnds: SessionTime[];
  /** Further optional PyneCore keys (snake_case TOML name → value), kept as read. */
  other?: Record<string, string | number | boolean | null> | undefined;
}
