/**
 * The CLI driven as a subprocess against the loopback emulators: every
 * command's happy path, non-TTY progress, the seed-style invocation, update,
 * Ctrl-C (SIGINT) and resume, and the Capital.com verbose credential scan.
 */

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startBybitEmulator } from "../testing/bybit_emulator.ts";
import { startCapitalComEmulator } from "../testing/capitalcom_emulator.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { readSymbolInfo } from "../format/symbol_info_toml.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { FIXTURES, lines, ROOT, runCli, spawnCli } from "./_cli_helpers.ts";

const H = 3_600_000;
/** The fixed clock of the download tests: emulator and CLI (--now) agree. */
const T = Date.UTC(2024, 2, 1, 12, 30);
const GAP = { from: Date.UTC(2024, 0, 10), to: Date.UTC(2024, 0, 10, 5) };

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "pyne_cli_" });
}

async function writeCcxtConfig(
  dir: string,
  urls: Record<string, string>,
): Promise<string> {
  const cfg = join(dir, "config");
  await mkdir(cfg, { recursive: true });
  await writeFile(
    join(cfg, "ccxt.toml"),
    Object.entries(urls).map(([ex, url]) => `[${ex}]\nbase_url = "${url}"\n`)
      .join("\n"),
  );
  return cfg;
}

