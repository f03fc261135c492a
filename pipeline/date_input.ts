/**
 * `parseDateInput`: the `from`/`to` inputs of a download — `"continue"`, a
 * number of days back, a date, a date and time, or ISO 8601.
 *
 * @example
 * ```ts
 * import { parseDateInput } from "@pyne/data/pipeline";
 *
 * const now = Date.UTC(2024, 5, 15);
 * console.log(parseDateInput("2024-01-01", now)); // 1704067200000
 * console.log(parseDateInput("30", now) === now - 30 * 86_400_000); // true
 * console.log(parseDateInput("continue", now)); // "continue"
 * ```
 *
 * @module
 */

const DAY_MS = 86_400_000;
/** A hundred years of days: the most "days back" accepted. */
const MAX_DAYS = 36_525;

const FORMS =
  'accepted: "continue", a number of days back ("30"), YYYY-MM-DD, "YYYY-MM-DD HH:MM[:SS]" (UTC) or ISO 8601 ("2024-01-01T12:00:00Z", "2024-01-01T12:00:00+02:00")';

/**
 * Parses a download bound into Unix ms, or `"continue"`:
 *
 * - `"continue"` (any case) → `"continue"` (resume after the file's last candle);
 * - a number, or a string of digits (`"30"`, `"1.5"`) → that many days before `now`;
 * - a `Date` → its time;
 * - `"YYYY-MM-DD"` → midnight UTC; `"YYYY-MM-DD HH:MM"` / `"YYYY-MM-DD HH:MM:SS"`
 *   → that UTC time; ISO 8601 with `T` (no zone = UTC, `Z` or `±HH:MM`);
 * - `"now"` → `now`.
 *
 * Throws a `RangeError` naming the accepted forms for anything else,
 * including impossible dates (`2024-02-30`) and negative day counts.
 */
export function parseDateInput(
  input: string | number | Date,
  now: number,
): number | "continue" {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError(`parseDateInput: "now" must be Unix ms, got ${now}`);
  }
  if (input instanceof Date) {
    const t = input.getTime();
    if (Number.isNaN(t)) throw new RangeError(`Invalid date: ${input}`);
    return t;
  }
  if (typeof input === "number") return daysBack(input, now, String(input));
  if (typeof input !== "string") {
    throw new TypeError(
      `A date must be a string, a number of days or a Date, got ${typeof input}`,
    );
  }
  const s = input.trim();
  const lower = s.toLowerCase();
  if (lower === "continue") return "continue";
  if (lower === "now") return now;
  if (/^\d+(\.\d+)?$/.test(s)) return daysBack(Number(s), now, input);
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) return utc(input, +m[1]!, +m[2]!, +m[3]!, 0, 0, 0, 0, 0);
  m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?(Z|[+-]\d{2}:?\d{2})?$/i
      .exec(s);
  if (m) {
    let offset = 0;
    const zone = m[8];
    if (zone && zone.toUpperCase() !== "Z") {
      const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
      const hh = +z[2]!, mm = +z[3]!;
      if (hh > 23 || mm > 59) {
        throw new RangeError(`Invalid time zone offset in "${input}"`);
      }
      offset = (z[1] === "-" ? -1 : 1) * (hh * 60 + mm) * 60_000;
    }
    const ms = m[7] ? Number(m[7].padEnd(3, "0")) : 0;
    return utc(
      input,
      +m[1]!,
      +m[2]!,
      +m[3]!,
      +m[4]!,
      +m[5]!,
      m[6] ? +m[6] : 0,
      ms,
      offset,
    );
  }
  throw new RangeError(`Cannot read the date "${input}": ${FORMS}`);
}

function daysBack(days: number, now: number, input: string): number {
  if (!Number.isFinite(days) || days < 0) {
    throw new RangeError(
      `A number of days back must be a finite number >= 0, got ${input}`,
    );
  }
  if (days > MAX_DAYS) {
    throw new RangeError(
      `${input} days back is more than ${MAX_DAYS} days (100 years)${
        days >= 1e9
          ? `; it looks like a Unix time in ms: pass new Date(${input}) or an ISO date instead`
          : /^\d{8}$/.test(input.trim())
          ? `; for a date write YYYY-MM-DD`
          : ""
      }`,
    );
  }
  return now - Math.round(days * DAY_MS);
}

function utc(
  input: string,
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms: number,
  offset: number,
): number {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  if (
    back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59
  ) {
    throw new RangeError(
      `Cannot read the date "${input}": no such date or time (check month, day and hour)`,
    );
  }
  return t - offset;
}
