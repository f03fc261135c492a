/**
 * The CLI and the examples under Bun (`bun test ./tests/bun/cli_examples.bun.ts`):
 * `bun cli.ts download ...` against the Binance emulator (exact candles, a
 * second run with nothing new, inspect, Ctrl-C and resume), and every
 * `examples/*.ts` run with `bun` as a subprocess (the folder is read at run
 * time, so new examples are run too).
 *
 * @module
 */

import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { OhlcvReader, ohlcvRecordCount } from "../../format/ohlcv_reader.ts";
import { parseTimeframe } from "../../format/timeframe.ts";
import type { CandleBatch } from "../../format/candle_batch.ts";
import { startBinanceEmulator } from "../../testing/binance_emulator.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = join(ROOT, "cli.ts");
const EXAMPLES = join(ROOT, "examples");
const T = Date.UTC(2024, 2, 1, 12, 30);

/**
 * Examples that are Deno programs by design, with the reason. Every other
 * example must run under Bun; one that uses the `Deno` namespace without
 * being listed here fails the suite.
 */
const DENO_ONLY: Record<string, string> = {};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bun ARGS` (this very Bun) and collects its output. */
function runBun(
  args: string[],
  options: {
    cwd: string;
    env?: Record<string, string>;
    timeoutMs?: number;
    onSpawn?: (kill: () => void) => void;
  },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      options.timeoutMs ?? 60_000,
    );
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    options.onSpawn?.(() => child.kill("SIGINT"));
  });
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pyne-data-bun-cli-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function ccxtConfig(dir: string, url: string): Promise<string> {
  const cfg = join(dir, "config");
  await mkdir(cfg, { recursive: true });
  await writeFile(join(cfg, "ccxt.toml"), `[binance]\nbase_url = "${url}"\n`);
  return cfg;
}

async function readAll(path: string): Promise<CandleBatch> {
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

function expectSameCandles(got: CandleBatch, want: CandleBatch): void {
  expect(want.time.length).toBeGreaterThan(0);
  for (const k of ["time", "open", "high", "low", "close", "volume"] as const) {
    expect(Array.from(got[k])).toEqual(Array.from(want[k]));
  }
}

describe("CLI under Bun", () => {
  test(
    "bun cli.ts download writes the emulator's exact candles; a rerun finds nothing new; inspect reads it",
    () =>
      withDir(async (dir) => {
        await using emu = await startBinanceEmulator({
          now: () => T,
          gaps: [{ from: Date.UTC(2024, 0, 10), to: Date.UTC(2024, 0, 10, 5) }],
        });
        const cfg = await ccxtConfig(dir, emu.url);
        const args = [
          CLI,
          "download",
          "ccxt",
          "BINANCE:BTC/USDT",
          "BINANCE:ETH/USDT",
          "-t",
          "60",
          "--from",
          "2024-01-01",
          "--config-dir",
          cfg,
          "--now",
          new Date(T).toISOString(),
        ];
        const first = await runBun(args, { cwd: dir });
        expect(first.stderr).not.toContain("Error");
        expect(first.code).toBe(0);
        const tf = parseTimeframe("60");
        for (const [file, key] of [["BTC", "BTCUSDT"], ["ETH", "ETHUSDT"]]) {
          const path = join(dir, "data", `ccxt_BINANCE_${file}_USDT_60.ohlcv`);
          expectSameCandles(
            await readAll(path),
            emu.expectedCandles(
              key!,
              tf,
              Date.UTC(2024, 0, 1),
              Date.UTC(2024, 2, 1, 12),
            ),
          );
        }
        expect((await readdir(join(dir, "data"))).sort()).toEqual([
          "ccxt_BINANCE_BTC_USDT_60.ohlcv",
          "ccxt_BINANCE_BTC_USDT_60.toml",
          "ccxt_BINANCE_ETH_USDT_60.ohlcv",
          "ccxt_BINANCE_ETH_USDT_60.toml",
        ]);
        const again = await runBun(args, { cwd: dir });
        expect(again.code).toBe(0);
        expect(again.stdout + again.stderr).toMatch(/up to date/i);
        const inspect = await runBun(
          [
            CLI,
            "inspect",
            join(dir, "data", "ccxt_BINANCE_BTC_USDT_60.ohlcv"),
            "--json",
          ],
          { cwd: dir },
        );
        expect(inspect.code).toBe(0);
        const info = JSON.parse(inspect.stdout);
        const want = emu.expectedCandles(
          "BTCUSDT",
          tf,
          Date.UTC(2024, 0, 1),
          Date.UTC(2024, 2, 1, 12),
        );
        expect([info.format, info.period, info.count]).toEqual([
          "v2",
          "60",
          want.time.length,
        ]);
        expect(info.first).toBe(want.time[0]);
        expect(info.last).toBe(want.time[want.time.length - 1]);
      }),
    60_000,
  );

  test(
    "bun cli.ts: Ctrl-C (SIGINT) exits 130 with a valid file; a rerun completes it exactly",
    () =>
      withDir(async (dir) => {
        await using emu = await startBinanceEmulator({
          now: () => T,
          latencyMs: 40,
        });
        const cfg = await ccxtConfig(dir, emu.url);
        const args = [
          CLI,
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
        const out = await runBun(args, {
          cwd: dir,
          onSpawn: async (interrupt) => {
            const deadline = Date.now() + 20_000;
            while (
              (await ohlcvRecordCount(path)) < 300 && Date.now() < deadline
            ) {
              await new Promise((r) => setTimeout(r, 25));
            }
            interrupt();
          },
        });
        expect(out.code).toBe(130);
        expect(out.stderr).toMatch(/^Error: Interrupted/m);
        expect(out.stderr).toMatch(
          /^Interrupted: finishing the current commit/m,
        );
        const partial = await ohlcvRecordCount(path);
        expect(partial).toBeGreaterThanOrEqual(300);
        const tf = parseTimeframe("5");
        const want = emu.expectedCandles(
          "BTCUSDT",
          tf,
          Date.UTC(2024, 1, 1),
          Date.UTC(2024, 2, 1, 12, 30),
        );
        expect(partial).toBeLessThan(want.time.length);
        const rerun = await runBun(args, { cwd: dir });
        expect(rerun.code).toBe(0);
        expectSameCandles(await readAll(path), want);
      }),
    60_000,
  );
});

const names = (await readdir(EXAMPLES)).filter((f) => f.endsWith(".ts")).sort();

describe("examples under Bun", () => {
  test("the examples folder has examples, and only the listed ones need Deno", async () => {
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const code = (await readFile(join(EXAMPLES, name), "utf8"))
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect({ name, usesDeno: /\bDeno\./.test(code) }).toEqual({
        name,
        usesDeno: name in DENO_ONLY,
      });
    }
  });

  for (const name of names) {
    if (name in DENO_ONLY) {
      test.skip(`bun examples/${name} (Deno only: ${DENO_ONLY[name]})`, () => {});
      continue;
    }
    test(`bun examples/${name} exits 0`, () =>
      withDir(async (dir) => {
        const tmp = join(dir, "tmp");
        await mkdir(tmp);
        const run = await runBun([join(EXAMPLES, name)], {
          cwd: dir,
          env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp },
          timeoutMs: 90_000,
        });
        if (run.code !== 0) {
          throw new Error(
            `examples/${name} exited ${run.code}:\n${run.stderr.slice(-2000)}`,
          );
        }
      }), 100_000);
  }
});
