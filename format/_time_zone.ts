/**
 * Private: UTC offsets of IANA time zones through `Intl`, for opening hours
 * and session conversions.
 *
 * @module
 */

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formats.set(zone, f);
  }
  return f;
}

/**
 * Offset of local time in `zone` from UTC at the instant `at` (Unix ms), in
 * ms (`+3_600_000` for UTC+1). Throws a `RangeError` for an unknown zone.
 */
export function zoneOffsetMs(zone: string, at: number): number {
  if (zone === "UTC" || zone === "Etc/UTC") return 0;
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const p of formatFor(zone).formatToParts(at)) {
    switch (p.type) {
      case "year":
        y = Number(p.value);
        break;
      case "month":
        mo = Number(p.value);
        break;
      case "day":
        d = Number(p.value);
        break;
      case "hour":
        h = Number(p.value);
        break;
      case "minute":
        mi = Number(p.value);
        break;
      case "second":
        s = Number(p.value);
        break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(at / 1000) * 1000;
}
