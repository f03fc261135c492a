/**
 * pyne-data: download historical OHLCV candles from market data providers and
 * store them in PyneCore's `.ohlcv` format with a symbol-info `.toml` beside
 * each file.
 *
 * This entry point is runtime-neutral and light: it re-exports the format
 * layer, the pipeline stages and `download()`, and the provider interface and
 * registry. Providers load lazily (importing this module never loads ccxt);
 * import `@pyne/data/providers/ccxt` or `@pyne/data/providers/capitalcom` to
 * use a provider class directly.
 *
 * @example
 * ```ts
 * import { download, openProvider } from "@pyne/data";
 * import { startBinanceEmulator } from "@pyne/data/testing";
 * import { mkdtemp, writeFile } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * // An offline Binance on 127.0.0.1: for the real one, leave base_url out.
 * await using binance = await startBinanceEmulator();
 * const configDir = await mkdtemp(join(tmpdir(), "pyne-data-"));
 * await writeFile(
 *   join(configDir, "ccxt.toml"),
 *   `[binance]\nbase_url = "${binance.url}"\n`,
 * );
 *
 * await using provider = await openProvider("ccxt", { configDir });
 * const summary = await download(provider, "BINANCE:BTC/USDT", {
 *   timeframe: "1D",
 *   from: 30, // days back
 *   dataDir: join(configDir, "data"),
 * });
 * console.log(`${summary.candles} candles → ${summary.path}`);
 * ```
 *
 * @module
 */

export * from "./format/mod.ts";
export * from "./pipeline/mod.ts";
export * from "./providers/provider.ts";
export * from "./providers/registry.ts";
export { ConfigError } from "./providers/_config_file.ts";
