/**
 * What the ccxt provider knows about individual exchanges, in one table:
 * page sizes, how the venue limits requests, and how it answers a
 * `since`..`until` range. Every other ccxt module asks {@linkcode ccxtVenue}
 * instead of naming an exchange; an exchange without a row gets
 * {@linkcode DEFAULT_VENUE}. Private to the ccxt provider (the exported names
 * it needs are re-exported from `providers/ccxt.ts`).
 *
 * A new venue is a new row here (see `docs/ccxt.md`, "Rate limits" and
 * "Paging").
 *
 * @module
 */

/** How an exchange limits requests, when it is a weight budget per time window. */
export interface CcxtVenueWeight {
  /**
   * Length of the venue's weight window in ms. ccxt throttles the exchange
   * with its rolling-window limiter over this window, with ccxt's budget for
   * it (`windowMs / rateLimit` cost units): bursts of concurrent pages go
   * through at once while no window ever exceeds the venue's limit.
   */
  readonly windowMs: number;
}

/** One row of the per-exchange table. */
export interface CcxtVenueRow {
  /** Candles per request when neither the config nor the request sets one. */
  readonly pageSize: number;
  /**
   * Most candles the venue serves per request: a larger page size is lowered
   * to it. Unset when unknown (the page size is then taken as given).
   */
  readonly maxLimit?: number | undefined;
  /**
   * The venue's limit is a request weight per window (Binance's weight per
   * minute). Unset: ccxt's default leaky bucket (limits per second).
   */
  readonly weight?: CcxtVenueWeight | undefined;
  /**
   * The venue answers ccxt's `since` + `until` as a range (Binance
   * `startTime`/`endTime`, Bybit `start`/`end`): an empty answer proves the
   * whole range empty, so a `from` long before the market's listing is
   * skipped with a few range probes instead of one request per empty page.
   */
  readonly rangeProbes: boolean;
  /**
   * Which end of a `since`..`until` range a page cut by `limit` holds:
   * `"oldest"` (Binance) or `"newest"` (Bybit). Unset when unknown. Windows
   * are sized to fit one page, so either answers a window whole.
   */
  readonly pageEnd?: "oldest" | "newest" | undefined;
  /**
   * Most recent periods the venue serves at all, the forming one included,
   * whatever `since` asks (Kraken's OHLC endpoint: 720). The part of a range
   * older than that is claimed `"not-served"` ({@linkcode historyReason})
   * without a request, and paging starts at the oldest period served. Unset:
   * the full history.
   */
  readonly historyLimit?: number | undefined;
  /**
   * ccxt's cost of one OHLCV request, in units of the exchange's `rateLimit`
   * (ms per unit), read from the endpoint's entry in ccxt's API table (Binance
   * spot `klines`: 0.4, its request weight 2 over 5). @default {1}
   */
  readonly ohlcvCost?: number | undefined;
  /**
   * ccxt options that keep loading the markets to public endpoints when
   * credentials are set (Binance: no `sapi` wallet and margin requests), set
   * unless the config sets them.
   */
  readonly publicOptions?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Market types loaded when a base URL points the exchange at one origin
   * (an emulator or mirror serves only these), unless the config sets
   * `options.fetchMarkets`.
   */
  readonly baseUrlMarketTypes?: readonly string[] | undefined;
  /**
   * Binance's public data archives (`data.binance.vision`) hold the venue's
   * klines: closed months and days are read from them when that is faster
   * (`_binance_archive.ts`). @default {false}
   */
  readonly archive?: boolean | undefined;
}

/** Page size of exchanges without a row in the table. */
export const DEFAULT_PAGE_SIZE = 200;

/** The row of an exchange without one of its own. */
export const DEFAULT_VENUE: CcxtVenueRow = {
  pageSize: DEFAULT_PAGE_SIZE,
  rangeProbes: false,
};

const BINANCE: CcxtVenueRow = {
  pageSize: 1000,
  maxLimit: 1000,
  weight: { windowMs: 60_000 },
  rangeProbes: true,
  pageEnd: "oldest",
  ohlcvCost: 0.4,
  publicOptions: { fetchCurrencies: false, fetchMargins: false },
};

/** The per-exchange table, by ccxt exchange id. */
export const CCXT_VENUES: Readonly<Record<string, CcxtVenueRow>> = {
  binance: { ...BINANCE, baseUrlMarketTypes: ["spot"], archive: true },
  binanceus: { ...BINANCE, ohlcvCost: 1 },
  // fapi/dapi `klines` by limit: up to 1000 candles cost 5.
  binanceusdm: { ...BINANCE, ohlcvCost: 5, archive: true },
  binancecoinm: { ...BINANCE, ohlcvCost: 5, archive: true },
  bybit: {
    pageSize: 1000,
    maxLimit: 1000,
    rangeProbes: true,
    pageEnd: "newest",
    ohlcvCost: 5,
    baseUrlMarketTypes: ["spot", "linear"],
  },
  // `market/history-candles` (cost 1); recent pages use `market/candles` (1/2).
  okx: { pageSize: 100, maxLimit: 100, rangeProbes: false, ohlcvCost: 1 },
  kraken: {
    pageSize: 720,
    maxLimit: 720,
    rangeProbes: false,
    historyLimit: 720,
    ohlcvCost: 1.2,
  },
  // KuCoin ignores ccxt's `until` (endAt = since + limit periods): no probes.
  kucoin: {
    pageSize: 1500,
    maxLimit: 1500,
    rangeProbes: false,
    ohlcvCost: 3,
    baseUrlMarketTypes: ["spot"],
  },
  // ccxt's maximum: Coinbase rejects a longer start..end range.
  coinbase: {
    pageSize: 300,
    maxLimit: 300,
    rangeProbes: false,
    ohlcvCost: 3,
  },
};

/**
 * Why the part of a range beyond an exchange's history limit is not served:
 * `"Kraken serves only the latest 720 candles of a timeframe"`.
 */
export function historyReason(exchange: string, historyLimit: number): string {
  const name = exchange.charAt(0).toUpperCase() + exchange.slice(1);
  return `${name} serves only the latest ${historyLimit} candles of a timeframe`;
}

/** The table row of an exchange (lower-case ccxt id), or {@linkcode DEFAULT_VENUE}. */
export function ccxtVenue(exchange: string): CcxtVenueRow {
  return Object.hasOwn(CCXT_VENUES, exchange)
    ? CCXT_VENUES[exchange]!
    : DEFAULT_VENUE;
}

/**
 * Candles per request of the exchanges whose limit is known: the default and
 * the maximum (a larger `pageSize` is lowered to it).
 */
export const CCXT_PAGE_SIZES: Readonly<Record<string, number>> = Object
  .fromEntries(
    Object.entries(CCXT_VENUES).map(([id, v]) => [id, v.pageSize]),
  );

/** A page size and whether it was lowered to the venue's maximum. */
export interface VenuePageSize {
  /** Candles per request. */
  readonly pageSize: number;
  /** The size asked for, when it was above the venue's maximum. */
  readonly lowered?: number | undefined;
}

/**
 * The page size of a download: the request's, else the config's, else the
 * venue's default, lowered to the venue's maximum.
 */
export function venuePageSize(
  exchange: string,
  requested: number | undefined,
): VenuePageSize {
  const venue = ccxtVenue(exchange);
  const pageSize = requested ?? venue.pageSize;
  if (venue.maxLimit !== undefined && pageSize > venue.maxLimit) {
    return { pageSize: venue.maxLimit, lowered: pageSize };
  }
  return { pageSize };
}
