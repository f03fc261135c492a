/**
 * The dry-run plan of a ccxt download: the windows `candles()` would fetch,
 * the part beyond a venue's history that it would not ask for, and the
 * requests' cost against ccxt's throttle. Private to the ccxt provider.
 *
 * @module
 */

import { periodStart, type Timeframe } from "../format/timeframe.ts";
import type { CandlePlan, PlannedSkip, RequestBudget } from "./provider.ts";
import {
  alignUp,
  oldestServed,
  periodsBetween,
  planWindows,
} from "./_ccxt_paging.ts";
import type { ArchivePiece } from "./_binance_archive.ts";
import type { CcxtVenueRow } from "./_ccxt_venues.ts";

/** What the plan is worked out from. */
export interface CcxtPlanInput {
  readonly exchange: string;
  readonly row: CcxtVenueRow;
  readonly timeframe: Timeframe;
  /** Start, Unix ms (after a resume point). */
  readonly from: number;
  /** End, Unix ms, exclusive. */
  readonly to: number;
  /** The clock, Unix ms. */
  readonly now: number;
  readonly pageSize: number;
  readonly concurrency: number;
  /** ccxt's `rateLimit` of the instance (ms per cost unit), when known. */
  readonly rateLimit: number | undefined;
  /** The reason of the part beyond the venue's history. */
  readonly historyReason: string | undefined;
  /** Remarks so far (a lowered page size). */
  readonly notes: readonly string[];
  /** Archive files read instead of REST pages (Binance's public data). */
  readonly archive?:
    | { readonly origin: string; readonly pieces: readonly ArchivePiece[] }
    | undefined;
}

/** The plan of `[from, to)` on one exchange. */
export function planCcxtCandles(input: CcxtPlanInput): CandlePlan {
  const { row, timeframe: tf, pageSize } = input;
  const notes = [...input.notes];
  // Only closed candles: paging stops at the forming period.
  const to = Math.min(input.to, periodStart(tf, input.now));
  const skipped: PlannedSkip[] = [];
  let start = input.from;
  if (row.historyLimit !== undefined && start < to) {
    const cut = Math.min(
      to,
      oldestServed(tf, input.now, Math.max(1, row.historyLimit)),
    );
    if (start < cut) {
      skipped.push({
        from: start,
        to: cut,
        reason: input.historyReason ??
          `the venue serves only its latest ${row.historyLimit} candles`,
      });
      start = cut;
    }
  }
  let windows = start < to ? planWindows(tf, start, to, pageSize) : [];
  if (input.archive !== undefined && start < to) {
    const a = archiveWindows(input.archive.pieces, tf, to, pageSize);
    notes.push(
      `${a.files} archive files (${a.monthly} monthly, ${
        a.files - a.monthly
      } daily) from ${input.archive.origin} replace ${
        windows.length - a.rest.length
      } windows: ${
        2 * a.files
      } requests without request weight, each zip checked against its .CHECKSUM; ${a.junctions} of the windows below cross-check archive against REST where they meet`,
    );
    windows = [...a.rest, ...a.checks];
  }
  const periods = start < to ? periodsBetween(tf, alignUp(tf, start), to) : 0;
  if (row.rangeProbes && windows.length > input.concurrency) {
    notes.push(
      "a range starting before the market's listing is skipped with a few range probes (fewer requests)",
    );
  }
  return {
    pageSize,
    concurrency: input.concurrency,
    windows: windows.length,
    // The markets, and the venue's clock where it has one.
    otherRequests: windows.length > 0 ? 2 : 1,
    periods,
    budget: ccxtBudget(input.exchange, row, input.rateLimit),
    skipped,
    notes,
  };
}

/** ccxt's throttle for the exchange, as a budget. */
function ccxtBudget(
  exchange: string,
  row: CcxtVenueRow,
  rateLimit: number | undefined,
): RequestBudget | undefined {
  if (rateLimit === undefined || !(rateLimit > 0)) return undefined;
  const windowMs = row.weight?.windowMs ?? 60_000;
  return {
    costPerRequest: row.ohlcvCost ?? 1,
    limit: Math.floor(windowMs / rateLimit),
    windowMs,
    unit: `ccxt cost units of ${exchange}, ${rateLimit} ms each`,
    burst: row.weight !== undefined,
  };
}

/** The REST windows and cross-checks left beside an archive plan. */
function archiveWindows(
  pieces: readonly ArchivePiece[],
  tf: Timeframe,
  to: number,
  pageSize: number,
): {
  rest: Array<[number, number]>;
  checks: Array<[number, number]>;
  files: number;
  monthly: number;
  junctions: number;
} {
  const rest: Array<[number, number]> = [];
  const checks: Array<[number, number]> = [];
  let files = 0, monthly = 0;
  pieces.forEach((x, i) => {
    if (x.kind === "rest") {
      if (x.from < to) {
        rest.push(...planWindows(tf, x.from, Math.min(x.to, to), pageSize));
      }
      return;
    }
    files++;
    if (x.file.kind === "monthly") monthly++;
    const ms = Math.min(pageSize * tf.ms, x.file.to - x.file.from);
    if (pieces[i - 1]?.kind === "rest") {
      checks.push([x.file.from, x.file.from + ms]);
    }
    if (pieces[i + 1]?.kind === "rest") {
      checks.push([x.file.to - ms, x.file.to]);
    }
  });
  return { rest, checks, files, monthly, junctions: checks.length };
}
