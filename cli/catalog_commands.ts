/**
 * `providers`, `symbols`, `info` and `download --list-symbols`: what the
 * providers offer. Loaded only when one of them runs. Private to `cli.ts`.
 *
 * @module
 */

import type { CliContext } from "./_context.ts";
import { UsageError } from "./_errors.ts";
import { runJobs } from "./_jobs.ts";
import { type Opts, parseTf } from "./_options.ts";
import { fmtInt } from "./_progress.ts";
import {
  closeProviders,
  openProviders,
  providerEntries,
  resolveProviderName,
  unknownProvider,
} from "./_providers.ts";

export async function listSymbols(
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
