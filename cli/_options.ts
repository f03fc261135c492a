/**
 * Parsing of the download options shared by `download`, `update` and
 * `info`: whole numbers, timeframes, dates and the range. Private to the CLI.
 *
 * @module
 */

import { UsageError } from "./_errors.ts";
import { fmtInt } from "./_progress.ts";
import {
  parseTimeframe,
  type Timeframe,
  TIMEFRAME_FORMS,
} from "../format/timeframe.ts";

/** The raw options commander parsed. */
export type Opts = Record<string, unknown>;

export const DATE_FORMS =
  'continue, N (days back), YYYY-MM-DD, "YYYY-MM-DD HH:MM[:SS]" or ISO 8601';

export function positiveInt(
  v: unknown,
  flag: string,
  max = 1_000_000,
): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) {
    throw new UsageError(
      `${flag} must be a whole number from 1 to ${fmtInt(max)}, got "${s}"`,
      `For example ${flag} ${flag === "--limit" ? "1000" : "4"}.`,
    );
  }
  return Number(s);
}

export function parseTf(v: string, where = "--timeframe"): Timeframe {
  try {
    return parseTimeframe(v);
  } catch (e) {
    const message = (e as Error).message;
    throw new UsageError(
      `${where}: ${message}`,
      /accepted/i.test(message)
        ? "For example -t 1D (daily), -t 60 (hourly) or -t 5m (five minutes)."
        : `Accepted timeframes: ${TIMEFRAME_FORMS}.`,
    );
  }
}

export async function parseDate(
  v: unknown,
  flag: string,
  now: number,
): Promise<number | "continue"> {
  const { parseDateInput } = await import("../pipeline/date_input.ts");
  try {
    return parseDateInput(String(v), now);
  } catch (e) {
    const message = (e as Error).message;
    throw new UsageError(
      `${flag}: ${message}`,
      /accepted/i.test(message)
        ? `For example ${flag} 2024-01-01 or ${flag} 30 (days back).`
        : `Accepted: ${DATE_FORMS}.`,
    );
  }
}

/**
 * The clock: the hidden `--now <date>` (demos and tests pretend the current
 * time is fixed), else the real time.
 */
export async function clockOf(opts: Opts): Promise<number | undefined> {
  if (opts["now"] === undefined) return undefined;
  const t = await parseDate(opts["now"], "--now", Date.now());
  if (t === "continue") {
    throw new UsageError('--now cannot be "continue"', "Give a date.");
  }
  return t;
}

/** Shared option parsing of download and update. */
export async function commonDownloadOptions(opts: Opts, realNow: number) {
  const fixedNow = await clockOf(opts);
  const now = fixedNow ?? realNow;
  const concurrency = positiveInt(opts["concurrency"], "--concurrency", 64);
  const limit = positiveInt(opts["limit"], "--limit", 100_000);
  const from = opts["from"] !== undefined
    ? await parseDate(opts["from"], "--from", now)
    : undefined;
  const to = opts["to"] !== undefined
    ? await parseDate(opts["to"], "--to", now)
    : undefined;
  if (to === "continue") {
    throw new UsageError(
      '--to cannot be "continue"',
      "Give an end date or N days back (0 = now).",
    );
  }
  if (typeof from === "number" && typeof to === "number" && from >= to) {
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) is not before --to (${
        new Date(to).toISOString()
      })`,
      "Swap them or widen the range.",
    );
  }
  if (typeof from === "number" && from > now) {
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) is in the future`,
      "Give a past date or N days back.",
    );
  }
  return {
    concurrency,
    limit,
    from,
    to,
    now: fixedNow,
    archive: opts["archive"] !== false,
  };
}
