/**
 * Runs download jobs: opens each provider once, normalizes symbols, runs up
 * to six files at once with a progress display, and reports the summary or
 * the failures. Private to the CLI.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import type { CliContext } from "./_context.ts";
import { coverageNotes } from "./_coverage_text.ts";
import {
  IncompleteError,
  InterruptedError,
  isAbortError,
  oneLine,
  setErrorContext,
  UsageError,
} from "./_errors.ts";
import { exists } from "./_file_job.ts";
import { defaultPath, type Job, type JobResult } from "./_job.ts";
import { fmtInt, ProgressRenderer } from "./_progress.ts";
import {
  closeProviders,
  openProviders,
  setLiveProgress,
} from "./_providers.ts";
import { errMessage, renderSummary, shortReason } from "./_summary.ts";
import { ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import type { Provider } from "../providers/provider.ts";
import type { DownloadOptions } from "../pipeline/download.ts";
import { jobOptions, type RunOptions } from "./_run_options.ts";

export type { RunOptions } from "./_run_options.ts";
import type { CoverageReport } from "../pipeline/coverage_report.ts";

/** The coverage of a file a failed job left, when it can be read. */
async function coverageOf(
  path: string,
  now: number | undefined,
): Promise<CoverageReport | undefined> {
  try {
    const { fileCoverage } = await import("../pipeline/repair.ts");
    const { report } = await fileCoverage(path, {
      ...(now !== undefined ? { now: () => now } : {}),
    });
    return report;
  } catch {
    return undefined; // no .toml yet, or unreadable: the error line tells
  }
}

/** How many symbols download at once (each with its own page concurrency). */
const SYMBOL_PARALLELISM = 6;

