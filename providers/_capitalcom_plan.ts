/**
 * The dry-run plan of a Capital.com download: the `/prices` windows
 * `candles()` would request and their cost against the session's rate
 * limit. Worked out offline: no session is opened. Private.
 *
 * @module
 */

import type { Timeframe } from "../format/timeframe.ts";
import type { CandlePlan, CandleRequest } from "./provider.ts";
import {
  firstWindowMinute,
  lastWindowMinute,
  MAX_PAGE,
  pagingOf,
  windowAt,
} from "./_capitalcom_candles.ts";

const MINUTE = 60_000;

/** The session's rate limit: `limit` requests per `windowMs`. */
export interface CapitalComLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * The plan of `request` at `now`, cut into windows as `capitalComCandles`
 * cuts them: whole minutes from the first grid time, `pageSize` periods
 * each, ending short of now.
 */
export function planCapitalComCandles(
  request: CandleRequest,
  tf: Timeframe,
  now: number,
  rate: CapitalComLimit,
): CandlePlan {
  const requested = request.pageSize ?? MAX_PAGE;
  const { pageSize, concurrency } = pagingOf(request);
  let cursor = firstWindowMinute(
    tf,
    request.from,
    request.resumeAfter ?? -Infinity,
  );
  // The provider's first windows end a minute short of now.
  const last = lastWindowMinute(request.to, now, MINUTE);
  // Grid times from the first window's start to the last minute.
  const periods = cursor <= last ? Math.floor((last - cursor) / tf.ms) + 1 : 0;
  let windows = 0;
  while (cursor <= last) {
    windows++;
    cursor = windowAt(cursor, pageSize, tf.ms, last)[1] + MINUTE;
  }
  const notes: string[] = [];
  if (requested > MAX_PAGE) {
    notes.push(`page size ${requested} is above /prices' maximum: ${MAX_PAGE}`);
  }
  notes.push(
    "windows span clock time: hours the market is closed are asked for and answered empty",
  );
  return {
    pageSize,
    concurrency,
    windows,
    // The session, and the market's details for the symbol info.
    otherRequests: 2,
    periods,
    budget: {
      costPerRequest: 1,
      limit: rate.limit,
      windowMs: rate.windowMs,
      unit: "requests of the session",
      burst: true,
    },
    skipped: [],
    notes,
  };
}
