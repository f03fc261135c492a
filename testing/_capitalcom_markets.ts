/**
 * The Capital.com emulator's market catalogue: the market and opening-hours
 * shapes, the default markets and the resolutions (and the fault shape). Private (re-exported by
 * `capitalcom_emulator.ts`).
 *
 * @module
 */

/** Opening hours in Capital.com's shape. */
export interface EmulatorOpeningHours {
  /** IANA zone of the times. */
  readonly zone: string;
  /** Monday segments such as `"00:00 - 21:00"`. */
  readonly mon: readonly string[];
  /** Tuesday. */
  readonly tue: readonly string[];
  /** Wednesday. */
  readonly wed: readonly string[];
  /** Thursday. */
  readonly thu: readonly string[];
  /** Friday. */
  readonly fri: readonly string[];
  /** Saturday. */
  readonly sat: readonly string[];
  /** Sunday. */
  readonly sun: readonly string[];
}

/** One market the emulator serves. */
export interface EmulatorMarket {
  /** Epic, e.g. `"EURUSD"`. */
  readonly epic: string;
  /** Instrument name, e.g. `"EUR/USD"`. */
  readonly name: string;
  /** `instrument.symbol`, e.g. `"EUR/USD"`. */
  readonly symbol: string;
  /** `CURRENCIES`, `SHARES`, `INDICES`, `COMMODITIES`, `CRYPTOCURRENCIES`. */
  readonly type: string;
  /** Quote currency. */
  readonly currency: string;
  /** Contract size. */
  readonly lotSize: number;
  /** Price tick (`dealingRules.minStepDistance`). */
  readonly minStep: number;
  /** Smallest deal (`dealingRules.minDealSize`). */
  readonly minDealSize: number;
  /** Price level of the generated series. */
  readonly basePrice: number;
  /** Typical spread in ticks (ask = bid + spread). */
  readonly spreadTicks: number;
  /** Opening hours, in the zone whose clock the market follows. */
  readonly openingHours: EmulatorOpeningHours;
  /**
   * The zone the market details give the hours in: like Capital.com, which
   * gives New York-anchored hours in UTC as they are at the moment asked
   * (they shift by an hour with daylight saving time).
   * @default {the hours' own zone}
   */
  readonly servedZone?: string | undefined;
  /** First bar time with data, ms. @default {Date.UTC(2020, 0, 1)} */
  readonly historyStart?: number;
  /**
   * Closures the opening hours do not show (holidays), as UTC `[from, to)`
   * ms ranges: no bar opens inside one.
   */
  readonly closures?: readonly (readonly [number, number])[];
}

/** Forex follows New York: Sunday 17:05 to Friday 17:00, a 5-minute pause at 17:00. */
const FOREX_WEEK = {
  zone: "America/New_York",
  mon: ["00:00 - 17:00", "17:05 - 00:00"],
  tue: ["00:00 - 17:00", "17:05 - 00:00"],
  wed: ["00:00 - 17:00", "17:05 - 00:00"],
  thu: ["00:00 - 17:00", "17:05 - 00:00"],
  fri: ["00:00 - 17:00"],
  sat: [],
  sun: ["17:05 - 00:00"],
};

/** The markets served by default: forex, an index, a share, gold and bitcoin. */
export const DEFAULT_EMULATOR_MARKETS: readonly EmulatorMarket[] = [
  {
    epic: "EURUSD",
    name: "EUR/USD",
    symbol: "EUR/USD",
    type: "CURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.00001,
    minDealSize: 100,
    basePrice: 1.08,
    spreadTicks: 6,
    openingHours: FOREX_WEEK,
    servedZone: "UTC",
  },
  {
    epic: "GBPUSD",
    name: "GBP/USD",
    symbol: "GBP/USD",
    type: "CURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.00001,
    minDealSize: 100,
    basePrice: 1.27,
    spreadTicks: 9,
    openingHours: FOREX_WEEK,
    servedZone: "UTC",
  },
  {
    epic: "US500",
    name: "US 500",
    symbol: "US500",
    type: "INDICES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.25,
    minDealSize: 0.1,
    basePrice: 5000,
    spreadTicks: 2,
    openingHours: {
      zone: "America/New_York",
      mon: ["00:00 - 16:00", "17:00 - 00:00"],
      tue: ["00:00 - 16:00", "17:00 - 00:00"],
      wed: ["00:00 - 16:00", "17:00 - 00:00"],
      thu: ["00:00 - 16:00", "17:00 - 00:00"],
      fri: ["00:00 - 16:00"],
      sat: [],
      sun: ["17:00 - 00:00"],
    },
    servedZone: "UTC",
  },
  {
    epic: "AAPL",
    name: "Apple Inc",
    symbol: "AAPL",
    type: "SHARES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.01,
    minDealSize: 1,
    basePrice: 190,
    spreadTicks: 3,
    openingHours: {
      zone: "America/New_York",
      mon: ["09:30 - 16:00"],
      tue: ["09:30 - 16:00"],
      wed: ["09:30 - 16:00"],
      thu: ["09:30 - 16:00"],
      fri: ["09:30 - 16:00"],
      sat: [],
      sun: [],
    },
  },
  {
    epic: "GOLD",
    name: "Gold",
    symbol: "Gold",
    type: "COMMODITIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.01,
    minDealSize: 0.01,
    basePrice: 2000,
    spreadTicks: 30,
    openingHours: {
      zone: "America/New_York",
      mon: ["00:00 - 17:00", "18:00 - 00:00"],
      tue: ["00:00 - 17:00", "18:00 - 00:00"],
      wed: ["00:00 - 17:00", "18:00 - 00:00"],
      thu: ["00:00 - 17:00", "18:00 - 00:00"],
      fri: ["00:00 - 17:00"],
      sat: [],
      sun: ["18:00 - 00:00"],
    },
    servedZone: "UTC",
  },
  {
    epic: "BTCUSD",
    name: "Bitcoin to US Dollar",
    symbol: "BTC/USD",
    type: "CRYPTOCURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.5,
    minDealSize: 0.0001,
    basePrice: 60000,
    spreadTicks: 40,
    openingHours: {
      zone: "UTC",
      mon: ["00:00 - 00:00"],
      tue: ["00:00 - 00:00"],
      wed: ["00:00 - 00:00"],
      thu: ["00:00 - 00:00"],
      fri: ["00:00 - 00:00"],
      sat: ["00:00 - 00:00"],
      sun: ["00:00 - 00:00"],
    },
  },
];

/** Capital.com resolutions and their TradingView periods. */
export const EMULATOR_RESOLUTIONS: Readonly<Record<string, string>> = {
  MINUTE: "1",
  MINUTE_5: "5",
  MINUTE_15: "15",
  MINUTE_30: "30",
  HOUR: "60",
  HOUR_4: "240",
  DAY: "1D",
  WEEK: "1W",
};

/** A fault the emulator answers instead of the normal response. */
export interface EmulatorFault {
  /** Only requests whose path starts with this (e.g. `"/api/v1/prices"`). @default {every path} */
  readonly path?: string | undefined;
  /** Only this method. @default {any} */
  readonly method?: string | undefined;
  /** HTTP status to answer. @default {500} */
  readonly status?: number | undefined;
  /** `errorCode` of the JSON body. */
  readonly errorCode?: string | undefined;
  /** Wait this long (ms) before answering (to provoke client timeouts). */
  readonly delayMs?: number | undefined;
  /** JSON body to answer instead of `{errorCode}` (for malformed or odd answers). */
  readonly body?: unknown;
  /** How many matching requests get the fault. @default {1} */
  readonly count?: number | undefined;
}
