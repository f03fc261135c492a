/**
 * Helpers for the trading-hour fields of {@linkcode SymbolInfo}: 24/7 sessions
 * for crypto, weekday sessions, and `"HH:MM:SS"` validation.
 *
 * @example
 * ```ts
 * import { sessions247 } from "@pyne/data/format";
 *
 * const s = sessions247();
 * console.log(s.openingHours.length); // 7
 * ```
 *
 * @module
 */

import type { OpeningHours, SessionTime, SymbolInfo } from "./symbol_info.ts";

/** The three session fields of a {@linkcode SymbolInfo}. */
export interface Sessions {
  /** Trading intervals per weekday. */
  openingHours: OpeningHours[];
  /** Session starts. */
  sessionStarts: SessionTime[];
  /** Session ends. */
  sessionEnds: SessionTime[];
}

/**
 * Sessions of a market that trades around the clock every day (crypto, UTC):
 * seven `00:00:00`–`23:59:59` intervals, a session start at `00:00:00` and an
 * end at `23:59:59` on each day 0 (Monday) to 6 (Sunday), as PyneCore writes them.
 */
export function sessions247(): Sessions {
  const days = [0, 1, 2, 3, 4, 5, 6];
  return {
    openingHours: days.map((day) => ({
      day,
      start: "00:00:00",
      end: "23:59:59",
    })),
    sessionStarts: days.map((day) => ({ day, time: "00:00:00" })),
    sessionEnds: days.map((day) => ({ day, time: "23:59:59" })),
  };
}

/** Options of {@linkcode dailySessions}. */
export interface DailySessionsOptions {
  /** Weekdays with a session, 0 = Monday ... 6 = Sunday. @default {[0, 1, 2, 3, 4]} */
  days?: readonly number[];
}

/**
 * One session per listed weekday from `start` to `end` (`"HH:MM:SS"`), for
 * example `dailySessions("09:30:00", "16:00:00")` for a US stock exchange in
 * its own time zone. When `end` is not after `start` the session runs past
 * midnight, as PyneCore reads it.
 */
export function dailySessions(
  start: string,
  end: string,
  options: DailySessionsOptions = {},
): Sessions {
  assertTimeOfDay(start, "start");
  assertTimeOfDay(end, "end");
  const days = options.days ?? [0, 1, 2, 3, 4];
  for (const d of days) assertWeekday(d, "days");
  return {
    openingHours: days.map((day) => ({ day, start, end })),
    sessionStarts: days.map((day) => ({ day, time: start })),
    sessionEnds: days.map((day) => ({ day, time: end })),
  };
}

const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$/;

/** True for a `"HH:MM:SS"` time of day (`00:00:00` to `23:59:59`). */
export function isTimeOfDay(value: unknown): value is string {
  return typeof value === "string" && TIME_RE.test(value);
}

/** True for a weekday number 0 (Monday) to 6 (Sunday). */
export function isWeekday(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= 6;
}

/** Throws a `RangeError` naming `what` unless `value` is `"HH:MM:SS"`. */
export function assertTimeOfDay(value: unknown, what = "time"): void {
  if (!isTimeOfDay(value)) {
    throw new RangeError(
      `${what} must be a time of day "HH:MM:SS" (00:00:00 to 23:59:59), got ${
        JSON.stringify(value)
      }`,
    );
  }
}

/** Throws a `RangeError` naming `what` unless `value` is a weekday 0..6. */
export function assertWeekday(value: unknown, what = "day"): void {
  if (!isWeekday(value)) {
    throw new RangeError(
      `${what} must be a weekday from 0 (Monday) to 6 (Sunday), got ${
        JSON.stringify(value)
      }`,
    );
  }
}

/** Applies {@linkcode sessions247} to a symbol info (returns a new object). */
export function withSessions247(info: SymbolInfo): SymbolInfo {
  return { ...info, ...sessions247() };
}
