/**
 * Timeframes: one canonical TradingView period (`"1"`, `"60"`, `"1D"`, `"1W"`,
 * `"1M"`, `"15S"`) parsed from TradingView, MetaTrader (`M1`, `H4`, `D1`, `MN1`)
 * or ccxt (`1m`, `1h`, `1d`) notation, with its length and calendar helpers.
 *
 * @example
 * ```ts
 * import { parseTimeframe } from "@pyne/data/format";
 *
 * const tf = parseTimeframe("H4");
 * console.log(tf.period, tf.ms); // "240" 14400000
 * ```
 *
 * @module
 */

/** Unit letters of canonical TradingView periods (`""` = minutes). */
export type TimeframeUnit = "S" | "" | "D" | "W" | "M";

/** A parsed timeframe. */
export interface Timeframe {
  /** Canonical TradingView period, e.g. `"1"`, `"240"`, `"1D"`, `"15S"`, `"1M"`. */
  readonly period: string;
  /** Multiplier of the unit (`240` for `"240"`, `1` for `"1D"`). */
  readonly value: number;
  /** Unit letter; `""` means minutes. */
  readonly unit: TimeframeUnit;
  /** `interval_unit` code of the `.ohlcv` header: 1 s, 2 min, 4 day, 5 week, 6 month. */
  readonly headerUnit: 1 | 2 | 4 | 5 | 6;
  /**
   * Nominal length in milliseconds. Exact for every unit but months, where it
   * is 30 days (use {@linkcode nextPeriodStart} for calendar arithmetic).
   */
  readonly ms: number;
  /** True for calendar-month periods, whose length varies. */
  readonly calendar: boolean;
}

const UNIT_MS: Record<TimeframeUnit, number> = {
  S: 1_000,
  "": 60_000,
  D: 86_400_000,
  W: 604_800_000,
  M: 30 * 86_400_000,
};

const HEADER_UNIT: Record<TimeframeUnit, 1 | 2 | 4 | 5 | 6> = {
  S: 1,
  "": 2,
  D: 4,
  W: 5,
  M: 6,
};

/** Length in ms of one unit of each `.ohlcv` header `interval_unit` code. */
export const HEADER_UNIT_MS: Readonly<Record<number, number>> = {
  1: 1_000,
  2: 60_000,
  3: 3_600_000,
  4: 86_400_000,
  5: 604_800_000,
};

const MAX_U32 = 0xffffffff;

/** The notations {@linkcode parseTimeframe} accepts, for error messages and help. */
export const TIMEFRAME_FORMS =
  "TradingView 1, 5, 60, 240, 1D, 1W, 1M, 15S; MetaTrader M1, M5, H1, H4, D1, W1, MN1; ccxt 1m, 5m, 1h, 4h, 1d, 1w, 1M, 15s";

function make(value: number, unit: TimeframeUnit): Timeframe {
  return {
    period: `${value}${unit}`,
    value,
    unit,
    headerUnit: HEADER_UNIT[unit],
    ms: value * UNIT_MS[unit],
    calendar: unit === "M",
  };
}

function checkValue(value: number, input: string): number {
  if (!Number.isSafeInteger(value) || value <= 0 || value > MAX_U32) {
    throw new RangeError(
      `Invalid timeframe "${input}": the multiplier must be a whole number from 1 to ${MAX_U32}`,
    );
  }
  return value;
}

/**
 * Parses a strict TradingView period as the `.ohlcv` writer takes it: digits
 * (minutes) or digits followed by `S`, `D`, `W` or `M`. Leading zeros are
 * dropped. Throws a `RangeError` for anything else (`""`, `"0"`, `"1H"`, `"D"`).
 */
export function parsePeriod(period: string): Timeframe {
  if (typeof period !== "string") {
    throw new TypeError(`A period must be a string, got ${typeof period}`);
  }
  const m = /^(\d+)([SDWM]?)$/.exec(period);
  if (!m) {
    throw new RangeError(
      `Invalid period "${period}": expected TradingView notation such as 1, 60, 15S, 1D, 1W or 1M`,
    );
  }
  return make(checkValue(Number(m[1]), period), m[2] as TimeframeUnit);
}

/**
 * Parses a timeframe in TradingView, MetaTrader or ccxt notation into the
 * canonical TradingView period. Throws a `RangeError` naming the accepted forms
 * for unknown input.
 */
