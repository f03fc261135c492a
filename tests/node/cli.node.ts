/**
 * The CLI under Node 22+ from the JSR-style build
 * (`node node_modules/@pyne/data/cli.js download ...`) against the Binance
 * emulator: the exact candles, then a rerun with nothing new.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { OhlcvReader, parseTimeframe } from "@pyne/data/format";
import { startBinanceEmulator } from "@pyne/data/testing";

const CLI = fileURLToPath(import.meta.resolve("@pyne/data/cli"));
const T = Date.UTC(2024, 2, 1, 12, 30);

function run(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test(
  "node cli.js download writes the emulator's exact candles; a rerun is up to date",
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyne-data-node-cli-"));
    const emu = await startBinanceEmulator({ now: () => T });
    try {
      await mkdir(join(dir, "config"));
      await writeFile(
        join(dir, "config", "ccxt.toml"),
        `[binance]\nbase_url = "${emu.url}"\n`,
      );
      const args = [
        "download",
        "ccxt",
        "BINANCE:BTC/USDT",
        "-t",
        "60",
        "--from",
        "2024-02-01",
        "--config-dir",
        join(dir, "config"),
        "--now",
        new Date(T).toISOString(),
      ];
      const first = await run(args, dir);
      assert.equal(first.code, 0, first.out);
      const r = await OhlcvReader.open(
        join(dir, "data", "ccxt_BINANCE_BTC_USDT_60.ohlcv"),
      );
      try {
        const got = await r.read();
        const want = emu.expectedCandles(
          "BTCUSDT",
          parseTimeframe("60"),
          Date.UTC(2024, 1, 1),
          Date.UTC(2024, 2, 1, 12),
        );
        assert.equal(got.time.length, want.time.length);
        for (
          const k of ["time", "open", "high", "low", "close", "volume"] as const
        ) {
          assert.deepEqual(Array.from(got[k]), Array.from(want[k]), k);
        }
      } finally {
        await r.close();
      }
      const again = await run(args, dir);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /up to date/i);
    } finally {
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
