/**
 * `download`, `data download`, `update`, `providers`, `symbols`, `info`:
 * the commands that talk to providers. Loaded only when one of them runs.
 * Private to `cli.ts`.
 *
 * @module
 */

import { readdir, stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import type { CliContext } from "./_context.ts";
import {
  InterruptedError,
  isAbortError,
  oneLine,
  setErrorContext,
  UsageError,
} from "./_errors.ts";
import { fmtInt, fmtTime, ProgressRenderer } from "./_progress.ts";
import {
  parseTimeframe,
  type Timeframe,
  TIMEFRAME_FORMS,
} from "../format/timeframe.ts";
import {
  ohlcvFileName,
  parseProviderString,
} from "../format/provider_string.ts";
import { ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import type { Provider } from "../providers/provider.ts";
import type { DownloadOptions, DownloadSummary } from "../pipeline/download.ts";

type Opts = Record<string, unknown>;

/** One file to download into. */
interface Job {
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
interface JobResult {
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
}

const DATE_FORMS =
  'continue, N (days back), YYYY-MM-DD, "YYYY-MM-DD HH:MM[:SS]" or ISO 8601';

function positiveInt(
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

function parseTf(v: string, where = "--timeframe"): Timeframe {
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

async function parseDate(
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

async function registry(): Promise<typeof import("../providers/registry.ts")> {
  return await import("../providers/registry.ts");
}

interface ProviderEntryLike {
  name: string;
  aliases?: readonly string[] | undefined;
  description?: string | undefined;
}

async function providerEntries(): Promise<ProviderEntryLike[]> {
  const reg = await registry();
  return reg.listProviders() as unknown as ProviderEntryLike[];
}

/** Resolves a provider name or alias (case-insensitive) to its registry name. */
async function resolveProviderName(name: string): Promise<string | undefined> {
  const lower = name.toLowerCase();
  for (const e of await providerEntries()) {
    if (e.name.toLowerCase() === lower) return e.name;
    if (e.aliases?.some((a) => a.toLowerCase() === lower)) return e.name;
  }
  return undefined;
}

async function unknownProvider(
  name: string,
  example?: string,
): Promise<UsageError> {
  const names = (await providerEntries()).map((e) => e.name).join(", ");
  return new UsageError(
    `Unknown provider "${name}"`,
    example
      ? `Providers: ${names}. Did you mean ${example}?`
      : `Providers: ${names} (see \`pyne-data providers\`).`,
  );
}

async function openProviders(
  ctx: CliContext,
  names: Iterable<string>,
  configDir: string,
): Promise<Map<string, Provider>> {
  const reg = await registry();
  const out = new Map<string, Provider>();
  try {
    for (const name of names) {
      ctx.log(`opening provider ${name} (config ${configDir})`);
      out.set(
        name,
        await reg.openProvider(name, {
          configDir,
          env: ctx.io.env,
          log: (line: string) => {
            if (!ctx.verbose) return;
            if (liveProgress) liveProgress.log(`[verbose] ${line}`);
            else ctx.log(line);
          },
        }),
      );
    }
  } catch (e) {
    await closeProviders(out);
    throw e;
  }
  return out;
}

async function closeProviders(providers: Map<string, Provider>): Promise<void> {
  for (const p of providers.values()) {
    try {
      await p[Symbol.asyncDispose]();
    } catch {
      // closing is best effort
    }
  }
}

function isFileTarget(t: string): boolean {
  const ext = extname(t).toLowerCase();
  return ext === ".ohlcv" || ext === ".toml";
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Builds a top-up job from an existing `.ohlcv`/`.toml` and its `[download]` section. */
async function fileJob(target: string): Promise<Job> {
  const ext = extname(target);
  const stem = target.slice(0, target.length - ext.length);
  const ohlcvPath = `${stem}.ohlcv`;
  const tomlPath = `${stem}.toml`;
  if (!(await exists(target))) {
    throw new UsageError(
      `File ${target} does not exist`,
      "To top up a file give the path of an existing .ohlcv (or its .toml); to start a new one give <provider> <symbol> -t <timeframe>.",
    );
  }
  if (!(await exists(tomlPath))) {
    throw new UsageError(
      `Cannot top up ${ohlcvPath}: ${tomlPath} (with its [download] section) is missing`,
      "Download it again with <provider> <symbol> -t <timeframe>; pyne-data writes the .toml beside every file.",
    );
  }
  const { readSymbolInfo } = await import("../format/symbol_info_toml.ts");
  let provider: string | undefined;
  let period: string | undefined;
  try {
    const r = await readSymbolInfo(tomlPath);
    provider = r.provider;
    period = r.info.period;
  } catch (e) {
    throw new UsageError(
      `Cannot top up ${ohlcvPath}: ${oneLine((e as Error).message)}`,
      "Fix the .toml or download the symbol again with <provider> <symbol> -t <timeframe>.",
    );
  }
  if (!provider) {
    throw new UsageError(
      `Cannot top up ${ohlcvPath}: ${tomlPath} has no [download] provider string`,
      'Add [download] provider = "ccxt:BINANCE:BTC/USDT@1D" (for example) to the .toml, or download with <provider> <symbol>.',
    );
  }
  let ps;
  try {
    ps = parseProviderString(provider);
  } catch (e) {
    throw new UsageError(
      `Cannot top up ${ohlcvPath}: ${oneLine((e as Error).message)}`,
      "Fix the [download] provider string in the .toml.",
    );
  }
  const name = await resolveProviderName(ps.provider);
  if (!name) throw await unknownProvider(ps.provider);
  const tfText = ps.timeframe ?? period;
  if (!tfText) {
    throw new UsageError(
      `Cannot top up ${ohlcvPath}: no timeframe in ${tomlPath}`,
      "Add @<timeframe> to the [download] provider string.",
    );
  }
  const timeframe = parseTf(tfText, `timeframe of ${tomlPath}`);
  return {
    provider: name,
    symbol: ps.symbol,
    timeframe,
    path: ohlcvPath,
    from: "continue",
    label: basename(ohlcvPath, extname(ohlcvPath)),
  };
}

/**
 * The clock: the hidden `--now <date>` (demos and tests pretend the current
 * time is fixed), else the real time.
 */
async function clockOf(opts: Opts): Promise<number | undefined> {
  if (opts["now"] === undefined) return undefined;
  const t = await parseDate(opts["now"], "--now", Date.now());
  if (t === "continue") {
    throw new UsageError('--now cannot be "continue"', "Give a date.");
  }
  return t;
}

/** Shared option parsing of download and update. */
async function commonDownloadOptions(opts: Opts, realNow: number) {
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
  return { concurrency, limit, from, to, now: fixedNow };
}

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
  });
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
  await runJobs(ctx, jobs, {
    ...common,
    configDir,
    dataDir: dir,
    truncate: false,
    extraData: false,
    showInfo: false,
  });
}

interface RunOptions {
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
}

/** The progress display in use, so diagnostics print above it. */
let liveProgress: ProgressRenderer | undefined;

/** How many symbols download at once (each with its own page concurrency). */
const SYMBOL_PARALLELISM = 6;

async function runJobs(
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

    const { download } = await import("../pipeline/download.ts");
    const progress = ctx.quiet ? undefined : new ProgressRenderer({
      write: (t) => ctx.io.stderr(t),
      tty: ctx.io.stderrIsTerminal,
      color: ctx.color,
      columns: ctx.io.columns,
      rows: ctx.io.rows,
      size: ctx.io.terminalSize,
    });
    liveProgress = progress;
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
          // An explicit --from wins over a top-up's "continue".
          const from = o.from ?? job.from;
          const options: DownloadOptions = {
            timeframe: job.timeframe,
            dataDir: o.dataDir,
            signal: ctx.signal,
            truncate: o.truncate,
            extraData: o.extraData,
            onProgress: (p) => {
              progress?.update(id, {
                candles: p.candles,
                reached: p.time,
                fraction: p.fraction,
              });
            },
            ...(job.path !== undefined ? { path: job.path } : {}),
            ...(from !== undefined
              ? { from: from === "continue" ? from : new Date(from) }
              : {}),
            ...(o.to !== undefined ? { to: new Date(o.to) } : {}),
            ...(o.concurrency !== undefined
              ? { concurrency: o.concurrency }
              : {}),
            ...(o.limit !== undefined ? { pageSize: o.limit } : {}),
            ...(o.now !== undefined ? { now: () => o.now! } : {}),
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
          results[i] = {
            job,
            ok: false,
            error: e,
            retries: provider.stats.retries - statsBefore.retries,
            candles: o.truncate ? 0 : Math.max(0, fileCount - countBefore),
            ...(path !== undefined && await exists(path)
              ? { path, fileCount }
              : {}),
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
      liveProgress = undefined;
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
  } finally {
    await closeProviders(providers);
  }
}

/** The file a download of `job` writes when no path is given. */
function defaultPath(dataDir: string, job: Job): string | undefined {
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

/** A few words of a failure for the progress line (the Error: line tells all). */
function shortReason(e: unknown): string {
  const m = oneLine(errMessage(e));
  return m.length > 48 ? m.slice(0, 47) + "…" : m;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function gapText(s: DownloadSummary): string {
  const anomalies = s.gaps.filter((g) => g.kind === "anomaly").length;
  if (s.anomalyPeriods === 0 && s.closedPeriods === 0) return "none";
  const parts: string[] = [];
  if (s.anomalyPeriods > 0) {
    parts.push(
      `${anomalies} ${anomalies === 1 ? "anomaly" : "anomalies"} (${
        fmtInt(s.anomalyPeriods)
      } missing)`,
    );
  }
  if (s.closedPeriods > 0) parts.push(`${fmtInt(s.closedPeriods)} closed`);
  return parts.join(", ");
}

function jsonResult(r: JobResult): Record<string, unknown> {
  const s = r.summary;
  const base = {
    provider: r.job.provider,
    symbol: r.job.symbol,
    timeframe: r.job.timeframe.period,
    ok: r.ok,
  };
  if (!s) {
    return {
      ...base,
      path: r.path ?? r.job.path ?? null,
      status: isAbortError(r.error) ? "interrupted" : "failed",
      error: oneLine(errMessage(r.error)),
      added: r.candles ?? 0,
      fileCount: r.fileCount ?? null,
      retries: r.retries ?? null,
    };
  }
  return {
    ...base,
    status: s.upToDate ? "up-to-date" : "ok",
    path: s.path,
    symbolInfoPath: s.symbolInfoPath,
    providerString: s.providerString,
    mode: s.mode,
    added: s.candles,
    first: iso(s.first),
    last: iso(s.last),
    fileCount: s.fileCount,
    fileFirst: iso(s.fileFirst),
    fileLast: iso(s.fileLast),
    upToDate: s.upToDate,
    requests: s.requests,
    retries: s.retries,
    gaps: {
      anomalies: s.gaps.filter((g) => g.kind === "anomaly").length,
      anomalyPeriods: s.anomalyPeriods,
      closedPeriods: s.closedPeriods,
      runs: s.gaps.map((g) => ({
        from: iso(g.from),
        to: iso(g.to),
        periods: g.periods,
        kind: g.kind,
      })),
    },
    duplicates: s.duplicates,
    conflicts: s.conflicts,
    formingDropped: s.formingDropped,
    validation: {
      checked: s.validation.checked,
      invalid: s.validation.invalid,
      dropped: s.validation.dropped,
    },
    durationMs: Math.round(s.durationMs),
  };
}

function renderSummary(ctx: CliContext, results: JobResult[]): void {
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        { ok: results.every((r) => r.ok), files: results.map(jsonResult) },
        null,
        2,
      ) + "\n",
    );
    return;
  }
  if (ctx.quiet) return;
  const head = [
    "file",
    "added",
    "from",
    "to",
    "in file",
    "gaps",
    "retries",
    "status",
  ];
  const rows = results.map((r) => {
    const s = r.summary;
    const path = s?.path ?? r.path ?? r.job.path;
    const name = path ? basename(path) : r.job.label;
    if (!s) {
      return [
        name,
        r.candles ? fmtInt(r.candles) : "-",
        "-",
        "-",
        r.fileCount ? fmtInt(r.fileCount) : "-",
        "-",
        r.retries !== undefined ? fmtInt(r.retries) : "-",
        isAbortError(r.error)
          ? "interrupted (resumable)"
          : `failed: ${shortReason(r.error)}`,
      ];
    }
    return [
      name,
      fmtInt(s.candles),
      s.candles ? fmtTime(s.first) : "-",
      s.candles ? fmtTime(s.last) : "-",
      fmtInt(s.fileCount),
      gapText(s),
      fmtInt(s.retries),
      s.upToDate ? "up to date" : s.mode === "new" ? "new" : s.mode,
    ];
  });
  const right = new Set([1, 4, 6]);
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => r[c]!.length))
  );
  // On a terminal, fit its width: drop the retries column when every row
  // has none, then "in file", then "from", then "to" (--json has everything).
  const keep = head.map(() => true);
  if (ctx.io.stdoutIsTerminal) {
    const width = () =>
      widths.reduce((sum, w, c) => sum + (keep[c] ? w + 2 : 0), -2);
    const noRetries = rows.every((r) => r[6] === "0" || r[6] === "-");
    for (const c of [6, 4, 2, 3]) {
      if (width() <= ctx.io.columns - 1) break;
      if (c === 6 && !noRetries) continue;
      keep[c] = false;
    }
  }
  const line = (cells: string[]) =>
    cells.flatMap((x, c) =>
      !keep[c] ? [] : [
        right.has(c) ? x.padStart(widths[c]!) : x.padEnd(widths[c]!),
      ]
    ).join("  ").trimEnd();
  const out = [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  // Gap report: the anomalies (market open, no candle) of each file.
  const notes: string[] = [];
  for (const r of results) {
    const s = r.summary;
    if (!s) continue;
    const anomalies = s.gaps.filter((g) => g.kind === "anomaly");
    for (const g of anomalies.slice(0, 5)) {
      const to = fmtTime(g.to);
      const sameDay = to.slice(0, 10) === fmtTime(g.from).slice(0, 10);
      notes.push(
        `  ${basename(s.path)}: ${fmtTime(g.from)} .. ${
          sameDay ? to.slice(11) : to
        }  ${fmtInt(g.periods)} missing`,
      );
    }
    if (anomalies.length > 5) {
      notes.push(`  ${basename(s.path)}: ... and ${anomalies.length - 5} more`);
    }
    const extra: string[] = [];
    if (s.formingDropped) {
      extra.push(`${s.formingDropped} forming candle dropped`);
    }
    if (s.duplicates) extra.push(`${fmtInt(s.duplicates)} duplicates dropped`);
    if (s.conflicts) {
      extra.push(`${fmtInt(s.conflicts)} conflicting duplicates (first kept)`);
    }
    if (s.validation.invalid) {
      extra.push(
        `${fmtInt(s.validation.invalid)} invalid candles (${
          fmtInt(s.validation.dropped)
        } dropped)`,
      );
    }
    if (extra.length) notes.push(`  ${basename(s.path)}: ${extra.join(", ")}`);
  }
  if (notes.length) {
    out.push(
      "",
      "Gaps (candles missing while the market was open) and notes:",
      ...notes,
    );
  }
  ctx.out(out.join("\n") + "\n");
}

async function listSymbols(
  ctx: CliContext,
  name: string,
  exchange: string | undefined,
  opts: Opts,
  configDir: string,
): Promise<void> {
  const search = opts["search"] !== undefined
    ? String(opts["search"])
    : undefined;
  let q = search;
  if (exchange !== undefined) {
    if (name === "ccxt") q = `${exchange.toUpperCase()}:${search ?? ""}`;
    else if (search === undefined) q = exchange; // no exchanges: search text
    else {
      throw new UsageError(
        `${name} has no exchanges; got "${exchange}" and --search "${search}"`,
        `Use one search text: pyne-data symbols ${name} --search <text>`,
      );
    }
  }
  const providers = await openProviders(ctx, [name], configDir);
  try {
    const p = providers.get(name)!;
    const list = await p.listSymbols({
      search: q,
      signal: ctx.signal,
    });
    if (ctx.json) {
      ctx.out(JSON.stringify(list, null, 2) + "\n");
      return;
    }
    const w = Math.min(40, Math.max(6, ...list.map((s) => s.symbol.length)));
    for (const s of list) {
      ctx.out(
        [
          s.symbol.padEnd(w),
          s.type ?? "",
          s.description ?? "",
        ].join("  ").trimEnd() + "\n",
      );
    }
    const exchanges = list.length > 0 &&
      list.every((s) => s.type === "exchange");
    const noun = exchanges ? "exchange" : "symbol";
    ctx.info(`${fmtInt(list.length)} ${noun}${list.length === 1 ? "" : "s"}\n`);
  } finally {
    await closeProviders(providers);
  }
}

/** `providers [--json]` */
export async function providersCommand(
  ctx: CliContext,
  _opts: Opts,
): Promise<void> {
  const list = await providerEntries();
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        list.map((e) => ({
          name: e.name,
          aliases: e.aliases ?? [],
          description: e.description ?? null,
        })),
        null,
        2,
      ) + "\n",
    );
    return;
  }
  const w = Math.max(...list.map((e) => e.name.length));
  for (const e of list) {
    ctx.out(
      `${e.name.padEnd(w)}  ${e.description ?? ""}${
        e.aliases?.length ? ` (alias: ${e.aliases.join(", ")})` : ""
      }\n`,
    );
  }
}

/** `symbols <provider> [exchange] [--search text]` */
export async function symbolsCommand(
  ctx: CliContext,
  provider: string,
  exchange: string | undefined,
  opts: Opts,
): Promise<void> {
  const name = await resolveProviderName(provider);
  if (!name) throw await unknownProvider(provider);
  await listSymbols(
    ctx,
    name,
    exchange,
    opts,
    String(opts["configDir"] ?? "./config"),
  );
}

/** `info <provider> <symbol> [-t tf] [--json]` */
export async function infoCommand(
  ctx: CliContext,
  provider: string,
  symbol: string,
  opts: Opts,
): Promise<void> {
  const name = await resolveProviderName(provider);
  if (!name) throw await unknownProvider(provider);
  const tf = parseTf(String(opts["timeframe"] ?? "1D"));
  await runJobs(ctx, [{
    provider: name,
    symbol,
    timeframe: tf,
    label: `${name}:${symbol}@${tf.period}`,
  }], {
    configDir: String(opts["configDir"] ?? "./config"),
    dataDir: "./data",
    now: undefined,
    from: undefined,
    to: undefined,
    concurrency: undefined,
    limit: undefined,
    truncate: false,
    extraData: false,
    showInfo: true,
  });
}