export function parseTimeframe(input: string | Timeframe): Timeframe {
  if (typeof input === "object" && input !== null && "period" in input) {
    return parsePeriod(input.period);
  }
  if (typeof input !== "string") {
    throw new TypeError(`A timeframe must be a string, got ${typeof input}`);
  }
  const s = input.trim();
  // TradingView: digits with optional S/D/W/M.
  let m = /^(\d+)([SDWM]?)$/.exec(s);
  if (m) return make(checkValue(Number(m[1]), input), m[2] as TimeframeUnit);
  // TradingView shorthand without a multiplier: D, W, M.
  m = /^([DWM])$/.exec(s);
  if (m) return make(1, m[1] as TimeframeUnit);
  // MetaTrader: M1 H4 D1 W1 MN1 (S15 for seconds, for symmetry).
  m = /^(MN|M|H|D|W|S)(\d+)$/.exec(s);
  if (m) {
    const v = checkValue(Number(m[2]), input);
    switch (m[1]) {
      case "MN":
        return make(v, "M");
      case "M":
        return make(v, "");
      case "H":
        return make(checkValue(v * 60, input), "");
      case "D":
        return make(v, "D");
      case "W":
        return make(v, "W");
      case "S":
        return make(v, "S");
    }
  }
  // ccxt: 1s 1m 1h 1d 1w 1M (and 1y is not supported).
  m = /^(\d+)([smhdwM])$/.exec(s);
  if (m) {
    const v = checkValue(Number(m[1]), input);
    switch (m[2]) {
      case "s":
        return make(v, "S");
      case "m":
        return make(v, "");
      case "h":
        return make(checkValue(v * 60, input), "");
      case "d":
        return make(v, "D");
      case "w":
        return make(v, "W");
      case "M":
        return make(v, "M");
    }
  }
  throw new RangeError(
    `Unknown timeframe "${input}": accepted forms are ${TIMEFRAME_FORMS}`,
  );
}

/**
 * The canonical period for an `.ohlcv` header's `interval_value`/`interval_unit`
 * (unit 3, hours, reads back as minutes). Throws a `RangeError` for unknown units.
 */
export function periodFromHeader(value: number, unit: number): string {
  switch (unit) {
    case 1:
      return `${value}S`;
    case 2:
      return `${value}`;
    case 3:
      return `${value * 60}`;
    case 4:
      return `${value}D`;
    case 5:
      return `${value}W`;
    case 6:
      return `${value}M`;
    default:
      throw new RangeError(`Unknown interval unit ${unit}: expected 1 to 6`);
  }
}

/** ccxt's notation for a timeframe (`"1m"`, `"4h"`, `"1d"`, `"1w"`, `"1M"`, `"15s"`). */
export function timeframeToCcxt(tf: Timeframe): string {
  switch (tf.unit) {
    case "S":
      return `${tf.value}s`;
    case "":
      return tf.value % 60 === 0 ? `${tf.value / 60}h` : `${tf.value}m`;
    case "D":
      return `${tf.value}d`;
    case "W":
      return `${tf.value}w`;
    case "M":
      return `${tf.value}M`;
  }
}

/**
 * Start of the period after the one that starts at `time` (ms): `time + ms`
 * for fixed-length units, calendar months for `M`.
 */
export function nextPeriodStart(tf: Timeframe, time: number): number {
  if (!tf.calendar) return time + tf.ms;
  const d = new Date(time);
  return Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() + tf.value,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** Start of the period `count` periods before the one that starts at `time`. */
export function previousPeriodStart(
  tf: Timeframe,
  time: number,
  count = 1,
): number {
  if (!tf.calendar) return time - count * tf.ms;
  const d = new Date(time);
  return Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() - count * tf.value,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** Monday 1970-01-05 00:00 UTC: weekly candles are aligned to Mondays. */
const FIRST_MONDAY_MS = 4 * 86_400_000;

/**
 * Start of the period containing `time` on the UTC grid of the timeframe:
 * multiples of the length for seconds, minutes and days, Mondays for weeks,
 * the first of the month for months.
 */
export function periodStart(tf: Timeframe, time: number): number {
  switch (tf.unit) {
    case "W": {
      const rel = time - FIRST_MONDAY_MS;
      return rel - mod(rel, tf.ms) + FIRST_MONDAY_MS;
    }
    case "M": {
      const d = new Date(time);
      const months = d.getUTCFullYear() * 12 + d.getUTCMonth();
      const start = months - mod(months, tf.value);
      return Date.UTC(Math.floor(start / 12), start % 12, 1);
    }
    default:
      return time - mod(time, tf.ms);
  }
}

/** True when `time` is the start of a period on the timeframe's UTC grid. */
export function isOnGrid(tf: Timeframe, time: number): boolean {
  return periodStart(tf, time) === time;
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}
