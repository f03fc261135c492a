/**
 * Capital.com `openingHours` → PyneCore opening hours and session starts/ends.
 *
 * @module
 */

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

/**
 * Converts Capital.com opening hours to PyneCore's form: days 0 = Monday,
 * `"00:00 - 00:00"` a full day (`00:00:00`–`23:59:59`), an end of `00:00`
 * midnight (`23:59:59`), spans past midnight split in two. Session starts and
 * ends mark where trading resumes and stops around breaks longer than
 * {@linkcode SESSION_BREAK_TOLERANCE_S}; a market with no such break (24/7)
 * gets a start at `00:00:00` and an end at `23:59:59` on every day.
 * Throws a `ProviderError` naming a segment it cannot read.
 */
export function convertOpeningHours(
  hours: CapitalComOpeningHours,
): ConvertedSessions {
  // Pieces as [day, startSeconds, endSeconds] with end exclusive-ish (86400 = midnight).
  const pieces: [number, number, number][] = [];
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
      if (end === 0) end = DAY; // "... - 00:00" ends at midnight
      if (end > start) {
        pieces.push([d, start, end]);
      } else {
        // Overnight span: split at midnight.
        pieces.push([d, start, DAY]);
        if (end > 0) pieces.push([(d + 1) % 7, 0, end]);
      }
    }
  }
  pieces.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  // Overlapping or touching pieces of one day become one interval.
  const unique: [number, number, number][] = [];
  for (const p of pieces) {
    const q = unique[unique.length - 1];
    if (q && q[0] === p[0] && p[1] <= q[2]) q[2] = Math.max(q[2], p[2]);
    else unique.push([p[0], p[1], p[2]]);
  }
  const openingHours: OpeningHours[] = unique.map(([day, s, e]) => ({
    day,
    start: hms(s),
    end: hms(e),
  }));

  // Sessions: merge the week's intervals (circularly) across short pauses.
  const spans = unique.map(([d, s, e]) => [d * DAY + s, d * DAY + e]) as [
    number,
    number,
  ][];
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
        if (unique.some((p) => p[0] === d)) {
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
  return {
    timezone: hours.zone && hours.zone.length > 0 ? hours.zone : "UTC",
    openingHours,
    sessionStarts,
    sessionEnds,
  };
}
