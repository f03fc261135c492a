/**
 * `download`, `data download` and `update`: resolve the targets (provider and
 * symbols, provider strings, existing files, a data folder) into jobs and run
 * them. Loaded only when one of them runs. Private to `cli.ts`.
 *
 * @module
 */

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { CliContext } from "./_context.ts";
import { oneLine, UsageError } from "./_errors.ts";
import { fileJob, isFileTarget } from "./_file_job.ts";
import type { Job } from "./_job.ts";
import { runJobs } from "./_jobs.ts";
import { commonDownloadOptions, type Opts, parseTf } from "./_options.ts";
import { resolveProviderName, unknownProvider } from "./_providers.ts";
import { listSymbols } from "./catalog_commands.ts";
import { TIMEFRAME_FORMS } from "../format/timeframe.ts";
import { parseProviderString } from "../format/provider_string.ts";

/** `download [targets...]` and `data download [targets...]`. */
export async function downloadCommand(
  ctx: CliContext,
  targetsIn: string[],
  opts: Opts,
): Promise<void> {
  const now = Date.now();
  const targets = [...targetsIn];
  if (typeof opts["symbol"] === "string") targets.push(opts["symbol"]);
  const showInfo = opts["showInfo"] === true || opts["symbolInfo"] === true;
  const configDir = String(opts["configDir"] ?? "./config");
  const dataDir = String(opts["ohlcvDir"] ?? "./data");
  if (targets.length === 0) {
    throw new UsageError(
      "Nothing to download: give <provider> <symbol>..., provider strings or .ohlcv files",
      "For example: pyne-data download ccxt BINANCE:BTC/USDT -t 1D --from 30",
    );
  }
  if (opts["search"] !== undefined && opts["listSymbols"] !== true) {
    throw new UsageError(
      "--search only works with --list-symbols",
      "For example: pyne-data download ccxt --list-symbols --search binance",
    );
  }
  if (
    opts["dryRun"] === true &&
    (opts["listSymbols"] === true || showInfo)
  ) {
    throw new UsageError(
      `--dry-run plans a download; it does not go with ${
        opts["listSymbols"] === true ? "--list-symbols" : "--show-info"
      }`,
      "Drop --dry-run to list symbols or print the symbol info (neither downloads anything).",
    );
  }
  await checkDataDir(dataDir);
  const tfOpt = opts["timeframe"] !== undefined
    ? parseTf(String(opts["timeframe"]))
    : undefined;
  const common = await commonDownloadOptions(opts, now);

  // --list-symbols: <provider> [exchange]
  if (opts["listSymbols"] === true) {
    const first = targets[0]!;
    const name = await resolveProviderName(first);
    if (!name) throw await unknownProvider(first);
    if (targets.length > 2) {
      throw new UsageError(
        "--list-symbols takes a provider and at most one exchange",
        "For example: pyne-data download ccxt binance --list-symbols --search BTC",
      );
    }
    await listSymbols(ctx, name, targets[1], opts, configDir);
    return;
  }

  // Resolve targets into jobs without touching the disk or network.
  const jobs: Job[] = [];
  const firstName = isFileTarget(targets[0]!)
    ? undefined
    : await resolveProviderName(targets[0]!);
  if (firstName) {
    const symbols = targets.slice(1);
    if (symbols.length === 0) {
      throw new UsageError(
        `No symbol given for provider ${firstName}`,
        `For example: pyne-data download ${firstName} ${
          firstName === "ccxt" ? "BINANCE:BTC/USDT" : "EURUSD"
        } -t 1D --from 30`,
      );
    }
    if (!tfOpt) {
      throw new UsageError(
        "Missing --timeframe",
        `Add -t 1D (or any of: ${TIMEFRAME_FORMS}).`,
      );
    }
    for (const s of symbols) {
      if (s.trim() === "" || s.includes("@") || isFileTarget(s)) {
        throw new UsageError(
          `Invalid symbol "${s}" for provider ${firstName}`,
          "Give symbols like BINANCE:BTC/USDT; provider strings and files go without a provider name in front.",
        );
      }
      jobs.push({
        provider: firstName,
        symbol: s,
        timeframe: tfOpt,
        label: `${s}@${tfOpt.period}`,
      });
    }
  } else {
    for (const t of targets) {
      if (isFileTarget(t)) {
        const job = await fileJob(t);
        if (tfOpt && tfOpt.period !== job.timeframe.period) {
          throw new UsageError(
            `--timeframe ${tfOpt.period} differs from ${t}'s timeframe ${job.timeframe.period}`,
            "Drop --timeframe to top up the file, or download the symbol anew with <provider> <symbol> -t <timeframe>.",
          );
        }
        jobs.push(job);
        continue;
      }
      if (!t.includes(":")) {
        // `binance BTC/USDT`: an exchange where the provider belongs.
        const next = targets[1];
        throw await unknownProvider(
          t,
          t === targets[0] && next?.includes("/") && !next.includes(":")
            ? `ccxt ${t.toUpperCase()}:${next.toUpperCase()}`
            : undefined,
        );
      }
      let ps;
      try {
        ps = parseProviderString(t);
      } catch (e) {
        throw new UsageError(
          oneLine((e as Error).message),
          "Provider strings look like ccxt:BYBIT:BTC/USDT:USDT@1D or capitalcom:EURUSD@60.",
        );
      }
      const name = await resolveProviderName(ps.provider);
      if (!name) {
        throw await unknownProvider(
          ps.provider,
          `ccxt:${ps.provider.toUpperCase()}:${ps.symbol}${
            ps.timeframe ? `@${ps.timeframe}` : ""
          }`,
        );
      }
      const tfStr = ps.timeframe;
      if (tfStr && tfOpt && tfOpt.period !== tfStr) {
        throw new UsageError(
          `--timeframe ${tfOpt.period} differs from the @${tfStr} of "${t}"`,
          "Give the timeframe once, either with @ or with --timeframe.",
        );
      }
      const tf = tfStr ? parseTf(tfStr) : tfOpt;
      if (!tf) {
        throw new UsageError(
          `No timeframe for "${t}"`,
          `Append @<timeframe> (e.g. ${t}@1D) or pass -t 1D.`,
        );
      }
      jobs.push({
        provider: name,
        symbol: ps.symbol,
        timeframe: tf,
        label: `${ps.symbol}@${tf.period}`,
      });
    }
  }
  if (
    opts["truncate"] === true &&
    (common.from === "continue" || common.from === undefined)
  ) {
    throw new UsageError(
      "--truncate needs --from with a start date or a number of days",
      "For example --truncate --from 2020-01-01; drop --truncate to resume instead.",
    );
  }
  await runJobs(ctx, jobs, {
    ...common,
    configDir,
    dataDir,
    truncate: opts["truncate"] === true,
    extraData: opts["extraData"] === true,
    showInfo,
    dryRun: opts["dryRun"] === true,
  });
}

