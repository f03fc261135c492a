/**
 * `repair <file>...` (and `update --repair`): re-fetch the failed and
 * never-requested holes of existing files from the provider named in their
 * `.toml`, rebuilding each file atomically. Loaded only when it runs.
 * Private to `cli.ts`.
 *
 * @module
 */

import { basename, extname } from "node:path";
import type { CliContext } from "./_context.ts";
import {
  IncompleteError,
  InterruptedError,
  isAbortError,
  oneLine,
  setErrorContext,
  UsageError,
} from "./_errors.ts";
import {
  coverageCell,
  coverageJson,
  coverageNotes,
  periodsIn,
} from "./_coverage_text.ts";
import { fileJob } from "./_file_job.ts";
import type { Job } from "./_job.ts";
import { clockOf, type Opts } from "./_options.ts";
import { fmtInt } from "./_progress.ts";
import { closeProviders, openProviders } from "./_providers.ts";
import type { RepairSummary } from "../pipeline/repair.ts";

/** What repairing one file came to. */
interface RepairResult {
  readonly job: Job;
  readonly summary?: RepairSummary;
  readonly error?: unknown;
}

/**
 * Repairs the files of `jobs` (each a top-up job from its file), one after
 * the other; returns what became of each. Provider errors are recorded per
 * file; an interruption stops the run.
 */
export async function repairJobs(
  ctx: CliContext,
  jobs: readonly Job[],
  options: { readonly configDir: string; readonly now: number | undefined },
): Promise<RepairResult[]> {
  const { repair } = await import("../pipeline/repair.ts");
  const names = [...new Set(jobs.map((j) => j.provider))];
  const providers = await openProviders(ctx, names, options.configDir);
  const results: RepairResult[] = [];
  try {
    for (const job of jobs) {
      const path = job.path!;
      try {
        const summary = await repair(providers.get(job.provider)!, path, {
          signal: ctx.signal,
          ...(options.now !== undefined ? { now: () => options.now! } : {}),
          onHole: (hole, i) => {
            ctx.info(
              `${basename(path)}: fetching hole ${i + 1}, ${
                new Date(hole.from).toISOString()
              } .. ${new Date(hole.to).toISOString()} (${
                fmtInt(periodsIn(job.timeframe, hole.from, hole.to))
              } periods, ${hole.state})\n`,
            );
          },
        });
        results.push({ job, summary });
      } catch (e) {
        if (isAbortError(e) || ctx.signal.aborted) throw new InterruptedError();
        setErrorContext(e, { provider: job.provider, symbol: job.symbol });
        results.push({ job, error: e });
      }
    }
  } finally {
    await closeProviders(providers);
  }
  return results;
}

/** The lines (or JSON object) telling what the repairs did. */
export function renderRepairs(
  ctx: CliContext,
  results: readonly RepairResult[],
): void {
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        {
          ok: results.every((r) => r.summary?.coverage.complete),
          files: results.map((r) => {
            const s = r.summary;
            const base = { path: r.job.path, providerString: null as unknown };
            if (!s) {
              return {
                ...base,
                ok: false,
                status: "failed",
                error: oneLine(
                  r.error instanceof Error ? r.error.message : String(r.error),
                ),
              };
            }
            return {
              ...base,
              providerString: s.providerString,
              ok: s.coverage.complete,
              status: s.coverage.complete ? "complete" : "incomplete",
              holes: s.holes.map((h) => ({
                from: new Date(h.from).toISOString(),
                to: new Date(h.to).toISOString(),
                state: h.state,
              })),
              added: s.candles,
              fileCount: s.fileCount,
              requests: s.requests,
              coverage: coverageJson(s.coverage, r.job.timeframe),
              durationMs: Math.round(s.durationMs),
            };
          }),
        },
        null,
        2,
      ) + "\n",
    );
    return;
  }
  for (const r of results) {
    const name = basename(r.job.path!);
    const s = r.summary;
    if (!s) {
      ctx.out(
        `${name}: repair failed: ${
          oneLine(r.error instanceof Error ? r.error.message : String(r.error))
        }\n`,
      );
      continue;
    }
    const what = s.holes.length === 0
      ? "no holes"
      : `${s.holes.length} ${s.holes.length === 1 ? "hole" : "holes"}, +${
        fmtInt(s.candles)
      } candles in ${fmtInt(s.requests)} requests`;
    ctx.out(
      `${name}: ${what}; ${fmtInt(s.fileCount)} in file; coverage ${
        coverageCell(s.coverage, r.job.timeframe)
      }\n`,
    );
    for (const n of coverageNotes(s.coverage, r.job.timeframe)) {
      ctx.out(`  ${name}: ${n}\n`);
    }
    if (s.ledgerNote) ctx.out(`  ${name}: ${s.ledgerNote}\n`);
  }
}

/** Throws for the first failed or still incomplete repair (exit 1). */
export function repairOutcome(results: readonly RepairResult[]): void {
  const failed = results.find((r) => !r.summary);
  if (failed) {
    if (results.length === 1) throw failed.error;
    const n = results.filter((r) => !r.summary).length;
    throw new Error(
      `${n} of ${results.length} repairs failed; first: ${
        basename(failed.job.path!)
      }: ${
        oneLine(
          failed.error instanceof Error
            ? failed.error.message
            : String(failed.error),
        )
      }`,
      { cause: failed.error },
    );
  }
  const open = results.find((r) => !r.summary!.coverage.complete);
  if (open) {
    const note = coverageNotes(open.summary!.coverage, open.job.timeframe, 1);
    throw new IncompleteError(
      `${basename(open.job.path!)} is still incomplete after the repair: ${
        note[0] ?? "part of it was not had"
      }`,
    );
  }
}

/** `repair <file>...` */
export async function repairCommand(
  ctx: CliContext,
  files: string[],
  opts: Opts,
): Promise<void> {
  if (files.length === 0) {
    throw new UsageError(
      "Nothing to repair: give one or more .ohlcv files",
      "For example: pyne-data repair data/ccxt_BINANCE_BTC_USDT_60.ohlcv",
    );
  }
  const jobs: Job[] = [];
  for (const f of files) {
    const ext = extname(f).toLowerCase();
    if (ext !== ".ohlcv" && ext !== ".toml") {
      throw new UsageError(
        `${f} is not a .ohlcv file`,
        "Give the .ohlcv files to repair (each with its .toml beside it).",
      );
    }
    jobs.push(await fileJob(f));
  }
  const results = await repairJobs(ctx, jobs, {
    configDir: String(opts["configDir"] ?? "./config"),
    now: await clockOf(opts),
  });
  if (!ctx.quiet || ctx.json) renderRepairs(ctx, results);
  repairOutcome(results);
}
