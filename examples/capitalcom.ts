/**
 * Capital.com with the emulator: forex, indices, stocks and commodities
 * through Capital.com's REST API — here the bundled Capital.com-compatible
 * server on 127.0.0.1, which logs in with its own credentials, rotates
 * session tokens, keeps Capital.com's rate limits and serves bars only while
 * a market is open.
 *
 * It searches the markets, shows EUR/USD's symbol information (opening hours
 * in New York time, like PyneCore's own Capital.com provider), downloads a
 * week and a half of hourly bid candles with the ask side and spread in an
 * `.extra.csv` sidecar (`extraData`), and prints the gap report: the weekend
 * is a "closed" gap, not an anomaly.
 *
 * Against the real service, leave out `baseUrl` and the emulator's
 * credentials: the provider reads yours from config/capitalcom.toml or the
 * `PYNE_CAPITALCOM_*` environment variables.
 *
 * ```sh
 * deno run -A examples/capitalcom.ts           # temporary folder, removed at the end
 * deno run -A examples/capitalcom.ts my-data   # keeps the files in ./my-data
 * ```
 *
 * @module
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
// From JSR: import { download, parseTimeframe } from "@pyne/data";
import { download, parseTimeframe } from "../mod.ts";
// From JSR: import { CapitalComProvider } from "@pyne/data/providers/capitalcom";
import { CapitalComProvider } from "../providers/capitalcom.ts";
// From JSR: import { startCapitalComEmulator } from "@pyne/data/testing";
import { startCapitalComEmulator } from "../testing/mod.ts";

const NOW = Date.UTC(2025, 0, 15, 10, 30, 20); // Wednesday 2025-01-15 10:30:20 UTC, frozen
const at = (t: number) => new Date(t).toISOString().slice(0, 16) + "Z";
const weekday = (t: number) =>
  new Date(t).toLocaleDateString("en-US", {
    weekday: "short",
    timeZone: "UTC",
  });

const keep = process.argv[2];
const dir = keep ?? await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using emulator = await startCapitalComEmulator({ now: () => NOW });
try {
  await using provider = new CapitalComProvider({
    baseUrl: emulator.url,
    ...emulator.credentials, // { apiKey, identifier, password }
    configDir: join(dir, "config"),
    env: {}, // ignore PYNE_CAPITALCOM_* of your shell
    now: () => NOW,
  });

  const found = await provider.listSymbols({ search: "eur" });
  console.log(
    `Markets matching "eur": ${
      found.map((m) => `${m.symbol} (${m.description})`).join(", ")
    }`,
  );

  const info = await provider.symbolInfo("EURUSD", parseTimeframe("60"));
  const sunday = info.openingHours.find((h) => h.day === 6);
  const friday = info.openingHours.find((h) => h.day === 4);
  console.log(
    `EURUSD: ${info.description}, type ${info.type}, mintick ${info.mintick}, timezone ${info.timezone}, ` +
      `opens Sunday ${sunday?.start}, closes Friday ${friday?.end}`,
  );

  const summary = await download(provider, "EURUSD", {
    timeframe: "H1", // MetaTrader notation works too
    from: "2025-01-06",
    extraData: true,
    dataDir: dir,
    now: () => NOW,
  });
  console.log(
    `Downloaded ${summary.candles} hourly candles ${at(summary.first!)} .. ${
      at(summary.last!)
    } → ${basename(summary.path)} (${summary.requests} requests)`,
  );
  console.log(
    `Gaps: ${summary.closedPeriods} closed periods, ${summary.anomalyPeriods} anomalies`,
  );
  for (const g of summary.gaps) {
    console.log(
      `  ${weekday(g.from)} ${at(g.from)} .. ${weekday(g.to)} ${
        at(g.to)
      }  ${g.periods} periods  ${g.kind}`,
    );
  }
  console.log(`Coverage complete: ${summary.coverage.complete}`);

  // The ask side and the spread, one row per candle of the .ohlcv file.
  const extra = summary.path.replace(/\.ohlcv$/, ".extra.csv");
  const rows = (await readFile(extra, "utf8")).trimEnd().split(/\r?\n/);
  console.log(`${basename(extra)}: ${rows.length - 1} rows`);
  for (const row of rows.slice(0, 3)) console.log(`  ${row}`);
} finally {
  if (keep === undefined) await rm(dir, { recursive: true, force: true });
}
