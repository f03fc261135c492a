/**
 * Weekly opening hours in a time zone: is the market open at a time, and when
 * can that change. Private helper of `GapStream` and the in-memory provider.
 *
 * @module
 */

import { zoneOffsetMs } from "../format/_time_zone.ts";

import type { OpeningHours } from "../format/symbol_info.ts";

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const HOUR_MS = 3_600_000;
/** Monday 1970-01-05 00:00 UTC. */
const MONDAY_MS = 4 * DAY_MS;

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}

function parseTime(text: string, what: string): number {
  const m = /^(\d\d):(\d\d):(\d\d)$/.exec(text);
  if (!m) {
    throw new RangeError(
      `Invalid opening hours ${what} "${text}": expected "HH:MM:SS"`,
    );
  }
  const h = Number(m[1]), mi = Number(m[2]), s = Number(m[3]);
  if (h > 23 || mi > 59 || s > 59) {
    throw new RangeError(
      `Invalid opening hours ${what} "${text}": hours 00-23, minutes and seconds 00-59`,
    );
  }
  return ((h * 60 + mi) * 60 + s) * 1000;
}

/** The state of the market at a time and when it may next change. */
export interface MarketState {
  /** True when the market is open at the time. */
  open: boolean;
  /** Absolute ms after which the state may differ (always later than the time). */
  next: number;
}

/** Checks a time zone name with `Intl`; throws a `RangeError` for unknown ones. */
export function checkTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions()
      .timeZone;
  } catch (cause) {
    throw new RangeError(
      `Unknown time zone "${timeZone}": use an IANA name such as "UTC", "Europe/London" or "America/New_York"`,
      { cause },
    );
  }
}

/**
 * Weekly opening hours (PyneCore's `opening_hours`, days 0 = Monday) in a time
 * zone, merged into intervals of the week. An interval whose end is not after
 * its start runs past midnight; an end of `23:59:59` means the end of the day.
 * No intervals at all means "unknown": treated as always open.
 */
export class OpeningHoursCalendar {
  /** Merged open intervals `[start, end)` in ms since Monday 00:00 local. */
  readonly intervals: ReadonlyArray<readonly [number, number]>;
  /** True when the market never closes (or no hours are known). */
  readonly alwaysOpen: boolean;
  /** The time zone. */
  readonly timeZone: string;
  readonly #fixed: boolean;
  #cacheHour = NaN;
  #cacheOffset = 0;

  /** Builds the calendar; throws a `RangeError` for bad hours or an unknown time zone. */
  constructor(hours: ReadonlyArray<OpeningHours>, timeZone = "UTC") {
    const tz = checkTimeZone(timeZone);
    this.timeZone = tz;
    const fixed = tz === "UTC" || tz === "Etc/UTC" || tz === "GMT" ||
      tz === "Etc/GMT";
    this.#fixed = fixed;
    const raw: [number, number][] = [];
    for (const h of hours) {
      if (!Number.isInteger(h.day) || h.day < 0 || h.day > 6) {
        throw new RangeError(
          `Invalid opening hours day ${h.day}: expected 0 (Monday) to 6 (Sunday)`,
        );
      }
      const s = parseTime(h.start, "start");
      let e = parseTime(h.end, "end");
      if (h.end === "23:59:59") e = DAY_MS;
      if (e <= s) e += DAY_MS;
      const a = h.day * DAY_MS + s, b = h.day * DAY_MS + e;
      if (b <= WEEK_MS) raw.push([a, b]);
      else {
        raw.push([a, WEEK_MS]);
        raw.push([0, b - WEEK_MS]);
      }
    }
    raw.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const iv of raw) {
      const last = merged[merged.length - 1];
      if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
      else merged.push([iv[0], iv[1]]);
    }
    this.intervals = merged;
    this.alwaysOpen = merged.length === 0 ||
      (merged.length === 1 && merged[0]![0] === 0 &&
        merged[0]![1] >= WEEK_MS);
  }

  /** Offset of local time from UTC at `t`, ms (cached per UTC hour). */
  offsetAt(t: number): number {
    if (this.#fixed) return 0;
    const hour = Math.floor(t / HOUR_MS);
    if (hour === this.#cacheHour) return this.#cacheOffset;
    const probe = hour * HOUR_MS;
    const offset = zoneOffsetMs(this.timeZone, probe);
    this.#cacheHour = hour;
    this.#cacheOffset = offset;
    return offset;
  }

  /** Whether the market is open at `t` and the next time the state may change. */
  state(t: number): MarketState {
    if (this.alwaysOpen) return { open: true, next: Infinity };
    const w = mod(t + this.offsetAt(t) - MONDAY_MS, WEEK_MS);
    const ivs = this.intervals;
    let open = false;
    let delta = -1;
    for (let i = 0; i < ivs.length; i++) {
      const [a, b] = ivs[i]!;
      if (w < a) {
        delta = a - w;
        break;
      }
      if (w < b) {
        open = true;
        delta = b - w;
        break;
      }
    }
    if (delta < 0) delta = ivs[0]![0] + WEEK_MS - w;
    let next = t + delta;
    if (!this.#fixed) {
      // Offsets may change on hour boundaries (DST): look again every hour.
      next = Math.min(next, Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS);
    }
    return { open, next };
  }

  /** True when the market is open at some moment of `[start, end)`. */
  overlapsOpen(start: number, end: number): boolean {
    if (this.alwaysOpen) return true;
    let t = start;
    while (t < end) {
      const st = this.state(t);
      if (st.open) return true;
      t = st.next;
    }
    return false;
  }
}
