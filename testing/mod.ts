/**
 * Offline stand-ins for the real venues: loopback HTTP emulators of Binance
 * spot (and its public data archives), Bybit v5, OKX v5, KuCoin, Coinbase, Kraken spot and Capital.com, an in-memory provider, and the deterministic
 * candle generator behind them. Tests, benchmarks and the demo use them; so can
 * you, to test your own pipelines without a network.
 *
 * @example
 * ```ts
 * import { startBinanceEmulator } from "@pyne/data/testing";
 *
 * await using emulator = await startBinanceEmulator();
 * const res = await fetch(`${emulator.url}/api/v3/ping`);
 * console.log(res.status); // 200
 * ```
 *
 * @module
 */

export * from "./candle_generator.ts";
export * from "./memory_provider.ts";
export * from "./binance_emulator.ts";
export {
  type ArchiveFault,
  type ArchiveFaultKind,
  type ArchiveFileRef,
  type ArchiveRequest,
  type BinanceArchiveEmulator,
  type BinanceArchiveEmulatorOptions,
  startBinanceArchiveEmulator,
} from "./binance_archive_emulator.ts";
export * from "./bybit_emulator.ts";
export * from "./okx_emulator.ts";
export {
  type CapitalComEmulator,
  type CapitalComEmulatorOptions,
  DEFAULT_EMULATOR_MARKETS,
  EMULATOR_RESOLUTIONS,
  type EmulatorFault as CapitalComEmulatorFault,
  type EmulatorMarket,
  type EmulatorOpeningHours,
  type EmulatorRequest,
  startCapitalComEmulator,
} from "./capitalcom_emulator.ts";
export * from "./kucoin_emulator.ts";
export * from "./coinbase_emulator.ts";
export * from "./kraken_emulator.ts";
export * from "./fault_proxy.ts";
