/**
 * `downloadPlan()` and `download --dry-run`: the plan before any candle
 * request. Its request count is checked against what the real download then
 * sends to the emulator; a dry run sends no candle request and leaves the
 * folder as it was.
 */

import assert from "node:assert/strict";
import { type CliRun, runMainAt } from "./_cli_helpers.ts";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startKrakenEmulator } from "../testing/kraken_emulator.ts";
import type { LoggedRequest } from "../testing/_exchange_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { CapitalComProvider } from "../providers/capitalcom.ts";
import { download } from "../pipeline/download.ts";
import { downloadPlan, RECORD_BYTES } from "../pipeline/dry_run.ts";
import { MemoryProvider } from "../testing/memory_provider.ts";
import { STANDARD_HEADER_SIZE } from "../format/_header.ts";

const T = Date.UTC(2024, 2, 1, 12, 30);
const H = 3_600_000;
const D = 86_400_000;

const klines = (log: readonly LoggedRequest[]) =>
  log.filter((r) => r.path === "/api/v3/klines").length;

function ccxt(url: string, dir: string): CCXTProvider {
  return new CCXTProvider({
    configDir: dir,
    baseUrl: url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { kraken: { rateLimit: 1 } },
  });
}

Deno.test("downloadPlan on Binance sends no candle request, writes nothing, and counts the requests the download then sends", async () => {
  await using emu = await startBinanceEmulator({ now: () => T });
  const dir = await Deno.makeTempDir({ prefix: "pyne_dry_" });
  const data = join(dir, "data");
  await using p = ccxt(emu.url, dir);
  try {
    const from = new Date(T - 100 * D);
    const opts = { timeframe: "60", dataDir: data, from, now: () => T };
    const plan = await downloadPlan(p, "BINANCE:BTC/USDT", opts);
    assert.equal(klines(emu.requests), 0, "no candle request");
    await assert.rejects(readdir(data), "the data folder is not created");
    assert.equal(plan.mode, "new");
    assert.equal(plan.providerString, "ccxt:BINANCE:BTC/USDT@60");
    // 12:30 back: from 13:00 to the closed 11:00 candle of the last day.
    assert.equal(plan.periods, 100 * 24 - 1, "closed hours of the range");
    assert.equal(plan.requests.candles, Math.ceil(plan.periods / 1000));
    assert.equal(plan.requests.known, true);
    assert.equal(
      plan.bytes.file,
      STANDARD_HEADER_SIZE + plan.periods * RECORD_BYTES,
    );
    // Binance spot klines: weight 2 = 0.4 ccxt units of 1200 per minute.
    assert.ok(plan.weight, "a budget");
    assert.equal(plan.weight.budget.limit, 1200);
    assert.equal(plan.weight.budget.windowMs, 60_000);
    assert.equal(plan.weight.budget.burst, true);
    assert.ok(
      Math.abs(plan.weight.cost - (plan.requests.candles + 2) * 0.4) < 1e-9,
    );
    assert.deepEqual(plan.skipped, []);

    const summary = await download(p, "BINANCE:BTC/USDT", opts);
    assert.equal(summary.candles, plan.periods, "the plan's periods, stored");
    assert.equal(klines(emu.requests), plan.requests.candles);
    const size = (await readFile(summary.path)).length;
    assert.equal(size, plan.bytes.file, "the estimated file size");

    // A top-up plan starts after the last candle and counts what is left.
    const later = { ...opts, from: undefined, now: () => T + 30 * H };
    const top = await downloadPlan(p, "BINANCE:BTC/USDT", later);
    assert.equal(top.mode, "append");
    assert.equal(top.existing?.count, plan.periods);
    assert.equal(top.segments.length, 1);
    assert.equal(top.segments[0]!.from, summary.last! + H);
    assert.equal(top.bytes.written, top.periods * RECORD_BYTES);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("downloadPlan on Kraken reports the part beyond its 720 candles as not served, without a request for it", async () => {
  const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
  await using emu = await startKrakenEmulator({ now: () => NOW });
  const dir = await Deno.makeTempDir({ prefix: "pyne_dry_" });
  await using p = ccxt(emu.url, dir);
  try {
    const plan = await downloadPlan(p, "KRAKEN:BTC/USD", {
      timeframe: "1",
      dataDir: join(dir, "data"),
      from: "2020-01-01",
      now: () => NOW,
    });
    assert.equal(
      emu.requests.filter((r) => r.path === "/0/public/OHLC").length,
      0,
    );
    assert.equal(plan.skipped.length, 1);
    assert.equal(plan.skipped[0]!.from, Date.UTC(2020, 0, 1));
    assert.match(plan.skipped[0]!.reason, /Kraken serves only the latest 720/);
    // 719 closed minutes are served: one page.
    assert.equal(plan.periods, 719);
    assert.equal(plan.requests.candles, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("downloadPlan on Capital.com plans the /prices windows offline, without a session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pyne_dry_" });
  const now = Date.UTC(2025, 0, 10, 12);
  // Nothing listens there: any request would fail the plan.
  await using p = new CapitalComProvider({
    configDir: dir,
    env: {},
    baseUrl: "http://127.0.0.1:9",
    apiKey: "k",
    identifier: "i",
    password: "p",
    now: () => now,
  });
  try {
    const plan = await downloadPlan(p, "EURUSD", {
      timeframe: "15",
      dataDir: join(dir, "data"),
      from: "2025-01-06",
      to: "2025-01-10",
      pageSize: 150,
      now: () => now,
    });
    assert.equal(plan.periods, 4 * 96);
    assert.equal(plan.requests.candles, Math.ceil(384 / 150));
    assert.equal(plan.weight?.budget.limit, 10);
    assert.equal(plan.weight?.budget.windowMs, 1100);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("downloadPlan of a provider without a plan says the requests are unknown; bad input fails as download does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pyne_dry_" });
  await using p = new MemoryProvider({ now: () => T });
  try {
    const plan = await downloadPlan(p, "BTCUSDT", {
      timeframe: "1D",
      dataDir: dir,
      from: new Date(T - 10 * D),
      now: () => T,
    });
    assert.equal(plan.requests.known, false);
    // 12:30 back ten days: nine closed days (today's is forming).
    assert.equal(plan.periods, 9);
    await assert.rejects(
      downloadPlan(p, "BTCUSDT", {
        timeframe: "1D",
        dataDir: dir,
        from: new Date(T + D),
        to: new Date(T - D),
        now: () => T,
      }),
      /is not before the end/,
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function cli(args: string[]): Promise<CliRun> {
  return runMainAt(T, args);
}

Deno.test("cli download --dry-run prints the plan (and --json), sends no candle request and creates no file", async () => {
  await using emu = await startBinanceEmulator({ now: () => T });
  const dir = await Deno.makeTempDir({ prefix: "pyne_dry_cli_" });
  const cfg = join(dir, "config");
  await mkdir(cfg);
  await writeFile(
    join(cfg, "ccxt.toml"),
    `[binance]\nbase_url = "${emu.url}"\n`,
  );
  const data = join(dir, "data");
  const args = [
    "download",
    "ccxt",
    "BINANCE:BTC/USDT",
    "BINANCE:ETH/USDT",
    "-t",
    "60",
    "--from",
    "2023-01-01",
    "--config-dir",
    cfg,
    "--ohlcv-dir",
    data,
    "--dry-run",
  ];
  try {
    const text = await cli(args);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /# ccxt:BINANCE:BTC\/USDT@60/);
    assert.match(text.stdout, /requests +\d+ for candles/);
    assert.match(text.stdout, /weight +[\d.]+ of 1,200 per 1:00/);
    assert.match(text.stdout, /dry run: nothing was downloaded or written/);
    const json = await cli([...args, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const plans = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.equal(plans.length, 2);
    const periods = (Date.UTC(2024, 2, 1, 12) - Date.UTC(2023, 0, 1)) / H;
    assert.equal(plans[0]!["periods"], periods);
    assert.deepEqual(plans[0]!["requests"], {
      candles: Math.ceil(periods / 1000),
      other: 2,
      known: true,
    });
    assert.equal(klines(emu.requests), 0, "no candle request");
    assert.deepEqual((await readdir(dir)).sort(), ["config"]);

    const bad = await cli([...args.slice(0, 5), "--from", "2999-01-01"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.deepEqual((await readdir(dir)).sort(), ["config"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
