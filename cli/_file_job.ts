/**
 * Top-up jobs from existing files: a `.ohlcv` (or its `.toml`) with a
 * `[download]` section names its provider, symbol and timeframe. Private to
 * the CLI.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { oneLine, UsageError } from "./_errors.ts";
import type { Job } from "./_job.ts";
import { parseTf } from "./_options.ts";
import { resolveProviderName, unknownProvider } from "./_providers.ts";
import { parseProviderString } from "../format/provider_string.ts";

export function isFileTarget(t: string): boolean {
  const ext = extname(t).toLowerCase();
  return ext === ".ohlcv" || ext === ".toml";
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Builds a top-up job from an existing `.ohlcv`/`.toml` and its `[download]` section. */
export async function fileJob(target: string): Promise<Job> {
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
