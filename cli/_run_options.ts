/**
 * The options of a run of download jobs, and the `download()` options of one
 * job. Private to the CLI.
 *
 * @module
 */

import type { CliContext } from "./_context.ts";
import type { Job } from "./_job.ts";
import type { DownloadOptions } from "../pipeline/download.ts";
import { printAboveProgress } from "./_progress.ts";

/** What the command line asked of every job of a run. */
export interface RunOptions {
  /** Fixed clock (hidden --now), ms. */
  now: number | undefined;
  configDir: string;
  dataDir: string;
  from: number | "continue" | undefined;
  to: number | undefined;
  concurrency: number | undefined;
  limit: number | undefined;
  truncate: boolean;
  extraData: boolean;
  showInfo: boolean;
  /** Print the plan instead of downloading (`--dry-run`). */
  dryRun?: boolean | undefined;
  /** False with `--no-archive`: REST only. */
  archive?: boolean | undefined;
}

/** The `download()` options of a job (without progress). */
export function jobOptions(
  ctx: CliContext,
  job: Job,
  o: RunOptions,
): DownloadOptions {
  // An explicit --from wins over a top-up's "continue".
  const from = o.from ?? job.from;
  return {
    timeframe: job.timeframe,
    dataDir: o.dataDir,
    signal: ctx.signal,
    truncate: o.truncate,
    extraData: o.extraData,
    ...(ctx.quiet ? {} : {
      log: (line: string) =>
        printAboveProgress(`note: ${line}`, (t) => ctx.io.stderr(t)),
    }),
    ...(job.path !== undefined ? { path: job.path } : {}),
    ...(from !== undefined
      ? { from: from === "continue" ? from : new Date(from) }
      : {}),
    ...(o.to !== undefined ? { to: new Date(o.to) } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.limit !== undefined ? { pageSize: o.limit } : {}),
    ...(o.now !== undefined ? { now: () => o.now! } : {}),
    ...(o.archive === false ? { archive: false } : {}),
  };
}
