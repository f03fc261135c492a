/**
 * The offline demo (`deno task demo`): starts the bundled Binance-style
 * emulator in this process, then runs the real `pyne-data` CLI download path
 * (cli.ts `main()`, the real ccxt) against it — several symbols and
 * timeframes over a realistic range with a maintenance gap and a forming
 * candle — shows the live progress and the summary with the gap report,
 * inspects one result, and runs an update that finds nothing new to fetch.
 *
 * Files land in `./demo-data`. No network (only 127.0.0.1), no credentials.
 *
 * ```sh
 * deno task demo
 * ```
 *
 * @module
 */

import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import process from "node:process";
import { join } from "node:path";
import { main } from "../cli.ts";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";

const DATA = "demo-data";
const CONFIG = join(DATA, "config");
const MIN = 60_000;
const H = 60 * MIN;
const DAY = 24 * H;

const color = process.stdout.isTTY === true && !process.env["NO_COLOR"];
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
const cyan = (s: string) => (color ? `\x1b[36m${s}\x1b[39m` : s);

/** Prints a heading and the command, runs it, fails the demo on a bad exit. */
async function step(title: string, args: string[], hidden: string[] = []) {
  console.log(`\n${bold(title)}`);
  console.log(cyan(`$ pyne-data ${args.map(quote).join(" ")}`));
  const code = await main([...args, ...hidden]);
  if (code !== 0) {
    console.error(`demo: the command above exited ${code}`);
    process.exit(code);
  }
}

function quote(a: string): string {
  return /^[\w@:/.,=-]+$/.test(a) ? a : `"${a}"`;
}

const started = performance.now();
// The demo's clock, frozen so that the run is reproducible and the second
// run has nothing new: half a minute into the current minute, so every
// timeframe has a forming (unfinished) last candle that must not be stored.
const now = Math.floor(Date.now() / MIN) * MIN + 30_000;
// A three-hour exchange maintenance window ten days ago.
const gapFrom = Math.floor((now - 10 * DAY) / DAY) * DAY + 2 * H;
const gap = { from: gapFrom, to: gapFrom + 3 * H };

await using emulator = await startBinanceEmulator({
  now: () => now,
  gaps: [gap],
  latencyMs: 60, // a little network-like delay so the progress is visible
});

await rm(DATA, { recursive: true, force: true });
await mkdir(CONFIG, { recursive: true });
await writeFile(
  join(CONFIG, "ccxt.toml"),
  `# Written by examples/demo.ts: send ccxt's Binance requests to the local emulator.\n[binance]\nbase_url = "${emulator.url}"\n`,
);

console.log(bold("pyne-data offline demo"));
console.log(
  `Binance-style emulator on ${emulator.url} (real ccxt talks to it; no network, no credentials).`,
);
console.log(
  `Clock frozen at ${new Date(now).toISOString()}; maintenance gap ${
    new Date(gap.from).toISOString().slice(0, 16)
  } .. ${new Date(gap.to).toISOString().slice(11, 16)} UTC.`,
);

const common = ["--ohlcv-dir", DATA, "--config-dir", CONFIG];
const clock = ["--now", new Date(now).toISOString()];

await step(
  "1. Two years of hourly candles for three symbols, downloaded concurrently",
  [
    "download",
    "ccxt",
    "BINANCE:BTC/USDT",
    "BINANCE:ETH/USDT",
    "BINANCE:SHIB/USDT",
    "--timeframe",
    "1h",
    "--from",
    "730",
    ...common,
  ],
  clock,
);

await step(
  "2. Provider strings: a month of 1-minute and 5-minute candles, daily candles since 2019",
  [
    "download",
    "ccxt:BINANCE:BTC/USDT@1",
    "ccxt:BINANCE:ETH/USDT@5",
    "--from",
    "30",
    ...common,
  ],
  clock,
);
await step(
  "",
  ["download", "ccxt:BINANCE:BTC/USDT@1D", "--from", "2019-01-01", ...common],
  clock,
);
{
  // The forming candle: the emulator serves the unfinished current minute,
  // like a real exchange; it must not be stored as if it were final.
  await using r = await OhlcvReader.open(
    join(DATA, "ccxt_BINANCE_BTC_USDT_1.ohlcv"),
  );
  const forming = Math.floor(now / MIN) * MIN;
  console.log(
    `\nForming candle: the exchange also sent the unfinished ${
      new Date(forming).toISOString().slice(11, 16)
    } candle (the clock says ${
      new Date(now).toISOString().slice(11, 19)
    }); it was not stored: the 1-minute file ends at ${
      new Date(r.info.last!).toISOString().slice(11, 16)
    }.`,
  );
}

await step("3. Inspect one result (format facts and gap summary)", [
  "inspect",
  join(DATA, "ccxt_BINANCE_BTC_USDT_60.ohlcv"),
]);

await step(
  "4. Run again: every file resumes after its last candle; nothing new to fetch",
  ["update", DATA, "--config-dir", CONFIG],
  clock,
);

const requests = emulator.requests.length;
console.log(
  `\n${bold("Done")} in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s: ${requests} requests served by the emulator. Files are in ./${DATA}:`,
);
const files = (await readdir(DATA, { withFileTypes: true }))
  .filter((e) => e.isFile() && e.name.endsWith(".ohlcv"))
  .map((e) => e.name)
  .sort();
for (const name of files) console.log(`  ${name}`);
console.log(
  `Try: deno task cli inspect ${DATA}/ccxt_BINANCE_BTC_USDT_1.ohlcv --json`,
);
