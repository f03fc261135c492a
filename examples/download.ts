/**
 * A simple programmatic download and read-back — the first example of the
 * original Python tool, offline.
 *
 * It starts the bundled Binance-style emulator on 127.0.0.1, points ccxt at
 * it with a `base_url` in `config/ccxt.toml` (exactly what you would paste
 * into your own `./config` to try the CLI offline), downloads a month of
 * hourly BINANCE:BTC/USDT candles with `download()`, and reads the `.ohlcv`
 * file and its symbol-info `.toml` back.
 *
 * ```sh
 * deno run -A examples/download.ts           # works in a temporary folder, removed at the end
 * deno run -A examples/download.ts my-data   # keeps the files in ./my-data
 * ```
 *
 * @module
 */

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
// From JSR: import { download, OhlcvReader, openProvider, readSymbolInfo } from "@pyne/data";
import { download, OhlcvReader, openProvider, readSymbolInfo } from "../mod.ts";
// From JSR: import { startBinanceEmulator } from "@pyne/data/testing";
import { startBinanceEmulator } from "../testing/mod.ts";

// A frozen clock makes the run reproducible: the emulator's exchange lives at
// this moment, and so does download() (it never asks for the future).
const NOW = Date.UTC(2024, 2, 1, 0, 0, 30); // 2024-03-01 00:00:30 UTC
const iso = (t: number | undefined) =>
  t === undefined ? "-" : new Date(t).toISOString().slice(0, 16) + "Z";

const keep = process.argv[2];
const dir = keep ?? await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using emulator = await startBinanceEmulator({ now: () => NOW });
try {
  // 1. Configuration: send ccxt's Binance requests to the emulator.
  const configDir = join(dir, "config");
  await mkdir(configDir, { recursive: true });
  await writeFile(
    join(configDir, "ccxt.toml"),
    `[binance]\nbase_url = "${emulator.url}"\n`,
  );

  // 2. Download. `env: {}` keeps any real API keys of your shell away from
  // the emulator (candles need none).
  await using provider = await openProvider("ccxt", { configDir, env: {} });
  const summary = await download(provider, "BINANCE:BTC/USDT", {
    timeframe: "1h", // or "60", "H1"
    from: "2024-02-01",
    dataDir: dir,
    now: () => NOW,
  });
  console.log(
    `Downloaded ${summary.candles} candles of ${summary.providerString} in ${summary.requests} requests`,
  );
  console.log(`  file: ${basename(summary.path)} in ${dir}`);
  console.log(
    `  range ${iso(summary.first)} .. ${
      iso(summary.last)
    }, ${summary.gaps.length} gaps, coverage complete: ${summary.coverage.complete}`,
  );

  // 3. Read it back.
  await using reader = await OhlcvReader.open(summary.path);
  const { count, period, dense, first, last } = reader.info;
  console.log(
    `Read back: ${count} candles, period ${period}, ${iso(first)} .. ${
      iso(last)
    }, dense ${dense}`,
  );
  const head = await reader.read(0, 3);
  for (let i = 0; i < head.time.length; i++) {
    console.log(
      `  ${iso(head.time[i])}  O ${head.open[i]}  H ${head.high[i]}  L ${
        head.low[i]
      }  C ${head.close[i]}  V ${head.volume[i]}`,
    );
  }
  const { info } = await readSymbolInfo(summary.symbolInfoPath);
  console.log(
    `Symbol info: ${info.prefix}:${info.ticker} "${info.description}", mintick ${info.mintick}, timezone ${info.timezone}`,
  );
} finally {
  if (keep === undefined) await rm(dir, { recursive: true, force: true });
}