/** A `--ohlcv-dir` that exists must be a folder (a missing one is created). */
async function checkDataDir(dir: string): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch {
    return; // created by the download
  }
  if (!s.isDirectory()) {
    throw new UsageError(
      `--ohlcv-dir ${dir} is not a folder`,
      "Give the folder for the .ohlcv files (default ./data); it is created when missing.",
    );
  }
}

/** `update [dir]` */
export async function updateCommand(
  ctx: CliContext,
  dirArg: string | undefined,
  opts: Opts,
): Promise<void> {
  const now = Date.now();
  const dir = dirArg ?? String(opts["ohlcvDir"] ?? "./data");
  const configDir = String(opts["configDir"] ?? "./config");
  let s;
  try {
    s = await stat(dir);
  } catch {
    throw new UsageError(
      `Data folder ${dir} does not exist`,
      "Give the folder holding your .ohlcv files (default ./data).",
    );
  }
  if (!s.isDirectory()) {
    throw new UsageError(
      `${dir} is not a folder`,
      "Give the folder holding your .ohlcv files, or use `pyne-data download <file>` for one file.",
    );
  }
  const common = await commonDownloadOptions(opts, now);
  const names = (await readdir(dir)).filter((n) =>
    n.toLowerCase().endsWith(".ohlcv")
  ).sort();
  const jobs: Job[] = [];
  const skipped: string[] = [];
  for (const n of names) {
    const path = join(dir, n);
    try {
      jobs.push(await fileJob(path));
    } catch (e) {
      if (e instanceof UsageError) {
        skipped.push(`${n}: ${e.message}`);
      } else throw e;
    }
  }
  for (const s of skipped) ctx.info(`skipped ${s}\n`);
  if (jobs.length === 0) {
    if (ctx.json) {
      ctx.out(JSON.stringify({ ok: true, files: [], skipped }, null, 2) + "\n");
    } else {
      ctx.info(
        `Nothing to update in ${dir}: no .ohlcv file with a [download] section.\n`,
      );
    }
    return;
  }
  let repairs: (() => void) | undefined;
  if (opts["repair"] === true) {
    const { renderRepairs, repairJobs, repairOutcome } = await import(
      "./repair_command.ts"
    );
    const repaired = await repairJobs(ctx, jobs, {
      configDir,
      now: common.now,
    });
    // The repair lines go to stderr here: stdout keeps the one summary.
    if (!ctx.quiet && !ctx.json) {
      renderRepairs({ ...ctx, out: (t) => ctx.info(t) }, repaired);
    }
    for (const r of ctx.json ? repaired : []) {
      if (!r.summary) {
        ctx.info(
          `${r.job.path}: repair failed (${
            oneLine(
              r.error instanceof Error ? r.error.message : String(r.error),
            )
          }); topping it up all the same\n`,
        );
      }
    }
    repairs = () => repairOutcome(repaired);
  }
  await runJobs(ctx, jobs, {
    ...common,
    configDir,
    dataDir: dir,
    truncate: false,
    extraData: false,
    showInfo: false,
  });
  repairs?.(); // a failed or still incomplete repair: exit 1
}
