/**
 * Bybit perpetuals — the second example of the original Python tool, offline:
 * daily candles of the USDT-margined BTC perpetual `BYBIT:BTC/USDT:USDT`
 * (`EXCHANGE:BASE/QUOTE:SETTLE` is ccxt's notation for a derivative).
 *
 * It starts the bundled Bybit-v5-style emulator on 127.0.0.1, shows the
 * contract's symbol information, downloads the first half of the range, then
 * tops the file up with a second `download()` that continues after the last
 * stored candle (what `pyne-data update` does), and reads the result back.
 *
 * ```sh
 * deno run -A examples/bybit_perpetual.ts           # temporary folder, removed at the end
 * deno run -A examples/bybit_perpetual.ts my-data   # keeps the files in ./my-data
 * ```
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
// From JSR: import { download, OhlcvReader, parseTimeframe } from "@pyne/data";
import { download, OhlcvReader, parseTimeframe } from "../mod.ts";
// From JSR: import { CCXTProvider } from "@pyne/data/providers/ccxt";
import { CCXTProvider } from "../providers/ccxt.ts";
// From JSR: import { startBybitEmulator } from "@pyne/data/testing";
import { startBybitEmulator } from "../testing/mod.ts";

const NOW = Date.UTC(2024, 2, 1, 0, 0, 30); // 2024-03-01 00:00:30 UTC, frozen
const SYMBOL = "BYBIT:BTC/USDT:USDT";
const day = (t: number | undefined) =>
  t === undefined ? "-" : new Date(t).toISOString().slice(0, 10);

const keep = process.argv[2];
const dir = keep ?? await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using emulator = await startBybitEmulator({ now: () => NOW });
try {
  // `baseUrl` sends every exchange's requests to the emulator; in a config
  // file that is `base_url = "..."` under `[bybit]` in config/ccxt.toml.
  await using provider = new CCXTProvider({
    baseUrl: emulator.url,
    configDir: join(dir, "config"),
    env: {},
  });

  const info = await provider.symbolInfo(SYMBOL, parseTimeframe("1D"));
  console.log(`${SYMBOL}: ${info.description} (${info.type})`);
  console.log(
    `  ticker ${info.ticker}, settles in ${info.currency}, mintick ${info.mintick}, contract size ${info.pointvalue}, ` +
      `min amount ${info.mincontract}, taker fee ${info.takerFee}`,
  );

  // First run: January and the first half of February.
  const first = await download(provider, SYMBOL, {
    timeframe: "1D",
    from: "2024-01-01",
    to: "2024-02-15",
    dataDir: dir,
    now: () => NOW,
  });
  console.log(
    `Run 1 (${first.mode}): ${first.candles} daily candles ${
      day(first.first)
    } .. ${day(first.last)} → ${basename(first.path)}`,
  );

  // Second run: no `from`, so it continues after the file's last candle.
  const second = await download(provider, SYMBOL, {
    timeframe: "1D",
    dataDir: dir,
    now: () => NOW,
  });
  console.log(
    `Run 2 (${second.mode}): ${second.candles} new candles ${
      day(second.first)
    } .. ${day(second.last)}; the file now holds ${second.fileCount}`,
  );

  await using reader = await OhlcvReader.open(second.path);
  const all = await reader.read();
  let hi = -Infinity, lo = Infinity, volume = 0;
  for (let i = 0; i < all.time.length; i++) {
    hi = Math.max(hi, all.high[i]!);
    lo = Math.min(lo, all.low[i]!);
    volume += all.volume[i]!;
  }
  console.log(
    `Read back: ${reader.info.count} candles ${day(reader.info.first)} .. ${
      day(reader.info.last)
    }: high ${hi}, low ${lo}, volume ${volume.toFixed(3)} BTC`,
  );
  console.log(`Requests served by the emulator: ${emulator.requests.length}`);
} finally {
  if (keep === undefined) await rm(dir, { recursive: true, force: true });
}