async function readAll(path: string): Promise<CandleBatch> {
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

function assertSameCandles(
  got: CandleBatch,
  want: CandleBatch,
  label: string,
): void {
  assert.equal(got.time.length, want.time.length, `${label}: candle count`);
  for (const k of ["time", "open", "high", "low", "close", "volume"] as const) {
    assert.deepEqual(Array.from(got[k]), Array.from(want[k]), `${label}: ${k}`);
  }
}

Deno.test("cli --help on every command shows usage with examples, --version prints deno.json's version", async () => {
  const dir = await tempDir();
  try {
    const commands = [
      [],
      ["download"],
      ["data", "download"],
      ["update"],
      ["inspect"],
      ["convert"],
      ["providers"],
      ["symbols"],
      ["info"],
    ];
    for (const c of commands) {
      const r = await runCli([...c, "--help"], { cwd: dir });
      assert.equal(r.code, 0, `${c.join(" ")} --help: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: pyne-data/m, c.join(" "));
      assert.match(r.stdout, /\$ pyne-data /, `${c.join(" ")}: examples`);
      assert.equal(r.stderr, "");
    }
    const v = await runCli(["--version"], { cwd: dir });
    assert.equal(v.code, 0);
    assert.equal(v.stdout.trim(), denoJson.version);
    assert.deepEqual(await readdir(dir), [], "help writes no file");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli download fetches several symbols concurrently into exact files, then update and file top-up resume", async () => {
  const dir = await tempDir();
  let now = T;
  await using emu = await startBinanceEmulator({
    now: () => now,
    gaps: [GAP],
    latencyMs: 50,
  });
  try {
    const cfg = await writeCcxtConfig(dir, { binance: emu.url });
    const tf = parseTimeframe("60");
    const from = Date.UTC(2024, 0, 1);
    const r = await runCli([
      "download",
      "ccxt",
      "BINANCE:BTC/USDT",
      "binance:eth/usdt",
      "-t",
      "1h",
      "--from",
      "2024-01-01",
      "--limit",
      "500",
      "--concurrency",
      "1",
      "--config-dir",
      cfg,
      "--now",
      new Date(T).toISOString(),
    ], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    // One provider, one ccxt exchange for both symbols: the markets are loaded
    // once, and the symbols download at the same time: with one page in
    // flight per symbol, ETH's first page is asked for before BTC's last.
    assert.equal(
      emu.requests.filter((q) => q.path === "/api/v3/exchangeInfo").length,
      1,
    );
    const klines = emu.requests.filter((q) => q.path === "/api/v3/klines");
    const firstEth = klines.findIndex((q) => q.query["symbol"] === "ETHUSDT");
    const lastBtc = klines.findLastIndex((q) =>
      q.query["symbol"] === "BTCUSDT"
    );
    assert.ok(firstEth >= 0 && firstEth < lastBtc, "downloads overlap");
    // Summary table with the gap report on stdout.
    assert.match(r.stdout, /^file\s+added\s+from\s+to/m);
    assert.match(r.stdout, /ccxt_BINANCE_BTC_USDT_60\.ohlcv\s+1,447\s/);
    assert.match(r.stdout, /1 anomaly \(5 missing\)/);
    assert.match(
      r.stdout,
      /BTC_USDT_60\.ohlcv: 2024-01-10 00:00 \.\. 05:00\s+5 missing$/m,
    );
    // Non-TTY progress: plain lines on stderr, no ANSI escapes.
    const errLines = lines(r.stderr);
    assert.ok(
      errLines.some((l) => /^start ccxt:BINANCE:BTC\/USDT@60/.test(l)),
      r.stderr,
    );
    assert.ok(
      errLines.some((l) =>
        /^done ccxt:BINANCE:ETH\/USDT@60\s+100%\s+1,447 candles/.test(l)
      ),
      r.stderr,
    );
    assert.ok(!r.stderr.includes("\x1b["), "no escape codes without a TTY");
    // The files equal the emulator's truth (gap kept, forming candle dropped).
    for (const id of ["BTC", "ETH"]) {
      const path = join(dir, "data", `ccxt_BINANCE_${id}_USDT_60.ohlcv`);
      assertSameCandles(
        await readAll(path),
        emu.expectedCandles(`${id}USDT`, tf, from, T - 30 * 60_000),
        id,
      );
      const { provider } = await readSymbolInfo(path.replace(/ohlcv$/, "toml"));
      assert.equal(provider, `ccxt:BINANCE:${id}/USDT@60`);
    }

    // Two hours later: `download <file>` tops up one file, `update` the rest.
    now = T + 2 * H;
    // The same file named twice (path and provider string) is one job.
    const top = await runCli([
      "download",
      join("data", "ccxt_BINANCE_BTC_USDT_60.ohlcv"),
      "ccxt:BINANCE:BTC/USDT@60",
      "--config-dir",
      cfg,
      "--now",
      new Date(now).toISOString(),
      "--json",
    ], { cwd: dir });
    assert.equal(top.code, 0, top.stderr);
    const j = JSON.parse(top.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.files.length, 1);
    assert.equal(j.files[0].added, 2);
    assert.equal(j.files[0].mode, "append");
    const upd = await runCli([
      "update",
      "--config-dir",
      cfg,
      "--now",
      new Date(now).toISOString(),
      "--json",
    ], { cwd: dir });
    assert.equal(upd.code, 0, upd.stderr);
    const u = JSON.parse(upd.stdout);
    assert.deepEqual(
      u.files.map((f: { symbol: string; added: number }) => [
        f.symbol,
        f.added,
      ]),
      [["BINANCE:BTC/USDT", 0], ["BINANCE:ETH/USDT", 2]],
    );
    for (const id of ["BTC", "ETH"]) {
      assertSameCandles(
        await readAll(join(dir, "data", `ccxt_BINANCE_${id}_USDT_60.ohlcv`)),
        emu.expectedCandles(`${id}USDT`, tf, from, now - 30 * 60_000),
        `${id} after update`,
      );
    }
    // Nothing new: up to date, table says so.
    const again = await runCli([
      "update",
      "--config-dir",
      cfg,
      "--now",
      new Date(now).toISOString(),
    ], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/up to date/g) ?? []).length, 2);

    // --truncate with an explicit --from replaces a file's data (via its path).
    const tr = await runCli([
      "download",
      join("data", "ccxt_BINANCE_ETH_USDT_60.ohlcv"),
      "--truncate",
      "--from",
      "2024-02-01",
      "--config-dir",
      cfg,
      "--now",
      new Date(now).toISOString(),
      "--json",
    ], { cwd: dir });
    assert.equal(tr.code, 0, tr.stderr);
    assert.equal(JSON.parse(tr.stdout).files[0].mode, "truncate");
    assertSameCandles(
      await readAll(join(dir, "data", "ccxt_BINANCE_ETH_USDT_60.ohlcv")),
      emu.expectedCandles(
        "ETHUSDT",
        tf,
        Date.UTC(2024, 1, 1),
        now - 30 * 60_000,
      ),
      "ETH after --truncate",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli download accepts provider strings (Bybit perpetual) and the seed-style data download form", async () => {
  const dir = await tempDir();
  await using bybit = await startBybitEmulator({ now: () => T });
  await using binance = await startBinanceEmulator();
  try {
    const cfg = await writeCcxtConfig(dir, {
      bybit: bybit.url,
      binance: binance.url,
    });
    const r = await runCli([
      "download",
      "ccxt:BYBIT:BTC/USDT:USDT@1D",
      "--from",
      "2024-01-01",
      "--config-dir",
      cfg,
      "--now",
      new Date(T).toISOString(),
      "--quiet",
    ], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "--quiet prints nothing on success");
    assert.equal(r.stdout, "", "--quiet prints no table");
    const path = join(dir, "data", "ccxt_BYBIT_BTC_USDT_USDT_1D.ohlcv");
    assertSameCandles(
      await readAll(path),
      bybit.expectedCandles(
        "linear:BTCUSDT",
        parseTimeframe("1D"),
        Date.UTC(2024, 0, 1),
        Date.UTC(2024, 2, 1),
      ),
      "bybit 1D",
    );

    // The original tool's form, as written (real clock on both sides).
    const seed = await runCli([
      "data",
      "download",
      "CCXTProvider",
      "binance:BTC/USDT",
      "--timeframe",
      "D1",
      "--from",
      "30",
      "--to",
      "0",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(seed.code, 0, seed.stderr);
    const n = await ohlcvRecordCount(
      join(dir, "data", "ccxt_BINANCE_BTC_USDT_1D.ohlcv"),
    );
    assert.ok(n >= 29 && n <= 30, `30 days of daily candles, got ${n}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli inspect, convert, providers, symbols and info print what they should", async () => {
  const dir = await tempDir();
  await using emu = await startBinanceEmulator({ now: () => T });
  try {
    const cfg = await writeCcxtConfig(dir, { binance: emu.url });
    const fixture = join(FIXTURES, "btc_1D_gap.ohlcv");
    const fixtureJson = JSON.parse(
      await readFile(join(FIXTURES, "btc_1D_gap.json"), "utf8"),
    );
    const ins = await runCli(["inspect", fixture, "--json"], { cwd: dir });
    assert.equal(ins.code, 0, ins.stderr);
    const info = JSON.parse(ins.stdout);
    for (
      const k of [
        "format",
        "period",
        "count",
        "first",
        "last",
        "dense",
        "minmove",
        "pricescale",
        "recordSize",
      ]
    ) assert.ok(k in info, `inspect --json has ${k}`);
    assert.equal(info.format, "v2");
    assert.equal(info.period, "1D");
    assert.equal(info.count, fixtureJson.decoded?.length ?? info.count);
    assert.equal(info.gaps.anomalyPeriods, 3);
    const text = await runCli(["inspect", fixture], { cwd: dir });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^candles\s+120$/m);
    assert.match(text.stdout, /^gaps\s+1 anomaly \(3 missing periods/m);
    // A zero-byte .ohlcv is an empty file, not a "legacy v1" one.
    await Deno.writeFile(join(dir, "empty.ohlcv"), new Uint8Array());
    const empty = await runCli(["inspect", "empty.ohlcv"], { cwd: dir });
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^format\s+empty file/m);
    assert.match(empty.stdout, /^candles\s+0$/m);
    await Deno.remove(join(dir, "empty.ohlcv"));

    // convert .ohlcv -> .csv -> .ohlcv round trip keeps every candle.
    const csv = join(dir, "btc.csv");
    const back = join(dir, "btc.ohlcv");
    let c = await runCli(["convert", fixture, csv], { cwd: dir });
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /Converted .* \(120 candles, period 1D\)/);
    c = await runCli([
      "convert",
      csv,
      back,
      "-t",
      "1D",
      "--minmove",
      "1",
      "--pricescale",
      "100",
    ], { cwd: dir });
    assert.equal(c.code, 0, c.stderr);
    assertSameCandles(await readAll(back), await readAll(fixture), "convert");
    // An existing output is kept unless --force, which replaces it.
    const before = await readFile(csv, "utf8");
    c = await runCli(["convert", fixture, csv, "--time-format", "iso"], {
      cwd: dir,
    });
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /already exists/);
    assert.equal(await readFile(csv, "utf8"), before);
    c = await runCli([
      "convert",
      fixture,
      csv,
      "--time-format",
      "iso",
      "--force",
      "--json",
    ], { cwd: dir });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).count, 120);
    const after = await readFile(csv, "utf8");
    assert.match(
      after,
      /^time,open,high,low,close,volume\r?\n2024-01-02T00:00:00/,
    );
    assert.equal(lines(after).length, 121);

    const p = await runCli(["providers", "--json"], { cwd: dir });
    assert.equal(p.code, 0, p.stderr);
    const names = JSON.parse(p.stdout).map((x: { name: string }) => x.name);
    assert.ok(names.includes("ccxt") && names.includes("capitalcom"), names);

    const s = await runCli([
      "symbols",
      "ccxt",
      "binance",
      "--search",
      "ETH",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^BINANCE:ETH\/USDT\s+spot/m);
    assert.ok(!s.stdout.includes("BTC/USDT"));

    const i = await runCli([
      "info",
      "ccxt",
      "BINANCE:SHIB/USDT",
      "--json",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(i.code, 0, i.stderr);
    const si = JSON.parse(i.stdout)[0];
    assert.equal(si.ticker, "SHIBUSDT");
    assert.equal(si.mintick, 1e-8);
    const it = await runCli(
      ["info", "ccxt", "BINANCE:BTC/USDT", "--config-dir", cfg],
      { cwd: dir },
    );
    assert.match(it.stdout, /^\[symbol\]$/m);
    assert.match(it.stdout, /^provider = "ccxt:BINANCE:BTC\/USDT@1D"$/m);

    // download's own --list-symbols and --show-info print and download nothing.
    const ls = await runCli([
      "download",
      "ccxt",
      "binance",
      "--list-symbols",
      "--search",
      "SHIB",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(
      lines(ls.stdout).map((l) => l.split(/\s+/)[0]),
      ["BINANCE:SHIB/USDT"],
    );
    assert.match(ls.stderr, /^1 symbol$/m);
    // An exact exchange id as search text lists that exchange's markets.
    const lsx = await runCli([
      "download",
      "ccxt",
      "--list-symbols",
      "--search",
      "binance",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(lsx.code, 0, lsx.stderr);
    assert.match(lsx.stdout, /^BINANCE:ETH\/USDT\s+spot/m);
    assert.match(lsx.stderr, /^\d+ symbols$/m);
    const show = await runCli([
      "download",
      "ccxt",
      "BINANCE:HALF/USDT",
      "-t",
      "4h",
      "--show-info",
      "--config-dir",
      cfg,
    ], { cwd: dir });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^period = "240"$/m);
    assert.match(show.stdout, /^mintick = 0\.50*$/m);
    assert.ok(
      !(await readdir(dir)).includes("data"),
      "--show-info downloads nothing",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli venue refusals exit 1 (2 for an unknown symbol or timeframe) with one Error: line and create no data file", async () => {
  const dir = await tempDir();
  await using emu = await startBinanceEmulator({ now: () => T });
  try {
    const cfg = await writeCcxtConfig(dir, { binance: emu.url });
    const cases: [string[], number, RegExp][] = [
      [
        ["download", "ccxt", "BINANCE:NOPE/USDT", "-t", "1D", "--from", "5"],
        2, // an unknown symbol is a usage error
        /NOPE/,
      ],
      [["info", "ccxt", "BINANCE:NOPE/USDT"], 2, /NOPE/],
      [
        ["download", "ccxt", "BINANCE:BTC/USDT", "-t", "15S", "--from", "5"],
        2, // a timeframe the venue does not offer is a usage error
        /15S/,
      ],
      [["download", "ccxt", "BTCUSDT", "-t", "1D"], 2, /BTCUSDT/],
      [
        ["download", "ccxt", "NOEXCHANGE:BTC/USDT", "-t", "1D", "--from", "5"],
        2,
        /noexchange/i,
      ],
      [["symbols", "ccxt", "noexchange"], 2, /noexchange/i],
    ];
    for (const [args, code, msg] of cases) {
      const r = await runCli([...args, "--config-dir", cfg], { cwd: dir });
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      const errs = lines(r.stderr).filter((l) => l.startsWith("Error:"));
      assert.equal(errs.length, 1, r.stderr);
      assert.match(errs[0]!, msg);
      if (String(msg) === "/NOPE/") {
        assert.match(
          r.stderr,
          /^Hint: .*`pyne-data symbols ccxt binance --search NOPE`/m,
        );
      }
      assert.ok(!/^\s+at /m.test(r.stderr), "no stack trace");
      assert.equal(r.stdout, "", "no summary table for a lone failure");
      assert.deepEqual(await readdir(dir), ["config"], args.join(" "));
      assert.deepEqual(await readdir(cfg), ["ccxt.toml"]);
    }
    // --verbose adds the stack trace.
    const v = await runCli([
      "info",
      "ccxt",
      "BINANCE:NOPE/USDT",
      "--config-dir",
      cfg,
      "--verbose",
    ], { cwd: dir });
    assert.equal(v.code, 2);
    assert.match(v.stderr, /^\s+at /m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli Ctrl-C (SIGINT) during a download exits 130 and a rerun completes the file exactly", async () => {
  const dir = await tempDir();
  await using emu = await startBinanceEmulator({
    now: () => T,
    latencyMs: 40,
  });
  try {
    const cfg = await writeCcxtConfig(dir, { binance: emu.url });
    const args = [
      "download",
      "ccxt",
      "BINANCE:BTC/USDT",
      "-t",
      "5",
      "--from",
      "2024-02-01",
      "--limit",
      "100",
      "--concurrency",
      "1",
      "--config-dir",
      cfg,
      "--now",
      new Date(T).toISOString(),
    ];
    const path = join(dir, "data", "ccxt_BINANCE_BTC_USDT_5.ohlcv");
    const child = spawnCli(args, { cwd: dir });
    const deadline = Date.now() + 20_000;
    while ((await ohlcvRecordCount(path)) < 300 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGINT");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, stderr);
    assert.match(stderr, /^Error: Interrupted/m);
    assert.match(stderr, /^Interrupted: finishing the current commit/m);
    // The file is valid, holds a prefix of the truth, and is not complete.
    const tf = parseTimeframe("5");
    const truth = emu.expectedCandles(
      "BTCUSDT",
      tf,
      Date.UTC(2024, 1, 1),
      T - tf.ms + 1, // closed candles only: open + 5 min <= now
    );
    const partial = await readAll(path);
    // The summary names the file and what it holds; nothing is lost.
    const row = new RegExp(
      `^ccxt_BINANCE_BTC_USDT_5\\.ohlcv\\s+${
        partial.time.length.toLocaleString("en-US")
      }\\s+-\\s+-\\s+${
        partial.time.length.toLocaleString("en-US")
      }\\s+.*interrupted \\(resumable\\)$`,
      "m",
    );
    assert.match(new TextDecoder().decode(out.stdout), row);
    assert.ok(
      partial.time.length >= 300,
      `some candles: ${partial.time.length}`,
    );
    assert.ok(partial.time.length < truth.time.length, "interrupted early");
    assert.deepEqual(
      Array.from(partial.time),
      Array.from(truth.time.subarray(0, partial.time.length)),
    );
    // The same command again resumes where it stopped.
    const again = await runCli([...args, "--json"], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    const summary = JSON.parse(again.stdout).files[0];
    assert.equal(summary.added, truth.time.length - partial.time.length);
    assertSameCandles(await readAll(path), truth, "resumed file");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli Capital.com download with --verbose never shows the credentials anywhere", async () => {
  const dir = await tempDir();
  const secrets = {
    apiKey: "CAPKEY-7f3Zq9-distinctive",
    identifier: "trader.7f3zq9@example.invalid",
    password: "PaSS-7f3Zq9-distinctive!",
  };
  await using emu = await startCapitalComEmulator({
    ...secrets,
    now: () => Date.UTC(2025, 0, 10, 12, 30),
  });
  try {
    const env = {
      PYNE_CAPITALCOM_API_KEY: secrets.apiKey,
      PYNE_CAPITALCOM_IDENTIFIER: secrets.identifier,
      PYNE_CAPITALCOM_PASSWORD: secrets.password,
      PYNE_CAPITALCOM_BASE_URL: emu.url,
    };
    const runs = [
      await runCli([
        "download",
        "capitalcom",
        "EURUSD",
        "-t",
        "60",
        "--from",
        "2025-01-03",
        "--extra-data",
        "--verbose",
        "--now",
        "2025-01-10T12:30:00Z",
      ], { cwd: dir, env }),
      await runCli(["info", "capitalcom", "EURUSD", "--verbose"], {
        cwd: dir,
        env,
      }),
      await runCli(["symbols", "capitalcom", "--search", "eur", "--verbose"], {
        cwd: dir,
        env,
      }),
      // A refused login prints an error, still without the secrets.
      await runCli(["info", "capitalcom", "EURUSD", "--verbose"], {
        cwd: dir,
        env: { ...env, PYNE_CAPITALCOM_PASSWORD: secrets.password + "x" },
      }),
    ];
    assert.equal(runs[0]!.code, 0, runs[0]!.stderr);
    assert.match(runs[0]!.stderr, /\[verbose\]/, "verbose output is there");
    assert.equal(runs[1]!.code, 0, runs[1]!.stderr);
    assert.equal(runs[2]!.code, 0, runs[2]!.stderr);
    assert.equal(runs[3]!.code, 1, runs[3]!.stderr);
    const n = await ohlcvRecordCount(
      join(dir, "data", "capitalcom_EURUSD_60.ohlcv"),
    );
    assert.ok(n > 100, `candles written: ${n}`);
    const texts: [string, string][] = runs.flatMap((r, i) => [
      [`run ${i} stdout`, r.stdout],
      [`run ${i} stderr`, r.stderr],
    ]);
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else texts.push([p, await readFile(p, "latin1")]);
      }
    };
    await walk(dir);
    assert.ok(texts.some(([p]) => p.endsWith(".extra.csv")), "extra data file");
    for (const [where, text] of texts) {
      for (const s of Object.values(secrets)) {
        assert.ok(!text.includes(s), `${where} leaks a credential`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("ProgressRenderer draws live bars with percent, rate, time reached, ETA and an overall line on a terminal", async () => {
  const { ProgressRenderer } = await import("../cli/_progress.ts");
  let clock = 1_000_000;
  let out = "";
  const p = new ProgressRenderer({
    write: (t) => (out += t),
    tty: true,
    color: false,
    columns: 160,
    now: () => clock,
    redrawMs: 60_000,
  });
  const from = Date.UTC(2024, 0, 1);
  p.add("a", "ccxt:BINANCE:BTC/USDT@60", {
    from,
    to: from + 100 * H,
    periodMs: H,
  });
  p.add("b", "ccxt:BINANCE:ETH/USDT@60", {
    from,
    to: from + 100 * H,
    periodMs: H,
  });
  clock += 2000;
  p.update("a", { candles: 50, reached: from + 49 * H });
  p.finish("b", true, "+100");
  p.stop();
  const frame = out.slice(out.lastIndexOf("\x1b[3A"));
  assert.match(
    frame,
    /BTC\/USDT@60\s+█{10}░{10}\s+50%\s+50 candles\s+25\/s\s+2024-01-03 01:00\s+ETA 0:02/,
  );
  assert.match(frame, /ETH\/USDT@60\s+█{20}\s+100%.*done \+100/);
  assert.match(frame, /overall: 1\/2 done\s+75%\s+50 candles/);
  assert.ok(!out.includes("\x1b[32m"), "no colours when color is false");
  // Non-TTY: plain lines, at most one per task per interval.
  let plain = "";
  const q = new ProgressRenderer({
    write: (t) => (plain += t),
    tty: false,
    color: false,
    now: () => clock,
  });
  q.add("a", "X", { from, to: from + 100 * H, periodMs: H });
  for (let i = 1; i <= 50; i++) {
    q.update("a", { candles: i, reached: from + (i - 1) * H });
  }
  clock += 2500;
  q.update("a", { candles: 60, reached: from + 59 * H });
  q.finish("a", true);
  assert.deepEqual(lines(plain).map((l) => l.split(/\s+/)[0]), [
    "start",
    "progress",
    "done",
  ]);
});

Deno.test("examples/demo.ts runs offline with the task's permissions and its second run finds nothing new", async () => {
  const dir = await tempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--config",
        join(ROOT, "deno.json"),
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-net=127.0.0.1",
        join(ROOT, "examples", "demo.ts"),
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(
      stdout,
      /: \d{4}-\d\d-\d\d 02:00 \.\. 05:00 {2}3 missing$/m,
    );
    assert.match(stdout, /Forming candle: .* it was not stored/);
    assert.match(stdout, /^format\s+PyneCore v2/m);
    assert.equal((stdout.match(/ up to date$/gm) ?? []).length, 6, stdout);
    const files = (await readdir(join(dir, "demo-data"))).filter((f) =>
      f.endsWith(".ohlcv")
    );
    assert.equal(files.length, 6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("ProgressRenderer.log prints a diagnostic above the live lines and redraws them", async () => {
  const { ProgressRenderer } = await import("../cli/_progress.ts");
  let out = "";
  const p = new ProgressRenderer({
    write: (t) => (out += t),
    tty: true,
    color: false,
    columns: 120,
    redrawMs: 60_000,
  });
  p.add("a", "AAA", { from: 0, to: 10 * H, periodMs: H });
  p.add("b", "BBB", { from: 0, to: 10 * H, periodMs: H });
  p.finish("b", true); // draws 3 lines (2 tasks + overall)
  out = "";
  p.log("[verbose] GET /klines -> 200");
  p.stop();
  // One synchronized write: up 3, clear below, the diagnostic, then the
  // display drawn anew below it (without moving up again).
  assert.ok(
    out.startsWith("\x1b[?2026h\x1b[3A\r\x1b[J[verbose] GET /klines -> 200\n"),
    JSON.stringify(out),
  );
  const after = out.slice(out.indexOf("200\n") + 4);
  assert.ok(!after.startsWith("\x1b[3A"), "drawn below the diagnostic");
  assert.ok(after.indexOf("AAA") > 0 && after.indexOf("BBB") > 0);
  assert.ok(after.includes("overall: 1/2 done"));
});

Deno.test("ProgressRenderer never grows taller than the terminal: finished tasks fold into one line", async () => {
  const { ProgressRenderer } = await import("../cli/_progress.ts");
  let out = "";
  const p = new ProgressRenderer({
    write: (t) => (out += t),
    tty: true,
    color: false,
    columns: 120,
    rows: 8, // room for 6 lines
    redrawMs: 60_000,
  });
  for (let i = 0; i < 10; i++) {
    p.add(String(i), `task-${i}`, { from: 0, to: 10 * H, periodMs: H });
  }
  for (let i = 0; i < 7; i++) p.finish(String(i), true, "+1");
  out = "";
  p.stop();
  const frame = out.replaceAll("\x1b[?2026h", "").replaceAll("\x1b[?2026l", "")
    .split("\n").filter((l) => l !== "");
  assert.equal(frame.length, 6, JSON.stringify(frame));
  assert.match(frame[0]!, /… 6 more finished \(all in the summary below\)/);
  // The running tasks stay visible; then the newest finished one; then overall.
  for (const id of ["task-7", "task-8", "task-9"]) {
    assert.ok(frame.some((l) => l.includes(id)), id);
  }
  assert.ok(frame.some((l) => l.includes("task-6")));
  assert.ok(!frame.some((l) => l.includes("task-5")));
  assert.match(frame[5]!, /overall: 7\/10 done/);
  // Each line is written over in place and cleared to its end (no blanking).
  assert.ok(!out.includes("\x1b[2K"));
  assert.equal(out.split("\x1b[K\n").length - 1, 6);
});

Deno.test("printAboveProgress puts the Ctrl-C notice above a live display, else prints it plainly", async () => {
  const { ProgressRenderer, printAboveProgress } = await import(
    "../cli/_progress.ts"
  );
  let plain = "";
  printAboveProgress("Interrupted: wait", (t) => (plain += t));
  assert.equal(plain, "Interrupted: wait\n");
  let out = "";
  const p = new ProgressRenderer({
    write: (t) => (out += t),
    tty: true,
    color: false,
    redrawMs: 60_000,
  });
  p.add("a", "AAA", { from: 0, to: 10 * H, periodMs: H });
  p.finish("a", false, "interrupted");
  out = "";
  plain = "";
  printAboveProgress("Interrupted: wait", (t) => (plain += t));
  assert.equal(plain, "", "went to the display");
  const notice = "\x1b[1A\r\x1b[JInterrupted: wait\n";
  assert.ok(out.includes(notice), JSON.stringify(out));
  assert.match(out.slice(out.indexOf(notice)), /AAA.*interrupted/s);
  assert.ok(!/failed/.test(out), "an interrupted task is not shown as failed");
  p.stop();
  printAboveProgress("after", (t) => (plain += t));
  assert.equal(plain, "after\n", "a stopped display is no longer used");
});

Deno.test("cli summary table fits a terminal's width (columns dropped), and is complete when piped", async () => {
  const dir = await tempDir();
  await using emu = await startBinanceEmulator({ now: () => T, gaps: [GAP] });
  try {
    const cfg = await writeCcxtConfig(dir, { binance: emu.url });
    const { main } = await import("../cli.ts");
    const run = async (stdoutIsTerminal: boolean, extra: string[]) => {
      let out = "";
      const code = await main([
        "download",
        "ccxt",
        "BINANCE:BTC/USDT",
        "BINANCE:ETH/USDT",
        "-t",
        "1h",
        "--from",
        "2024-01-01",
        "--config-dir",
        cfg,
        "--ohlcv-dir",
        join(dir, "data"),
        "--now",
        new Date(T).toISOString(),
        ...extra,
      ], {
        io: {
          stdout: (t) => (out += t),
          stderr: () => {},
          stdoutIsTerminal,
          stderrIsTerminal: false,
          columns: 100,
          rows: 30,
          env: {},
        },
        handleSignals: false,
      });
      assert.equal(code, 0);
      return lines(out);
    };
    assert.deepEqual(await run(true, ["--quiet"]), [], "--quiet: no table");
    const tty = await run(true, ["--truncate"]);
    assert.match(tty[0]!, /^file\s+added\s+to\s+gaps\s+coverage\s+status$/);
    assert.match(tty[2]!, /\scomplete\s/);
    assert.match(tty[2]!, /^ccxt_BINANCE_BTC_USDT_60\.ohlcv\s+1,447\s+/);
    for (const l of tty) assert.ok(l.length <= 99, `fits: ${l}`);
    const piped = await run(false, ["--truncate"]);
    assert.match(
      piped[0]!,
      /^file\s+added\s+from\s+to\s+in file\s+gaps\s+coverage\s+retries\s+status$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli convert turns each fixture's input rows (CSV, ms, NaN) into PyneCore's exact bytes", async () => {
  const dir = await tempDir();
  const { main } = await import("../cli.ts");
  try {
    const names = (await readdir(FIXTURES)).filter((n) =>
      n.endsWith(".json") && !n.startsWith("corrupt_") &&
      !n.startsWith("syminfo_") && !n.includes(".export.")
    ).sort();
    let checked = 0;
    for (const name of names) {
      const fx = JSON.parse(await readFile(join(FIXTURES, name), "utf8"));
      const w = fx.writer;
      // The CLI sets the grid up front; late grids and v1 are library cases.
      if (!w || !Array.isArray(fx.input) || w.late_grid != null) continue;
      if (fx.header?.version_major !== 2 || name.startsWith("crash_")) continue;
      const stem = name.replace(/\.json$/, "");
      const csv = join(dir, `${stem}.csv`);
      const out = join(dir, `${stem}.ohlcv`);
      await writeFile(
        csv,
        "timestamp,open,high,low,close,volume\n" +
          (fx.input as (number | null)[][]).map((r) =>
            r.map((v) => (v === null ? "NaN" : String(v))).join(",") + "\n"
          ).join(""),
      );
      const grid = w.pricescale
        ? ["--minmove", String(w.minmove), "--pricescale", String(w.pricescale)]
        : [];
      let err = "";
      const code = await main(
        ["convert", csv, out, "--timeframe", w.period, ...grid, "--quiet"],
        {
          io: { stdout: () => {}, stderr: (t) => (err += t) },
          handleSignals: false,
        },
      );
      assert.equal(code, 0, `${name}: ${err}`);
      assert.deepEqual(
        await readFile(out),
        await readFile(join(FIXTURES, `${stem}.ohlcv`)),
        `${name}: bytes`,
      );
      checked++;
    }
    assert.ok(checked >= 10, `fixtures checked: ${checked}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("ProgressRenderer follows a resized terminal: narrower lines and a shorter display", async () => {
  const { ProgressRenderer } = await import("../cli/_progress.ts");
  let size = { columns: 160, rows: 40 };
  let out = "";
  const p = new ProgressRenderer({
    write: (t) => (out += t),
    tty: true,
    color: false,
    size: () => size,
    redrawMs: 60_000,
  });
  for (let i = 0; i < 8; i++) {
    p.add(String(i), `ccxt:BINANCE:SYMBOL${i}/USDT@60`, {
      from: 0,
      to: 10 * H,
      periodMs: H,
    });
  }
  p.finish("0", true);
  const frameLines = () =>
    out.replaceAll("\x1b[?2026h", "").replaceAll("\x1b[?2026l", "")
      .split("\x1b[K\n").slice(0, -1).map((l) =>
        l.replace(new RegExp("^(\u001b\\[\\d+A)?\r"), "")
      );
  out = "";
  p.update("1", { candles: 1 }); // no redraw by itself on a TTY
  p.finish("1", true);
  assert.equal(frameLines().length, 9, "8 tasks + overall");
  assert.ok(frameLines().some((l) => /\/s\s/.test(l)), "rate shown when wide");
  size = { columns: 60, rows: 8 };
  out = "";
  p.finish("2", true);
  const lines6 = frameLines();
  assert.equal(lines6.length, 6, JSON.stringify(lines6));
  for (const l of lines6) assert.ok([...l].length <= 59, `fits: ${l}`);
  assert.match(lines6.at(-1)!, /^overall: 3\/8 done .*ETA \S+$/, "ETA kept");
  p.stop();
});

Deno.test("tools/compile.ts finds ccxt in the statically analysable module graph and refuses unknown targets", async () => {
  const { checkModuleGraph } = await import("../tools/compile.ts");
  assert.equal(await checkModuleGraph(ROOT), undefined);
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        join(ROOT, "tools", "compile.ts"),
        ...args,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /aarch64-apple-darwin/);
  const bad = await run(["--target", "nosuch"]);
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /^Error: unknown target "nosuch"$/m,
  );
});

Deno.test("deno task cli resolves relative paths from where the command was typed", async () => {
  const dir = await tempDir();
  try {
    const { copyFile } = await import("node:fs/promises");
    await copyFile(join(FIXTURES, "btc_1D_gap.ohlcv"), join(dir, "mine.ohlcv"));
    const inherited = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) =>
        k !== "INIT_CWD" && k !== "npm_config_user_agent"
      ),
    );
    const ways = [
      // Like a shell: no INIT_CWD or npm user agent yet (deno task keeps
      // inherited ones, as when these tests run under `deno task test` or
      // `npx deno task test`).
      { how: "deno task", cwd: dir, env: {} },
      // `npx deno task cli ...`: npm sets both before deno task runs (from
      // wherever the command was typed).
      {
        how: "npx deno task",
        cwd: ROOT,
        env: { INIT_CWD: dir, npm_config_user_agent: "npm/10.9.2 node/v22" },
      },
    ];
    for (const way of ways) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "--quiet",
          "--config",
          join(ROOT, "deno.json"),
          "cli",
          "inspect",
          "mine.ohlcv",
          "--json",
        ],
        cwd: way.cwd,
        clearEnv: true,
        env: { ...inherited, ...way.env, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `${way.how}: ${stderr}`);
      const info = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(info.file, "mine.ohlcv", way.how);
      assert.equal(info.count, 120, way.how);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
