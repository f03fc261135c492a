/**
 * Shared option checks of the pipeline stages. Private.
 *
 * @module
 */

import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";

/** Parses a stage's `timeframe` option, naming the stage in errors. */
export function timeframeOption(
  stage: string,
  value: string | Timeframe | undefined,
): Timeframe {
  if (value === undefined) {
    throw new TypeError(
      `${stage}: the "timeframe" option is required (for example "1", "60" or "1D")`,
    );
  }
  return parseTimeframe(value);
}

/** Checks a non-negative integer option. */
export function countOption(
  stage: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `${stage}: "${name}" must be a whole number >= ${min}, got ${value}`,
    );
  }
  return value;
}

/** Checks that an option is one of the allowed strings. */
export function choiceOption<T extends string>(
  stage: string,
  name: string,
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new RangeError(
      `${stage}: "${name}" must be one of ${
        allowed.map((a) => `"${a}"`).join(", ")
      }, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** ISO form of a ms time for messages (or the raw value when not a valid date). */
export function isoTime(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}
