/**
 * Capital.com `openingHours` → PyneCore opening hours and session starts/ends.
 *
 * @module
 */

import { zoneOffsetMs } from "../format/_time_zone.ts";

import type { OpeningHours, SessionTime } from "../format/symbol_info.ts";
import { ProviderError } from "./provider.ts";

/** Capital.com's `instrument.openingHours` block. */
export interface CapitalComOpeningHours {
  /** IANA zone of the times, e.g. `"UTC"`. */
  readonly zone?: string | undefined;
  /** Segments like `"00:00 - 21:00"` per weekday. */
  readonly mon?: readonly string[] | undefined;
  /** Tuesday. */
  readonly tue?: readonly string[] | undefined;
  /** Wednesday. */
  readonly wed?: readonly string[] | undefined;
  /** Thursday. */
  readonly thu?: readonly string[] | undefined;
  /** Friday. */
  readonly fri?: readonly string[] | undefined;
  /** Saturday. */
  readonly sat?: readonly string[] | undefined;
  /** Sunday. */
  readonly sun?: readonly string[] | undefined;
}

/** PyneCore's session data converted from Capital.com opening hours. */
export interface ConvertedSessions {
  /** The zone the times are in (the venue's). */
  timezone: string;
  /** Trading intervals, split at midnight, ordered by day and start. */
  openingHours: OpeningHours[];
  /** Where trading resumes after a real break. */
  sessionStarts: SessionTime[];
  /** Where trading stops before a real break. */
  sessionEnds: SessionTime[];
}

const DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const DAY = 86_400;
const WEEK = 7 * DAY;

/**
 * Pauses up to this many seconds (for example forex's 5-minute daily rollover)
 * do not split a session: PyneCore's forex files have one session per week.
 */
export const SESSION_BREAK_TOLERANCE_S = 15 * 60;

const SEGMENT =
  /^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*-\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/;