export async function runJobs(
  ctx: CliContext,
  jobsIn: Job[],
  o: RunOptions,
): Promise<void> {
  // Open each provider once (its jobs share it, and so its rate limit). With
  // several providers (update), one that cannot open fails only its files.
  const names = new Set(jobsIn.map((j) => j.provider));
  const providers = new Map<string, Provider>();
  const openErrors = new Map<string, unknown>();
  for (const name of names) {
    try {
      providers.set(
        name,
        (await openProviders(ctx, [name], o.configDir)).get(name)!,
      );
    } catch (e) {
      if (names.size === 1) throw e;
      openErrors.set(name, e);
    }
  }
  try {
    // Normalize symbols: a malformed symbol is a usage error.
    const seen = new Set<string>();
    const jobs: Job[] = [];
    const unopened: JobResult[] = [];
    for (const j of jobsIn) {
      const p = providers.get(j.provider);
      if (!p) {
        unopened.push({ job: j, ok: false, error: openErrors.get(j.provider) });
        continue;
      }
      let symbol: string;
      try {
        symbol = p.normalizeSymbol(j.symbol);
      } catch (e) {
        throw new UsageError(
          oneLine((e as Error).message),
          j.provider === "ccxt"
            ? "ccxt symbols look like BINANCE:BTC/USDT or BYBIT:BTC/USDT:USDT (exchange, then the unified symbol)."
            : `List symbols with \`pyne-data symbols ${j.provider} --search <text>\`.`,
        );
      }
      // One job per file: the same file named twice (as a symbol and as a
      // path) is downloaded once, not raced for its lock.
      const file = j.path ?? defaultPath(o.dataDir, { ...j, symbol });
      const key = file !== undefined
        ? resolve(file)
        : `${j.provider}|${symbol}|${j.timeframe.period}`;
      if (seen.has(key)) continue;
      seen.add(key);
      jobs.push({
        ...j,
        symbol,
        label: j.path
          ? j.label
          : `${j.provider}:${symbol}@${j.timeframe.period}`,
      });
    }

    if (o.showInfo) {
      const infos = [];
      for (const j of jobs) {
        try {
          const info = await providers.get(j.provider)!.symbolInfo(
            j.symbol,
            j.timeframe,
          );
          infos.push({ job: j, info });
        } catch (e) {
          setErrorContext(e, { provider: j.provider, symbol: j.symbol });
          throw e;
        }
      }
      const { stringifySymbolInfo } = await import(
        "../format/symbol_info_toml.ts"
      );
      const { formatProviderString } = await import(
        "../format/provider_string.ts"
      );
      if (ctx.json) {
        ctx.out(JSON.stringify(infos.map((x) => x.info), null, 2) + "\n");
      } else {
        for (const { job, info } of infos) {
          ctx.out(
            `# ${job.label}\n` +
              stringifySymbolInfo(info, {
                provider: formatProviderString({
                  provider: job.provider,
                  symbol: job.symbol,
                  timeframe: job.timeframe,
                }),
              }) + "\n",
          );
        }
      }
      return;
    }

    if (o.dryRun) {
      const { renderDryRun } = await import("./_dry_run.ts");
      await renderDryRun(ctx, jobs, providers, o);
      return;
    }

    const { download } = await import("../pipeline/download.ts");
    const progress = ctx.quiet ? undefined : new ProgressRenderer({
      write: (t) => ctx.io.stderr(t),
      tty: ctx.io.stderrIsTerminal,
      color: ctx.color,
      columns: ctx.io.columns,
      rows: ctx.io.rows,
      size: ctx.io.terminalSize,
    });
    setLiveProgress(progress);
    const results: JobResult[] = new Array(jobs.length);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const i = next++;
        const job = jobs[i]!;
        if (ctx.signal.aborted) {
          results[i] = { job, ok: false, error: ctx.signal.reason };
          continue;
        }
        const id = String(i);
        const to = o.to ?? o.now ?? Date.now();
        progress?.add(id, job.label, {
          from: typeof (o.from ?? job.from) === "number"
            ? (o.from ?? job.from) as number
            : undefined,
          to,
          periodMs: job.timeframe.ms,
        });
        const provider = providers.get(job.provider)!;
        const statsBefore = { ...provider.stats };
        const path = job.path ?? defaultPath(o.dataDir, job);
        const countBefore = path === undefined
          ? 0
          : await ohlcvRecordCount(path);
        try {
          const options: DownloadOptions = {
            ...jobOptions(ctx, job, o),
            onProgress: (p) => {
              progress?.update(id, {
                candles: p.candles,
                reached: p.time,
                fraction: p.fraction,
              });
            },
          };
          const summary = await download(provider, job.symbol, options);
          results[i] = { job, ok: true, summary };
          progress?.finish(
            id,
            true,
            summary.upToDate ? "up to date" : `+${fmtInt(summary.candles)}`,
          );
        } catch (e) {
          setErrorContext(e, { provider: job.provider, symbol: job.symbol });
          // What the file holds now: every commit before the failure stays
          // (a --truncate download replaces the file only when complete).
          const fileCount = path === undefined
            ? 0
            : await ohlcvRecordCount(path);
          const kept = path !== undefined && await exists(path);
          results[i] = {
            job,
            ok: false,
            error: e,
            ...(kept ? { coverage: await coverageOf(path, o.now) } : {}),
            retries: provider.stats.retries - statsBefore.retries,
            candles: o.truncate ? 0 : Math.max(0, fileCount - countBefore),
            ...(kept ? { path, fileCount } : {}),
          };
          progress?.finish(
            id,
            false,
            isAbortError(e) ? "interrupted" : shortReason(e),
          );
        }
      }
    };
    try {
      await Promise.all(
        Array.from(
          { length: Math.min(SYMBOL_PARALLELISM, jobs.length) },
          () => worker(),
        ),
      );
    } finally {
      progress?.stop();
      setLiveProgress(undefined);
    }
    results.push(...unopened);
    // A single failed download is fully told by its error line; an
    // interrupted one also gets its row (what the file holds now).
    if (
      ctx.json || results.length > 1 || results[0]?.ok ||
      isAbortError(results[0]?.error)
    ) {
      renderSummary(ctx, results);
    }
    const failed = results.filter((r) => !r.ok);
    if (ctx.signal.aborted || failed.some((r) => isAbortError(r.error))) {
      throw new InterruptedError();
    }
    if (failed.length === 1 && results.length === 1) {
      throw failed[0]!.error;
    }
    if (failed.length > 0) {
      const first = failed[0]!;
      const err = new Error(
        `${failed.length} of ${results.length} downloads failed; first: ${first.job.label}: ${
          oneLine(errMessage(first.error))
        }`,
        { cause: first.error },
      );
      err.name = (first.error as Error)?.name ?? "Error";
      setErrorContext(err, {
        provider: first.job.provider,
        symbol: first.job.symbol,
      });
      throw err;
    }
    const incomplete = results.filter((r) =>
      r.summary && !r.summary.coverage.complete
    );
    if (incomplete.length > 0) {
      const first = incomplete[0]!;
      const note = coverageNotes(
        first.summary!.coverage,
        first.job.timeframe,
        1,
      );
      throw new IncompleteError(
        `${
          results.length > 1
            ? `${incomplete.length} of ${results.length} downloads are incomplete; first: `
            : ""
        }${basename(first.summary!.path)}: ${
          note[0] ?? "part of the range was not had"
        }`,
      );
    }
  } finally {
    await closeProviders(providers);
  }
}
