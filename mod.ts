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
 *
 * await using provider = await openProvider("ccxt", { configDir: "./config" });
 * const summary = await download(provider, "BINANCE:BTC/USDT", {
 *   timeframe: "1D",
 *   from: 30, // days back
 *   dataDir: "./data",
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
