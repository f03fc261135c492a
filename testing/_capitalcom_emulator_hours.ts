/**
 * Opening hours of the Capital.com emulator's markets: time-zone offsets,
 * the open intervals in UTC, local times, and the hours as the details
 * answer serves them. Private.
 *
 * @module
 */

import { zoneOffsetMs } from "../format/_time_zone.ts";
import type {
  EmulatorMarket,
  EmulatorOpeningHours,
} from "./_capitalcom_markets.ts";

/** One day, ms. */
export const DAY_MS = 86_400_000;
const DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const unknownZones = new Set<string>();

function zoneOffset(zone: string, utcMs: number): number {
  if (unknownZones.has(zone)) return 0;
  try {
    return zoneOffsetMs(zone, utcMs);
  } catch {
    unknownZones.add(zone); // served as given, computed as UTC
    return 0;
  }
}

function localToUtc(zone: string, localMs: number): number {
  const guess = localMs - zoneOffset(zone, localMs);
  return localMs - zoneOffset(zone, guess);
}

function parseSegment(segment: string): [number, number] {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(segment);
  if (!m) throw new RangeError(`Bad opening hours segment "${segment}"`);
  const s = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  let e = (Number(m[3]) * 60 + Number(m[4])) * 60_000;
  if (e <= s) e += DAY_MS; // "00:00" end = midnight; earlier end = next day
  return [s, e];
}

/** Open intervals `[start, end)` in UTC ms overlapping `[from, to)`, sorted and merged. */
export function openIntervals(
  hours: EmulatorOpeningHours,
  from: number,
  to: number,
): [number, number][] {
  const out: [number, number][] = [];
  const firstDay = Math.floor(from / DAY_MS) - 2;
  const lastDay = Math.floor(to / DAY_MS) + 2;
  for (let day = firstDay; day <= lastDay; day++) {
    const weekday = ((day + 3) % 7 + 7) % 7; // 1970-01-01 was a Thursday (3)
    const localMidnight = day * DAY_MS;
    for (const seg of hours[DAY_KEYS[weekday]!]) {
      const [s, e] = parseSegment(seg);
      const a = localToUtc(hours.zone, localMidnight + s);
      const b = localToUtc(hours.zone, localMidnight + e);
      if (b > from && a < to) out.push([a, b]);
    }
  }
  out.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const iv of out) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

/** The local time of `utcMs` in `zone`, as Capital.com writes it. */
export function formatLocal(zone: string, utcMs: number): string {
  return new Date(utcMs + zoneOffset(zone, utcMs)).toISOString().slice(0, 19);
}

/**
 * The market's hours as the details answer gives them: in `servedZone`,
 * converted with the offsets at `at`, cut at midnights, `"00:00"` ending a
 * span at midnight.
 */
export function servedHours(
  m: EmulatorMarket,
  at: number,
): EmulatorOpeningHours {
  const h = m.openingHours;
  const zone = m.servedZone ?? h.zone;
  if (zone === h.zone) return { ...h };
  const WEEK = 7 * 1440;
  const shift = Math.round(
    (zoneOffset(zone, at) - zoneOffset(h.zone, at)) / 60_000,
  );
  const spans: [number, number][] = [];
  DAY_KEYS.forEach((key, d) => {
    for (const seg of h[key]) {
      const [s, e] = parseSegment(seg).map((x) => x / 60_000) as [
        number,
        number,
      ];
      const a = ((d * 1440 + s + shift) % WEEK + WEEK) % WEEK;
      const b = a + e - s;
      if (b > WEEK) spans.push([a, WEEK], [0, b - WEEK]);
      else spans.push([a, b]);
    }
  });
  spans.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of spans) {
    const q = merged[merged.length - 1];
    if (q && a <= q[1]) q[1] = Math.max(q[1], b);
    else merged.push([a, b]);
  }
  const hm = (x: number) =>
    `${String(Math.floor(x / 60) % 24).padStart(2, "0")}:${
      String(x % 60).padStart(2, "0")
    }`;
  const out: Record<string, string[]> = {};
  for (const key of DAY_KEYS) out[key] = [];
  for (const [a, b] of merged) {
    for (let d = Math.floor(a / 1440); d * 1440 < b; d++) {
      const s = Math.max(a, d * 1440) - d * 1440;
      const e = Math.min(b, (d + 1) * 1440) - d * 1440;
      if (e > s) out[DAY_KEYS[d % 7]!]!.push(`${hm(s)} - ${hm(e)}`);
    }
  }
  return {
    zone,
    mon: out.mon!,
    tue: out.tue!,
    wed: out.wed!,
    thu: out.thu!,
    fri: out.fri!,
    sat: out.sat!,
    sun: out.sun!,
  };
}
