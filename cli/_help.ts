/**
 * The help text and the commander options shared by several commands of
 * `cli.ts`. Private to `cli.ts`.
 *
 * @module
 */

import { type Command, Option } from "commander";

/** The examples and notes after each command's `--help`. */
export const EXAMPLES = {
  root: `
Examples:
  $ pyne-data download ccxt BINANCE:BTC/USDT BINANCE:ETH/USDT -t 1D --from 2024-01-01
  $ pyne-data download ccxt:BYBIT:BTC/USDT:USDT@60 --from 30
  $ pyne-data download data/ccxt_BINANCE_BTC_USDT_1D.ohlcv    # top up one file
  $ pyne-data update                                          # top up every file in ./data
  $ pyne-data inspect data/ccxt_BINANCE_BTC_USDT_1D.ohlcv
  $ pyne-data convert prices.csv prices.ohlcv --timeframe 1D
  $ pyne-data symbols ccxt binance --search BTC

Exit codes: 0 ok, 1 provider or runtime failure, 2 usage error, 130 interrupted.
Data goes to ./data, provider configuration lives in ./config (change with
--ohlcv-dir and --config-dir).`,
  download: `
Targets:
  <provider> <symbol>...          e.g. ccxt BINANCE:BTC/USDT BYBIT:ETH/USDT:USDT -t 60
  <provider string>...            e.g. ccxt:BYBIT:BTC/USDT:USDT@1D capitalcom:EURUSD@60
  <file.ohlcv | file.toml>...     top up a file from its [download] section

Dates (--from, --to): continue | N (days back) | YYYY-MM-DD | "YYYY-MM-DD HH:MM[:SS]" | ISO 8601
Timeframes: TradingView 1, 5, 60, 240, 1D, 1W, 1M; MetaTrader M1, H1, H4, D1, W1, MN1; ccxt 1m, 1h, 1d

Examples:
  $ pyne-data download ccxt BINANCE:BTC/USDT -t 1D --from 2020-01-01
  $ pyne-data download ccxt BINANCE:BTC/USDT BINANCE:ETH/USDT BINANCE:SOL/USDT -t 60 --from 90
  $ pyne-data download ccxt:BYBIT:BTC/USDT:USDT@1D --from 2024-01-01 --to 2024-06-30
  $ pyne-data download capitalcom EURUSD -t H1 --from 30 --extra-data
  $ pyne-data download data/ccxt_BINANCE_BTC_USDT_1D.ohlcv       # top up
  $ pyne-data download ccxt BINANCE:BTC/USDT -t 1D --from 365 --truncate
  $ pyne-data download ccxt --list-symbols --search binance
  $ pyne-data download ccxt BINANCE:BTC/USDT -t 1D --show-info
  $ pyne-data download ccxt BINANCE:BTC/USDT -t 1D --from 30 --json > summary.json`,
  data: `
The original tool's form keeps working:
  $ pyne-data data download CCXTProvider "binance:BTC/USDT" --timeframe D1 --from 30 --to 0`,
  update: `
Examples:
  $ pyne-data update                  # every .ohlcv in ./data
  $ pyne-data update ~/market-data --json
  $ pyne-data update --repair         # also re-fetch holes in the middle of files`,
  repair: `
A file's .toml records what each download asked for and got ([coverage]).
repair fetches exactly the periods that failed (retries exhausted, invalid
candles dropped) or were never requested between its candles, and replaces
the file atomically; the old file stays intact until the new one is complete.

Examples:
  $ pyne-data repair data/ccxt_BINANCE_BTC_USDT_60.ohlcv
  $ pyne-data repair data/*.ohlcv --json
  $ pyne-data update --repair         # repair, then top up, every file in ./data`,
  inspect: `
Examples:
  $ pyne-data inspect data/ccxt_BINANCE_BTC_USDT_1D.ohlcv
  $ pyne-data inspect data/ccxt_BINANCE_BTC_USDT_1D.ohlcv --json | jq .count`,
  convert: `
By extension: .csv/.json -> .ohlcv, .ohlcv -> .csv/.json (PyneCore's export shape),
and .csv <-> .json. The period is inferred from the input when --timeframe is omitted;
nothing is written when the input is bad.

Examples:
  $ pyne-data convert btc.csv btc.ohlcv --timeframe 1D --minmove 1 --pricescale 100
  $ pyne-data convert data/ccxt_BINANCE_BTC_USDT_1D.ohlcv btc.csv
  $ pyne-data convert data/ccxt_BINANCE_BTC_USDT_1D.ohlcv btc.json`,
  providers: `
Examples:
  $ pyne-data providers
  $ pyne-data providers --json`,
  symbols: `
Examples:
  $ pyne-data symbols ccxt                     # exchanges ccxt supports
  $ pyne-data symbols ccxt binance --search BTC
  $ pyne-data symbols capitalcom --search apple`,
  info: `
Examples:
  $ pyne-data info ccxt BINANCE:BTC/USDT
  $ pyne-data info ccxt BYBIT:BTC/USDT:USDT -t 60 --json
  $ pyne-data info capitalcom EURUSD`,
};

/** `--quiet` and `--verbose`. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option("-q, --quiet", "print only errors")
    .option("-v, --verbose", "print diagnostics and stack traces");
}

/** `--config-dir`. */
export function addProviderOptions(cmd: Command): Command {
  return cmd.option(
    "--config-dir <dir>",
    "folder of provider configuration files",
    "./config",
  );
}

/** Help of `--no-archive` (download and update). */
export const ARCHIVE_HELP =
  "REST only: no bulk archives (Binance's data.binance.vision) for closed months and days";

/** The options of `download` and `data download`. */
export function addDownloadOptions(cmd: Command): Command {
  cmd
    .option(
      "-t, --timeframe <tf>",
      "timeframe (TradingView 1D, MetaTrader D1 or ccxt 1d notation)",
    )
    .option(
      "-f, --from <date>",
      "start: continue | N days back | YYYY-MM-DD | ISO 8601 (default: continue an existing file, else 365 days back)",
    )
    .option("--to <date>", "end (exclusive): N days back | date; default now")
    .option(
      "--truncate",
      "replace existing data (the old file stays until the new one is complete)",
    )
    .option("-o, --ohlcv-dir <dir>", "folder of the .ohlcv files", "./data")
    .option(
      "--list-symbols",
      "list the provider's symbols instead of downloading",
    )
    .option("--search <text>", "filter --list-symbols by text")
    .option(
      "--show-info",
      "print the symbol information instead of downloading",
    )
    .option(
      "--dry-run",
      "print the plan (requests, weight, time, bytes) without downloading",
    )
    .option(
      "--extra-data",
      "also store extra per-candle data (e.g. ask prices) in .extra.csv",
    )
    .option("--concurrency <n>", "pages fetched at once per symbol")
    .option("--limit <n>", "candles per request (page size)")
    .option("--no-archive", ARCHIVE_HELP)
    .option("--json", "print the summary as JSON on stdout")
    .addOption(new Option("--now <date>").hideHelp())
    .addOption(new Option("-s, --symbol <symbol>").hideHelp())
    .addOption(new Option("--symbol-info").hideHelp());
  addProviderOptions(cmd);
  return addCommonOptions(cmd);
}