function hms(seconds: number): string {
  if (seconds >= DAY) return "23:59:59";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = seconds % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${
    String(s).padStart(2, "0")
  }`;
}

function parseClock(h: string, m: string, s: string | undefined): number {
  const hh = Number(h), mm = Number(m), ss = Number(s ?? 0);
  if (hh > 24 || mm > 59 || ss > 59 || (hh === 24 && (mm > 0 || ss > 0))) {
    return NaN;
  }
  return hh * 3600 + mm * 60 + ss;
}

/** Options of {@linkcode convertOpeningHours}. */
export interface ConvertOpeningHoursOptions {
  /**
   * Express the hours in this IANA zone instead of the venue's (converted
   * with the zones' offsets at `at`). A market open around the clock keeps
   * the venue's zone.
   */
  readonly zone?: string | undefined;
  /** The instant whose offsets convert the hours, ms. @default {Date.now()} */
  readonly at?: number | undefined;
}

/** The UTC offset of `zone` at `at`, seconds; throws a RangeError for an unknown zone. */
function zoneOffsetSeconds(zone: string, at: number): number {
  return zoneOffsetMs(zone, at) / 1000;
}

/**
 * Converts Capital.com opening hours to PyneCore's form: days 0 = Monday,
 * `"00:00 - 00:00"` a full day (`00:00:00`–`23:59:59`), an end of `00:00`
 * midnight (`23:59:59`), spans past midnight split in two. Session starts and
 * ends mark where trading resumes and stops around breaks longer than
 * {@linkcode SESSION_BREAK_TOLERANCE_S}; a market with no such break (24/7)
 * gets a start at `00:00:00` and an end at `23:59:59` on every day.
 * With `options.zone` the hours are shifted into that zone.
 * Throws a `ProviderError` naming a segment it cannot read.
 */
export function convertOpeningHours(
  hours: CapitalComOpeningHours,
  options: ConvertOpeningHoursOptions = {},
): ConvertedSessions {
  // Open spans of the week in seconds from Monday 00:00 (end exclusive; an
  // overnight span runs past its day's midnight).
  const raw: [number, number][] = [];
  for (let d = 0; d < 7; d++) {
    const segments = hours[DAY_KEYS[d]!] ?? [];
    if (!Array.isArray(segments)) {
      throw new ProviderError(
        `Capital.com opening hours for "${DAY_KEYS[d]}" are not a list`,
      );
    }
    for (const segment of segments) {
      const m = typeof segment === "string" ? SEGMENT.exec(segment) : null;
      const start = m ? parseClock(m[1]!, m[2]!, m[3]) : NaN;
      let end = m ? parseClock(m[4]!, m[5]!, m[6]) : NaN;
      if (!Number.isFinite(start) || !Number.isFinite(end) || start >= DAY) {
        throw new ProviderError(
          `Cannot read Capital.com opening hours segment ${
            JSON.stringify(segment)
          } of "${DAY_KEYS[d]}": expected "HH:MM - HH:MM"`,
        );
      }
      if (end <= start) end += DAY; // "... - 00:00" ends at midnight; earlier ends overnight
      raw.push([d * DAY + start, d * DAY + end]);
    }
  }
  const venueZone = hours.zone && hours.zone.length > 0 ? hours.zone : "UTC";
  let spans = mergeWeek(raw, 0);
  let timezone = venueZone;
  const target = options.zone;
  const continuous = spans.length === 1 && spans[0]![1] - spans[0]![0] >= WEEK;
  if (target && target !== venueZone && spans.length > 0 && !continuous) {
    const at = options.at ?? Date.now();
    let shift: number;
    try {
      shift = zoneOffsetSeconds(target, at) - zoneOffsetSeconds(venueZone, at);
    } catch {
      shift = NaN; // an unknown zone: keep the venue's
    }
    if (Number.isFinite(shift)) {
      spans = mergeWeek(raw, shift);
      timezone = target;
    }
  }

  // Per-day intervals: the spans cut at each midnight.
  const openingHours: OpeningHours[] = [];
  for (const [a, b] of spans) {
    for (let d = Math.floor(a / DAY); d * DAY < b; d++) {
      const s = Math.max(a, d * DAY) - d * DAY;
      const e = Math.min(b, (d + 1) * DAY) - d * DAY;
      if (e > s) {
        openingHours.push({ day: d % 7, start: hms(s), end: hms(e) });
      }
    }
  }
  openingHours.sort((x, y) =>
    x.day - y.day || (x.start < y.start ? -1 : x.start > y.start ? 1 : 0)
  );

  // Sessions: merge the week's spans (circularly) across short pauses.
  const merged: [number, number][] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] - last[1] <= SESSION_BREAK_TOLERANCE_S) {
      last[1] = Math.max(last[1], span[1]);
    } else {
      merged.push([span[0], span[1]]);
    }
  }
  const sessionStarts: SessionTime[] = [];
  const sessionEnds: SessionTime[] = [];
  if (merged.length > 0) {
    const first = merged[0]!;
    const last = merged[merged.length - 1]!;
    const wrapGap = first[0] + WEEK - last[1];
    if (merged.length === 1 && wrapGap <= SESSION_BREAK_TOLERANCE_S) {
      // Continuous all week: a session per day, like PyneCore's 24/7 files.
      for (let d = 0; d < 7; d++) {
        if (openingHours.some((p) => p.day === d)) {
          sessionStarts.push({ day: d, time: "00:00:00" });
          sessionEnds.push({ day: d, time: "23:59:59" });
        }
      }
    } else {
      if (merged.length > 1 && wrapGap <= SESSION_BREAK_TOLERANCE_S) {
        // The last span of the week continues into the first one.
        first[0] = last[0] - WEEK;
        merged.pop();
      }
      for (const [s, e] of merged) {
        const sw = ((s % WEEK) + WEEK) % WEEK;
        sessionStarts.push({ day: Math.floor(sw / DAY), time: hms(sw % DAY) });
        // An end at midnight belongs to the day before it.
        const ew = e % WEEK === 0 ? WEEK : e % WEEK;
        const ed = Math.floor((ew - 1) / DAY);
        sessionEnds.push({ day: ed % 7, time: hms(ew - ed * DAY) });
      }
    }
  }
  const bySlot = (a: SessionTime, b: SessionTime) =>
    a.day - b.day || (a.time < b.time ? -1 : a.time > b.time ? 1 : 0);
  sessionStarts.sort(bySlot);
  sessionEnds.sort(bySlot);
  return { timezone, openingHours, sessionStarts, sessionEnds };
}

/**
 * Spans shifted by `shift` seconds and laid into one week `[0, WEEK)` (cut
 * at the week's end), sorted, with overlapping or touching spans joined.
 */
function mergeWeek(
  raw: readonly (readonly [number, number])[],
  shift: number,
): [number, number][] {
  const laid: [number, number][] = [];
  for (const [a0, b0] of raw) {
    const a = (((a0 + shift) % WEEK) + WEEK) % WEEK;
    const b = a + (b0 - a0);
    if (b > WEEK) {
      laid.push([a, WEEK], [0, Math.min(b - WEEK, WEEK)]);
    } else laid.push([a, b]);
  }
  laid.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  for (const [a, b] of laid) {
    const q = out[out.length - 1];
    if (q && a <= q[1]) q[1] = Math.max(q[1], b);
    else out.push([a, b]);
  }
  return out;
}
