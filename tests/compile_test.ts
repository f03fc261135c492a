/**
 * `deno task compile`: where a denort for this Deno version is at hand
 * (`DENORT_BIN`, or the release zip in Deno's cache), the compiled binary
 * answers `--help` and downloads from the Binance emulator; where none is,
 * the script refuses with the exact download URL and keeps no half-made
 * binary — also when it is handed the full Deno CLI instead of denort (the
 * only Deno binary the npm registry ships).
 */

import assert from "node:assert/strict";
import { readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { ROOT } from "./_cli_helpers.ts";

const VERSION = Deno.version.deno;
const TARGET = Deno.build.target;

function cacheZip(): string {
  const home = Deno.env.get("HOME") ?? ".";
  const dir = Deno.env.get("DENO_DIR") ??
    join(Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"), "deno");
  return join(dir, "dl", "release", `v${VERSION}`, `denort-${TARGET}.zip`);
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const denort = Deno.env.get("DENORT_BIN");
const haveDenort = (denort !== undefined && exists(denort)) ||
  exists(cacheZip());

async function compile(out: string, env: Record<string, string>) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-net=127.0.0.1",
      join(ROOT, "tools", "compile.ts"),
      "--output",
      out,
    ],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test({
  name:
    "deno task compile refuses the full Deno CLI as denort, names the download, and keeps no binary",
  ignore: haveDenort,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pyne_compile_" });
    try {
      // Deno.execPath() is the full CLI (from npm here), never denort.
      const r = await compile(join(dir, "pyne-data"), {
        DENORT_BIN: Deno.execPath(),
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /is the full Deno CLI, not denort/);
      assert.match(
        r.stderr,
        new RegExp(
          `https://dl\\.deno\\.land/release/v${VERSION}/denort-${TARGET}\\.zip`,
        ),
      );
      assert.deepEqual(await readdir(dir), [], "no binary kept");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});

Deno.test({
  name: "the compiled pyne-data answers --help and downloads from the emulator",
  ignore: !haveDenort,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pyne_compile_" });
    const bin = join(dir, "pyne-data");
    const T = Date.UTC(2024, 2, 1, 12, 30);
    await using emu = await startBinanceEmulator({ now: () => T });
    try {
      const built = await compile(bin, denort ? { DENORT_BIN: denort } : {});
      assert.equal(built.code, 0, built.stderr);
      const help = await new Deno.Command(bin, { args: ["--help"] }).output();
      assert.match(new TextDecoder().decode(help.stdout), /pyne-data/);
      await writeFile(
        join(dir, "ccxt.toml"),
        `[binance]\nbase_url = "${emu.url}"\n`,
      );
      const run = await new Deno.Command(bin, {
        args: [
          "download",
          "ccxt",
          "BINANCE:BTC/USDT",
          "-t",
          "1D",
          "--from",
          "2024-01-01",
          "--config-dir",
          dirname(join(dir, "ccxt.toml")),
          "--ohlcv-dir",
          join(dir, "data"),
          "--now",
          new Date(T).toISOString(),
        ],
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.deepEqual((await readdir(join(dir, "data"))).sort(), [
        "ccxt_BINANCE_BTC_USDT_1D.ohlcv",
        "ccxt_BINANCE_BTC_USDT_1D.toml",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});
