/**
 * A download job of the CLI (one file to download into), what it reports,
 * and the file it writes by default. Private to the CLI.
 *
 * @module
 */

import { join } from "node:path";
import type { Timeframe } from "../format/timeframe.ts";
import { ohlcvFileName } from "../format/provider_string.ts";
import type { DownloadSummary } from "../pipeline/download.ts";
import type { CoverageReport } from "../pipeline/coverage_report.ts";

/** One file to download into. */
export interface Job {
  /** Provider name as the registry knows it. */
  provider: string;
  /** Symbol as typed (normalized once the provider is open). */
  symbol: string;
  /** The timeframe. */
  timeframe: Timeframe;
  /** Explicit file path (top-up of an existing file). */
  path?: string | undefined;
  /** Start override for this job (`continue` for top-ups). */
  from?: number | "continue" | undefined;
  /** Label for progress and summary. */
  label: string;
}

/** What one finished (or failed) job reports. */
export interface JobResult {
  job: Job;
  ok: boolean;
  summary?: DownloadSummary;
  error?: unknown;
  /** Retries of a failed job. */
  retries?: number;
  /** Candles a failed (or interrupted) job committed before it stopped. */
  candles?: number;
  /** The file a failed job was writing (every commit in it is valid). */
  path?: string;
  /** Candles in that file after the failure. */
  fileCount?: number;
  /** The coverage of that file's requested range after the failure. */
  coverage?: CoverageReport | undefined;
}

/** The file a download of `job` writes when no path is given. */
export function defaultPath(dataDir: string, job: Job): string | undefined {
  try {
    return join(
      dataDir,
      ohlcvFileName({
        provider: job.provider,
        symbol: job.symbol,
        timeframe: job.timeframe.period,
      }),
    );
  } catch {
    return undefined;
  }
}
